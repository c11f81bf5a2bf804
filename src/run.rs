//! The run loop: a wasm function run in fuel slices under cancel, deadline and fuel limit.

use crate::{
    current_plugin::CurrentPlugin,
    limits::{CallLimits, Stop, FUEL_SLICE},
    Error,
};
use wasmi::{Func, Store};

/// A failed run of a wasm function.
pub(crate) struct RunError {
    pub(crate) error: Error,
    /// The WASI exit status, when the plug-in called `proc_exit`.
    pub(crate) exit: Option<i32>,
    /// The instance may be inconsistent and is rebuilt before the next call.
    pub(crate) poisoned: bool,
    /// Fuel the call used before it failed (0 without fuel metering).
    pub(crate) fuel_used: u64,
}

impl RunError {
    /// Records how much fuel the call had used when it failed.
    fn after_using(mut self, fuel: u64) -> Self {
        self.fuel_used = fuel;
        self
    }
}

/// Runs `func` under the limits. With fuel metering on, the engine runs in slices
/// of [`FUEL_SLICE`], checking cancel, deadline and the fuel limit between them.
pub(crate) fn run(
    store: &mut Store<CurrentPlugin>,
    func: Func,
    params: &[wasmi::Val],
    results: &mut [wasmi::Val],
    limits: &CallLimits,
    fueled: bool,
    init_fuel: Option<u64>,
) -> Result<u64, RunError> {
    let to_run_error = |store: &Store<CurrentPlugin>, error: wasmi::Error| {
        if let Some(status) = error.i32_exit_status() {
            return RunError {
                error: crate::error::new(
                    crate::ErrorKind::Exit { code: status },
                    alloc::format!("the plug-in exited with status {status}"),
                ),
                exit: Some(status),
                poisoned: true,
                fuel_used: 0,
            };
        }
        let error = if store.data().budget.oom {
            store.data().budget.oom_error()
        } else if let Some(failure) = error.downcast_ref::<crate::error::Failure>() {
            // h2 (issue 12): a host import's error keeps its kind through the trap.
            anyhow::Error::new(failure.clone())
        } else {
            anyhow::anyhow!("{error}")
        };
        RunError {
            error,
            exit: None,
            poisoned: true,
            fuel_used: 0,
        }
    };
    if !fueled {
        return func
            .call(&mut *store, params, results)
            .map(|()| 0)
            .map_err(|e| to_run_error(store, e));
    }
    let stop = |store: &Store<CurrentPlugin>, stop: Stop| {
        let _ = store;
        RunError {
            error: stop.error(limits),
            exit: None,
            poisoned: true,
            fuel_used: 0,
        }
    };
    let mut fuel_left = limits.fuel_limit;
    let slice = |left: Option<u64>, required: u64| match left {
        Some(left) => left.min(FUEL_SLICE.max(required)),
        None => FUEL_SLICE.max(required),
    };
    let mut given = init_fuel.unwrap_or_else(|| slice(fuel_left, 0));
    let mut consumed = 0u64;
    let _ = store.set_fuel(given);
    let mut attempt = func.call_resumable(&mut *store, params, results);
    loop {
        let spent = given.saturating_sub(store.get_fuel().unwrap_or(0));
        consumed = consumed.saturating_add(spent);
        if let Some(left) = fuel_left.as_mut() {
            *left = left.saturating_sub(spent);
        }
        let call = attempt.map_err(|e| to_run_error(store, e).after_using(consumed))?;
        match call {
            wasmi::ResumableCall::Finished => return Ok(consumed),
            wasmi::ResumableCall::HostTrap(trap) => {
                return Err(to_run_error(store, trap.into_host_error()).after_using(consumed));
            }
            wasmi::ResumableCall::OutOfFuel(pending) => {
                if let Some(init_fuel) = init_fuel {
                    return Err(RunError {
                        error: anyhow::anyhow!("used more than {init_fuel} units of fuel"),
                        exit: None,
                        poisoned: true,
                        fuel_used: consumed,
                    });
                }
                let stopped = if fuel_left == Some(0)
                    || fuel_left.is_some_and(|l| l < pending.required_fuel())
                {
                    Some(Stop::OutOfFuel)
                } else if limits.cancel.is_cancelled() {
                    Some(Stop::Cancelled)
                } else if matches!(
                    (&limits.clock, store.data().deadline_ms),
                    (Some(clock), Some(deadline)) if clock.now_ms() > deadline
                ) {
                    Some(Stop::TimedOut)
                } else {
                    None
                };
                if let Some(reason) = stopped {
                    return Err(stop(store, reason).after_using(consumed));
                }
                given = slice(fuel_left, pending.required_fuel());
                let _ = store.set_fuel(given);
                attempt = pending.resume(&mut *store, results);
            }
        }
    }
}

/// The outcome of a failed call: the error and the return code the C API reports.
#[derive(Debug)]
pub(crate) struct CallFailure {
    pub(crate) error: Error,
    pub(crate) rc: i32,
}
