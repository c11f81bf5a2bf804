//! Random programs of Extism kernel calls (alloc, free, load, store, var, config) run
//! by one plug-in under a tiny fuel budget and a memory budget: every call ends (the
//! plug-in loops over its program forever, so only the fuel limit ends it) within a
//! bounded wall time, and the host memory the process holds stays bounded.
//!
//! The fuzz input is the call's input: a program of 3-byte instructions
//! `(op, slot, arg)` that a fixed WAT interpreter runs against 256 handle slots. Block
//! sizes come from `arg` as `(arg & 15) + 1` shifted left by `2 * (arg >> 4 & 7)`, from
//! 1 byte to 256 KiB, so programs fragment the Extism memory; op 7 allocates without
//! keeping the handle (and frees the block unless `arg`'s top bit is set, a flood).
#![no_main]

use interplug::{Manifest, MemoryOptions, Plugin, Wasm};
use libfuzzer_sys::fuzz_target;
use std::{
    sync::Mutex,
    time::{Duration, Instant},
};

#[path = "../../tests/support/counting_alloc.rs"]
mod counting_alloc;

/// Fuel per call: a few milliseconds of interpretation.
const FUEL: u64 = 2_000_000;
/// Memory budget in pages (2 MiB) for linear memory, tables and Extism memory.
const MAX_PAGES: u32 = 32;
/// Var budget.
const MAX_VAR_BYTES: u64 = 64 << 10;
/// Wall time a call may take (generous: the target runs under AddressSanitizer on a
/// shared machine).
const MAX_CALL: Duration = Duration::from_secs(3);
/// Host bytes a call may add over the plug-in's budget and var cap: the engine's own
/// per-call work, the error message, the rebuilt instance after a trap.
const SLACK: isize = 6 << 20;

const INTERPRETER: &str = r#"(module
  (import "extism:host/env" "alloc" (func $alloc (param i64) (result i64)))
  (import "extism:host/env" "free" (func $free (param i64)))
  (import "extism:host/env" "length" (func $length (param i64) (result i64)))
  (import "extism:host/env" "load_u64" (func $load_u64 (param i64) (result i64)))
  (import "extism:host/env" "store_u8" (func $store_u8 (param i64 i32)))
  (import "extism:host/env" "input_length" (func $input_length (result i64)))
  (import "extism:host/env" "input_load_u8" (func $input_load_u8 (param i64) (result i32)))
  (import "extism:host/env" "var_get" (func $var_get (param i64) (result i64)))
  (import "extism:host/env" "var_set" (func $var_set (param i64 i64)))
  (import "extism:host/env" "config_get" (func $config_get (param i64) (result i64)))
  (memory 1)
  ;; Slot `i` (0..255) holds a handle at address 8 * i.
  (func $slot (param $i i32) (result i32) (i32.shl (local.get $i) (i32.const 3)))
  ;; A 2-byte key `k` + (arg & 15), or `c` for config.
  (func $key (param $first i32) (param $arg i32) (result i64)
    (local $k i64)
    (local.set $k (call $alloc (i64.const 2)))
    (call $store_u8 (local.get $k) (local.get $first))
    (call $store_u8 (i64.add (local.get $k) (i64.const 1))
      (i32.add (i32.const 97) (i32.and (local.get $arg) (i32.const 15))))
    (local.get $k))
  (func $size (param $arg i32) (result i64)
    (i64.shl
      (i64.extend_i32_u (i32.add (i32.and (local.get $arg) (i32.const 15)) (i32.const 1)))
      (i64.extend_i32_u (i32.mul (i32.and (i32.shr_u (local.get $arg) (i32.const 4)) (i32.const 7)) (i32.const 2)))))
  (func (export "run") (result i32)
    (local $n i64) (local $pc i64) (local $op i32) (local $s i32) (local $arg i32)
    (local $h i64) (local $len i64)
    (local.set $n (call $input_length))
    (if (i64.lt_u (local.get $n) (i64.const 3)) (then (return (i32.const 0))))
    (local.set $n (i64.sub (local.get $n) (i64.rem_u (local.get $n) (i64.const 3))))
    (loop $next
      (local.set $op (i32.and (call $input_load_u8 (local.get $pc)) (i32.const 7)))
      (local.set $s (call $slot (call $input_load_u8 (i64.add (local.get $pc) (i64.const 1)))))
      (local.set $arg (call $input_load_u8 (i64.add (local.get $pc) (i64.const 2))))
      (local.set $h (i64.load (local.get $s)))
      (block $done
        (br_if $done (i32.ne (local.get $op) (i32.const 0)))
        (call $free (local.get $h))
        (i64.store (local.get $s) (call $alloc (call $size (local.get $arg)))))
      (block $done
        (br_if $done (i32.ne (local.get $op) (i32.const 1)))
        (call $free (local.get $h))
        (i64.store (local.get $s) (i64.const 0)))
      (block $done
        (br_if $done (i32.ne (local.get $op) (i32.const 2)))
        (local.set $len (call $length (local.get $h)))
        (br_if $done (i64.eqz (local.get $len)))
        (call $store_u8
          (i64.add (local.get $h) (i64.rem_u (i64.extend_i32_u (local.get $arg)) (local.get $len)))
          (local.get $arg)))
      (block $done
        (br_if $done (i32.ne (local.get $op) (i32.const 3)))
        (local.set $len (call $length (local.get $h)))
        (br_if $done (i64.lt_u (local.get $len) (i64.const 8)))
        (drop (call $load_u64
          (i64.add (local.get $h)
            (i64.rem_u (i64.extend_i32_u (local.get $arg)) (i64.sub (local.get $len) (i64.const 7)))))))
      (block $done
        (br_if $done (i32.ne (local.get $op) (i32.const 4)))
        ;; var_set takes (and frees) the slot's block; 0 removes the var.
        (call $var_set (call $key (i32.const 107) (local.get $arg)) (local.get $h))
        (i64.store (local.get $s) (i64.const 0)))
      (block $done
        (br_if $done (i32.ne (local.get $op) (i32.const 5)))
        (call $free (local.get $h))
        (i64.store (local.get $s) (call $var_get (call $key (i32.const 107) (local.get $arg)))))
      (block $done
        (br_if $done (i32.ne (local.get $op) (i32.const 6)))
        (call $free (local.get $h))
        (i64.store (local.get $s) (call $config_get (call $key (i32.const 99) (local.get $arg)))))
      (block $done
        (br_if $done (i32.ne (local.get $op) (i32.const 7)))
        (local.set $h (call $alloc (call $size (local.get $arg))))
        ;; The top bit of `arg` leaks the block (a flood of blocks), else frees it.
        (br_if $done (i32.and (local.get $arg) (i32.const 128)))
        (call $free (local.get $h)))
      ;; Run the program again and again: only the fuel limit ends the call.
      (local.set $pc (i64.rem_u (i64.add (local.get $pc) (i64.const 3)) (local.get $n)))
      (br $next))
    (i32.const 0)))"#;

fn plugin() -> Plugin {
    let wasm = wat::parse_str(INTERPRETER).expect("the interpreter is valid WAT");
    let manifest = Manifest::new([Wasm::data(wasm)])
        .with_memory_options(MemoryOptions {
            max_pages: Some(MAX_PAGES),
            max_var_bytes: Some(MAX_VAR_BYTES),
            ..MemoryOptions::default()
        })
        .with_config_key("ca", "a config value".repeat(64));
    interplug::PluginBuilder::new(manifest)
        .with_fuel_limit(FUEL)
        .build()
        .expect("the interpreter loads")
}

/// One plug-in for the whole run, with the host bytes held after its first call.
static PLUGIN: Mutex<Option<(Plugin, isize)>> = Mutex::new(None);

fuzz_target!(|program: &[u8]| {
    let mut guard = PLUGIN.lock().unwrap_or_else(|p| p.into_inner());
    let (plugin, baseline) = guard.get_or_insert_with(|| {
        let mut plugin = plugin();
        let _ = plugin.call::<&[u8], &[u8]>("run", &[7, 0, 0]);
        let baseline = counting_alloc::live();
        (plugin, baseline)
    });
    counting_alloc::reset_peak();
    let start = Instant::now();
    let outcome = plugin.call::<&[u8], &[u8]>("run", program).map(<[u8]>::len);
    let elapsed = start.elapsed();
    drop(outcome);
    assert!(
        elapsed < MAX_CALL,
        "a call of {} program bytes ran {elapsed:?} under a fuel limit of {FUEL}",
        program.len()
    );
    let budget = isize::try_from(u64::from(MAX_PAGES) * 65536 + MAX_VAR_BYTES).unwrap_or(0);
    let grown = counting_alloc::peak() - *baseline;
    assert!(
        grown < budget + SLACK + program.len() as isize,
        "host memory grew by {grown} bytes, more than the budget of {budget} bytes and \
         {SLACK} bytes of slack"
    );
});
