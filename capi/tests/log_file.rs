//! `extism_log_file` gets the runtime's own lines: a plug-in's creation and calls at
//! `debug`, an engine failure at `error`, nothing at `trace` when the level is `debug`.
//! Checked on libinterplug and, when `INTERPLUG_ORACLE_LIB` is set, on libextism 1.41
//! with the same assertions (the words differ; the presence and the levels do not).
//! One test: the log destination is the process's (per library).

mod common;

use std::ffi::{c_char, CString};
use std::path::Path;
use std::sync::Arc;

use interplug_spec_tests::capi::CApiLibrary;

type LogFile = unsafe extern "C" fn(*const c_char, *const c_char) -> bool;

const WAT: &str = r#"(module
  (func (export "ok") (result i32) i32.const 0)
  (func (export "trap") (result i32) unreachable))"#;

/// Sends `lib`'s log to `path` at `level`, creates a plug-in, calls it (a success and
/// a trap), frees it, and returns the file's text.
fn log_of(lib: &Arc<CApiLibrary>, path: &Path, level: &str) -> String {
    // SAFETY: the library is already loaded (and never unloaded) by `CApiLibrary`;
    // `extism_log_file` has this C signature in the Extism API.
    let log_file: LogFile = unsafe {
        let library = libloading::Library::new(lib.path()).expect("the library loads again");
        let symbol = *library
            .get::<LogFile>(b"extism_log_file")
            .expect("extism_log_file");
        std::mem::forget(library);
        symbol
    };
    let _ = std::fs::remove_file(path);
    let file = CString::new(path.to_str().expect("UTF-8 path")).expect("no NUL");
    let level = CString::new(level).expect("no NUL");
    // SAFETY: two NUL-terminated strings.
    assert!(
        unsafe { log_file(file.as_ptr(), level.as_ptr()) },
        "{}",
        lib.path().display()
    );
    let mut plugin = lib.plugin_new(WAT.as_bytes(), &[], false).expect("created");
    assert!(plugin.call("ok", b"input").is_ok());
    assert!(!plugin.call("trap", b"").is_ok());
    drop(plugin);
    std::fs::read_to_string(path).unwrap_or_default()
}

/// The lines of `text` at `level` (the level word follows the timestamp).
fn at<'a>(text: &'a str, level: &str) -> Vec<&'a str> {
    text.lines()
        .filter(|line| line.split_whitespace().nth(1) == Some(level))
        .collect()
}

fn check(lib: &Arc<CApiLibrary>, name: &str) {
    let path = std::env::temp_dir().join(format!(
        "interplug-log-file-{name}-{}.log",
        std::process::id()
    ));
    let text = log_of(lib, &path, "debug");
    let _ = std::fs::remove_file(&path);
    let debug = at(&text, "DEBUG");
    let has = |lines: &[&str], words: &str| lines.iter().any(|l| l.contains(words));
    assert!(
        has(&debug, " created"),
        "{name}: no creation line in:\n{text}"
    );
    assert!(
        has(&debug, "input size: 5"),
        "{name}: no call line in:\n{text}"
    );
    assert!(
        has(&debug, "got return code: 0"),
        "{name}: no return code line in:\n{text}"
    );
    assert!(
        has(&at(&text, "ERROR"), "call to trap encountered an error"),
        "{name}: no error line in:\n{text}"
    );
    assert!(
        at(&text, "TRACE").is_empty(),
        "{name}: trace lines at debug:\n{text}"
    );
    assert!(
        debug.iter().all(|l| l.contains("extism::plugin")),
        "{name}: {text}"
    );
}

#[test]
fn log_file_gets_creation_call_and_error_lines_at_their_levels() {
    check(&common::ours(), "libinterplug");
    match CApiLibrary::open_oracle() {
        Ok(Some(oracle)) => check(&oracle, "libextism"),
        Ok(None) => eprintln!("INTERPLUG_ORACLE_LIB not set: libextism not compared"),
        Err(e) => panic!("{e}"),
    }
}
