//! Smoke test of the C API wrapper (`interplug_spec_tests::capi`) against a
//! library named by `INTERPLUG_ORACLE_LIB`: normally the official runtime
//! (`export INTERPLUG_ORACLE_LIB="$(scripts/fetch-oracle.sh | tail -n1)"`),
//! but any library with the Extism C API works, `libinterplug.so` included.
//! Without the variable every test prints a notice and passes.

use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::Arc;
use std::time::{Duration, Instant};

use interplug_spec_tests::capi::{CHostFunction, HostBehaviour};
use interplug_spec_tests::cases::oracle;

// The official runtime only takes bytes as WAT when they start with `(module`
// (or a `;;` comment): leading whitespace gives "Unknown manifest format". So
// every WAT text here starts right at `(module`.

/// `hello` writes "hi" into a fresh block and makes it the output.
/// `fail` sets the error "boom" and returns 7; `quiet_fail` returns 3 with no
/// error message; `spin` never returns.
const HELLO_WAT: &str = r#"(module
  (import "extism:host/env" "alloc" (func $alloc (param i64) (result i64)))
  (import "extism:host/env" "store_u8" (func $store_u8 (param i64 i32)))
  (import "extism:host/env" "output_set" (func $output_set (param i64 i64)))
  (import "extism:host/env" "error_set" (func $error_set (param i64)))

  (func $two_bytes (param $a i32) (param $b i32) (result i64)
    (local $p i64)
    (local.set $p (call $alloc (i64.const 2)))
    (call $store_u8 (local.get $p) (local.get $a))
    (call $store_u8 (i64.add (local.get $p) (i64.const 1)) (local.get $b))
    (local.get $p))

  (func (export "hello") (result i32)
    ;; "hi"
    (call $output_set (call $two_bytes (i32.const 104) (i32.const 105)) (i64.const 2))
    (i32.const 0))

  (func (export "fail") (result i32)
    (local $p i64)
    ;; "boom"
    (local.set $p (call $alloc (i64.const 4)))
    (call $store_u8 (local.get $p) (i32.const 98))
    (call $store_u8 (i64.add (local.get $p) (i64.const 1)) (i32.const 111))
    (call $store_u8 (i64.add (local.get $p) (i64.const 2)) (i32.const 111))
    (call $store_u8 (i64.add (local.get $p) (i64.const 3)) (i32.const 109))
    (call $error_set (local.get $p))
    (i32.const 7))

  (func (export "quiet_fail") (result i32)
    (i32.const 3))

  (func (export "spin") (result i32)
    (loop $forever (br $forever))
    (i32.const 0))
)
"#;

/// `shout` copies its input into a block, passes it to the host function
/// `extism:host/user` `upper`, and outputs the returned block. `greet` does the
/// same through `test:host` `greet` (a non-default namespace).
const HOST_WAT: &str = r#"(module
  (import "extism:host/env" "alloc" (func $alloc (param i64) (result i64)))
  (import "extism:host/env" "length" (func $length (param i64) (result i64)))
  (import "extism:host/env" "store_u8" (func $store_u8 (param i64 i32)))
  (import "extism:host/env" "input_length" (func $input_length (result i64)))
  (import "extism:host/env" "input_load_u8" (func $input_load_u8 (param i64) (result i32)))
  (import "extism:host/env" "output_set" (func $output_set (param i64 i64)))
  (import "extism:host/user" "upper" (func $upper (param i64) (result i64)))
  (import "test:host" "greet" (func $greet (param i64) (result i64)))

  ;; Copies the whole input into a new block and returns its handle.
  (func $input_block (result i64)
    (local $n i64) (local $i i64) (local $p i64)
    (local.set $n (call $input_length))
    (local.set $p (call $alloc (local.get $n)))
    (block $done
      (loop $copy
        (br_if $done (i64.ge_u (local.get $i) (local.get $n)))
        (call $store_u8
          (i64.add (local.get $p) (local.get $i))
          (call $input_load_u8 (local.get $i)))
        (local.set $i (i64.add (local.get $i) (i64.const 1)))
        (br $copy)))
    (local.get $p))

  (func $output_block (param $h i64)
    (call $output_set (local.get $h) (call $length (local.get $h))))

  (func (export "shout") (result i32)
    (call $output_block (call $upper (call $input_block)))
    (i32.const 0))

  (func (export "greet") (result i32)
    (call $output_block (call $greet (call $input_block)))
    (i32.const 0))
)
"#;

#[test]
fn version_is_reported() {
    let Some(lib) = oracle() else { return };
    let version = lib.version();
    eprintln!("{}: version {version}", lib.path().display());
    assert!(!version.is_empty());
}

#[test]
fn wat_hello_outputs_hi() {
    let Some(lib) = oracle() else { return };
    let mut plugin = lib
        .plugin_new(HELLO_WAT.as_bytes(), &[], false)
        .expect("WAT plug-in is accepted");
    assert!(plugin.function_exists("hello"));
    assert!(!plugin.function_exists("nope"));
    let out = plugin.call("hello", b"");
    assert_eq!(out.rc, 0, "{out:?}");
    assert_eq!(out.output, b"hi");
    assert_eq!(out.error, None);
    // Twice, to see the plug-in is reusable.
    assert_eq!(plugin.call("hello", b"ignored").output, b"hi");
}

#[test]
fn unknown_function_fails_and_plugin_stays_usable() {
    let Some(lib) = oracle() else { return };
    let mut plugin = lib
        .plugin_new(HELLO_WAT.as_bytes(), &[], false)
        .expect("WAT plug-in is accepted");
    let out = plugin.call("nope", b"");
    assert_ne!(out.rc, 0, "{out:?}");
    let error = out.error.expect("an error for rc != 0");
    assert!(error.contains("Function not found"), "{error:?}");
    let again = plugin.call("hello", b"");
    assert_eq!((again.rc, again.output.as_slice()), (0, &b"hi"[..]));
}

#[test]
fn plugin_error_gives_its_rc_and_message() {
    let Some(lib) = oracle() else { return };
    let mut plugin = lib
        .plugin_new(HELLO_WAT.as_bytes(), &[], false)
        .expect("WAT plug-in is accepted");
    let out = plugin.call("fail", b"");
    assert_eq!(out.rc, 7, "{out:?}");
    assert_eq!(out.error.as_deref(), Some("boom"));

    let quiet = plugin.call("quiet_fail", b"");
    assert_eq!(quiet.rc, 3, "{quiet:?}");
    assert_eq!(quiet.error.as_deref(), Some(""));
}

#[test]
fn host_functions_round_trip() {
    let Some(lib) = oracle() else { return };
    let functions = [
        CHostFunction::new("upper", HostBehaviour::Uppercase),
        CHostFunction::new("greet", HostBehaviour::Prefix(b"hello, ".to_vec()))
            .with_namespace("test:host"),
    ];
    let mut plugin = lib
        .plugin_new(HOST_WAT.as_bytes(), &functions, false)
        .expect("plug-in with host functions");
    let out = plugin.call("shout", b"quiet please");
    assert_eq!(out.rc, 0, "{out:?}");
    assert_eq!(out.output, b"QUIET PLEASE");
    let out = plugin.call("greet", b"world");
    assert_eq!(out.rc, 0, "{out:?}");
    assert_eq!(out.output, b"hello, world");
    let out = plugin.call("shout", b"");
    assert_eq!((out.rc, out.output.len()), (0, 0), "{out:?}");
}

#[test]
fn missing_host_function_fails_creation() {
    let Some(lib) = oracle() else { return };
    // HOST_WAT imports two host functions; only one is given.
    let err = lib
        .plugin_new(
            HOST_WAT.as_bytes(),
            &[CHostFunction::new("upper", HostBehaviour::Uppercase)],
            false,
        )
        .expect_err("an unresolved import fails creation");
    assert!(!err.is_empty());
    let err = lib
        .plugin_new(b"neither wasm nor WAT nor a manifest", &[], false)
        .expect_err("garbage fails creation");
    assert!(!err.is_empty());
}

#[test]
fn config_and_reset() {
    let Some(lib) = oracle() else { return };
    let mut plugin = lib
        .plugin_new(HELLO_WAT.as_bytes(), &[], false)
        .expect("WAT plug-in is accepted");
    assert!(plugin.config(r#"{"greeting": "hi", "gone": null}"#));
    assert!(!plugin.config("{not json"));
    assert!(
        !plugin.config(r#"{"number": 1}"#),
        "config values are strings"
    );
    assert!(plugin.reset());
    assert_eq!(plugin.call("hello", b"").output, b"hi");
}

#[test]
fn cancel_stops_a_running_call() {
    let Some(lib) = oracle() else { return };
    // The fuel limit is only a safety net so that a broken cancel cannot hang
    // the suite; the cancel should win long before the fuel runs out.
    let mut plugin = lib
        .plugin_new_with_fuel_limit(HELLO_WAT.as_bytes(), &[], false, 5_000_000_000)
        .expect("WAT plug-in is accepted");
    let handle = plugin.cancel_handle().expect("a cancel handle");
    let done = Arc::new(AtomicBool::new(false));
    let canceller = {
        let done = Arc::clone(&done);
        std::thread::spawn(move || {
            // A cancel that lands before the call starts is not kept, so keep
            // sending until the call has returned (bounded to 30 s).
            let start = Instant::now();
            while !done.load(Ordering::SeqCst) && start.elapsed() < Duration::from_secs(30) {
                std::thread::sleep(Duration::from_millis(50));
                handle.cancel();
            }
            handle
        })
    };
    let out = plugin.call("spin", b"");
    done.store(true, Ordering::SeqCst);
    let handle = canceller.join().expect("canceller thread");
    assert_ne!(out.rc, 0, "{out:?}");
    let error = out.error.unwrap_or_default();
    assert!(
        !error.contains("fuel"),
        "stopped by the fuel limit, not the cancel: {error:?}"
    );
    // The plug-in stays usable, and the handle is harmless after the plug-in
    // is gone.
    assert_eq!(plugin.call("hello", b"").output, b"hi");
    drop(plugin);
    assert!(!handle.cancel());
}

#[test]
fn compiled_plugin_instantiates_and_borrowed_calls_work() {
    let Some(lib) = oracle() else { return };
    let compiled = lib
        .compiled_plugin_new(HELLO_WAT.as_bytes(), &[], false)
        .expect("WAT compiles");
    for _ in 0..2 {
        let mut plugin = compiled.instantiate().expect("instantiation works");
        assert_eq!(plugin.call_borrowed(c"hello", b""), Ok(&b"hi"[..]));
        let failure = plugin
            .call_borrowed(c"fail", b"")
            .expect_err("fail returns 7");
        assert_eq!((failure.rc, failure.message.as_str()), (7, "boom"));
        assert_eq!(failure.to_string(), "rc 7: boom");
        // The plug-in still answers after the failure.
        assert_eq!(plugin.call_borrowed(c"hello", b""), Ok(&b"hi"[..]));
    }
    drop(compiled);
}
