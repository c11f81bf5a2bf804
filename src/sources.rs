//! Turning a plug-in source (bytes or manifest) into named module bytes: format
//! detection, files, URLs, base64 data, hashes and the choice of `main`.

use crate::{manifest::Wasm, wasm_input::WasmInput, Error, Manifest};
use alloc::{format, string::String, vec::Vec};
use sha2::{Digest, Sha256};

/// The bytes of one module of a plug-in, with the name other modules import it by.
#[derive(Debug, Clone)]
pub struct LoadedModule {
    /// The module's name (`main` holds the plug-in functions).
    pub name: String,
    /// The module as a wasm binary (wasm text is already converted).
    pub bytes: Vec<u8>,
}

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
    anyhow::anyhow!(
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
                    .map_err(|e| anyhow::anyhow!("the manifest is not valid UTF-8: {e}"))?;
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
        .map_err(|e| anyhow::anyhow!("the manifest is not valid UTF-8: {e}"))?;
    Manifest::from_toml(text)
}

#[cfg(not(feature = "std"))]
fn parse_toml(_bytes: &[u8]) -> Result<Manifest, Error> {
    Err(unknown_format())
}

/// Loads every module of the manifest and names them; exactly one is `main`.
/// Hashes are checked and wasm text is converted to binary, as when a plug-in is
/// created, but nothing is compiled: tools use it to inspect a plug-in's modules.
pub fn load_modules(manifest: &Manifest) -> Result<Vec<LoadedModule>, Error> {
    if manifest.wasm.is_empty() {
        anyhow::bail!("the manifest lists no wasm modules: add one to `wasm`");
    }
    let last_unnamed = manifest.wasm.iter().rposition(|w| w.meta().name.is_none());
    let mut modules: Vec<LoadedModule> = Vec::with_capacity(manifest.wasm.len());
    for (index, wasm) in manifest.wasm.iter().enumerate() {
        let name = match &wasm.meta().name {
            Some(name) => name.clone(),
            None if Some(index) == last_unnamed => String::from("main"),
            None => format!("module{index}"),
        };
        if modules.iter().any(|m| m.name == name) {
            anyhow::bail!("two wasm modules are named `{name}`; module names must be unique");
        }
        let bytes = fetch(wasm)?;
        if let Some(expected) = &wasm.meta().hash {
            let actual = sha256_hex(&bytes);
            if !expected.eq_ignore_ascii_case(&actual) {
                anyhow::bail!(
                    "hash mismatch for module `{name}`: the manifest expects {expected}, the \
                     module's SHA-256 is {actual}"
                );
            }
        }
        let bytes = to_binary(bytes, &name)?;
        modules.push(LoadedModule { name, bytes });
    }
    if !modules.iter().any(|m| m.name == "main") {
        anyhow::bail!("no module is named `main`: name one module `main`, or leave one unnamed");
    }
    Ok(modules)
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
        Wasm::Url { req, .. } => crate::http::fetch_module(req),
    }
}

#[cfg(feature = "std")]
fn read_file(path: &std::path::Path) -> Result<Vec<u8>, Error> {
    std::fs::read(path)
        .map_err(|e| anyhow::anyhow!("cannot read wasm file `{}`: {e}", path.display()))
}

#[cfg(not(feature = "std"))]
fn read_file(path: &str) -> Result<Vec<u8>, Error> {
    anyhow::bail!(
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
        _ => anyhow::bail!("module `{name}` is neither a wasm binary nor wasm text"),
    }
    let text = core::str::from_utf8(bytes)
        .map_err(|e| anyhow::anyhow!("module `{name}` is not valid UTF-8 text: {e}"))?;
    wat::parse_str(text).map_err(|e| anyhow::anyhow!("module `{name}` is not valid wasm text: {e}"))
}

#[cfg(not(feature = "std"))]
fn wat_to_binary(_bytes: &[u8], name: &str) -> Result<Vec<u8>, Error> {
    anyhow::bail!("module `{name}` is not a wasm binary (wasm text needs the `std` feature)")
}
