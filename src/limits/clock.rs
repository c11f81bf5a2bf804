//! The clock timeouts are measured with: the host's, or the system's with `std`.

use alloc::sync::Arc;

/// A monotonic clock for timeouts, supplied by the host when there is no `std`.
pub trait Clock: Send + Sync {
    /// Milliseconds since an arbitrary fixed point; must never go back.
    fn now_ms(&self) -> u64;
}

/// The wall clock of the operating system.
#[cfg(feature = "std")]
#[derive(Debug, Clone, Copy)]
pub struct SystemClock;

#[cfg(feature = "std")]
impl Clock for SystemClock {
    fn now_ms(&self) -> u64 {
        use std::sync::OnceLock;
        static START: OnceLock<std::time::Instant> = OnceLock::new();
        let start = START.get_or_init(std::time::Instant::now);
        start.elapsed().as_millis() as u64
    }
}

/// The clock a plug-in uses unless the host gives another one: the system's with
/// `std` (one for the process, so that plug-ins with the default clock can be told to
/// have the same one), none without (the host passes one for `timeout_ms` to work).
pub(crate) fn default_clock() -> Option<Arc<dyn Clock>> {
    #[cfg(feature = "std")]
    {
        static SYSTEM: std::sync::OnceLock<Arc<dyn Clock>> = std::sync::OnceLock::new();
        Some(SYSTEM.get_or_init(|| Arc::new(SystemClock)).clone())
    }
    #[cfg(not(feature = "std"))]
    None
}
