//! What a plug-in may use of the operating system, and the rules around it: WASI
//! (directories, clocks, waits).

#[cfg(feature = "wasi")]
pub(crate) mod wasi;
