//! # interplug
//!
//! Run [Extism](https://extism.org) plug-ins on the [wasmi](https://docs.rs/wasmi)
//! interpreter: no JIT, no executable memory, a `no_std` core, start-up in
//! microseconds. The API mirrors the `extism` crate 1.x, so a host program moves over
//! by renaming the dependency.
//!
//! ```no_run
//! use interplug::{Plugin, Manifest, Wasm};
//! let manifest = Manifest::new([Wasm::file("count_vowels.wasm")]);
//! let mut plugin = Plugin::new(&manifest, [], false)?;
//! let output: String = plugin.call("count_vowels", "hello world")?;
//! println!("{output}");
//! # Ok::<(), interplug::Error>(())
//! ```
//!
//! Everything the `extism` crate 1.x exports exists here with a signature that
//! accepts at least what extism's accepts; wasmtime-only settings are accepted and
//! documented as no-ops (the README has the table, item by item).
//!
//! Features: `std` (files, wall clock, threads, TOML, WAT, MessagePack), `wasi`
//! (WASI preview 1), `http` (`http_request`), `prost` (`convert::Prost`). All on by
//! default; without them the
//! core builds for `no_std` targets with `alloc`.

#![cfg_attr(not(feature = "std"), no_std)]
#![deny(missing_docs)]
#![forbid(unsafe_code)]

extern crate alloc;

pub mod abi;
mod builder;
pub mod bulk;
mod compile;
mod compiled;
pub mod convert;
mod current_plugin;
pub mod env;
pub mod error;
mod function;
#[cfg(feature = "std")]
pub mod fuzzing;
mod http;
mod limiter;
pub mod limits;
mod link;
#[cfg(feature = "std")]
mod log_callback;
pub mod manifest;
pub mod memory;
mod memory_handle;
mod module_cache;
mod platform;
mod plugin;
#[cfg(feature = "std")]
mod pool;
#[cfg(feature = "std")]
pub mod rewrite;
mod run;
pub mod sdk;
pub mod sources;
mod typed;
mod val;
#[cfg(feature = "std")]
mod validate;
#[cfg(feature = "wasi")]
mod wasi;
#[cfg(feature = "wasi")]
mod wasi_imports;
mod wasm_input;

/// The error type of every fallible operation (an `anyhow::Error`, as in `extism`).
pub type Error = anyhow::Error;

pub use builder::{DebugOptions, PluginBuilder, ProfilingStrategy};
pub use compiled::CompiledPlugin;
#[cfg(feature = "prost")]
pub use convert::Prost;
pub use convert::{Base64, FromBytes, FromBytesOwned, Json, Msgpack, Raw, ToBytes};
pub use current_plugin::{
    CurrentPlugin, MemoryHandle, DEFAULT_MAX_VAR_BYTES, MAX_VAR_ENTRIES, VAR_ENTRY_OVERHEAD,
};
pub use error::{ErrorExt, ErrorKind, Failure};
pub use function::{Function, Lock, UserData, DEFAULT_NAMESPACE};
pub use http::DEFAULT_HTTP_TIMEOUT;
pub use limits::{CancelHandle, Clock};
#[cfg(feature = "std")]
pub use log_callback::set_log_callback;
pub use manifest::{HttpRequest, Manifest, MemoryOptions, Wasm, WasmMetadata};
pub use plugin::Plugin;
#[cfg(feature = "std")]
pub use pool::{Pool, PoolBuilder, PoolPlugin};
pub use val::{Val, ValType, PTR};
#[cfg(feature = "wasi")]
pub use wasi::DEFAULT_MAX_OPEN_FILES;
pub use wasm_input::WasmInput;

/// The import module of the Extism kernel functions (`input_load_u64`, `alloc`...).
pub const EXTISM_ENV_MODULE: &str = env::ENV_MODULE;

/// The import module of host functions without a namespace
/// (= [`DEFAULT_NAMESPACE`]).
pub const EXTISM_USER_MODULE: &str = DEFAULT_NAMESPACE;

/// The version of interplug.
pub fn version() -> &'static str {
    env!("CARGO_PKG_VERSION")
}

/// The Extism version whose API and ABI interplug implements, with interplug's own:
/// `1.41.0+interplug.<version>` (the C API's `extism_version` gives the same).
///
/// ```
/// assert!(interplug::extism_version().starts_with("1."));
/// ```
pub fn extism_version() -> &'static str {
    concat!("1.41.0+interplug.", env!("CARGO_PKG_VERSION"))
}

#[doc(hidden)]
pub mod __private {
    pub use alloc::vec::Vec;
    pub use anyhow;
    pub use serde;
}
