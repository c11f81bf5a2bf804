//! The errors of reading and re-encoding a module, shared by the files of the layer.

use crate::error::fail;
use anyhow::Error;

/// A module (or a body) that cannot be read.
pub(super) fn invalid(error: wasmparser::BinaryReaderError) -> Error {
    fail!(Invalid, "cannot read the wasm module: {error}")
}

/// A part of the module that cannot be encoded again.
pub(super) fn reencode_error<E: core::fmt::Display>(error: E) -> Error {
    fail!(Invalid, "cannot re-encode the wasm module: {error}")
}
