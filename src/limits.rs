//! Limits on a call: the memory budget, cancellation, deadlines and fuel.

use crate::{
    error::{fail, Failure},
    memory::DEFAULT_ARENA_LIMIT,
    Error,
};
use alloc::sync::Arc;
use core::sync::atomic::{AtomicBool, Ordering};

/// Bytes in one wasm page.
pub const PAGE_BYTES: u64 = 64 * 1024;

/// Fuel the engine runs between two checks of the cancel flag and the deadline.
/// Roughly a millisecond of interpretation on a current x86-64 core.
pub const FUEL_SLICE: u64 = 1_000_000;

/// The most table elements one instance holds, summed over all its tables, whatever
/// its memory budget: 1 048 576 elements, 8 MiB of host memory at most. Official PDK
/// plug-ins hold a few hundred to a few thousand.
pub const MAX_TABLE_ELEMENTS: u64 = 1 << 20;

/// Host bytes counted against the memory budget per table element: a 4-byte
/// reference, twice for the slack of a growing table.
pub const TABLE_ELEMENT_BYTES: u64 = 8;

/// One memory budget for the linear memories, the tables and the Extism memory of an
/// instance.
#[derive(Debug, Clone)]
pub(crate) struct Budget {
    /// Total bytes allowed, when `memory.max_pages` is set.
    pub(crate) total: Option<u64>,
    /// Bytes the instance's linear memories hold now.
    pub(crate) linear_bytes: u64,
    /// Elements the instance's tables hold now.
    pub(crate) table_elements: u64,
    /// Set when a request was refused during the current call.
    pub(crate) oom: bool,
    /// Why the last request was refused, when that was not the Extism memory or a
    /// linear memory going over the budget (a table cap).
    pub(crate) refusal: Option<Failure>,
}

impl Budget {
    pub(crate) fn new(max_pages: Option<u32>) -> Self {
        Budget {
            total: max_pages.map(|pages| u64::from(pages) * PAGE_BYTES),
            linear_bytes: 0,
            table_elements: 0,
            oom: false,
            refusal: None,
        }
    }

    /// Bytes the budget counts for the tables.
    pub(crate) fn table_bytes(&self) -> u64 {
        self.table_elements.saturating_mul(TABLE_ELEMENT_BYTES)
    }

    /// How far the Extism memory (arena and bookkeeping) may grow now.
    pub(crate) fn extism_limit(&self) -> u64 {
        self.total.map_or(DEFAULT_ARENA_LIMIT, |t| {
            t.saturating_sub(self.linear_bytes)
                .saturating_sub(self.table_bytes())
        })
    }

    /// Notes that a request was refused, with the reason when it is not the plain
    /// out-of-memory error.
    pub(crate) fn refuse(&mut self, reason: Option<Failure>) {
        self.oom = true;
        self.refusal = reason;
    }

    /// Forgets a refusal (done when a call starts).
    pub(crate) fn clear_refusal(&mut self) {
        self.oom = false;
        self.refusal = None;
    }

    /// The error reported when the budget or a cap was hit.
    pub(crate) fn oom_error(&self) -> Error {
        if let Some(reason) = &self.refusal {
            return Error::new(reason.clone());
        }
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

/// What stops a call besides its own end.
#[derive(Clone)]
pub(crate) struct CallLimits {
    pub(crate) cancel: CancelHandle,
    pub(crate) clock: Option<Arc<dyn Clock>>,
    pub(crate) timeout_ms: Option<u64>,
    /// When the call must end, by `clock` (set from `timeout_ms` when the call starts).
    pub(crate) deadline_ms: Option<u64>,
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
