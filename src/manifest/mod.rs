//! The manifest: which wasm modules make a plug-in, and what it is allowed to do.
//!
//! The JSON shape is the one of Extism 1.x manifests. Unknown fields are rejected
//! with an error naming them, so a typo never silently drops a permission or limit.
//!
//! The types and builders have the shape of the `extism-manifest` crate: a manifest
//! written for `extism` builds unchanged.
//!
//! # Examples
//!
//! ```
//! use interplug::{Manifest, MemoryOptions, Wasm};
//! let manifest = Manifest::new([Wasm::file("spec-tests/fixtures/count_vowels.wasm")])
//!     .with_config_key("vowels", "aeiou")
//!     .with_memory_options(MemoryOptions::new().with_max_pages(64))
//!     .with_timeout(std::time::Duration::from_secs(2));
//! let json = manifest.to_json();
//! assert_eq!(Manifest::from_json(&json)?, manifest);
//! # Ok::<(), interplug::Error>(())
//! ```

pub(crate) mod input;

pub use input::WasmInput;

use alloc::{collections::BTreeMap, format, string::String, vec::Vec};
use base64::Engine as _;
use serde::{Deserialize, Serialize};

/// A path on the host: a `PathBuf` with `std`, text without (as in `extism-manifest`,
/// whose paths are `PathBuf`s).
#[cfg(feature = "std")]
pub type HostPath = std::path::PathBuf;
/// A path on the host: a `PathBuf` with `std`, text without (as in `extism-manifest`,
/// whose paths are `PathBuf`s).
#[cfg(not(feature = "std"))]
pub type HostPath = String;

/// The old name of [`MemoryOptions`] (kept by `extism-manifest`).
pub type ManifestMemory = MemoryOptions;

/// The old name of [`Wasm`] (kept, deprecated, by `extism-manifest`).
#[deprecated(note = "use `Wasm`")]
pub type ManifestWasm = Wasm;

/// Limits on the memory a plug-in may use.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct MemoryOptions {
    /// One budget, in 64 KiB pages, for the plug-in's linear memories and its Extism
    /// memory together. `None`: no budget beyond the engine's limits.
    #[serde(default, alias = "max", skip_serializing_if = "Option::is_none")]
    pub max_pages: Option<u32>,
    /// Largest HTTP response body a plug-in may receive (default 50 MiB).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub max_http_response_bytes: Option<u64>,
    /// Largest total size of the plug-in's vars (default 1 MiB; 0 disables vars): keys,
    /// values and 128 bytes per var for the host's bookkeeping
    /// ([`VAR_ENTRY_OVERHEAD`](crate::VAR_ENTRY_OVERHEAD)).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub max_var_bytes: Option<u64>,
}

impl MemoryOptions {
    /// No limits beyond the defaults.
    pub fn new() -> Self {
        MemoryOptions::default()
    }

    /// Sets the memory budget in 64 KiB pages.
    pub fn with_max_pages(mut self, pages: u32) -> Self {
        self.max_pages = Some(pages);
        self
    }

    /// Sets the largest HTTP response body a plug-in may receive.
    pub fn with_max_http_response_bytes(mut self, bytes: u64) -> Self {
        self.max_http_response_bytes = Some(bytes);
        self
    }

    /// Sets the largest total size of the plug-in's vars (0 disables vars).
    pub fn with_max_var_bytes(mut self, bytes: u64) -> Self {
        self.max_var_bytes = Some(bytes);
        self
    }
}

/// An HTTP request that fetches a wasm module (also the `http_request` shape).
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct HttpRequest {
    /// The URL.
    pub url: String,
    /// Request headers.
    #[serde(default)]
    pub headers: BTreeMap<String, String>,
    /// HTTP method; GET when absent.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub method: Option<String>,
}

impl HttpRequest {
    /// A GET request for `url`.
    pub fn new(url: impl Into<String>) -> Self {
        HttpRequest {
            url: url.into(),
            headers: BTreeMap::new(),
            method: None,
        }
    }

    /// Sets a header.
    pub fn with_header(mut self, key: impl Into<String>, value: impl Into<String>) -> Self {
        self.headers.insert(key.into(), value.into());
        self
    }

    /// Sets the method.
    pub fn with_method(mut self, method: impl Into<String>) -> Self {
        self.method = Some(method.into());
        self
    }
}

/// Name and expected hash of a wasm module.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct WasmMetadata {
    /// Module name other modules import it by; `main` holds the plug-in functions.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub name: Option<String>,
    /// Lowercase hex SHA-256 of the module bytes; checked when present.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub hash: Option<String>,
}

/// Where a wasm module comes from.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(try_from = "RawWasm", into = "RawWasm")]
pub enum Wasm {
    /// A file on the host (needs the `std` feature to be read).
    File {
        /// Path of the `.wasm` (or `.wat`) file.
        path: HostPath,
        /// Name and hash.
        meta: WasmMetadata,
    },
    /// Bytes given inline (base64 in JSON).
    Data {
        /// The module bytes: wasm binary or text.
        data: Vec<u8>,
        /// Name and hash.
        meta: WasmMetadata,
    },
    /// A module fetched over HTTP (needs the `http` feature).
    Url {
        /// The request that fetches it.
        req: HttpRequest,
        /// Name and hash.
        meta: WasmMetadata,
    },
}

impl Wasm {
    /// A module read from a file (any `AsRef<Path>`: `&str`, `String`, `PathBuf`...).
    ///
    /// # Examples
    ///
    /// ```
    /// use interplug::Wasm;
    /// let dir = std::path::Path::new("spec-tests/fixtures");
    /// let wasm = Wasm::file(dir.join("count_vowels.wasm")).with_name("main");
    /// assert_eq!(wasm.meta().name.as_deref(), Some("main"));
    /// ```
    #[cfg(feature = "std")]
    pub fn file(path: impl AsRef<std::path::Path>) -> Self {
        Wasm::File {
            path: path.as_ref().to_path_buf(),
            meta: WasmMetadata::default(),
        }
    }

    /// A module read from a file (reading files needs the `std` feature).
    #[cfg(not(feature = "std"))]
    pub fn file(path: impl AsRef<str>) -> Self {
        Wasm::File {
            path: String::from(path.as_ref()),
            meta: WasmMetadata::default(),
        }
    }

    /// A module fetched with this HTTP request (needs the `http` feature).
    pub fn http(req: impl Into<HttpRequest>) -> Self {
        Wasm::Url {
            req: req.into(),
            meta: WasmMetadata::default(),
        }
    }

    /// A module given as bytes.
    pub fn data(data: impl Into<Vec<u8>>) -> Self {
        Wasm::Data {
            data: data.into(),
            meta: WasmMetadata::default(),
        }
    }

    /// A module fetched from a URL with GET.
    pub fn url(url: impl Into<String>) -> Self {
        Wasm::Url {
            req: HttpRequest::new(url),
            meta: WasmMetadata::default(),
        }
    }

    /// Name and hash of this module.
    pub fn meta(&self) -> &WasmMetadata {
        match self {
            Wasm::File { meta, .. } | Wasm::Data { meta, .. } | Wasm::Url { meta, .. } => meta,
        }
    }

    /// Name and hash of this module, writable.
    pub fn meta_mut(&mut self) -> &mut WasmMetadata {
        match self {
            Wasm::File { meta, .. } | Wasm::Data { meta, .. } | Wasm::Url { meta, .. } => meta,
        }
    }

    /// Sets the module name.
    pub fn with_name(mut self, name: impl Into<String>) -> Self {
        self.meta_mut().name = Some(name.into());
        self
    }

    /// Sets the expected SHA-256 (lowercase hex).
    pub fn with_hash(mut self, hash: impl Into<String>) -> Self {
        self.meta_mut().hash = Some(hash.into());
        self
    }
}

impl From<Vec<u8>> for Wasm {
    fn from(data: Vec<u8>) -> Self {
        Wasm::data(data)
    }
}

impl From<HttpRequest> for Wasm {
    fn from(req: HttpRequest) -> Self {
        Wasm::http(req)
    }
}

#[cfg(feature = "std")]
impl From<std::path::PathBuf> for Wasm {
    fn from(path: std::path::PathBuf) -> Self {
        Wasm::File {
            path,
            meta: WasmMetadata::default(),
        }
    }
}

impl From<&[u8]> for Wasm {
    fn from(data: &[u8]) -> Self {
        Wasm::data(data.to_vec())
    }
}

/// Every field a `wasm` entry may have; turned into [`Wasm`] after checking which
/// combination was given.
#[derive(Serialize, Deserialize, Default)]
#[serde(deny_unknown_fields)]
struct RawWasm {
    #[serde(default, skip_serializing_if = "Option::is_none")]
    path: Option<HostPath>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    data: Option<RawData>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    url: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    headers: Option<BTreeMap<String, String>>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    method: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    name: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    hash: Option<String>,
}

/// `data` is base64 text, or a `{ptr, len}` pair that only the C API can honour.
#[derive(Serialize, Deserialize)]
#[serde(untagged)]
enum RawData {
    Base64(String),
    Pointer { ptr: u64, len: u64 },
}

impl TryFrom<RawWasm> for Wasm {
    type Error = String;

    fn try_from(raw: RawWasm) -> Result<Self, Self::Error> {
        let meta = WasmMetadata {
            name: raw.name,
            hash: raw.hash,
        };
        let http_fields = raw.headers.is_some() || raw.method.is_some();
        match (raw.path, raw.data, raw.url) {
            (Some(path), None, None) if !http_fields => Ok(Wasm::File { path, meta }),
            (None, Some(data), None) if !http_fields => {
                let data = match data {
                    RawData::Base64(text) => base64::engine::general_purpose::STANDARD
                        .decode(text.as_bytes())
                        .map_err(|e| format!("wasm `data` is not valid base64: {e}"))?,
                    RawData::Pointer { ptr, len } => {
                        return Err(format!(
                        "wasm `data` given as a host pointer ({{\"ptr\": {ptr}, \"len\": {len}}}) \
                             is not supported; give the module bytes as base64 or a path"
                    ))
                    }
                };
                Ok(Wasm::Data { data, meta })
            }
            (None, None, Some(url)) => Ok(Wasm::Url {
                req: HttpRequest {
                    url,
                    headers: raw.headers.unwrap_or_default(),
                    method: raw.method,
                },
                meta,
            }),
            (None, None, None) => Err(String::from(
                "a wasm entry needs one of `path`, `data` or `url`",
            )),
            (path, data, url)
                if path.is_some() as u8 + data.is_some() as u8 + url.is_some() as u8 > 1 =>
            {
                Err(String::from(
                    "a wasm entry takes only one of `path`, `data` or `url`",
                ))
            }
            _ => Err(String::from(
                "`headers` and `method` are only allowed in a wasm entry with `url`",
            )),
        }
    }
}

impl From<Wasm> for RawWasm {
    fn from(wasm: Wasm) -> Self {
        match wasm {
            Wasm::File { path, meta } => RawWasm {
                path: Some(path),
                name: meta.name,
                hash: meta.hash,
                ..RawWasm::default()
            },
            Wasm::Data { data, meta } => RawWasm {
                data: Some(RawData::Base64(
                    base64::engine::general_purpose::STANDARD.encode(data),
                )),
                name: meta.name,
                hash: meta.hash,
                ..RawWasm::default()
            },
            Wasm::Url { req, meta } => RawWasm {
                url: Some(req.url),
                headers: Some(req.headers),
                method: req.method,
                name: meta.name,
                hash: meta.hash,
                ..RawWasm::default()
            },
        }
    }
}

/// A plug-in description: modules, limits, configuration and permissions.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Manifest {
    /// The modules; one is `main`.
    #[serde(default)]
    pub wasm: Vec<Wasm>,
    /// Memory limits.
    #[serde(default)]
    pub memory: MemoryOptions,
    /// Configuration the plug-in reads with `config_get`.
    #[serde(default)]
    pub config: BTreeMap<String, String>,
    /// Host glob patterns HTTP requests may go to; absent or empty: no HTTP.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub allowed_hosts: Option<Vec<String>>,
    /// Host directory (prefix `ro:` for read-only) -> guest path, for WASI.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub allowed_paths: Option<BTreeMap<String, HostPath>>,
    /// Wall-clock limit of one call, in milliseconds.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub timeout_ms: Option<u64>,
}

impl Manifest {
    /// A manifest made of these modules.
    pub fn new(wasm: impl IntoIterator<Item = impl Into<Wasm>>) -> Self {
        Manifest {
            wasm: wasm.into_iter().map(Into::into).collect(),
            ..Manifest::default()
        }
    }

    /// Parses a JSON manifest.
    ///
    /// # Errors
    ///
    /// [`ErrorKind::Invalid`](crate::ErrorKind::Invalid) when the text is not JSON, has
    /// a field of the wrong type, or has an unknown field (named in the message).
    pub fn from_json(text: &str) -> Result<Self, crate::Error> {
        serde_json::from_str(text)
            .map_err(|e| crate::error::fail!(Invalid, "invalid JSON manifest: {e}"))
    }

    /// Parses a TOML manifest.
    ///
    /// # Errors
    ///
    /// [`ErrorKind::Invalid`](crate::ErrorKind::Invalid), as [`Manifest::from_json`].
    #[cfg(feature = "std")]
    pub fn from_toml(text: &str) -> Result<Self, crate::Error> {
        toml::from_str(text).map_err(|e| crate::error::fail!(Invalid, "invalid TOML manifest: {e}"))
    }

    /// The manifest as JSON.
    pub fn to_json(&self) -> String {
        // Serialising these plain types cannot fail.
        serde_json::to_string(self).unwrap_or_default()
    }

    /// Adds a module.
    pub fn with_wasm(mut self, wasm: impl Into<Wasm>) -> Self {
        self.wasm.push(wasm.into());
        self
    }

    /// Sets the memory budget in 64 KiB pages.
    pub fn with_memory_max(mut self, max_pages: u32) -> Self {
        self.memory.max_pages = Some(max_pages);
        self
    }

    /// Replaces all memory options.
    pub fn with_memory_options(mut self, memory: MemoryOptions) -> Self {
        self.memory = memory;
        self
    }

    /// Allows HTTP requests to hosts matching `pattern`.
    pub fn with_allowed_host(mut self, pattern: impl Into<String>) -> Self {
        self.allowed_hosts
            .get_or_insert_with(Vec::new)
            .push(pattern.into());
        self
    }

    /// Allows HTTP requests to hosts matching any of `patterns`.
    pub fn with_allowed_hosts(mut self, patterns: impl Iterator<Item = String>) -> Self {
        self.allowed_hosts
            .get_or_insert_with(Vec::new)
            .extend(patterns);
        self
    }

    /// Forbids all HTTP requests.
    pub fn disallow_all_hosts(mut self) -> Self {
        self.allowed_hosts = Some(Vec::new());
        self
    }

    /// Maps host directory `host` (prefix `ro:` for read-only) to `guest` for WASI.
    #[cfg(feature = "std")]
    pub fn with_allowed_path(
        mut self,
        host: impl Into<String>,
        guest: impl AsRef<std::path::Path>,
    ) -> Self {
        self.allowed_paths
            .get_or_insert_with(BTreeMap::new)
            .insert(host.into(), guest.as_ref().to_path_buf());
        self
    }

    /// Maps host directory `host` (prefix `ro:` for read-only) to `guest` for WASI.
    #[cfg(not(feature = "std"))]
    pub fn with_allowed_path(mut self, host: impl Into<String>, guest: impl AsRef<str>) -> Self {
        self.allowed_paths
            .get_or_insert_with(BTreeMap::new)
            .insert(host.into(), String::from(guest.as_ref()));
        self
    }

    /// Replaces the WASI directory mappings (host directory -> guest path).
    pub fn with_allowed_paths(mut self, paths: impl Iterator<Item = (String, HostPath)>) -> Self {
        self.allowed_paths = Some(paths.collect());
        self
    }

    /// Sets one config key.
    pub fn with_config_key(mut self, key: impl Into<String>, value: impl Into<String>) -> Self {
        self.config.insert(key.into(), value.into());
        self
    }

    /// Sets several config keys.
    pub fn with_config(
        mut self,
        pairs: impl Iterator<Item = (impl Into<String>, impl Into<String>)>,
    ) -> Self {
        for (key, value) in pairs {
            self.config.insert(key.into(), value.into());
        }
        self
    }

    /// Sets the per-call timeout.
    pub fn with_timeout(mut self, timeout: core::time::Duration) -> Self {
        self.timeout_ms = Some(u64::try_from(timeout.as_millis()).unwrap_or(u64::MAX));
        self
    }
}

/// The manifest as JSON bytes (the `extism-manifest` crate offers this conversion).
impl From<Manifest> for alloc::borrow::Cow<'_, [u8]> {
    fn from(manifest: Manifest) -> Self {
        alloc::borrow::Cow::Owned(manifest.to_json().into_bytes())
    }
}

/// The manifest as JSON bytes.
impl From<&Manifest> for alloc::borrow::Cow<'_, [u8]> {
    fn from(manifest: &Manifest) -> Self {
        alloc::borrow::Cow::Owned(manifest.to_json().into_bytes())
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    #[test]
    fn parses_the_spec_example() {
        let text = r#"{
          "wasm": [ {"path": "plugin.wasm", "name": "main", "hash": "ab"},
                    {"data": "AGFzbQEAAAA=" },
                    {"url": "https://example.com/x.wasm", "headers": {"a": "b"}, "method": "GET"} ],
          "memory": {"max_pages": 16, "max_http_response_bytes": 1048576, "max_var_bytes": 1048576},
          "config": {"key": "value"},
          "allowed_hosts": ["*.example.com", "api.service.io"],
          "allowed_paths": {"/host/dir": "/guest/dir", "ro:/host/other": "/guest/ro"},
          "timeout_ms": 1000
        }"#;
        let manifest = Manifest::from_json(text).expect("valid manifest");
        assert_eq!(manifest.wasm.len(), 3);
        assert_eq!(
            manifest.wasm[0],
            Wasm::file("plugin.wasm").with_name("main").with_hash("ab")
        );
        assert_eq!(manifest.wasm[1], Wasm::data(b"\0asm\x01\0\0\0".to_vec()));
        assert_eq!(manifest.memory.max_pages, Some(16));
        assert_eq!(manifest.timeout_ms, Some(1000));
        assert_eq!(manifest.config["key"], "value");
    }

    #[test]
    fn unknown_fields_are_named() {
        let err = Manifest::from_json(r#"{"wasm": [], "timeout": 5}"#).unwrap_err();
        assert!(err.to_string().contains("timeout"), "{err}");
        let err = Manifest::from_json(r#"{"wasm": [{"path": "a", "nmae": "x"}]}"#).unwrap_err();
        assert!(err.to_string().contains("nmae"), "{err}");
        let err = Manifest::from_json(r#"{"memory": {"max_pgs": 1}}"#).unwrap_err();
        assert!(err.to_string().contains("max_pgs"), "{err}");
    }

    #[test]
    fn bad_wasm_entries_are_explained() {
        for (text, needle) in [
            (r#"{"wasm": [{}]}"#, "one of"),
            (r#"{"wasm": [{"path": "a", "data": "AA=="}]}"#, "only one"),
            (r#"{"wasm": [{"data": "!!"}]}"#, "base64"),
            (r#"{"wasm": [{"data": {"ptr": 1, "len": 2}}]}"#, "pointer"),
            (r#"{"wasm": [{"path": "a", "method": "GET"}]}"#, "url"),
        ] {
            let err = Manifest::from_json(text).unwrap_err().to_string();
            assert!(err.contains(needle), "{text}: {err}");
        }
    }

    #[test]
    fn toml_manifest() {
        let manifest = Manifest::from_toml(
            "timeout_ms = 5\n[[wasm]]\npath = \"a.wasm\"\n[config]\nk = \"v\"\n",
        )
        .expect("valid toml");
        assert_eq!(manifest.wasm, [Wasm::file("a.wasm")]);
        assert_eq!(manifest.config["k"], "v");
        assert!(Manifest::from_toml("bogus = 1").is_err());
    }

    fn wasm_entry() -> impl Strategy<Value = Wasm> {
        let meta = (
            proptest::option::of("[a-z]{1,8}"),
            proptest::option::of("[0-9a-f]{64}"),
        );
        prop_oneof![
            ("[ -~]{0,20}", meta.clone()).prop_map(|(p, (name, hash))| Wasm::File {
                path: p.into(),
                meta: WasmMetadata { name, hash }
            }),
            (proptest::collection::vec(any::<u8>(), 0..64), meta.clone()).prop_map(
                |(d, (name, hash))| Wasm::Data {
                    data: d,
                    meta: WasmMetadata { name, hash }
                }
            ),
            ("[ -~]{1,20}", proptest::option::of("[A-Z]{3,6}"), meta).prop_map(
                |(u, m, (name, hash))| Wasm::Url {
                    req: HttpRequest {
                        url: u,
                        headers: BTreeMap::new(),
                        method: m
                    },
                    meta: WasmMetadata { name, hash }
                }
            ),
        ]
    }

    fn manifest() -> impl Strategy<Value = Manifest> {
        (
            proptest::collection::vec(wasm_entry(), 0..4),
            proptest::option::of(any::<u32>()),
            proptest::option::of(any::<u64>()),
            proptest::collection::btree_map("[a-z]{1,6}", "\\PC{0,10}", 0..4),
            proptest::option::of(proptest::collection::vec("[a-z.*]{1,10}", 0..3)),
            proptest::option::of(proptest::collection::btree_map(
                "(ro:)?/[a-z]{1,6}",
                "/[a-z]{1,6}",
                0..3,
            )),
            proptest::option::of(any::<u64>()),
        )
            .prop_map(
                |(wasm, pages, vars, config, hosts, paths, timeout)| Manifest {
                    wasm,
                    memory: MemoryOptions {
                        max_pages: pages,
                        max_http_response_bytes: None,
                        max_var_bytes: vars,
                    },
                    config,
                    allowed_hosts: hosts,
                    allowed_paths: paths
                        .map(|paths| paths.into_iter().map(|(h, g)| (h, g.into())).collect()),
                    timeout_ms: timeout,
                },
            )
    }

    proptest! {
        #[test]
        fn json_round_trip(manifest in manifest()) {
            let text = manifest.to_json();
            let back = Manifest::from_json(&text).expect("own output parses");
            prop_assert_eq!(back, manifest);
        }

        #[test]
        fn toml_round_trip(manifest in manifest()) {
            // TOML has no u64 beyond i64::MAX; skip those.
            prop_assume!(manifest.timeout_ms.is_none_or(|t| t <= i64::MAX as u64));
            prop_assume!(manifest.memory.max_var_bytes.is_none_or(|t| t <= i64::MAX as u64));
            let text = toml::to_string(&manifest).expect("serialises to toml");
            let back = Manifest::from_toml(&text).expect("own output parses");
            prop_assert_eq!(back, manifest);
        }

        #[test]
        fn arbitrary_text_never_panics(text in "\\PC{0,200}") {
            let _ = Manifest::from_json(&text);
            let _ = Manifest::from_toml(&text);
        }

        #[test]
        fn arbitrary_json_values_never_panic(
            keys in proptest::collection::vec("[a-z_]{1,12}", 0..6),
            numbers in proptest::collection::vec(any::<i64>(), 0..6),
        ) {
            let mut object = serde_json::Map::new();
            for (k, n) in keys.iter().zip(numbers.iter().chain(core::iter::repeat(&0))) {
                object.insert(k.clone(), serde_json::Value::from(*n));
            }
            let text = serde_json::Value::Object(object).to_string();
            if let Err(e) = Manifest::from_json(&text) {
                prop_assert!(!e.to_string().is_empty());
            }
        }
    }
}
