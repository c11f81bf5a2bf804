//! Every function body is validated when a plug-in is created, as with Extism, even
//! though wasmi translates bodies lazily and interplug validates them on a helper
//! thread while it instantiates.

mod support;
use interplug::{CompiledPlugin, Manifest, Plugin, PluginBuilder, Wasm};
use support::{error_of, fixture_bytes, unique_module};

/// A valid export and an export whose body is ill-typed (it returns an i64 as an i32).
const INVALID_UNCALLED_BODY: &str = r#"(module
    (memory (export "memory") 1)
    (func (export "fine") (result i32) i32.const 0)
    (func (export "broken") (result i32) i64.const 1))"#;

#[test]
fn invalid_body_that_is_never_called_fails_creation() {
    let message = error_of(Plugin::new(INVALID_UNCALLED_BODY, [], false));
    assert!(message.contains("invalid wasm module `main`"), "{message}");
    assert!(message.contains("type mismatch"), "{message}");
    // The same bytes fail again: a failed creation leaves nothing in the module cache.
    let message = error_of(Plugin::new(INVALID_UNCALLED_BODY, [], false));
    assert!(message.contains("invalid wasm module `main`"), "{message}");
    let message = error_of(CompiledPlugin::new(PluginBuilder::new(
        INVALID_UNCALLED_BODY,
    )));
    assert!(message.contains("invalid wasm module `main`"), "{message}");
}

#[test]
fn invalid_body_in_a_large_plugin_fails_creation() {
    // A real PDK plug-in linked with a module holding one bad body: the error is found
    // among hundreds of valid bodies, whichever thread validates it.
    let manifest = Manifest::new([
        Wasm::data(INVALID_UNCALLED_BODY.as_bytes().to_vec()).with_name("helpers"),
        Wasm::data(fixture_bytes("count_vowels")).with_name("main"),
    ]);
    let message = error_of(Plugin::new(&manifest, [], false));
    assert!(
        message.contains("invalid wasm module `helpers`"),
        "{message}"
    );
}

#[test]
fn invalid_start_function_reports_the_validation_error() {
    let wat = r#"(module
        (func $start i64.const 1 drop i32.add drop)
        (start $start)
        (func (export "f") (result i32) i32.const 0))"#;
    let message = error_of(Plugin::new(wat, [], false));
    assert!(message.contains("invalid wasm module `main`"), "{message}");
}

#[test]
fn proposals_outside_wasmi_are_refused_at_creation() {
    // wasmi 2 has no exception handling, so the validator refuses it as well, at
    // creation, even though the function is never called.
    let exceptions = r#"(module (tag $oops) (func (export "f") throw $oops))"#;
    let message = error_of(Plugin::new(exceptions, [], false));
    assert!(message.contains("invalid wasm module `main`"), "{message}");
    assert!(message.contains("exceptions"), "{message}");
}

#[test]
fn enabled_proposals_validate_and_run() {
    // Tail calls, extended constants, multi-value and bulk memory: accepted by the
    // up-front validator and by wasmi's lazy translation alike.
    let wat = r#"(module
        (memory (export "memory") 1)
        (global $base i32 (i32.add (i32.const 40) (i32.const 2)))
        (func $pair (result i32 i32) global.get $base i32.const 1)
        (func $count (param i32 i32) (result i32)
            local.get 0
            i32.eqz
            if (result i32) local.get 1
            else local.get 0 i32.const 1 i32.sub local.get 1 i32.const 1 i32.add
                 return_call $count end)
        (func (export "run") (result i32)
            i32.const 0 i32.const 0 i32.const 16 memory.fill
            call $pair i32.add drop
            i32.const 100000 global.get $base call $count
            i32.const 100042 i32.ne))"#;
    let mut plugin = Plugin::new(wat, [], false).expect("valid module");
    let output: &[u8] = plugin.call("run", "").expect("run returns 0");
    assert!(output.is_empty());
}

#[test]
fn valid_plugins_still_work_after_a_rejected_one() {
    let _ = error_of(PluginBuilder::new(INVALID_UNCALLED_BODY).build());
    let mut plugin =
        Plugin::new(fixture_bytes("count_vowels"), [], false).expect("count_vowels loads");
    let output: String = plugin
        .call("count_vowels", "validation")
        .expect("count_vowels runs");
    assert!(output.contains("\"count\":5"), "{output}");
}

#[test]
fn many_threads_create_new_plugins_at_once() {
    // Each creation from new bytes starts a validation helper; eight creators at once
    // on a two-CPU machine must neither deadlock nor mix up their results.
    let vowels = fixture_bytes("count_vowels");
    std::thread::scope(|scope| {
        for thread in 0..8 {
            let vowels = &vowels;
            scope.spawn(move || {
                for round in 0..4 {
                    let bytes = unique_module(vowels, &format!("{thread}-{round}"));
                    let mut plugin = Plugin::new(&bytes, [], false).expect("valid plug-in");
                    let output: String = plugin
                        .call("count_vowels", "aeiou")
                        .expect("count_vowels runs");
                    assert!(output.contains("\"count\":5"), "{output}");
                    let message = error_of(Plugin::new(INVALID_UNCALLED_BODY, [], false));
                    assert!(message.contains("type mismatch"), "{message}");
                }
            });
        }
    });
}

#[test]
fn modules_without_functions_validate() {
    let manifest = Manifest::new([
        Wasm::data(b"(module (memory (export \"mem\") 1))".to_vec()).with_name("empty"),
        Wasm::data(b"(module (func (export \"f\") (result i32) i32.const 7))".to_vec())
            .with_name("main"),
    ]);
    let plugin = Plugin::new(&manifest, [], false).expect("both modules are valid");
    assert!(plugin.function_exists("f"));
}
