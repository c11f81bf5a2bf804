//! The conversions of the `no_std` core: its own [`ToBytes`], [`FromBytes`] and
//! [`FromBytesOwned`], with the wrappers that need no operating system ([`Json`],
//! [`Base64`], [`Raw`]). With `std`, [`crate::convert`] is the `extism-convert` crate
//! instead (the `extism` crate's own types); this file is then compiled only for its
//! tests.
#![cfg_attr(feature = "std", allow(dead_code, unused_imports))]

pub use crate::kernel::handle::MemoryHandle;
use crate::Error;

use alloc::{borrow::ToOwned, boxed::Box, string::String, vec::Vec};
use base64::Engine as _;

/// A value that can be encoded as bytes for a plug-in.
pub trait ToBytes<'a> {
    /// The encoded form.
    type Bytes: AsRef<[u8]>;

    /// Encodes the value.
    ///
    /// # Errors
    ///
    /// [`ErrorKind::Invalid`](crate::ErrorKind::Invalid) when the value cannot be
    /// encoded (serde refused it; the encoder's error is the source). The plain types
    /// (bytes, text, numbers) never fail.
    fn to_bytes(&self) -> Result<Self::Bytes, Error>;
}

/// A value that can be decoded from bytes borrowed for `'a`.
pub trait FromBytes<'a>: Sized {
    /// Decodes the value.
    ///
    /// # Errors
    ///
    /// [`ErrorKind::Invalid`](crate::ErrorKind::Invalid) when the bytes are not a
    /// valid encoding of the type (a wrong length for a number, invalid UTF-8, JSON,
    /// MessagePack, base64 or Protocol Buffers; the decoder's error is the source).
    fn from_bytes(data: &'a [u8]) -> Result<Self, Error>;
}

/// A value that can be decoded from bytes without borrowing them.
pub trait FromBytesOwned: Sized {
    /// Decodes the value.
    ///
    /// # Errors
    ///
    /// As [`FromBytes::from_bytes`].
    fn from_bytes_owned(data: &[u8]) -> Result<Self, Error>;
}

impl<'a, T: FromBytesOwned> FromBytes<'a> for T {
    fn from_bytes(data: &'a [u8]) -> Result<Self, Error> {
        T::from_bytes_owned(data)
    }
}

/// JSON encoding of `T` (serde).
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct Json<T>(pub T);

/// Base64 text of the bytes of `T`.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct Base64<T: AsRef<[u8]>>(pub T);

/// The in-memory bytes of a plain-old-data value (bytemuck `Pod`).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Raw<'a, T: bytemuck::Pod>(pub &'a T);

impl<T> Json<T> {
    /// The wrapped value.
    pub fn into_inner(self) -> T {
        self.0
    }
}

impl<T> From<T> for Json<T> {
    fn from(value: T) -> Self {
        Json(value)
    }
}

impl<T: AsRef<[u8]>> From<T> for Base64<T> {
    fn from(value: T) -> Self {
        Base64(value)
    }
}

impl<'a, T: ToBytes<'a>> ToBytes<'a> for &T {
    type Bytes = T::Bytes;
    fn to_bytes(&self) -> Result<Self::Bytes, Error> {
        (**self).to_bytes()
    }
}

impl<'a, T: ToBytes<'a>> ToBytes<'a> for Option<T> {
    type Bytes = Vec<u8>;
    fn to_bytes(&self) -> Result<Self::Bytes, Error> {
        match self {
            Some(value) => Ok(value.to_bytes()?.as_ref().to_vec()),
            None => Ok(Vec::new()),
        }
    }
}

impl ToBytes<'_> for () {
    type Bytes = [u8; 0];
    fn to_bytes(&self) -> Result<Self::Bytes, Error> {
        Ok([])
    }
}

impl<'a> ToBytes<'a> for &'a [u8] {
    type Bytes = &'a [u8];
    fn to_bytes(&self) -> Result<Self::Bytes, Error> {
        Ok(self)
    }
}

impl<'a> ToBytes<'a> for &'a str {
    type Bytes = &'a str;
    fn to_bytes(&self) -> Result<Self::Bytes, Error> {
        Ok(self)
    }
}

impl ToBytes<'_> for Vec<u8> {
    type Bytes = Vec<u8>;
    fn to_bytes(&self) -> Result<Self::Bytes, Error> {
        Ok(self.clone())
    }
}

impl ToBytes<'_> for String {
    type Bytes = String;
    fn to_bytes(&self) -> Result<Self::Bytes, Error> {
        Ok(self.clone())
    }
}

impl<const N: usize> ToBytes<'_> for [u8; N] {
    type Bytes = [u8; N];
    fn to_bytes(&self) -> Result<Self::Bytes, Error> {
        Ok(*self)
    }
}

/// Numbers travel as their little-endian bytes.
macro_rules! number_conversions {
    ($($ty:ty),*) => {$(
        impl ToBytes<'_> for $ty {
            type Bytes = [u8; core::mem::size_of::<$ty>()];
            fn to_bytes(&self) -> Result<Self::Bytes, Error> {
                Ok(self.to_le_bytes())
            }
        }

        impl FromBytesOwned for $ty {
            fn from_bytes_owned(data: &[u8]) -> Result<Self, Error> {
                let bytes = data.try_into().map_err(|_| {
                    crate::error::fail!(Invalid,
                        "expected {} bytes for a {}, got {}",
                        core::mem::size_of::<$ty>(),
                        stringify!($ty),
                        data.len()
                    )
                })?;
                Ok(<$ty>::from_le_bytes(bytes))
            }
        }
    )*};
}

number_conversions!(i32, i64, u32, u64, f32, f64);

/// A `bool` travels as one byte (0 or 1; any non-zero byte reads as `true`).
impl ToBytes<'_> for bool {
    type Bytes = [u8; 1];
    fn to_bytes(&self) -> Result<Self::Bytes, Error> {
        Ok([u8::from(*self)])
    }
}

impl FromBytesOwned for bool {
    fn from_bytes_owned(data: &[u8]) -> Result<Self, Error> {
        match data.first() {
            Some(byte) => Ok(*byte != 0),
            None => Err(crate::error::fail!(
                Invalid,
                "expected one byte for a bool, got none"
            )),
        }
    }
}

impl ToBytes<'_> for serde_json::Value {
    type Bytes = Vec<u8>;
    fn to_bytes(&self) -> Result<Self::Bytes, Error> {
        serde_json::to_vec(self)
            .map_err(|e| crate::error::fail!(Invalid from e, "cannot encode JSON"))
    }
}

impl FromBytesOwned for serde_json::Value {
    fn from_bytes_owned(data: &[u8]) -> Result<Self, Error> {
        serde_json::from_slice(data)
            .map_err(|e| crate::error::fail!(Invalid from e, "invalid JSON"))
    }
}

impl FromBytesOwned for Box<[u8]> {
    fn from_bytes_owned(data: &[u8]) -> Result<Self, Error> {
        Ok(data.into())
    }
}

/// Empty bytes decode as `None`, anything else as `Some` of the inner type.
impl<'a, T: FromBytes<'a>> FromBytes<'a> for Option<T> {
    fn from_bytes(data: &'a [u8]) -> Result<Self, Error> {
        if data.is_empty() {
            return Ok(None);
        }
        T::from_bytes(data).map(Some)
    }
}

impl FromBytesOwned for Base64<String> {
    fn from_bytes_owned(data: &[u8]) -> Result<Self, Error> {
        // base64's error is a `core::error::Error` only with its `std` feature, so
        // its text goes in the message rather than in the source.
        let bytes = base64::engine::general_purpose::STANDARD
            .decode(data)
            .map_err(|e| crate::error::fail!(Invalid, "invalid base64: {e}"))?;
        String::from_utf8(bytes)
            .map(Base64)
            .map_err(|e| crate::error::fail!(Invalid from e, "base64 text is not UTF-8"))
    }
}

impl<T: serde::Serialize> ToBytes<'_> for Json<T> {
    type Bytes = Vec<u8>;
    fn to_bytes(&self) -> Result<Self::Bytes, Error> {
        serde_json::to_vec(&self.0)
            .map_err(|e| crate::error::fail!(Invalid from e, "cannot encode JSON"))
    }
}

impl<T: serde::de::DeserializeOwned> FromBytesOwned for Json<T> {
    fn from_bytes_owned(data: &[u8]) -> Result<Self, Error> {
        serde_json::from_slice(data)
            .map(Json)
            .map_err(|e| crate::error::fail!(Invalid from e, "invalid JSON"))
    }
}

impl<T: AsRef<[u8]>> ToBytes<'_> for Base64<T> {
    type Bytes = String;
    fn to_bytes(&self) -> Result<Self::Bytes, Error> {
        Ok(base64::engine::general_purpose::STANDARD.encode(self.0.as_ref()))
    }
}

impl FromBytesOwned for Base64<Vec<u8>> {
    fn from_bytes_owned(data: &[u8]) -> Result<Self, Error> {
        base64::engine::general_purpose::STANDARD
            .decode(data)
            .map(Base64)
            .map_err(|e| crate::error::fail!(Invalid, "invalid base64: {e}"))
    }
}

impl<'a, T: bytemuck::Pod> ToBytes<'a> for Raw<'a, T> {
    type Bytes = &'a [u8];
    fn to_bytes(&self) -> Result<Self::Bytes, Error> {
        Ok(bytemuck::bytes_of(self.0))
    }
}

impl<'a, T: bytemuck::Pod> FromBytes<'a> for Raw<'a, T> {
    fn from_bytes(data: &'a [u8]) -> Result<Self, Error> {
        bytemuck::try_from_bytes(data).map(Raw).map_err(|e| {
            crate::error::fail!(
                Invalid,
                "bytes do not form a {}: {e:?}",
                core::any::type_name::<T>()
            )
        })
    }
}

impl<'a> FromBytes<'a> for &'a [u8] {
    fn from_bytes(data: &'a [u8]) -> Result<Self, Error> {
        Ok(data)
    }
}

impl<'a> FromBytes<'a> for &'a str {
    fn from_bytes(data: &'a [u8]) -> Result<Self, Error> {
        core::str::from_utf8(data)
            .map_err(|e| crate::error::fail!(Invalid from e, "output is not valid UTF-8"))
    }
}

impl FromBytesOwned for Vec<u8> {
    fn from_bytes_owned(data: &[u8]) -> Result<Self, Error> {
        Ok(data.to_vec())
    }
}

impl FromBytesOwned for String {
    fn from_bytes_owned(data: &[u8]) -> Result<Self, Error> {
        core::str::from_utf8(data)
            .map(ToOwned::to_owned)
            .map_err(|e| crate::error::fail!(Invalid from e, "output is not valid UTF-8"))
    }
}

impl FromBytesOwned for () {
    fn from_bytes_owned(_data: &[u8]) -> Result<Self, Error> {
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn round_trips() {
        let json = Json(alloc::vec![1u32, 2]).to_bytes().expect("encode");
        assert_eq!(json, b"[1,2]");
        let Json(back): Json<Vec<u32>> = FromBytes::from_bytes(&json).expect("decode");
        assert_eq!(back, [1, 2]);
        assert_eq!(Base64(b"hi").to_bytes().expect("b64"), "aGk=");
        assert_eq!(u64::from_bytes(&7u64.to_le_bytes()).expect("u64"), 7);
        assert!(u64::from_bytes(b"short").is_err());
        assert!(String::from_bytes(&[0xff]).is_err());
        let value = 0x0102_0304u32;
        let raw = Raw(&value).to_bytes().expect("raw");
        assert_eq!(raw, value.to_le_bytes());
    }
}
