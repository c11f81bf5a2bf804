//! `http_request` and wasm modules from URLs.
//!
//! With the `http` feature, requests go through a blocking `ureq` client:
//!
//! - only `http` and `https` URLs, only to hosts matching a glob of the manifest's
//!   `allowed_hosts` (absent or empty: no HTTP at all);
//! - redirects are followed here, not by the client, so every hop is checked against
//!   the allow-list again (at most [`MAX_REDIRECTS`]);
//! - the response body is read up to `memory.max_http_response_bytes` plus one byte;
//!   a larger body fails the call without buffering more;
//! - the timeout is what is left of the call's `timeout_ms`;
//! - non-2xx statuses are answers for the plug-in, not errors.
//!
//! Without the feature, every request and every URL module is refused with an error
//! that says so.

use crate::{current_plugin::CurrentPlugin, manifest::HttpRequest, Error};
use alloc::vec::Vec;

/// Default cap on an HTTP response body (50 MiB).
#[cfg_attr(not(feature = "http"), allow(dead_code))]
pub const DEFAULT_MAX_HTTP_RESPONSE_BYTES: u64 = 50 << 20;

/// Redirects followed for one request before giving up.
#[cfg_attr(not(feature = "http"), allow(dead_code))]
pub const MAX_REDIRECTS: usize = 5;

/// Serves a plug-in's `http_request(req, body)`: returns the response body handle
/// (0 for an empty body). Frees `req` and `body`.
pub(crate) fn request(state: &mut CurrentPlugin, req: u64, body: u64) -> Result<i64, Error> {
    let request_bytes = state.memory.block(req).map_err(|e| {
        anyhow::anyhow!("http_request: the request handle {req} is not a memory block: {e}")
    })?;
    let request: HttpRequest = serde_json::from_slice(request_bytes).map_err(|e| {
        anyhow::anyhow!(
            "invalid HTTP request JSON from the plug-in: {e}; expected \
             {{\"url\": \"...\", \"method\": \"GET\", \"headers\": {{}}}}"
        )
    })?;
    let body_bytes = match body {
        0 => None,
        handle => Some(
            state
                .memory
                .block(handle)
                .map_err(|e| {
                    anyhow::anyhow!(
                        "http_request: the body handle {handle} is not a memory block: {e}"
                    )
                })?
                .to_vec(),
        ),
    };
    state.memory.free(req);
    state.memory.free(body);
    perform(state, request, body_bytes)
}

#[cfg(feature = "http")]
use client::perform;

/// Without the `http` feature every request is refused.
#[cfg(not(feature = "http"))]
fn perform(
    _state: &mut CurrentPlugin,
    request: HttpRequest,
    _body: Option<Vec<u8>>,
) -> Result<i64, Error> {
    anyhow::bail!(
        "HTTP request to {} refused: this build of interplug has no HTTP client (enable the \
         `http` feature)",
        request.url
    )
}

/// Fetches a wasm module named by URL in a manifest.
#[cfg(feature = "http")]
pub(crate) fn fetch_module(req: &HttpRequest) -> Result<Vec<u8>, Error> {
    client::fetch_module(req)
}

/// Without the `http` feature, URL modules cannot be loaded.
#[cfg(not(feature = "http"))]
pub(crate) fn fetch_module(req: &HttpRequest) -> Result<Vec<u8>, Error> {
    anyhow::bail!(
        "cannot fetch wasm from {}: this build of interplug has no HTTP client (enable the \
         `http` feature, or download the module and use a file or data source)",
        req.url
    )
}

#[cfg(feature = "http")]
mod client {
    //! The real client, on `ureq`.

    use super::{DEFAULT_MAX_HTTP_RESPONSE_BYTES, MAX_REDIRECTS};
    use crate::{current_plugin::CurrentPlugin, manifest::HttpRequest, Error};
    use std::{
        collections::BTreeMap,
        io::Read,
        string::{String, ToString},
        sync::OnceLock,
        time::Duration,
        vec::Vec,
    };
    use ureq::http::{self, header, Method, Uri};

    /// Largest wasm module fetched from a URL.
    const MAX_MODULE_BYTES: u64 = 1 << 30;

    /// Time limit for fetching a wasm module.
    const MODULE_FETCH_TIMEOUT: Duration = Duration::from_secs(300);

    /// Headers dropped when a redirect goes to another origin.
    const CREDENTIAL_HEADERS: [&str; 3] = ["authorization", "cookie", "proxy-authorization"];

    /// One request to send: the first one, or a redirect.
    struct Hop {
        url: String,
        uri: Uri,
        method: Method,
        headers: BTreeMap<String, String>,
        body: Option<Vec<u8>>,
    }

    /// The client shared by every plug-in request: no automatic redirects, statuses
    /// are not errors, no proxy from the environment (as the official runtime).
    fn plugin_agent() -> &'static ureq::Agent {
        static AGENT: OnceLock<ureq::Agent> = OnceLock::new();
        AGENT.get_or_init(|| {
            ureq::Agent::config_builder()
                .http_status_as_error(false)
                .max_redirects(0)
                .proxy(None)
                .allow_non_standard_methods(true)
                .user_agent(concat!("interplug/", env!("CARGO_PKG_VERSION")))
                .build()
                .into()
        })
    }

    /// Performs a plug-in's request under the manifest's rules; returns the handle
    /// of the response body block.
    pub(crate) fn perform(
        state: &mut CurrentPlugin,
        request: HttpRequest,
        body: Option<Vec<u8>>,
    ) -> Result<i64, Error> {
        let manifest = state.manifest.clone();
        let patterns = manifest.allowed_hosts.as_deref().unwrap_or_default();
        let cap = manifest
            .memory
            .max_http_response_bytes
            .unwrap_or(DEFAULT_MAX_HTTP_RESPONSE_BYTES);
        let original = request.url.clone();
        let mut hop = first_hop(request, body)?;
        for redirects in 0..=MAX_REDIRECTS {
            check_allowed(patterns, &hop, &original)?;
            let timeout = remaining_time(state, &hop.url)?;
            let response = send(plugin_agent(), &hop, timeout, manifest.timeout_ms)?;
            match next_hop(&hop, &response)? {
                None => return finish(state, &hop.url, response, cap),
                Some(_) if redirects == MAX_REDIRECTS => break,
                Some(next) => hop = next,
            }
        }
        anyhow::bail!(
            "HTTP request to {original} failed: more than {MAX_REDIRECTS} redirects (the last \
             to {})",
            hop.url
        )
    }

    /// Validates the plug-in's request and makes it the first hop.
    fn first_hop(request: HttpRequest, body: Option<Vec<u8>>) -> Result<Hop, Error> {
        let uri = parse_url(&request.url)?;
        let method = parse_method(request.method.as_deref())?;
        Ok(Hop {
            url: request.url,
            uri,
            method,
            headers: request.headers,
            body,
        })
    }

    /// The scheme of `url` when it starts with one (`scheme:`).
    fn scheme_of(url: &str) -> Option<&str> {
        let end = url.find(':')?;
        let scheme = &url[..end];
        let mut chars = scheme.chars();
        let valid = chars.next().is_some_and(|c| c.is_ascii_alphabetic())
            && chars.all(|c| c.is_ascii_alphanumeric() || matches!(c, '+' | '-' | '.'));
        valid.then_some(scheme)
    }

    /// Parses an absolute `http`/`https` URL with a host.
    fn parse_url(url: &str) -> Result<Uri, Error> {
        match scheme_of(url) {
            Some(scheme)
                if scheme.eq_ignore_ascii_case("http") || scheme.eq_ignore_ascii_case("https") => {}
            Some(scheme) => anyhow::bail!(
                "HTTP request to {url} refused: the scheme `{scheme}` is not allowed, only http \
                 and https URLs are"
            ),
            None => {
                anyhow::bail!("invalid URL `{url}`: expected an absolute http:// or https:// URL")
            }
        }
        let uri: Uri = url.parse().map_err(|e| {
            anyhow::anyhow!(
                "invalid URL `{url}`: {e}; expected an absolute http:// or https:// URL"
            )
        })?;
        if uri.host().is_none_or(str::is_empty) {
            anyhow::bail!("invalid URL `{url}`: it names no host");
        }
        Ok(uri)
    }

    /// The request method; GET when absent.
    fn parse_method(method: Option<&str>) -> Result<Method, Error> {
        let text = method.unwrap_or("GET").to_ascii_uppercase();
        Method::from_bytes(text.as_bytes())
            .map_err(|e| anyhow::anyhow!("invalid HTTP method `{text}` from the plug-in: {e}"))
    }

    /// The host of a URI as patterns see it: lowercase, IPv6 without brackets.
    fn host_of(uri: &Uri) -> String {
        let host = uri.host().unwrap_or_default();
        let host = host
            .strip_prefix('[')
            .and_then(|h| h.strip_suffix(']'))
            .unwrap_or(host);
        host.to_ascii_lowercase()
    }

    /// Fails unless the hop's host matches one of `patterns`.
    fn check_allowed(patterns: &[String], hop: &Hop, original: &str) -> Result<(), Error> {
        let via = if hop.url == original {
            String::new()
        } else {
            format!(" (redirected from {original})")
        };
        if patterns.is_empty() {
            anyhow::bail!(
                "HTTP request to {}{via} is not allowed: the manifest's allowed_hosts is absent \
                 or empty, so this plug-in may not use HTTP; add the host to allowed_hosts",
                hop.url
            );
        }
        let host = host_of(&hop.uri);
        for pattern in patterns {
            if host_matches(pattern, &host)? {
                return Ok(());
            }
        }
        anyhow::bail!(
            "HTTP request to {}{via} is not allowed: host `{host}` matches no pattern of \
             allowed_hosts {patterns:?}; add it to the manifest's allowed_hosts",
            hop.url
        )
    }

    /// True when `host` matches the glob `pattern` (case-insensitive).
    fn host_matches(pattern: &str, host: &str) -> Result<bool, Error> {
        let glob = globset::GlobBuilder::new(pattern)
            .case_insensitive(true)
            .literal_separator(false)
            .build()
            .map_err(|e| {
                anyhow::anyhow!(
                    "allowed_hosts pattern `{pattern}` is not a valid glob: {e}; fix the manifest"
                )
            })?;
        Ok(glob.compile_matcher().is_match(host))
    }

    /// What is left of the call's time, `None` without a deadline.
    fn remaining_time(state: &CurrentPlugin, url: &str) -> Result<Option<Duration>, Error> {
        let (Some(clock), Some(deadline)) = (&state.clock, state.deadline_ms) else {
            return Ok(None);
        };
        let now = clock.now_ms();
        if now >= deadline {
            return Err(timeout_error(state, url));
        }
        Ok(Some(Duration::from_millis(deadline - now)))
    }

    /// The error of a request that ran out of the call's time.
    fn timeout_error(state: &CurrentPlugin, url: &str) -> Error {
        timeout_message(url, state.manifest.timeout_ms.unwrap_or_default())
    }

    /// The error of a request that ran out of a call's `timeout_ms`.
    fn timeout_message(url: &str, timeout_ms: u64) -> Error {
        crate::error::fail!(
            Timeout,
            "timeout: the HTTP request to {url} did not finish within the call's time \
             (timeout_ms = {timeout_ms})"
        )
    }

    /// Sends one hop with `agent`, within `timeout` (what is left of `timeout_ms`).
    fn send(
        agent: &ureq::Agent,
        hop: &Hop,
        timeout: Option<Duration>,
        timeout_ms: Option<u64>,
    ) -> Result<http::Response<ureq::Body>, Error> {
        let mut builder = http::Request::builder()
            .method(hop.method.clone())
            .uri(hop.uri.clone());
        for (name, value) in &hop.headers {
            builder = builder.header(name.as_str(), value.as_str());
        }
        let invalid = |e: http::Error| {
            anyhow::anyhow!("invalid HTTP request to {} from the plug-in: {e}", hop.url)
        };
        let result = match &hop.body {
            Some(body) => run(
                agent,
                builder.body(body.as_slice()).map_err(invalid)?,
                timeout,
            ),
            None => run(agent, builder.body(()).map_err(invalid)?, timeout),
        };
        result.map_err(|e| transport_error(&hop.url, e, timeout_ms))
    }

    /// Runs `request` on `agent` within `timeout`.
    fn run<S: ureq::AsSendBody>(
        agent: &ureq::Agent,
        request: http::Request<S>,
        timeout: Option<Duration>,
    ) -> Result<http::Response<ureq::Body>, ureq::Error> {
        let request = agent
            .configure_request(request)
            .timeout_global(timeout)
            .build();
        agent.run(request)
    }

    /// A client error as a message for the user.
    fn transport_error(url: &str, error: ureq::Error, timeout_ms: Option<u64>) -> Error {
        match (error, timeout_ms) {
            (ureq::Error::Timeout(_), Some(ms)) => timeout_message(url, ms),
            (ureq::Error::Timeout(phase), None) => {
                anyhow::anyhow!("timeout: the HTTP request to {url} timed out ({phase})")
            }
            (other, _) => anyhow::anyhow!("HTTP request to {url} failed: {other}"),
        }
    }

    /// The next hop when `response` is a redirect the client should follow.
    fn next_hop(hop: &Hop, response: &http::Response<ureq::Body>) -> Result<Option<Hop>, Error> {
        let status = response.status().as_u16();
        if !matches!(status, 301 | 302 | 303 | 307 | 308) {
            return Ok(None);
        }
        let Some(location) = response.headers().get(header::LOCATION) else {
            return Ok(None);
        };
        let location = location.to_str().map_err(|_| {
            anyhow::anyhow!(
                "HTTP request to {} was redirected to a Location that is not text",
                hop.url
            )
        })?;
        let url = resolve(&hop.uri, location);
        let uri = parse_url(&url)
            .map_err(|e| anyhow::anyhow!("HTTP request to {} was redirected: {e:#}", hop.url))?;
        let keeps_body = matches!(status, 307 | 308)
            || (hop.method != Method::POST && status != 303)
            || hop.method == Method::HEAD;
        let method = if keeps_body {
            hop.method.clone()
        } else {
            Method::GET
        };
        let mut headers = hop.headers.clone();
        if !same_origin(&hop.uri, &uri) {
            headers.retain(|name, _| {
                !CREDENTIAL_HEADERS.contains(&name.to_ascii_lowercase().as_str())
            });
        }
        if !keeps_body {
            headers.retain(|name, _| {
                !matches!(
                    name.to_ascii_lowercase().as_str(),
                    "content-length" | "content-type"
                )
            });
        }
        Ok(Some(Hop {
            url,
            uri,
            method,
            headers,
            body: if keeps_body { hop.body.clone() } else { None },
        }))
    }

    /// True when both URIs have the same scheme, host and port.
    fn same_origin(a: &Uri, b: &Uri) -> bool {
        a.scheme_str() == b.scheme_str() && host_of(a) == host_of(b) && a.port_u16() == b.port_u16()
    }

    /// `location` resolved against `base` (absolute, scheme-relative, absolute-path,
    /// query or relative-path references).
    fn resolve(base: &Uri, location: &str) -> String {
        if scheme_of(location).is_some() {
            return location.to_string();
        }
        let scheme = base.scheme_str().unwrap_or("http");
        if location.starts_with("//") {
            return format!("{scheme}:{location}");
        }
        let authority = base.authority().map(|a| a.as_str()).unwrap_or_default();
        let path = base.path();
        if location.starts_with('/') {
            format!("{scheme}://{authority}{location}")
        } else if location.starts_with('?') {
            format!("{scheme}://{authority}{path}{location}")
        } else {
            let directory = &path[..path.rfind('/').map_or(0, |i| i + 1)];
            format!("{scheme}://{authority}{directory}{location}")
        }
    }

    /// Stores the response in the plug-in's state and memory.
    fn finish(
        state: &mut CurrentPlugin,
        url: &str,
        response: http::Response<ureq::Body>,
        cap: u64,
    ) -> Result<i64, Error> {
        let (parts, body) = response.into_parts();
        if let Some(length) = body.content_length().filter(|length| *length > cap) {
            return Err(too_large(url, cap, Some(length)));
        }
        let bytes = read_capped(body, cap).map_err(|e| match e {
            ReadError::TooLarge => too_large(url, cap, None),
            ReadError::Timeout => timeout_error(state, url),
            ReadError::Other(e) => anyhow::anyhow!("HTTP request to {url} failed: {e}"),
        })?;
        state.http.status = i32::from(parts.status.as_u16());
        state.http.headers = state
            .http
            .allow_response_headers
            .then(|| headers_json(&parts.headers));
        store_body(state, &bytes)
    }

    /// Why reading a body failed.
    enum ReadError {
        TooLarge,
        Timeout,
        Other(ureq::Error),
    }

    /// Reads at most `cap` bytes of `body`; one more byte means it is too large.
    fn read_capped(body: ureq::Body, cap: u64) -> Result<Vec<u8>, ReadError> {
        /// Preallocation never exceeds this, whatever the server announces.
        const MAX_PREALLOCATION: u64 = 1 << 20;
        let hint = body
            .content_length()
            .unwrap_or(0)
            .min(cap)
            .min(MAX_PREALLOCATION);
        let mut bytes = Vec::with_capacity(usize::try_from(hint).unwrap_or(0));
        body.into_reader()
            .take(cap.saturating_add(1))
            .read_to_end(&mut bytes)
            .map_err(|e| match ureq::Error::from(e) {
                ureq::Error::Timeout(_) => ReadError::Timeout,
                other => ReadError::Other(other),
            })?;
        if bytes.len() as u64 > cap {
            return Err(ReadError::TooLarge);
        }
        Ok(bytes)
    }

    /// The error of a body over the cap; `announced` is the server's Content-Length.
    fn too_large(url: &str, cap: u64, announced: Option<u64>) -> Error {
        let size = match announced {
            Some(length) => format!("{length} bytes, more than"),
            None => String::from("more than"),
        };
        anyhow::anyhow!(
            "HTTP response from {url} is too large: {size} memory.max_http_response_bytes = \
             {cap}; raise the limit in the manifest"
        )
    }

    /// Response headers as a JSON object; repeated headers are joined with `, `.
    fn headers_json(headers: &http::HeaderMap) -> String {
        let mut object = serde_json::Map::new();
        for (name, value) in headers {
            let value = String::from_utf8_lossy(value.as_bytes()).into_owned();
            match object.get_mut(name.as_str()) {
                Some(serde_json::Value::String(existing)) => {
                    existing.push_str(", ");
                    existing.push_str(&value);
                }
                _ => {
                    object.insert(name.as_str().to_string(), serde_json::Value::String(value));
                }
            }
        }
        serde_json::Value::Object(object).to_string()
    }

    /// Copies the body into a new block of the Extism memory (0 for an empty body).
    fn store_body(state: &mut CurrentPlugin, bytes: &[u8]) -> Result<i64, Error> {
        if bytes.is_empty() {
            return Ok(0);
        }
        match state.memory.alloc_bytes(bytes) {
            Some(handle) => Ok(handle as i64),
            None => {
                state.budget.oom = true;
                Err(state.budget.oom_error().context(format!(
                    "the HTTP response of {} bytes does not fit in the plug-in's memory",
                    bytes.len()
                )))
            }
        }
    }

    /// The client for wasm modules named by URL: redirects followed by the client.
    fn module_agent() -> ureq::Agent {
        ureq::Agent::config_builder()
            .http_status_as_error(false)
            .max_redirects(MAX_REDIRECTS as u32)
            .proxy(None)
            .timeout_global(Some(MODULE_FETCH_TIMEOUT))
            .user_agent(concat!("interplug/", env!("CARGO_PKG_VERSION")))
            .build()
            .into()
    }

    /// Fetches a wasm module named by URL in a manifest.
    pub(crate) fn fetch_module(req: &HttpRequest) -> Result<Vec<u8>, Error> {
        let url = &req.url;
        let fail = |e: Error| anyhow::anyhow!("cannot fetch wasm from {url}: {e:#}");
        let hop = first_hop(req.clone(), None).map_err(fail)?;
        let agent = module_agent();
        let response = send(&agent, &hop, Some(MODULE_FETCH_TIMEOUT), None).map_err(fail)?;
        let status = response.status();
        if !status.is_success() {
            return Err(fail(anyhow::anyhow!(
                "the server answered {status}; check the URL, method and headers in the manifest"
            )));
        }
        read_capped(response.into_body(), MAX_MODULE_BYTES).map_err(|e| {
            fail(match e {
                ReadError::TooLarge => {
                    anyhow::anyhow!("the module is larger than {MAX_MODULE_BYTES} bytes")
                }
                ReadError::Timeout => {
                    anyhow::anyhow!("timeout after {} s", MODULE_FETCH_TIMEOUT.as_secs())
                }
                ReadError::Other(e) => anyhow::anyhow!("{e}"),
            })
        })
    }

    #[cfg(test)]
    mod tests {
        use super::*;

        fn uri(text: &str) -> Uri {
            text.parse().expect("test URI")
        }

        #[test]
        fn resolves_redirect_locations() {
            let base = uri("http://a.test:8080/dir/page?q=1");
            assert_eq!(resolve(&base, "https://b.test/x"), "https://b.test/x");
            assert_eq!(resolve(&base, "//c.test/y"), "http://c.test/y");
            assert_eq!(resolve(&base, "/root"), "http://a.test:8080/root");
            assert_eq!(resolve(&base, "?p=2"), "http://a.test:8080/dir/page?p=2");
            assert_eq!(resolve(&base, "other"), "http://a.test:8080/dir/other");
        }

        #[test]
        fn schemes_and_urls() {
            assert!(parse_url("http://localhost/").is_ok());
            assert!(parse_url("HTTPS://example.com").is_ok());
            for bad in ["file:///etc/passwd", "ftp://host/x", "javascript:alert(1)"] {
                let message = format!("{:#}", parse_url(bad).expect_err(bad));
                assert!(message.contains("is not allowed"), "{message}");
            }
            for bad in ["not a url", "", "/relative", "http://"] {
                let message = format!("{:#}", parse_url(bad).expect_err(bad));
                assert!(message.contains("invalid URL"), "{message}");
            }
        }

        #[test]
        fn host_patterns() {
            assert!(host_matches("*.example.com", "api.example.com").unwrap_or(false));
            assert!(!host_matches("*.example.com", "example.com").unwrap_or(true));
            assert!(host_matches("LOCALHOST", "localhost").unwrap_or(false));
            assert!(host_matches("127.0.0.*", "127.0.0.1").unwrap_or(false));
            assert!(host_matches("*", "anything.test").unwrap_or(false));
            assert!(host_matches("[", "x").is_err());
            assert_eq!(host_of(&uri("http://[::1]:80/")), "::1");
            assert_eq!(host_of(&uri("http://User@Example.COM/")), "example.com");
        }
    }
}
