//! Limits that hold against hostile plug-ins (`limits.wasm`), and the plug-in works
//! afterwards.

mod support;
use interplug::{CompiledPlugin, ErrorExt, Manifest, Plugin, PluginBuilder, PoolBuilder, Wasm};
use std::time::{Duration, Instant};
use support::{error_of, failing_host_fn, fixture_bytes, panicking_host_fn};

fn limits_manifest() -> Manifest {
    Manifest::new([Wasm::data(fixture_bytes("limits"))])
}

/// Checks the plug-in still computes correctly.
fn assert_usable(plugin: &mut Plugin) {
    assert_eq!(
        plugin
            .call::<&str, &str>("compute", "10")
            .expect("plug-in still usable"),
        "17818939798065174182"
    );
}

#[test]
fn timeout_stops_a_tight_loop() {
    let manifest = limits_manifest().with_timeout(Duration::from_millis(100));
    let mut plugin = Plugin::new(&manifest, [panicking_host_fn()], false).expect("loads");
    let start = Instant::now();
    let message = error_of(plugin.call::<&str, &[u8]>("infinite_loop", ""));
    let elapsed = start.elapsed();
    assert!(message.contains("timeout"), "{message}");
    assert!(elapsed >= Duration::from_millis(100), "{elapsed:?}");
    // Generous bound for a loaded CI machine; the benchmark measures the real delay.
    assert!(elapsed < Duration::from_millis(2000), "{elapsed:?}");
    assert_usable(&mut plugin);
}

#[test]
fn cancel_from_another_thread() {
    let mut plugin = Plugin::new(limits_manifest(), [panicking_host_fn()], false).expect("loads");
    let handle = plugin.cancel_handle();
    // A cancel while idle does not kill the next call.
    handle.cancel().expect("cancel");
    assert_usable(&mut plugin);

    let canceller = std::thread::spawn(move || {
        std::thread::sleep(Duration::from_millis(50));
        let sent = Instant::now();
        handle.cancel().expect("cancel");
        sent
    });
    let message = error_of(plugin.call::<&str, &[u8]>("infinite_loop", ""));
    let stopped = Instant::now();
    let sent = canceller.join().expect("thread");
    assert!(message.contains("cancel"), "{message}");
    assert!(stopped.duration_since(sent) < Duration::from_millis(2000));
    assert_usable(&mut plugin);
}

#[test]
fn fuel_limit_stops_and_reports_use() {
    let mut plugin = PluginBuilder::new(limits_manifest())
        .with_function_in_namespace(
            "extism:host/user",
            "panic_now",
            [interplug::PTR],
            [interplug::PTR],
            interplug::UserData::<()>::default(),
            |_, _, _, _| Ok(()),
        )
        .with_fuel_limit(2_500_000)
        .build()
        .expect("loads");
    let message = error_of(plugin.call::<&str, &[u8]>("infinite_loop", ""));
    assert!(message.contains("fuel"), "{message}");
    // A failed call reports what it used: all of the limit, up to what the next
    // basic block needed.
    let all = plugin.fuel_consumed().expect("fuel metered");
    assert!(all > 2_400_000 && all <= 2_500_000, "{all}");
    assert_usable(&mut plugin);
    let small = plugin.fuel_consumed().expect("fuel metered");
    assert!(small > 0 && small < 2_500_000, "{small}");
    plugin
        .call::<&str, &str>("compute", "1000")
        .expect("fits the limit");
    let big = plugin.fuel_consumed().expect("fuel metered");
    assert!(big > small, "{big} > {small}");
}

#[test]
fn memory_budget_stops_linear_growth_with_oom() {
    let manifest = limits_manifest().with_memory_max(64);
    let mut plugin = Plugin::new(&manifest, [panicking_host_fn()], false).expect("loads");
    let message = error_of(plugin.call::<&str, &[u8]>("alloc_loop", ""));
    assert!(message.starts_with("oom"), "{message}");
    assert_usable(&mut plugin);
}

#[test]
fn memory_budget_refuses_extism_allocations() {
    let manifest = limits_manifest().with_memory_max(40);
    let mut plugin = Plugin::new(&manifest, [panicking_host_fn()], false).expect("loads");
    // 17 pages of linear memory leave 23 pages (1.4 MiB) for the Extism memory.
    let message = error_of(plugin.call::<&str, &[u8]>("extism_alloc", "2000000"));
    assert!(message.contains("alloc(2000000) returned 0"), "{message}");
    assert_eq!(
        plugin
            .call::<&str, &str>("extism_alloc", "1000000")
            .expect("fits"),
        "allocated"
    );
    // Input larger than the budget is refused before the plug-in runs.
    let big = vec![b'x'; 4 << 20];
    let message = error_of(plugin.call::<&[u8], &[u8]>("compute", &big));
    assert!(message.starts_with("oom"), "{message}");
    assert_usable(&mut plugin);
}

#[test]
fn var_flood_is_capped_and_vars_survive() {
    let manifest = limits_manifest();
    let mut plugin = Plugin::new(&manifest, [panicking_host_fn()], false).expect("loads");
    let message = error_of(plugin.call::<&str, &[u8]>("var_flood", ""));
    assert!(message.contains("max_var_bytes"), "{message}");
    let vars = plugin.current_plugin().vars().len();
    assert!((10..=16).contains(&vars), "{vars} vars kept");
    let total: usize = plugin
        .current_plugin()
        .vars()
        .iter()
        .map(|(k, v)| k.len() + v.len())
        .sum();
    assert!(total <= 1 << 20, "{total}");
    assert_usable(&mut plugin);
    assert_eq!(plugin.current_plugin().vars().len(), vars);
}

#[test]
fn log_flood_is_bounded_by_timeout_and_memory() {
    let manifest = limits_manifest()
        .with_timeout(Duration::from_millis(300))
        .with_memory_max(64);
    let mut plugin = Plugin::new(&manifest, [panicking_host_fn()], false).expect("loads");
    let message = error_of(plugin.call::<&str, &[u8]>("log_flood", ""));
    assert!(message.contains("timeout"), "{message}");
    assert!(plugin.current_plugin().memory().reserved_bytes() <= 64 * 65536);
    assert_usable(&mut plugin);
}

#[test]
fn host_function_panic_or_error_fails_the_call() {
    let mut plugin = Plugin::new(limits_manifest(), [panicking_host_fn()], false).expect("loads");
    let message = error_of(plugin.call::<&str, &[u8]>("call_host_panic", "x"));
    assert!(
        message.contains("host function blew up on purpose"),
        "{message}"
    );
    assert_usable(&mut plugin);

    let mut plugin = Plugin::new(limits_manifest(), [failing_host_fn()], false).expect("loads");
    let message = error_of(plugin.call::<&str, &[u8]>("call_host_panic", "x"));
    assert!(
        message.contains("host function refused on purpose"),
        "{message}"
    );
    assert_usable(&mut plugin);
}

#[test]
fn traps_keep_vars() {
    let mut plugin = Plugin::new(fixture_bytes("count_vowels"), [], false).expect("loads");
    plugin
        .call::<&str, &str>("count_vowels", "aaa")
        .expect("call");
    // Not UTF-8: the PDK fails the call.
    assert!(plugin.call::<&[u8], &str>("count_vowels", &[0xff]).is_err());
    let out = plugin
        .call::<&str, &str>("count_vowels", "a")
        .expect("call");
    assert_eq!(out, r#"{"count":1,"total":4,"vowels":"aeiouAEIOU"}"#);
}

#[test]
fn eight_threads_share_one_compiled_plugin() {
    let compiled =
        CompiledPlugin::new(PluginBuilder::new(fixture_bytes("count_vowels"))).expect("compiles");
    let pool_source = compiled.clone();
    let pool = PoolBuilder::new()
        .with_max_instances(8)
        .build(move || Plugin::new_from_compiled(&pool_source));
    let threads: Vec<_> = (0..8)
        .map(|t| {
            let compiled = compiled.clone();
            let pool = pool.clone();
            std::thread::spawn(move || {
                let mut own = Plugin::new_from_compiled(&compiled).expect("instantiates");
                for i in 0..1000 {
                    let out = own
                        .call::<&str, String>("count_vowels", "aei")
                        .expect("call");
                    assert_eq!(
                        out,
                        format!(
                            r#"{{"count":3,"total":{},"vowels":"aeiouAEIOU"}}"#,
                            3 * (i + 1)
                        )
                    );
                    if i % 10 == t % 10 {
                        let mut pooled = pool
                            .get(std::time::Duration::from_secs(60))
                            .expect("pool")
                            .expect("an instance within a minute");
                        pooled
                            .call::<&str, String>("count_vowels", "o")
                            .expect("pooled call");
                    }
                }
            })
        })
        .collect();
    for thread in threads {
        thread.join().expect("no thread failed");
    }
    assert!(pool.count() <= 8);
}

#[test]
fn endless_tail_calls_run_out_of_fuel_without_growing_the_native_stack() {
    // Found by the `kernel_calls` fuzz target: a module that loops through
    // `return_call`. It must stop at the fuel limit (or timeout), not overflow.
    let wat = r#"(module
      (func $spin (param i64) (result i32)
        (return_call $spin (i64.add (local.get 0) (i64.const 1))))
      (func (export "spin") (result i32) (call $spin (i64.const 0))))"#;
    let mut plugin = PluginBuilder::new(wat)
        .with_fuel_limit(5_000_000)
        .build()
        .expect("loads");
    let message = error_of(plugin.call::<&str, &[u8]>("spin", ""));
    assert!(message.contains("fuel"), "{message}");
    let manifest = Manifest::new([Wasm::data(wat.as_bytes().to_vec())])
        .with_timeout(Duration::from_millis(50));
    let mut plugin = Plugin::new(&manifest, [], false).expect("loads");
    let message = error_of(plugin.call::<&str, &[u8]>("spin", ""));
    assert!(message.contains("timeout"), "{message}");
}

#[test]
fn host_work_in_imports_counts_against_time_and_fuel() {
    // Each loop iteration makes the host zero 4 MiB (alloc at the top after a free)
    // for a handful of wasm instructions: the imports' own work must end the fuel
    // slice, or the timeout would only be seen after gigabytes of host work.
    let wat = r#"(module
      (import "extism:host/env" "alloc" (func $alloc (param i64) (result i64)))
      (import "extism:host/env" "free" (func $free (param i64)))
      (func (export "churn") (result i32)
        (loop $again
          (call $free (call $alloc (i64.const 4194304)))
          (br $again))
        (i32.const 0)))"#;
    let manifest = Manifest::new([Wasm::data(wat.as_bytes().to_vec())])
        .with_timeout(Duration::from_millis(100));
    let mut plugin = Plugin::new(&manifest, [], false).expect("loads");
    let start = Instant::now();
    let message = error_of(plugin.call::<&str, &[u8]>("churn", ""));
    assert!(message.contains("timeout"), "{message}");
    assert!(
        start.elapsed() < Duration::from_millis(2000),
        "{:?}",
        start.elapsed()
    );

    let mut plugin = PluginBuilder::new(wat)
        .with_fuel_limit(1_000_000)
        .build()
        .expect("loads");
    let message = error_of(plugin.call::<&str, &[u8]>("churn", ""));
    assert!(message.contains("fuel"), "{message}");
}

#[test]
fn endless_start_function_fails_the_first_call_within_the_init_fuel() {
    // Found by the `kernel_calls` fuzz target: a start function that never returns.
    // It runs at the first call, which instantiates the plug-in.
    let wat = r#"(module (func $forever (loop $l (br $l))) (start $forever)
      (func (export "f") (result i32) (i32.const 0)))"#;
    let first_call = |builder: PluginBuilder| {
        let mut plugin = builder.build()?;
        plugin.call::<&str, Vec<u8>>("f", "")
    };
    let message = error_of(first_call(
        PluginBuilder::new(wat).with_fuel_limit(1_000_000),
    ));
    assert!(message.contains("fuel"), "{message}");
    let start = Instant::now();
    let message = error_of(first_call(PluginBuilder::new(wat)));
    assert!(message.contains("fuel"), "{message}");
    assert!(
        start.elapsed() < Duration::from_secs(20),
        "{:?}",
        start.elapsed()
    );
}

#[test]
fn running_out_of_fuel_while_a_function_is_first_compiled_is_a_fuel_error() {
    // wasmi compiles each function at its first call. Whatever the fuel limit, the
    // call either finishes or stops with interplug's out-of-fuel error: compiling a
    // function costs no fuel, so it can never fail half-way in a way wasmi cannot
    // resume (that surfaced as "ran out of fuel while calling a resumable function").
    let big_body = "i32.const 1 drop ".repeat(400);
    let wat = format!(
        r#"(module
            (func $big {big_body})
            (func (export "run") (result i32)
                (local $i i32)
                (loop $again
                    (local.set $i (i32.add (local.get $i) (i32.const 1)))
                    (br_if $again (i32.lt_u (local.get $i) (i32.const 30))))
                call $big
                i32.const 0))"#
    );
    // Fuel does not pay for compiling: the first call on a fresh engine (which
    // compiles `run` and `$big`) costs what the same call costs once they are compiled.
    let fuel_of_first_call = || {
        let mut plugin = PluginBuilder::new(wat.as_str())
            .with_fuel_limit(1_000_000)
            .build()
            .expect("the module is valid");
        plugin.call::<&str, &[u8]>("run", "").expect("enough fuel");
        plugin.fuel_consumed().expect("metered")
    };
    let compiling = fuel_of_first_call();
    let compiled = fuel_of_first_call();
    assert_eq!(compiling, compiled);

    let mut finished = 0;
    for limit in [
        1, 5, 20, 60, 100, 150, 200, 400, 1_000, 3_000, 10_000, 100_000,
    ] {
        let mut plugin = PluginBuilder::new(wat.as_str())
            .with_fuel_limit(limit)
            .build()
            .expect("the module is valid");
        match plugin.call::<&str, &[u8]>("run", "") {
            Ok(_) => {
                finished += 1;
                let used = plugin
                    .fuel_consumed()
                    .expect("a fuel limit meters the call");
                assert!(used <= limit, "fuel limit {limit}: used {used}");
            }
            Err(error) => {
                let message = format!("{error:#}");
                assert!(
                    message.contains("out of fuel: the call used all"),
                    "fuel limit {limit}: {message}"
                );
                let used = plugin
                    .fuel_consumed()
                    .expect("a failed call reports its fuel");
                assert!(used <= limit, "fuel limit {limit}: used {used}");
                assert_usable_after_fuel_error(&mut plugin);
            }
        }
    }
    assert!(finished >= 2, "the larger limits are enough for the call");
}

/// A plug-in that ran out of fuel still answers the next call with the same error.
fn assert_usable_after_fuel_error(plugin: &mut Plugin) {
    let message = error_of(plugin.call::<&str, &[u8]>("run", ""));
    assert!(message.contains("out of fuel"), "{message}");
}

#[test]
fn wasm_traps_fail_the_call_and_the_plugin_recovers() {
    // The traps safe Rust cannot produce without undefined behaviour (the `limits`
    // plug-in checks these cases itself): a real `i32.div_s` by zero and a real
    // out-of-bounds load of linear memory.
    let wat = r#"(module
      (import "extism:host/env" "output_set" (func $output_set (param i64 i64)))
      (memory 1)
      (global $calls (mut i32) (i32.const 0))
      (func (export "div_zero") (result i32)
        (i32.div_s (i32.const 1) (global.get $calls)))
      (func (export "oob") (result i32)
        (i32.wrap_i64 (i64.load (i32.const 0xFFFFFF00))))
      (func (export "ok") (result i32)
        (global.set $calls (i32.add (global.get $calls) (i32.const 1)))
        (call $output_set (i64.const 0) (i64.const 0))
        (i32.const 0)))"#;
    let mut plugin = Plugin::new(wat, [], false).expect("loads");
    for (function, text) in [("div_zero", "divide by zero"), ("oob", "out of bounds")] {
        let error = plugin.call::<&str, &[u8]>(function, "").unwrap_err();
        assert_eq!(
            error.kind(),
            interplug::ErrorKind::Trap,
            "{function}: {error:#}"
        );
        assert!(format!("{error:#}").contains(text), "{function}: {error:#}");
        plugin
            .call::<&str, &[u8]>("ok", "")
            .expect("usable after the trap");
    }
}

#[test]
fn initialization_fuel_limit_bounds_the_start_function() {
    // A start function that counts to 10,000: within the default instantiation fuel,
    // over an initialization fuel limit of 1,000 (extism's
    // `with_initialization_fuel_limit`).
    let wat = r#"(module
      (global $n (mut i32) (i32.const 0))
      (func $count
        (loop $again
          (global.set $n (i32.add (global.get $n) (i32.const 1)))
          (br_if $again (i32.lt_u (global.get $n) (i32.const 10000)))))
      (start $count)
      (func (export "n") (result i32) (i32.sub (global.get $n) (i32.const 10000))))"#;
    let mut plugin = PluginBuilder::new(wat)
        .with_fuel_limit(1_000_000)
        .build()
        .expect("the default instantiation fuel is enough");
    plugin
        .call::<&str, &[u8]>("n", "")
        .expect("counted to 10,000");
    let mut plugin = PluginBuilder::new(wat)
        .with_fuel_limit(1_000_000)
        .with_initialization_fuel_limit(1_000)
        .build()
        .expect("created: the start function runs at the first call");
    let error = plugin.call::<&str, &[u8]>("n", "").unwrap_err();
    assert!(format!("{error:#}").contains("fuel"), "{error:#}");
}
