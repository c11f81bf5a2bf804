//! The C types of the Extism C API (`include/extism.h`, `include/interplug.h`),
//! declared once as plain `#[repr(C)]` Rust types.
//!
//! Three sides use them: the core's `interplug::sdk` module (which re-exports
//! them under the `extism` crate's names: `ExtismVal`, `ValUnion`, `Size`, ...),
//! the C library itself (`interplug-capi`, which implements the API) and the
//! client that loads any library implementing it with `dlopen`
//! (`interplug_spec_tests::capi`, used by the differential tests and
//! `bench-compare`). The client must be able to load the official libextism
//! without depending on interplug's C library, and the core must build without
//! `std`, so the declarations live here, in a `no_std` crate with no
//! dependencies and no code to run: only layouts, the value type tags, the
//! return code of success and the callback signatures.
//!
//! ```
//! use interplug_capi_types::{val_type, ExtismVal};
//!
//! let handle = ExtismVal::i64(4096);
//! assert_eq!(handle.t, val_type::I64);
//! assert_eq!(core::mem::size_of::<ExtismVal>() % 4, 0);
//! ```

#![no_std]
#![forbid(unsafe_code)]

use core::ffi::{c_char, c_void};
use core::marker::{PhantomData, PhantomPinned};

/// `ExtismSize`: sizes and lengths (`uint64_t`).
pub type ExtismSize = u64;

/// `ExtismMemoryHandle`: the offset of a block of the Extism memory
/// (`uint64_t`; 0 is no block).
pub type ExtismMemoryHandle = u64;

/// `EXTISM_SUCCESS`: what `extism_plugin_call` returns when the call succeeded.
pub const EXTISM_SUCCESS: i32 = 0;

/// Raw `ExtismValType` values (a C enum, `int` sized). Both sides read and
/// write them as plain integers, so an out-of-range value coming from the other
/// side of the C boundary is an error to report, never an invalid Rust enum.
pub mod val_type {
    /// `int32_t`.
    pub const I32: i32 = 0;
    /// `int64_t`, also `EXTISM_PTR` (memory handles).
    pub const I64: i32 = 1;
    /// `float`.
    pub const F32: i32 = 2;
    /// `double`.
    pub const F64: i32 = 3;
    /// 128-bit vector.
    pub const V128: i32 = 4;
    /// Function reference.
    pub const FUNC_REF: i32 = 5;
    /// External reference.
    pub const EXTERN_REF: i32 = 6;
}

/// `ExtismValUnion`: the value part of an [`ExtismVal`] (8 bytes).
#[repr(C)]
#[derive(Clone, Copy)]
pub union ExtismValUnion {
    /// Valid when the tag is [`val_type::I32`].
    pub i32: i32,
    /// Valid when the tag is [`val_type::I64`].
    pub i64: i64,
    /// Valid when the tag is [`val_type::F32`].
    pub f32: f32,
    /// Valid when the tag is [`val_type::F64`].
    pub f64: f64,
}

/// `ExtismVal`: a tagged wasm value, as host functions receive and return them
/// (`struct { ExtismValType t; ExtismValUnion v; }`, 16 bytes).
#[repr(C)]
#[derive(Clone, Copy)]
pub struct ExtismVal {
    /// The raw `ExtismValType` (see [`val_type`]).
    pub t: i32,
    /// The value, to read according to `t`.
    pub v: ExtismValUnion,
}

impl ExtismVal {
    /// An `I64` value: the type of Extism memory handles.
    pub const fn i64(value: i64) -> ExtismVal {
        ExtismVal {
            t: val_type::I64,
            v: ExtismValUnion { i64: value },
        }
    }
}

// The layout must match the C header exactly.
// The C header's layout: an `int` tag, then the 8-byte union aligned as the target's C
// ABI aligns `int64_t` (8 on 64-bit targets and armv7; 4 on i686, where the struct is
// 12 bytes, as gcc lays it out).
const I64_ALIGN: usize = core::mem::align_of::<i64>();
const _: () = assert!(core::mem::size_of::<ExtismValUnion>() == 8);
const _: () = assert!(core::mem::align_of::<ExtismValUnion>() == I64_ALIGN);
const _: () =
    assert!(core::mem::size_of::<ExtismVal>() == 8 + if I64_ALIGN > 4 { I64_ALIGN } else { 4 });
const _: () = assert!(core::mem::align_of::<ExtismVal>() == I64_ALIGN);
const _: () =
    assert!(core::mem::offset_of!(ExtismVal, v) == if I64_ALIGN > 4 { I64_ALIGN } else { 4 });

macro_rules! opaque {
    ($($(#[$doc:meta])* $name:ident),* $(,)?) => {$(
        $(#[$doc])*
        #[repr(C)]
        pub struct $name {
            _private: [u8; 0],
            _marker: PhantomData<(*mut u8, PhantomPinned)>,
        }
    )*};
}

opaque! {
    /// `ExtismPlugin`, as a client sees it: only ever behind a pointer.
    ExtismPlugin,
    /// `ExtismCompiledPlugin`, as a client sees it: only ever behind a pointer.
    ExtismCompiledPlugin,
    /// `ExtismCurrentPlugin`: the running plug-in handed to host functions.
    ExtismCurrentPlugin,
    /// `ExtismFunction`, as a client sees it: only ever behind a pointer (the C
    /// library's own, which holds the host function, is `interplug::sdk::ExtismFunction`).
    ExtismFunction,
    /// `ExtismCancelHandle`, as a client sees it: only ever behind a pointer.
    ExtismCancelHandle,
}

/// `ExtismFunctionType`: a host function, `void f(ExtismCurrentPlugin*, const
/// ExtismVal* inputs, ExtismSize n_inputs, ExtismVal* outputs, ExtismSize
/// n_outputs, void* user_data)`.
pub type ExtismFunctionType = unsafe extern "C" fn(
    *mut ExtismCurrentPlugin,
    *const ExtismVal,
    ExtismSize,
    *mut ExtismVal,
    ExtismSize,
    *mut c_void,
);

/// Releases a host function's user data: `void f(void*)`.
pub type ExtismFreeUserData = unsafe extern "C" fn(*mut c_void);

/// `ExtismLogDrainFunctionType`: receives one buffered log line, `void f(const
/// char* data, ExtismSize size)`.
pub type ExtismLogDrainFunctionType = unsafe extern "C" fn(*const c_char, ExtismSize);
