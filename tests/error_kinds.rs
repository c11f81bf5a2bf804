//! Every error a caller or a plug-in causes has its precise kind, never `Host` by
//! default; an error caused by another one keeps it as its `source()`, and the text
//! `{:#}` prints (what the C API and the CLI show) is unchanged.

mod support;
use interplug::{
    host_fn, typed_plugin, CurrentPlugin, Error, ErrorExt, ErrorKind, Failure, Function, Manifest,
    Plugin, UserData, Val, ValType, Wasm, PTR,
};
use std::error::Error as _;
use support::{error_of, fixture};

/// A plug-in whose `run` calls `extism:host/user` `name`, of type `(i64) -> i64` or,
/// with `no_argument`, `() -> i64`.
fn calling(name: &str, no_argument: bool) -> String {
    let (params, args) = if no_argument {
        ("", "")
    } else {
        ("(param i64)", "(i64.const 0)")
    };
    format!(
        r#"(module
             (import "extism:host/user" "{name}" (func $f {params} (result i64)))
             (func (export "run") (result i32)
               (drop (call $f {args}))
               (i32.const 0)))"#
    )
}

host_fn!(two_arguments(first: String, second: String) -> String {
    Ok(format!("{first}{second}"))
});

#[test]
fn host_fn_called_without_an_argument_is_invalid() {
    // The import passes one argument; the function reads two.
    let two = Function::new("two", [PTR], [PTR], UserData::new(()), two_arguments);
    let mut plugin = Plugin::new(calling("two", false).as_str(), [two], false).expect("plug-in");
    let error = plugin.call::<&str, &[u8]>("run", "").unwrap_err();
    assert_eq!(error.kind(), ErrorKind::Invalid, "{error:#}");
    let message = format!("{error:#}");
    assert!(
        message.contains(
            "host function `two_arguments` was called without its argument `second`: check \
             the import's signature"
        ),
        "{message}"
    );
}

#[test]
fn a_host_function_returning_a_value_of_the_wrong_type_is_invalid() {
    let wrong = Function::new(
        "wrong",
        [],
        [ValType::I64],
        UserData::new(()),
        |_: &mut CurrentPlugin, _: &[Val], outputs: &mut [Val], _: UserData<()>| {
            outputs[0] = Val::I32(7);
            Ok(())
        },
    );
    let mut plugin = Plugin::new(calling("wrong", true).as_str(), [wrong], false).expect("plug-in");
    let error = plugin.call::<&str, &[u8]>("run", "").unwrap_err();
    assert_eq!(error.kind(), ErrorKind::Invalid, "{error:#}");
    assert_eq!(
        format!("{error:#}"),
        "host function `extism:host/user::wrong`: host function returned a I32 where its \
         signature says I64"
    );
}

#[test]
fn a_host_function_taking_v128_is_refused_as_invalid() {
    let v128 = Function::new(
        "v128",
        [ValType::V128],
        [],
        UserData::new(()),
        |_: &mut CurrentPlugin, _: &[Val], _: &mut [Val], _: UserData<()>| Ok(()),
    );
    let noop = r#"(module (func (export "noop") (result i32) i32.const 0))"#;
    let error = Plugin::new(noop, [v128], false).unwrap_err();
    assert_eq!(error.kind(), ErrorKind::Invalid, "{error:#}");
    assert!(format!("{error:#}").contains("cannot take or return v128 values"));
}

typed_plugin!(NoSuchFunction {
    no_such_function(&str) -> String;
});

#[test]
fn typed_plugin_without_the_function_is_not_found() {
    let plugin =
        Plugin::new(Manifest::new([Wasm::file(fixture("echo"))]), [], false).expect("plug-in");
    let error = match NoSuchFunction::try_from(plugin) {
        Ok(_) => panic!("echo has no `no_such_function`"),
        Err(error) => error,
    };
    assert_eq!(error.kind(), ErrorKind::NotFound, "{error:#}");
    assert_eq!(
        error.to_string(),
        "the plug-in has no function `no_such_function` (an export of type () -> i32 or () -> ())"
    );
}

#[test]
fn a_missing_wasm_file_is_not_found_caused_by_the_io_error() {
    let path = "/nonexistent/interplug/plugin.wasm";
    let error = Plugin::new(Manifest::new([Wasm::file(path)]), [], false).unwrap_err();
    assert_eq!(error.kind(), ErrorKind::NotFound, "{error:#}");
    let io = error
        .source()
        .and_then(|source| source.downcast_ref::<std::io::Error>())
        .expect("the io error is the source");
    assert_eq!(io.kind(), std::io::ErrorKind::NotFound);
    // The same text as when the io error was part of the message.
    assert_eq!(
        format!("{error:#}"),
        format!("cannot read wasm file `{path}`: {io}")
    );
    assert_eq!(error.to_string(), format!("cannot read wasm file `{path}`"));
}

#[test]
fn an_invalid_module_is_caused_by_the_validation_error() {
    let error = Plugin::new(b"\0asm\x01\0\0\0\x01\xff\xff".as_slice(), [], false).unwrap_err();
    assert_eq!(error.kind(), ErrorKind::Invalid);
    assert_eq!(error.to_string(), "invalid wasm module `main`");
    let cause = error.source().expect("the validator's error");
    assert!(!cause.to_string().is_empty());
    assert_eq!(
        format!("{error:#}"),
        format!("invalid wasm module `main`: {cause}")
    );
}

/// A host program's own error type.
#[derive(Debug)]
struct Refused {
    reason: &'static str,
}

impl std::fmt::Display for Refused {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "refused: {}", self.reason)
    }
}

impl std::error::Error for Refused {}

#[test]
fn a_host_functions_own_error_is_the_source_of_the_calls_error() {
    let refuse = Function::new(
        "refuse",
        [],
        [ValType::I64],
        UserData::new(()),
        |_: &mut CurrentPlugin, _: &[Val], _: &mut [Val], _: UserData<()>| {
            Err(Error::new(Refused {
                reason: "on purpose",
            }))
        },
    );
    let mut plugin =
        Plugin::new(calling("refuse", true).as_str(), [refuse], false).expect("plug-in");
    let error = plugin.call::<&str, &[u8]>("run", "").unwrap_err();
    assert_eq!(error.kind(), ErrorKind::Host, "{error:#}");
    let refused = error
        .source()
        .and_then(|source| source.downcast_ref::<Refused>())
        .expect("the host function's error is the source");
    assert_eq!(refused.reason, "on purpose");
    assert!(error.chain().any(|cause| cause.is::<Refused>()));
    assert_eq!(
        format!("{error:#}"),
        "host function `extism:host/user::refuse` failed: refused: on purpose"
    );
}

#[test]
fn a_kinded_error_from_a_host_function_keeps_its_kind_and_failure() {
    let limited = Function::new(
        "limited",
        [],
        [ValType::I64],
        UserData::new(()),
        |_: &mut CurrentPlugin, _: &[Val], _: &mut [Val], _: UserData<()>| {
            Err(Error::new(Failure::new(
                ErrorKind::LimitExceeded,
                "too many widgets",
            )))
        },
    );
    let mut plugin =
        Plugin::new(calling("limited", true).as_str(), [limited], false).expect("plug-in");
    let error = plugin.call::<&str, &[u8]>("run", "").unwrap_err();
    assert_eq!(error.kind(), ErrorKind::LimitExceeded, "{error:#}");
    let inner = error
        .source()
        .and_then(|source| source.downcast_ref::<Failure>())
        .expect("the host function's failure is the source");
    assert_eq!(
        inner,
        &Failure::new(ErrorKind::LimitExceeded, "too many widgets")
    );
}

interplug::encoding!(Strict, serde_json::to_vec, serde_json::from_slice);

#[test]
fn an_encoding_made_with_the_macro_fails_as_invalid_with_its_cause() {
    use interplug::FromBytesOwned;
    let error = match Strict::<Vec<u32>>::from_bytes_owned(b"not json") {
        Ok(_) => panic!("not JSON"),
        Err(error) => error,
    };
    assert_eq!(error.kind(), ErrorKind::Invalid, "{error:#}");
    assert!(error
        .source()
        .is_some_and(|source| source.is::<serde_json::Error>()));
    assert!(
        format!("{error:#}").starts_with("the bytes are not a valid `Strict` value: "),
        "{error:#}"
    );
}

#[test]
fn decoding_a_calls_output_fails_as_invalid_with_the_decoders_error() {
    let mut plugin =
        Plugin::new(Manifest::new([Wasm::file(fixture("echo"))]), [], false).expect("plug-in");
    let message = error_of(plugin.call::<&[u8], &str>("echo", &[0xff, 0xfe]));
    assert!(
        message.starts_with("the output of `echo` does not decode as `&str`: invalid utf-8"),
        "{message}"
    );
    let error = plugin
        .call::<&[u8], &str>("echo", &[0xff, 0xfe])
        .unwrap_err();
    assert_eq!(error.kind(), ErrorKind::Invalid);
    assert!(error
        .source()
        .is_some_and(|source| source.is::<std::str::Utf8Error>()));
}

#[test]
fn failures_compare_their_causes_by_text_and_clone_them() {
    let io = |text: &str| std::io::Error::other(text.to_string());
    let a = Failure::with_source(ErrorKind::Io, "cannot save", io("disk full"));
    let b = Failure::with_source(ErrorKind::Io, "cannot save", io("disk full"));
    let c = Failure::with_source(ErrorKind::Io, "cannot save", io("disk gone"));
    assert_eq!(a, b);
    assert_ne!(a, c);
    assert_ne!(a, Failure::new(ErrorKind::Io, "cannot save"));
    let copy = a.clone();
    assert_eq!(copy, a);
    assert!(copy
        .source()
        .is_some_and(|source| source.is::<std::io::Error>()));
    assert_eq!(copy.message(), "cannot save");
    assert_eq!(copy.to_string(), "cannot save");
}

#[test]
fn reading_a_handle_outside_the_extism_memory_is_invalid() {
    let mut plugin =
        Plugin::new(Manifest::new([Wasm::file(fixture("echo"))]), [], false).expect("plug-in");
    // A struct literal: with `std`, `MemoryHandle` is extism-convert's, whose `new` is
    // `unsafe` (no access through a handle is unchecked here, whatever its fields).
    let outside = interplug::MemoryHandle {
        offset: u64::MAX / 2,
        length: 8,
    };
    let error = plugin
        .current_plugin()
        .memory_get::<&[u8]>(outside)
        .unwrap_err();
    assert_eq!(error.kind(), ErrorKind::Invalid, "{error:#}");
    assert!(
        format!("{error:#}").contains("out-of-bounds access to the Extism memory"),
        "{error:#}"
    );
}
