//! Arbitrary wasm modules (wasm-smith) that import the `extism:host/env` functions and
//! call them with arbitrary arguments, under fuel and a memory budget: creation and
//! calls answer with a value or an error, never a host panic.
#![no_main]

use arbitrary::Unstructured;
use interplug::{Manifest, PluginBuilder, Wasm};
use libfuzzer_sys::fuzz_target;

/// The kernel imports offered to generated modules, as a WAT module of imports that
/// wasm-smith must use (`available_imports`).
const KERNEL: &str = r#"(module
  (import "extism:host/env" "alloc" (func (param i64) (result i64)))
  (import "extism:host/env" "free" (func (param i64)))
  (import "extism:host/env" "length" (func (param i64) (result i64)))
  (import "extism:host/env" "load_u8" (func (param i64) (result i32)))
  (import "extism:host/env" "load_u64" (func (param i64) (result i64)))
  (import "extism:host/env" "store_u8" (func (param i64 i32)))
  (import "extism:host/env" "store_u64" (func (param i64 i64)))
  (import "extism:host/env" "input_length" (func (result i64)))
  (import "extism:host/env" "input_load_u8" (func (param i64) (result i32)))
  (import "extism:host/env" "input_load_u64" (func (param i64) (result i64)))
  (import "extism:host/env" "output_set" (func (param i64 i64)))
  (import "extism:host/env" "error_set" (func (param i64)))
  (import "extism:host/env" "config_get" (func (param i64) (result i64)))
  (import "extism:host/env" "var_get" (func (param i64) (result i64)))
  (import "extism:host/env" "var_set" (func (param i64 i64)))
  (import "extism:host/env" "log_info" (func (param i64)))
  (import "extism:host/env" "http_request" (func (param i64 i64) (result i64)))
  (import "extism:host/env" "memory_bytes" (func (result i64)))
  (import "extism:host/env" "reset" (func))
)"#;

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
    // Under AddressSanitizer LLVM does not turn wasmi's `return_call` handlers into
    // jumps, so a module looping through tail calls overflows the native stack of the
    // instrumented build only (release builds run the same input fine). Leave tail
    // calls out here; `tests/` covers them on a normal build.
    config.tail_call_enabled = false;
    config.max_imports = 19;
    config.min_imports = 19;
    let Ok(module) = wasm_smith::Module::new(config, &mut u) else {
        return;
    };
    let bytes = module.to_bytes();
    let manifest = Manifest::new([Wasm::data(bytes.clone())]).with_memory_max(64);
    let Ok(mut plugin) = PluginBuilder::new(manifest)
        .with_fuel_limit(1_000_000)
        .build()
    else {
        return;
    };
    let input: Vec<u8> = u.arbitrary().unwrap_or_default();
    for name in function_exports(&bytes).iter().take(8) {
        if plugin.function_exists(name) {
            let _ = plugin.call::<&[u8], Vec<u8>>(name, &input);
            let _ = plugin.call::<&[u8], Vec<u8>>(name, &input);
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
