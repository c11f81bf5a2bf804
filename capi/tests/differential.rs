//! The conformance cases (`interplug_spec_tests::cases`) through the C API of
//! `libinterplug.so`, and, when `INTERPLUG_ORACLE_LIB` names the official
//! libextism, through both libraries with the same wrapper: same output bytes
//! (after failures too), same success or failure, same return codes.
//!
//! Deliberate differences, each accepted only in its exact form:
//! - a trap, timeout or cancel: libextism returns 134, libinterplug -1 (-1 is the
//!   documented "no code from the plug-in" value; 134 is wasmtime's SIGABRT-style
//!   exit status leaking through);
//! - the cases' own `deliberate_difference` (e.g. libextism never gives a memory
//!   budget back after `oom`; interplug does), with the reason printed.

mod common;

use std::sync::Arc;

use interplug_spec_tests::capi::{CApiLibrary, CPlugin, CallOutcome};
use interplug_spec_tests::cases::{self, check, create_c, Case, HostFn, Outcome};
use interplug_spec_tests::fixtures;

/// The return code libextism gives for traps, timeouts and cancels.
const LIBEXTISM_TRAP_RC: i32 = 134;

/// Runs every step of a case through `lib`, keeping the full C outcomes.
fn run(lib: &Arc<CApiLibrary>, case: &Case) -> Result<Vec<CallOutcome>, String> {
    let mut plugin = create_c(lib, case)?;
    Ok(case
        .steps
        .iter()
        .map(|step| plugin.call(&step.function, &step.input))
        .collect())
}

fn as_outcome(call: &CallOutcome) -> Outcome {
    if call.rc == 0 {
        Outcome::Ok(call.output.clone())
    } else {
        Outcome::Err(call.rc, call.error.clone().unwrap_or_default())
    }
}

fn show(call: &CallOutcome) -> String {
    let output = if call.output.len() > 120 {
        format!("<{} bytes>", call.output.len())
    } else {
        format!("{:?}", String::from_utf8_lossy(&call.output))
    };
    format!("rc {} output {output} error {:?}", call.rc, call.error)
}

#[test]
fn every_case_gives_the_expected_outcomes_through_the_c_api() {
    let ours = common::ours();
    let mut failures = Vec::new();
    let mut calls = 0;
    for case in cases::all() {
        let outcomes = match run(&ours, &case) {
            Ok(outcomes) => outcomes,
            Err(e) => {
                failures.push(format!("{}: creation failed: {e}", case.name));
                continue;
            }
        };
        for (index, (step, call)) in case.steps.iter().zip(&outcomes).enumerate() {
            calls += 1;
            if let Err(mismatch) = check(&step.expect, &as_outcome(call)) {
                failures.push(format!(
                    "{} step {index} ({}): {mismatch}",
                    case.name, step.function
                ));
            }
            // The C API promises: no error text after a success.
            if call.rc == 0 && call.error.is_some() {
                failures.push(format!("{} step {index}: error after success", case.name));
            }
        }
    }
    eprintln!("{calls} calls through libinterplug's C API");
    assert!(failures.is_empty(), "mismatches:\n{}", failures.join("\n"));
}

#[test]
fn official_library_agrees_through_the_c_api() {
    let Some(oracle) = common::oracle() else {
        return;
    };
    let ours = common::ours();
    let mut mismatches = Vec::new();
    let mut compared = 0;
    for case in cases::all() {
        let (a, b) = match (run(&ours, &case), run(&oracle, &case)) {
            (Ok(a), Ok(b)) => (a, b),
            (Err(_), Err(_)) => continue,
            (a, b) => {
                mismatches.push(format!(
                    "{}: creation differs: interplug {:?}, libextism {:?}",
                    case.name,
                    a.err(),
                    b.err()
                ));
                continue;
            }
        };
        let agree_until = match case.deliberate_difference {
            Some((index, reason)) => {
                eprintln!(
                    "{}: from step {index} on, deliberately different: {reason}",
                    case.name
                );
                index
            }
            None => usize::MAX,
        };
        for (index, (x, y)) in a.iter().zip(&b).enumerate().take(agree_until) {
            compared += 1;
            let rc_agrees = x.rc == y.rc || (x.rc == -1 && y.rc == LIBEXTISM_TRAP_RC);
            if !rc_agrees || x.output != y.output {
                mismatches.push(format!(
                    "{} step {index} ({}):\n  interplug {}\n  libextism {}",
                    case.name,
                    case.steps[index].function,
                    show(x),
                    show(y)
                ));
            }
        }
    }
    eprintln!(
        "differential (C API): {compared} calls compared with {}",
        oracle.version()
    );
    assert!(
        mismatches.is_empty(),
        "differences from libextism:\n{}",
        mismatches.join("\n")
    );
}

/// Config, function lookup and reset through the C API on one library; the log of
/// what happened, for comparing libraries.
fn operations(lib: &Arc<CApiLibrary>) -> Vec<String> {
    let case = Case {
        name: "config",
        manifest: cases::manifest_for("config", serde_json::json!({"config": {"a": "1"}})),
        wasi: false,
        host: Vec::new(),
        steps: Vec::new(),
        deliberate_difference: None,
    };
    let mut plugin = create_c(lib, &case).expect("config.wasm loads");
    let mut log = Vec::new();
    let get = |plugin: &mut CPlugin, key: &str, log: &mut Vec<String>| {
        let call = plugin.call("get_config", key.as_bytes());
        log.push(format!(
            "get {key}: rc {} {:?}",
            call.rc,
            String::from_utf8_lossy(&call.output)
        ));
    };
    get(&mut plugin, "a", &mut log);
    for json in [
        r#"{"b": "2"}"#,
        r#"{"a": null}"#,
        r#"{"c": ""}"#,
        "{not json",
        r#"{"d": 1}"#,
        "[]",
        r#"{"e": "ü☃"}"#,
        "{}",
    ] {
        log.push(format!("config {json}: {}", plugin.config(json)));
        for key in ["a", "b", "c", "d", "e"] {
            get(&mut plugin, key, &mut log);
        }
    }
    for name in ["get_config", "", "nope", "memory", "_start"] {
        log.push(format!("exists {name:?}: {}", plugin.function_exists(name)));
    }
    log.push(format!("reset: {}", plugin.reset()));
    get(&mut plugin, "b", &mut log);
    log
}

#[test]
fn config_and_lookups_agree_with_the_official_library() {
    let ours = operations(&common::ours());
    assert!(ours.contains(&"get b: rc 0 \"2\"".to_string()), "{ours:#?}");
    assert!(
        ours.contains(&"config {not json: false".to_string()),
        "{ours:#?}"
    );
    let Some(oracle) = common::oracle() else {
        return;
    };
    let theirs = operations(&oracle);
    let differences: Vec<String> = ours
        .iter()
        .zip(&theirs)
        .filter(|(a, b)| a != b)
        .map(|(a, b)| format!("interplug {a}\nlibextism {b}"))
        .collect();
    assert!(differences.is_empty(), "{}", differences.join("\n"));
}

/// The measuring side of the shared client (`bench-compare` uses it): compiled
/// plug-ins, borrowed outputs and host functions, on both libraries when the
/// official one is present.
#[test]
fn compiled_plugins_and_borrowed_calls_agree() {
    let mut libraries = vec![common::ours()];
    libraries.extend(common::oracle());
    let echo = fixtures::bytes("echo");
    for lib in &libraries {
        let compiled = lib
            .compiled_plugin_new(&echo, &[], false)
            .unwrap_or_else(|e| panic!("{}: echo compiles: {e}", lib.path().display()));
        let mut first = compiled.instantiate().expect("instantiation works");
        let mut second = compiled.instantiate().expect("a second instance");
        drop(compiled);
        assert_eq!(first.call_borrowed(c"echo", b"one"), Ok(&b"one"[..]));
        assert_eq!(second.call_borrowed(c"echo", b""), Ok(&b""[..]));
        let failure = first
            .call_borrowed(c"no_such_function", b"x")
            .expect_err("a missing export fails");
        assert_ne!(failure.rc, 0);
        assert!(!failure.message.is_empty(), "{failure}");
        assert_eq!(first.call_borrowed(c"echo", b"again"), Ok(&b"again"[..]));

        let functions: Vec<_> = cases::host_fns().iter().map(HostFn::to_c).collect();
        let mut host = lib
            .plugin_new(&fixtures::bytes("host_fns"), &functions, false)
            .expect("host_fns plug-in");
        assert_eq!(
            host.call_borrowed(c"call_host", b"Ada"),
            Ok(&b"Hello, Ada"[..])
        );
    }
}
