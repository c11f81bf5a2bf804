//! A plug-in's HTTP request, under its manifest's rules and its call's limits: the
//! request runs on a worker thread that follows redirects (checking each hop against
//! the allow-list again) and reads a capped body, while the call waits for it as a
//! future ([`PendingResponse`]) that the worker, a cancel or the call's deadline wakes:
//! an async call waits without holding a thread, a sync call blocks its own. A cancel
//! or `timeout_ms` ends the wait at once, whatever the server does (the worker stops
//! reading at its next chunk, and gives up at its own deadline at the latest).

use super::policy::{check_allowed, first_hop, next_hop, Hop};
use super::transport::{read_capped, send, timeout_message, ReadError};
use super::{DEFAULT_HTTP_TIMEOUT, MAX_REDIRECTS};
use crate::{
    error::fail,
    limits::{cancel::CancelHandle, clock::Clock},
    manifest::{HttpRequest, Manifest},
    Error,
};
use core::{
    future::Future,
    pin::Pin,
    task::{Context, Poll, Waker},
};
use std::{
    string::{String, ToString},
    sync::{
        atomic::{AtomicBool, Ordering},
        Arc, Mutex, MutexGuard, OnceLock, PoisonError,
    },
    time::{Duration, Instant},
    vec::Vec,
};
use ureq::http;

/// Default cap on an HTTP response body (50 MiB).
pub(crate) const DEFAULT_MAX_HTTP_RESPONSE_BYTES: u64 = 50 << 20;

/// The limits of the call a request is made for.
pub(crate) struct CallLimits {
    /// The plug-in's cancel flag.
    pub(crate) cancel: CancelHandle,
    /// The clock the deadline is read from (`None`: no deadline).
    pub(crate) clock: Option<Arc<dyn Clock>>,
    /// When the call ends, on `clock` (`None`: no deadline).
    pub(crate) deadline_ms: Option<u64>,
}

/// A response read in full.
pub(crate) struct Response {
    /// The status code.
    pub(crate) status: u16,
    /// The headers.
    pub(crate) headers: http::HeaderMap,
    /// The body.
    pub(crate) body: Vec<u8>,
}

impl Response {
    /// The headers as a JSON object; repeated headers are joined with `, `.
    pub(crate) fn headers_json(&self) -> String {
        let mut object = serde_json::Map::new();
        for (name, value) in &self.headers {
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

/// Starts a plug-in's request under `manifest`'s rules (`allowed_hosts`,
/// `memory.max_http_response_bytes`, `timeout_ms` for messages) within `call`'s
/// limits, on a worker thread; the response, whatever its status, is the
/// [`PendingResponse`]'s output.
///
/// # Errors
///
/// Here or from the [`PendingResponse`]:
/// [`ErrorKind::Timeout`](crate::ErrorKind::Timeout) past the call's deadline (or
/// [`DEFAULT_HTTP_TIMEOUT`] without one),
/// [`ErrorKind::Cancelled`](crate::ErrorKind::Cancelled) on a cancel,
/// [`ErrorKind::PermissionDenied`](crate::ErrorKind::PermissionDenied) for a URL,
/// redirect or header the rules refuse,
/// [`ErrorKind::Invalid`](crate::ErrorKind::Invalid) for a malformed request,
/// [`ErrorKind::LimitExceeded`](crate::ErrorKind::LimitExceeded) for a body over the
/// cap, [`ErrorKind::Io`](crate::ErrorKind::Io) when the client fails.
pub(crate) fn start(
    request: HttpRequest,
    body: Option<Vec<u8>>,
    manifest: &Manifest,
    call: CallLimits,
) -> Result<PendingResponse, Error> {
    let url = request.url.clone();
    let call_left = remaining_time(&call, manifest, &url)?;
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
    // The worker's own deadline is the request's; past it plus this grace, the
    // worker is stuck (a DNS lookup, say) and the call stops waiting for it.
    let give_up_at = job.deadline + Duration::from_secs(1);
    let exchange = Arc::new(Exchange::default());
    let worker = Finish(exchange.clone());
    std::thread::Builder::new()
        .name(String::from("interplug-http"))
        .spawn(move || {
            let result = fetch(job, &worker.0.abandoned);
            *worker.0.lock_result() = Some(result);
        })
        .map_err(|e| {
            fail!(
                Io,
                "HTTP request to {url} failed: cannot start a thread: {e}"
            )
        })?;
    Ok(PendingResponse {
        exchange,
        call,
        url,
        timeout_ms: manifest.timeout_ms,
        give_up_at,
    })
}

/// What the worker and the waiting call share.
#[derive(Default)]
struct Exchange {
    /// Set by the call when it stops waiting: the worker stops at its next chunk.
    abandoned: AtomicBool,
    /// Set when the worker is done (with a result, or by a panic, without).
    done: AtomicBool,
    result: Mutex<Option<Result<Response, Error>>>,
    /// The task waiting for the result.
    waker: Mutex<Option<Waker>>,
}

impl Exchange {
    fn lock_result(&self) -> MutexGuard<'_, Option<Result<Response, Error>>> {
        self.result.lock().unwrap_or_else(PoisonError::into_inner)
    }
}

/// Held by the worker: when it ends (also by a panic) the request is done and the
/// waiting task is woken.
struct Finish(Arc<Exchange>);

impl Drop for Finish {
    fn drop(&mut self) {
        self.0.done.store(true, Ordering::Release);
        let waker = self
            .0
            .waker
            .lock()
            .unwrap_or_else(PoisonError::into_inner)
            .take();
        if let Some(waker) = waker {
            waker.wake();
        }
    }
}

/// A request running on its worker: a future of its response that also ends on a
/// cancel and at the call's deadline (whoever polls it wakes it at that deadline; a
/// cancel and the worker wake it themselves). Dropping it abandons the request.
pub(crate) struct PendingResponse {
    exchange: Arc<Exchange>,
    call: CallLimits,
    url: String,
    /// The manifest's `timeout_ms`, for messages.
    timeout_ms: Option<u64>,
    give_up_at: Instant,
}

impl PendingResponse {
    /// When the call stops waiting for a worker that does not answer (past its own
    /// deadline): the poller wakes the future then.
    pub(crate) fn give_up_at(&self) -> Instant {
        self.give_up_at
    }
}

impl Future for PendingResponse {
    type Output = Result<Response, Error>;

    fn poll(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<Self::Output> {
        let this = self.get_mut();
        let exchange = &this.exchange;
        *exchange
            .waker
            .lock()
            .unwrap_or_else(PoisonError::into_inner) = Some(cx.waker().clone());
        this.call.cancel.wake_on_cancel(cx.waker());
        let url = &this.url;
        if exchange.done.load(Ordering::Acquire) {
            return Poll::Ready(exchange.lock_result().take().unwrap_or_else(|| {
                Err(fail!(
                    Host,
                    "HTTP request to {url} failed: the HTTP client stopped without an answer \
                     (it panicked)"
                ))
            }));
        }
        let stop = if this.call.cancel.is_cancelled() {
            Some(fail!(
                Cancelled,
                "plug-in call cancelled (during the HTTP request to {url})"
            ))
        } else if call_deadline_passed(&this.call) || Instant::now() > this.give_up_at {
            Some(timeout_message(url, this.timeout_ms))
        } else {
            None
        };
        match stop {
            Some(error) => {
                exchange.abandoned.store(true, Ordering::Release);
                Poll::Ready(Err(error))
            }
            None => Poll::Pending,
        }
    }
}

impl Drop for PendingResponse {
    fn drop(&mut self) {
        self.exchange.abandoned.store(true, Ordering::Release);
    }
}

/// True when the running call has a deadline and it has passed.
fn call_deadline_passed(call: &CallLimits) -> bool {
    matches!((&call.clock, call.deadline_ms), (Some(clock), Some(deadline)) if clock.now_ms() >= deadline)
}

/// What is left of the call's time, `None` without a deadline.
fn remaining_time(
    call: &CallLimits,
    manifest: &Manifest,
    url: &str,
) -> Result<Option<Duration>, Error> {
    let (Some(clock), Some(deadline)) = (&call.clock, call.deadline_ms) else {
        return Ok(None);
    };
    let now = clock.now_ms();
    if now >= deadline {
        return Err(timeout_message(url, manifest.timeout_ms));
    }
    Ok(Some(Duration::from_millis(deadline - now)))
}

/// On the worker: sends the request, follows redirects, reads the body.
fn fetch(mut job: Job, abandoned: &AtomicBool) -> Result<Response, Error> {
    for redirects in 0..=MAX_REDIRECTS {
        check_allowed(&job.patterns, &job.hop, &job.original)?;
        let left = job
            .deadline
            .checked_duration_since(Instant::now())
            .filter(|left| !left.is_zero())
            .ok_or_else(|| timeout_message(&job.hop.url, job.timeout_ms))?;
        let response = send(plugin_agent(), &job.hop, Some(left), job.timeout_ms)?;
        match next_hop(&job.hop, response.status(), response.headers())? {
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
                return Ok(Response {
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

#[cfg(test)]
mod tests {
    use super::*;
    use crate::error::{ErrorExt, ErrorKind};

    /// A clock standing still at `now_ms`.
    struct Fixed(u64);

    impl Clock for Fixed {
        fn now_ms(&self) -> u64 {
            self.0
        }
    }

    fn limits(now_ms: u64, deadline_ms: Option<u64>) -> CallLimits {
        CallLimits {
            cancel: CancelHandle::default(),
            clock: Some(Arc::new(Fixed(now_ms))),
            deadline_ms,
        }
    }

    /// The rules and the call's limits are values: no plug-in is needed to see a
    /// request refused before anything is sent.
    #[test]
    fn refusals_come_before_any_connection() {
        let allowed = Manifest::new([crate::manifest::Wasm::data(Vec::new())])
            .with_allowed_host("allowed.test");
        let request = |url: &str| HttpRequest::new(url);

        let past_deadline = start(
            request("http://allowed.test/"),
            None,
            &allowed,
            limits(10, Some(10)),
        );
        let error = past_deadline.err().expect("the call's time is up");
        assert_eq!(error.kind(), ErrorKind::Timeout);

        let elsewhere = start(
            request("http://other.test/"),
            None,
            &allowed,
            limits(0, None),
        );
        let error = elsewhere.err().expect("the host is not allowed");
        assert_eq!(error.kind(), ErrorKind::PermissionDenied);
        assert!(format!("{error:#}").contains("other.test"), "{error:#}");

        let no_hosts = Manifest::new([crate::manifest::Wasm::data(Vec::new())]);
        let error = start(
            request("http://allowed.test/"),
            None,
            &no_hosts,
            limits(0, None),
        )
        .err()
        .expect("no allowed_hosts, no HTTP");
        assert_eq!(error.kind(), ErrorKind::PermissionDenied);
    }
}
