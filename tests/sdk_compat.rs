//! What the official host SDKs' own test suites need of the runtime, as the official
//! runtime does it (scripts/sdk-suites.sh, docs/sdk-suites.md): host functions shadow
//! by namespace and name, the choice of the `main` module, the words of a missing
//! import. The log lines are in tests/runtime_log.rs (the logger is per process).

mod support;
use interplug::{
    CurrentPlugin, ErrorExt, ErrorKind, Function, Manifest, Plugin, UserData, Val, Wasm,
};
use support::error_of;

/// A plug-in whose `f` returns what `extism:host/user` `hello(0)` returns, as its
/// return code.
const IMPORTS_HELLO: &str = r#"(module
  (import "extism:host/user" "hello" (func $h (param i64) (result i64)))
  (func (export "f") (result i32) i64.const 0 call $h i32.wrap_i64))"#;

/// A host function `(i64) -> i64` returning `value`.
fn returning(name: &str, value: i64) -> Function {
    Function::new(
        name,
        [interplug::ValType::I64],
        [interplug::ValType::I64],
        UserData::new(()),
        move |_: &mut CurrentPlugin, _: &[Val], outputs: &mut [Val], _: UserData<()>| {
            outputs[0] = Val::I64(value);
            Ok(())
        },
    )
}

/// The return code of `f`: 0 for success, else the plug-in's code.
fn code_of(plugin: &mut Plugin) -> i32 {
    match plugin.call_get_error_code::<&str, &[u8]>("f", "") {
        Ok(_) => 0,
        Err((_, code)) => code,
    }
}

#[test]
fn the_last_host_function_of_a_namespace_and_name_wins() {
    // The Python SDK passes every `@host_fn` it has seen: two `hello_world`s are usual.
    let functions = [returning("hello", 1), returning("hello", 2)];
    let mut plugin = Plugin::new(IMPORTS_HELLO, functions, false).expect("created");
    assert_eq!(code_of(&mut plugin), 2);

    // The default namespace named explicitly is the same namespace.
    let explicit = returning("hello", 3).with_namespace("extism:host/user");
    let functions = [explicit, returning("hello", 4), returning("other", 5)];
    let mut plugin = Plugin::new(IMPORTS_HELLO, functions, false).expect("created");
    assert_eq!(code_of(&mut plugin), 4);

    // Another namespace does not shadow.
    let functions = [
        returning("hello", 6),
        returning("hello", 7).with_namespace("elsewhere"),
    ];
    let mut plugin = Plugin::new(IMPORTS_HELLO, functions, false).expect("created");
    assert_eq!(code_of(&mut plugin), 6);
}

#[test]
fn duplicate_host_functions_do_not_stop_a_plugin_that_does_not_import_them() {
    let wat = r#"(module (func (export "f") (result i32) i32.const 0))"#;
    let functions = [returning("hello", 1), returning("hello", 2)];
    let mut plugin = Plugin::new(wat, functions.clone(), false).expect("created");
    assert_eq!(code_of(&mut plugin), 0);
    // Also when compiled once and instantiated twice.
    let compiled = interplug::PluginBuilder::new(wat)
        .with_functions(functions)
        .compile()
        .expect("compiled");
    assert_eq!(
        code_of(&mut Plugin::new_from_compiled(&compiled).expect("a")),
        0
    );
    assert_eq!(
        code_of(&mut Plugin::new_from_compiled(&compiled).expect("b")),
        0
    );
}

#[test]
fn a_host_function_in_the_wasi_namespace_provides_the_import() {
    let wat = r#"(module
      (import "wasi_snapshot_preview1" "sched_yield" (func $y (result i32)))
      (func (export "f") (result i32) call $y))"#;
    let yield_ = || {
        Function::new(
            "sched_yield",
            [],
            [interplug::ValType::I32],
            UserData::new(()),
            |_: &mut CurrentPlugin, _: &[Val], outputs: &mut [Val], _: UserData<()>| {
                outputs[0] = Val::I32(9);
                Ok(())
            },
        )
        .with_namespace("wasi_snapshot_preview1")
    };
    // WASI off: the host function stands in for it.
    let mut plugin = Plugin::new(wat, [yield_()], false).expect("created without WASI");
    assert_eq!(code_of(&mut plugin), 9);
    // WASI on: the host function replaces WASI's, as the official linker does.
    let mut plugin = Plugin::new(wat, [yield_()], true).expect("created with WASI");
    assert_eq!(code_of(&mut plugin), 9);
    // Without it and without WASI, the import is missing.
    let message = error_of(Plugin::new(wat, [], false));
    assert!(message.contains("needs WASI"), "{message}");
}

#[test]
fn a_host_function_cannot_replace_a_kernel_function() {
    let alloc = returning("alloc", 1).with_namespace("extism:host/env");
    let error =
        Plugin::new(IMPORTS_HELLO, [alloc, returning("hello", 2)], false).expect_err("refused");
    assert_eq!(error.kind(), ErrorKind::Invalid);
    let message = format!("{error:#}");
    assert!(
        message.contains("`extism:host/env`.`alloc` has the name of an Extism kernel function"),
        "{message}"
    );
}

#[test]
fn a_missing_import_is_named_in_wasmtime_words_then_explained() {
    // The PHP SDK's suite matches the official runtime's words.
    let error = Plugin::new(
        IMPORTS_HELLO,
        [returning("hello", 1).with_namespace("custom")],
        false,
    )
    .expect_err("refused");
    assert_eq!(error.kind(), ErrorKind::NotFound);
    let message = format!("{error:#}");
    assert!(
        message.starts_with("unknown import: `extism:host/user::hello` has not been defined"),
        "{message}"
    );
    assert!(
        message.contains("register a host function with that namespace and name"),
        "{message}"
    );
    // Several: the first heads the message, every one is explained.
    let wat = r#"(module
      (import "a" "one" (func (param i64) (result i64)))
      (import "extism:host/env" "teleport" (func (param i64)))
      (func (export "f") (result i32) i32.const 0))"#;
    let message = error_of(Plugin::new(wat, [], false));
    assert!(
        message.starts_with("unknown import: `a::one` has not been defined"),
        "{message}"
    );
    assert!(message.contains("`a`.`one`"), "{message}");
    assert!(
        message.contains("`extism:host/env`.`teleport`"),
        "{message}"
    );
}

/// A WAT module whose `f` returns `value`, exporting `g` (returning `value + 10`).
fn module_returning(value: i32) -> Wasm {
    let wat = format!(
        r#"(module (func (export "f") (result i32) i32.const {value})
                   (func (export "g") (result i32) i32.const {}))"#,
        value + 10
    );
    Wasm::data(wat.into_bytes())
}

fn code_of_manifest(manifest: &Manifest) -> Result<i32, String> {
    Plugin::new(manifest, [], false)
        .map(|mut plugin| code_of(&mut plugin))
        .map_err(|e| format!("{e:#}"))
}

#[test]
fn the_only_module_is_main_whatever_its_name() {
    // The PHP SDK names a module after its file.
    let manifest = Manifest::new([module_returning(1).with_name("count_vowels.wasm")]);
    assert_eq!(code_of_manifest(&manifest), Ok(1));
    let manifest = Manifest::new([module_returning(1).with_name("main")]);
    assert_eq!(code_of_manifest(&manifest), Ok(1));
}

#[test]
fn with_several_modules_the_last_is_main_unless_another_is() {
    // Measured with libextism 1.41 (docs/sdk-suites.md): the same answers.
    let named = |v, n: &str| module_returning(v).with_name(n);
    let cases: [(Vec<Wasm>, Result<i32, &str>); 7] = [
        (vec![named(1, "x"), named(2, "y")], Ok(2)),
        (vec![named(1, "x"), named(2, "y"), named(3, "z")], Ok(3)),
        (vec![named(1, "x"), module_returning(2)], Ok(2)),
        (vec![module_returning(1), named(2, "y")], Ok(1)),
        (vec![named(1, "main"), named(2, "y")], Ok(1)),
        (vec![named(1, "x"), named(2, "main")], Ok(2)),
        (
            vec![module_returning(1), module_returning(2)],
            Err("two wasm modules are named `main`"),
        ),
    ];
    for (modules, expected) in cases {
        let names: Vec<_> = modules.iter().map(|w| w.meta().name.clone()).collect();
        let got = code_of_manifest(&Manifest::new(modules));
        match expected {
            Ok(code) => assert_eq!(got, Ok(code), "{names:?}"),
            Err(text) => {
                let message = got.expect_err("refused");
                assert!(message.contains(text), "{names:?}: {message}");
            }
        }
    }
    // A module renamed `main` is no longer found under its own name.
    let user = r#"(module (import "x" "g" (func $g (result i32)))
                          (func (export "f") (result i32) call $g))"#;
    let manifest = Manifest::new([
        Wasm::data(user.as_bytes().to_vec()).with_name("user"),
        module_returning(1).with_name("x"),
    ]);
    let message = code_of_manifest(&manifest).expect_err("refused");
    assert!(
        message.contains("unknown import: `x::g` has not been defined"),
        "{message}"
    );
    // Named before the last, it links.
    let manifest = Manifest::new([
        module_returning(1).with_name("x"),
        Wasm::data(user.as_bytes().to_vec()).with_name("user"),
    ]);
    assert_eq!(code_of_manifest(&manifest), Ok(11));
}
