//! Waiting inside a call: on an async host function's future under the call's cancel
//! and deadline ([`HostWait`]), a yield to the executor ([`YieldNow`]), and the driver
//! of sync calls and of waits that cannot suspend ([`block_on`]).

use crate::{
    error::{fail, with_context},
    limits::call::{CallLimits, Stop},
    platform, Error,
};
use alloc::{format, sync::Arc};
use core::{
    future::Future,
    pin::{pin, Pin},
    task::{Context, Poll, Waker},
};

/// The wait of a suspended call on an async host function's future.
///
/// Each poll polls the future (panics caught), and while it is pending checks the
/// call's cancel flag and deadline (a cancel wakes the waiting task through the
/// [`CancelHandle`](crate::CancelHandle); with `std` an
/// [`Alarm`](crate::host::timer::Alarm) wakes it at the deadline). Ends with the
/// closure that writes the results, or with the error that ends the call.
pub(crate) struct HostWait<'l, F> {
    future: F,
    /// `namespace::name` of the host function (`None`: one of interplug's imports,
    /// whose errors pass as they are).
    label: Option<Arc<str>>,
    limits: &'l CallLimits,
    /// A sync call: it blocks its thread (with `std`) and never sets an alarm; without
    /// `std` it cannot wait at all.
    blocking: bool,
    /// Whether a cancel may wake this wait (to forget at the end).
    woken_by_cancel: bool,
    #[cfg(feature = "std")]
    alarm: Option<crate::host::timer::Alarm>,
}

impl<'l, F> HostWait<'l, F> {
    pub(crate) fn new(
        label: Option<Arc<str>>,
        future: F,
        limits: &'l CallLimits,
        blocking: bool,
    ) -> Self {
        HostWait {
            future,
            label,
            limits,
            blocking,
            woken_by_cancel: false,
            #[cfg(feature = "std")]
            alarm: None,
        }
    }

    /// Why the call must stop now, if it must.
    fn stopped(&self) -> Option<Stop> {
        if self.limits.cancel.is_cancelled() {
            Some(Stop::Cancelled)
        } else if past_deadline(self.limits) {
            Some(Stop::TimedOut)
        } else {
            None
        }
    }

    /// Makes sure the task is woken at the deadline (async calls, with `std`).
    #[cfg(feature = "std")]
    fn wake_at_deadline(&mut self, waker: &Waker) {
        if self.blocking {
            return;
        }
        match &mut self.alarm {
            Some(alarm) => alarm.update(waker),
            None => {
                if let Some(left) = time_left(self.limits) {
                    let at = std::time::Instant::now() + left;
                    self.alarm = crate::host::timer::Alarm::set(at, waker);
                }
            }
        }
    }
}

impl<F, W> Future for HostWait<'_, F>
where
    F: Future<Output = Result<W, Error>> + Unpin,
{
    type Output = Result<W, Error>;

    fn poll(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<Self::Output> {
        let this = self.get_mut();
        // Registered before the flag is read, so a cancel in between still wakes us.
        this.limits.cancel.wake_on_cancel(cx.waker());
        this.woken_by_cancel = true;
        // The future first: one that watches the limits itself (an HTTP request) says
        // what it was doing when they stopped it.
        let future = &mut this.future;
        let polled = platform::catch_panic(|| Ok(Pin::new(future).poll(cx)));
        let label = this.label.as_deref();
        let host_error = |error: Error| match label {
            Some(label) => with_context(error, &format!("host function `{label}` failed")),
            None => error,
        };
        match polled {
            Err(panic) => Poll::Ready(Err(host_error(panic))),
            Ok(Poll::Ready(Ok(writer))) => Poll::Ready(Ok(writer)),
            Ok(Poll::Ready(Err(error))) => Poll::Ready(Err(host_error(error))),
            Ok(Poll::Pending) => {
                if let Some(stop) = this.stopped() {
                    return Poll::Ready(Err(stop.error(this.limits)));
                }
                if this.blocking && cfg!(not(feature = "std")) {
                    return Poll::Ready(Err(fail!(
                        Invalid,
                        "the async host function `{}` has to wait, and a sync call cannot \
                         wait without the standard library: call the plug-in with call_async",
                        label.unwrap_or("an interplug import")
                    )));
                }
                #[cfg(feature = "std")]
                this.wake_at_deadline(cx.waker());
                Poll::Pending
            }
        }
    }
}

impl<F> Drop for HostWait<'_, F> {
    fn drop(&mut self) {
        if self.woken_by_cancel {
            self.limits.cancel.forget_waker();
        }
    }
}

/// True when the call's deadline has passed.
pub(crate) fn past_deadline(limits: &CallLimits) -> bool {
    matches!(
        (&limits.clock, limits.deadline_ms),
        (Some(clock), Some(deadline)) if clock.now_ms() > deadline
    )
}

/// The time until the call's deadline has passed (a millisecond more than the clock's
/// difference, as the deadline is passed when the clock is beyond it).
#[cfg(feature = "std")]
fn time_left(limits: &CallLimits) -> Option<core::time::Duration> {
    let (Some(clock), Some(deadline)) = (&limits.clock, limits.deadline_ms) else {
        return None;
    };
    let left_ms = deadline.saturating_sub(clock.now_ms()).saturating_add(1);
    Some(core::time::Duration::from_millis(left_ms))
}

/// Gives the executor back its thread once: wakes the task and is pending, then ready.
#[derive(Default)]
pub(crate) struct YieldNow {
    yielded: bool,
}

impl Future for YieldNow {
    type Output = ();

    fn poll(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<()> {
        if self.yielded {
            return Poll::Ready(());
        }
        self.yielded = true;
        cx.waker().wake_by_ref();
        Poll::Pending
    }
}

/// Runs a call's future to its end on this thread (sync calls).
///
/// The first poll has no waker of its own (most calls never wait). When the call waits
/// on a host function, the thread sleeps until the future, a cancel or the deadline
/// wakes it (with `std`). Without `std` a sync call's [`HostWait`] never returns
/// pending (it fails instead), so the first poll always ends it.
pub(crate) fn block_on<F: Future>(future: F, limits: &CallLimits) -> F::Output {
    let mut future = pin!(future);
    if let Poll::Ready(output) = future
        .as_mut()
        .poll(&mut Context::from_waker(Waker::noop()))
    {
        return output;
    }
    #[cfg(feature = "std")]
    {
        let waker = Waker::from(Arc::new(ThreadWaker(std::thread::current())));
        let mut cx = Context::from_waker(&waker);
        loop {
            if let Poll::Ready(output) = future.as_mut().poll(&mut cx) {
                return output;
            }
            match time_left(limits) {
                Some(left) => std::thread::park_timeout(left),
                None => std::thread::park(),
            }
        }
    }
    #[cfg(not(feature = "std"))]
    {
        let _ = limits;
        loop {
            core::hint::spin_loop();
            if let Poll::Ready(output) = future
                .as_mut()
                .poll(&mut Context::from_waker(Waker::noop()))
            {
                return output;
            }
        }
    }
}

/// Wakes a thread blocked in [`block_on`].
#[cfg(feature = "std")]
struct ThreadWaker(std::thread::Thread);

#[cfg(feature = "std")]
impl std::task::Wake for ThreadWaker {
    fn wake(self: Arc<Self>) {
        self.0.unpark();
    }

    fn wake_by_ref(self: &Arc<Self>) {
        self.0.unpark();
    }
}
