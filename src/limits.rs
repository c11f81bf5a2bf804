//! Limits on a call: the memory budget, cancellation, deadlines and fuel.

use crate::{current_plugin::CurrentPlugin, error::fail, memory::DEFAULT_ARENA_LIMIT, Error};
use alloc::sync::Arc;
use core::sync::atomic::{AtomicBool, Ordering};

/// Bytes in one wasm page.
pub const PAGE_BYTES: u64 = 64 * 1024;

/// Fuel the engine runs between two checks of the cancel flag and the deadline.
/// Roughly a millisecond of interpretation on a current x86-64 core.
pub const FUEL_SLICE: u64 = 1_000_000;

/// One memory budget for the linear memories and the Extism memory of an instance.
#[derive(Debug, Clone)]
pub(crate) struct Budget {
    /// Total bytes allowed, when `memory.max_pages` is set.
    pub(crate) total: Option<u64>,
    /// Bytes the instance's linear memories hold now.
    pub(crate) linear_bytes: u64,
    /// Set when a request was refused during the current call.
    pub(crate) oom: bool,
}

impl Budget {
    pub(crate) fn new(max_pages: Option<u32>) -> Self {
        Budget {
            total: max_pages.map(|pages| u64::from(pages) * PAGE_BYTES),
            linear_bytes: 0,
            oom: false,
        }
    }

    /// How far the Extism memory may grow now.
    pub(crate) fn extism_limit(&self) -> u64 {
        self.total
            .map_or(DEFAULT_ARENA_LIMIT, |t| t.saturating_sub(self.linear_bytes))
    }

    /// The error reported when the budget was hit.
    pub(crate) fn oom_error(&self) -> Error {
        match self.total {
            Some(total) => fail!(
                OutOfMemory,
                "oom: the plug-in went over its memory budget of {} pages ({} bytes, \
                 memory.max_pages in the manifest)",
                total / PAGE_BYTES,
                total
            ),
            None => fail!(OutOfMemory, "oom: the plug-in ran out of memory"),
        }
    }
}

impl wasmi::ResourceLimiter for CurrentPlugin {
    fn memory_growing(
        &mut self,
        current: usize,
        desired: usize,
        _maximum: Option<usize>,
    ) -> Result<bool, wasmi_core::LimiterError> {
        let linear = (self.budget.linear_bytes + desired as u64).saturating_sub(current as u64);
        if let Some(total) = self.budget.total {
            if linear.saturating_add(self.memory.reserved_bytes()) > total {
                self.budget.oom = true;
                return Err(wasmi_core::LimiterError::ResourceLimiterDeniedAllocation);
            }
        }
        self.budget.linear_bytes = linear;
        self.memory.set_limit(self.budget.extism_limit());
        Ok(true)
    }

    fn table_growing(
        &mut self,
        _current: usize,
        desired: usize,
        _maximum: Option<usize>,
    ) -> Result<bool, wasmi_core::LimiterError> {
        /// Table elements an instance may hold.
        const MAX_TABLE_ELEMENTS: usize = 1 << 20;
        Ok(desired <= MAX_TABLE_ELEMENTS)
    }

    fn instances(&self) -> usize {
        64
    }

    fn tables(&self) -> usize {
        64
    }

    fn memories(&self) -> usize {
        64
    }
}

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

/// The clock a plug-in uses unless the host gives another one.
pub(crate) fn default_clock() -> Option<Arc<dyn Clock>> {
    #[cfg(feature = "std")]
    {
        Some(Arc::new(SystemClock))
    }
    #[cfg(not(feature = "std"))]
    {
        None
    }
}

/// What stops a call besides its own end.
#[derive(Clone)]
pub(crate) struct CallLimits {
    pub(crate) cancel: CancelHandle,
    pub(crate) clock: Option<Arc<dyn Clock>>,
    pub(crate) timeout_ms: Option<u64>,
    pub(crate) fuel_limit: Option<u64>,
}

/// Why a call was stopped from outside.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Stop {
    Cancelled,
    TimedOut,
    OutOfFuel,
}

impl Stop {
    pub(crate) fn error(self, limits: &CallLimits) -> Error {
        match self {
            Stop::Cancelled => fail!(Cancelled, "plug-in call cancelled"),
            Stop::TimedOut => fail!(
                Timeout,
                "timeout: the call ran longer than timeout_ms = {}",
                limits.timeout_ms.unwrap_or_default()
            ),
            Stop::OutOfFuel => fail!(
                OutOfFuel,
                "out of fuel: the call used all {} units of its fuel limit",
                limits.fuel_limit.unwrap_or_default()
            ),
        }
    }
}
