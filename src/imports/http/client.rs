//! The real client, on `ureq`, run on a worker thread the plug-in's thread waits for
//! in slices (see the parent module).

use super::{DEFAULT_HTTP_TIMEOUT, DEFAULT_MAX_HTTP_RESPONSE_BYTES, MAX_REDIRECTS, WAIT_SLICE};
use crate::{error::fail, host::current_plugin::CurrentPlugin, manifest::HttpRequest, Error};
use std::{
    collections::BTreeMap,
    io::Read,
    string::{String, ToString},
    sync::{
        atomic::{AtomicBool, Ordering},
        mpsc, Arc, OnceLock,
    },
    time::{Duration, Instant},
    vec::Vec,
};
use ureq::http::{self, header, Method, Uri};

/// Time limit for fetching a wasm module.
const MODULE_FETCH_TIMEOUT: Duration = Duration::from_secs(300);

/// Headers dropped when a redirect goes to another origin.
const CREDENTIAL_HEADERS: [&str; 3] = ["authorization", "cookie", "proxy-authorization"];

/// Headers a plug-in may not set: hop-by-hop and framing headers, which the client
/// manages (a plug-in's own could smuggle a second request or switch protocols).
const CLIENT_HEADERS: [&str; 9] = [
    "connection",
    "content-length",
    "keep-alive",
    "proxy-connection",
    "te",
    "trailer",
    "transfer-encoding",
    "upgrade",
    "expect",
];

/// Bytes read from a body between two checks of the abandon flag.
const READ_CHUNK: usize = 16 << 10;

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

/// What a request needs on the worker thread.
struct Job {
    patterns: Vec<String>,
    cap: u64,
    hop: Hop,
    original: String,
    /// When the worker gives up by itself.
    deadline: Instant,
    /// The call's `timeout_ms`, for messages; `None`: [`DEFAULT_HTTP_TIMEOUT`].
    timeout_ms: Option<u64>,
}

/// A response the worker read in full.
struct Fetched {
    status: u16,
    headers: http::HeaderMap,
    body: Vec<u8>,
}

/// Performs a plug-in's request under the manifest's rules; returns the handle
/// of the response body block.
pub(crate) fn perform(
    state: &mut CurrentPlugin,
    request: HttpRequest,
    body: Option<Vec<u8>>,
) -> Result<i64, Error> {
    let manifest = state.manifest.clone();
    let url = request.url.clone();
    let call_left = remaining_time(state, &url)?;
    let job = Job {
        patterns: manifest.allowed_hosts.clone().unwrap_or_default(),
        cap: manifest
            .memory
            .max_http_response_bytes
            .unwrap_or(DEFAULT_MAX_HTTP_RESPONSE_BYTES),
        original: url.clone(),
        hop: first_hop(request, body)?,
        deadline: Instant::now() + call_left.unwrap_or(DEFAULT_HTTP_TIMEOUT),
        timeout_ms: call_left.and(manifest.timeout_ms),
    };
    check_allowed(&job.patterns, &job.hop, &job.original)?;
    let fetched = wait_for(state, &url, job)?;
    state.http.status = i32::from(fetched.status);
    state.http.headers = state
        .http
        .allow_response_headers
        .then(|| headers_json(&fetched.headers));
    store_body(state, &fetched.body)
}

/// Runs `job` on a worker thread and waits for it in slices, ending early (and
/// telling the worker to stop) on a cancel or at the call's deadline.
fn wait_for(state: &CurrentPlugin, url: &str, job: Job) -> Result<Fetched, Error> {
    let abandoned = Arc::new(AtomicBool::new(false));
    let (sender, receiver) = mpsc::sync_channel(1);
    let worker_abandoned = abandoned.clone();
    let own_deadline = job.deadline;
    std::thread::Builder::new()
        .name(String::from("interplug-http"))
        .spawn(move || {
            let _ = sender.send(fetch(job, &worker_abandoned));
        })
        .map_err(|e| {
            fail!(
                Io,
                "HTTP request to {url} failed: cannot start a thread: {e}"
            )
        })?;
    // The worker's own deadline is the request's; past it plus this grace, the
    // worker is stuck (a DNS lookup, say) and the call stops waiting for it.
    let grace = Duration::from_secs(1);
    loop {
        match receiver.recv_timeout(WAIT_SLICE) {
            Ok(result) => return result,
            Err(mpsc::RecvTimeoutError::Disconnected) => {
                return Err(fail!(
                    Host,
                    "HTTP request to {url} failed: the HTTP client stopped without an answer \
                     (it panicked)"
                ))
            }
            Err(mpsc::RecvTimeoutError::Timeout) => {}
        }
        let stop = if state.cancel.is_cancelled() {
            Some(fail!(
                Cancelled,
                "plug-in call cancelled (during the HTTP request to {url})"
            ))
        } else if call_deadline_passed(state) || Instant::now() > own_deadline + grace {
            Some(timeout_error(state, url))
        } else {
            None
        };
        if let Some(error) = stop {
            abandoned.store(true, Ordering::Release);
            return Err(error);
        }
    }
}

/// True when the running call has a deadline and it has passed.
fn call_deadline_passed(state: &CurrentPlugin) -> bool {
    matches!((&state.clock, state.deadline_ms), (Some(clock), Some(deadline)) if clock.now_ms() >= deadline)
}

/// On the worker: sends the request, follows redirects, reads the body.
fn fetch(mut job: Job, abandoned: &AtomicBool) -> Result<Fetched, Error> {
    for redirects in 0..=MAX_REDIRECTS {
        check_allowed(&job.patterns, &job.hop, &job.original)?;
        let left = job
            .deadline
            .checked_duration_since(Instant::now())
            .filter(|left| !left.is_zero())
            .ok_or_else(|| timeout_message(&job.hop.url, job.timeout_ms))?;
        let response = send(plugin_agent(), &job.hop, Some(left), job.timeout_ms)?;
        match next_hop(&job.hop, &response)? {
            None => {
                let url = job.hop.url;
                let (parts, body) = response.into_parts();
                if let Some(length) = body.content_length().filter(|length| *length > job.cap) {
                    return Err(too_large(&url, job.cap, Some(length)));
                }
                let body = read_capped(body, job.cap, abandoned).map_err(|e| match e {
                    ReadError::TooLarge => too_large(&url, job.cap, None),
                    ReadError::Timeout => timeout_message(&url, job.timeout_ms),
                    ReadError::Abandoned => fail!(Cancelled, "HTTP request to {url} abandoned"),
                    ReadError::Other(e) => fail!(Io, "HTTP request to {url} failed: {e}"),
                })?;
                return Ok(Fetched {
                    status: parts.status.as_u16(),
                    headers: parts.headers,
                    body,
                });
            }
            Some(_) if redirects == MAX_REDIRECTS => break,
            Some(next) => job.hop = next,
        }
        if abandoned.load(Ordering::Acquire) {
            return Err(fail!(
                Cancelled,
                "HTTP request to {} abandoned",
                job.original
            ));
        }
    }
    Err(fail!(
        Io,
        "HTTP request to {} failed: more than {MAX_REDIRECTS} redirects (the last to {})",
        job.original,
        job.hop.url
    ))
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
        Some(scheme) => crate::error::bail_kind!(
            PermissionDenied,
            "HTTP request to {url} refused: the scheme `{scheme}` is not allowed, only http \
             and https URLs are"
        ),
        None => {
            crate::error::bail_kind!(
                Invalid,
                "invalid URL `{url}`: expected an absolute http:// or https:// URL"
            )
        }
    }
    let uri: Uri = url.parse().map_err(|e| {
        fail!(
            Invalid,
            "invalid URL `{url}`: {e}; expected an absolute http:// or https:// URL"
        )
    })?;
    if uri.host().is_none_or(str::is_empty) {
        crate::error::bail_kind!(Invalid, "invalid URL `{url}`: it names no host");
    }
    Ok(uri)
}

/// The request method; GET when absent.
fn parse_method(method: Option<&str>) -> Result<Method, Error> {
    let text = method.unwrap_or("GET").to_ascii_uppercase();
    Method::from_bytes(text.as_bytes()).map_err(|e| {
        fail!(
            Invalid,
            "invalid HTTP method `{text}` from the plug-in: {e}"
        )
    })
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
        crate::error::bail_kind!(
            PermissionDenied,
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
    crate::error::bail_kind!(
        PermissionDenied,
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
            fail!(
                Invalid,
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
    timeout_message(url, state.manifest.timeout_ms)
}

/// The error of a request that ran out of a call's `timeout_ms` (`None`: of
/// [`DEFAULT_HTTP_TIMEOUT`]).
fn timeout_message(url: &str, timeout_ms: Option<u64>) -> Error {
    match timeout_ms {
        Some(ms) => fail!(
            Timeout,
            "timeout: the HTTP request to {url} did not finish within the call's time \
             (timeout_ms = {ms})"
        ),
        None => fail!(
            Timeout,
            "timeout: the HTTP request to {url} did not finish within {} s (the limit of a \
             request when the manifest sets no timeout_ms)",
            DEFAULT_HTTP_TIMEOUT.as_secs()
        ),
    }
}

/// The headers of a hop as sent: the client's own are dropped, and a `Host` header
/// naming another host than the URL is refused.
fn outgoing_headers(hop: &Hop) -> Result<Vec<(&str, &str)>, Error> {
    let mut headers = Vec::with_capacity(hop.headers.len());
    for (name, value) in &hop.headers {
        let lower = name.trim().to_ascii_lowercase();
        if lower == "host" {
            if !host_header_matches(&hop.uri, value) {
                return Err(fail!(
                    PermissionDenied,
                    "HTTP request to {} refused: the plug-in set the header `Host: {value}`, \
                     which names another host than the URL; allowed_hosts is checked against \
                     the URL, so put the host in the URL instead",
                    hop.url
                ));
            }
            continue;
        }
        if CLIENT_HEADERS.contains(&lower.as_str()) {
            continue;
        }
        headers.push((name.as_str(), value.as_str()));
    }
    Ok(headers)
}

/// True when a `Host` header value names the URL's own host (and port, if any).
fn host_header_matches(uri: &Uri, value: &str) -> bool {
    let value = value.trim().to_ascii_lowercase();
    let host = uri.host().unwrap_or_default().to_ascii_lowercase();
    match uri.port_u16() {
        Some(port) => value == format!("{host}:{port}"),
        None => {
            value == host
                || value.strip_prefix(&host).is_some_and(|rest| {
                    let default = if uri.scheme_str() == Some("https") {
                        ":443"
                    } else {
                        ":80"
                    };
                    rest == default
                })
        }
    }
}

/// Sends one hop with `agent`, within `timeout`.
fn send(
    agent: &ureq::Agent,
    hop: &Hop,
    timeout: Option<Duration>,
    timeout_ms: Option<u64>,
) -> Result<http::Response<ureq::Body>, Error> {
    let mut builder = http::Request::builder()
        .method(hop.method.clone())
        .uri(hop.uri.clone());
    for (name, value) in outgoing_headers(hop)? {
        builder = builder.header(name, value);
    }
    let invalid = |e: http::Error| {
        fail!(
            Invalid,
            "invalid HTTP request to {} from the plug-in: {e}",
            hop.url
        )
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
    match error {
        ureq::Error::Timeout(_) => timeout_message(url, timeout_ms),
        other => fail!(Io, "HTTP request to {url} failed: {other}"),
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
        fail!(
            Invalid,
            "HTTP request to {} was redirected to a Location that is not text",
            hop.url
        )
    })?;
    let url = resolve(&hop.uri, location);
    let uri = parse_url(&url).map_err(|e| {
        let kind = crate::ErrorExt::kind(&e);
        crate::error::new(
            kind,
            format!("HTTP request to {} was redirected: {e:#}", hop.url),
        )
    })?;
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
        headers.retain(|name, _| !CREDENTIAL_HEADERS.contains(&name.to_ascii_lowercase().as_str()));
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

/// Why reading a body failed.
enum ReadError {
    TooLarge,
    Timeout,
    Abandoned,
    Other(ureq::Error),
}

/// Reads at most `cap` bytes of `body`; one more byte means it is too large. Stops
/// between chunks once `abandoned` is set.
fn read_capped(body: ureq::Body, cap: u64, abandoned: &AtomicBool) -> Result<Vec<u8>, ReadError> {
    /// Preallocation never exceeds this, whatever the server announces.
    const MAX_PREALLOCATION: u64 = 1 << 20;
    let hint = body
        .content_length()
        .unwrap_or(0)
        .min(cap)
        .min(MAX_PREALLOCATION);
    let mut bytes = Vec::with_capacity(usize::try_from(hint).unwrap_or(0));
    let mut reader = body.into_reader().take(cap.saturating_add(1));
    let mut chunk = vec![0u8; READ_CHUNK];
    loop {
        if abandoned.load(Ordering::Acquire) {
            return Err(ReadError::Abandoned);
        }
        let read = match reader.read(&mut chunk) {
            Ok(0) => break,
            Ok(read) => read,
            Err(e) if e.kind() == std::io::ErrorKind::Interrupted => continue,
            Err(e) => {
                return Err(match ureq::Error::from(e) {
                    ureq::Error::Timeout(_) => ReadError::Timeout,
                    other => ReadError::Other(other),
                })
            }
        };
        bytes.extend_from_slice(&chunk[..read]);
    }
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
    fail!(
        LimitExceeded,
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

/// Fetches a wasm module named by URL in a manifest, at most `max_bytes` long: a
/// larger announced length is refused before reading, and at most `max_bytes + 1`
/// bytes are read.
pub(crate) fn fetch_module(req: &HttpRequest, max_bytes: u64) -> Result<Vec<u8>, Error> {
    let url = &req.url;
    let context = |e: Error| {
        let kind = crate::ErrorExt::kind(&e);
        crate::error::new(kind, format!("cannot fetch wasm from {url}: {e:#}"))
    };
    let hop = first_hop(req.clone(), None).map_err(context)?;
    let agent = module_agent();
    let response = send(&agent, &hop, Some(MODULE_FETCH_TIMEOUT), None).map_err(context)?;
    let status = response.status();
    if !status.is_success() {
        return Err(context(fail!(
            Io,
            "the server answered {status}; check the URL, method and headers in the manifest"
        )));
    }
    let too_big = || {
        fail!(
            LimitExceeded,
            "the module is larger than {max_bytes} bytes, the cap on a wasm module"
        )
    };
    let body = response.into_body();
    if body
        .content_length()
        .is_some_and(|length| length > max_bytes)
    {
        return Err(context(too_big()));
    }
    let never = AtomicBool::new(false);
    read_capped(body, max_bytes, &never).map_err(|e| {
        context(match e {
            ReadError::TooLarge => too_big(),
            ReadError::Timeout => fail!(
                Timeout,
                "timeout after {} s",
                MODULE_FETCH_TIMEOUT.as_secs()
            ),
            ReadError::Abandoned => fail!(Cancelled, "the download was abandoned"),
            ReadError::Other(e) => fail!(Io, "{e}"),
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
