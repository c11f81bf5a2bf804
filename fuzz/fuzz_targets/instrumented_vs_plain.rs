//! Arbitrary wasm modules (wasm-smith) importing the `extism:host/env` functions, run
//! plain and instrumented for fuzzing (`interplug::fuzzing::instrument`): every
//! exported function called twice with the same input gives the same output or the
//! same kind of error. The instrumented run gets fuel and memory for the
//! instrumentation on top of the plain run's, and calls where the plain run used up
//! its fuel are not compared.
#![no_main]

use arbitrary::Unstructured;
use interplug::{ErrorExt, ErrorKind, Manifest, Plugin, PluginBuilder, Wasm};
use libfuzzer_sys::fuzz_target;

const KERNEL: &str = r#"(module
  (import "extism:host/env" "alloc" (func (param i64) (result i64)))
  (import "extism:host/env" "length" (func (param i64) (result i64)))
  (import "extism:host/env" "load_u8" (func (param i64) (result i32)))
  (import "extism:host/env" "store_u8" (func (param i64 i32)))
  (import "extism:host/env" "input_length" (func (result i64)))
  (import "extism:host/env" "input_load_u8" (func (param i64) (result i32)))
  (import "extism:host/env" "input_load_u64" (func (param i64) (result i64)))
  (import "extism:host/env" "output_set" (func (param i64 i64)))
  (import "extism:host/env" "error_set" (func (param i64)))
)"#;

/// Fuel of a plain call; the instrumented one gets this many times more.
const FUEL: u64 = 200_000;
const INSTRUMENTED_FUEL_FACTOR: u64 = 64;
/// Memory budget of the plain plug-in, in pages.
const PAGES: u32 = 64;

fn build(bytes: Vec<u8>, pages: u32, fuel: u64) -> Option<Plugin> {
    let manifest = Manifest::new([Wasm::data(bytes)]).with_memory_max(pages);
    PluginBuilder::new(manifest)
        .with_fuel_limit(fuel)
        .build()
        .ok()
}

fuzz_target!(|data: &[u8]| {
    let mut u = Unstructured::new(data);
    let mut config = wasm_smith::Config::default();
    config.available_imports = Some(wat::parse_str(KERNEL).expect("valid WAT"));
    config.max_memory32_bytes = 1 << 20;
    config.simd_enabled = false;
    config.threads_enabled = false;
    config.memory64_enabled = false;
    config.exceptions_enabled = false;
    config.gc_enabled = false;
    config.tail_call_enabled = false;
    config.max_imports = 9;
    config.min_imports = 9;
    let Ok(module) = wasm_smith::Module::new(config, &mut u) else {
        return;
    };
    let bytes = module.to_bytes();
    let Some(mut plain) = build(bytes.clone(), PAGES, FUEL) else {
        return;
    };
    let instrumented = interplug::fuzzing::instrument(&bytes).expect("a valid module instruments");
    let extra_pages = instrumented.map.layout.size.div_ceil(65536).max(1);
    let mut rewritten = build(
        instrumented.wasm,
        PAGES + extra_pages,
        FUEL * INSTRUMENTED_FUEL_FACTOR,
    )
    .expect("the instrumented module loads when the plain one does");
    let input: Vec<u8> = u.arbitrary().unwrap_or_default();
    for name in function_exports(&bytes).iter().take(8) {
        assert_eq!(plain.function_exists(name), rewritten.function_exists(name));
        if !plain.function_exists(name) {
            continue;
        }
        for _ in 0..2 {
            let a = plain.call::<&[u8], Vec<u8>>(name, &input);
            let b = rewritten.call::<&[u8], Vec<u8>>(name, &input);
            match (&a, &b) {
                (Err(e), _) if e.kind() == ErrorKind::OutOfFuel => return,
                (Ok(x), Ok(y)) => assert_eq!(x, y, "`{name}`: outputs differ"),
                (Err(x), Err(y)) => assert_eq!(
                    x.kind(),
                    y.kind(),
                    "`{name}`: plain {x:#}, instrumented {y:#}"
                ),
                _ => panic!("`{name}`: plain {a:?}, instrumented {b:?}"),
            }
        }
    }
});

/// Names of the module's exported functions.
fn function_exports(bytes: &[u8]) -> Vec<String> {
    let mut names = Vec::new();
    for payload in wasmparser::Parser::new(0).parse_all(bytes) {
        if let Ok(wasmparser::Payload::ExportSection(reader)) = payload {
            for export in reader.into_iter().flatten() {
                if export.kind == wasmparser::ExternalKind::Func {
                    names.push(export.name.to_string());
                }
            }
        }
    }
    names
}
