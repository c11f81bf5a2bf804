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

pub use crate::load::bounds::DEFAULT_MAX_LOAD_BYTES;
pub use crate::manifest::input::LoadedModule;

/// Largest wasm module (256 MiB), whether read from a file, downloaded from a URL or
/// given inline ([`Wasm::data`], or the bytes given to `Plugin::new`, which may also
/// be a manifest). A larger file is refused from its metadata before any byte is
/// read, a larger download after `DEFAULT_MAX_MODULE_BYTES + 1` bytes (or at once
/// from its `Content-Length`), larger inline bytes before anything is done with
/// them; the error's kind is `LimitExceeded`. All the modules of one plug-in
/// together may hold at most [`DEFAULT_MAX_LOAD_BYTES`].
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

/// Refuses inline bytes (`what`) larger than [`DEFAULT_MAX_MODULE_BYTES`].
fn check_inline_size(length: usize, what: &str) -> Result<(), Error> {
    let max = DEFAULT_MAX_MODULE_BYTES;
    if length as u64 > max {
        bail_kind!(
            LimitExceeded,
            "{what} has {length} bytes, more than the {max} bytes a module may have"
        );
    }
    Ok(())
}

/// Refuses a manifest whose inline modules are larger than
/// [`DEFAULT_MAX_MODULE_BYTES`] each or [`DEFAULT_MAX_LOAD_BYTES`] together, before
/// any is copied.
fn check_inline_modules(manifest: &Manifest) -> Result<(), Error> {
    let mut total: u64 = 0;
    for wasm in &manifest.wasm {
        if let Wasm::Data { data, .. } = wasm {
            check_inline_size(data.len(), "an inline module (`data`)")?;
            total = total.saturating_add(data.len() as u64);
        }
    }
    if total > DEFAULT_MAX_LOAD_BYTES {
        bail_kind!(
            LimitExceeded,
            "the plug-in's inline modules hold {total} bytes, more than the \
             {DEFAULT_MAX_LOAD_BYTES} bytes creating a plug-in may load; use fewer or \
             smaller modules"
        );
    }
    Ok(())
}

/// Resolves a plug-in source into its manifest and module bytes.
pub(crate) fn load(source: WasmInput<'_>) -> Result<(Manifest, Vec<LoadedModule>), Error> {
    let manifest = match source {
        WasmInput::Manifest(manifest) => {
            // Checked before the manifest (and its inline modules) is copied.
            check_inline_modules(&manifest)?;
            manifest.into_owned()
        }
        WasmInput::Data(bytes) => {
            match check_inline_size(bytes.len(), "the source given to create the plug-in")
                .and_then(|()| detect(&bytes))?
            {
                SourceKind::WasmBinary | SourceKind::WasmText => {
                    Manifest::new([Wasm::data(bytes.into_owned())])
                }
                SourceKind::JsonManifest => {
                    let text = core::str::from_utf8(&bytes)
                        .map_err(|e| fail!(Invalid from e, "the manifest is not valid UTF-8"))?;
                    Manifest::from_json(text)?
                }
                SourceKind::TomlManifest => parse_toml(&bytes)?,
            }
        }
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
/// - [`ErrorKind::LimitExceeded`](crate::ErrorKind::LimitExceeded) when inline bytes
///   have more than [`DEFAULT_MAX_MODULE_BYTES`], or all the modules together more
///   than [`DEFAULT_MAX_LOAD_BYTES`];
/// - [`ErrorKind::Invalid`](crate::ErrorKind::Invalid) when the manifest lists no
///   module or two with one name (two unnamed modules are both `main`), when a
///   module's SHA-256 is not the manifest's `hash`, when a file is not a regular file,
///   or when a module is not a wasm binary and not wasm text where text is allowed:
///   inline bytes, and files or URLs whose name ends in `.wat`. Any other file or URL
///   must be a wasm binary, and the error for wasm text that does not parse quotes no
///   line of a file or URL (only inline text's parse error is the source).
pub fn load_modules(manifest: &Manifest) -> Result<Vec<LoadedModule>, Error> {
    if manifest.wasm.is_empty() {
        bail_kind!(
            Invalid,
            "the manifest lists no wasm modules: add one to `wasm`"
        );
    }
    check_inline_modules(manifest)?;
    let count = manifest.wasm.len();
    let mut modules: Vec<LoadedModule> = Vec::with_capacity(count);
    let mut total: u64 = 0;
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
        let bytes = to_binary(bytes, &name, text_allowed(wasm))?;
        total = total.saturating_add(bytes.len() as u64);
        if total > DEFAULT_MAX_LOAD_BYTES {
            bail_kind!(
                LimitExceeded,
                "the plug-in's modules hold more than the {DEFAULT_MAX_LOAD_BYTES} bytes \
                 creating a plug-in may load; use fewer or smaller modules"
            );
        }
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
        Wasm::Data { data, .. } => {
            check_inline_size(data.len(), "an inline module (`data`)")?;
            Ok(data.clone())
        }
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

/// Where wasm text may be given for a module, and whether its parse errors may quote
/// it.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Text {
    /// Not at all: the module must be a wasm binary (a file or URL not named `.wat`).
    Refused,
    /// Yes, named so (a file or URL whose name ends in `.wat`); errors quote nothing.
    Named,
    /// Yes, given inline by the host or the manifest; errors quote the text.
    Inline,
}

/// Whether `wasm` may hold wasm text.
fn text_allowed(wasm: &Wasm) -> Text {
    let named_wat = |name: &str| {
        name.len() > 4
            && name
                .get(name.len() - 4..)
                .is_some_and(|end| end.eq_ignore_ascii_case(".wat"))
    };
    match wasm {
        Wasm::Data { .. } => Text::Inline,
        #[cfg(feature = "std")]
        Wasm::File { path, .. } => match path.to_str() {
            Some(path) if named_wat(path) => Text::Named,
            _ => Text::Refused,
        },
        #[cfg(not(feature = "std"))]
        Wasm::File { path, .. } if named_wat(path) => Text::Named,
        Wasm::Url { req, .. } => {
            let path = req.url.split(['?', '#']).next().unwrap_or_default();
            if named_wat(path) {
                Text::Named
            } else {
                Text::Refused
            }
        }
        #[cfg(not(feature = "std"))]
        Wasm::File { .. } => Text::Refused,
    }
}

/// Turns WAT into a wasm binary where `text` allows it; binaries pass through.
fn to_binary(bytes: Vec<u8>, name: &str, text: Text) -> Result<Vec<u8>, Error> {
    if bytes.starts_with(b"\0asm") {
        return Ok(bytes);
    }
    if text == Text::Refused {
        bail_kind!(
            Invalid,
            "module `{name}` is neither a wasm binary nor wasm text: a module read from a \
             file or URL must be a wasm binary, or wasm text in a file whose name ends in \
             `.wat`"
        );
    }
    wat_to_binary(&bytes, name, text)
}

#[cfg(feature = "std")]
fn wat_to_binary(bytes: &[u8], name: &str, text: Text) -> Result<Vec<u8>, Error> {
    if text == Text::Inline && !matches!(detect(bytes), Ok(SourceKind::WasmText)) {
        bail_kind!(
            Invalid,
            "module `{name}` is neither a wasm binary nor wasm text"
        );
    }
    let source = core::str::from_utf8(bytes).map_err(|e| {
        fail!(
            Invalid,
            "module `{name}` is not valid UTF-8 text (wasm text must be): invalid byte at \
             offset {}",
            e.valid_up_to()
        )
    })?;
    wat::parse_str(source).map_err(|e| match text {
        Text::Inline => fail!(Invalid from e, "module `{name}` is not valid wasm text"),
        _ => match wat_error_position(&e) {
            Some((line, column)) => fail!(
                Invalid,
                "module `{name}` is not valid wasm text: the error is at line {line}, column \
                 {column} (its text is not quoted here; a WAT parser such as `wasm-tools \
                 parse` shows it)"
            ),
            None => fail!(
                Invalid,
                "module `{name}` is not valid wasm text (its text is not quoted here; a WAT \
                 parser such as `wasm-tools parse` shows the error)"
            ),
        },
    })
}

/// The line and column a WAT parse error points at, read from the end of the
/// location line of its rendering (`--> <anon>:LINE:COLUMN`, or `... at
/// <anon>:LINE:COLUMN` for a long line), never from the quoted text.
#[cfg(feature = "std")]
fn wat_error_position(error: &wat::Error) -> Option<(u64, u64)> {
    let rendered = alloc::string::ToString::to_string(error);
    let location = match rendered.lines().nth(1) {
        Some(second) => second.trim_start().strip_prefix("--> ")?,
        None => rendered.as_str(),
    };
    let mut parts = location.rsplitn(3, ':');
    let column = parts.next()?.trim().parse().ok()?;
    let line = parts.next()?.trim().parse().ok()?;
    Some((line, column))
}

#[cfg(not(feature = "std"))]
fn wat_to_binary(_bytes: &[u8], name: &str, _text: Text) -> Result<Vec<u8>, Error> {
    bail_kind!(
        Invalid,
        "module `{name}` is not a wasm binary (wasm text needs the `std` feature)"
    )
}
