//! WASI waits (`poll_oneoff`, `sched_yield`) that the host can interrupt.
//!
//! `wasi-common`'s own scheduler sleeps for as long as the plug-in asks, in one
//! blocking call: a plug-in sleeping an hour would hold the host's thread for an hour
//! whatever the call's `timeout_ms` or a cancel said. [`WatchedSched`] waits in slices
//! of at most [`WAIT_SLICE`] and checks the call's deadline and cancel flag (a
//! [`CallWatch`]) between them; when either has fired, the wait ends at once with a
//! trap and the watch remembers why, so the call fails with kind `Timeout` or
//! `Cancelled` (see `imports/wasi.rs`).
//!
//! Where the call can be suspended (the run loop runs it; not in a start function), a
//! sleep (`poll_oneoff` on one relative clock, what WASI libc's, Rust's and Go's
//! sleeps use) is not slept here: the watch records until when
//! ([`CallWatch::take_deferred`]) and the call suspends until then
//! (`imports/wasi_sleep.rs`), so an async call holds no thread while the plug-in
//! sleeps. Other polls on clocks wait here.

use crate::{error::ErrorKind, limits::cancel::CancelHandle, limits::clock::Clock};
use alloc::sync::Arc;
use core::sync::atomic::{AtomicBool, AtomicU64, AtomicU8, Ordering};
use core::task::Waker;
use std::sync::{Mutex, PoisonError};
use std::time::{Duration, Instant};
use wasmi_wasi::wasi_common::{
    self,
    sched::{Poll, WasiSched},
};

/// The longest a WASI wait sleeps before checking the deadline and cancel flag again.
pub(crate) const WAIT_SLICE: Duration = Duration::from_millis(20);

/// No deadline (the call has no `timeout_ms`).
const NO_DEADLINE: u64 = u64::MAX;

/// Why a wait was stopped: nothing yet, a cancel, the deadline.
const NOT_STOPPED: u8 = 0;
const STOPPED_BY_CANCEL: u8 = 1;
const STOPPED_BY_DEADLINE: u8 = 2;

/// What a WASI wait checks while it sleeps: the plug-in's cancel flag and the running
/// call's deadline (copied in before every WASI function, see `imports/wasi.rs`).
pub(crate) struct CallWatch {
    cancel: CancelHandle,
    clock: Option<Arc<dyn Clock>>,
    deadline_ms: AtomicU64,
    stopped: AtomicU8,
    /// Whether sleeps are deferred to the caller (the running call can suspend).
    defer: AtomicBool,
    /// A sleep deferred to the caller: until when (`None`: for ever).
    deferred: Mutex<Option<Option<Instant>>>,
}

impl CallWatch {
    /// A watch on `cancel` and on deadlines read from `clock`.
    pub(crate) fn new(cancel: CancelHandle, clock: Option<Arc<dyn Clock>>) -> Self {
        CallWatch {
            cancel,
            clock,
            deadline_ms: AtomicU64::new(NO_DEADLINE),
            stopped: AtomicU8::new(NOT_STOPPED),
            defer: AtomicBool::new(false),
            deferred: Mutex::new(None),
        }
    }

    /// Defers the sleeps of the next WASI function to its caller when `on` (the
    /// running call can suspend), sleeps on this thread otherwise.
    pub(crate) fn defer_sleeps(&self, on: bool) {
        self.defer.store(on, Ordering::Release);
        self.deferred
            .lock()
            .unwrap_or_else(PoisonError::into_inner)
            .take();
    }

    /// The sleep the last WASI function deferred to its caller, if it did: until when
    /// (`None`: for ever).
    pub(crate) fn take_deferred(&self) -> Option<Option<Instant>> {
        self.deferred
            .lock()
            .unwrap_or_else(PoisonError::into_inner)
            .take()
    }

    /// Why the call must stop now (a cancel, the deadline), if it must; remembered as
    /// a stopped wait is.
    pub(crate) fn stop_now(&self) -> Option<ErrorKind> {
        self.check().map(|reason| match reason {
            STOPPED_BY_CANCEL => ErrorKind::Cancelled,
            _ => ErrorKind::Timeout,
        })
    }

    /// Lets a cancel of the call wake `waker` (a deferred sleep waiting).
    pub(crate) fn wake_on_cancel(&self, waker: &Waker) {
        self.cancel.wake_on_cancel(waker);
    }

    /// Sets the deadline of the running call (`None`: no deadline) and forgets an
    /// earlier stop.
    pub(crate) fn begin(&self, deadline_ms: Option<u64>) {
        self.deadline_ms
            .store(deadline_ms.unwrap_or(NO_DEADLINE), Ordering::Release);
        self.stopped.store(NOT_STOPPED, Ordering::Release);
    }

    /// Why the last wait was stopped, if it was (and forgets it).
    pub(crate) fn take_stop(&self) -> Option<ErrorKind> {
        match self.stopped.swap(NOT_STOPPED, Ordering::AcqRel) {
            STOPPED_BY_CANCEL => Some(ErrorKind::Cancelled),
            STOPPED_BY_DEADLINE => Some(ErrorKind::Timeout),
            _ => None,
        }
    }

    /// Records and returns why the call must stop now, if it must.
    fn check(&self) -> Option<u8> {
        let reason = if self.cancel.is_cancelled() {
            STOPPED_BY_CANCEL
        } else {
            let deadline = self.deadline_ms.load(Ordering::Acquire);
            match &self.clock {
                Some(clock) if deadline != NO_DEADLINE && clock.now_ms() >= deadline => {
                    STOPPED_BY_DEADLINE
                }
                _ => return None,
            }
        };
        self.stopped.store(reason, Ordering::Release);
        Some(reason)
    }

    /// Sleeps until `until` (forever when `None`) in slices, unless the call is stopped
    /// first: then returns the trap that ends the call.
    fn sleep_until(&self, until: Option<Instant>) -> Result<(), wasi_common::Error> {
        loop {
            if let Some(reason) = self.check() {
                let why = if reason == STOPPED_BY_CANCEL {
                    "the call was cancelled"
                } else {
                    "the call ran past its timeout_ms"
                };
                return Err(interrupted(
                    reason,
                    alloc::format!("a WASI wait was interrupted: {why}"),
                ));
            }
            let slice = match until {
                Some(until) => match until.checked_duration_since(Instant::now()) {
                    Some(left) if !left.is_zero() => left.min(WAIT_SLICE),
                    _ => return Ok(()),
                },
                None => WAIT_SLICE,
            };
            std::thread::sleep(slice);
        }
    }
}

/// The trap that ends a wait stopped for `reason`, of kind `Cancelled` or `Timeout`
/// (the guard around WASI functions reports the same kind from the watch).
fn interrupted(reason: u8, message: alloc::string::String) -> wasi_common::Error {
    let kind = if reason == STOPPED_BY_CANCEL {
        ErrorKind::Cancelled
    } else {
        ErrorKind::Timeout
    };
    wasi_common::Error::trap(crate::error::new(kind, message))
}

#[cfg(test)]
impl CallWatch {
    /// Sleeps up to one slice, as a wait does; true when the call was stopped.
    pub(crate) fn sleep_for_test(&self) -> bool {
        self.sleep_until(Instant::now().checked_add(WAIT_SLICE))
            .is_err()
    }
}

/// The scheduler of a plug-in's WASI context: sleeps and clock polls wait in slices
/// under a [`CallWatch`]; polls on files are answered by `wasi-common`'s own code.
pub(crate) struct WatchedSched {
    watch: Arc<CallWatch>,
}

impl WatchedSched {
    /// A scheduler whose waits `watch` can interrupt.
    pub(crate) fn new(watch: Arc<CallWatch>) -> Self {
        WatchedSched { watch }
    }
}

#[async_trait::async_trait]
impl WasiSched for WatchedSched {
    async fn poll_oneoff<'a>(&self, poll: &mut Poll<'a>) -> Result<(), wasi_common::Error> {
        if poll.rw_subscriptions().next().is_some() {
            // Files and pipes: `wasi-common` answers at once for files; refuse to
            // start a poll once the call should stop.
            if let Some(reason) = self.watch.check() {
                return Err(interrupted(
                    reason,
                    "a WASI poll was interrupted by the call's cancel or deadline".into(),
                ));
            }
        } else if let Some(clock) = poll.earliest_clock_deadline() {
            // Clocks only: wait for the earliest here, in slices; the poll below then
            // finds it expired and returns at once.
            let until = match clock.duration_until() {
                None => Some(Instant::now()),
                // A deadline too far for `Instant` is forever.
                Some(left) => Instant::now().checked_add(left),
            };
            self.watch.sleep_until(until)?;
        }
        wasi_common::sync::sched::poll_oneoff(poll).await
    }

    async fn sched_yield(&self) -> Result<(), wasi_common::Error> {
        std::thread::yield_now();
        Ok(())
    }

    async fn sleep(&self, duration: Duration) -> Result<(), wasi_common::Error> {
        // A duration too long for the clock (`u64::MAX` ns and the like) is forever.
        let until = Instant::now().checked_add(duration);
        if self.watch.defer.load(Ordering::Acquire) {
            if let Some(reason) = self.watch.check() {
                return Err(interrupted(
                    reason,
                    "a WASI sleep was interrupted by the call's cancel or deadline".into(),
                ));
            }
            // The caller suspends the call until then; to the plug-in, the sleep
            // returns when the call resumes.
            *self
                .watch
                .deferred
                .lock()
                .unwrap_or_else(PoisonError::into_inner) = Some(until);
            return Ok(());
        }
        self.watch.sleep_until(until)
    }
}
