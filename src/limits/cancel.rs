//! `CancelHandle`: stops a running call from another thread.

use crate::Error;
use alloc::sync::Arc;
use core::sync::atomic::{AtomicBool, Ordering};

/// Stops a running call from another thread.
///
/// `Send + Sync + Clone`; works without `std`. A cancel that arrives while no call
/// runs does not affect the next call.
#[derive(Debug, Clone, Default)]
pub struct CancelHandle {
    flag: Arc<AtomicBool>,
    /// The id of the plug-in this handle cancels (as in the `extism` crate).
    pub id: uuid::Uuid,
}

impl CancelHandle {
    pub(crate) fn new(id: uuid::Uuid) -> Self {
        CancelHandle {
            flag: Arc::default(),
            id,
        }
    }

    /// Asks the running call to stop; it fails with an error containing `cancel`.
    ///
    /// # Errors
    ///
    /// Never fails; the `Result` matches the `extism` crate.
    pub fn cancel(&self) -> Result<(), Error> {
        self.flag.store(true, Ordering::Release);
        Ok(())
    }

    /// Clears a pending cancel (done when a call starts).
    pub(crate) fn clear(&self) {
        self.flag.store(false, Ordering::Release);
    }

    /// True when a cancel arrived.
    pub(crate) fn is_cancelled(&self) -> bool {
        self.flag.load(Ordering::Acquire)
    }
}
