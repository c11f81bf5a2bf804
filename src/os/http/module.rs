//! Fetching a wasm module a manifest names by URL: redirects followed by the client,
//! a time limit of [`MODULE_FETCH_TIMEOUT`], a cap on the module's size. Without the
//! `http` feature, URL modules are refused with an error that says so.

use crate::{error::fail, manifest::HttpRequest, Error};
use alloc::vec::Vec;

#[cfg(feature = "http")]
use {
    super::policy::first_hop,
    super::transport::{read_capped, send, ReadError},
    super::MAX_REDIRECTS,
    crate::error::{new, ErrorExt},
    core::sync::atomic::AtomicBool,
    std::time::Duration,
};

/// Time limit for fetching a wasm module.
#[cfg(feature = "http")]
const MODULE_FETCH_TIMEOUT: Duration = Duration::from_secs(300);

/// The client for wasm modules named by URL: redirects followed by the client.
#[cfg(feature = "http")]
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
///
/// # Errors
///
/// [`ErrorKind::LimitExceeded`](crate::ErrorKind::LimitExceeded) for a module over
/// `max_bytes`, [`ErrorKind::Io`](crate::ErrorKind::Io) for a status that is not a
/// success or a failing client, [`ErrorKind::Timeout`](crate::ErrorKind::Timeout)
/// past the time limit, and as the request rules for the URL, method and headers.
#[cfg(feature = "http")]
pub(crate) fn fetch_module(req: &HttpRequest, max_bytes: u64) -> Result<Vec<u8>, Error> {
    let url = &req.url;
    let context = |e: Error| new(e.kind(), format!("cannot fetch wasm from {url}: {e:#}"));
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

/// Without the `http` feature, URL modules cannot be loaded.
///
/// # Errors
///
/// Always: [`ErrorKind::Invalid`](crate::ErrorKind::Invalid), saying the build has no
/// HTTP client.
#[cfg(not(feature = "http"))]
pub(crate) fn fetch_module(req: &HttpRequest, _max_bytes: u64) -> Result<Vec<u8>, Error> {
    Err(fail!(
        Invalid,
        "cannot fetch wasm from {}: this build of interplug has no HTTP client (enable the \
         `http` feature, or download the module and use a file or data source)",
        req.url
    ))
}
