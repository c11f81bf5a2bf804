//! [`LoadBounds`]: what bounds making a plug-in's modules ready (reading the modules'
//! bytes, validating, rewriting, compiling): the creation's deadline and cancel, and
//! the load-time memory cap ([`DEFAULT_MAX_LOAD_BYTES`]).

use crate::error::fail;
use crate::limits::{cancel::CancelHandle, clock::Clock};
use crate::Error;
use alloc::sync::Arc;

/// The most memory creating one plug-in may hold for its modules (1 GiB): the
/// modules' bytes (each at most
/// [`DEFAULT_MAX_MODULE_BYTES`](crate::load::sources::DEFAULT_MAX_MODULE_BYTES)), and
/// what the load-time passes hold while they rewrite one (the module they write and
/// their working state, which is linear in the module's size). Past it creation
/// fails with [`ErrorKind::LimitExceeded`](crate::ErrorKind::LimitExceeded).
/// Validation and the engine's own structures are linear in the modules' size too,
/// so this bounds them as well.
///
/// ```
/// assert_eq!(interplug::sources::DEFAULT_MAX_LOAD_BYTES, 1 << 30);
/// ```
pub const DEFAULT_MAX_LOAD_BYTES: u64 = 1 << 30;

/// What bounds making one plug-in's modules ready.
#[derive(Clone)]
pub(crate) struct LoadBounds {
    clock: Option<Arc<dyn Clock>>,
    timeout_ms: Option<u64>,
    /// When creation must be done, by `clock`.
    deadline_ms: Option<u64>,
    cancel: CancelHandle,
    /// The load-time memory cap.
    pub(crate) max_bytes: u64,
}

impl LoadBounds {
    /// Bounds starting now: `timeout_ms` by `clock` (no deadline without either),
    /// `cancel`, and the default memory cap.
    pub(crate) fn new(
        clock: Option<Arc<dyn Clock>>,
        timeout_ms: Option<u64>,
        cancel: CancelHandle,
    ) -> Self {
        let deadline_ms = match (&clock, timeout_ms) {
            (Some(clock), Some(timeout)) => Some(clock.now_ms().saturating_add(timeout)),
            _ => None,
        };
        LoadBounds {
            clock,
            timeout_ms,
            deadline_ms,
            cancel,
            max_bytes: DEFAULT_MAX_LOAD_BYTES,
        }
    }

    /// Nothing but the memory cap.
    #[cfg(test)]
    pub(crate) fn unbounded() -> Self {
        LoadBounds::new(None, None, CancelHandle::default())
    }

    /// Fails when creation was cancelled or ran past its deadline.
    ///
    /// # Errors
    ///
    /// [`ErrorKind::Cancelled`](crate::ErrorKind::Cancelled) or
    /// [`ErrorKind::Timeout`](crate::ErrorKind::Timeout).
    pub(crate) fn check(&self) -> Result<(), Error> {
        if self.cancel.is_cancelled() {
            return Err(fail!(
                Cancelled,
                "creating the plug-in was cancelled while its modules were loaded"
            ));
        }
        if let (Some(clock), Some(deadline)) = (&self.clock, self.deadline_ms) {
            if clock.now_ms() > deadline {
                return Err(fail!(
                    Timeout,
                    "timeout: loading the plug-in's modules (validating and rewriting them) \
                     took longer than timeout_ms = {}",
                    self.timeout_ms.unwrap_or_default()
                ));
            }
        }
        Ok(())
    }
}
