//! Conversions between Rust values and the bytes plug-ins exchange.
//!
//! [`ToBytes`] turns a value into call input or host-function output;
//! [`FromBytes`] turns call output or host-function input back into a value. The
//! wrappers [`Json`], [`Msgpack`], [`Base64`] and [`Raw`] pick an encoding, and
//! [`encoding!`](crate::encoding) makes new ones. This is the `extism-convert` crate's
//! surface (`extism::convert`), with `#[derive(ToBytes, FromBytes)]` under `std`.
//!
//! # Examples
//!
//! ```
//! use interplug::convert::{FromBytes, Json, ToBytes};
//! #[derive(serde::Serialize, serde::Deserialize, PartialEq, Debug)]
//! struct Point { x: i32, y: i32 }
//!
//! let bytes = Json(Point { x: 1, y: 2 }).to_bytes()?;
//! assert_eq!(bytes, br#"{"x":1,"y":2}"#);
//! let Json(point): Json<Point> = FromBytes::from_bytes(&bytes)?;
//! assert_eq!(point, Point { x: 1, y: 2 });
//! # Ok::<(), interplug::Error>(())
//! ```
//!
//! # Errors
//!
//! Encoding fails when serde cannot serialise the value; decoding fails when the bytes
//! are not valid for the type (wrong length for a number, invalid UTF-8, JSON,
//! MessagePack or base64).

pub use crate::encoding;
pub use crate::kernel::handle::MemoryHandle;
pub use crate::Error;
#[cfg(feature = "std")]
pub use interplug_derive::{FromBytes, ToBytes};

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

/// MessagePack encoding of `T` (serde, needs the `std` feature).
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct Msgpack<T>(pub T);

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

impl<T> Msgpack<T> {
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

#[cfg(feature = "std")]
impl<'a, T: FromBytes<'a>> FromBytes<'a> for std::io::Cursor<T> {
    fn from_bytes(data: &'a [u8]) -> Result<Self, Error> {
        T::from_bytes(data).map(std::io::Cursor::new)
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

/// Defines an encoding wrapper `Name<T>(pub T)` from a serialise and a deserialise
/// function, as `extism_convert::encoding!` does:
/// `encoding!(pub MyJson, serde_json::to_vec, serde_json::from_slice)`.
///
/// The functions' errors must convert into [`Error`](crate::Error).
///
/// # Errors
///
/// Encoding and decoding fail with [`ErrorKind::Invalid`](crate::ErrorKind::Invalid),
/// the function's error as its source (an [`Error`](crate::Error) that already has a
/// kind keeps it).
///
/// # Examples
///
/// ```
/// use interplug::convert::{FromBytes, ToBytes};
/// interplug::encoding!(Pretty, serde_json::to_vec_pretty, serde_json::from_slice);
///
/// let bytes = Pretty(vec![1, 2]).to_bytes()?;
/// assert!(bytes.contains(&b'\n'));
/// let Pretty(back): Pretty<Vec<u8>> = FromBytes::from_bytes(&bytes)?;
/// assert_eq!(back, [1, 2]);
/// # Ok::<(), interplug::Error>(())
/// ```
#[macro_export]
macro_rules! encoding {
    ($pub:vis $name:ident, $to_vec:expr, $from_slice:expr) => {
        #[doc = concat!("The `", stringify!($name), "` encoding of `T`.")]
        #[derive(Debug)]
        $pub struct $name<T>(pub T);

        impl<T> $name<T> {
            /// The wrapped value.
            #[allow(dead_code)]
            pub fn into_inner(self) -> T {
                self.0
            }
        }

        impl<T> ::core::convert::From<T> for $name<T> {
            fn from(value: T) -> Self {
                $name(value)
            }
        }

        impl<T: $crate::__private::serde::de::DeserializeOwned> $crate::FromBytesOwned for $name<T> {
            fn from_bytes_owned(data: &[u8]) -> ::core::result::Result<Self, $crate::Error> {
                let value = $from_slice(data)
                    .map_err(|e| $crate::__private::decode_error(stringify!($name), e))?;
                ::core::result::Result::Ok($name(value))
            }
        }

        impl<'a, T: $crate::__private::serde::Serialize> $crate::ToBytes<'a> for $name<T> {
            type Bytes = $crate::__private::Vec<u8>;
            fn to_bytes(&self) -> ::core::result::Result<Self::Bytes, $crate::Error> {
                let bytes = $to_vec(&self.0)
                    .map_err(|e| $crate::__private::encode_error(stringify!($name), e))?;
                ::core::result::Result::Ok(bytes)
            }
        }
    };
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

#[cfg(feature = "std")]
impl<T: serde::Serialize> ToBytes<'_> for Msgpack<T> {
    type Bytes = Vec<u8>;
    fn to_bytes(&self) -> Result<Self::Bytes, Error> {
        rmp_serde::to_vec(&self.0)
            .map_err(|e| crate::error::fail!(Invalid from e, "cannot encode MessagePack"))
    }
}

#[cfg(feature = "std")]
impl<T: serde::de::DeserializeOwned> FromBytesOwned for Msgpack<T> {
    fn from_bytes_owned(data: &[u8]) -> Result<Self, Error> {
        rmp_serde::from_slice(data)
            .map(Msgpack)
            .map_err(|e| crate::error::fail!(Invalid from e, "invalid MessagePack"))
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

/// Protocol Buffers encoding of a `prost` message (feature `prost`, on by default).
#[cfg(feature = "prost")]
#[derive(Debug, Clone, PartialEq, Default)]
pub struct Prost<T: prost::Message>(pub T);

#[cfg(feature = "prost")]
impl<T: prost::Message> From<T> for Prost<T> {
    fn from(message: T) -> Self {
        Prost(message)
    }
}

#[cfg(feature = "prost")]
impl<T: prost::Message> ToBytes<'_> for Prost<T> {
    type Bytes = Vec<u8>;
    fn to_bytes(&self) -> Result<Self::Bytes, Error> {
        Ok(self.0.encode_to_vec())
    }
}

#[cfg(feature = "prost")]
impl<T: prost::Message + Default> FromBytesOwned for Prost<T> {
    fn from_bytes_owned(data: &[u8]) -> Result<Self, Error> {
        T::decode(data)
            .map(Prost)
            .map_err(|e| crate::error::fail!(Invalid from e, "invalid Protocol Buffers message"))
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
        let msg = Msgpack(alloc::vec![1u8]).to_bytes().expect("msgpack");
        let Msgpack(v): Msgpack<Vec<u8>> = FromBytes::from_bytes(&msg).expect("decode");
        assert_eq!(v, [1]);
        let value = 0x0102_0304u32;
        let raw = Raw(&value).to_bytes().expect("raw");
        assert_eq!(raw, value.to_le_bytes());
    }
}
