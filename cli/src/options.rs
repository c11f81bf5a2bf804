//! Loading a plug-in from a file (wasm binary, wasm text or manifest) and applying
//! the command-line limits and permissions to it.

use crate::exit::CliError;
use crate::inspect::{self, ImportStatus, ModuleInfo};
use interplug::{
    sources::{self, SourceKind},
    CompiledPlugin, ErrorExt, Function, Manifest, Plugin, PluginBuilder, UserData, Val, ValType,
    Wasm,
};
use std::path::{Path, PathBuf};

/// Reads a plug-in file: a wasm binary or wasm text becomes a one-module manifest;
/// a JSON or TOML manifest is parsed, and its relative `path` entries are resolved
/// against the manifest's directory. With `force_manifest` the file must be a
/// manifest.
pub fn load_manifest(path: &Path, force_manifest: bool) -> Result<Manifest, CliError> {
    let bytes = std::fs::read(path)
        .map_err(|e| CliError::load(format!("cannot read `{}`: {e}", path.display())))?;
    let kind = sources::detect(&bytes)
        .map_err(|e| CliError::load(format!("`{}`: {e}", path.display())))?;
    let manifest = match kind {
        SourceKind::WasmBinary | SourceKind::WasmText if force_manifest => {
            return Err(CliError::load(format!(
                "`{}` is a wasm module, not a manifest: drop --manifest",
                path.display()
            )))
        }
        SourceKind::WasmBinary | SourceKind::WasmText => Manifest::new([Wasm::data(bytes)]),
        SourceKind::JsonManifest | SourceKind::TomlManifest => {
            let text = String::from_utf8(bytes).map_err(|e| {
                CliError::load(format!("manifest `{}` is not UTF-8: {e}", path.display()))
            })?;
            let parsed = if kind == SourceKind::JsonManifest {
                Manifest::from_json(&text)
            } else {
                Manifest::from_toml(&text)
            };
            let mut manifest = parsed.map_err(|e| {
                CliError::load(format!("invalid manifest `{}`: {e:#}", path.display()))
            })?;
            resolve_paths(&mut manifest, path.parent().unwrap_or(Path::new(".")));
            manifest
        }
    };
    Ok(manifest)
}

/// Makes relative module paths of a manifest relative to `base`, when the file is
/// there (otherwise the path is left as written, relative to the working directory).
fn resolve_paths(manifest: &mut Manifest, base: &Path) {
    for wasm in &mut manifest.wasm {
        if let Wasm::File { path, .. } = wasm {
            if path.is_relative() {
                let candidate = base.join(&*path);
                if candidate.exists() {
                    *path = candidate;
                }
            }
        }
    }
}

/// Limits and permissions given on the command line; each one overrides the
/// manifest's value.
#[derive(Debug, Clone, Default)]
pub struct PluginOptions {
    /// Turn WASI preview 1 on.
    pub wasi: bool,
    /// Config keys to set.
    pub config: Vec<(String, String)>,
    /// Host patterns `http_request` may reach.
    pub allowed_hosts: Vec<String>,
    /// WASI directories: host path (`ro:` prefix for read-only), guest path.
    pub allowed_paths: Vec<(String, String)>,
    /// Wall-clock limit of one call, in milliseconds.
    pub timeout_ms: Option<u64>,
    /// Memory budget in 64 KiB pages.
    pub memory_max_pages: Option<u32>,
    /// Fuel for each call.
    pub fuel: Option<u64>,
    /// Cap on the total size of vars, in bytes.
    pub var_max_bytes: Option<u64>,
    /// Cap on an HTTP response body, in bytes.
    pub http_response_max_bytes: Option<u64>,
    /// Let the plug-in read HTTP response headers.
    pub http_response_headers: bool,
    /// Replace host functions nobody provides by stubs returning zeros.
    pub stub_host_functions: bool,
}

impl PluginOptions {
    /// Writes the options into the manifest.
    pub fn apply(&self, manifest: &mut Manifest) {
        for (key, value) in &self.config {
            manifest.config.insert(key.clone(), value.clone());
        }
        if !self.allowed_hosts.is_empty() {
            manifest
                .allowed_hosts
                .get_or_insert_with(Vec::new)
                .extend(self.allowed_hosts.iter().cloned());
        }
        if !self.allowed_paths.is_empty() {
            let paths = manifest.allowed_paths.get_or_insert_with(Default::default);
            for (host, guest) in &self.allowed_paths {
                paths.insert(host.clone(), PathBuf::from(guest));
            }
        }
        if let Some(timeout) = self.timeout_ms {
            manifest.timeout_ms = Some(timeout);
        }
        if let Some(pages) = self.memory_max_pages {
            manifest.memory.max_pages = Some(pages);
        }
        if let Some(bytes) = self.var_max_bytes {
            manifest.memory.max_var_bytes = Some(bytes);
        }
        if let Some(bytes) = self.http_response_max_bytes {
            manifest.memory.max_http_response_bytes = Some(bytes);
        }
    }

    /// Compiles the plug-in with these options and the given host functions. With
    /// `stub_host_functions`, imports no function provides get stubs.
    pub fn compile(
        &self,
        manifest: &Manifest,
        functions: Vec<Function>,
    ) -> Result<CompiledPlugin, CliError> {
        // Built for wasm (wasm32-wasip1), interplug has no WASI for plug-ins: wasmi_wasi
        // does not build there (see the platform table in docs/platforms.md).
        if cfg!(target_family = "wasm") && self.wasi {
            return Err(CliError::load(
                "this build of interplug runs inside wasm and has no WASI for plug-ins: \
                 drop --wasi, or use a native build of interplug"
                    .to_string(),
            ));
        }
        let mut manifest = manifest.clone();
        self.apply(&mut manifest);
        let mut functions = functions;
        if self.stub_host_functions {
            let modules = load_modules(&manifest)?;
            functions.extend(stub_functions(&modules, &functions));
        }
        let provided: Vec<(String, String)> = functions
            .iter()
            .map(|f| (f.module().to_string(), f.name().to_string()))
            .collect();
        let mut builder = PluginBuilder::new(manifest.clone())
            .with_wasi(self.wasi)
            .with_http_response_headers(self.http_response_headers)
            .with_functions(functions);
        if let Some(fuel) = self.fuel {
            builder = builder.with_fuel_limit(fuel);
        }
        builder.compile().map_err(|e| {
            let hints = load_modules(&manifest)
                .map(|modules| hints(&modules, self, &provided))
                .unwrap_or_default();
            CliError::load(format!("cannot load the plug-in: {e:#}{hints}"))
        })
    }
}

/// Instantiates a compiled plug-in at once (not at its first call); a failure is a
/// load error (exit code 3).
pub fn instantiate(compiled: &CompiledPlugin) -> Result<Plugin, CliError> {
    let instantiated = Plugin::new_from_compiled(compiled).and_then(|mut plugin| {
        plugin.instantiate()?;
        Ok(plugin)
    });
    instantiated.map_err(|e| {
        let text = format!("{e:#}");
        let hint = if e.kind() == interplug::ErrorKind::OutOfMemory {
            "\nhint: the memory budget is too small for the plug-in's memory: raise --memory-max \
             (or memory.max_pages in the manifest)"
        } else {
            ""
        };
        CliError::load(format!("cannot instantiate the plug-in: {text}{hint}"))
    })
}

/// Loads and parses every module of a manifest: `(name, structure)` pairs.
pub fn load_modules(manifest: &Manifest) -> Result<Vec<(String, ModuleInfo)>, CliError> {
    let loaded = sources::load_modules(manifest)
        .map_err(|e| CliError::load(format!("cannot load the plug-in's modules: {e:#}")))?;
    loaded
        .into_iter()
        .map(|module| {
            ModuleInfo::parse(&module.bytes)
                .map(|info| (module.name.clone(), info))
                .map_err(|e| CliError::load(format!("module `{}`: {e}", module.name)))
        })
        .collect()
}

/// Advice appended to a load error, from what the modules import.
fn hints(
    modules: &[(String, ModuleInfo)],
    options: &PluginOptions,
    provided: &[(String, String)],
) -> String {
    let mut hints = String::new();
    if !options.wasi && modules.iter().any(|(_, m)| m.uses_wasi()) {
        hints.push_str("\nhint: the plug-in imports WASI (wasi_snapshot_preview1): pass --wasi");
    }
    let needed: Vec<String> = inspect::host_function_imports(modules)
        .iter()
        .filter(|(_, i)| !provided.iter().any(|(m, n)| *m == i.module && *n == i.name))
        .map(|(_, i)| format!("{}.{}", i.module, i.name))
        .collect();
    if !needed.is_empty() && !options.stub_host_functions {
        let names = needed;
        hints.push_str(&format!(
            "\nhint: the plug-in needs host functions ({}); pass --stub-host-functions to \
             replace them by stubs returning 0, or use `interplug test --host MOCK.wasm`",
            names.join(", ")
        ));
    }
    if let Some(max) = options.memory_max_pages {
        let initial: u64 = modules.iter().map(|(_, m)| m.initial_pages()).sum();
        if initial > u64::from(max) {
            hints.push_str(&format!(
                "\nhint: the modules' memories start at {initial} pages, more than --memory-max \
                 {max}"
            ));
        }
    }
    hints
}

/// Stub host functions for every import that needs one and is not among
/// `provided`: each returns zeros of its result types.
pub fn stub_functions(modules: &[(String, ModuleInfo)], provided: &[Function]) -> Vec<Function> {
    let mut stubs = Vec::new();
    for (importer, import) in inspect::host_function_imports(modules) {
        let Some(signature) = import.kind.signature() else {
            continue;
        };
        if provided
            .iter()
            .any(|f| f.module() == import.module && f.name() == import.name)
        {
            continue;
        }
        if ImportStatus::HostFunction != ImportStatus::of(&importer, &import, modules, false) {
            continue;
        }
        log::info!(
            target: "interplug",
            "stubbing host function {}.{} {signature}: it returns zeros",
            import.module,
            import.name
        );
        let results = signature.results.clone();
        let label = format!("{}.{}", import.module, import.name);
        let function = Function::new(
            import.name.clone(),
            signature.params.clone(),
            signature.results.clone(),
            UserData::<()>::default(),
            move |_plugin, _inputs, outputs, _data| {
                log::debug!(target: "interplug", "stub {label} called");
                for (slot, ty) in outputs.iter_mut().zip(&results) {
                    *slot = zero(*ty);
                }
                Ok(())
            },
        )
        .with_namespace(import.module.clone());
        stubs.push(function);
    }
    stubs
}

/// The zero value of a type.
pub fn zero(ty: ValType) -> Val {
    match ty {
        ValType::I32 => Val::I32(0),
        ValType::I64 => Val::I64(0),
        ValType::F32 => Val::F32(0),
        ValType::F64 => Val::F64(0),
        ValType::V128 | ValType::FuncRef | ValType::ExternRef => Val::NullRef,
    }
}

/// Parses `key=value` (the value may contain `=`).
pub fn parse_key_value(text: &str) -> Result<(String, String), String> {
    match text.split_once('=') {
        Some((key, value)) if !key.is_empty() => Ok((key.to_string(), value.to_string())),
        _ => Err(format!("expected KEY=VALUE, got `{text}`")),
    }
}

/// Parses `host:guest` for `--allow-path`: split at the last `:` so a `ro:` prefix
/// stays with the host path; a path without `:` is mounted at the same path.
pub fn parse_path_mapping(text: &str) -> Result<(String, String), String> {
    if text.is_empty() {
        return Err(String::from(
            "expected HOST_DIR:GUEST_DIR, got an empty string",
        ));
    }
    match text.rsplit_once(':') {
        Some((host, guest)) if !host.is_empty() && !guest.is_empty() && host != "ro" => {
            Ok((host.to_string(), guest.to_string()))
        }
        Some(("ro", path)) if !path.is_empty() => Ok((format!("ro:{path}"), path.to_string())),
        None => Ok((text.to_string(), text.to_string())),
        _ => Err(format!("expected HOST_DIR:GUEST_DIR, got `{text}`")),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn key_values() {
        assert_eq!(
            parse_key_value("a=b=c"),
            Ok(("a".to_string(), "b=c".to_string()))
        );
        assert_eq!(parse_key_value("a="), Ok(("a".to_string(), String::new())));
        assert!(parse_key_value("=b").is_err());
        assert!(parse_key_value("nokey").is_err());
    }

    #[test]
    fn path_mappings() {
        let pair = |a: &str, b: &str| Ok((a.to_string(), b.to_string()));
        assert_eq!(parse_path_mapping("/tmp:/data"), pair("/tmp", "/data"));
        assert_eq!(
            parse_path_mapping("ro:/tmp:/data"),
            pair("ro:/tmp", "/data")
        );
        assert_eq!(parse_path_mapping("/tmp"), pair("/tmp", "/tmp"));
        assert_eq!(parse_path_mapping("ro:/tmp"), pair("ro:/tmp", "/tmp"));
        assert!(parse_path_mapping("").is_err());
        assert!(parse_path_mapping("/tmp:").is_err());
    }
}
