//! Turning a plug-in source (bytes or manifest) into named module bytes: format
//! detection, files, URLs, base64 data, hashes and the choice of `main`.

use crate::{
    error::{bail_kind, fail},
    kernel::abi::MAIN_MODULE,
    manifest::input::WasmInput,
    manifest::Wasm,
    Error, Manifest,
};
use alloc::{format, string::String, vec::Vec};
use sha2::{Digest, Sha256};

pub use crate::manifest::input::LoadedModule;

/// Largest wasm module read from a file or downloaded from a URL (256 MiB). A larger
/// file is refused from its metadata before any byte is read, a larger download after
/// `DEFAULT_MAX_MODULE_BYTES + 1` bytes (or at once from its `Content-Length`); the
/// error's kind is `LimitExceeded`.
///
/// ```
/// assert_eq!(interplug::sources::DEFAULT_MAX_MODULE_BYTES, 256 * 1024 * 1024);
/// ```
pub const DEFAULT_MAX_MODULE_BYTES: u64 = 256 << 20;

/// What a byte string holds.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum SourceKind {
    /// A wasm binary.
    WasmBinary,
    /// Wasm text (WAT).
    WasmText,
    /// A JSON manifest.
    JsonManifest,
    /// A TOML manifest.
    TomlManifest,
}

/// Tells what `bytes` hold, or says why they are none of the known formats.
///
/// # Errors
///
/// [`ErrorKind::Invalid`](crate::ErrorKind::Invalid) when `bytes` are neither a wasm
/// binary, wasm text, nor a JSON or TOML manifest (TOML needs `std`).
pub fn detect(bytes: &[u8]) -> Result<SourceKind, Error> {
    if bytes.starts_with(b"\0asm") {
        return Ok(SourceKind::WasmBinary);
    }
    let text = core::str::from_utf8(bytes).map_err(|_| unknown_format())?;
    let trimmed = text.trim_start();
    if trimmed.starts_with("(module") || trimmed.starts_with(";;") || trimmed.starts_with("(;") {
        return Ok(SourceKind::WasmText);
    }
    if trimmed.starts_with('{') {
        return Ok(SourceKind::JsonManifest);
    }
    #[cfg(feature = "std")]
    if !trimmed.is_empty() && toml::from_str::<toml::Table>(text).is_ok() {
        return Ok(SourceKind::TomlManifest);
    }
    Err(unknown_format())
}

fn unknown_format() -> Error {
    fail!(
        Invalid,
        "unknown manifest format: expected a wasm binary, wasm text (WAT), or a JSON or TOML \
         manifest"
    )
}

/// Resolves a plug-in source into its manifest and module bytes.
pub(crate) fn load(source: WasmInput<'_>) -> Result<(Manifest, Vec<LoadedModule>), Error> {
    let manifest = match source {
        WasmInput::Manifest(manifest) => manifest.into_owned(),
        WasmInput::Data(bytes) => match detect(&bytes)? {
            SourceKind::WasmBinary | SourceKind::WasmText => {
                Manifest::new([Wasm::data(bytes.into_owned())])
            }
            SourceKind::JsonManifest => {
                let text = core::str::from_utf8(&bytes)
                    .map_err(|e| fail!(Invalid from e, "the manifest is not valid UTF-8"))?;
                Manifest::from_json(text)?
            }
            SourceKind::TomlManifest => parse_toml(&bytes)?,
        },
    };
    let modules = load_modules(&manifest)?;
    Ok((manifest, modules))
}

#[cfg(feature = "std")]
fn parse_toml(bytes: &[u8]) -> Result<Manifest, Error> {
    let text = core::str::from_utf8(bytes)
        .map_err(|e| fail!(Invalid from e, "the manifest is not valid UTF-8"))?;
    Manifest::from_toml(text)
}

#[cfg(not(feature = "std"))]
fn parse_toml(_bytes: &[u8]) -> Result<Manifest, Error> {
    Err(unknown_format())
}

/// Loads every module of the manifest and names them; exactly one is `main`: the only
/// module, else the one named (or left unnamed) `main`, else the last one.
/// Hashes are checked and wasm text is converted to binary, as when a plug-in is
/// created, but nothing is compiled: tools use it to inspect a plug-in's modules.
///
/// # Errors
///
/// - [`ErrorKind::NotFound`](crate::ErrorKind::NotFound),
///   [`ErrorKind::PermissionDenied`](crate::ErrorKind::PermissionDenied) or
///   [`ErrorKind::Io`](crate::ErrorKind::Io) when a module's file cannot be read (the
///   `std::io::Error` is the [`source`](core::error::Error::source));
///   [`ErrorKind::LimitExceeded`](crate::ErrorKind::LimitExceeded) when it has more
///   than [`DEFAULT_MAX_MODULE_BYTES`];
/// - for a module named by URL (`http`), the kinds of the download: `Io` (the server
///   failed or answered an error status), `PermissionDenied` (a scheme or address
///   that is not allowed), `Timeout`, `LimitExceeded` (too large), `Invalid` (a
///   malformed URL);
/// - [`ErrorKind::Invalid`](crate::ErrorKind::Invalid) when the manifest lists no
///   module or two with one name (two unnamed modules are both `main`), when a
///   module's SHA-256 is not the manifest's `hash`, when a file is not a regular file,
///   or when a module is neither a wasm binary nor valid wasm text (the parser's error
///   is the source).
pub fn load_modules(manifest: &Manifest) -> Result<Vec<LoadedModule>, Error> {
    if manifest.wasm.is_empty() {
        bail_kind!(
            Invalid,
            "the manifest lists no wasm modules: add one to `wasm`"
        );
    }
    let count = manifest.wasm.len();
    let mut modules: Vec<LoadedModule> = Vec::with_capacity(count);
    for (index, wasm) in manifest.wasm.iter().enumerate() {
        let name = module_name(
            wasm.meta().name.as_deref(),
            index,
            count,
            modules.iter().any(|m| m.name == MAIN_MODULE),
        );
        if modules.iter().any(|m| m.name == name) {
            bail_kind!(
                Invalid,
                "two wasm modules are named `{name}`; module names must be unique (a module \
                 without a name is `main`, and so is the last one when no other is `main`)"
            );
        }
        let bytes = fetch(wasm)?;
        if let Some(expected) = &wasm.meta().hash {
            let actual = sha256_hex(&bytes);
            if !expected.eq_ignore_ascii_case(&actual) {
                return Err(hash_mismatch(&name, expected, &actual, &bytes));
            }
        }
        let bytes = to_binary(bytes, &name)?;
        modules.push(LoadedModule { name, bytes });
    }
    Ok(modules)
}

/// The name a manifest's module is linked under, as in the official runtime: the only
/// module is `main` whatever its name; with several, a module is its `name` (`main`
/// when it has none), and the last one is `main` when no module before it is.
fn module_name(name: Option<&str>, index: usize, count: usize, main_seen: bool) -> String {
    if count == 1 || (index + 1 == count && !main_seen) {
        String::from(MAIN_MODULE)
    } else {
        String::from(name.unwrap_or(MAIN_MODULE))
    }
}

/// The error of a module whose SHA-256 is not the manifest's. The actual hash is
/// named only when the bytes look like a wasm binary (magic and version 1): a manifest
/// naming an arbitrary host file (`/etc/shadow`) must not learn that file's hash.
fn hash_mismatch(name: &str, expected: &str, actual: &str, bytes: &[u8]) -> Error {
    if bytes.starts_with(b"\0asm\x01\0\0\0") {
        fail!(
            Invalid,
            "hash mismatch for module `{name}`: the manifest expects {expected}, the \
             module's SHA-256 is {actual}"
        )
    } else {
        fail!(
            Invalid,
            "hash mismatch for module `{name}`: the module's SHA-256 is not the {expected} \
             the manifest expects (and the bytes are not a wasm binary)"
        )
    }
}

/// Lowercase hex SHA-256 of `bytes`.
pub fn sha256_hex(bytes: &[u8]) -> String {
    let digest = Sha256::digest(bytes);
    let mut text = String::with_capacity(64);
    for byte in digest {
        text.push_str(&format!("{byte:02x}"));
    }
    text
}

/// The bytes of one `wasm` entry.
fn fetch(wasm: &Wasm) -> Result<Vec<u8>, Error> {
    match wasm {
        Wasm::Data { data, .. } => Ok(data.clone()),
        Wasm::File { path, .. } => read_file(path),
        Wasm::Url { req, .. } => {
            crate::os::http::module::fetch_module(req, DEFAULT_MAX_MODULE_BYTES)
        }
    }
}

/// Reads a wasm file: it must be a regular file (not a FIFO, device or directory,
/// which are refused before they are opened) of at most
/// [`DEFAULT_MAX_MODULE_BYTES`], and at most that many bytes plus one are read.
#[cfg(feature = "std")]
fn read_file(path: &std::path::Path) -> Result<Vec<u8>, Error> {
    let shown = path.display();
    use std::io::Read;
    let max = DEFAULT_MAX_MODULE_BYTES;
    // The I/O error is the cause: `{:#}` shows `cannot read wasm file ...: <os text>`.
    let io_error = |e: std::io::Error| {
        crate::error::caused(
            crate::error::io_kind(&e),
            format!("cannot read wasm file `{shown}`"),
            e,
        )
    };
    let check = |metadata: std::fs::Metadata| -> Result<u64, Error> {
        if !metadata.is_file() {
            bail_kind!(
                Invalid,
                "cannot read wasm file `{shown}`: it is not a regular file (a directory, \
                 FIFO, socket or device); name a .wasm file"
            );
        }
        if metadata.len() > max {
            bail_kind!(
                LimitExceeded,
                "cannot read wasm file `{shown}`: it has {} bytes, more than the {max} bytes a \
                 module may have",
                metadata.len()
            );
        }
        Ok(metadata.len())
    };
    // Checked before opening: opening a FIFO would wait for a writer.
    check(std::fs::metadata(path).map_err(io_error)?)?;
    let file = std::fs::File::open(path).map_err(io_error)?;
    // Checked again on the opened file, in case the path changed in between.
    let length = check(file.metadata().map_err(io_error)?)?;
    let mut bytes = Vec::with_capacity(usize::try_from(length).unwrap_or(0));
    file.take(max + 1)
        .read_to_end(&mut bytes)
        .map_err(io_error)?;
    if bytes.len() as u64 > max {
        bail_kind!(
            LimitExceeded,
            "cannot read wasm file `{shown}`: it grew past the {max} bytes a module may have"
        );
    }
    Ok(bytes)
}

#[cfg(not(feature = "std"))]
fn read_file(path: &str) -> Result<Vec<u8>, Error> {
    bail_kind!(
        Invalid,
        "cannot read wasm file `{path}`: files need the `std` feature; pass bytes instead"
    )
}

/// Turns WAT into a wasm binary; binaries pass through.
fn to_binary(bytes: Vec<u8>, name: &str) -> Result<Vec<u8>, Error> {
    if bytes.starts_with(b"\0asm") {
        return Ok(bytes);
    }
    wat_to_binary(&bytes, name)
}

#[cfg(feature = "std")]
fn wat_to_binary(bytes: &[u8], name: &str) -> Result<Vec<u8>, Error> {
    match detect(bytes) {
        Ok(SourceKind::WasmText) => {}
        _ => bail_kind!(
            Invalid,
            "module `{name}` is neither a wasm binary nor wasm text"
        ),
    }
    let text = core::str::from_utf8(bytes)
        .map_err(|e| fail!(Invalid from e, "module `{name}` is not valid UTF-8 text"))?;
    wat::parse_str(text)
        .map_err(|e| fail!(Invalid from e, "module `{name}` is not valid wasm text"))
}

#[cfg(not(feature = "std"))]
fn wat_to_binary(_bytes: &[u8], name: &str) -> Result<Vec<u8>, Error> {
    bail_kind!(
        Invalid,
        "module `{name}` is not a wasm binary (wasm text needs the `std` feature)"
    )
}
