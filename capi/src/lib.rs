//! # libinterplug: the Extism C API on the wasmi interpreter
//!
//! This crate builds `libinterplug.so` / `libinterplug.a`, a drop-in replacement
//! for libextism: same symbols, same C types, same behaviour, so every host SDK
//! that wraps libextism (Python, Ruby, .NET, PHP, OCaml, Elixir, Haskell, C, C++)
//! runs plug-ins on the interpreter unchanged. The header is
//! `include/interplug.h` (`include/extism.h` includes it).
//!
//! Every entry point:
//! - accepts NULL for every pointer and answers with an error value (NULL, false,
//!   -1 or 0) instead of crashing; other bad input (invalid UTF-8, bad JSON, bad
//!   value types) likewise;
//! - catches panics, so none unwinds into C;
//! - reports why through `extism_plugin_error`, `errmsg` or the log.
//!
//! Deliberate differences from libextism 1.41 (see `capi/README.md`):
//! - a trap, timeout or cancel gives return code -1 (libextism: 134);
//! - `extism_version` says `1.41.0+interplug.<version>`.

#![deny(missing_docs)]

pub mod compiled;
mod create;
pub mod current;
pub mod ffi;
pub mod function;
pub mod logging;
pub mod plugin;
pub mod types;

use std::ffi::c_char;

pub use compiled::ExtismCompiledPlugin;
pub use interplug_core::sdk::ExtismFunction;
pub use plugin::{ExtismCancelHandle, ExtismPlugin};
pub use types::{ExtismCurrentPlugin, ExtismMemoryHandle, ExtismSize, ExtismVal, ExtismValUnion};

/// The Extism C API version this library implements.
pub const EXTISM_API_VERSION: &str = "1.41.0";

/// `extism_version`'s answer: the C API version, with interplug's version as
/// semver build metadata (so version checks that parse it see 1.41.0).
static VERSION: &str = concat!("1.41.0+interplug.", env!("CARGO_PKG_VERSION"), "\0");

/// The library version: `1.41.0+interplug.<interplug version>`, a static string.
#[no_mangle]
pub extern "C" fn extism_version() -> *const c_char {
    VERSION.as_ptr().cast()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn version_is_nul_terminated_semver() {
        // SAFETY: a static NUL-terminated string.
        let text = unsafe { std::ffi::CStr::from_ptr(extism_version()) };
        let text = text.to_str().unwrap();
        assert!(text.starts_with(EXTISM_API_VERSION), "{text}");
        assert!(text.contains("+interplug."), "{text}");
    }
}
