//! `interplug call`: output, options, exit codes and messages.

mod common;
use common::*;
use std::time::{Duration, Instant};

#[test]
fn count_vowels_prints_the_raw_output() {
    let out = run(&[
        "call",
        &fixture("count_vowels.wasm"),
        "count_vowels",
        "--input",
        "hello world",
    ]);
    assert_succeeds(&out);
    assert_eq!(
        stdout(&out),
        r#"{"count":3,"total":3,"vowels":"aeiouAEIOU"}"#
    );
}

#[test]
fn loop_calls_the_same_instance() {
    let out = run(&[
        "call",
        &fixture("count_vowels.wasm"),
        "count_vowels",
        "--input",
        "hello world",
        "--loop",
        "3",
    ]);
    assert_succeeds(&out);
    let lines: Vec<String> = stdout(&out).lines().map(String::from).collect();
    assert_eq!(
        lines,
        [
            r#"{"count":3,"total":3,"vowels":"aeiouAEIOU"}"#,
            r#"{"count":3,"total":6,"vowels":"aeiouAEIOU"}"#,
            r#"{"count":3,"total":9,"vowels":"aeiouAEIOU"}"#,
        ]
    );
}

#[test]
fn config_is_passed_to_the_plugin() {
    let out = run(&[
        "call",
        &fixture("count_vowels.wasm"),
        "count_vowels",
        "--input",
        "hello world",
        "--config",
        "vowels=lo",
    ]);
    assert_succeeds(&out);
    assert_eq!(stdout(&out), r#"{"count":5,"total":5,"vowels":"lo"}"#);
}

#[test]
fn input_from_stdin_and_file() {
    let out = run_with_stdin(
        &["call", &fixture("echo.wasm"), "echo", "--stdin"],
        b"\x00bytes\xff",
    );
    assert_succeeds(&out);
    assert_eq!(out.stdout, b"\x00bytes\xff");

    let dir = tempfile::tempdir().expect("tempdir");
    let path = dir.path().join("input.bin");
    std::fs::write(&path, b"abc").expect("write");
    let out = run(&[
        "call",
        &fixture("echo.wasm"),
        "length",
        "--input-file",
        path.to_str().expect("utf-8 path"),
    ]);
    assert_succeeds(&out);
    assert_eq!(stdout(&out), "3");
}

#[test]
fn missing_function_fails_with_exit_1_and_lists_functions() {
    let out = run(&["call", &fixture("count_vowels.wasm"), "nope"]);
    assert_eq!(code(&out), 1);
    let err = stderr(&out);
    assert!(err.contains("Function not found: nope"), "{err}");
    assert!(err.contains("count_vowels"), "{err}");
    assert!(out.stdout.is_empty());
}

#[test]
fn plugin_errors_fail_with_exit_1() {
    let out = run(&["call", &fixture("fail.wasm"), "fail", "--input", "abc"]);
    assert_fails(&out, 1, "failed on purpose: abc");

    let out = run(&["call", &fixture("fail.wasm"), "nonzero"]);
    assert_fails(&out, 1, "non-zero exit code: 3");
}

#[test]
fn usage_errors_exit_2() {
    let out = run(&["call", &fixture("count_vowels.wasm")]);
    assert_eq!(code(&out), 2);
    let out = run(&[
        "call",
        &fixture("count_vowels.wasm"),
        "count_vowels",
        "--input",
        "a",
        "--stdin",
    ]);
    assert_eq!(code(&out), 2, "--input and --stdin conflict");
    let out = run(&[
        "call",
        &fixture("count_vowels.wasm"),
        "count_vowels",
        "--config",
        "novalue",
    ]);
    assert_fails(&out, 2, "KEY=VALUE");
    let out = run(&["frobnicate"]);
    assert_eq!(code(&out), 2);
}

#[test]
fn load_errors_exit_3() {
    let out = run(&["call", "/nonexistent/plugin.wasm", "f"]);
    assert_fails(&out, 3, "cannot read");

    let dir = tempfile::tempdir().expect("tempdir");
    let junk = dir.path().join("junk.bin");
    std::fs::write(&junk, b"\x01\x02 not a plug-in").expect("write");
    let out = run(&["call", junk.to_str().expect("path"), "f"]);
    assert_fails(&out, 3, "unknown manifest format");

    let out = run(&[
        "call",
        &fixture("count_vowels.wasm"),
        "count_vowels",
        "--manifest",
    ]);
    assert_fails(&out, 3, "not a manifest");
}

#[test]
fn memory_budget_below_the_initial_memory_is_a_load_error() {
    let out = run(&[
        "call",
        &fixture("count_vowels.wasm"),
        "count_vowels",
        "--memory-max",
        "16",
    ]);
    assert_fails(&out, 3, "--memory-max");
}

#[test]
fn unknown_host_functions_need_stubs() {
    let out = run(&["call", &fixture("limits.wasm"), "compute", "--input", "10"]);
    assert_eq!(code(&out), 3);
    let err = stderr(&out);
    assert!(err.contains("panic_now"), "{err}");
    assert!(err.contains("--stub-host-functions"), "{err}");

    let out = run(&[
        "call",
        &fixture("limits.wasm"),
        "compute",
        "--input",
        "10",
        "--stub-host-functions",
    ]);
    assert_succeeds(&out);
    assert_eq!(stdout(&out), "17818939798065174182");
}

#[test]
fn timeout_stops_an_infinite_loop() {
    let start = Instant::now();
    let out = run(&[
        "call",
        &fixture("limits.wasm"),
        "infinite_loop",
        "--stub-host-functions",
        "--timeout",
        "200",
    ]);
    let elapsed = start.elapsed();
    assert_fails(&out, 1, "timeout");
    assert!(elapsed >= Duration::from_millis(200), "{elapsed:?}");
    assert!(elapsed < Duration::from_secs(10), "{elapsed:?}");
}

#[test]
fn fuel_limit_stops_a_long_computation() {
    let out = run(&[
        "call",
        &fixture("limits.wasm"),
        "compute",
        "--input",
        "10000000",
        "--stub-host-functions",
        "--fuel",
        "100000",
    ]);
    assert_fails(&out, 1, "fuel");
}

#[test]
fn wasi_is_needed_for_wasi_plugins() {
    let out = run(&["call", &fixture("wasi_command.wasm"), "_start"]);
    assert_fails(&out, 3, "--wasi");

    let out = run(&["call", &fixture("wasi_command.wasm"), "_start", "--wasi"]);
    assert_succeeds(&out);
}

#[test]
fn wasi_directories_with_allow_path() {
    let dir = tempfile::tempdir().expect("tempdir");
    std::fs::write(dir.path().join("a.txt"), b"file contents").expect("write");
    let mapping = format!("{}:/data", dir.path().display());
    let out = run(&[
        "call",
        &fixture("wasi_fs.wasm"),
        "read_file",
        "--wasi",
        "--allow-path",
        &mapping,
        "--input",
        "/data/a.txt",
    ]);
    assert_succeeds(&out);
    assert_eq!(stdout(&out), "file contents");
}

#[test]
fn manifests_with_relative_paths_and_several_modules() {
    let dir = tempfile::tempdir().expect("tempdir");
    for name in ["count_vowels.wasm", "link_main.wasm", "link_math.wasm"] {
        std::fs::copy(fixture(name), dir.path().join(name)).expect("copy");
    }
    let manifest = dir.path().join("vowels.json");
    std::fs::write(
        &manifest,
        r#"{"wasm": [{"path": "count_vowels.wasm"}], "config": {"vowels": "o"}}"#,
    )
    .expect("write");
    let out = run(&[
        "call",
        manifest.to_str().expect("path"),
        "count_vowels",
        "--input",
        "foo",
    ]);
    assert_succeeds(&out);
    assert_eq!(stdout(&out), r#"{"count":2,"total":2,"vowels":"o"}"#);

    let linked = dir.path().join("linked.toml");
    std::fs::write(
        &linked,
        "[[wasm]]\npath = \"link_math.wasm\"\nname = \"math\"\n\n[[wasm]]\npath = \"link_main.wasm\"\n",
    )
    .expect("write");
    let out = run(&[
        "call",
        linked.to_str().expect("path"),
        "compute",
        "--input",
        "6,7",
        "--manifest",
    ]);
    assert_succeeds(&out);
    assert_eq!(stdout(&out), "sum=13 product=42");

    let bad = dir.path().join("bad.json");
    std::fs::write(&bad, r#"{"wasm": [], "colour": 1}"#).expect("write");
    let out = run(&["call", bad.to_str().expect("path"), "f"]);
    assert_fails(&out, 3, "colour");
}

#[test]
fn log_level_filters_plugin_logs() {
    let out = run(&[
        "call",
        &fixture("logging.wasm"),
        "log_all",
        "--input",
        "MSG",
        "--log-level",
        "info",
    ]);
    assert_succeeds(&out);
    assert_eq!(stdout(&out), "logged");
    let err = stderr(&out);
    assert!(
        err.contains("[INFO ") && err.contains("[WARN ") && err.contains("[ERROR"),
        "{err}"
    );
    assert!(!err.contains("[DEBUG") && !err.contains("[TRACE"), "{err}");
    assert_eq!(err.matches("MSG").count(), 3, "{err}");

    let out = run(&[
        "call",
        &fixture("logging.wasm"),
        "log_level",
        "--log-level",
        "off",
    ]);
    assert_eq!(stdout(&out), "2147483647");

    let out = run(&[
        "call",
        &fixture("logging.wasm"),
        "log_level",
        "--log-level",
        "loud",
    ]);
    assert_eq!(code(&out), 2);
}

#[test]
fn help_explains_the_options() {
    let out = run(&["call", "--help"]);
    assert_eq!(code(&out), 0);
    let help = stdout(&out);
    for needle in [
        "--input",
        "--stdin",
        "--wasi",
        "--config",
        "--timeout",
        "--loop",
        "Examples:",
    ] {
        assert!(help.contains(needle), "missing {needle} in:\n{help}");
    }
    let out = run(&["--help"]);
    assert_eq!(code(&out), 0);
    assert!(stdout(&out).contains("Exit codes"));
}

#[test]
fn var_max_caps_vars() {
    let out = run(&[
        "call",
        &fixture("vars.wasm"),
        "var_set",
        "--input",
        "a=1",
        "--var-max",
        "0",
    ]);
    assert_fails(&out, 1, "max_var_bytes");

    let out = run(&["call", &fixture("vars.wasm"), "var_set", "--input", "a=1"]);
    assert_succeeds(&out);
    assert_eq!(stdout(&out), "ok");
}
