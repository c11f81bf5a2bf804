//! Instantiation in the official runtime's order: creation (`Plugin::new`,
//! `PluginBuilder::build`, `Plugin::new_from_compiled`, a pool checkout) does not
//! instantiate; the first call does, and what instantiation raises is that call's
//! error, of the same kind, at every call until an instantiation succeeds.
//!
//! Each case also runs on the official library through its C API when
//! `INTERPLUG_ORACLE_LIB` names it (`scripts/fetch-oracle.sh`), and checks that it
//! creates the plug-in and fails (or answers) the same calls. What libextism 1.41
//! answered when these tests were written is noted in each test.

use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::Arc;
use std::time::Duration;

use interplug::{
    CompiledPlugin, ErrorExt, ErrorKind, Function, Manifest, Plugin, PluginBuilder, PoolBuilder,
    UserData, Wasm, PTR,
};
use interplug_spec_tests::cases::oracle;

/// 17 pages of linear memory (the size of the Rust PDK's plug-ins) and two plug-in
/// functions.
const SEVENTEEN_PAGES: &str = r#"(module
    (memory (export "memory") 17)
    (func (export "zero") (result i32) i32.const 0)
    (func (export "seven") (result i32) i32.const 7))"#;

/// A start function that traps, in a reactor (no `_start`).
const TRAPPING_START: &str = r#"(module
    (func $boom (export "boom") unreachable)
    (start $boom)
    (func (export "zero") (result i32) i32.const 0))"#;

/// The same in a command (exports `_start`).
const TRAPPING_START_COMMAND: &str = r#"(module
    (func $boom (export "boom") unreachable)
    (start $boom)
    (func (export "_start"))
    (func (export "zero") (result i32) i32.const 0))"#;

fn wasm(wat: &str) -> Vec<u8> {
    wat::parse_str(wat).expect("valid WAT")
}

/// A manifest JSON of one module's bytes with `max_pages`.
fn manifest_json(bytes: &[u8], max_pages: Option<u32>) -> String {
    let mut manifest = Manifest::new([Wasm::data(bytes.to_vec())]);
    manifest.memory.max_pages = max_pages;
    serde_json::to_string(&manifest).expect("manifest")
}

/// The official runtime: creates the plug-in and returns the return codes and
/// messages of calling `names` in order (`None` without the oracle).
fn official_calls(manifest: &str, names: &[&str]) -> Option<Vec<(i32, String)>> {
    let lib = oracle()?;
    let mut plugin = lib
        .plugin_new(manifest.as_bytes(), &[], false)
        .expect("libextism creates the plug-in: it instantiates at the first call");
    Some(
        names
            .iter()
            .map(|name| {
                let outcome = plugin.call(name, b"");
                (outcome.rc, outcome.error.unwrap_or_default())
            })
            .collect(),
    )
}

#[test]
fn a_memory_budget_below_the_initial_memory_fails_every_call_with_oom() {
    let bytes = wasm(SEVENTEEN_PAGES);
    let mut manifest = Manifest::new([Wasm::data(bytes.clone())]);
    manifest.memory.max_pages = Some(4);
    let mut plugin = Plugin::new(&manifest, [], false).expect("created: nothing instantiated");
    // Introspection answers from the compiled module.
    assert!(plugin.function_exists("zero"));
    assert!(!plugin.function_exists("absent"));
    for name in ["zero", "zero", "absent"] {
        let error = plugin.call::<&str, &[u8]>(name, "").expect_err("oom");
        assert_eq!(error.kind(), ErrorKind::OutOfMemory, "{name}: {error:#}");
    }
    // The same through the builder and a compiled plug-in.
    let mut built = PluginBuilder::new(&manifest).build().expect("created");
    let error = built.call::<&str, &[u8]>("zero", "").expect_err("oom");
    assert_eq!(error.kind(), ErrorKind::OutOfMemory, "{error:#}");
    let compiled = CompiledPlugin::new(PluginBuilder::new(&manifest)).expect("compiled");
    let mut from_compiled = Plugin::new_from_compiled(&compiled).expect("created");
    let error = from_compiled
        .call::<&str, &[u8]>("zero", "")
        .expect_err("oom");
    assert_eq!(error.kind(), ErrorKind::OutOfMemory, "{error:#}");
    // libextism 1.41: created; `zero` fails twice with "oom", and `absent` too (its
    // instantiation fails before the function is looked up).
    if let Some(calls) =
        official_calls(&manifest_json(&bytes, Some(4)), &["zero", "zero", "absent"])
    {
        for (rc, message) in calls {
            assert_ne!(rc, 0, "libextism fails the call");
            assert!(message.contains("oom"), "libextism: {message}");
        }
    }
}

#[test]
fn a_start_function_that_traps_fails_every_call_with_a_trap() {
    for wat in [TRAPPING_START, TRAPPING_START_COMMAND] {
        let bytes = wasm(wat);
        let mut plugin = Plugin::new(&bytes, [], false).expect("created: the start function waits");
        assert!(plugin.function_exists("zero"));
        for name in ["zero", "zero", "absent"] {
            let error = plugin.call::<&str, &[u8]>(name, "").expect_err("trap");
            assert_eq!(error.kind(), ErrorKind::Trap, "{name}: {error:#}");
            assert!(
                format!("{error:#}").contains("unreachable"),
                "{name}: {error:#}"
            );
        }
    }
    let Some(lib) = oracle() else { return };
    // libextism 1.41, a command (exports `_start`): created; every call fails with
    // the trap in the start function (its message is wasmtime's backtrace, "error
    // while executing at wasm backtrace: 0: 0x32 - <unknown>!boom"), also the call
    // of a function that does not exist.
    let command = manifest_json(&wasm(TRAPPING_START_COMMAND), None);
    let calls = official_calls(&command, &["zero", "zero", "absent"]).expect("oracle");
    for (rc, message) in calls {
        assert_ne!(rc, 0, "libextism fails the call");
        assert!(message.contains("boom"), "libextism: {message}");
        assert!(
            !message.contains("Function not found"),
            "libextism: {message}"
        );
    }
    // A deliberate difference (docs/differences.md): libextism's linker instantiates
    // a reactor (no `_start`) once at creation, outside the memory budget, and again
    // at the first call, so its start function runs twice and a trap there fails the
    // creation ("Unable to compile Extism plugin: wasm trap: wasm `unreachable`
    // instruction executed"). interplug runs it once, at the first call.
    let reactor = manifest_json(&wasm(TRAPPING_START), None);
    let error = lib
        .plugin_new(reactor.as_bytes(), &[], false)
        .expect_err("libextism runs a reactor's start function at creation");
    assert!(error.contains("unreachable"), "libextism: {error}");
}

#[test]
fn a_missing_export_is_named_once_instantiation_succeeds() {
    let bytes = wasm(SEVENTEEN_PAGES);
    let mut plugin = Plugin::new(&bytes, [], false).expect("created");
    let error = plugin
        .call::<&str, &[u8]>("absent", "")
        .expect_err("missing");
    assert_eq!(error.kind(), ErrorKind::NotFound, "{error:#}");
    assert!(format!("{error:#}").contains("Function not found: absent"));
    let (error, rc) = plugin
        .call_get_error_code::<&str, &[u8]>("seven", "")
        .expect_err("code 7");
    assert_eq!((error.kind(), rc), (ErrorKind::Plugin { code: 7 }, 7));
    assert!(plugin.call::<&str, &[u8]>("zero", "").is_ok());
    // libextism 1.41: "Function not found: absent", then rc 7, then success.
    if let Some(calls) = official_calls(&manifest_json(&bytes, None), &["absent", "seven", "zero"])
    {
        assert!(
            calls[0].1.contains("Function not found: absent"),
            "{calls:?}"
        );
        assert_eq!(calls[1].0, 7, "{calls:?}");
        assert_eq!(calls[2].0, 0, "{calls:?}");
    }
}

#[test]
fn start_functions_and_constructors_run_at_the_first_call_with_the_state_set_before() {
    // The start function calls a host function; `_initialize` reads the config key
    // `greeting` into a global that `greeting_length` returns as its code.
    let wat = r#"(module
        (import "extism:host/user" "touch" (func $touch (param i64) (result i64)))
        (import "extism:host/env" "config_get" (func $config_get (param i64) (result i64)))
        (import "extism:host/env" "alloc" (func $alloc (param i64) (result i64)))
        (import "extism:host/env" "length" (func $length (param i64) (result i64)))
        (import "extism:host/env" "store_u8" (func $store_u8 (param i64 i32)))
        (memory (export "memory") 1)
        (global $len (mut i32) (i32.const -1))
        (func $start (drop (call $touch (i64.const 0))))
        (start $start)
        (func (export "_initialize")
            (local $key i64) (local $value i64)
            (local.set $key (call $alloc (i64.const 8)))
            (call $store_u8 (local.get $key) (i32.const 103))
            (call $store_u8 (i64.add (local.get $key) (i64.const 1)) (i32.const 114))
            (call $store_u8 (i64.add (local.get $key) (i64.const 2)) (i32.const 101))
            (call $store_u8 (i64.add (local.get $key) (i64.const 3)) (i32.const 101))
            (call $store_u8 (i64.add (local.get $key) (i64.const 4)) (i32.const 116))
            (call $store_u8 (i64.add (local.get $key) (i64.const 5)) (i32.const 105))
            (call $store_u8 (i64.add (local.get $key) (i64.const 6)) (i32.const 110))
            (call $store_u8 (i64.add (local.get $key) (i64.const 7)) (i32.const 103))
            (local.set $value (call $config_get (local.get $key)))
            (if (i64.ne (local.get $value) (i64.const 0))
                (then (global.set $len (i32.wrap_i64 (call $length (local.get $value)))))
                (else (global.set $len (i32.const 0)))))
        (func (export "greeting_length") (result i32) (global.get $len)))"#;
    let touched = Arc::new(AtomicUsize::new(0));
    let counter = Arc::clone(&touched);
    let touch = Function::new(
        "touch",
        [PTR],
        [PTR],
        UserData::new(counter),
        |_, _, outputs, counter| {
            counter
                .get()?
                .lock()
                .unwrap()
                .fetch_add(1, Ordering::SeqCst);
            outputs[0] = interplug::Val::I64(0);
            Ok(())
        },
    );
    let mut plugin = Plugin::new(wat, [touch], false).expect("created");
    assert_eq!(touched.load(Ordering::SeqCst), 0, "no code ran at creation");
    plugin.set_config([("greeting", Some("hello"))]);
    let (error, rc) = plugin
        .call_get_error_code::<&str, &[u8]>("greeting_length", "")
        .expect_err("the length is the code");
    assert_eq!(
        rc, 5,
        "{error:#}: `_initialize` saw the config set after creation"
    );
    assert_eq!(
        touched.load(Ordering::SeqCst),
        1,
        "the start function ran once"
    );
    let (_, rc) = plugin
        .call_get_error_code::<&str, &[u8]>("greeting_length", "")
        .expect_err("the length is the code");
    assert_eq!(rc, 5);
    assert_eq!(touched.load(Ordering::SeqCst), 1, "instantiated once");
}

#[test]
fn vars_headers_and_the_cancel_handle_set_before_the_first_call_carry_into_the_instance() {
    let wat = r#"(module
        (import "extism:host/env" "var_get" (func $var_get (param i64) (result i64)))
        (import "extism:host/env" "input_length" (func $input_length (result i64)))
        (import "extism:host/env" "alloc" (func $alloc (param i64) (result i64)))
        (import "extism:host/env" "store_u8" (func $store_u8 (param i64 i32)))
        (import "extism:host/env" "length" (func $length (param i64) (result i64)))
        (memory (export "memory") 1)
        (func (export "var_length") (result i32)
            (local $key i64) (local $value i64)
            (local.set $key (call $alloc (i64.const 1)))
            (call $store_u8 (local.get $key) (i32.const 107))
            (local.set $value (call $var_get (local.get $key)))
            (if (result i32) (i64.eqz (local.get $value))
                (then (i32.const -1))
                (else (i32.wrap_i64 (call $length (local.get $value))))))
        (func (export "spin") (result i32) (loop br 0) i32.const 0))"#;
    let mut plugin = Plugin::new(wat, [], false).expect("created");
    plugin
        .current_plugin()
        .vars_mut()
        .insert("k".to_string(), b"abc".to_vec());
    plugin.allow_http_response_headers(true);
    let cancel = plugin.cancel_handle();
    let (_, rc) = plugin
        .call_get_error_code::<&str, &[u8]>("var_length", "")
        .expect_err("the length is the code");
    assert_eq!(
        rc, 3,
        "the var set before the first call is in the instance"
    );
    let canceller = std::thread::spawn(move || {
        std::thread::sleep(Duration::from_millis(50));
        cancel.cancel()
    });
    let error = plugin
        .call::<&str, &[u8]>("spin", "")
        .expect_err("cancelled");
    assert_eq!(error.kind(), ErrorKind::Cancelled, "{error:#}");
    canceller.join().expect("canceller").expect("cancel sent");
}

#[test]
fn a_failed_instantiation_keeps_the_state_and_tries_again() {
    // The start function traps while the global `armed` (set by the host function)
    // says so: a host can fix the cause between calls.
    let armed = Arc::new(AtomicUsize::new(1));
    let flag = Arc::clone(&armed);
    let check = Function::new(
        "armed",
        [PTR],
        [PTR],
        UserData::new(flag),
        |_, _, outputs, flag| {
            let armed = flag.get()?.lock().unwrap().load(Ordering::SeqCst);
            outputs[0] = interplug::Val::I64(armed as i64);
            Ok(())
        },
    );
    let wat = r#"(module
        (import "extism:host/user" "armed" (func $armed (param i64) (result i64)))
        (func $start (if (i64.ne (call $armed (i64.const 0)) (i64.const 0)) (then unreachable)))
        (start $start)
        (memory (export "memory") 1)
        (func (export "zero") (result i32) i32.const 0))"#;
    let mut plugin = Plugin::new(wat, [check], false).expect("created");
    plugin
        .current_plugin()
        .vars_mut()
        .insert("kept".to_string(), b"yes".to_vec());
    let error = plugin.instantiate().expect_err("traps");
    assert_eq!(error.kind(), ErrorKind::Trap, "{error:#}");
    let error = plugin.call::<&str, &[u8]>("zero", "").expect_err("traps");
    assert_eq!(error.kind(), ErrorKind::Trap, "{error:#}");
    armed.store(0, Ordering::SeqCst);
    plugin
        .call::<&str, &[u8]>("zero", "")
        .expect("instantiated now");
    assert_eq!(
        plugin
            .current_plugin()
            .vars()
            .get("kept")
            .map(Vec::as_slice),
        Some(b"yes".as_slice()),
        "the vars survive the failed instantiations"
    );
    plugin.instantiate().expect("nothing to do");
}

#[test]
fn pool_checkouts_do_not_instantiate() {
    let bytes = wasm(TRAPPING_START);
    let compiled = CompiledPlugin::new(PluginBuilder::new(&bytes)).expect("compiled");
    let pool = PoolBuilder::new()
        .with_max_instances(1)
        .build(move || Plugin::new_from_compiled(&compiled));
    assert!(pool
        .function_exists("zero", Duration::from_secs(5))
        .expect("checkout"));
    let mut plugin = pool
        .get(Duration::from_secs(5))
        .expect("checkout")
        .expect("an instance");
    let error = plugin.call::<&str, Vec<u8>>("zero", "").expect_err("trap");
    assert_eq!(error.kind(), ErrorKind::Trap, "{error:#}");
}

#[test]
fn instantiation_runs_under_the_first_calls_limits() {
    let wat = r#"(module
        (func $spin (loop br 0))
        (start $spin)
        (func (export "noop") (result i32) i32.const 0))"#;
    let manifest = Manifest::new([Wasm::data(wat)]).with_timeout(Duration::from_millis(50));
    let mut plugin = Plugin::new(&manifest, [], false).expect("created");
    let (sender, receiver) = std::sync::mpsc::channel();
    std::thread::spawn(move || sender.send(plugin.call::<&str, Vec<u8>>("noop", "")));
    let error = receiver
        .recv_timeout(Duration::from_secs(20))
        .expect("the call ends")
        .expect_err("never ends");
    // A start section cannot be interrupted between slices: a timeout's worth of fuel
    // stops it.
    assert_eq!(error.kind(), ErrorKind::OutOfFuel, "{error:#}");
}
