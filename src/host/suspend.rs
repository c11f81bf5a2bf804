//! Async host functions: what a host function hands to the run loop when it has to
//! wait.
//!
//! An async host function does not run to its end inside the engine. It reads its
//! inputs, makes a future, and returns the engine error [`Suspend`] carrying it. The
//! engine then stops the call resumably (`ResumableCall::HostTrap`, which owns the
//! call's value stack), and the run loop (`plugin/run.rs`) takes the future out, awaits
//! it with the store free, runs the [`Writer`] the future gives to set the host
//! function's results, and resumes the call with them.

use alloc::sync::Arc;
use core::fmt;

/// The engine error an async host function returns: the call stops, resumably, and
/// the run loop awaits the future inside (a
/// [`HostFuture`](crate::host::function::HostFuture); generic so that this file needs
/// nothing of the plug-in's state).
pub(crate) struct Suspend<F> {
    /// `namespace::name` of a host function, for its errors; `None` for interplug's
    /// own imports, whose errors say what failed themselves.
    label: Option<Arc<str>>,
    /// The wait, until the run loop takes it (a lock only because engine errors must
    /// be `Sync`; nobody else ever holds it).
    future: spin::Mutex<Option<F>>,
}

impl<F: Send + 'static> Suspend<F> {
    /// The engine error that suspends the call on `future`.
    pub(crate) fn error(label: Option<Arc<str>>, future: F) -> wasmi::Error {
        wasmi::Error::host(Suspend {
            label,
            future: spin::Mutex::new(Some(future)),
        })
    }

    /// The host function's name and its wait, when `error` is a [`Suspend`] not yet
    /// taken.
    pub(crate) fn take(error: &wasmi::Error) -> Option<(Option<Arc<str>>, F)> {
        let suspend = error.downcast_ref::<Suspend<F>>()?;
        let future = suspend.future.lock().take()?;
        Some((suspend.label.clone(), future))
    }

    /// The name of the function that suspended, when `error` is a [`Suspend`].
    pub(crate) fn label(error: &wasmi::Error) -> Option<&str> {
        let suspend = error.downcast_ref::<Suspend<F>>()?;
        Some(suspend.label.as_deref().unwrap_or("an interplug import"))
    }
}

impl<F> fmt::Debug for Suspend<F> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Suspend")
            .field("label", &self.label)
            .finish_non_exhaustive()
    }
}

impl<F> fmt::Display for Suspend<F> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let label = self.label.as_deref().unwrap_or("an interplug import");
        write!(f, "the async host function `{label}` is waiting")
    }
}

impl<F: Send + 'static> wasmi_core::HostError for Suspend<F> {}
