//! Random kernel-call programs (PDK-shaped copy loops between linear memory, the
//! input and Extism blocks, with allocs and frees, addresses often at or past an
//! edge) run with the bulk-I/O rewrite on and off: the same output or the same error
//! (kind and message), and the same linear and Extism memory afterwards.
#![no_main]

use interplug::{ErrorExt, PluginBuilder};
use libfuzzer_sys::fuzz_target;

#[path = "../../tests/support/bulk_programs.rs"]
mod bulk_programs;

/// Result, linear memory and Extism memory after calling `run`.
type Outcome = (Result<Vec<u8>, (interplug::ErrorKind, String)>, Vec<u8>, Vec<u8>);

fn run(wasm: &[u8], input: &[u8], bulk_io: bool) -> Outcome {
    let mut plugin = PluginBuilder::new(wasm)
        .with_bulk_io(bulk_io)
        .build()
        .expect("a generated program loads");
    let result = plugin
        .call::<&[u8], Vec<u8>>("run", input)
        .map_err(|e| (e.kind(), format!("{e:#}")));
    let linear = plugin
        .exported_memory("memory")
        .map(|m| m.to_vec())
        .unwrap_or_default();
    let extism = plugin.current_plugin().memory().as_slice().to_vec();
    (result, linear, extism)
}

fuzz_target!(|data: &[u8]| {
    let program = bulk_programs::program(&mut bulk_programs::Choices::new(data));
    let wasm = wat::parse_str(&program.wat).expect("generated WAT is valid");
    let rewritten = run(&wasm, &program.input, true);
    let original = run(&wasm, &program.input, false);
    assert_eq!(rewritten, original, "{}", program.wat);
});
