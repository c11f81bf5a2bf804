//! `interplug info`: text and JSON reports.

mod common;
use common::*;
use serde_json::Value;

fn info_json(args: &[&str]) -> Value {
    let mut all = vec!["info", "--json"];
    all.extend_from_slice(args);
    let out = run(&all);
    assert_succeeds(&out);
    serde_json::from_slice(&out.stdout).expect("info --json prints JSON")
}

#[test]
fn text_report_of_count_vowels() {
    let out = run(&["info", &fixture("count_vowels.wasm")]);
    assert_succeeds(&out);
    let text = stdout(&out);
    assert!(text.contains("plug-in functions: count_vowels"), "{text}");
    assert!(text.contains("() -> i32  plug-in function"), "{text}");
    assert!(
        text.contains("extism:host/env (14, Extism kernel)"),
        "{text}"
    );
    assert!(text.contains("17 pages initial"), "{text}");
    assert!(text.contains("imports: all satisfied"), "{text}");
    assert!(!text.contains("warnings:"), "{text}");
}

#[test]
fn json_report_of_count_vowels() {
    let json = info_json(&[&fixture("count_vowels.wasm")]);
    assert_eq!(
        json["plugin_functions"],
        serde_json::json!(["count_vowels"])
    );
    assert_eq!(json["imports_satisfied"], true);
    assert_eq!(json["needs_wasi"], false);
    assert_eq!(json["memory"]["initial_pages"], 17);
    assert_eq!(json["warnings"], serde_json::json!([]));
    let module = &json["modules"][0];
    assert_eq!(module["name"], "main");
    assert_eq!(module["import_modules"]["extism:host/env"], 14);
    let exports = module["exports"].as_array().expect("exports");
    let count = exports
        .iter()
        .find(|e| e["name"] == "count_vowels")
        .expect("count_vowels export");
    assert_eq!(count["plugin_function"], true);
    assert_eq!(count["signature"], "() -> i32");
    let memory = exports
        .iter()
        .find(|e| e["name"] == "memory")
        .expect("memory");
    assert_eq!(memory["plugin_function"], false);
    assert!(module["size"].as_u64().expect("size") > 50_000);
    assert!(module["code_size"].as_u64().expect("code") > 0);
}

#[test]
fn host_functions_are_reported_as_needed() {
    let json = info_json(&[&fixture("limits.wasm")]);
    assert_eq!(json["imports_satisfied"], false);
    assert_eq!(
        json["host_functions_needed"],
        serde_json::json!(["extism:host/user.panic_now"])
    );
    let imports = json["modules"][0]["imports"].as_array().expect("imports");
    let panic_now = imports
        .iter()
        .find(|i| i["name"] == "panic_now")
        .expect("panic_now");
    assert_eq!(panic_now["status"], "needs host function");
    assert_eq!(panic_now["signature"], "(i64) -> i64");
    assert!(json["warnings"][0]
        .as_str()
        .expect("warning")
        .contains("panic_now"));
}

#[test]
fn wasi_imports_warn_without_wasi() {
    let json = info_json(&[&fixture("wasi_fs.wasm")]);
    assert_eq!(json["needs_wasi"], true);
    assert_eq!(json["imports_satisfied"], false);
    let warnings = json["warnings"].to_string();
    assert!(warnings.contains("--wasi"), "{warnings}");

    let json = info_json(&[&fixture("wasi_fs.wasm"), "--wasi"]);
    assert_eq!(json["imports_satisfied"], true);
    assert_eq!(json["warnings"], serde_json::json!([]));
}

#[test]
fn manifests_with_linked_modules() {
    let dir = tempfile::tempdir().expect("tempdir");
    let manifest = dir.path().join("m.json");
    std::fs::write(
        &manifest,
        format!(
            r#"{{"wasm": [{{"path": "{}", "name": "math"}}, {{"path": "{}"}}], "memory": {{"max_pages": 20}}}}"#,
            fixture("link_math.wasm"),
            fixture("link_main.wasm")
        ),
    )
    .expect("write");
    let json = info_json(&[manifest.to_str().expect("path")]);
    assert_eq!(json["is_manifest"], true);
    assert_eq!(json["modules"].as_array().expect("modules").len(), 2);
    assert_eq!(json["plugin_functions"], serde_json::json!(["compute"]));
    assert_eq!(json["imports_satisfied"], true);
    assert_eq!(json["memory"]["initial_pages"], 33);
    assert_eq!(json["manifest"]["memory"]["max_pages"], 20);
    let warnings = json["warnings"].to_string();
    assert!(warnings.contains("33 pages"), "{warnings}");

    let text = stdout(&run(&["info", manifest.to_str().expect("path")]));
    assert!(text.contains("module `math`"), "{text}");
    assert!(text.contains("[module]"), "{text}");
}

#[test]
fn non_plugins_and_garbage() {
    let json = info_json(&[&fixture("link_math.wasm")]);
    assert_eq!(json["plugin_functions"], serde_json::json!([]));
    assert!(json["warnings"]
        .to_string()
        .contains("no plug-in functions"));

    let dir = tempfile::tempdir().expect("tempdir");
    let junk = dir.path().join("junk.wasm");
    std::fs::write(&junk, b"\0asm\x01\0\0\0\x01\xff\xff").expect("write");
    let out = run(&["info", junk.to_str().expect("path")]);
    assert_fails(&out, 3, "malformed");
}
