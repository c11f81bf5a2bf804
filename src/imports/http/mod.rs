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
//! - the request runs on a worker thread while the plug-in's thread waits for it in
//!   slices of [`WAIT_SLICE`], checking the plug-in's cancel flag and the call's
//!   deadline: a cancel or `timeout_ms` ends the call within a slice, whatever the
//!   server does (the worker stops reading at its next chunk, and gives up at its
//!   own deadline at the latest);
//! - the deadline is what is left of the call's `timeout_ms`; without one, each
//!   request has [`DEFAULT_HTTP_TIMEOUT`] so a slow or trickling server cannot hold
//!   the host forever;
//! - a plug-in may not address another virtual host than its URL names: a `Host`
//!   header naming another host is refused (one naming the URL's host is dropped,
//!   the client sets it), and hop-by-hop and framing headers (`Connection`,
//!   `Transfer-Encoding`, `Content-Length`, `Upgrade`...) are dropped;
//! - non-2xx statuses are answers for the plug-in, not errors.
//!
//! Without the feature, every request and every URL module is refused with an error
//! that says so.

use crate::{
    error::{fail, to_engine, ErrorKind},
    host::current_plugin::{charge, cost, oom_trap, CurrentPlugin, BLOCK_FUEL, IMPORT_FUEL},
    kernel::abi::ENV_MODULE,
    manifest::HttpRequest,
    Error,
};
use alloc::vec::Vec;
use wasmi::{Caller, Linker};

/// Default cap on an HTTP response body (50 MiB).
#[cfg_attr(not(feature = "http"), allow(dead_code))]
pub const DEFAULT_MAX_HTTP_RESPONSE_BYTES: u64 = 50 << 20;

/// Time one HTTP request may take when the call has no `timeout_ms` (30 s); past
/// it the call fails with kind `Timeout`.
///
/// ```
/// assert_eq!(interplug::DEFAULT_HTTP_TIMEOUT.as_secs(), 30);
/// ```
pub const DEFAULT_HTTP_TIMEOUT: core::time::Duration = core::time::Duration::from_secs(30);

/// How long the plug-in's thread waits for the HTTP worker before checking the cancel
/// flag and the deadline again.
#[cfg_attr(not(feature = "http"), allow(dead_code))]
pub(crate) const WAIT_SLICE: core::time::Duration = core::time::Duration::from_millis(20);

/// Redirects followed for one request before giving up.
#[cfg_attr(not(feature = "http"), allow(dead_code))]
pub const MAX_REDIRECTS: usize = 5;

type Ctx<'a> = Caller<'a, CurrentPlugin>;
type Trap = wasmi::Error;

/// Defines `http_request`, `http_status_code` and `http_headers` of
/// `extism:host/env` on `linker`.
pub(crate) fn add_to_linker(linker: &mut Linker<CurrentPlugin>) -> Result<(), wasmi::Error> {
    let m = ENV_MODULE;
    linker.func_wrap(
        m,
        "http_request",
        |mut c: Ctx, req: i64, body: i64| -> Result<i64, Trap> {
            let sent = {
                let memory = &c.data().memory;
                memory.length(req as u64) + memory.length(body as u64)
            };
            charge(&mut c, cost(IMPORT_FUEL + 3 * BLOCK_FUEL, sent));
            let response = request(c.data_mut(), req as u64, body as u64)
                .map_err(|e| to_engine(&e, ErrorKind::Host))?;
            let len = c.data().memory.length(response as u64);
            charge(&mut c, cost(0, len));
            Ok(response)
        },
    )?;
    linker.func_wrap(m, "http_status_code", |c: Ctx| -> i32 {
        c.data().http.status
    })?;
    linker.func_wrap(m, "http_headers", |mut c: Ctx| -> Result<i64, Trap> {
        let headers_len = c.data().http.headers.as_ref().map_or(0, |h| h.len() as u64);
        charge(&mut c, cost(IMPORT_FUEL + BLOCK_FUEL, headers_len));
        let state = c.data_mut();
        if !state.http.allow_response_headers {
            return Ok(0);
        }
        let Some(headers) = state.http.headers.clone() else {
            return Ok(0);
        };
        match state.memory.alloc_bytes(headers.as_bytes()) {
            Some(handle) => Ok(handle as i64),
            None => Err(oom_trap(&mut state.budget)),
        }
    })?;
    Ok(())
}

/// Serves a plug-in's `http_request(req, body)`: returns the response body handle
/// (0 for an empty body). Frees `req` and `body`.
pub(crate) fn request(state: &mut CurrentPlugin, req: u64, body: u64) -> Result<i64, Error> {
    let request_bytes = state.memory.block(req).map_err(|e| {
        fail!(
            Invalid,
            "http_request: the request handle {req} is not a memory block: {e}"
        )
    })?;
    let request: HttpRequest = serde_json::from_slice(request_bytes).map_err(|e| {
        fail!(
            Invalid,
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
                    fail!(
                        Invalid,
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
    Err(fail!(
        PermissionDenied,
        "HTTP request to {} refused: this build of interplug has no HTTP client (enable the \
         `http` feature)",
        request.url
    ))
}

/// Fetches a wasm module named by URL in a manifest, at most `max_bytes` long.
#[cfg(feature = "http")]
pub(crate) fn fetch_module(req: &HttpRequest, max_bytes: u64) -> Result<Vec<u8>, Error> {
    client::fetch_module(req, max_bytes)
}

/// Without the `http` feature, URL modules cannot be loaded.
#[cfg(not(feature = "http"))]
pub(crate) fn fetch_module(req: &HttpRequest, _max_bytes: u64) -> Result<Vec<u8>, Error> {
    Err(fail!(
        Invalid,
        "cannot fetch wasm from {}: this build of interplug has no HTTP client (enable the \
         `http` feature, or download the module and use a file or data source)",
        req.url
    ))
}

#[cfg(feature = "http")]
mod client;
