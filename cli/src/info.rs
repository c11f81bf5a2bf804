//! `interplug info`: what a plug-in exports and imports, whether interplug can run
//! it, its memory and sizes, and warnings; as text or JSON.

use crate::inspect::{ImportStatus, ItemKind, ModuleInfo};
use interplug::Manifest;
use serde_json::{json, Value};
use std::collections::BTreeMap;
use std::fmt::Write as _;

/// Bytes in a wasm page.
const PAGE: u64 = 65_536;

/// Everything `info` reports about a plug-in.
#[derive(Debug, Clone)]
pub struct InfoReport {
    /// The file it was read from.
    pub file: String,
    /// The manifest (a wasm file becomes a one-module manifest).
    pub manifest: Manifest,
    /// Whether the file was a manifest.
    pub is_manifest: bool,
    /// Each module with its name.
    pub modules: Vec<(String, ModuleInfo)>,
    /// Whether WASI is assumed on.
    pub wasi: bool,
}

impl InfoReport {
    /// The plug-in functions of the `main` module.
    pub fn plugin_functions(&self) -> Vec<&str> {
        self.main()
            .map(|m| m.plugin_functions())
            .unwrap_or_default()
    }

    /// The `main` module.
    pub fn main(&self) -> Option<&ModuleInfo> {
        self.modules
            .iter()
            .find(|(name, _)| name == "main")
            .map(|(_, m)| m)
    }

    /// Every import of every module with its status: `(module name, import, status)`.
    pub fn imports(&self) -> Vec<(&str, &crate::inspect::Import, ImportStatus)> {
        self.modules
            .iter()
            .flat_map(|(name, module)| {
                module.imports.iter().map(move |import| {
                    (
                        name.as_str(),
                        import,
                        ImportStatus::of(name, import, &self.modules, self.wasi),
                    )
                })
            })
            .collect()
    }

    /// Host functions the embedding program must provide, as `module.name`.
    pub fn host_functions_needed(&self) -> Vec<String> {
        let mut names: Vec<String> = self
            .imports()
            .into_iter()
            .filter(|(_, _, status)| *status == ImportStatus::HostFunction)
            .map(|(_, i, _)| format!("{}.{}", i.module, i.name))
            .collect();
        names.dedup();
        names
    }

    /// True when interplug satisfies every import by itself (kernel, WASI when on,
    /// other modules).
    pub fn imports_satisfied(&self) -> bool {
        self.imports().iter().all(|(_, _, s)| s.is_satisfied())
    }

    /// Initial pages of all memories of all modules.
    pub fn initial_pages(&self) -> u64 {
        self.modules.iter().map(|(_, m)| m.initial_pages()).sum()
    }

    /// Problems worth knowing before running the plug-in.
    pub fn warnings(&self) -> Vec<String> {
        let mut warnings = Vec::new();
        if !self.wasi && self.modules.iter().any(|(_, m)| m.uses_wasi()) {
            warnings.push(String::from(
                "the plug-in imports WASI (wasi_snapshot_preview1) but WASI is not enabled: \
                 run it with --wasi",
            ));
        }
        for (module, import, status) in self.imports() {
            match status {
                ImportStatus::UnknownKernel => warnings.push(format!(
                    "module `{module}` imports `{}` from extism:host/env, which is not an \
                     Extism kernel function: the plug-in cannot be loaded (built for a newer \
                     or different runtime?)",
                    import.name
                )),
                ImportStatus::Module { found: false } => warnings.push(format!(
                    "module `{module}` imports `{}` from module `{}`, which does not export it",
                    import.name, import.module
                )),
                _ => {}
            }
        }
        let needed = self.host_functions_needed();
        if !needed.is_empty() {
            warnings.push(format!(
                "the plug-in needs host functions: {} (the host program provides them; \
                 `interplug call` can stub them with --stub-host-functions)",
                needed.join(", ")
            ));
        }
        match self.main() {
            None => warnings.push(String::from("there is no `main` module")),
            Some(main) if main.plugin_functions().is_empty() => warnings.push(String::from(
                "the main module exports no plug-in functions (exports of type () -> i32)",
            )),
            _ => {}
        }
        if let Some(max) = self.manifest.memory.max_pages {
            let initial = self.initial_pages();
            if initial > u64::from(max) {
                warnings.push(format!(
                    "the memories start at {initial} pages but memory.max_pages is {max}: the \
                     plug-in cannot be instantiated"
                ));
            }
        }
        for (name, module) in &self.modules {
            if module.memories.iter().any(|m| m.memory64 || m.shared) {
                warnings.push(format!(
                    "module `{name}` has a 64-bit or shared memory, which interplug does not \
                     support"
                ));
            }
        }
        warnings
    }

    /// The report as a JSON value (for `--json`).
    pub fn to_json(&self) -> Value {
        let modules: Vec<Value> = self
            .modules
            .iter()
            .map(|(name, module)| module_json(name, module, &self.modules, self.wasi))
            .collect();
        let manifest = serde_json::to_value(&self.manifest)
            .map(strip_data)
            .unwrap_or(Value::Null);
        json!({
            "file": self.file,
            "is_manifest": self.is_manifest,
            "wasi": self.wasi,
            "plugin_functions": self.plugin_functions(),
            "imports_satisfied": self.imports_satisfied(),
            "host_functions_needed": self.host_functions_needed(),
            "needs_wasi": self.modules.iter().any(|(_, m)| m.uses_wasi()),
            "memory": {
                "initial_pages": self.initial_pages(),
                "initial_bytes": self.initial_pages() * PAGE,
                "max_pages": self.manifest.memory.max_pages,
            },
            "modules": modules,
            "manifest": if self.is_manifest { manifest } else { Value::Null },
            "warnings": self.warnings(),
        })
    }

    /// The report as text for people.
    pub fn to_text(&self) -> String {
        let mut out = String::new();
        let total: usize = self.modules.iter().map(|(_, m)| m.size).sum();
        let _ = writeln!(
            out,
            "{} ({}, {} module{}, {})",
            self.file,
            if self.is_manifest {
                "manifest"
            } else {
                "wasm module"
            },
            self.modules.len(),
            if self.modules.len() == 1 { "" } else { "s" },
            bytes(total as u64)
        );
        let functions = self.plugin_functions();
        let _ = writeln!(
            out,
            "plug-in functions: {}",
            if functions.is_empty() {
                String::from("(none)")
            } else {
                functions.join(", ")
            }
        );
        for (name, module) in &self.modules {
            self.module_text(&mut out, name, module);
        }
        let _ = writeln!(out);
        if self.imports_satisfied() {
            let _ = writeln!(out, "imports: all satisfied by interplug");
        } else {
            let mut counts: BTreeMap<&str, usize> = BTreeMap::new();
            for (_, _, status) in self.imports() {
                if !status.is_satisfied() {
                    *counts.entry(status.label()).or_default() += 1;
                }
            }
            let list: Vec<String> = counts.iter().map(|(l, n)| format!("{n} {l}")).collect();
            let _ = writeln!(
                out,
                "imports: not all satisfied by interplug: {}",
                list.join(", ")
            );
        }
        if self.is_manifest {
            self.manifest_text(&mut out);
        }
        let warnings = self.warnings();
        if !warnings.is_empty() {
            let _ = writeln!(out, "warnings:");
            for warning in warnings {
                let _ = writeln!(out, "  - {warning}");
            }
        }
        out
    }

    fn module_text(&self, out: &mut String, name: &str, module: &ModuleInfo) {
        let _ = writeln!(out);
        let _ = writeln!(
            out,
            "module `{name}`: {}, {} functions, code {}, data {}",
            bytes(module.size as u64),
            module.defined_functions,
            bytes(module.section_size("code") as u64),
            bytes(module.section_size("data") as u64),
        );
        for memory in &module.memories {
            let _ = writeln!(
                out,
                "  memory: {} pages initial ({}), {}",
                memory.initial,
                bytes(memory.initial * PAGE),
                match memory.maximum {
                    Some(max) => format!("maximum {max} pages"),
                    None => String::from("no maximum"),
                }
            );
        }
        let _ = writeln!(out, "  exports:");
        let width = module
            .exports
            .iter()
            .map(|e| e.name.len())
            .max()
            .unwrap_or(0);
        for export in &module.exports {
            let what = match &export.kind {
                ItemKind::Func(sig) if export.is_plugin_function() => {
                    format!("{sig}  plug-in function")
                }
                ItemKind::Func(sig) => sig.to_string(),
                other => other.kind_name().to_string(),
            };
            let _ = writeln!(out, "    {:<width$}  {what}", export.name);
        }
        let mut groups: BTreeMap<&str, Vec<&crate::inspect::Import>> = BTreeMap::new();
        for import in &module.imports {
            groups
                .entry(import.module.as_str())
                .or_default()
                .push(import);
        }
        if groups.is_empty() {
            let _ = writeln!(out, "  imports: none");
        } else {
            let _ = writeln!(out, "  imports:");
        }
        for (import_module, imports) in groups {
            let statuses: Vec<ImportStatus> = imports
                .iter()
                .map(|i| ImportStatus::of(name, i, &self.modules, self.wasi))
                .collect();
            let uniform = statuses.windows(2).all(|w| w[0] == w[1])
                && matches!(
                    statuses.first(),
                    Some(ImportStatus::Kernel | ImportStatus::Wasi { .. })
                );
            if uniform {
                let names: Vec<&str> = imports.iter().map(|i| i.name.as_str()).collect();
                let label = match statuses.first() {
                    Some(ImportStatus::Kernel) => "Extism kernel",
                    Some(status) => status.label(),
                    None => "",
                };
                let _ = writeln!(
                    out,
                    "    {import_module} ({}, {label}): {}",
                    imports.len(),
                    names.join(", ")
                );
                continue;
            }
            let _ = writeln!(out, "    {import_module} ({}):", imports.len());
            for (import, status) in imports.iter().zip(statuses) {
                let ty = match &import.kind {
                    ItemKind::Func(sig) => sig.to_string(),
                    other => other.kind_name().to_string(),
                };
                let _ = writeln!(out, "      {} {ty}  [{}]", import.name, status.label());
            }
        }
        let custom: Vec<String> = module
            .sections
            .iter()
            .filter_map(|s| {
                s.name
                    .strip_prefix("custom:")
                    .map(|n| format!("{n} ({})", bytes(s.size as u64)))
            })
            .collect();
        if !custom.is_empty() {
            let _ = writeln!(out, "  custom sections: {}", custom.join(", "));
        }
    }

    fn manifest_text(&self, out: &mut String) {
        let m = &self.manifest;
        let _ = writeln!(out, "manifest:");
        let _ = writeln!(
            out,
            "  memory: max_pages {}, max_var_bytes {}, max_http_response_bytes {}",
            opt(m.memory.max_pages),
            opt(m.memory.max_var_bytes),
            opt(m.memory.max_http_response_bytes)
        );
        let _ = writeln!(out, "  timeout_ms: {}", opt(m.timeout_ms));
        if !m.config.is_empty() {
            let keys: Vec<&str> = m.config.keys().map(String::as_str).collect();
            let _ = writeln!(out, "  config keys: {}", keys.join(", "));
        }
        if let Some(hosts) = &m.allowed_hosts {
            let _ = writeln!(out, "  allowed_hosts: {}", hosts.join(", "));
        }
        if let Some(paths) = &m.allowed_paths {
            let list: Vec<String> = paths
                .iter()
                .map(|(h, g)| format!("{h} -> {}", g.display()))
                .collect();
            let _ = writeln!(out, "  allowed_paths: {}", list.join(", "));
        }
    }
}

fn module_json(name: &str, module: &ModuleInfo, all: &[(String, ModuleInfo)], wasi: bool) -> Value {
    let exports: Vec<Value> = module
        .exports
        .iter()
        .map(|e| {
            json!({
                "name": e.name,
                "kind": e.kind.kind_name(),
                "signature": e.kind.signature().map(ToString::to_string),
                "plugin_function": e.is_plugin_function(),
            })
        })
        .collect();
    let imports: Vec<Value> = module
        .imports
        .iter()
        .map(|i| {
            let status = ImportStatus::of(name, i, all, wasi);
            json!({
                "module": i.module,
                "name": i.name,
                "kind": i.kind.kind_name(),
                "signature": i.kind.signature().map(ToString::to_string),
                "status": status.label(),
                "satisfied": status.is_satisfied(),
            })
        })
        .collect();
    let mut import_modules: BTreeMap<&str, usize> = BTreeMap::new();
    for import in &module.imports {
        *import_modules.entry(import.module.as_str()).or_default() += 1;
    }
    let memories: Vec<Value> = module
        .memories
        .iter()
        .map(|m| {
            json!({
                "initial_pages": m.initial,
                "maximum_pages": m.maximum,
                "initial_bytes": m.initial * PAGE,
                "memory64": m.memory64,
                "shared": m.shared,
            })
        })
        .collect();
    let sections: Vec<Value> = module
        .sections
        .iter()
        .map(|s| json!({"name": s.name, "size": s.size}))
        .collect();
    json!({
        "name": name,
        "size": module.size,
        "code_size": module.section_size("code"),
        "data_size": module.section_size("data"),
        "defined_functions": module.defined_functions,
        "has_start": module.has_start,
        "memories": memories,
        "exports": exports,
        "imports": imports,
        "import_modules": import_modules,
        "sections": sections,
    })
}

/// Inline module bytes are long and useless in a report: replace them by a length.
fn strip_data(mut manifest: Value) -> Value {
    if let Some(wasm) = manifest.get_mut("wasm").and_then(Value::as_array_mut) {
        for entry in wasm {
            if let Some(obj) = entry.as_object_mut() {
                if let Some(Value::String(data)) = obj.get("data") {
                    let len = data.len();
                    obj.insert(String::from("data"), json!(format!("<{len} base64 chars>")));
                }
            }
        }
    }
    manifest
}

fn opt<T: std::fmt::Display>(value: Option<T>) -> String {
    value.map_or_else(|| String::from("default"), |v| v.to_string())
}

/// A byte count for people: `87 346 bytes` style numbers with a unit.
pub fn bytes(n: u64) -> String {
    if n < 1024 {
        format!("{n} bytes")
    } else if n < 1024 * 1024 {
        format!("{:.1} KiB", n as f64 / 1024.0)
    } else {
        format!("{:.2} MiB", n as f64 / (1024.0 * 1024.0))
    }
}
