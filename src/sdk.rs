//! The C SDK's types, as the `extism` crate's `sdk` module names them.
//!
//! The `extern "C"` functions of the Extism C API (`extism_plugin_new`,
//! `extism_plugin_call`, ...) are not in this crate, whose core has no `unsafe`
//! code: they are in the `interplug-capi` crate, built as `libinterplug.{so,a}`, a
//! drop-in for `libextism` with the same header. The types below are for Rust code
//! that describes that ABI.

use crate::{kernel::abi::ValType, Function};

/// A memory handle as the C API passes it.
pub type ExtismMemoryHandle = u64;

/// A size as the C API passes it.
pub type Size = u64;

/// The return code of a successful plug-in call.
pub static EXTISM_SUCCESS: i32 = 0;

/// A host function handed to the C API (taken once, when a plug-in is made).
pub struct ExtismFunction(pub core::cell::Cell<Option<Function>>);

/// The value of a host-function argument or result, as the C API lays it out.
#[repr(C)]
#[derive(Clone, Copy)]
pub union ValUnion {
    /// 32-bit integer.
    pub i32: i32,
    /// 64-bit integer.
    pub i64: i64,
    /// 32-bit float.
    pub f32: f32,
    /// 64-bit float.
    pub f64: f64,
}

/// A host-function argument or result with its type, as the C API lays it out.
#[repr(C)]
#[derive(Clone, Copy)]
pub struct ExtismVal {
    /// The value's type.
    pub t: ValType,
    /// The value.
    pub v: ValUnion,
}

/// A C host function: plug-in, inputs, outputs and user data.
pub type ExtismFunctionType = extern "C" fn(
    plugin: *mut crate::CurrentPlugin,
    inputs: *const ExtismVal,
    n_inputs: Size,
    outputs: *mut ExtismVal,
    n_outputs: Size,
    data: *mut core::ffi::c_void,
);

/// A C log drain: one formatted line and its length.
pub type ExtismLogDrainFunctionType = extern "C" fn(data: *const core::ffi::c_char, size: Size);
