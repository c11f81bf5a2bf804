//! Wasm values as host functions see them, and their conversions to and from the
//! engine's (the value types are the ABI's, in [`crate::abi::ValType`]).

use crate::{error::fail, kernel::abi::ValType, Error};

impl ValType {
    /// The interplug type of an engine type.
    pub(crate) fn from_wasmi(ty: wasmi::ValType) -> ValType {
        match ty {
            wasmi::ValType::I32 => ValType::I32,
            wasmi::ValType::I64 => ValType::I64,
            wasmi::ValType::F32 => ValType::F32,
            wasmi::ValType::F64 => ValType::F64,
            wasmi::ValType::V128 => ValType::V128,
            wasmi::ValType::FuncRef => ValType::FuncRef,
            wasmi::ValType::ExternRef => ValType::ExternRef,
        }
    }

    /// The engine's type, or an error of kind `Invalid` for types interplug does not
    /// pass to host code (`V128`).
    pub(crate) fn to_wasmi(self) -> Result<wasmi::ValType, Error> {
        Ok(match self {
            ValType::I32 => wasmi::ValType::I32,
            ValType::I64 => wasmi::ValType::I64,
            ValType::F32 => wasmi::ValType::F32,
            ValType::F64 => wasmi::ValType::F64,
            ValType::FuncRef => wasmi::ValType::FuncRef,
            ValType::ExternRef => wasmi::ValType::ExternRef,
            ValType::V128 => {
                return Err(fail!(
                    Invalid,
                    "host functions cannot take or return v128 values: declare the function \
                     without them"
                ))
            }
        })
    }
}

/// A wasm value passed to or returned from a host function.
#[derive(Debug, Clone, Copy, PartialEq)]
pub enum Val {
    /// 32-bit integer.
    I32(i32),
    /// 64-bit integer.
    I64(i64),
    /// 32-bit float, as its bits.
    F32(u32),
    /// 64-bit float, as its bits.
    F64(u64),
    /// A null reference (references are not given to host code).
    NullRef,
}

impl Val {
    /// The value's type.
    pub fn ty(&self) -> ValType {
        match self {
            Val::I32(_) => ValType::I32,
            Val::I64(_) => ValType::I64,
            Val::F32(_) => ValType::F32,
            Val::F64(_) => ValType::F64,
            Val::NullRef => ValType::ExternRef,
        }
    }

    /// The i32, if it is one.
    pub fn i32(&self) -> Option<i32> {
        match self {
            Val::I32(v) => Some(*v),
            _ => None,
        }
    }

    /// The i64, if it is one.
    pub fn i64(&self) -> Option<i64> {
        match self {
            Val::I64(v) => Some(*v),
            _ => None,
        }
    }

    /// The f32, if it is one.
    pub fn f32(&self) -> Option<f32> {
        match self {
            Val::F32(v) => Some(f32::from_bits(*v)),
            _ => None,
        }
    }

    /// The f64, if it is one.
    pub fn f64(&self) -> Option<f64> {
        match self {
            Val::F64(v) => Some(f64::from_bits(*v)),
            _ => None,
        }
    }

    /// The i32; panics when it is another type (the `extism` crate's contract).
    pub fn unwrap_i32(&self) -> i32 {
        self.i32().expect("expected an i32 value")
    }

    /// The i64; panics when it is another type (the `extism` crate's contract).
    pub fn unwrap_i64(&self) -> i64 {
        self.i64().expect("expected an i64 value")
    }

    /// The f32; panics when it is another type.
    pub fn unwrap_f32(&self) -> f32 {
        self.f32().expect("expected an f32 value")
    }

    /// The f64; panics when it is another type.
    pub fn unwrap_f64(&self) -> f64 {
        self.f64().expect("expected an f64 value")
    }

    pub(crate) fn from_wasmi(value: &wasmi::Val) -> Val {
        match value {
            wasmi::Val::I32(v) => Val::I32(*v),
            wasmi::Val::I64(v) => Val::I64(*v),
            wasmi::Val::F32(v) => Val::F32(v.to_bits()),
            wasmi::Val::F64(v) => Val::F64(v.to_bits()),
            _ => Val::NullRef,
        }
    }

    /// Converts to the engine's value; `ty` decides a null reference's kind. A value of
    /// another type than `ty` is an error of kind `Invalid`.
    pub(crate) fn to_wasmi(self, ty: wasmi::ValType) -> Result<wasmi::Val, Error> {
        let value = match self {
            Val::I32(v) => wasmi::Val::I32(v),
            Val::I64(v) => wasmi::Val::I64(v),
            Val::F32(v) => wasmi::Val::F32(wasmi::F32::from_bits(v)),
            Val::F64(v) => wasmi::Val::F64(wasmi::F64::from_bits(v)),
            Val::NullRef => wasmi::Val::default_for_ty(ty),
        };
        if value.ty() != ty {
            return Err(fail!(
                Invalid,
                "host function returned a {:?} where its signature says {ty:?}",
                value.ty()
            ));
        }
        Ok(value)
    }
}

impl From<i32> for Val {
    fn from(v: i32) -> Self {
        Val::I32(v)
    }
}

impl From<i64> for Val {
    fn from(v: i64) -> Self {
        Val::I64(v)
    }
}

impl From<u64> for Val {
    fn from(v: u64) -> Self {
        Val::I64(v as i64)
    }
}

impl From<f32> for Val {
    fn from(v: f32) -> Self {
        Val::F32(v.to_bits())
    }
}

impl From<f64> for Val {
    fn from(v: f64) -> Self {
        Val::F64(v.to_bits())
    }
}
