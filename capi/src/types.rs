//! The C types of the Extism API: sizes, values, value types, callbacks and the
//! opaque handles. Their layout matches `include/interplug.h`.

use std::ffi::{c_char, c_void};

use interplug_core::{Val, ValType};

/// `ExtismSize`: sizes and lengths (`uint64_t`).
pub type ExtismSize = u64;

/// `ExtismMemoryHandle`: the offset of a block of the Extism memory (`uint64_t`).
pub type ExtismMemoryHandle = u64;

/// Raw `ExtismValType` values (a C enum, `int` sized). The API reads them as plain
/// integers so that an out-of-range value from C is an error, never undefined
/// behaviour.
pub mod val_type {
    /// `int32_t`.
    pub const I32: i32 = 0;
    /// `int64_t`, also `EXTISM_PTR`.
    pub const I64: i32 = 1;
    /// `float`.
    pub const F32: i32 = 2;
    /// `double`.
    pub const F64: i32 = 3;
    /// 128-bit vector (refused by interplug's host functions).
    pub const V128: i32 = 4;
    /// Function reference (passed to host functions as null).
    pub const FUNC_REF: i32 = 5;
    /// External reference (passed to host functions as null).
    pub const EXTERN_REF: i32 = 6;
}

/// Converts a raw `ExtismValType` to the core's type.
pub fn val_type_from_raw(raw: i32) -> Option<ValType> {
    Some(match raw {
        val_type::I32 => ValType::I32,
        val_type::I64 => ValType::I64,
        val_type::F32 => ValType::F32,
        val_type::F64 => ValType::F64,
        val_type::V128 => ValType::V128,
        val_type::FUNC_REF => ValType::FuncRef,
        val_type::EXTERN_REF => ValType::ExternRef,
        _ => return None,
    })
}

/// The raw `ExtismValType` of a core type.
pub fn val_type_to_raw(ty: ValType) -> i32 {
    match ty {
        ValType::I32 => val_type::I32,
        ValType::I64 => val_type::I64,
        ValType::F32 => val_type::F32,
        ValType::F64 => val_type::F64,
        ValType::V128 => val_type::V128,
        ValType::FuncRef => val_type::FUNC_REF,
        ValType::ExternRef => val_type::EXTERN_REF,
    }
}

/// The value part of an [`ExtismVal`] (8 bytes).
#[repr(C)]
#[derive(Clone, Copy)]
pub union ExtismValUnion {
    /// Valid for `I32`.
    pub i32: i32,
    /// Valid for `I64`.
    pub i64: i64,
    /// Valid for `F32`.
    pub f32: f32,
    /// Valid for `F64`.
    pub f64: f64,
}

/// `ExtismVal`: a tagged wasm value, as host functions receive and return them.
#[repr(C)]
#[derive(Clone, Copy)]
pub struct ExtismVal {
    /// The raw `ExtismValType`.
    pub t: i32,
    /// The value.
    pub v: ExtismValUnion,
}

// The C header's layout: the `int` tag, then the 8-byte union aligned as the target's
// C ABI aligns `int64_t` (8 on 64-bit targets and armv7; 4 on i686, where the struct
// is 12 bytes as gcc lays it out).
const I64_ALIGN: usize = std::mem::align_of::<i64>();
const _: () =
    assert!(std::mem::size_of::<ExtismVal>() == 8 + if I64_ALIGN > 4 { I64_ALIGN } else { 4 });
const _: () = assert!(std::mem::align_of::<ExtismVal>() == I64_ALIGN);

impl ExtismVal {
    /// The C form of a core value.
    pub fn from_val(value: &Val) -> ExtismVal {
        // Start from 8 zero bytes so every byte of the union is initialised,
        // then write the field that matches the tag.
        let mut v = ExtismValUnion { i64: 0 };
        let t = match *value {
            Val::I32(x) => {
                v.i32 = x;
                val_type::I32
            }
            Val::I64(x) => {
                v.i64 = x;
                val_type::I64
            }
            Val::F32(bits) => {
                v.f32 = f32::from_bits(bits);
                val_type::F32
            }
            Val::F64(bits) => {
                v.f64 = f64::from_bits(bits);
                val_type::F64
            }
            Val::NullRef => val_type::EXTERN_REF,
        };
        ExtismVal { t, v }
    }

    /// A zeroed value of type `ty`: the initial content of a result slot.
    pub fn zero(ty: ValType) -> ExtismVal {
        ExtismVal {
            t: val_type_to_raw(ty),
            v: ExtismValUnion { i64: 0 },
        }
    }

    /// Reads the value as type `ty` (the declared type wins over the tag, which C
    /// code may have left unset).
    pub fn to_val(self, ty: ValType) -> Val {
        // SAFETY: every field of the union is a plain number for which every bit
        // pattern is valid, and the union is always fully initialised (`zero`
        // and `from_val` start from 8 zero bytes; C only overwrites bytes), so
        // reading any field is defined.
        unsafe {
            match ty {
                ValType::I32 => Val::I32(self.v.i32),
                ValType::I64 => Val::I64(self.v.i64),
                ValType::F32 => Val::F32(self.v.f32.to_bits()),
                ValType::F64 => Val::F64(self.v.f64.to_bits()),
                ValType::V128 | ValType::FuncRef | ValType::ExternRef => Val::NullRef,
            }
        }
    }
}

/// `ExtismCurrentPlugin`: the running plug-in as host functions see it (in fact
/// the core's `CurrentPlugin`); opaque, only used behind pointers.
#[repr(C)]
pub struct ExtismCurrentPlugin {
    _private: [u8; 0],
}

/// A host function: `void f(ExtismCurrentPlugin*, const ExtismVal* in, ExtismSize
/// n_in, ExtismVal* out, ExtismSize n_out, void* user_data)`.
pub type ExtismFunctionType = unsafe extern "C" fn(
    *mut ExtismCurrentPlugin,
    *const ExtismVal,
    ExtismSize,
    *mut ExtismVal,
    ExtismSize,
    *mut c_void,
);

/// Releases a host function's user data.
pub type ExtismFreeUserData = unsafe extern "C" fn(*mut c_void);

/// Receives one buffered log line: `void f(const char* data, ExtismSize size)`.
pub type ExtismLogDrainFunctionType = unsafe extern "C" fn(*const c_char, ExtismSize);

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn values_round_trip() {
        for (value, ty) in [
            (Val::I32(-7), ValType::I32),
            (Val::I64(-1 << 40), ValType::I64),
            (Val::F32(1.5f32.to_bits()), ValType::F32),
            (Val::F64(2.25f64.to_bits()), ValType::F64),
        ] {
            let c = ExtismVal::from_val(&value);
            assert_eq!(c.t, val_type_to_raw(ty));
            assert_eq!(c.to_val(ty), value);
        }
        assert_eq!(
            ExtismVal::zero(ValType::I64).to_val(ValType::I64),
            Val::I64(0)
        );
    }

    #[test]
    fn raw_types() {
        for raw in 0..=6 {
            let ty = val_type_from_raw(raw).unwrap();
            assert_eq!(val_type_to_raw(ty), raw);
        }
        assert!(val_type_from_raw(7).is_none());
        assert!(val_type_from_raw(-1).is_none());
    }
}
