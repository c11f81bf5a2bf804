//! What a plug-in is made from: module bytes or a manifest.

use crate::manifest::Manifest;
use alloc::{borrow::Cow, string::String, vec::Vec};

/// What a plug-in is made from: module bytes (wasm, WAT, or a JSON/TOML manifest) or
/// a manifest.
#[derive(Debug, Clone)]
pub enum WasmInput<'a> {
    /// Bytes: a wasm binary, wasm text, or a manifest document.
    Data(Cow<'a, [u8]>),
    /// A manifest.
    Manifest(Cow<'a, Manifest>),
}

impl<'a> From<&'a [u8]> for WasmInput<'a> {
    fn from(bytes: &'a [u8]) -> Self {
        WasmInput::Data(Cow::Borrowed(bytes))
    }
}

impl<'a, const N: usize> From<&'a [u8; N]> for WasmInput<'a> {
    fn from(bytes: &'a [u8; N]) -> Self {
        WasmInput::Data(Cow::Borrowed(bytes))
    }
}

impl<'a> From<&'a Vec<u8>> for WasmInput<'a> {
    fn from(bytes: &'a Vec<u8>) -> Self {
        WasmInput::Data(Cow::Borrowed(bytes))
    }
}

impl From<Vec<u8>> for WasmInput<'_> {
    fn from(bytes: Vec<u8>) -> Self {
        WasmInput::Data(Cow::Owned(bytes))
    }
}

impl<'a> From<&'a str> for WasmInput<'a> {
    fn from(text: &'a str) -> Self {
        WasmInput::Data(Cow::Borrowed(text.as_bytes()))
    }
}

impl From<Manifest> for WasmInput<'_> {
    fn from(manifest: Manifest) -> Self {
        WasmInput::Manifest(Cow::Owned(manifest))
    }
}

impl<'a> From<&'a mut Manifest> for WasmInput<'a> {
    fn from(manifest: &'a mut Manifest) -> Self {
        WasmInput::Manifest(Cow::Borrowed(manifest))
    }
}

impl<'a> From<&'a Manifest> for WasmInput<'a> {
    fn from(manifest: &'a Manifest) -> Self {
        WasmInput::Manifest(Cow::Borrowed(manifest))
    }
}

/// The bytes of one module of a plug-in, with the name other modules import it by.
#[derive(Debug, Clone)]
pub struct LoadedModule {
    /// The module's name (`main` holds the plug-in functions).
    pub name: String,
    /// The module as a wasm binary (wasm text is already converted).
    pub bytes: Vec<u8>,
}
