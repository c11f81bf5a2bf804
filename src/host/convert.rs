//! Conversions between Rust values and the bytes plug-ins exchange.
//!
//! [`ToBytes`] turns a value into call input or host-function output;
//! [`FromBytes`] turns call output or host-function input back into a value. The
//! wrappers [`Json`], [`Msgpack`], [`Base64`], [`Raw`] and `Prost` pick an encoding, and
//! [`encoding!`](crate::encoding) makes new ones.
//!
//! With `std` this module is the `extism-convert` crate, as `extism::convert` is:
//! `extism_convert::Json<T>` *is* `interplug::convert::Json<T>`, a type that derives
//! `extism_convert`'s `ToBytes` is a `ToBytes` here, and a crate built on
//! `extism-convert` works unchanged. The derives `#[derive(ToBytes, FromBytes)]` of this
//! module implement those same traits and name interplug however the host named it
//! (`interplug`, or `extism` when renamed). The `no_std` core has its own traits with the
//! same shape (and `Json`, `Base64`, `Raw`); `host_fn!`, `Plugin::call` and
//! `CurrentPlugin::memory_get_val` take them there.
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
//! MessagePack or base64). Where interplug encodes or decodes for a call or a host
//! function, an error without a kind becomes the source of one of kind
//! [`ErrorKind::Invalid`](crate::ErrorKind::Invalid).

#[cfg(feature = "std")]
pub use extism_convert::*;
// The derives: the traits above, through the name the host gave interplug.
#[cfg(feature = "std")]
pub use interplug_derive::{FromBytes, ToBytes};

#[cfg(not(feature = "std"))]
pub use crate::encoding;
#[cfg(not(feature = "std"))]
pub use crate::host::convert_core::{
    Base64, FromBytes, FromBytesOwned, Json, MemoryHandle, Raw, ToBytes,
};
#[cfg(not(feature = "std"))]
pub use crate::Error;

use crate::error::{ErrorExt, ErrorKind, Failure};
use alloc::{format, string::String};

/// Encodes `value`; an error without a kind becomes the source of an `Invalid` one
/// saying that the value was meant for `what` (the original error stays reachable with
/// `downcast_ref`).
pub(crate) fn encode<'a, T: ToBytes<'a>>(
    value: &T,
    what: impl FnOnce() -> String,
) -> Result<T::Bytes, crate::Error> {
    value.to_bytes().map_err(|error| {
        invalid_unless_kinded(error, || {
            format!(
                "cannot encode a `{}` as {}",
                core::any::type_name::<T>(),
                what()
            )
        })
    })
}

/// Decodes `bytes` (`what`, e.g. "the output of `f`") as `U`, with the errors of
/// [`encode`].
pub(crate) fn decode<'b, U: FromBytes<'b>>(
    bytes: &'b [u8],
    what: impl FnOnce() -> String,
) -> Result<U, crate::Error> {
    U::from_bytes(bytes).map_err(|error| {
        invalid_unless_kinded(error, || {
            format!(
                "{} does not decode as `{}`",
                what(),
                core::any::type_name::<U>()
            )
        })
    })
}

/// `error` as it is when it has a kind; otherwise with `message` and the kind
/// `Invalid` in front of it.
fn invalid_unless_kinded(error: crate::Error, message: impl FnOnce() -> String) -> crate::Error {
    if error.failure().is_some() {
        return error;
    }
    error.context(Failure::new(ErrorKind::Invalid, message()))
}

/// Defines an encoding wrapper `Name<T>(pub T)` from a serialise and a deserialise
/// function, as `extism_convert::encoding!` does:
/// `encoding!(pub MyJson, serde_json::to_vec, serde_json::from_slice)`.
///
/// The functions' errors must convert into [`Error`](crate::Error). This is
/// `interplug::encoding!`; with `std`, `interplug::convert::encoding!` is
/// `extism_convert::encoding!` itself (the same wrapper and traits, its errors without
/// a kind, and `serde` must be a dependency of the crate that uses it).
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
