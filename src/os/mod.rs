//! What a plug-in may use of the operating system, and the rules around it: WASI
//! (directories, clocks, waits) and HTTP (the allow-list and the client).

pub(crate) mod http;
#[cfg(feature = "wasi")]
pub(crate) mod wasi;
