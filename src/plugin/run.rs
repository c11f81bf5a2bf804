//! The run loop: a wasm function run in fuel slices under cancel, deadline and fuel limit.

use crate::{
    error::{fail, from_engine},
    host::current_plugin::CurrentPlugin,
    limits::call::{CallLimits, Stop, FUEL_SLICE},
    plugin::store::PluginStore,
    Error,
};
use wasmi::Func;

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
    store: &mut PluginStore<CurrentPlugin>,
    func: Func,
    params: &[wasmi::Val],
    results: &mut [wasmi::Val],
    limits: &CallLimits,
    fueled: bool,
) -> Result<u64, RunError> {
    let to_run_error = |store: &PluginStore<CurrentPlugin>, error: wasmi::Error| RunError {
        exit: error.i32_exit_status(),
        error: engine_error(store, &error),
        poisoned: true,
        fuel_used: 0,
    };
    if !fueled {
        return func
            .call(&mut *store, params, results)
            .map(|()| 0)
            .map_err(|e| to_run_error(store, e));
    }
    let stop = |store: &PluginStore<CurrentPlugin>, stop: Stop| {
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
    let mut given = slice(fuel_left, 0);
    let mut consumed = 0u64;
    let _ = store.set_fuel(given);
    let mut attempt = func.call_resumable(&mut *store, params, results);
    loop {
        // Fuel used in the slice, plus what imports charged past its end.
        let spent = given
            .saturating_sub(store.get_fuel().unwrap_or(0))
            .saturating_add(store.data_mut().take_fuel_debt());
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
                let stopped = if fuel_left == Some(0)
                    || fuel_left.is_some_and(|l| l < pending.required_fuel())
                {
                    Some(Stop::OutOfFuel)
                } else if limits.cancel.is_cancelled() {
                    Some(Stop::Cancelled)
                } else if matches!(
                    (&limits.clock, limits.deadline_ms),
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

/// The error, with its kind, of a wasm function that failed in the engine.
///
/// A failure made by host code keeps its kind; a WASI exit is [`Exit`]; a request the
/// memory budget refused, when nothing was allocated after it, explains a trap as
/// [`OutOfMemory`]; any other failure is a [`Trap`].
///
/// [`Exit`]: crate::ErrorKind::Exit
/// [`OutOfMemory`]: crate::ErrorKind::OutOfMemory
/// [`Trap`]: crate::ErrorKind::Trap
pub(crate) fn engine_error(store: &PluginStore<CurrentPlugin>, error: &wasmi::Error) -> Error {
    if let Some(code) = error.i32_exit_status() {
        return crate::error::new(
            crate::ErrorKind::Exit { code },
            alloc::format!("the plug-in exited with status {code}"),
        );
    }
    if let Some(failure) = from_engine(error) {
        return anyhow::Error::new(failure.clone());
    }
    if error.as_trap_code() == Some(wasmi::TrapCode::OutOfFuel) {
        return fail!(
            OutOfFuel,
            "out of fuel: the plug-in used all the fuel it was given ({error})"
        );
    }
    if store.data().budget.oom {
        return store.data().budget.oom_error();
    }
    fail!(Trap, "{error}")
}
