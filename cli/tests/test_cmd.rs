//! `interplug test`: test plug-ins over the xtp:test/harness ABI.

mod common;
use common::*;
use interplug::{CompiledPlugin, Manifest, PluginBuilder, Wasm};
use interplug_cli::harness;

#[test]
fn xtp_pass_passes() {
    let out = run(&[
        "test",
        &fixture("count_vowels.wasm"),
        "--test",
        &fixture("xtp_pass.wasm"),
    ]);
    let text = stdout(&out);
    assert_eq!(code(&out), 0, "{text}{}", stderr(&out));
    assert!(text.contains("count_vowels\n"), "{text}");
    for name in [
        "count is 3",
        "total starts at 3",
        "default vowels",
        "timed call under 10 s",
        "total counts the timed call",
    ] {
        assert!(
            text.contains(&format!("  PASS {name}")),
            "{name} in:\n{text}"
        );
    }
    assert!(!text.contains("FAIL"), "{text}");
    assert!(
        text.contains("result: ok (5 passed, 0 failed of 5 assertions)"),
        "{text}"
    );
}

#[test]
fn xtp_fail_fails_with_the_message() {
    let out = run(&[
        "test",
        &fixture("count_vowels.wasm"),
        "--test",
        &fixture("xtp_fail.wasm"),
    ]);
    let text = stdout(&out);
    assert_eq!(code(&out), 1, "{text}");
    assert!(
        text.contains("  FAIL count is 4: Expected 3 == 4"),
        "{text}"
    );
    assert!(text.contains("  PASS default vowels"), "{text}");
    assert!(
        text.contains("result: FAILED (1 passed, 1 failed of 2 assertions)"),
        "{text}"
    );
}

#[test]
fn mock_host_stands_in_for_host_functions() {
    let args = [
        "test",
        &fixture("host_fns.wasm"),
        "--test",
        &cli_fixture("host_fns_test.wat"),
        "--host",
        &cli_fixture("mock_host.wat"),
    ];
    // panic_now is not in the mock: without stubs the plug-in cannot load.
    let out = run(&args);
    assert_eq!(code(&out), 3, "{}", stdout(&out));
    let err = stderr(&out);
    assert!(err.contains("panic_now"), "{err}");
    assert!(!err.contains("hello_world"), "the mock provides it: {err}");

    let mut with_stubs = args.to_vec();
    with_stubs.push("--stub-host-functions");
    let out = run(&with_stubs);
    let text = stdout(&out);
    assert_eq!(code(&out), 0, "{text}{}", stderr(&out));
    assert!(text.contains("PASS hello_world via mock"), "{text}");
    assert!(text.contains("PASS shout via mock"), "{text}");
}

#[test]
fn a_plugin_without_test_export_is_a_load_error() {
    let out = run(&[
        "test",
        &fixture("count_vowels.wasm"),
        "--test",
        &fixture("echo.wasm"),
    ]);
    assert_fails(&out, 3, "no `test` export");

    let out = run(&["test", &fixture("count_vowels.wasm")]);
    assert_eq!(code(&out), 2, "--test is required");
}

#[test]
fn harness_from_rust() {
    let under_test = CompiledPlugin::new(PluginBuilder::new(Manifest::new([Wasm::file(fixture(
        "count_vowels.wasm",
    ))])))
    .expect("compiles");
    let report = harness::run(
        &under_test,
        &Manifest::new([Wasm::file(fixture("xtp_pass.wasm"))]),
        false,
    )
    .expect("runs");
    assert!(report.success());
    assert_eq!(report.passed(), 5);
    assert!(report
        .assertions()
        .all(|a| a.group.as_deref() == Some("count_vowels")));

    let report = harness::run(
        &under_test,
        &Manifest::new([Wasm::file(fixture("xtp_fail.wasm"))]),
        false,
    )
    .expect("runs");
    assert!(!report.success());
    let failed: Vec<_> = report.assertions().filter(|a| !a.ok).collect();
    assert_eq!(failed.len(), 1);
    assert_eq!(failed[0].name, "count is 4");
    assert_eq!(failed[0].message, "Expected 3 == 4");
}
