//! Wasm modules named by URL in the manifest, fetched from a real HTTP server on
//! 127.0.0.1, with method, headers and hash checks.
#![cfg(feature = "http")]

mod support;

use interplug::{HttpRequest, Manifest, Plugin, Wasm};
use std::collections::BTreeMap;
use support::http_server::TestServer;

use interplug_spec_tests::fixtures::{self, bytes as fixture_bytes};

/// A server with `echo.wasm` and `link_math.wasm` under `/files/`.
fn server() -> TestServer {
    let files = BTreeMap::from([
        (String::from("echo.wasm"), fixture_bytes("echo")),
        (String::from("link_math.wasm"), fixture_bytes("link_math")),
    ]);
    TestServer::with_files(files)
}

/// The load error of `source`, as text.
fn load_error(manifest: &Manifest) -> String {
    match Plugin::new(manifest, [], false) {
        Ok(_) => panic!("the plug-in should not load"),
        Err(e) => format!("{e:#}"),
    }
}

/// Asserts the plug-in echoes.
fn assert_echoes(plugin: &mut Plugin) {
    let output: String = plugin.call("echo", "hello over http").expect("echo works");
    assert_eq!(output, "hello over http");
    let output: String = plugin.call("length", "abc").expect("length works");
    assert_eq!(output, "3");
}

#[test]
fn module_from_a_url() {
    let server = server();
    let manifest = Manifest::new([Wasm::url(server.url("/files/echo.wasm"))]);
    let mut plugin = Plugin::new(&manifest, [], false).expect("the URL module loads");
    assert_echoes(&mut plugin);
    assert_eq!(server.paths(), ["/files/echo.wasm"]);
    assert_eq!(server.requests()[0].method, "GET");
}

#[test]
fn hash_is_verified() {
    let server = server();
    let actual = interplug::sources::sha256_hex(&fixture_bytes("echo"));
    let good = Manifest::new([Wasm::url(server.url("/files/echo.wasm")).with_hash(&actual)]);
    let mut plugin = Plugin::new(&good, [], false).expect("the right hash loads");
    assert_echoes(&mut plugin);
    let wrong = "0".repeat(64);
    let bad = Manifest::new([Wasm::url(server.url("/files/echo.wasm")).with_hash(&wrong)]);
    let message = load_error(&bad);
    assert!(
        message.contains(&format!(
            "hash mismatch for module `main`: the manifest expects {wrong}, the module's \
             SHA-256 is {actual}"
        )),
        "{message}"
    );
}

#[test]
fn method_and_headers_from_the_manifest_are_sent() {
    let server = server();
    let json = format!(
        r#"{{"wasm": [{{"url": "{}", "method": "POST",
             "headers": {{"Authorization": "Bearer letmein"}}}}]}}"#,
        server.url("/guarded/echo.wasm")
    );
    let mut plugin = Plugin::new(json.as_str(), [], false).expect("the guarded module loads");
    assert_echoes(&mut plugin);
    let request = &server.requests()[0];
    assert_eq!(request.method, "POST");
    assert_eq!(
        request.headers.get("authorization").map(String::as_str),
        Some("Bearer letmein")
    );
    // The same URL without the header is refused by the server.
    let url = server.url("/guarded/echo.wasm");
    let manifest = Manifest::new([Wasm::Url {
        req: HttpRequest::new(&url).with_method("POST"),
        meta: Default::default(),
    }]);
    let message = load_error(&manifest);
    assert!(
        message.contains(&format!(
            "cannot fetch wasm from {url}: the server answered 401 Unauthorized; check the URL, \
             method and headers in the manifest"
        )),
        "{message}"
    );
}

#[test]
fn missing_module_is_a_clear_error() {
    let server = server();
    let url = server.url("/files/nope.wasm");
    let message = load_error(&Manifest::new([Wasm::url(&url)]));
    assert!(
        message.contains(&format!(
            "cannot fetch wasm from {url}: the server answered 404 Not Found"
        )),
        "{message}"
    );
}

#[test]
fn redirects_are_followed_for_modules() {
    let server = server();
    let manifest = Manifest::new([Wasm::url(server.url("/redirect-file/echo.wasm"))]);
    let mut plugin = Plugin::new(&manifest, [], false).expect("the redirected module loads");
    assert_echoes(&mut plugin);
    assert_eq!(
        server.paths(),
        ["/redirect-file/echo.wasm", "/files/echo.wasm"]
    );
}

#[test]
fn url_module_links_with_a_file_module() {
    let server = server();
    let manifest = Manifest::new([
        Wasm::url(server.url("/files/link_math.wasm")).with_name("math"),
        Wasm::file(fixtures::path("link_main").display().to_string()),
    ]);
    let mut plugin = Plugin::new(&manifest, [], false).expect("linked modules load");
    let output: String = plugin.call("compute", "6,7").expect("compute works");
    assert_eq!(output, "sum=13 product=42");
}

#[test]
fn bad_urls_fail_to_load() {
    let server = server();
    let closed_port = std::net::TcpListener::bind("127.0.0.1:0")
        .and_then(|l| l.local_addr())
        .map(|a| a.port())
        .expect("a free port");
    let unreachable = format!("http://127.0.0.1:{closed_port}/echo.wasm");
    let ftp = format!("ftp://127.0.0.1:{}/files/echo.wasm", server.port);
    let cases = [
        (
            "not a url".to_string(),
            "invalid URL `not a url`".to_string(),
        ),
        (
            "file:///etc/passwd".to_string(),
            "the scheme `file` is not allowed".to_string(),
        ),
        (ftp, "the scheme `ftp` is not allowed".to_string()),
        (
            unreachable.clone(),
            format!("HTTP request to {unreachable} failed"),
        ),
    ];
    for (url, expected) in cases {
        let message = load_error(&Manifest::new([Wasm::url(&url)]));
        assert!(
            message.contains(&format!("cannot fetch wasm from {url}: ")),
            "{message}"
        );
        assert!(message.contains(&expected), "{message}");
    }
    assert!(server.paths().is_empty(), "{:?}", server.paths());
}

#[test]
fn a_url_that_serves_no_wasm_fails_to_load() {
    let server = server();
    let message = load_error(&Manifest::new([Wasm::url(server.url("/hello"))]));
    assert!(
        message.contains("module `main` is neither a wasm binary nor wasm text"),
        "{message}"
    );
}

#[test]
fn a_download_over_the_module_cap_is_refused_without_reading_it() {
    use interplug::ErrorExt;
    let server = server();
    let too_big = interplug::sources::DEFAULT_MAX_MODULE_BYTES + 1;
    let manifest = Manifest::new([Wasm::url(server.url(&format!("/bytes/{too_big}")))]);
    let started = std::time::Instant::now();
    let error = match Plugin::new(&manifest, [], false) {
        Ok(_) => panic!("the plug-in should not load"),
        Err(error) => error,
    };
    assert_eq!(
        error.kind(),
        interplug::ErrorKind::LimitExceeded,
        "{error:#}"
    );
    assert!(format!("{error:#}").contains("larger than"), "{error:#}");
    assert!(started.elapsed() < std::time::Duration::from_secs(5));
}
