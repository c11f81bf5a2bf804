//! `http_request` against a real HTTP server on 127.0.0.1, through the `http.wasm`
//! fixture (official Rust PDK) and a small WAT module for malformed requests.
//!
//! Every test checks exact outputs or error substrings, and that the plug-in still
//! answers the next call.
#![cfg(feature = "http")]

mod support;

use interplug::{Manifest, MemoryOptions, Plugin, PluginBuilder, Wasm};
use serde_json::{json, Value};
use std::time::{Duration, Instant};
use support::cancel_after;
use support::http_server::TestServer;

/// The body `/hello` answers.
const HELLO: &str = "hello from the test server";

/// The `http.wasm` fixture.
fn http_wasm() -> Wasm {
    Wasm::file(
        interplug_spec_tests::fixtures::path("http")
            .display()
            .to_string(),
    )
}

/// A manifest for `http.wasm` allowing `hosts`.
fn manifest(hosts: &[&str]) -> Manifest {
    hosts
        .iter()
        .fold(Manifest::new([http_wasm()]), |m, h| m.with_allowed_host(*h))
}

/// A plug-in from `manifest`.
fn plugin(manifest: &Manifest) -> Plugin {
    Plugin::new(manifest, [], false).expect("the plug-in loads")
}

/// The fixture's input for a request.
fn request(url: &str, method: Option<&str>, headers: Value, body: Option<&str>) -> String {
    let mut input = json!({ "url": url, "headers": headers });
    if let Some(method) = method {
        input["method"] = json!(method);
    }
    if let Some(body) = body {
        input["body"] = json!(body);
    }
    input.to_string()
}

/// A GET request with no headers.
fn get(url: &str) -> String {
    request(url, None, json!({}), None)
}

/// Calls the fixture; the output text or the error text.
fn call(plugin: &mut Plugin, input: &str) -> Result<String, String> {
    plugin
        .call::<&str, String>("http_request", input)
        .map_err(|e| format!("{e:#}"))
}

/// The output of a call that must succeed, parsed.
fn ok(plugin: &mut Plugin, input: &str) -> Value {
    let output = call(plugin, input).unwrap_or_else(|e| panic!("call failed: {e}"));
    serde_json::from_str(&output).unwrap_or_else(|e| panic!("output {output:?}: {e}"))
}

/// The error of a call that must fail.
fn err(plugin: &mut Plugin, input: &str) -> String {
    match call(plugin, input) {
        Ok(output) => panic!("expected an error, got {output}"),
        Err(message) => message,
    }
}

/// Asserts `message` contains every one of `parts`.
fn assert_contains(message: &str, parts: &[&str]) {
    for part in parts {
        assert!(message.contains(part), "`{part}` not in: {message}");
    }
}

/// The plug-in still works: `/hello` answers exactly.
fn assert_usable(plugin: &mut Plugin, server: &TestServer) {
    let output = call(plugin, &get(&server.url("/hello"))).expect("the next call works");
    assert_eq!(
        output,
        format!(r#"{{"status":200,"body":"{HELLO}","headers":{{}}}}"#)
    );
}

#[test]
fn get_from_an_allowed_host() {
    let server = TestServer::start();
    let mut plugin = plugin(&manifest(&["127.0.0.1"]));
    let output = call(&mut plugin, &get(&server.url("/hello"))).expect("GET works");
    assert_eq!(
        output,
        r#"{"status":200,"body":"hello from the test server","headers":{}}"#
    );
    assert_eq!(server.paths(), ["/hello"]);
    let request = &server.requests()[0];
    assert_eq!(request.method, "GET");
    assert!(request.body.is_empty());
    assert_usable(&mut plugin, &server);
}

#[test]
fn response_headers_only_when_enabled() {
    let server = TestServer::start();
    let mut plugin = PluginBuilder::new(manifest(&["127.0.0.1"]))
        .with_http_response_headers(true)
        .build()
        .expect("the plug-in loads");
    let output = ok(&mut plugin, &get(&server.url("/hello")));
    assert_eq!(
        output["headers"],
        json!({
            "connection": "close",
            "content-length": "26",
            "content-type": "text/plain",
            "x-test": "yes",
        })
    );
    plugin.allow_http_response_headers(false);
    assert_usable(&mut plugin, &server);
}

#[test]
fn no_allowed_hosts_means_no_http() {
    let server = TestServer::start();
    for manifest in [manifest(&[]), manifest(&[]).disallow_all_hosts()] {
        let mut plugin = plugin(&manifest);
        let message = err(&mut plugin, &get(&server.url("/hello")));
        assert_contains(
            &message,
            &["is not allowed", "allowed_hosts is absent or empty"],
        );
        // Still usable: the next call fails the same way, it does not trap or hang.
        let again = err(&mut plugin, &get(&server.url("/hello")));
        assert_contains(&again, &["is not allowed"]);
    }
    assert!(server.paths().is_empty(), "{:?}", server.paths());
}

#[test]
fn denied_host_is_never_contacted() {
    let server = TestServer::start();
    let mut plugin = plugin(&manifest(&["*.example", "api.service.io"]));
    let message = err(&mut plugin, &get(&server.url("/hello")));
    assert_contains(
        &message,
        &[
            "HTTP request to http://127.0.0.1:",
            "is not allowed",
            "host `127.0.0.1` matches no pattern",
        ],
    );
    let message = err(&mut plugin, &get(&server.localhost_url("/hello")));
    assert_contains(&message, &["host `localhost` matches no pattern"]);
    assert!(server.paths().is_empty(), "{:?}", server.paths());
}

#[test]
fn glob_patterns_match_hosts() {
    let server = TestServer::start();
    let allowed = [
        ("127.0.0.*", server.url("/hello")),
        ("127.0.0.?", server.url("/hello")),
        ("*", server.url("/hello")),
        // `*` crosses dots, as in Extism: `127.*` allows 127.0.0.1.
        ("127.*", server.url("/hello")),
        ("local*", server.localhost_url("/hello")),
        ("LOCALHOST", server.localhost_url("/hello")),
        ("{localhost,*.example}", server.localhost_url("/hello")),
    ];
    for (pattern, url) in allowed {
        let mut plugin = plugin(&manifest(&["*.example", pattern]));
        let output = ok(&mut plugin, &get(&url));
        assert_eq!(output["status"], 200, "pattern {pattern}");
        assert_eq!(output["body"], HELLO, "pattern {pattern}");
    }
    let denied = [
        ("*.example", server.localhost_url("/hello")),
        ("10.*", server.url("/hello")),
        ("127.0.0.1.*", server.url("/hello")),
        ("localhost", server.url("/hello")),
    ];
    let before = server.paths().len();
    for (pattern, url) in denied {
        let mut plugin = plugin(&manifest(&[pattern]));
        let message = err(&mut plugin, &get(&url));
        assert_contains(&message, &["is not allowed", "matches no pattern"]);
    }
    assert_eq!(server.paths().len(), before);
}

#[test]
fn invalid_glob_pattern_is_a_clear_error() {
    let server = TestServer::start();
    let mut plugin = plugin(&manifest(&["[127"]));
    let message = err(&mut plugin, &get(&server.url("/hello")));
    assert_contains(
        &message,
        &["allowed_hosts pattern `[127` is not a valid glob"],
    );
    assert!(server.paths().is_empty());
}

#[test]
fn post_with_body_and_headers() {
    let server = TestServer::start();
    let mut plugin = plugin(&manifest(&["127.0.0.1"]));
    let input = request(
        &server.url("/echo"),
        Some("POST"),
        json!({"X-Custom": "abc", "Content-Type": "text/plain"}),
        Some("payload with\nnewline"),
    );
    let output = ok(&mut plugin, &input);
    assert_eq!(output["status"], 200);
    let body = output["body"].as_str().expect("body text");
    assert!(body.starts_with("POST /echo\n"), "{body}");
    assert_contains(
        body,
        &[
            "x-custom: abc\n",
            "content-type: text/plain\n",
            "content-length: 20\n",
        ],
    );
    assert!(body.ends_with("\n\npayload with\nnewline"), "{body}");
    let received = &server.requests()[0];
    assert_eq!(received.method, "POST");
    assert_eq!(received.body, b"payload with\nnewline");
    assert_eq!(
        received.headers.get("x-custom").map(String::as_str),
        Some("abc")
    );
    assert_usable(&mut plugin, &server);
}

#[test]
fn other_methods_are_sent_as_given() {
    let server = TestServer::start();
    let mut plugin = plugin(&manifest(&["127.0.0.1"]));
    for method in ["PUT", "DELETE", "PATCH", "delete"] {
        let output = ok(
            &mut plugin,
            &request(&server.url("/echo"), Some(method), json!({}), Some("x")),
        );
        let body = output["body"].as_str().expect("body text");
        let expected = format!("{} /echo\n", method.to_ascii_uppercase());
        assert!(body.starts_with(&expected), "{body}");
    }
}

#[test]
fn error_statuses_are_answers_not_errors() {
    let server = TestServer::start();
    let mut plugin = plugin(&manifest(&["127.0.0.1"]));
    let output = call(&mut plugin, &get(&server.url("/missing"))).expect("404 is an answer");
    assert_eq!(output, r#"{"status":404,"body":"not found","headers":{}}"#);
    let output = call(&mut plugin, &get(&server.url("/status/500"))).expect("500 is an answer");
    assert_eq!(output, r#"{"status":500,"body":"status 500","headers":{}}"#);
    let output = call(&mut plugin, &get(&server.url("/status/201"))).expect("201 is an answer");
    assert_eq!(output, r#"{"status":201,"body":"status 201","headers":{}}"#);
    let output = call(&mut plugin, &get(&server.url("/bytes/0"))).expect("empty body");
    assert_eq!(output, r#"{"status":200,"body":"","headers":{}}"#);
    assert_usable(&mut plugin, &server);
}

#[test]
fn redirects_inside_the_allow_list_are_followed() {
    let server = TestServer::start();
    let mut plugin = plugin(&manifest(&["127.0.0.1"]));
    let output = call(&mut plugin, &get(&server.url("/redirect/hello"))).expect("followed");
    assert_eq!(
        output,
        r#"{"status":200,"body":"hello from the test server","headers":{}}"#
    );
    assert_eq!(server.paths(), ["/redirect/hello", "/hello"]);
}

#[test]
fn redirects_out_of_the_allow_list_are_refused() {
    let server = TestServer::start();
    let mut plugin = plugin(&manifest(&["127.0.0.1"]));
    let message = err(&mut plugin, &get(&server.url("/redirect/out")));
    assert_contains(
        &message,
        &[
            "HTTP request to http://evil.test/stolen (redirected from http://127.0.0.1:",
            "is not allowed",
            "host `evil.test` matches no pattern",
        ],
    );
    let message = err(&mut plugin, &get(&server.url("/redirect/file")));
    assert_contains(
        &message,
        &["redirected", "the scheme `file` is not allowed"],
    );
    assert_usable(&mut plugin, &server);
}

#[test]
fn redirect_loops_stop() {
    let server = TestServer::start();
    let mut plugin = plugin(&manifest(&["127.0.0.1"]));
    let message = err(&mut plugin, &get(&server.url("/redirect/loop")));
    assert_contains(&message, &["more than 5 redirects"]);
    assert_eq!(server.paths().len(), 6, "{:?}", server.paths());
    assert_usable(&mut plugin, &server);
}

#[test]
fn redirect_methods_follow_the_status() {
    let server = TestServer::start();
    let mut plugin = plugin(&manifest(&["127.0.0.1"]));
    let see_other = request(
        &server.url("/redirect/see-other"),
        Some("POST"),
        json!({}),
        Some("data"),
    );
    let output = ok(&mut plugin, &see_other);
    let body = output["body"].as_str().expect("body text");
    assert!(body.starts_with("GET /echo\n"), "{body}");
    assert!(body.ends_with("\n\n"), "{body}");
    let keep = request(
        &server.url("/redirect/keep"),
        Some("POST"),
        json!({}),
        Some("data"),
    );
    let output = ok(&mut plugin, &keep);
    let body = output["body"].as_str().expect("body text");
    assert!(body.starts_with("POST /echo\n"), "{body}");
    assert!(body.ends_with("\n\ndata"), "{body}");
}

#[test]
fn response_body_over_the_cap_fails_the_call() {
    let server = TestServer::start();
    let manifest = manifest(&["127.0.0.1"]).with_memory_options(MemoryOptions {
        max_http_response_bytes: Some(1000),
        ..MemoryOptions::default()
    });
    let mut plugin = plugin(&manifest);
    let output = ok(&mut plugin, &get(&server.url("/bytes/1000")));
    assert_eq!(output["body"], "x".repeat(1000));
    let message = err(&mut plugin, &get(&server.url("/bytes/1001")));
    assert_contains(
        &message,
        &["is too large: 1001 bytes, more than memory.max_http_response_bytes = 1000; raise"],
    );
    // Without a Content-Length the cap holds while reading.
    let output = ok(&mut plugin, &get(&server.url("/stream/1000")));
    assert_eq!(output["body"], "x".repeat(1000));
    for path in ["/stream/1001", "/stream/5000000"] {
        let message = err(&mut plugin, &get(&server.url(path)));
        assert_contains(
            &message,
            &["is too large: more than memory.max_http_response_bytes = 1000; raise"],
        );
    }
    assert_usable(&mut plugin, &server);
}

#[test]
fn announced_huge_body_fails_without_reading_it() {
    let server = TestServer::start();
    let mut plugin = plugin(&manifest(&["127.0.0.1"]));
    let start = Instant::now();
    let message = err(&mut plugin, &get(&server.url("/claims/100000000")));
    assert_contains(
        &message,
        &[
            "is too large: 100000000 bytes, more than memory.max_http_response_bytes = \
             52428800",
        ],
    );
    // The server sends 10 bytes, then stays silent for 5 s: the client did not wait.
    assert!(
        start.elapsed() < Duration::from_secs(3),
        "{:?}",
        start.elapsed()
    );
    assert_usable(&mut plugin, &server);
}

#[test]
fn response_over_the_memory_budget_is_oom() {
    let server = TestServer::start();
    let manifest = manifest(&["127.0.0.1"]).with_memory_max(40);
    let mut plugin = plugin(&manifest);
    let message = err(&mut plugin, &get(&server.url("/bytes/4000000")));
    assert_contains(&message, &["oom"]);
    assert_usable(&mut plugin, &server);
}

#[test]
fn slow_server_hits_the_call_timeout() {
    let server = TestServer::start();
    let manifest = manifest(&["127.0.0.1"]).with_timeout(Duration::from_millis(500));
    let mut plugin = plugin(&manifest);
    let start = Instant::now();
    let message = err(&mut plugin, &get(&server.url("/slow/4000")));
    let elapsed = start.elapsed();
    assert_contains(
        &message,
        &[
            "timeout: the HTTP request to http://127.0.0.1:",
            "/slow/4000 did not finish",
        ],
    );
    assert_contains(&message, &["(timeout_ms = 500)"]);
    assert!(elapsed >= Duration::from_millis(400), "{elapsed:?}");
    assert!(elapsed < Duration::from_millis(2500), "{elapsed:?}");
    let output = ok(&mut plugin, &get(&server.url("/slow/50")));
    assert_eq!(output["body"], "slow");
    assert_usable(&mut plugin, &server);
}

#[test]
fn bad_urls_and_schemes_are_refused() {
    let server = TestServer::start();
    let mut plugin = plugin(&manifest(&["*"]));
    let cases = [
        ("not a url".to_string(), "invalid URL `not a url`"),
        ("http://".to_string(), "invalid URL `http://`"),
        ("/hello".to_string(), "invalid URL `/hello`"),
        ("http://exa mple.com/".to_string(), "invalid URL"),
        (
            "file:///etc/passwd".to_string(),
            "the scheme `file` is not allowed",
        ),
        (
            format!("ftp://127.0.0.1:{}/x", server.port),
            "the scheme `ftp` is not allowed",
        ),
        (
            "gopher://localhost/".to_string(),
            "the scheme `gopher` is not allowed",
        ),
    ];
    for (url, expected) in cases {
        let message = err(&mut plugin, &get(&url));
        assert_contains(&message, &[expected]);
    }
    assert!(server.paths().is_empty(), "{:?}", server.paths());
    assert_usable(&mut plugin, &server);
}

#[test]
fn bad_methods_and_headers_are_refused() {
    let server = TestServer::start();
    let mut plugin = plugin(&manifest(&["127.0.0.1"]));
    let message = err(
        &mut plugin,
        &request(&server.url("/echo"), Some("GE T"), json!({}), None),
    );
    assert_contains(&message, &["invalid HTTP method `GE T`"]);
    let message = err(
        &mut plugin,
        &request(&server.url("/echo"), None, json!({"bad name": "x"}), None),
    );
    assert_contains(&message, &["invalid HTTP request to http://127.0.0.1:"]);
    let message = err(
        &mut plugin,
        &request(
            &server.url("/echo"),
            None,
            json!({"x-ok": "bad\nvalue"}),
            None,
        ),
    );
    assert_contains(&message, &["invalid HTTP request"]);
    assert!(server.paths().is_empty(), "{:?}", server.paths());
    assert_usable(&mut plugin, &server);
}

#[test]
fn unreachable_server_is_a_clear_error() {
    let server = TestServer::start();
    let closed_port = std::net::TcpListener::bind("127.0.0.1:0")
        .and_then(|l| l.local_addr())
        .map(|a| a.port())
        .expect("a free port");
    let mut plugin = plugin(&manifest(&["127.0.0.1"]));
    let url = format!("http://127.0.0.1:{closed_port}/hello");
    let message = err(&mut plugin, &get(&url));
    assert_contains(&message, &[&format!("HTTP request to {url} failed")]);
    assert_usable(&mut plugin, &server);
}

/// A module that passes its raw input to `http_request` as the request JSON and
/// outputs the response body.
const RAW_REQUEST_WAT: &str = r#"
(module
  (import "extism:host/env" "input_offset" (func $input_offset (result i64)))
  (import "extism:host/env" "http_request" (func $http_request (param i64 i64) (result i64)))
  (import "extism:host/env" "length" (func $length (param i64) (result i64)))
  (import "extism:host/env" "output_set" (func $output_set (param i64 i64)))
  (func (export "raw_request") (result i32)
    (local $response i64)
    (local.set $response (call $http_request (call $input_offset) (i64.const 0)))
    (call $output_set (local.get $response) (call $length (local.get $response)))
    (i32.const 0)))
"#;

#[test]
fn malformed_request_json_from_a_plugin() {
    let server = TestServer::start();
    let manifest = Manifest::new([Wasm::data(RAW_REQUEST_WAT.as_bytes().to_vec())])
        .with_allowed_host("127.0.0.1");
    let mut plugin = plugin(&manifest);
    let mut raw = |input: &str| {
        plugin
            .call::<&str, String>("raw_request", input)
            .map_err(|e| format!("{e:#}"))
    };
    for input in [
        "not json",
        r#"{"url": 5}"#,
        r#"{"method": "GET"}"#,
        r#"{"url": "http://127.0.0.1/", "headers": "x"}"#,
        r#"{"url": "http://127.0.0.1/", "extra": 1}"#,
    ] {
        let message = raw(input).expect_err(input);
        assert_contains(&message, &["invalid HTTP request JSON from the plug-in"]);
    }
    let message = raw("").expect_err("no request block");
    assert_contains(&message, &["the request handle 0 is not a memory block"]);
    let valid = format!(r#"{{"url": "{}"}}"#, server.url("/hello"));
    assert_eq!(raw(&valid).expect("a valid request works"), HELLO);
    let empty = format!(r#"{{"url": "{}"}}"#, server.url("/bytes/0"));
    assert_eq!(raw(&empty).expect("an empty body is handle 0"), "");
    assert_eq!(server.paths(), ["/hello", "/bytes/0"]);
}

/// The kind and message of a call's error, and how long the call took.
fn timed_error(plugin: &mut Plugin, input: &str) -> (interplug::ErrorKind, String, Duration) {
    use interplug::ErrorExt;
    let started = Instant::now();
    let result = plugin.call::<&str, String>("http_request", input);
    let took = started.elapsed();
    match result {
        Ok(output) => panic!("expected an error, got {output}"),
        Err(error) => (error.kind(), format!("{error:#}"), took),
    }
}

#[test]
fn cancel_ends_a_trickling_response() {
    let server = TestServer::start();
    let mut plugin = plugin(&manifest(&["127.0.0.1"]));
    let canceller = cancel_after(&plugin, Duration::from_millis(400));
    let (kind, message, took) = timed_error(&mut plugin, &get(&server.url("/trickle/120")));
    canceller.join();
    eprintln!("a trickling response cancelled at 400 ms ended after {took:?}");
    assert_eq!(kind, interplug::ErrorKind::Cancelled, "{message}");
    assert_contains(&message, &["cancelled", "/trickle/120"]);
    assert!(took < Duration::from_millis(1400), "the call took {took:?}");
    assert_usable(&mut plugin, &server);
}

#[test]
fn cancel_ends_a_request_the_server_never_answers() {
    let server = TestServer::start();
    let mut plugin = plugin(&manifest(&["127.0.0.1"]));
    let canceller = cancel_after(&plugin, Duration::from_millis(400));
    let (kind, message, took) = timed_error(&mut plugin, &get(&server.url("/slow/8000")));
    canceller.join();
    assert_eq!(kind, interplug::ErrorKind::Cancelled, "{message}");
    assert!(took < Duration::from_millis(1400), "the call took {took:?}");
    assert_usable(&mut plugin, &server);
}

#[test]
fn timeout_ends_a_trickling_response() {
    let server = TestServer::start();
    let manifest = manifest(&["127.0.0.1"]).with_timeout(Duration::from_millis(400));
    let mut plugin = plugin(&manifest);
    let (kind, message, took) = timed_error(&mut plugin, &get(&server.url("/trickle/120")));
    eprintln!("a trickling response under timeout_ms = 400 ended after {took:?}");
    assert_eq!(kind, interplug::ErrorKind::Timeout, "{message}");
    assert_contains(&message, &["timeout", "/trickle/120"]);
    assert!(took < Duration::from_millis(1400), "the call took {took:?}");
    assert_usable(&mut plugin, &server);
}

#[test]
fn a_host_header_naming_another_host_is_refused() {
    let server = TestServer::start();
    let mut plugin = plugin(&manifest(&["127.0.0.1"]));
    let input = request(
        &server.url("/echo"),
        None,
        json!({ "Host": "internal.admin.test" }),
        None,
    );
    let (kind, message, _) = timed_error(&mut plugin, &input);
    assert_eq!(kind, interplug::ErrorKind::PermissionDenied, "{message}");
    assert_contains(&message, &["Host: internal.admin.test", "refused"]);
    assert!(server.paths().is_empty(), "the server was contacted");
    // The URL's own host is allowed (and sent once, by the client).
    let own = format!("127.0.0.1:{}", server.port);
    let output = ok(
        &mut plugin,
        &request(&server.url("/echo"), None, json!({ "host": own }), None),
    );
    let body = output["body"].as_str().unwrap_or_default();
    assert_eq!(body.matches("host: ").count(), 1, "{body}");
    assert!(body.contains(&format!("host: {own}")), "{body}");
    assert_usable(&mut plugin, &server);
}

#[test]
fn hop_by_hop_headers_from_a_plugin_are_dropped() {
    let server = TestServer::start();
    let mut plugin = plugin(&manifest(&["127.0.0.1"]));
    let headers = json!({
        "Transfer-Encoding": "chunked",
        "Connection": "Upgrade",
        "Upgrade": "h2c",
        "X-Kept": "yes",
    });
    let output = ok(
        &mut plugin,
        &request(&server.url("/echo"), Some("POST"), headers, Some("body")),
    );
    let body = output["body"].as_str().unwrap_or_default();
    assert!(body.contains("x-kept: yes"), "{body}");
    assert!(!body.contains("transfer-encoding"), "{body}");
    assert!(!body.contains("upgrade: h2c"), "{body}");
    assert!(body.ends_with("\nbody"), "{body}");
}
