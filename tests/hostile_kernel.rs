//! Hostile plug-ins against the Extism kernel imports, vars and tables (issue 12,
//! items 1, 2, 7 and 8): host work and host memory a plug-in causes stay within its
//! fuel, time and memory limits, each refusal is an error of the right kind, and the
//! plug-in answers afterwards.
//!
//! A counting global allocator measures the host memory a plug-in makes the process
//! hold; every test takes `LOCK` so that no other test allocates during a
//! measurement. WAT, because the attacks loop over kernel imports in ways no PDK
//! exposes.

use interplug::{ErrorExt, ErrorKind, Manifest, MemoryOptions, Plugin, PluginBuilder, Wasm};
use std::{
    sync::{mpsc, Mutex, MutexGuard},
    time::{Duration, Instant},
};

#[path = "support/counting_alloc.rs"]
mod counting_alloc;
use counting_alloc::{live, peak, reset_peak};

/// One test at a time, so that measurements see only their own allocations.
static LOCK: Mutex<()> = Mutex::new(());

fn lock() -> MutexGuard<'static, ()> {
    LOCK.lock().unwrap_or_else(|poisoned| poisoned.into_inner())
}

const MIB: isize = 1 << 20;

/// Runs `work` on its own thread and fails the test when it has not finished after
/// `bound`, so that a plug-in the limits do not stop fails the test instead of hanging
/// it (the thread is left behind; the test process ends anyway).
fn within<T: Send + 'static>(bound: Duration, work: impl FnOnce() -> T + Send + 'static) -> T {
    let (sender, receiver) = mpsc::channel();
    std::thread::spawn(move || {
        let _ = sender.send(work());
    });
    match receiver.recv_timeout(bound) {
        Ok(value) => value,
        Err(_) => panic!("still running after {bound:?}: the limits did not stop the plug-in"),
    }
}

/// The kernel imports the plug-ins below use, and `ok`, a function that answers
/// normally (to check the plug-in is usable after a failed call).
const KERNEL: &str = r#"
  (import "extism:host/env" "alloc" (func $alloc (param i64) (result i64)))
  (import "extism:host/env" "free" (func $free (param i64)))
  (import "extism:host/env" "store_u8" (func $store_u8 (param i64 i32)))
  (import "extism:host/env" "var_set" (func $var_set (param i64 i64)))
  (import "extism:host/env" "output_set" (func $output_set (param i64 i64)))
  (func (export "ok") (result i32)
    (local $h i64)
    (local.set $h (call $alloc (i64.const 2)))
    (call $store_u8 (local.get $h) (i32.const 111))
    (call $store_u8 (i64.add (local.get $h) (i64.const 1)) (i32.const 107))
    (call $output_set (local.get $h) (i64.const 2))
    (i32.const 0))
"#;

/// `alloc(1)` x 200 000, free every other block, then `free(alloc(2))` forever: on
/// a first-fit allocator each `alloc(2)` scans 100 000 holes.
fn churn_plugin() -> String {
    format!(
        r#"(module {KERNEL}
  (memory 25)
  (func (export "churn") (result i32)
    (local $i i32)
    (loop $fill
      (i64.store (i32.mul (local.get $i) (i32.const 8)) (call $alloc (i64.const 1)))
      (local.set $i (i32.add (local.get $i) (i32.const 1)))
      (br_if $fill (i32.lt_u (local.get $i) (i32.const 200000))))
    (local.set $i (i32.const 0))
    (loop $holes
      (call $free (i64.load (i32.mul (local.get $i) (i32.const 8))))
      (local.set $i (i32.add (local.get $i) (i32.const 2)))
      (br_if $holes (i32.lt_u (local.get $i) (i32.const 200000))))
    (loop $again
      (call $free (call $alloc (i64.const 2)))
      (br $again))
    (i32.const 0)))"#
    )
}

/// `alloc(1)` until it returns 0.
fn alloc_until_refused_plugin() -> String {
    format!(
        r#"(module {KERNEL}
  (func (export "flood") (result i32)
    (loop $again
      (br_if $again (i64.ne (call $alloc (i64.const 1)) (i64.const 0))))
    (i32.const 0)))"#
    )
}

/// Sets vars with 4-byte ASCII names (a different one each time) and 1-byte values
/// until `var_set` fails the call.
fn var_flood_plugin() -> String {
    format!(
        r#"(module {KERNEL}
  (func $byte (param $key i64) (param $at i64) (param $bits i32)
    (call $store_u8 (i64.add (local.get $key) (local.get $at))
      (i32.or (i32.const 64) (i32.and (local.get $bits) (i32.const 63)))))
  (func (export "vars") (result i32)
    (local $i i32) (local $key i64) (local $value i64)
    (loop $again
      (local.set $key (call $alloc (i64.const 4)))
      (call $byte (local.get $key) (i64.const 0) (local.get $i))
      (call $byte (local.get $key) (i64.const 1) (i32.shr_u (local.get $i) (i32.const 6)))
      (call $byte (local.get $key) (i64.const 2) (i32.shr_u (local.get $i) (i32.const 12)))
      (call $byte (local.get $key) (i64.const 3) (i32.shr_u (local.get $i) (i32.const 18)))
      (local.set $value (call $alloc (i64.const 1)))
      (call $store_u8 (local.get $value) (i32.const 1))
      (call $var_set (local.get $key) (local.get $value))
      (local.set $i (i32.add (local.get $i) (i32.const 1)))
      (br_if $again (i32.lt_u (local.get $i) (i32.const 16777216))))
    (i32.const 0)))"#
    )
}

fn wat_manifest(wat: &str) -> Manifest {
    Manifest::new([Wasm::data(wat.as_bytes().to_vec())])
}

fn assert_answers(plugin: &mut Plugin) {
    assert_eq!(
        plugin
            .call::<&str, &str>("ok", "")
            .expect("the plug-in answers afterwards"),
        "ok"
    );
}

#[test]
fn fragment_then_churn_stops_at_the_timeout() {
    let _lock = lock();
    let manifest = wat_manifest(&churn_plugin()).with_timeout(Duration::from_millis(300));
    let (error, elapsed, mut plugin) = within(Duration::from_secs(20), move || {
        let mut plugin = Plugin::new(&manifest, [], false).expect("loads");
        let start = Instant::now();
        let error = plugin
            .call::<&str, &[u8]>("churn", "")
            .map(<[u8]>::to_vec)
            .expect_err("runs until stopped");
        (error, start.elapsed(), plugin)
    });
    eprintln!("churn under timeout_ms = 300: stopped after {elapsed:?}");
    assert_eq!(error.kind(), ErrorKind::Timeout, "{error:#}");
    // About the timeout: each import's work ends the fuel slice it overran. Generous
    // bound for a loaded machine; the old first-fit allocator took 3.9 s here.
    assert!(elapsed < Duration::from_millis(2000), "{elapsed:?}");
    assert_answers(&mut plugin);
}

#[test]
fn fragment_then_churn_runs_out_of_fuel() {
    let _lock = lock();
    let wat = churn_plugin();
    let (error, elapsed, fuel, mut plugin) = within(Duration::from_secs(20), move || {
        let mut plugin = PluginBuilder::new(wat.as_str())
            .with_fuel_limit(30_000_000)
            .build()
            .expect("loads");
        let start = Instant::now();
        let error = plugin
            .call::<&str, &[u8]>("churn", "")
            .map(<[u8]>::to_vec)
            .expect_err("runs out of fuel");
        (error, start.elapsed(), plugin.fuel_consumed(), plugin)
    });
    eprintln!("churn under a fuel limit of 30 000 000: stopped after {elapsed:?}, {fuel:?} fuel");
    assert_eq!(error.kind(), ErrorKind::OutOfFuel, "{error:#}");
    // The imports' fuel counts: the call used the limit, not more.
    let fuel = fuel.expect("fuel metered");
    assert!((29_000_000..=30_100_000).contains(&fuel), "{fuel}");
    // The watchdog bounds the wall time (the old allocator ran for minutes); fuel is
    // what this test checks, as wall time depends on the build and the machine.
    assert_answers(&mut plugin);
}

#[test]
fn alloc_flood_stays_within_the_memory_budget() {
    let _lock = lock();
    let manifest = wat_manifest(&alloc_until_refused_plugin()).with_memory_max(32);
    let mut plugin = Plugin::new(&manifest, [], false).expect("loads");
    assert_answers(&mut plugin);
    let before = reset_peak();
    // alloc returning 0 is not an error: the plug-in sees it and returns.
    plugin.call::<&str, &[u8]>("flood", "").expect("ends");
    let held = live() - before;
    let peak = peak() - before;
    eprintln!("alloc(1) flood under max_pages = 32: holds {held} B, peak {peak} B");
    let blocks = plugin.current_plugin().memory().live_blocks();
    assert!(blocks > 10_000, "{blocks} blocks");
    // The budget is 2 MiB; the block records count in it.
    assert!(peak < 3 * MIB, "host memory grew by {peak} bytes");
    // The next call's reset releases the records.
    assert_answers(&mut plugin);
    let after_reset = live() - before;
    eprintln!("after the next call: {after_reset} B");
    assert!(after_reset < MIB + MIB / 4, "{after_reset} bytes kept");
}

#[test]
fn alloc_flood_without_a_budget_stops_at_the_block_cap() {
    let _lock = lock();
    let manifest = wat_manifest(&alloc_until_refused_plugin());
    let mut plugin = Plugin::new(&manifest, [], false).expect("loads");
    let before = reset_peak();
    within(Duration::from_secs(120), move || {
        plugin.call::<&str, &[u8]>("flood", "").expect("ends");
        assert_eq!(
            plugin.current_plugin().memory().live_blocks(),
            1 << 20 // memory::MAX_BLOCKS
        );
        assert_answers(&mut plugin);
    });
    let peak = peak() - before;
    eprintln!("alloc(1) flood without a budget: peak {peak} B");
    assert!(peak < 96 * MIB, "host memory grew by {peak} bytes");
}

#[test]
fn var_flood_counts_each_entry_and_keeps_the_vars() {
    let _lock = lock();
    let manifest = wat_manifest(&var_flood_plugin()).with_memory_options(MemoryOptions {
        max_var_bytes: Some(1 << 20),
        ..MemoryOptions::default()
    });
    let mut plugin = Plugin::new(&manifest, [], false).expect("loads");
    assert_answers(&mut plugin);
    let before = reset_peak();
    let error = plugin
        .call::<&str, &[u8]>("vars", "")
        .map(<[u8]>::to_vec)
        .expect_err("the var store fills up");
    let kept = plugin.current_plugin().vars().len();
    let held = live() - before;
    eprintln!("var flood under max_var_bytes = 1 MiB: {kept} vars, holds {held} B");
    assert_eq!(error.kind(), ErrorKind::LimitExceeded, "{error:#}");
    assert!(format!("{error:#}").contains("max_var_bytes"), "{error:#}");
    assert!(kept > 1_000, "{kept} vars kept");
    assert!(held < MIB + MIB / 2, "host memory grew by {held} bytes");
    assert_answers(&mut plugin);
    assert_eq!(plugin.current_plugin().vars().len(), kept);
}

#[test]
fn var_entries_are_capped_whatever_max_var_bytes_allows() {
    let _lock = lock();
    let manifest = wat_manifest(&var_flood_plugin()).with_memory_options(MemoryOptions {
        max_var_bytes: Some(1 << 30),
        ..MemoryOptions::default()
    });
    within(Duration::from_secs(60), move || {
        let mut plugin = Plugin::new(&manifest, [], false).expect("loads");
        let error = plugin
            .call::<&str, &[u8]>("vars", "")
            .map(<[u8]>::to_vec)
            .expect_err("the var store fills up");
        assert_eq!(error.kind(), ErrorKind::LimitExceeded, "{error:#}");
        assert_eq!(
            plugin.current_plugin().vars().len(),
            65_536 // current_plugin::MAX_VAR_ENTRIES
        );
        assert_answers(&mut plugin);
    });
}

/// A plug-in of `manifest`, instantiated at once (not at its first call).
fn instantiated(manifest: &Manifest) -> Result<Plugin, interplug::Error> {
    let mut plugin = Plugin::new(manifest, [], false)?;
    plugin.instantiate()?;
    Ok(plugin)
}

/// A module declaring `count` tables of `elements` elements each.
fn tables_plugin(count: usize, elements: u32) -> String {
    let tables = format!("(table {elements} funcref)\n").repeat(count);
    format!("(module {KERNEL} {tables})")
}

#[test]
fn huge_tables_are_refused_within_the_budget() {
    let _lock = lock();
    let manifest = wat_manifest(&tables_plugin(64, 1_048_576)).with_memory_max(16);
    let before = reset_peak();
    let result = instantiated(&manifest);
    let peak = peak() - before;
    eprintln!("64 tables of 2^20 under max_pages = 16: peak {peak} B");
    let error = result.expect_err("tables refused");
    // The first table alone passes the 1 MiB budget.
    assert_eq!(error.kind(), ErrorKind::OutOfMemory, "{error:#}");
    assert!(format!("{error:#}").contains("tables"), "{error:#}");
    assert!(peak < 8 * MIB, "host memory grew by {peak} bytes");

    // Within the cap but over a small budget: an out-of-memory error naming tables.
    let manifest = wat_manifest(&tables_plugin(1, 200_000)).with_memory_max(16);
    let error = instantiated(&manifest).expect_err("tables refused");
    assert_eq!(error.kind(), ErrorKind::OutOfMemory, "{error:#}");
    assert!(format!("{error:#}").contains("tables"), "{error:#}");

    // Without a budget, the cap on table elements still holds.
    let manifest = wat_manifest(&tables_plugin(2, 1_048_576));
    let error = instantiated(&manifest).expect_err("tables refused");
    assert_eq!(error.kind(), ErrorKind::LimitExceeded, "{error:#}");

    // Ordinary tables are fine under the same budget.
    let manifest = wat_manifest(&tables_plugin(4, 1_000)).with_memory_max(16);
    let mut plugin = Plugin::new(&manifest, [], false).expect("small tables load");
    assert_answers(&mut plugin);
}

#[test]
fn table_grow_past_the_cap_returns_minus_one() {
    let _lock = lock();
    // Grows a table by 100 000 elements until `table.grow` fails, and returns how many
    // elements it reached: the cap, not the 2^32 the instruction allows.
    let wat = format!(
        r#"(module {KERNEL}
  (table $t 1 funcref)
  (func (export "grow") (result i32)
    (local $h i64)
    (loop $again
      (br_if $again (i32.ne (table.grow $t (ref.null func) (i32.const 100000)) (i32.const -1))))
    (local.set $h (call $alloc (i64.const 1)))
    (call $store_u8 (local.get $h)
      (i32.add (i32.const 48) (i32.div_u (table.size $t) (i32.const 100000))))
    (call $output_set (local.get $h) (i64.const 1))
    (i32.const 0)))"#
    );
    let mut plugin = Plugin::new(wat_manifest(&wat), [], false).expect("loads");
    let before = reset_peak();
    let reached = plugin.call::<&str, String>("grow", "").expect("grow ends");
    let peak = peak() - before;
    // 1 + 10 x 100 000 elements fit under 2^20; the 11th growth is refused.
    assert_eq!(
        reached,
        char::from(b'0' + 10).to_string(),
        "table size / 100 000"
    );
    assert!(peak < 16 * MIB, "host memory grew by {peak} bytes");
    assert_answers(&mut plugin);
}
