//! A plug-in's WASI sleep, where the call can be suspended: the call waits for it as
//! on an async host function (`imports/wasi.rs` makes the suspension), so an async
//! call holds no thread while the plug-in sleeps, and a sync call sleeps on its own
//! thread as before.
//!
//! The WASI function has already run when the call suspends (`os/wasi/sched.rs`
//! deferred the sleep and let `poll_oneoff` write its event), so the plug-in, which
//! sees nothing until the call resumes, finds the sleep over. The wait ends at the
//! sleep's end, at the call's cancel or at its deadline, whichever is first.

use crate::{error::ErrorKind, host::timer::Alarm, os::wasi::CallWatch, Error};
use alloc::{format, string::String, sync::Arc};
use core::{
    future::Future,
    pin::Pin,
    task::{Context, Poll},
};
use std::time::Instant;

/// The error of a WASI wait stopped by the call's cancel or deadline.
pub(crate) fn stopped(name: &str, kind: ErrorKind) -> Error {
    let why: String = match kind {
        ErrorKind::Cancelled => String::from("plug-in call cancelled"),
        _ => String::from("timeout: the call ran longer than its timeout_ms"),
    };
    crate::error::new(kind, format!("{why} (while waiting in WASI `{name}`)"))
}

/// A sleep until an instant (`None`: for ever), woken by the process's timer; it ends
/// early, with the error of a stopped WASI wait, on the call's cancel or past its
/// deadline (the wait of the run loop wakes it then).
pub(crate) struct Sleep {
    name: &'static str,
    watch: Arc<CallWatch>,
    until: Option<Instant>,
    alarm: Option<Alarm>,
}

impl Sleep {
    /// The sleep the WASI function `name` deferred, under `watch`.
    pub(crate) fn new(name: &'static str, watch: Arc<CallWatch>, until: Option<Instant>) -> Self {
        Sleep {
            name,
            watch,
            until,
            alarm: None,
        }
    }
}

impl Future for Sleep {
    type Output = Result<(), Error>;

    fn poll(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<Self::Output> {
        let this = self.get_mut();
        this.watch.wake_on_cancel(cx.waker());
        if let Some(kind) = this.watch.stop_now() {
            return Poll::Ready(Err(stopped(this.name, kind)));
        }
        let Some(until) = this.until else {
            return Poll::Pending;
        };
        if Instant::now() >= until {
            return Poll::Ready(Ok(()));
        }
        match &mut this.alarm {
            Some(alarm) => alarm.update(cx.waker()),
            None => {
                this.alarm = Alarm::set(until, cx.waker());
                if this.alarm.is_none() {
                    // No timer thread on this platform: poll again until it is time.
                    cx.waker().wake_by_ref();
                }
            }
        }
        Poll::Pending
    }
}
