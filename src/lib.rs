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
//! Features: `std` (files, wall clock, threads, TOML, WAT, MessagePack), `wasi`
//! (WASI preview 1), `http` (`http_request`). All on by default; without them the
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
pub mod limits;
mod link;
pub mod manifest;
pub mod memory;
mod module_cache;
mod plugin;
#[cfg(feature = "std")]
mod pool;
#[cfg(feature = "std")]
pub mod rewrite;
mod run;
pub mod sources;
mod typed;
mod val;
#[cfg(feature = "std")]
mod validate;
#[cfg(feature = "wasi")]
mod wasi;
mod wasm_input;

/// The error type of every fallible operation (an `anyhow::Error`, as in `extism`).
pub type Error = anyhow::Error;

pub use builder::PluginBuilder;
pub use compiled::CompiledPlugin;
pub use convert::{Base64, FromBytes, FromBytesOwned, Json, Msgpack, Raw, ToBytes};
pub use current_plugin::{CurrentPlugin, MemoryHandle};
pub use error::{ErrorExt, ErrorKind, Failure};
pub use function::{Function, UserData, DEFAULT_NAMESPACE};
pub use limits::{CancelHandle, Clock};
pub use manifest::{HttpRequest, Manifest, MemoryOptions, Wasm, WasmMetadata};
pub use plugin::Plugin;
#[cfg(feature = "std")]
pub use pool::{Pool, PooledPlugin};
pub use val::{Val, ValType, PTR};
pub use wasm_input::WasmInput;

/// The version of interplug.
pub fn version() -> &'static str {
    env!("CARGO_PKG_VERSION")
}

#[doc(hidden)]
pub mod __private {
    pub use anyhow;
}
