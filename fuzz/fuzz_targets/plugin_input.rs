//! Arbitrary input to every function of the spec plug-ins, under fuel and a memory
//! budget: calls succeed or fail, the host never panics, and the plug-in answers the
//! next call.
#![no_main]

use interplug::{Manifest, Plugin, PluginBuilder, Wasm};
use libfuzzer_sys::fuzz_target;
use std::sync::Mutex;

/// (fixture, functions) fuzzed; host functions are stubbed.
const TARGETS: &[(&str, &[&str])] = &[
    ("count_vowels", &["count_vowels"]),
    ("echo", &["echo", "length"]),
    ("fail", &["fail", "nonzero", "ok"]),
    ("config", &["get_config"]),
    ("vars", &["var_set", "var_get", "var_remove"]),
    ("fuzzme", &["parse"]),
    ("limits", &["recurse", "compute", "extism_alloc"]),
    ("host_fns", &["call_host", "call_other"]),
];

fn fixture(name: &str) -> Vec<u8> {
    let path = format!(
        "{}/../spec-tests/fixtures/{name}.wasm",
        env!("CARGO_MANIFEST_DIR")
    );
    std::fs::read(path).expect("fixture present")
}

fn stub(namespace: &str, name: &str) -> interplug::Function {
    interplug::Function::new(
        name,
        [interplug::PTR],
        [interplug::PTR],
        interplug::UserData::<()>::default(),
        |p, i, o, _| {
            let input: Vec<u8> = p.memory_get_val(&i[0])?;
            p.memory_set_val(&mut o[0], input)
        },
    )
    .with_namespace(namespace)
}

static PLUGINS: Mutex<Vec<Plugin>> = Mutex::new(Vec::new());

fuzz_target!(|data: &[u8]| {
    let Some((&selector, input)) = data.split_first() else {
        return;
    };
    let mut plugins = PLUGINS.lock().expect("no panic while held");
    if plugins.is_empty() {
        for (name, _) in TARGETS {
            let manifest = Manifest::new([Wasm::data(fixture(name))]).with_memory_max(64);
            let plugin = PluginBuilder::new(manifest)
                .with_fuel_limit(20_000_000)
                .with_functions([
                    stub("extism:host/user", "hello_world"),
                    stub("extism:host/user", "panic_now"),
                    stub("example:other", "shout"),
                ])
                .build()
                .expect("fixture loads");
            plugins.push(plugin);
        }
    }
    let index = selector as usize % TARGETS.len();
    let (_, functions) = TARGETS[index];
    let function = functions[(selector as usize / TARGETS.len()) % functions.len()];
    let plugin = &mut plugins[index];
    let _ = plugin.call::<&[u8], Vec<u8>>(function, input);
    // Whatever happened, the plug-in still answers.
    assert!(plugin.function_exists(function));
});
