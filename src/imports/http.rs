//! `http_request`, `http_status_code` and `http_headers` of `extism:host/env`: the
//! glue between a plug-in and [`crate::os::http`]. A request is read from the
//! plug-in's memory and started under the manifest's rules and the running call's
//! limits (cancel flag, deadline); the call suspends while it runs, as on an async
//! host function (an async call holds no thread, a sync call blocks its own), and its
//! status, headers and body are then kept for the plug-in (the body in a new block of
//! its memory).
//!
//! Without the `http` feature, every request is refused with an error that says so.

use crate::{
    error::{fail, to_engine, ErrorKind},
    host::current_plugin::{charge, cost, oom_trap, CurrentPlugin, BLOCK_FUEL, IMPORT_FUEL},
    host::function::{wait_here, HostFuture},
    host::suspend::Suspend,
    kernel::abi::ENV_MODULE,
    manifest::HttpRequest,
    Error,
};
use alloc::vec::Vec;
use wasmi::{Caller, Linker};

type Ctx<'a> = Caller<'a, CurrentPlugin>;
type Trap = wasmi::Error;

/// Defines `http_request`, `http_status_code` and `http_headers` of
/// `extism:host/env` on `linker`.
///
/// # Errors
///
/// When the linker refuses a definition (one of the names is defined already).
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
                .map_err(|e| to_engine(&e, ErrorKind::Io))?;
            let state = c.data_mut();
            if state.can_suspend {
                // The call waits for the response with the store free (`plugin/run.rs`).
                return Err(Suspend::<HostFuture>::error(None, response));
            }
            // In a start function (inside instantiation): wait on this thread.
            let mut handle = [crate::Val::I64(0)];
            wait_here(state, None, response, &mut handle)
                .map_err(|e| to_engine(&e, ErrorKind::Io))?;
            Ok(handle[0].i64().unwrap_or(0))
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

/// Starts a plug-in's `http_request(req, body)`: the future of its result, which
/// stores the response and gives the body's handle (0 for an empty body). Frees `req`
/// and `body`.
///
/// # Errors
///
/// [`ErrorKind::Invalid`] when `req` or `body` is not a block or `req` does not hold
/// a request as JSON, and whatever [`crate::os::http::request::start`] and its
/// response report (without the `http` feature: [`ErrorKind::PermissionDenied`]).
pub(crate) fn request(state: &mut CurrentPlugin, req: u64, body: u64) -> Result<HostFuture, Error> {
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

/// Starts the request for the plug-in, under the plug-in's cancel flag and the call's
/// deadline; the future keeps the response for the plug-in once it has come.
#[cfg(feature = "http")]
fn perform(
    state: &mut CurrentPlugin,
    request: HttpRequest,
    body: Option<Vec<u8>>,
) -> Result<HostFuture, Error> {
    use crate::host::function::Writer;
    use crate::os::http::request::{start, CallLimits};
    let call = CallLimits {
        cancel: state.cancel.clone(),
        clock: state.clock.clone(),
        deadline_ms: state.deadline_ms,
    };
    let pending = start(request, body, &state.manifest, call)?;
    Ok(alloc::boxed::Box::pin(async move {
        let response = waiting::GiveUp::new(pending).await?;
        let keep = move |state: &mut CurrentPlugin, outputs: &mut [crate::Val]| {
            state.http.status = i32::from(response.status);
            state.http.headers = state
                .http
                .allow_response_headers
                .then(|| response.headers_json());
            let handle = store_body(state, &response.body)?;
            let copied = cost(0, response.body.len() as u64);
            state.fuel_debt = state.fuel_debt.saturating_add(copied);
            if let Some(slot) = outputs.first_mut() {
                *slot = crate::Val::I64(handle);
            }
            Ok(())
        };
        Ok(alloc::boxed::Box::new(keep) as Writer)
    }))
}

/// Waking the wait for a response when its worker is stuck.
#[cfg(feature = "http")]
mod waiting {
    use crate::{host::timer::Alarm, os::http::request::PendingResponse};
    use core::{
        future::Future,
        pin::Pin,
        task::{Context, Poll},
    };

    /// A [`PendingResponse`] woken at the time it gives up on its worker (the worker,
    /// a cancel and the call's deadline wake it otherwise).
    pub(super) struct GiveUp {
        pending: PendingResponse,
        alarm: Option<Alarm>,
    }

    impl GiveUp {
        pub(super) fn new(pending: PendingResponse) -> Self {
            GiveUp {
                pending,
                alarm: None,
            }
        }
    }

    impl Future for GiveUp {
        type Output = <PendingResponse as Future>::Output;

        fn poll(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<Self::Output> {
            let this = self.get_mut();
            let polled = Pin::new(&mut this.pending).poll(cx);
            if polled.is_pending() {
                match &mut this.alarm {
                    Some(alarm) => alarm.update(cx.waker()),
                    None => this.alarm = Alarm::set(this.pending.give_up_at(), cx.waker()),
                }
            }
            polled
        }
    }
}

/// Without the `http` feature every request is refused.
#[cfg(not(feature = "http"))]
fn perform(
    _state: &mut CurrentPlugin,
    request: HttpRequest,
    _body: Option<Vec<u8>>,
) -> Result<HostFuture, Error> {
    Err(fail!(
        PermissionDenied,
        "HTTP request to {} refused: this build of interplug has no HTTP client (enable the \
         `http` feature)",
        request.url
    ))
}

/// Copies the body into a new block of the Extism memory (0 for an empty body).
#[cfg(feature = "http")]
fn store_body(state: &mut CurrentPlugin, bytes: &[u8]) -> Result<i64, Error> {
    if bytes.is_empty() {
        return Ok(0);
    }
    match state.memory.alloc_bytes(bytes) {
        Some(handle) => Ok(handle as i64),
        None => {
            state.budget.oom = true;
            Err(crate::error::with_context(
                state.budget.oom_error(),
                &format!(
                    "the HTTP response of {} bytes does not fit in the plug-in's memory",
                    bytes.len()
                ),
            ))
        }
    }
}
