//! The limits of one call: its cancel flag, deadline and fuel, and why it stopped.

use crate::limits::{cancel::CancelHandle, clock::Clock};
use crate::{error::fail, Error};
use alloc::sync::Arc;

/// Fuel the engine runs between two checks of the cancel flag and the deadline.
/// Roughly a millisecond of interpretation on a current x86-64 core.
pub const FUEL_SLICE: u64 = 1_000_000;

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
