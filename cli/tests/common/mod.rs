//! Helpers for running the `interplug` binary in tests.
#![allow(dead_code)]

use std::path::PathBuf;
use std::process::{Command, Output, Stdio};

/// The path of a spec fixture, `name` with its extension (`"echo.wasm"`).
pub fn fixture(name: &str) -> String {
    interplug_spec_tests::fixtures::dir()
        .join(name)
        .to_string_lossy()
        .into_owned()
}

/// The path of a CLI test fixture (cli/tests/fixtures).
pub fn cli_fixture(name: &str) -> String {
    format!("{}/tests/fixtures/{name}", env!("CARGO_MANIFEST_DIR"))
}

/// The binary under test.
pub fn bin() -> PathBuf {
    PathBuf::from(env!("CARGO_BIN_EXE_interplug"))
}

/// Runs `interplug ARGS` with no stdin.
pub fn run(args: &[&str]) -> Output {
    Command::new(bin())
        .args(args)
        .stdin(Stdio::null())
        .output()
        .expect("the interplug binary runs")
}

/// Runs `interplug ARGS` with `input` on stdin.
pub fn run_with_stdin(args: &[&str], input: &[u8]) -> Output {
    use std::io::Write;
    let mut child = Command::new(bin())
        .args(args)
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .expect("the interplug binary runs");
    child
        .stdin
        .take()
        .expect("stdin")
        .write_all(input)
        .expect("write stdin");
    child.wait_with_output().expect("wait")
}

/// Asserts that the command exited with 0; a failure shows its stderr.
#[track_caller]
pub fn assert_succeeds(output: &Output) {
    assert_eq!(code(output), 0, "{}", stderr(output));
}

/// Asserts that the command exited with `expected` and that its stderr mentions
/// `needle`; both failures show the whole stderr.
#[track_caller]
pub fn assert_fails(output: &Output, expected: i32, needle: &str) {
    let err = stderr(output);
    assert_eq!(code(output), expected, "{err}");
    assert!(err.contains(needle), "{needle:?} not in stderr: {err}");
}

/// The exit code (panics on a signal).
pub fn code(output: &Output) -> i32 {
    output
        .status
        .code()
        .expect("exited normally, not by a signal")
}

/// Stdout as text.
pub fn stdout(output: &Output) -> String {
    String::from_utf8_lossy(&output.stdout).into_owned()
}

/// Stderr as text.
pub fn stderr(output: &Output) -> String {
    String::from_utf8_lossy(&output.stderr).into_owned()
}
