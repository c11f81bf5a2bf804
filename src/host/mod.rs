//! What host code sees of a running plug-in: [`CurrentPlugin`](current_plugin), host
//! functions and their user data, values, and the conversions between Rust values and
//! the bytes of Extism memory blocks.

pub mod convert;
pub(crate) mod convert_core;
pub(crate) mod current_plugin;
pub(crate) mod function;
pub(crate) mod linear_memory;
#[cfg(feature = "std")]
pub(crate) mod log_callback;
pub(crate) mod suspend;
#[cfg(feature = "std")]
pub(crate) mod timer;
pub(crate) mod val;
pub(crate) mod vars;
pub(crate) mod wait;
