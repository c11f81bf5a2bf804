//! The run loop: a wasm function run in fuel slices under cancel, deadline and fuel
//! limit, as a resumable call. It waits on async host functions (the call suspended,
//! the store free: `ResumableCall::HostTrap`) and, for async calls, yields to the
//! executor between slices. One `async fn` serves both kinds of call: a sync call
//! drives it with [`block_on`].

use crate::{
    error::{fail, from_engine, with_context},
    host::current_plugin::CurrentPlugin,
    host::function::{HostFuture, Writer},
    host::suspend::Suspend,
    host::val::Val,
    host::wait::{block_on, past_deadline, HostWait, YieldNow},
    limits::call::{CallLimits, Stop, FUEL_SLICE},
    platform,
    plugin::store::PluginStore,
    Error,
};
use alloc::{format, vec::Vec};
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

/// How a run waits.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Mode {
    /// A sync call: it blocks its thread on async host functions and never yields.
    Blocking,
    /// An async call: it awaits async host functions, and yields to the executor every
    /// `yield_fuel` units of fuel when set.
    Async { yield_fuel: Option<u64> },
}

/// Runs `func` under the limits, blocking the thread on async host functions (sync
/// calls, constructors). With fuel metering on, the engine runs in slices of
/// [`FUEL_SLICE`], checking cancel, deadline and the fuel limit between them.
pub(crate) fn run(
    store: &mut PluginStore<CurrentPlugin>,
    func: Func,
    params: &[wasmi::Val],
    results: &mut [wasmi::Val],
    limits: &CallLimits,
    fueled: bool,
) -> Result<u64, RunError> {
    let running = run_async(store, func, params, results, limits, fueled, Mode::Blocking);
    block_on(running, limits)
}

/// The fuel of a run: what it was given, what it used, when it yields next.
struct Meter {
    fueled: bool,
    /// What the fuel limit leaves (`None`: no limit).
    left: Option<u64>,
    /// Fuel set for the current slice.
    given: u64,
    consumed: u64,
    /// Fuel between two yields, and what was used since the last one.
    yield_fuel: Option<u64>,
    since_yield: u64,
}

impl Meter {
    /// Counts the fuel used since the slice started, plus what imports charged past
    /// its end.
    fn account(&mut self, store: &mut PluginStore<CurrentPlugin>) {
        if !self.fueled {
            return;
        }
        let spent = self
            .given
            .saturating_sub(store.get_fuel().unwrap_or(0))
            .saturating_add(store.data_mut().take_fuel_debt());
        self.given = 0;
        self.consumed = self.consumed.saturating_add(spent);
        self.since_yield = self.since_yield.saturating_add(spent);
        if let Some(left) = self.left.as_mut() {
            *left = left.saturating_sub(spent);
        }
    }

    /// Starts a slice of fuel, of at least `required`: up to the next check of the
    /// limits or the next yield, whichever is first.
    fn start_slice(&mut self, store: &mut PluginStore<CurrentPlugin>, required: u64) {
        if !self.fueled {
            return;
        }
        let until_yield = self.yield_fuel.map_or(FUEL_SLICE, |every| {
            every.saturating_sub(self.since_yield).max(1)
        });
        let slice = FUEL_SLICE.min(until_yield).max(required);
        self.given = self.left.map_or(slice, |left| left.min(slice));
        let _ = store.set_fuel(self.given);
    }

    /// True (once per period) when the call has run its `yield_fuel` since it last
    /// yielded.
    fn yield_due(&mut self) -> bool {
        match self.yield_fuel {
            Some(every) if self.since_yield >= every => {
                self.since_yield = 0;
                true
            }
            _ => false,
        }
    }
}

/// Why the call must stop at a slice boundary, if it must.
fn stop_at_boundary(meter: &Meter, limits: &CallLimits, required: u64) -> Option<Stop> {
    if meter.left.is_some_and(|left| left == 0 || left < required) {
        Some(Stop::OutOfFuel)
    } else if limits.cancel.is_cancelled() {
        Some(Stop::Cancelled)
    } else if past_deadline(limits) {
        Some(Stop::TimedOut)
    } else {
        None
    }
}

/// Runs `func` under the limits as a future: waits for async host functions (in
/// [`Mode::Blocking`], by blocking the thread), and in [`Mode::Async`] yields every
/// `yield_fuel`. Returns the fuel used.
pub(crate) async fn run_async(
    store: &mut PluginStore<CurrentPlugin>,
    func: Func,
    params: &[wasmi::Val],
    results: &mut [wasmi::Val],
    limits: &CallLimits,
    fueled: bool,
    mode: Mode,
) -> Result<u64, RunError> {
    // Host functions may suspend the call while this runs (a dropped future leaves it
    // set, on an instance that is rebuilt before the next call).
    store.data_mut().can_suspend = true;
    let outcome = run_slices(store, func, params, results, limits, fueled, mode).await;
    store.data_mut().can_suspend = false;
    outcome
}

/// The loop of [`run_async`].
async fn run_slices(
    store: &mut PluginStore<CurrentPlugin>,
    func: Func,
    params: &[wasmi::Val],
    results: &mut [wasmi::Val],
    limits: &CallLimits,
    fueled: bool,
    mode: Mode,
) -> Result<u64, RunError> {
    let failed = |error: Error, fuel_used: u64| RunError {
        error,
        exit: None,
        poisoned: true,
        fuel_used,
    };
    let engine_failure =
        |store: &PluginStore<CurrentPlugin>, error: wasmi::Error, fuel_used| RunError {
            exit: error.i32_exit_status(),
            error: engine_error(store, &error),
            poisoned: true,
            fuel_used,
        };
    let yield_fuel = match mode {
        Mode::Async { yield_fuel } => yield_fuel.filter(|&fuel| fuel > 0),
        Mode::Blocking => None,
    };
    let mut meter = Meter {
        fueled,
        left: limits.fuel_limit,
        given: 0,
        consumed: 0,
        yield_fuel,
        since_yield: 0,
    };
    meter.start_slice(store, 0);
    let mut attempt = func.call_resumable(&mut *store, params, results);
    loop {
        meter.account(store);
        let call = attempt.map_err(|e| engine_failure(store, e, meter.consumed))?;
        match call {
            wasmi::ResumableCall::Finished => return Ok(meter.consumed),
            wasmi::ResumableCall::HostTrap(trap) => {
                let Some((label, future)) = Suspend::<HostFuture>::take(trap.host_error()) else {
                    return Err(engine_failure(
                        store,
                        trap.into_host_error(),
                        meter.consumed,
                    ));
                };
                let blocking = mode == Mode::Blocking;
                let write = HostWait::new(label.clone(), future, limits, blocking)
                    .await
                    .map_err(|error| failed(error, meter.consumed))?;
                let host_results = host_results(store, trap.host_func(), label.as_deref(), write)
                    .map_err(|error| failed(error, meter.consumed))?;
                // What writing the results charged is counted with the next slice.
                meter.start_slice(store, 0);
                attempt = trap.resume(&mut *store, &host_results, results);
            }
            wasmi::ResumableCall::OutOfFuel(pending) => {
                let required = pending.required_fuel();
                if let Some(stop) = stop_at_boundary(&meter, limits, required) {
                    return Err(failed(stop.error(limits), meter.consumed));
                }
                if meter.yield_due() {
                    YieldNow::default().await;
                }
                meter.start_slice(store, required);
                attempt = pending.resume(&mut *store, results);
            }
        }
    }
}

/// The results of an async host function: its closure run (panics caught) on output
/// slots of the function's result types, then converted for the engine. A host
/// function's errors get its name (`label`); those of interplug's imports pass as
/// they are.
fn host_results(
    store: &mut PluginStore<CurrentPlugin>,
    host_func: Func,
    label: Option<&str>,
    write: Writer,
) -> Result<Vec<wasmi::Val>, Error> {
    let named = |error: Error, what: &str| match label {
        Some(label) => with_context(error, &format!("host function `{label}` {what}")),
        None => error,
    };
    let ty = host_func.ty(&*store);
    let mut values: Vec<Val> = ty
        .results()
        .iter()
        .map(|t| Val::from_wasmi(&wasmi::Val::default_for_ty(*t)))
        .collect();
    let state = store.data_mut();
    platform::catch_panic(|| write(state, &mut values)).map_err(|e| named(e, "failed"))?;
    values
        .into_iter()
        .zip(ty.results())
        .map(|(value, ty)| {
            value
                .to_wasmi(*ty)
                .map_err(|e| named(e, "returned a wrong value"))
        })
        .collect()
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
    if let Some(label) = Suspend::<HostFuture>::label(error) {
        // Host functions wait on their thread where they cannot suspend (see
        // `CurrentPlugin::can_suspend`): this only shows a bug.
        return fail!(
            Invalid,
            "the async host function `{label}` suspended a call that cannot be resumed"
        );
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
