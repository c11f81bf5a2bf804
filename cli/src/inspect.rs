//! The structure of a wasm module (imports, exports, memories, section sizes), read
//! with `wasmparser` without compiling anything, and what it takes to run a plug-in
//! made of such modules.

use interplug::abi::{import_provider, is_plugin_function, ImportProvider};
use interplug::ValType;
use wasmparser::{CompositeInnerType, ExternalKind, Parser, Payload, TypeRef};

/// The WASI preview 1 import module.
pub use interplug::abi::WASI_MODULE;

/// A function signature.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct Signature {
    /// Parameter types.
    pub params: Vec<ValType>,
    /// Result types.
    pub results: Vec<ValType>,
}

impl Signature {
    /// True for the type of an Extism plug-in function: `() -> i32` or `() -> ()`.
    pub fn is_plugin_function(&self) -> bool {
        is_plugin_function(&self.params, &self.results)
    }
}

impl std::fmt::Display for Signature {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        let list = |types: &[ValType]| {
            types
                .iter()
                .map(|t| type_name(*t))
                .collect::<Vec<_>>()
                .join(", ")
        };
        write!(f, "({}) -> ", list(&self.params))?;
        match self.results.len() {
            0 => f.write_str("()"),
            1 => f.write_str(&list(&self.results)),
            _ => write!(f, "({})", list(&self.results)),
        }
    }
}

/// The short name of a value type (`i32`, `i64`, ...).
pub fn type_name(ty: ValType) -> &'static str {
    match ty {
        ValType::I32 => "i32",
        ValType::I64 => "i64",
        ValType::F32 => "f32",
        ValType::F64 => "f64",
        ValType::V128 => "v128",
        ValType::FuncRef => "funcref",
        ValType::ExternRef => "externref",
    }
}

/// Size limits of a linear memory, in 64 KiB pages.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct MemoryLimits {
    /// Initial size.
    pub initial: u64,
    /// Maximum size, if declared.
    pub maximum: Option<u64>,
    /// A 64-bit memory.
    pub memory64: bool,
    /// A shared memory (threads).
    pub shared: bool,
}

/// What an import or export is.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum ItemKind {
    /// A function with its signature.
    Func(Signature),
    /// A linear memory.
    Memory(MemoryLimits),
    /// A table.
    Table,
    /// A global.
    Global,
    /// An exception tag.
    Tag,
}

impl ItemKind {
    /// `func`, `memory`, `table`, `global` or `tag`.
    pub fn kind_name(&self) -> &'static str {
        match self {
            ItemKind::Func(_) => "func",
            ItemKind::Memory(_) => "memory",
            ItemKind::Table => "table",
            ItemKind::Global => "global",
            ItemKind::Tag => "tag",
        }
    }

    /// The signature, for a function.
    pub fn signature(&self) -> Option<&Signature> {
        match self {
            ItemKind::Func(signature) => Some(signature),
            _ => None,
        }
    }
}

/// One import of a module.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Import {
    /// The module it is imported from.
    pub module: String,
    /// The item's name.
    pub name: String,
    /// What is imported.
    pub kind: ItemKind,
}

/// One export of a module.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Export {
    /// The export name.
    pub name: String,
    /// What is exported.
    pub kind: ItemKind,
}

impl Export {
    /// True when this export is an Extism plug-in function (`() -> i32` or `() -> ()`).
    pub fn is_plugin_function(&self) -> bool {
        self.kind
            .signature()
            .is_some_and(Signature::is_plugin_function)
    }
}

/// A section and its size in bytes.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Section {
    /// `type`, `import`, `code`, `data`, ... or `custom:<name>`.
    pub name: String,
    /// Size of the section's contents in bytes.
    pub size: usize,
}

/// The structure of one wasm module.
#[derive(Debug, Clone, Default)]
pub struct ModuleInfo {
    /// Size of the module binary in bytes.
    pub size: usize,
    /// Imports, in order.
    pub imports: Vec<Import>,
    /// Exports, in order.
    pub exports: Vec<Export>,
    /// Memories the module defines (imported memories are among `imports`).
    pub memories: Vec<MemoryLimits>,
    /// Functions the module defines (not counting imports).
    pub defined_functions: u32,
    /// Sections in order with their sizes.
    pub sections: Vec<Section>,
    /// Whether the module has a start function.
    pub has_start: bool,
}

impl ModuleInfo {
    /// Reads the structure of a wasm binary. Fails on malformed input; it does not
    /// validate function bodies.
    pub fn parse(bytes: &[u8]) -> Result<ModuleInfo, String> {
        let mut info = ModuleInfo {
            size: bytes.len(),
            ..ModuleInfo::default()
        };
        let mut types: Vec<Option<Signature>> = Vec::new();
        let mut func_types: Vec<u32> = Vec::new();
        let mut memory_indices: Vec<MemoryLimits> = Vec::new();
        let mut raw_exports: Vec<(String, ExternalKind, u32)> = Vec::new();
        let malformed = |e: wasmparser::BinaryReaderError| format!("malformed wasm module: {e}");
        for payload in Parser::new(0).parse_all(bytes) {
            let payload = payload.map_err(malformed)?;
            match payload {
                Payload::Version { encoding, .. } if encoding != wasmparser::Encoding::Module => {
                    return Err(String::from(
                        "this is a wasm component, not a core module: Extism plug-ins are core \
                         modules",
                    ));
                }
                Payload::TypeSection(reader) => {
                    info.push_section("type", reader.range().len());
                    for group in reader {
                        for sub in group.map_err(malformed)?.into_types() {
                            types.push(match sub.composite_type.inner {
                                CompositeInnerType::Func(f) => Some(Signature {
                                    params: f.params().iter().map(|t| convert(*t)).collect(),
                                    results: f.results().iter().map(|t| convert(*t)).collect(),
                                }),
                                _ => None,
                            });
                        }
                    }
                }
                Payload::ImportSection(reader) => {
                    info.push_section("import", reader.range().len());
                    for import in reader {
                        let import = import.map_err(malformed)?;
                        let kind = match import.ty {
                            TypeRef::Func(index) => {
                                func_types.push(index);
                                ItemKind::Func(signature(&types, index))
                            }
                            TypeRef::Memory(m) => {
                                let limits = memory_limits(&m);
                                memory_indices.push(limits);
                                ItemKind::Memory(limits)
                            }
                            TypeRef::Table(_) => ItemKind::Table,
                            TypeRef::Global(_) => ItemKind::Global,
                            TypeRef::Tag(_) => ItemKind::Tag,
                        };
                        info.imports.push(Import {
                            module: import.module.to_string(),
                            name: import.name.to_string(),
                            kind,
                        });
                    }
                }
                Payload::FunctionSection(reader) => {
                    info.push_section("function", reader.range().len());
                    for index in reader {
                        func_types.push(index.map_err(malformed)?);
                        info.defined_functions += 1;
                    }
                }
                Payload::MemorySection(reader) => {
                    info.push_section("memory", reader.range().len());
                    for memory in reader {
                        let limits = memory_limits(&memory.map_err(malformed)?);
                        info.memories.push(limits);
                        memory_indices.push(limits);
                    }
                }
                Payload::ExportSection(reader) => {
                    info.push_section("export", reader.range().len());
                    for export in reader {
                        let export = export.map_err(malformed)?;
                        raw_exports.push((export.name.to_string(), export.kind, export.index));
                    }
                }
                Payload::TableSection(r) => info.push_section("table", r.range().len()),
                Payload::TagSection(r) => info.push_section("tag", r.range().len()),
                Payload::GlobalSection(r) => info.push_section("global", r.range().len()),
                Payload::ElementSection(r) => info.push_section("element", r.range().len()),
                Payload::DataSection(r) => info.push_section("data", r.range().len()),
                Payload::StartSection { range, .. } => {
                    info.has_start = true;
                    info.push_section("start", range.len());
                }
                Payload::DataCountSection { range, .. } => {
                    info.push_section("datacount", range.len())
                }
                Payload::CodeSectionStart { size, .. } => info.push_section("code", size as usize),
                Payload::CustomSection(reader) => {
                    let name = format!("custom:{}", reader.name());
                    info.push_section(&name, reader.range().len());
                }
                _ => {}
            }
        }
        for (name, kind, index) in raw_exports {
            let kind = match kind {
                ExternalKind::Func => {
                    let ty = func_types.get(index as usize).copied();
                    ItemKind::Func(ty.map(|t| signature(&types, t)).unwrap_or_default())
                }
                ExternalKind::Memory => match memory_indices.get(index as usize) {
                    Some(limits) => ItemKind::Memory(*limits),
                    None => ItemKind::Memory(MemoryLimits {
                        initial: 0,
                        maximum: None,
                        memory64: false,
                        shared: false,
                    }),
                },
                ExternalKind::Table => ItemKind::Table,
                ExternalKind::Global => ItemKind::Global,
                ExternalKind::Tag => ItemKind::Tag,
            };
            info.exports.push(Export { name, kind });
        }
        Ok(info)
    }

    fn push_section(&mut self, name: &str, size: usize) {
        self.sections.push(Section {
            name: name.to_string(),
            size,
        });
    }

    /// The size of a section in bytes (0 when absent).
    pub fn section_size(&self, name: &str) -> usize {
        self.sections
            .iter()
            .filter(|s| s.name == name)
            .map(|s| s.size)
            .sum()
    }

    /// The export `name`, if any.
    pub fn export(&self, name: &str) -> Option<&Export> {
        self.exports.iter().find(|e| e.name == name)
    }

    /// The names of the plug-in functions this module exports.
    pub fn plugin_functions(&self) -> Vec<&str> {
        self.exports
            .iter()
            .filter(|e| e.is_plugin_function())
            .map(|e| e.name.as_str())
            .collect()
    }

    /// True when the module imports anything from WASI.
    pub fn uses_wasi(&self) -> bool {
        self.imports.iter().any(|i| i.module == WASI_MODULE)
    }

    /// Initial pages of every memory, defined or imported.
    pub fn initial_pages(&self) -> u64 {
        self.memories.iter().map(|m| m.initial).sum()
    }
}

fn signature(types: &[Option<Signature>], index: u32) -> Signature {
    types
        .get(index as usize)
        .cloned()
        .flatten()
        .unwrap_or_default()
}

fn memory_limits(m: &wasmparser::MemoryType) -> MemoryLimits {
    MemoryLimits {
        initial: m.initial,
        maximum: m.maximum,
        memory64: m.memory64,
        shared: m.shared,
    }
}

fn convert(ty: wasmparser::ValType) -> ValType {
    match ty {
        wasmparser::ValType::I32 => ValType::I32,
        wasmparser::ValType::I64 => ValType::I64,
        wasmparser::ValType::F32 => ValType::F32,
        wasmparser::ValType::F64 => ValType::F64,
        wasmparser::ValType::V128 => ValType::V128,
        wasmparser::ValType::Ref(r) if r.is_func_ref() => ValType::FuncRef,
        wasmparser::ValType::Ref(_) => ValType::ExternRef,
    }
}

/// How an import of a plug-in module gets its value.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum ImportStatus {
    /// An Extism kernel function interplug provides.
    Kernel,
    /// An `extism:host/env` name interplug does not know: the plug-in cannot load.
    UnknownKernel,
    /// WASI preview 1, provided when WASI is on.
    Wasi {
        /// Whether WASI will be on.
        enabled: bool,
    },
    /// An export of another module of the manifest.
    Module {
        /// Whether that module exports the name.
        found: bool,
    },
    /// A host function the embedding program must provide.
    HostFunction,
}

impl ImportStatus {
    /// Decides how `import` of the module named `importer` is satisfied, given the
    /// plug-in's modules (by the core's rules, [`interplug::abi`]).
    pub fn of(
        importer: &str,
        import: &Import,
        modules: &[(String, ModuleInfo)],
        wasi: bool,
    ) -> ImportStatus {
        let names: Vec<&str> = modules.iter().map(|(name, _)| name.as_str()).collect();
        let is_function = matches!(import.kind, ItemKind::Func(_));
        let provider = import_provider(
            importer,
            &import.module,
            &import.name,
            is_function,
            &names,
            wasi,
        );
        match provider {
            ImportProvider::Kernel => ImportStatus::Kernel,
            ImportProvider::UnknownKernel => ImportStatus::UnknownKernel,
            ImportProvider::Wasi { enabled } => ImportStatus::Wasi { enabled },
            ImportProvider::Module => ImportStatus::Module {
                found: modules
                    .iter()
                    .find(|(name, _)| *name == import.module)
                    .is_some_and(|(_, module)| module.export(&import.name).is_some()),
            },
            ImportProvider::HostFunction => ImportStatus::HostFunction,
        }
    }

    /// True when interplug itself satisfies the import (without host functions).
    pub fn is_satisfied(&self) -> bool {
        match self {
            ImportStatus::Kernel => true,
            ImportStatus::Wasi { enabled } => *enabled,
            ImportStatus::Module { found } => *found,
            ImportStatus::UnknownKernel | ImportStatus::HostFunction => false,
        }
    }

    /// A short word for listings: `kernel`, `wasi`, `module`, `host function`, ...
    pub fn label(&self) -> &'static str {
        match self {
            ImportStatus::Kernel => "kernel",
            ImportStatus::UnknownKernel => "unknown kernel function",
            ImportStatus::Wasi { enabled: true } => "wasi",
            ImportStatus::Wasi { enabled: false } => "wasi (needs --wasi)",
            ImportStatus::Module { found: true } => "module",
            ImportStatus::Module { found: false } => "module (missing export)",
            ImportStatus::HostFunction => "needs host function",
        }
    }
}

/// The imports of every module of a plug-in that need a host function, with the
/// module they are imported by: `(module name, import)`.
pub fn host_function_imports(modules: &[(String, ModuleInfo)]) -> Vec<(String, Import)> {
    let mut needed: Vec<(String, Import)> = Vec::new();
    for (module_name, module) in modules {
        for import in &module.imports {
            if ImportStatus::of(module_name, import, modules, false) == ImportStatus::HostFunction
                && !needed
                    .iter()
                    .any(|(_, i)| i.module == import.module && i.name == import.name)
            {
                needed.push((module_name.clone(), import.clone()));
            }
        }
    }
    needed
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn signatures_print_like_wasm_types() {
        let s = Signature {
            params: vec![ValType::I64, ValType::I64],
            results: vec![ValType::I64],
        };
        assert_eq!(s.to_string(), "(i64, i64) -> i64");
        assert_eq!(Signature::default().to_string(), "() -> ()");
        assert!(Signature::default().is_plugin_function());
        assert!(!s.is_plugin_function());
    }

    #[test]
    fn garbage_is_an_error_not_a_panic() {
        assert!(ModuleInfo::parse(b"not wasm").is_err());
        assert!(ModuleInfo::parse(b"\0asm\x01\0\0\0\x01\xff").is_err());
        let empty = ModuleInfo::parse(b"\0asm\x01\0\0\0").expect("empty module");
        assert!(empty.imports.is_empty());
    }
}
