//! The imports interplug gives a plug-in, bound onto the engine's linker: the Extism
//! kernel (`extism:host/env`, one file per group of functions), the private bulk
//! copies, WASI and `http_request`.

pub(crate) mod bulk;
pub(crate) mod http;
pub(crate) mod log;
pub(crate) mod memory;
pub(crate) mod registers;
pub(crate) mod store;
#[cfg(feature = "wasi")]
pub(crate) mod wasi;
#[cfg(feature = "wasi")]
pub(crate) mod wasi_sleep;
