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
//! documented as no-ops (docs/differences.md has the table, item by item).
//!
//! Features: `std` (files, wall clock, threads, TOML, WAT, MessagePack), `wasi`
//! (WASI preview 1), `http` (`http_request`), `prost` (`convert::Prost`). All on by
//! default; without them the
//! core builds for `no_std` targets with `alloc`. Off by default, `portable-dispatch`
//! selects the interpreter's loop dispatch, for builds with debug assertions or a
//! sanitizer (docs/platforms.md, "Debug builds of a host", has the `Cargo.toml` lines
//! for a fast debug build of a host).

#![cfg_attr(not(feature = "std"), no_std)]
#![deny(missing_docs)]
#![forbid(unsafe_code)]
#![warn(clippy::missing_errors_doc)]

extern crate alloc;

pub mod error;
#[cfg(feature = "std")]
pub mod fuzzing;
mod host;
mod imports;
mod kernel;
pub mod limits;
mod load;
pub mod manifest;
mod os;
mod platform;
mod plugin;
#[cfg(feature = "std")]
pub mod rewrite;
pub mod sdk;

pub use error::{Error, ErrorExt, ErrorKind, Failure};
pub use host::convert;
#[cfg(feature = "std")]
pub use host::convert::Msgpack;
#[cfg(feature = "prost")]
pub use host::convert::Prost;
// `extism-convert` has `Raw` on little-endian targets only.
#[cfg(any(not(feature = "std"), target_endian = "little"))]
pub use host::convert::Raw;
pub use host::convert::{Base64, FromBytes, FromBytesOwned, Json, ToBytes};
pub use host::current_plugin::{
    CurrentPlugin, DEFAULT_MAX_VAR_BYTES, MAX_VAR_ENTRIES, VAR_ENTRY_OVERHEAD,
};
pub use host::function::{Function, UserData};
#[cfg(feature = "std")]
pub use host::log_callback::set_log_callback;
pub use host::val::Val;
pub use kernel::abi::{ValType, DEFAULT_NAMESPACE, PTR};
pub use kernel::handle::MemoryHandle;
pub use kernel::{abi, memory};
pub use limits::{CancelHandle, Clock};
pub use load::sources;
pub use manifest::{HttpRequest, Manifest, MemoryOptions, Wasm, WasmInput, WasmMetadata};
pub use os::http::DEFAULT_HTTP_TIMEOUT;
#[cfg(feature = "wasi")]
pub use os::wasi::DEFAULT_MAX_OPEN_FILES;
pub use platform::Lock;
pub use plugin::builder::{DebugOptions, PluginBuilder, ProfilingStrategy};
pub use plugin::compiled::CompiledPlugin;
pub use plugin::instance::Plugin;
#[cfg(feature = "std")]
pub use plugin::pool::{Pool, PoolBuilder, PoolPlugin};

/// The names of the `extism:host/env` module (kept at this path; they live in [`abi`]).
pub mod env {
    pub use crate::kernel::abi::{ENV_FUNCTIONS, ENV_MODULE};
}

/// The names and argument encoding of interplug's private `interplug:bulk` imports
/// (kept at this path; they live in [`abi`]).
pub mod bulk {
    pub use crate::kernel::abi::{
        Compare, LoopShape, BULK_FUNCTIONS, BULK_MODULE, INPUT_TO_LINEAR, LINEAR_MEMORY_EXPORT,
        LINEAR_TO_MEMORY, MEMORY_TO_LINEAR,
    };
}

/// The import module of the Extism kernel functions (`input_load_u64`, `alloc`...).
pub const EXTISM_ENV_MODULE: &str = abi::ENV_MODULE;

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

/// The README's Rust examples, compiled and run by `cargo test --doc` so that the front
/// door of the project cannot drift from the API (only exists for doctests).
#[cfg(doctest)]
#[doc = include_str!("../README.md")]
pub struct ReadmeDoctests;

#[doc(hidden)]
pub mod __private {
    pub use crate::error::for_macros::{
        decode_error, encode_error, missing_argument, missing_function,
    };
    pub use crate::host::function::owned_argument;
    #[cfg(feature = "std")]
    pub use crate::platform::panic_text;
    pub use alloc::vec::Vec;
    pub use anyhow;
    pub use serde;
}
