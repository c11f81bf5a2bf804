//! `http_request` and wasm modules from URLs.

use crate::{current_plugin::CurrentPlugin, manifest::HttpRequest, Error};
use alloc::vec::Vec;

/// Default cap on an HTTP response body (50 MiB).
pub const DEFAULT_MAX_HTTP_RESPONSE_BYTES: u64 = 50 << 20;

/// Serves a plug-in's `http_request(req, body)`: returns the response body handle.
pub(crate) fn request(state: &mut CurrentPlugin, req: u64, body: u64) -> Result<i64, Error> {
    let request: HttpRequest = serde_json::from_slice(state.memory.block(req)?)
        .map_err(|e| anyhow::anyhow!("invalid HTTP request JSON from the plug-in: {e}"))?;
    let body_handle = body;
    let body = match body_handle {
        0 => None,
        handle => Some(state.memory.block(handle)?.to_vec()),
    };
    state.memory.free(req);
    state.memory.free(body_handle);
    perform(state, request, body)
}

fn perform(_state: &mut CurrentPlugin, request: HttpRequest, _body: Option<Vec<u8>>) -> Result<i64, Error> {
    anyhow::bail!(
        "HTTP request to {} refused: HTTP is not implemented yet in this build",
        request.url
    )
}

/// Fetches a wasm module named by URL in a manifest.
pub(crate) fn fetch_module(req: &HttpRequest) -> Result<Vec<u8>, Error> {
    anyhow::bail!(
        "cannot fetch wasm from {}: HTTP is not implemented yet in this build",
        req.url
    )
}
