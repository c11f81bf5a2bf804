//! Conversions between Rust values and the bytes plug-ins exchange.
//!
//! [`ToBytes`] turns a value into call input or host-function output;
//! [`FromBytes`] turns call output or host-function input back into a value. The
//! wrappers [`Json`], [`Msgpack`], [`Base64`] and [`Raw`] pick an encoding.

use crate::Error;
use alloc::{borrow::ToOwned, string::String, vec::Vec};
use base64::Engine as _;

/// A value that can be encoded as bytes for a plug-in.
pub trait ToBytes<'a> {
    /// The encoded form.
    type Bytes: AsRef<[u8]>;

    /// Encodes the value.
    fn to_bytes(&self) -> Result<Self::Bytes, Error>;
}

/// A value that can be decoded from bytes borrowed for `'a`.
pub trait FromBytes<'a>: Sized {
    /// Decodes the value.
    fn from_bytes(data: &'a [u8]) -> Result<Self, Error>;
}

/// A value that can be decoded from bytes without borrowing them.
pub trait FromBytesOwned: Sized {
    /// Decodes the value.
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

/// MessagePack encoding of `T` (serde, needs the `std` feature).
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct Msgpack<T>(pub T);

/// Base64 text of the bytes of `T`.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct Base64<T: AsRef<[u8]>>(pub T);

/// The in-memory bytes of a plain-old-data value (bytemuck `Pod`).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Raw<'a, T: bytemuck::Pod>(pub &'a T);

impl<T> From<T> for Json<T> {
    fn from(value: T) -> Self {
        Json(value)
    }
}

impl<T> From<T> for Msgpack<T> {
    fn from(value: T) -> Self {
        Msgpack(value)
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
                    anyhow::anyhow!(
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

impl<T: serde::Serialize> ToBytes<'_> for Json<T> {
    type Bytes = Vec<u8>;
    fn to_bytes(&self) -> Result<Self::Bytes, Error> {
        serde_json::to_vec(&self.0).map_err(|e| anyhow::anyhow!("cannot encode JSON: {e}"))
    }
}

impl<T: serde::de::DeserializeOwned> FromBytesOwned for Json<T> {
    fn from_bytes_owned(data: &[u8]) -> Result<Self, Error> {
        serde_json::from_slice(data)
            .map(Json)
            .map_err(|e| anyhow::anyhow!("invalid JSON: {e}"))
    }
}

#[cfg(feature = "std")]
impl<T: serde::Serialize> ToBytes<'_> for Msgpack<T> {
    type Bytes = Vec<u8>;
    fn to_bytes(&self) -> Result<Self::Bytes, Error> {
        rmp_serde::to_vec(&self.0).map_err(|e| anyhow::anyhow!("cannot encode MessagePack: {e}"))
    }
}

#[cfg(feature = "std")]
impl<T: serde::de::DeserializeOwned> FromBytesOwned for Msgpack<T> {
    fn from_bytes_owned(data: &[u8]) -> Result<Self, Error> {
        rmp_serde::from_slice(data)
            .map(Msgpack)
            .map_err(|e| anyhow::anyhow!("invalid MessagePack: {e}"))
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
            .map_err(|e| anyhow::anyhow!("invalid base64: {e}"))
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
            anyhow::anyhow!("bytes do not form a {}: {e:?}", core::any::type_name::<T>())
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
        core::str::from_utf8(data).map_err(|e| anyhow::anyhow!("output is not valid UTF-8: {e}"))
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
            .map_err(|e| anyhow::anyhow!("output is not valid UTF-8: {e}"))
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
        let msg = Msgpack(alloc::vec![1u8]).to_bytes().expect("msgpack");
        let Msgpack(v): Msgpack<Vec<u8>> = FromBytes::from_bytes(&msg).expect("decode");
        assert_eq!(v, [1]);
        let value = 0x0102_0304u32;
        let raw = Raw(&value).to_bytes().expect("raw");
        assert_eq!(raw, value.to_le_bytes());
    }
}
