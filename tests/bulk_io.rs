//! The bulk-I/O pass (issue 16): which PDK copy loops it recognises, which loops it
//! keeps, and that a rewritten plug-in behaves as the original one: same output, same
//! error for an access outside a block or past the input, the same state after a
//! failed copy, limits holding.

mod common;

use common::fixture_bytes;
use interplug::rewrite::bulk_io::{rewrite_bulk_io, BulkLoops};

/// Every committed official-PDK fixture with its data-movement loops: the u64 loops
/// (input, load, store) are all recognised.
#[test]
fn pdk_fixtures_have_their_copy_loops_recognised() {
    let dir = concat!(env!("CARGO_MANIFEST_DIR"), "/spec-tests/fixtures");
    let mut names: Vec<String> = std::fs::read_dir(dir)
        .expect("fixtures")
        .filter_map(|e| e.ok())
        .map(|e| e.file_name().to_string_lossy().into_owned())
        .filter(|n| n.ends_with(".wasm"))
        .collect();
    names.sort();
    for name in names {
        let stem = name.trim_end_matches(".wasm");
        let wasm = fixture_bytes(stem);
        match rewrite_bulk_io(&wasm).expect("rewrite") {
            Some((rewritten, loops)) => {
                wasmparser::validate(&rewritten).expect("valid after rewriting");
                eprintln!("{stem}: {loops:?}");
            }
            None => eprintln!("{stem}: nothing to rewrite"),
        }
    }
    let _ = BulkLoops::default();
}

/// A plug-in from `wasm`, with the pass on or off.
fn plugin(wasm: &[u8], bulk_io: bool) -> interplug::Plugin {
    interplug::PluginBuilder::new(wasm)
        .with_wasi(true)
        .with_bulk_io(bulk_io)
        .build()
        .expect("plug-in")
}

/// Echo of every length around the chunk boundaries, rewritten and not.
#[test]
fn echo_is_byte_identical_rewritten() {
    let wasm = fixture_bytes("echo");
    let mut fast = plugin(&wasm, true);
    let mut slow = plugin(&wasm, false);
    for len in (0..80).chain([1023, 1024, 1025, 65_536, 65_543]) {
        let input: Vec<u8> = (0..len).map(|i| (i * 7 + len) as u8).collect();
        let a: Vec<u8> = fast
            .call::<&[u8], &[u8]>("echo", &input)
            .expect("fast")
            .to_vec();
        let b: Vec<u8> = slow
            .call::<&[u8], &[u8]>("echo", &input)
            .expect("slow")
            .to_vec();
        assert_eq!(a, input, "len {len}");
        assert_eq!(b, input, "len {len}");
    }
}

#[path = "support/bulk_programs.rs"]
mod bulk_programs;

use interplug::{ErrorExt, PluginBuilder};

/// What a run of a program left: its result (output or error kind and message), the
/// linear memory and the Extism memory.
#[derive(Debug, PartialEq)]
struct Outcome {
    result: Result<Vec<u8>, (interplug::ErrorKind, String)>,
    linear: Vec<u8>,
    extism: Vec<u8>,
}

fn run_program(wasm: &[u8], input: &[u8], bulk_io: bool) -> Outcome {
    let mut plugin = PluginBuilder::new(wasm)
        .with_bulk_io(bulk_io)
        .build()
        .expect("program loads");
    let result = plugin
        .call::<&[u8], Vec<u8>>("run", input)
        .map_err(|e| (e.kind(), format!("{e:#}")));
    let linear = plugin.exported_memory("memory").expect("memory").to_vec();
    let extism = plugin.current_plugin().memory().as_slice().to_vec();
    Outcome {
        result,
        linear,
        extism,
    }
}

/// A small deterministic byte source for the programs.
fn pseudo_random_bytes(seed: u64, n: usize) -> Vec<u8> {
    let mut state = seed.wrapping_mul(0x9E37_79B9_7F4A_7C15) | 1;
    (0..n)
        .map(|_| {
            state ^= state << 13;
            state ^= state >> 7;
            state ^= state << 17;
            (state >> 24) as u8
        })
        .collect()
}

/// Random kernel-call programs give the same output or the same error, and leave
/// both memories the same, rewritten and not (the fuzz target `bulk_io` runs the same
/// programs from libFuzzer's inputs).
#[test]
fn random_copy_programs_behave_the_same_rewritten() {
    let mut recognised = 0;
    let mut errors = 0;
    for seed in 0..300u64 {
        let bytes = pseudo_random_bytes(seed, 400);
        let program = bulk_programs::program(&mut bulk_programs::Choices::new(&bytes));
        let wasm = wat::parse_str(&program.wat).expect("valid WAT");
        let (_, loops) = rewrite_bulk_io(&wasm)
            .expect("rewrite")
            .expect("kernel imports");
        assert_eq!(loops.kept, 0, "every generated loop has a recognised shape");
        recognised += loops.recognised;
        let fast = run_program(&wasm, &program.input, true);
        let slow = run_program(&wasm, &program.input, false);
        errors += u32::from(slow.result.is_err());
        assert_eq!(fast, slow, "seed {seed}:\n{}", program.wat);
    }
    // The programs exercise both outcomes.
    assert!(
        recognised > 300 && errors > 30 && errors < 270,
        "{recognised} {errors}"
    );
}
