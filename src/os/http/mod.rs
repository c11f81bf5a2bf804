//! HTTP on a plug-in's behalf (`http_request`) and for manifests (wasm modules named
//! by URL). With the `http` feature, requests go through a blocking `ureq` client:
//!
//! - only `http` and `https` URLs, only to hosts matching a glob of the manifest's
//!   `allowed_hosts` (absent or empty: no HTTP at all);
//! - redirects are followed here, not by the client, so every hop is checked against
//!   the allow-list again (at most [`MAX_REDIRECTS`]);
//! - the response body is read up to `memory.max_http_response_bytes` plus one byte;
//!   a larger body fails the call without buffering more;
//! - the request runs on a worker thread while the call waits for it as a future
//!   that the worker, the plug-in's cancel and the call's deadline wake (an async call
//!   holds no thread meanwhile);
//! - the deadline is what is left of the call's `timeout_ms`; without one, each
//!   request has [`DEFAULT_HTTP_TIMEOUT`] so a slow or trickling server cannot hold
//!   the host forever;
//! - a plug-in may not address another virtual host than its URL names: a `Host`
//!   header naming another host is refused (one naming the URL's host is dropped,
//!   the client sets it), and hop-by-hop and framing headers (`Connection`,
//!   `Transfer-Encoding`, `Content-Length`, `Upgrade`...) are dropped;
//! - non-2xx statuses are answers for the plug-in, not errors.
//!
//! The files: `policy` (the rules every hop is checked against), `transport` (one hop
//! sent, a body read up to a cap), `request` (a plug-in's request: the worker thread,
//! redirects, the wait under the call's limits) and `module` (a wasm module fetched
//! from a URL). None of them knows a plug-in: `imports::http` passes the manifest and
//! the call's limits as values. Without the `http` feature only `module` is built, and
//! it refuses URL modules with an error that says so.

/// Time one HTTP request may take when the call has no `timeout_ms` (30 s); past
/// it the call fails with kind `Timeout`.
///
/// ```
/// assert_eq!(interplug::DEFAULT_HTTP_TIMEOUT.as_secs(), 30);
/// ```
pub const DEFAULT_HTTP_TIMEOUT: core::time::Duration = core::time::Duration::from_secs(30);

/// Redirects followed for one request before giving up.
#[cfg(feature = "http")]
pub(crate) const MAX_REDIRECTS: usize = 5;

pub(crate) mod module;
#[cfg(feature = "http")]
pub(crate) mod policy;
#[cfg(feature = "http")]
pub(crate) mod request;
#[cfg(feature = "http")]
pub(crate) mod transport;
