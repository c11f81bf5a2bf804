//! Plug-ins: the builder, compiled plug-ins shared across threads, instances and their
//! call API, their other exports, the run loop (fuel slices, deadline, cancel), the engine's resource
//! limiter, pools and typed plug-ins.

pub(crate) mod builder;
pub(crate) mod call;
pub(crate) mod call_log;
pub(crate) mod compiled;
pub(crate) mod exports;
pub(crate) mod instance;
pub(crate) mod instantiate;
pub(crate) mod limiter;
#[cfg(feature = "std")]
pub(crate) mod pool;
pub(crate) mod run;
pub(crate) mod store;
pub(crate) mod typed;
