//! The C types of the Extism API (sizes, values, value types, callbacks), declared
//! once in `interplug-capi-types` (shared with the core's `interplug::sdk` and the
//! test client that loads any Extism C library), and their conversions to and from
//! the core's values.

use interplug_core::{Val, ValType};

pub use interplug_capi_types::{
    val_type, ExtismCurrentPlugin, ExtismFreeUserData, ExtismFunctionType,
    ExtismLogDrainFunctionType, ExtismMemoryHandle, ExtismSize, ExtismVal, ExtismValUnion,
    EXTISM_SUCCESS,
};

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

/// Conversions between the C [`ExtismVal`] and the core's [`Val`].
pub trait ValConversion {
    /// The C form of a core value.
    fn from_val(value: &Val) -> Self;
    /// A zeroed value of type `ty`: the initial content of a result slot.
    fn zero(ty: ValType) -> Self;
    /// Reads the value as type `ty` (the declared type wins over the tag, which C
    /// code may have left unset).
    fn to_val(self, ty: ValType) -> Val;
}

impl ValConversion for ExtismVal {
    /// The C form of a core value.
    fn from_val(value: &Val) -> ExtismVal {
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
    fn zero(ty: ValType) -> ExtismVal {
        ExtismVal {
            t: val_type_to_raw(ty),
            v: ExtismValUnion { i64: 0 },
        }
    }

    /// Reads the value as type `ty` (the declared type wins over the tag, which C
    /// code may have left unset).
    fn to_val(self, ty: ValType) -> Val {
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
