//! Creating a plug-in runs under the same deadline and cancel as a call: a start
//! function or constructor cannot hang `Plugin::new`, and error kinds stay exact.

use interplug::{ErrorExt, ErrorKind, Manifest, Plugin, Wasm};
use std::net::TcpListener;
use std::sync::mpsc;
use std::time::{Duration, Instant};

/// Runs `f` on a thread and gives its result, or fails the test when it takes longer
/// than `limit` (the thread is left behind: on the code before the fix it hangs).
fn within<T: Send + 'static>(limit: Duration, f: impl FnOnce() -> T + Send + 'static) -> T {
    let (tx, rx) = mpsc::channel();
    std::thread::spawn(move || {
        let _ = tx.send(f());
    });
    rx.recv_timeout(limit)
        .unwrap_or_else(|_| panic!("still running after {limit:?}"))
}

/// Creates a plug-in of `manifest` and calls its `noop`: instantiation (start
/// functions, constructors) happens at the first call.
fn first_call(manifest: &Manifest) -> Result<(), interplug::Error> {
    let mut plugin = Plugin::new(manifest, [], false)?;
    plugin.call::<&str, &[u8]>("noop", "").map(|_| ())
}

/// A module whose `start` (or `_initialize`, when `reactor`) sends an HTTP GET to `url`.
fn http_in_start(url: &str, reactor: bool) -> String {
    let request = format!(r#"{{"url":"{url}","method":"GET"}}"#);
    let len = request.len();
    let escaped: String = request.bytes().map(|b| format!("\\{b:02x}")).collect();
    let entry = if reactor {
        r#"(export "_initialize" (func $init))"#
    } else {
        "(start $init)"
    };
    format!(
        r#"(module
          (import "extism:host/env" "alloc" (func $alloc (param i64) (result i64)))
          (import "extism:host/env" "store_u8" (func $store_u8 (param i64 i32)))
          (import "extism:host/env" "http_request" (func $http (param i64 i64) (result i64)))
          (memory (export "memory") 1)
          (data (i32.const 0) "{escaped}")
          (func $init (local $h i64) (local $i i32)
            (local.set $h (call $alloc (i64.const {len})))
            (block $done (loop $copy
              (br_if $done (i32.ge_u (local.get $i) (i32.const {len})))
              (call $store_u8
                (i64.add (local.get $h) (i64.extend_i32_u (local.get $i)))
                (i32.load8_u (local.get $i)))
              (local.set $i (i32.add (local.get $i) (i32.const 1)))
              (br $copy)))
            (drop (call $http (local.get $h) (i64.const 0))))
          {entry}
          (func (export "noop") (result i32) i32.const 0))"#
    )
}

/// A server that accepts connections and never answers.
fn silent_server() -> (TcpListener, String) {
    let listener = TcpListener::bind("127.0.0.1:0").expect("bind");
    let url = format!("http://{}/", listener.local_addr().expect("address"));
    (listener, url)
}

#[test]
fn start_function_waiting_on_a_silent_server_stops_at_the_timeout() {
    for reactor in [false, true] {
        let (listener, url) = silent_server();
        let manifest = Manifest::new([Wasm::data(http_in_start(&url, reactor))])
            .with_allowed_host("127.0.0.1")
            .with_timeout(Duration::from_millis(300));
        let started = Instant::now();
        let result = within(Duration::from_secs(10), move || first_call(&manifest));
        let error = result.expect_err("the server never answers");
        assert!(
            started.elapsed() < Duration::from_secs(3),
            "creation and first call took {:?}",
            started.elapsed()
        );
        assert_eq!(error.kind(), ErrorKind::Timeout, "{error:#}");
        drop(listener);
    }
}

#[test]
fn endless_initialize_stops_at_the_timeout() {
    let wat = r#"(module
        (func (export "_initialize") (loop br 0))
        (func (export "noop") (result i32) i32.const 0))"#;
    let manifest = Manifest::new([Wasm::data(wat)]).with_timeout(Duration::from_millis(100));
    let started = Instant::now();
    let error =
        within(Duration::from_secs(20), move || first_call(&manifest)).expect_err("never ends");
    assert_eq!(error.kind(), ErrorKind::Timeout, "{error:#}");
    assert!(
        started.elapsed() < Duration::from_secs(2),
        "{:?}",
        started.elapsed()
    );
}

#[test]
fn endless_start_function_is_bounded_by_the_timeout() {
    let wat = r#"(module
        (func $spin (loop br 0))
        (start $spin)
        (func (export "noop") (result i32) i32.const 0))"#;
    let manifest = Manifest::new([Wasm::data(wat)]).with_timeout(Duration::from_millis(50));
    let error =
        within(Duration::from_secs(20), move || first_call(&manifest)).expect_err("never ends");
    assert_eq!(error.kind(), ErrorKind::OutOfFuel, "{error:#}");
}

#[test]
fn a_refused_allocation_does_not_explain_a_later_trap() {
    // An Extism allocation past the budget is refused (alloc gives 0); the plug-in goes
    // on, allocates within budget, and then traps for another reason: a trap, not an oom.
    let wat = r#"(module
        (import "extism:host/env" "alloc" (func $alloc (param i64) (result i64)))
        (memory (export "memory") 1)
        (func (export "grow_then_trap") (result i32)
            (drop (call $alloc (i64.const 100000000)))
            (drop (call $alloc (i64.const 16)))
            unreachable)
        (func (export "grow_then_fail") (result i32)
            (drop (call $alloc (i64.const 100000000)))
            unreachable))"#;
    let mut manifest = Manifest::new([Wasm::data(wat)]);
    manifest.memory.max_pages = Some(4);
    let mut plugin = Plugin::new(&manifest, [], false).expect("plug-in");
    let error = plugin
        .call::<&str, &[u8]>("grow_then_trap", "")
        .expect_err("traps");
    assert_eq!(error.kind(), ErrorKind::Trap, "{error:#}");
    // When nothing was allocated after the refusal, the refusal explains the trap.
    let error = plugin
        .call::<&str, &[u8]>("grow_then_fail", "")
        .expect_err("traps");
    assert_eq!(error.kind(), ErrorKind::OutOfMemory, "{error:#}");
}

#[test]
fn call_errors_have_kinds() {
    let wat = r#"(module
        (import "extism:host/env" "error_set" (func $error_set (param i64)))
        (import "extism:host/env" "alloc" (func $alloc (param i64) (result i64)))
        (memory (export "memory") 1)
        (func (export "code") (result i32) i32.const 7)
        (func (export "trap") (result i32) unreachable)
        (func (export "spin") (result i32) (loop br 0) i32.const 0)
        (func (export "with_error") (result i32)
            (call $error_set (call $alloc (i64.const 1)))
            i32.const 0))"#;
    let mut plugin = interplug::PluginBuilder::new(wat)
        .with_fuel_limit(100_000)
        .build()
        .expect("plug-in");
    let kind = |plugin: &mut Plugin, name: &str| {
        plugin
            .call::<&str, &[u8]>(name, "")
            .expect_err("fails")
            .kind()
    };
    assert_eq!(kind(&mut plugin, "code"), ErrorKind::Plugin { code: 7 });
    assert_eq!(kind(&mut plugin, "trap"), ErrorKind::Trap);
    assert_eq!(kind(&mut plugin, "spin"), ErrorKind::OutOfFuel);
    assert_eq!(kind(&mut plugin, "absent"), ErrorKind::NotFound);
    assert_eq!(
        kind(&mut plugin, "with_error"),
        ErrorKind::Plugin { code: -1 }
    );
    // The plug-in answers normally afterwards.
    assert_eq!(
        plugin
            .call_get_error_code::<&str, &[u8]>("code", "")
            .map_err(|(_, rc)| rc),
        Err(7)
    );
}
