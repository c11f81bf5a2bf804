//! What the official host SDKs' suites need of the C API (scripts/sdk-suites.sh,
//! docs/sdk-suites.md), on libinterplug and, when `INTERPLUG_ORACLE_LIB` is set, on
//! libextism 1.41 with the same assertions: host functions shadow by namespace and
//! name (the Python SDK passes every `@host_fn` it has seen), the only module of a
//! manifest is `main` whatever its name (the PHP SDK names it after its file), a
//! missing import is reported in wasmtime's words (the PHP SDK's suite matches them).

mod common;

use std::sync::Arc;

use interplug_spec_tests::capi::{CApiLibrary, CHostFunction, HostBehaviour};
use interplug_spec_tests::fixtures;

/// libinterplug, and libextism when set.
fn libraries() -> Vec<(Arc<CApiLibrary>, &'static str)> {
    let mut libraries = vec![(common::ours(), "libinterplug")];
    if let Some(oracle) = common::oracle() {
        libraries.push((oracle, "libextism"));
    }
    libraries
}

fn prefix(name: &str, text: &str) -> CHostFunction {
    CHostFunction::new(name, HostBehaviour::Prefix(text.as_bytes().to_vec()))
}

#[test]
fn the_last_host_function_of_a_namespace_and_name_wins() {
    let host_fns = fixtures::bytes("host_fns");
    for (lib, name) in libraries() {
        let functions = [
            prefix("hello_world", "first:"),
            prefix("panic_now", "p:"),
            prefix("hello_world", "second:"),
            prefix("shout", "s:").with_namespace("example:other"),
        ];
        let mut plugin = lib
            .plugin_new(&host_fns, &functions, false)
            .unwrap_or_else(|e| panic!("{name}: {e}"));
        let outcome = plugin.call("call_host", b"x");
        assert_eq!(outcome.output, b"second:x", "{name}: {outcome:?}");

        // A plug-in that imports none of them is made too.
        let functions = [prefix("hello_world", "a"), prefix("hello_world", "b")];
        let mut echo = lib
            .plugin_new(&fixtures::bytes("echo"), &functions, false)
            .unwrap_or_else(|e| panic!("{name}: {e}"));
        assert_eq!(echo.call("echo", b"y").output, b"y", "{name}");
    }
}

#[test]
fn a_missing_import_is_reported_in_wasmtime_words() {
    let wat = r#"(module
      (import "extism:host/user" "kv_read" (func (param i64) (result i64)))
      (import "extism:host/user" "kv_write" (func (param i64 i64)))
      (func (export "f") (result i32) i32.const 0))"#;
    for (lib, name) in libraries() {
        let functions = [
            prefix("kv_read", "").with_namespace("custom"),
            prefix("kv_write", "").with_namespace("custom"),
        ];
        let error = lib
            .plugin_new(wat.as_bytes(), &functions, false)
            .err()
            .unwrap_or_else(|| panic!("{name}: created"));
        // The PHP SDK's testHostFunctionNamespace expects exactly this text.
        let expected = "Unable to compile Extism plugin: unknown import: \
                        `extism:host/user::kv_read` has not been defined";
        assert!(error.starts_with(expected), "{name}: {error}");
    }
}

#[test]
fn the_only_module_of_a_manifest_is_main_whatever_its_name() {
    let path = fixtures::path("echo");
    let manifest = serde_json::json!({
        "wasm": [{"path": path.to_string_lossy(), "name": "echo.wasm"}]
    })
    .to_string();
    for (lib, name) in libraries() {
        let mut plugin = lib
            .plugin_new(manifest.as_bytes(), &[], false)
            .unwrap_or_else(|e| panic!("{name}: {e}"));
        assert_eq!(plugin.call("echo", b"z").output, b"z", "{name}");
    }
}
