//! Random and adversarial modules through the rewriting layer (the bulk-I/O pass, the
//! identity pass and the fuzzing instrumentation): each rewrite refuses the module or
//! gives a valid one when the module was valid, and its time and host memory stay
//! within a fixed multiple of the module's size.
//!
//! The first byte of the input picks the module: a wasm-smith module importing the
//! kernel's data-movement functions with its memory exported as `memory` (so that the
//! bulk-I/O pass runs on it), a module of PDK-shaped copy loops with random mutations
//! (many locals, long sums, nested blocks, huge bodies: the shapes that made the pass
//! quadratic), or the raw bytes after a wasm header.
#![no_main]

use arbitrary::Unstructured;
use interplug::rewrite::{bulk_io::rewrite_bulk_io_with, coverage::FuzzPass, rewrite_with};
use interplug::rewrite::{Identity, Limits, Pass};
use libfuzzer_sys::fuzz_target;
use std::fmt::Write;
use std::time::{Duration, Instant};

#[path = "../../tests/support/counting_alloc.rs"]
mod counting_alloc;

/// The kernel's data-movement imports, offered to wasm-smith.
const IMPORTS: &str = r#"(module
  (import "extism:host/env" "input_load_u64" (func (param i64) (result i64)))
  (import "extism:host/env" "input_load_u8" (func (param i64) (result i32)))
  (import "extism:host/env" "load_u64" (func (param i64) (result i64)))
  (import "extism:host/env" "load_u8" (func (param i64) (result i32)))
  (import "extism:host/env" "store_u64" (func (param i64 i64)))
  (import "extism:host/env" "store_u8" (func (param i64 i32)))
)"#;

/// The exports wasm-smith must give its module: memory 0 as `memory`.
const EXPORTS: &str = r#"(module (memory (export "memory") 1) (func (export "run") (result i32) i32.const 0))"#;

/// Time a rewrite may take: this much, plus [`NANOS_PER_BYTE`] per byte of module (a
/// generous bound for an instrumented build on a loaded machine; a quadratic pass
/// goes past it by orders of magnitude on the adversarial modules).
const BASE_TIME: Duration = Duration::from_millis(200);
const NANOS_PER_BYTE: u64 = 50_000;

/// Host memory a rewrite may hold beyond what was held before it: this much, plus
/// [`BYTES_PER_BYTE`] per byte of module.
const BASE_BYTES: isize = 1 << 20;
const BYTES_PER_BYTE: isize = 48;

fuzz_target!(|data: &[u8]| {
    let Some((&mode, rest)) = data.split_first() else {
        return;
    };
    let wasm = match mode % 3 {
        0 => match smith(rest) {
            Some(wasm) => wasm,
            None => return,
        },
        1 => {
            let wat = loops(&mut Unstructured::new(rest));
            wat::parse_str(&wat).expect("generated WAT parses")
        }
        _ => {
            let mut wasm = b"\0asm\x01\0\0\0".to_vec();
            wasm.extend_from_slice(rest);
            wasm
        }
    };
    let valid = validate(&wasm).is_ok();
    check(&wasm, valid, "bulk-I/O", |wasm, limits| {
        rewrite_bulk_io_with(wasm, limits).map(|r| r.map(|(out, _)| out))
    });
    check(&wasm, valid, "identity", |wasm, limits| {
        rewrite_with(wasm, &mut Identity, limits).map(Some)
    });
    check(&wasm, valid, "instrumentation", |wasm, limits| {
        let mut pass = FuzzPass::new();
        let pass: &mut dyn Pass = &mut pass;
        rewrite_with(wasm, pass, limits).map(Some)
    });
});

/// Runs one rewrite and checks its outcome, time and memory.
fn check(
    wasm: &[u8],
    valid: bool,
    name: &str,
    run: impl FnOnce(&[u8], &Limits<'_>) -> Result<Option<Vec<u8>>, interplug::Error>,
) {
    let size = wasm.len();
    // The instrumentation writes counters around every block: its output may be
    // several times the module, which the layer's own cap must allow.
    let limits = Limits::with_max_bytes(64 * size + (1 << 20));
    let before = counting_alloc::reset_peak();
    let started = Instant::now();
    let result = run(wasm, &limits);
    let took = started.elapsed();
    let held = counting_alloc::peak() - before;
    let time_bound = BASE_TIME + Duration::from_nanos(NANOS_PER_BYTE * size as u64);
    assert!(
        took <= time_bound,
        "{name}: {size}-byte module rewritten in {took:?} (bound {time_bound:?})"
    );
    let memory_bound = BASE_BYTES + BYTES_PER_BYTE * size as isize;
    assert!(
        held <= memory_bound,
        "{name}: {size}-byte module: {held} bytes held while rewritten (bound {memory_bound})"
    );
    match result {
        Ok(Some(out)) if valid => {
            if let Err(error) = validate(&out) {
                panic!("{name}: a valid module became invalid: {error}");
            }
        }
        // A refusal, nothing to rewrite, or an invalid module (whose output is not
        // specified) are all fine.
        _ => {}
    }
}

/// Validates `wasm` with the proposals interplug accepts and the table reference types
/// the bulk-I/O pass needs.
fn validate(wasm: &[u8]) -> Result<(), wasmparser::BinaryReaderError> {
    wasmparser::Validator::new_with_features(wasmparser::WasmFeatures::default())
        .validate_all(wasm)
        .map(|_| ())
}

/// A wasm-smith module importing the data-movement functions, memory 0 exported as
/// `memory`.
fn smith(data: &[u8]) -> Option<Vec<u8>> {
    let mut u = Unstructured::new(data);
    let mut config = wasm_smith::Config::default();
    config.available_imports = Some(wat::parse_str(IMPORTS).ok()?);
    config.exports = Some(wat::parse_str(EXPORTS).ok()?);
    config.min_memories = 1;
    config.max_memories = 1;
    config.memory64_enabled = false;
    config.simd_enabled = false;
    config.threads_enabled = false;
    config.gc_enabled = false;
    config.exceptions_enabled = false;
    wasm_smith::Module::new(config, &mut u)
        .ok()
        .map(|m| m.to_bytes())
}

/// The PDK copy loops the pass recognises (from `tests/bulk_io.rs`), each to be
/// mutated. `$d` is an i32 address, `$i`, `$e`, `$c` i64s.
const SHAPES: [&str; 4] = [
    "loop
      local.get $d local.get $i call $input_load_u64 i64.store
      local.get $d i32.const 8 i32.add local.set $d
      local.get $e local.get $i i64.const 8 i64.add local.tee $i i64.ne br_if 0
    end",
    "loop
      local.get $i local.get $d i64.load call $store_u64
      local.get $i i64.const 8 i64.add local.set $i
      local.get $d i32.const 8 i32.add local.set $d
      local.get $c i64.const -1 i64.add local.tee $c i64.const 0 i64.ne br_if 0
    end",
    "loop
      local.get $d local.get $c local.get $i i64.add call $load_u64 i64.store
      local.get $d i32.const 8 i32.add local.set $d
      local.get $i i64.const 8 i64.add local.tee $i local.get $e i64.lt_u br_if 0
    end",
    "loop
      local.get $d local.get $i call $input_load_u8 i32.store8
      local.get $i i64.const 1 i64.add local.set $i
      local.get $d i32.const 1 i32.add local.tee $d local.get $x i32.ne br_if 0
    end",
];

/// Replacements that keep a loop valid but change (or bloat) its shape.
const MUTATIONS: [(&str, &str); 8] = [
    ("i32.const 8", "i32.const 4"),
    ("i64.const 8", "i64.const 16"),
    ("local.set $d", "nop local.set $d"),
    ("br_if 0", "br_if 1"),
    ("i64.ne", "i64.gt_u"),
    ("local.set $d", "block end local.set $d"),
    ("i64.store", "i64.store offset=8"),
    ("loop", "loop loop end"),
];

/// A module of copy loops with random mutations, many locals and long sums.
fn loops(u: &mut Unstructured<'_>) -> String {
    let extra_locals = u.int_in_range(0..=20_000u32).unwrap_or(0);
    let alternate = u.arbitrary::<bool>().unwrap_or(false);
    let mut locals = String::new();
    for k in 0..extra_locals {
        let ty = if alternate && k % 2 == 1 { "i32" } else { "i64" };
        let _ = write!(locals, "(local {ty}) ");
    }
    let mut body = String::new();
    let count = u.int_in_range(1..=64u32).unwrap_or(1);
    // Terms of long sums left over the whole module (one may name every local).
    let mut terms_left = 2 * extra_locals;
    for _ in 0..count {
        let mut shape = SHAPES[u.choose_index(SHAPES.len()).unwrap_or(0)].to_string();
        for _ in 0..u.int_in_range(0..=3u32).unwrap_or(0) {
            let (from, to) = MUTATIONS[u.choose_index(MUTATIONS.len()).unwrap_or(0)];
            shape = shape.replacen(from, to, 1);
        }
        // A long sum of locals as the Extism address (right to left, as in the
        // issue's quadratic module).
        if extra_locals > 0 && terms_left > 0 && u.arbitrary::<bool>().unwrap_or(false) {
            let terms = u.int_in_range(1..=extra_locals.min(terms_left)).unwrap_or(1);
            terms_left -= terms;
            let step = if alternate { 2 } else { 1 };
            let mut sum = String::from("local.get $i ");
            let mut added = 0;
            let mut local = 0;
            while added < terms && local < extra_locals {
                let _ = write!(sum, "local.get {} ", 5 + local);
                local += step;
                added += 1;
            }
            for _ in 0..added {
                sum.push_str("i64.add ");
            }
            shape = shape.replacen("local.get $i call", &format!("{sum}call"), 1);
        }
        // Some loops inside blocks.
        if u.arbitrary::<bool>().unwrap_or(false) {
            shape = format!("block {shape} end");
        }
        body.push_str(&shape);
        body.push('\n');
    }
    let nops = u.int_in_range(0..=100_000u32).unwrap_or(0);
    body.push_str(&"nop ".repeat(nops as usize));
    format!(
        r#"(module
  (import "extism:host/env" "input_load_u64" (func $input_load_u64 (param i64) (result i64)))
  (import "extism:host/env" "input_load_u8" (func $input_load_u8 (param i64) (result i32)))
  (import "extism:host/env" "load_u64" (func $load_u64 (param i64) (result i64)))
  (import "extism:host/env" "store_u64" (func $store_u64 (param i64 i64)))
  (memory (export "memory") 1)
  (func (export "run") (param $d i32) (param $i i64) (param $e i64) (param $c i64)
    (local $x i32) {locals}
    {body}))"#
    )
}
