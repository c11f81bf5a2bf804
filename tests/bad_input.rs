//! Bad input gives a clear error, never a panic, and the plug-in stays usable.

mod support;
use interplug::{Manifest, Plugin, Wasm};
use support::{error_of, fixture, fixture_bytes};

#[test]
fn bytes_that_are_not_wasm_or_a_manifest() {
    let message = error_of(Plugin::new(b"hello there".as_slice(), [], false));
    assert!(message.contains("unknown manifest format"), "{message}");
    let message = error_of(Plugin::new(b"".as_slice(), [], false));
    assert!(message.contains("unknown manifest format"), "{message}");
}

#[test]
fn corrupt_wasm_binary() {
    let message = error_of(Plugin::new(
        b"\0asm\x01\0\0\0\x01\xff\xff".as_slice(),
        [],
        false,
    ));
    assert!(message.contains("invalid wasm module `main`"), "{message}");
}

#[test]
fn manifest_with_unknown_field_names_it() {
    let message = error_of(Plugin::new(
        br#"{"wasm": [], "timeout": 5}"#.as_slice(),
        [],
        false,
    ));
    assert!(message.contains("unknown field `timeout`"), "{message}");
}

#[test]
fn manifest_without_modules() {
    let message = error_of(Plugin::new(br#"{"wasm": []}"#.as_slice(), [], false));
    assert!(message.contains("lists no wasm modules"), "{message}");
}

#[test]
fn missing_file() {
    let manifest = Manifest::new([Wasm::file("/nonexistent/plugin.wasm")]);
    let message = error_of(Plugin::new(&manifest, [], false));
    assert!(
        message.contains("cannot read wasm file `/nonexistent/plugin.wasm`"),
        "{message}"
    );
}

#[test]
fn hash_mismatch_gives_both_hashes() {
    let wrong = "0".repeat(64);
    let manifest = Manifest::new([Wasm::file(fixture("echo")).with_hash(&wrong)]);
    let message = error_of(Plugin::new(&manifest, [], false));
    let actual = interplug::sources::sha256_hex(&fixture_bytes("echo"));
    assert!(
        message.contains(&wrong) && message.contains(&actual),
        "{message}"
    );
    let manifest = Manifest::new([Wasm::file(fixture("echo")).with_hash(&actual)]);
    let mut plugin = Plugin::new(&manifest, [], false).expect("right hash loads");
    assert_eq!(plugin.call::<&str, &str>("echo", "x").expect("call"), "x");
}

#[test]
fn duplicate_module_names() {
    let echo = fixture("echo").to_string_lossy().into_owned();
    let manifest = Manifest::new([
        Wasm::file(&echo).with_name("a"),
        Wasm::file(&echo).with_name("a"),
        Wasm::file(&echo),
    ]);
    assert!(error_of(Plugin::new(&manifest, [], false)).contains("two wasm modules are named `a`"));
    // Two unnamed modules are both `main` (the official runtime refuses them too); the
    // choice of `main` is tested in tests/sdk_compat.rs.
    let manifest = Manifest::new([Wasm::file(&echo), Wasm::file(&echo)]);
    assert!(
        error_of(Plugin::new(&manifest, [], false)).contains("two wasm modules are named `main`")
    );
}

#[test]
fn unknown_kernel_import_is_named() {
    let wat = r#"(module (import "extism:host/env" "teleport" (func (param i64))) (func (export "f") (result i32) i32.const 0))"#;
    let message = error_of(Plugin::new(wat, [], false));
    assert!(
        message.contains("`extism:host/env`.`teleport`"),
        "{message}"
    );
}

#[test]
fn missing_host_function_is_named() {
    let message = error_of(Plugin::new(fixture_bytes("host_fns"), [], false));
    assert!(
        message.contains("`extism:host/user`.`hello_world`"),
        "{message}"
    );
    assert!(message.contains("`example:other`.`shout`"), "{message}");
}

#[test]
fn wasi_import_without_wasi_says_so() {
    let message = error_of(Plugin::new(fixture_bytes("reactor"), [], false));
    assert!(message.contains("needs WASI"), "{message}");
}

#[test]
fn unknown_function_then_usable() {
    let mut plugin = Plugin::new(fixture_bytes("echo"), [], false).expect("loads");
    let message = error_of(plugin.call::<&str, &[u8]>("nope", ""));
    assert_eq!(message, "Function not found: nope");
    assert!(!plugin.function_exists("nope"));
    assert!(plugin.function_exists("echo"));
    assert!(!plugin.function_exists("memory"));
    assert_eq!(
        plugin
            .call::<&str, &str>("echo", "still here")
            .expect("call"),
        "still here"
    );
}

#[test]
fn output_that_is_not_utf8_where_a_string_is_expected() {
    let mut plugin = Plugin::new(fixture_bytes("echo"), [], false).expect("loads");
    let message = error_of(plugin.call::<&[u8], &str>("echo", &[0xff, 0xfe]));
    assert!(message.contains("does not decode as `&str`"), "{message}");
    assert_eq!(
        plugin.call::<&str, String>("echo", "ok").expect("call"),
        "ok"
    );
}

/// A WAT plug-in whose exports misuse the kernel in one way each.
const MISUSE: &str = r#"
(module
  (import "extism:host/env" "alloc" (func $alloc (param i64) (result i64)))
  (import "extism:host/env" "store_u64" (func $store_u64 (param i64 i64)))
  (import "extism:host/env" "load_u64" (func $load_u64 (param i64) (result i64)))
  (import "extism:host/env" "config_get" (func $config_get (param i64) (result i64)))
  (import "extism:host/env" "input_load_u64" (func $input_load_u64 (param i64) (result i64)))
  (import "extism:host/env" "output_set" (func $output_set (param i64 i64)))
  (import "extism:host/env" "error_set" (func $error_set (param i64)))
  (import "extism:host/env" "length" (func $length (param i64) (result i64)))
  (func (export "store_oob") (result i32)
    (call $store_u64 (i64.const 0x10000000000) (i64.const 1)) (i32.const 0))
  (func (export "load_oob") (result i32)
    (drop (call $load_u64 (i64.const -8))) (i32.const 0))
  (func (export "store_past_block") (result i32)
    (local $h i64)
    (local.set $h (call $alloc (i64.const 4)))
    (call $store_u64 (i64.add (local.get $h) (i64.const 1)) (i64.const 7)) (i32.const 0))
  (func (export "config_bad_handle") (result i32)
    (drop (call $config_get (i64.const 12345))) (i32.const 0))
  (func (export "error_bad_handle") (result i32)
    (call $error_set (i64.const 999)) (i32.const 1))
  (func (export "input_past_end") (result i32)
    (drop (call $input_load_u64 (i64.const 0))) (i32.const 0))
  (func (export "output_oob") (result i32)
    (call $output_set (i64.const 8) (i64.const 0x100000)) (i32.const 0))
  (func (export "length_of_garbage") (result i32)
    (if (i64.ne (call $length (i64.const 77777)) (i64.const 0)) (then unreachable))
    (i32.const 0))
  (func (export "ok") (result i32)
    (local $h i64)
    (local.set $h (call $alloc (i64.const 8)))
    (call $store_u64 (local.get $h) (i64.const 0x6b6f))
    (call $output_set (local.get $h) (i64.const 2))
    (i32.const 0))
  (func (export "not_a_plugin_fn") (param i32) (result i32) (local.get 0))
)
"#;

#[test]
fn kernel_misuse_fails_clearly_and_the_plugin_recovers() {
    let mut plugin = Plugin::new(MISUSE, [], false).expect("loads");
    for (function, needle) in [
        ("store_oob", "out-of-bounds access to the Extism memory"),
        ("load_oob", "out-of-bounds access to the Extism memory"),
        (
            "store_past_block",
            "out-of-bounds access to the Extism memory",
        ),
        ("config_bad_handle", "not the start of a live block"),
        ("error_bad_handle", "not the start of a live block"),
        ("input_past_end", "out-of-bounds read of the input"),
        ("output_oob", "out-of-bounds access to the Extism memory"),
        ("not_a_plugin_fn", "is not a plug-in function"),
    ] {
        let message = error_of(plugin.call::<&str, &[u8]>(function, "abc"));
        assert!(message.contains(needle), "{function}: {message}");
        assert_eq!(
            plugin.call::<&str, &str>("ok", "").expect("recovers"),
            "ok",
            "after {function}"
        );
    }
    assert_eq!(
        plugin
            .call::<&str, &[u8]>("length_of_garbage", "")
            .expect("length is 0"),
        b""
    );
}
