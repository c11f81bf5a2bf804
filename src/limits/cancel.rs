//! `CancelHandle`: stops a running call from another thread.

use crate::Error;
use alloc::sync::Arc;
use core::sync::atomic::{AtomicBool, Ordering};
use core::task::Waker;

/// Stops a running call from another thread.
///
/// `Send + Sync + Clone`; works without `std`. A cancel that arrives while no call
/// runs does not affect the next call.
#[derive(Debug, Clone, Default)]
pub struct CancelHandle {
    flag: Arc<AtomicBool>,
    /// The task of an async call waiting on this plug-in, woken by a cancel.
    waker: Arc<spin::Mutex<Option<Waker>>>,
    /// The id of the plug-in this handle cancels (as in the `extism` crate).
    pub id: uuid::Uuid,
}

impl CancelHandle {
    pub(crate) fn new(id: uuid::Uuid) -> Self {
        CancelHandle {
            flag: Arc::default(),
            waker: Arc::default(),
            id,
        }
    }

    /// Asks the running call to stop; it fails with an error containing `cancel`. An
    /// async call waiting on a host function is woken and ends at once.
    ///
    /// # Errors
    ///
    /// Never fails; the `Result` matches the `extism` crate.
    pub fn cancel(&self) -> Result<(), Error> {
        self.flag.store(true, Ordering::Release);
        let waiting = self.waker.lock().take();
        if let Some(waker) = waiting {
            waker.wake();
        }
        Ok(())
    }

    /// Clears a pending cancel (done when a call starts).
    pub(crate) fn clear(&self) {
        self.flag.store(false, Ordering::Release);
    }

    /// Lets a cancel wake `waker` (an async call about to wait); check
    /// [`CancelHandle::is_cancelled`] after this, not before, so no cancel is missed.
    pub(crate) fn wake_on_cancel(&self, waker: &Waker) {
        let mut slot = self.waker.lock();
        if !slot.as_ref().is_some_and(|old| old.will_wake(waker)) {
            *slot = Some(waker.clone());
        }
    }

    /// Forgets the waker of [`CancelHandle::wake_on_cancel`] (the wait is over).
    pub(crate) fn forget_waker(&self) {
        self.waker.lock().take();
    }

    /// True when a cancel arrived.
    pub(crate) fn is_cancelled(&self) -> bool {
        self.flag.load(Ordering::Acquire)
    }
}
