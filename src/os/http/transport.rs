//! Sending one hop with a `ureq` agent and reading a response body up to a cap,
//! stopping between chunks when the request is abandoned; the client's errors as
//! messages for the user.

use super::policy::{outgoing_headers, Hop};
use super::DEFAULT_HTTP_TIMEOUT;
use crate::{error::fail, Error};
use std::{
    io::Read,
    sync::atomic::{AtomicBool, Ordering},
    time::Duration,
    vec::Vec,
};
use ureq::http;

/// Bytes read from a body between two checks of the abandon flag.
const READ_CHUNK: usize = 16 << 10;

/// Sends one hop with `agent`, within `timeout`; `timeout_ms` is the call's, for the
/// message of a timeout (`None`: [`DEFAULT_HTTP_TIMEOUT`]).
///
/// # Errors
///
/// As [`outgoing_headers`] for the hop's headers;
/// [`ErrorKind::Invalid`](crate::ErrorKind::Invalid) when the request cannot be
/// built, [`ErrorKind::Timeout`](crate::ErrorKind::Timeout) past `timeout`,
/// [`ErrorKind::Io`](crate::ErrorKind::Io) when the client fails.
pub(crate) fn send(
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

/// The error of a request that ran out of a call's `timeout_ms` (`None`: of
/// [`DEFAULT_HTTP_TIMEOUT`]).
pub(crate) fn timeout_message(url: &str, timeout_ms: Option<u64>) -> Error {
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

/// Why reading a body failed.
pub(crate) enum ReadError {
    /// The body is longer than the cap.
    TooLarge,
    /// The client's timeout passed.
    Timeout,
    /// The abandon flag was set.
    Abandoned,
    /// Another client error.
    Other(ureq::Error),
}

/// Reads at most `cap` bytes of `body`; one more byte means it is too large. Stops
/// between chunks once `abandoned` is set.
///
/// # Errors
///
/// The [`ReadError`] that stopped the reading.
pub(crate) fn read_capped(
    body: ureq::Body,
    cap: u64,
    abandoned: &AtomicBool,
) -> Result<Vec<u8>, ReadError> {
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
