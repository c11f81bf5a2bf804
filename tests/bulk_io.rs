//! The bulk-I/O pass (issue 16): which PDK copy loops it recognises, which loops it
//! keeps, and that a rewritten plug-in behaves as the original one: same output, same
//! error for an access outside a block or past the input, the same state after a
//! failed copy, limits holding.

mod support;

use interplug::rewrite::bulk_io::{rewrite_bulk_io, BulkLoops};
use support::{bulk_programs, fixture_bytes};

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
                // Every PDK's input and output loops (their calls are often encoded
                // with 5-byte indices, as linkers leave them); at most the input's u8
                // tail is kept.
                assert!(
                    loops.recognised >= 2 && loops.kept <= 1,
                    "{stem}: {loops:?}"
                );
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

/// A module with one function `f` whose body is `body`, importing the kernel's
/// data-movement functions, with memory 0 exported as `memory` when `exported`.
fn module_with(body: &str, exported: bool) -> Vec<u8> {
    let memory = if exported {
        r#"(memory (export "memory") 1)"#
    } else {
        "(memory 1)"
    };
    wat::parse_str(format!(
        r#"(module
  (import "extism:host/env" "input_load_u64" (func $input_load_u64 (param i64) (result i64)))
  (import "extism:host/env" "input_load_u8" (func $input_load_u8 (param i64) (result i32)))
  (import "extism:host/env" "load_u64" (func $load_u64 (param i64) (result i64)))
  (import "extism:host/env" "store_u64" (func $store_u64 (param i64 i64)))
  {memory}
  (func (export "f") (param $d i32) (param $i i64) (param $e i64) (param $c i64)
    (local $x i32)
    {body}))"#
    ))
    .expect("valid WAT")
}

/// The Rust PDK's input loop, for the shapes below to vary.
const RUST_INPUT_LOOP: &str = "(loop
      (i64.store (local.get $d) (call $input_load_u64 (local.get $i)))
      (local.set $d (i32.add (local.get $d) (i32.const 8)))
      (br_if 0 (i64.ne (local.get $e) (local.tee $i (i64.add (local.get $i) (i64.const 8))))))";

fn loops_of(wasm: &[u8]) -> Option<BulkLoops> {
    rewrite_bulk_io(wasm)
        .expect("rewrite")
        .map(|(rewritten, loops)| {
            wasmparser::validate(&rewritten).expect("valid after rewriting");
            loops
        })
}

#[test]
fn pdk_loop_shapes_are_recognised() {
    let shapes = [
        RUST_INPUT_LOOP,
        // store_u64 counting down, the Rust PDK's `store`.
        "(loop
          (call $store_u64 (local.get $i) (i64.load (local.get $d)))
          (local.set $i (i64.add (local.get $i) (i64.const 8)))
          (local.set $d (i32.add (local.get $d) (i32.const 8)))
          (br_if 0 (i64.ne (local.tee $c (i64.add (local.get $c) (i64.const -1))) (i64.const 0))))",
        // load_u64 from base + index, ending on lt_u.
        "(loop
          (i64.store (local.get $d) (call $load_u64 (i64.add (local.get $c) (local.get $i))))
          (local.set $d (i32.add (local.get $d) (i32.const 8)))
          (br_if 0 (i64.lt_u (local.tee $i (i64.add (local.get $i) (i64.const 8))) (local.get $e))))",
        // The u8 tail with i32 counters.
        "(loop
          (i32.store8 (local.get $d) (call $input_load_u8 (local.get $i)))
          (local.set $i (i64.add (local.get $i) (i64.const 1)))
          (br_if 0 (i32.ne (local.tee $d (i32.add (local.get $d) (i32.const 1))) (local.get $x))))",
    ];
    for shape in shapes {
        let loops = loops_of(&module_with(shape, true)).expect("imports");
        assert_eq!(
            loops,
            BulkLoops {
                recognised: 1,
                kept: 0
            },
            "{shape}"
        );
    }
}

#[test]
fn loops_of_other_shapes_are_kept() {
    let replace = |from: &str, to: &str| {
        assert!(RUST_INPUT_LOOP.contains(from));
        RUST_INPUT_LOOP.replacen(from, to, 1)
    };
    let shapes = [
        // Something else in the body.
        replace("(local.set $d", "(nop) (local.set $d"),
        // The linear address grows by 4 while 8 bytes are copied.
        replace("(i32.const 8)", "(i32.const 4)"),
        // The Extism address grows by 16.
        replace("(i64.const 8)", "(i64.const 16)"),
        // A store offset.
        replace(
            "(i64.store (local.get $d)",
            "(i64.store offset=8 (local.get $d)",
        ),
        // A local written twice.
        replace(
            "(local.set $d (i32.add (local.get $d) (i32.const 8)))",
            "(local.set $d (i32.add (local.get $d) (i32.const 4))) \
             (local.set $d (i32.add (local.get $d) (i32.const 4)))",
        ),
        // A local set to another one.
        replace(
            "(local.set $d (i32.add (local.get $d)",
            "(local.set $d (i32.add (local.get $x)",
        ),
        // A branch out of the loop.
        replace("(br_if 0", "(br_if 1"),
        // Another comparison.
        replace("i64.ne", "i64.gt_u"),
        // The loaded value kept in a local (the Rust PDK's input u8 tail does this).
        replace(
            "(i64.store (local.get $d) (call $input_load_u64 (local.get $i)))",
            "(drop (call $input_load_u64 (local.get $i)))",
        ),
        // A nested block.
        replace("(local.set $d", "(block) (local.set $d"),
    ];
    for shape in &shapes {
        let loops = loops_of(&module_with(shape, true)).expect("imports");
        assert_eq!(loops.recognised, 0, "{shape}");
    }
    // Memory 0 not exported as `memory`: nothing is rewritten.
    assert_eq!(loops_of(&module_with(RUST_INPUT_LOOP, false)), None);
}

/// A module that imports interplug's private bulk functions itself is refused, with
/// the pass on and off.
#[test]
fn private_bulk_imports_are_refused() {
    let wasm = wat::parse_str(
        r#"(module (import "interplug:bulk" "input_to_linear"
             (func (param i64 i64 i64 i64 i64) (result i64)))
           (memory (export "memory") 1)
           (func (export "f") (result i32) i32.const 0))"#,
    )
    .expect("valid WAT");
    for bulk_io in [true, false] {
        let Err(error) = PluginBuilder::new(&wasm).with_bulk_io(bulk_io).build() else {
            panic!("a module importing interplug:bulk loaded");
        };
        assert_eq!(error.kind(), interplug::ErrorKind::NotFound, "{error:#}");
        assert!(format!("{error:#}").contains("private"), "{error:#}");
    }
}

/// A plug-in copying its whole input into linear memory with the Rust PDK's loop,
/// then echoing the first `n` bytes back, with the pass on or off.
fn input_copier() -> Vec<u8> {
    wat::parse_str(
        r#"(module
  (import "extism:host/env" "input_length" (func $input_length (result i64)))
  (import "extism:host/env" "input_load_u64" (func $input_load_u64 (param i64) (result i64)))
  (import "extism:host/env" "alloc" (func $alloc (param i64) (result i64)))
  (import "extism:host/env" "store_u64" (func $store_u64 (param i64 i64)))
  (import "extism:host/env" "output_set" (func $output_set (param i64 i64)))
  (memory (export "memory") 20)
  (func (export "copy") (result i32)
    (local $d i32) (local $i i64) (local $e i64) (local $h i64)
    (local.set $e (i64.and (call $input_length) (i64.const -8)))
    (block (br_if 0 (i64.eqz (local.get $e)))
      (loop
        (i64.store (local.get $d) (call $input_load_u64 (local.get $i)))
        (local.set $d (i32.add (local.get $d) (i32.const 8)))
        (br_if 0 (i64.ne (local.get $e) (local.tee $i (i64.add (local.get $i) (i64.const 8)))))))
    (local.set $h (call $alloc (i64.const 8)))
    (call $store_u64 (local.get $h) (i64.load (i32.const 0)))
    (call $output_set (local.get $h) (i64.const 8))
    (i32.const 0))
  (func (export "forever") (result i32)
    (local $d i32) (local $i i64) (local $e i64)
    (loop
      (local.set $d (i32.const 0)) (local.set $i (i64.const 0))
      (local.set $e (i64.and (call $input_length) (i64.const -8)))
      (loop
        (i64.store (local.get $d) (call $input_load_u64 (local.get $i)))
        (local.set $d (i32.add (local.get $d) (i32.const 8)))
        (br_if 0 (i64.ne (local.get $e) (local.tee $i (i64.add (local.get $i) (i64.const 8))))))
      (br 0))
    (i32.const 0)))"#,
    )
    .expect("valid WAT")
}

/// The bulk copy is charged by size: 1 MiB costs about 16 400 units of fuel (the
/// 131 072 iterations of the original loop cost far more), and an endless series of
/// bulk copies runs out of fuel; the plug-in answers afterwards.
#[test]
fn bulk_copies_are_charged_fuel_by_size() {
    let wasm = input_copier();
    let input = vec![7u8; 1 << 20];
    let plugin = |bulk_io: bool, fuel: u64| {
        PluginBuilder::new(&wasm)
            .with_bulk_io(bulk_io)
            .with_fuel_limit(fuel)
            .build()
            .expect("plug-in")
    };
    let mut fast = plugin(true, 10_000_000);
    assert_eq!(
        fast.call::<&[u8], Vec<u8>>("copy", &input).expect("copy"),
        vec![7u8; 8]
    );
    let bulk_fuel = fast.fuel_consumed().expect("metered");
    assert!((16_384..30_000).contains(&bulk_fuel), "{bulk_fuel}");
    let mut slow = plugin(false, 10_000_000);
    assert_eq!(
        slow.call::<&[u8], Vec<u8>>("copy", &input).expect("copy"),
        vec![7u8; 8]
    );
    let loop_fuel = slow.fuel_consumed().expect("metered");
    assert!(loop_fuel > 10 * bulk_fuel, "{loop_fuel} vs {bulk_fuel}");

    let mut endless = plugin(true, 200_000);
    let error = endless
        .call::<&[u8], Vec<u8>>("forever", &input[..64 << 10])
        .expect_err("runs out of fuel");
    assert_eq!(error.kind(), interplug::ErrorKind::OutOfFuel, "{error:#}");
    assert_eq!(
        endless
            .call::<&[u8], Vec<u8>>("copy", &[1u8; 8][..])
            .expect("answers"),
        vec![1u8; 8]
    );
}

/// A plug-in that copies its input forever in bulk still ends at its timeout.
#[test]
fn endless_bulk_copies_end_at_the_timeout() {
    let manifest = interplug::Manifest::new([interplug::Wasm::data(input_copier())])
        .with_timeout(std::time::Duration::from_millis(300));
    let mut plugin = PluginBuilder::new(manifest).build().expect("plug-in");
    let started = std::time::Instant::now();
    let error = plugin
        .call::<&[u8], Vec<u8>>("forever", &vec![1u8; 64 << 10][..])
        .expect_err("timeout");
    assert_eq!(error.kind(), interplug::ErrorKind::Timeout, "{error:#}");
    assert!(started.elapsed() < std::time::Duration::from_secs(10));
    assert_eq!(
        plugin
            .call::<&[u8], Vec<u8>>("copy", &[3u8; 8][..])
            .expect("answers"),
        vec![3u8; 8]
    );
}

/// The pass reaches the bulk functions through a table it exports as
/// `interplug:bulk`: a module that exports that name itself, or imports it from
/// another module, is refused with the pass on and off.
#[test]
fn the_private_table_name_is_refused() {
    let exporting = wat::parse_str(
        r#"(module (table (export "interplug:bulk") 3 funcref)
           (memory (export "memory") 1)
           (func (export "f") (result i32) i32.const 0))"#,
    )
    .expect("valid WAT");
    let importing = wat::parse_str(
        r#"(module (import "lib" "interplug:bulk" (table 3 funcref))
           (memory (export "memory") 1)
           (func (export "f") (result i32) i32.const 0))"#,
    )
    .expect("valid WAT");
    for bulk_io in [true, false] {
        for (wasm, kind) in [
            (&exporting, interplug::ErrorKind::Invalid),
            (&importing, interplug::ErrorKind::NotFound),
        ] {
            let Err(error) = PluginBuilder::new(wasm).with_bulk_io(bulk_io).build() else {
                panic!("a module using the private table name loaded");
            };
            assert_eq!(error.kind(), kind, "{error:#}");
            assert!(format!("{error:#}").contains("private"), "{error:#}");
        }
    }
}

/// A start function runs before the host has filled the bulk table: its copy loops
/// run as written; calls after creation use the bulk functions. Both copy the same.
#[test]
fn copy_loops_in_a_start_function_run_as_written() {
    let wasm = wat::parse_str(
        r#"(module
  (import "extism:host/env" "alloc" (func $alloc (param i64) (result i64)))
  (import "extism:host/env" "load_u64" (func $load_u64 (param i64) (result i64)))
  (import "extism:host/env" "store_u64" (func $store_u64 (param i64 i64)))
  (import "extism:host/env" "output_set" (func $output_set (param i64 i64)))
  (memory (export "memory") 1)
  (data (i32.const 0) "start function copies, calls too")
  ;; 32 bytes of linear memory at $d into a new Extism block.
  (func $to_block (param $d i32) (result i64)
    (local $h i64) (local $i i64) (local $n i64)
    (local.set $h (call $alloc (i64.const 32)))
    (local.set $i (local.get $h))
    (local.set $n (i64.const 4))
    (loop
      (call $store_u64 (local.get $i) (i64.load (local.get $d)))
      (local.set $i (i64.add (local.get $i) (i64.const 8)))
      (local.set $d (i32.add (local.get $d) (i32.const 8)))
      (br_if 0 (i64.ne (local.tee $n (i64.add (local.get $n) (i64.const -1))) (i64.const 0))))
    (local.get $h))
  ;; 32 bytes of the Extism block $h into linear memory at $d.
  (func $from_block (param $h i64) (param $d i32)
    (local $end i64)
    (local.set $end (i64.add (local.get $h) (i64.const 32)))
    (loop
      (i64.store (local.get $d) (call $load_u64 (local.get $h)))
      (local.set $d (i32.add (local.get $d) (i32.const 8)))
      (br_if 0 (i64.ne (local.get $end) (local.tee $h (i64.add (local.get $h) (i64.const 8)))))))
  ;; In the start function, before the host fills the bulk table.
  (func $start (call $from_block (call $to_block (i32.const 0)) (i32.const 64)))
  (start $start)
  (func (export "from_start") (result i32)
    (call $output_set (call $to_block (i32.const 64)) (i64.const 32)) (i32.const 0))
  (func (export "from_call") (result i32)
    (call $from_block (call $to_block (i32.const 0)) (i32.const 128))
    (call $output_set (call $to_block (i32.const 128)) (i64.const 32)) (i32.const 0)))"#,
    )
    .expect("valid WAT");
    let (_, loops) = rewrite_bulk_io(&wasm).expect("rewrite").expect("imports");
    assert_eq!(loops.recognised, 2);
    let mut plugin = PluginBuilder::new(&wasm)
        .with_bulk_io(true)
        .build()
        .expect("the start function runs");
    let expected = b"start function copies, calls too".to_vec();
    assert_eq!(
        plugin
            .call::<&[u8], Vec<u8>>("from_start", b"")
            .expect("call"),
        expected
    );
    assert_eq!(
        plugin
            .call::<&[u8], Vec<u8>>("from_call", b"")
            .expect("call"),
        expected
    );
}

/// A module other than `main` that the pass rewrote copies into its own linear memory:
/// `lib` copies 1 MiB of input in bulk (its memory holds it; `main`'s one page does
/// not), for the fuel of a bulk copy.
#[test]
fn bulk_copies_of_another_module_use_its_own_memory() {
    let main = wat::parse_str(
        r#"(module
  (import "lib" "copy" (func $copy (result i32)))
  (memory (export "memory") 1)
  (func (export "copy") (result i32) (call $copy)))"#,
    )
    .expect("valid WAT");
    let manifest = interplug::Manifest::new([
        interplug::Wasm::data(input_copier()).with_name("lib"),
        interplug::Wasm::data(main).with_name("main"),
    ]);
    let mut plugin = PluginBuilder::new(manifest)
        .with_bulk_io(true)
        .with_fuel_limit(10_000_000)
        .build()
        .expect("plug-in");
    let input: Vec<u8> = (0..1u32 << 20).map(|i| (i % 251) as u8).collect();
    for _ in 0..2 {
        let output: Vec<u8> = plugin.call("copy", input.as_slice()).expect("copy");
        assert_eq!(output, input[..8]);
        let fuel = plugin.fuel_consumed().expect("metered");
        assert!((16_384..30_000).contains(&fuel), "{fuel}");
    }
}
