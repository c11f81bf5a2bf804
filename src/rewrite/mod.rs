//! Module rewriting: read a validated wasm module, let a [`Pass`] add imports,
//! memories, globals, functions and exports and rewrite function bodies, and encode
//! the result.
//!
//! Everything the pass does not touch is copied: sections keep their order, custom
//! sections (the `name` section included) stay where they were. Items a pass adds
//! are appended to their index space, so existing indices keep their meaning, with
//! one exception the layer handles once for every pass: an *imported* function,
//! memory or global comes before the module's own ones in its index space, so adding
//! one shifts the module's own items. The layer remaps those indices everywhere
//! (calls, `ref.func`, loads and stores, `global.get`/`set`, exports, the start
//! function, element and data segments, constant expressions and the name section).
//!
//! ```
//! use interplug::rewrite::{rewrite, Identity};
//! let bytes = wat::parse_str(r#"(module (func (export "f") (result i32) i32.const 7))"#)?;
//! let same = rewrite(&bytes, &mut Identity)?;
//! wasmparser::validate(&same)?;
//! # Ok::<(), interplug::Error>(())
//! ```

use crate::error::fail;

pub mod bulk_io;
pub mod coverage;
#[cfg(test)]
mod tests;
use alloc::string::{String, ToString};
use alloc::vec::Vec;
use anyhow::Error;
use core::convert::Infallible;
use std::collections::BTreeMap;
use wasm_encoder::reencode::{Reencode, RoundtripReencoder};
use wasm_encoder::{Encode, Instruction};
use wasmparser::{FuncType, Operator, Parser, Payload, TypeRef};

/// What a pass learns about the module before rewriting it.
#[derive(Debug, Clone, Default)]
pub struct ModuleInfo {
    /// The function types of the type section, by type index (`None` for types that
    /// are not function types).
    pub types: Vec<Option<FuncType>>,
    /// Functions imported by the module.
    pub imported_functions: u32,
    /// Memories imported by the module.
    pub imported_memories: u32,
    /// Globals imported by the module.
    pub imported_globals: u32,
    /// Type index of every function, imported ones first (original indices).
    pub function_types: Vec<u32>,
    /// Memories (imported and defined).
    pub memories: u32,
    /// Globals (imported and defined).
    pub globals: u32,
    /// Function names from the `name` section (original indices).
    pub function_names: BTreeMap<u32, String>,
    /// Names the module exports.
    pub export_names: Vec<String>,
}

impl ModuleInfo {
    /// The type of function `index` (original index space).
    pub fn function_type(&self, index: u32) -> Option<&FuncType> {
        let ty = *self.function_types.get(index as usize)?;
        self.types.get(ty as usize)?.as_ref()
    }

    /// The name of function `index` (original index space), when the module names it.
    pub fn function_name(&self, index: u32) -> Option<&str> {
        self.function_names.get(&index).map(String::as_str)
    }
}

/// A function a pass adds, with its body.
struct AddedFunction {
    type_index: u32,
    body: wasm_encoder::Function,
}

/// What a pass adds to the module. Indices returned are final (in the rewritten
/// module's index spaces). Imports come first: once anything else was added or a
/// body was rewritten, adding an import fails.
#[derive(Default)]
pub struct Additions {
    types: Vec<wasm_encoder::FuncType>,
    function_imports: Vec<(String, String, u32)>,
    memory_imports: Vec<(String, String, wasm_encoder::MemoryType)>,
    global_imports: Vec<(String, String, wasm_encoder::GlobalType)>,
    /// Memories the pass defines, after the module's own, in order. A pass may
    /// change their types until the module is encoded (e.g. size a memory once it
    /// knows how much it needs, in [`Pass::finish`]).
    pub memories: Vec<wasm_encoder::MemoryType>,
    globals: Vec<(wasm_encoder::GlobalType, wasm_encoder::ConstExpr)>,
    functions: Vec<AddedFunction>,
    exports: Vec<(String, wasm_encoder::ExportKind, u32)>,
    base: Counts,
    imports_frozen: bool,
}

/// Sizes of the original module's index spaces.
#[derive(Debug, Clone, Copy, Default)]
struct Counts {
    types: u32,
    imported_functions: u32,
    functions: u32,
    imported_memories: u32,
    memories: u32,
    imported_globals: u32,
    globals: u32,
}

impl core::fmt::Debug for Additions {
    fn fmt(&self, f: &mut core::fmt::Formatter<'_>) -> core::fmt::Result {
        f.debug_struct("Additions")
            .field("types", &self.types.len())
            .field("function_imports", &self.function_imports)
            .field("memories", &self.memories.len())
            .field("globals", &self.globals.len())
            .field("functions", &self.functions.len())
            .field("exports", &self.exports)
            .finish_non_exhaustive()
    }
}

impl Additions {
    /// Adds a function type; returns its type index.
    pub fn add_type(
        &mut self,
        params: impl IntoIterator<Item = wasm_encoder::ValType>,
        results: impl IntoIterator<Item = wasm_encoder::ValType>,
    ) -> u32 {
        self.types
            .push(wasm_encoder::FuncType::new(params, results));
        self.base.types + self.types.len() as u32 - 1
    }

    /// Imports a function of type `type_index`; returns its function index. The
    /// module's own functions move up by one: the layer remaps them.
    ///
    /// # Errors
    ///
    /// [`ErrorKind::Invalid`](crate::ErrorKind::Invalid) when something other than an import was added
    /// already, or bodies are being rewritten (add imports first, in [`Pass::begin`]).
    pub fn import_function(
        &mut self,
        module: &str,
        name: &str,
        type_index: u32,
    ) -> Result<u32, Error> {
        self.check_imports_open()?;
        self.function_imports
            .push((module.to_string(), name.to_string(), type_index));
        Ok(self.base.imported_functions + self.function_imports.len() as u32 - 1)
    }

    /// Imports a memory; returns its memory index (the module's own memories move up).
    ///
    /// # Errors
    ///
    /// As [`Additions::import_function`].
    pub fn import_memory(
        &mut self,
        module: &str,
        name: &str,
        ty: wasm_encoder::MemoryType,
    ) -> Result<u32, Error> {
        self.check_imports_open()?;
        self.memory_imports
            .push((module.to_string(), name.to_string(), ty));
        Ok(self.base.imported_memories + self.memory_imports.len() as u32 - 1)
    }

    /// Imports a global; returns its global index (the module's own globals move up).
    ///
    /// # Errors
    ///
    /// As [`Additions::import_function`].
    pub fn import_global(
        &mut self,
        module: &str,
        name: &str,
        ty: wasm_encoder::GlobalType,
    ) -> Result<u32, Error> {
        self.check_imports_open()?;
        self.global_imports
            .push((module.to_string(), name.to_string(), ty));
        Ok(self.base.imported_globals + self.global_imports.len() as u32 - 1)
    }

    /// Defines a memory after the module's own; returns its memory index.
    pub fn add_memory(&mut self, ty: wasm_encoder::MemoryType) -> u32 {
        self.imports_frozen = true;
        self.memories.push(ty);
        self.base.memories + self.memory_imports.len() as u32 + self.memories.len() as u32 - 1
    }

    /// Defines a global after the module's own; returns its global index.
    pub fn add_global(
        &mut self,
        ty: wasm_encoder::GlobalType,
        init: &wasm_encoder::ConstExpr,
    ) -> u32 {
        self.imports_frozen = true;
        self.globals.push((ty, init.clone()));
        self.base.globals + self.global_imports.len() as u32 + self.globals.len() as u32 - 1
    }

    /// Defines a function after the module's own; returns its function index. Its
    /// body refers to functions, memories and globals by their final indices.
    pub fn add_function(&mut self, type_index: u32, body: wasm_encoder::Function) -> u32 {
        self.imports_frozen = true;
        self.functions.push(AddedFunction { type_index, body });
        self.base.functions + self.function_imports.len() as u32 + self.functions.len() as u32 - 1
    }

    /// Replaces the body of function `index`, one this pass added (e.g. a helper
    /// added in [`Pass::begin`] whose body depends on what the bodies needed).
    ///
    /// # Errors
    ///
    /// [`ErrorKind::Invalid`](crate::ErrorKind::Invalid) when the pass did not add
    /// function `index`.
    pub fn set_function_body(
        &mut self,
        index: u32,
        body: wasm_encoder::Function,
    ) -> Result<(), Error> {
        let first = self.base.functions + self.function_imports.len() as u32;
        let slot = index
            .checked_sub(first)
            .and_then(|i| self.functions.get_mut(i as usize))
            .ok_or_else(|| fail!(Invalid, "function {index} was not added by this pass"))?;
        slot.body = body;
        Ok(())
    }

    /// Exports an item by its final index.
    pub fn export(&mut self, name: &str, kind: wasm_encoder::ExportKind, index: u32) {
        self.exports.push((name.to_string(), kind, index));
    }

    /// The final index of the module's function `original`.
    pub fn function_index(&self, original: u32) -> u32 {
        self.remap().function(original)
    }

    fn check_imports_open(&self) -> Result<(), Error> {
        if self.imports_frozen {
            return Err(fail!(
                Invalid,
                "a rewriting pass added an import after other items or after bodies were \
                 rewritten: add imports first, in Pass::begin"
            ));
        }
        Ok(())
    }

    fn remap(&self) -> Remap {
        Remap {
            base: self.base,
            functions: self.function_imports.len() as u32,
            memories: self.memory_imports.len() as u32,
            globals: self.global_imports.len() as u32,
        }
    }
}

/// Moves the module's own functions, memories and globals past added imports.
#[derive(Debug, Clone, Copy)]
struct Remap {
    base: Counts,
    functions: u32,
    memories: u32,
    globals: u32,
}

impl Remap {
    fn function(&self, index: u32) -> u32 {
        shift(index, self.base.imported_functions, self.functions)
    }
}

fn shift(index: u32, imported: u32, added: u32) -> u32 {
    if index < imported {
        index
    } else {
        index + added
    }
}

impl Reencode for Remap {
    type Error = Infallible;

    fn function_index(&mut self, func: u32) -> u32 {
        self.function(func)
    }

    fn memory_index(&mut self, memory: u32) -> u32 {
        shift(memory, self.base.imported_memories, self.memories)
    }

    fn global_index(&mut self, global: u32) -> u32 {
        shift(global, self.base.imported_globals, self.globals)
    }
}

/// One function body being rewritten: the pass reads the original operators and
/// emits what replaces them.
pub struct FunctionRewriter<'a> {
    /// The function's index in the original module.
    pub index: u32,
    /// Its index in the rewritten module.
    pub new_index: u32,
    /// Its type.
    pub ty: FuncType,
    /// Offset of the body in the original module's bytes.
    pub body_offset: usize,
    reader: wasmparser::OperatorsReader<'a>,
    locals: Vec<(u32, wasm_encoder::ValType)>,
    next_local: u32,
    code: Vec<u8>,
    remap: Remap,
}

impl core::fmt::Debug for FunctionRewriter<'_> {
    fn fmt(&self, f: &mut core::fmt::Formatter<'_>) -> core::fmt::Result {
        f.debug_struct("FunctionRewriter")
            .field("index", &self.index)
            .field("new_index", &self.new_index)
            .finish_non_exhaustive()
    }
}

impl<'a> FunctionRewriter<'a> {
    /// The next original operator and its offset in the original module's bytes;
    /// `None` after the body's final `end`.
    ///
    /// # Errors
    ///
    /// [`ErrorKind::Invalid`](crate::ErrorKind::Invalid) when the body cannot be decoded.
    pub fn next_operator(&mut self) -> Result<Option<(Operator<'a>, usize)>, Error> {
        if self.reader.eof() {
            return Ok(None);
        }
        let (op, offset) = self.reader.read_with_offset().map_err(invalid)?;
        Ok(Some((op, offset)))
    }

    /// Emits an original operator, with its indices remapped to the new module.
    ///
    /// # Errors
    ///
    /// [`ErrorKind::Invalid`](crate::ErrorKind::Invalid) when it cannot be encoded.
    pub fn keep(&mut self, op: Operator<'a>) -> Result<(), Error> {
        let instruction = self
            .remap
            .instruction(op)
            .map_err(|e| fail!(Invalid, "cannot re-encode an instruction: {e}"))?;
        instruction.encode(&mut self.code);
        Ok(())
    }

    /// Emits already-encoded instructions as they are (e.g. a run of original
    /// operators that refer to no index the layer shifts).
    pub fn emit_raw(&mut self, bytes: &[u8]) {
        self.code.extend_from_slice(bytes);
    }

    /// Emits a new instruction (indices are final ones).
    pub fn emit(&mut self, instruction: &Instruction<'_>) {
        instruction.encode(&mut self.code);
    }

    /// Adds a local of type `ty`; returns its index.
    pub fn add_local(&mut self, ty: wasm_encoder::ValType) -> u32 {
        self.locals.push((1, ty));
        self.next_local += 1;
        self.next_local - 1
    }

    /// The type of local `index` (parameters first), `None` past the last local.
    pub fn local_type(&self, index: u32) -> Option<wasm_encoder::ValType> {
        let params = self.ty.params();
        if let Some(param) = params.get(index as usize) {
            return RoundtripReencoder.val_type(*param).ok();
        }
        let mut first = params.len() as u32;
        for (count, ty) in &self.locals {
            if index - first < *count {
                return Some(*ty);
            }
            first += count;
        }
        None
    }

    /// Emits every remaining operator unchanged.
    ///
    /// # Errors
    ///
    /// As [`FunctionRewriter::next_operator`].
    pub fn keep_rest(&mut self) -> Result<(), Error> {
        while let Some((op, _)) = self.next_operator()? {
            self.keep(op)?;
        }
        Ok(())
    }

    fn finish(self) -> wasm_encoder::Function {
        let mut function = wasm_encoder::Function::new(self.locals);
        function.raw(self.code);
        function
    }
}

/// A rewriting pass. Every hook has a default that changes nothing.
pub trait Pass {
    /// Called once before any body is rewritten: add imports here (first), then
    /// anything else the bodies will refer to.
    ///
    /// # Errors
    ///
    /// Whatever the pass reports; rewriting stops.
    fn begin(&mut self, module: &ModuleInfo, add: &mut Additions) -> Result<(), Error> {
        let _ = (module, add);
        Ok(())
    }

    /// Rewrites one of the module's own function bodies: read the operators with
    /// [`FunctionRewriter::next_operator`] and emit their replacement. The default
    /// keeps the body.
    ///
    /// # Errors
    ///
    /// Whatever the pass reports; rewriting stops.
    fn function(
        &mut self,
        module: &ModuleInfo,
        add: &mut Additions,
        body: &mut FunctionRewriter<'_>,
    ) -> Result<(), Error> {
        let _ = (module, add);
        body.keep_rest()
    }

    /// Called once after every body was rewritten, before encoding.
    ///
    /// # Errors
    ///
    /// Whatever the pass reports; rewriting stops.
    fn finish(&mut self, module: &ModuleInfo, add: &mut Additions) -> Result<(), Error> {
        let _ = (module, add);
        Ok(())
    }
}

/// The pass that changes nothing (the module is decoded and encoded again).
#[derive(Debug, Clone, Copy, Default)]
pub struct Identity;

impl Pass for Identity {}

fn invalid(error: wasmparser::BinaryReaderError) -> Error {
    fail!(Invalid, "cannot read the wasm module: {error}")
}

fn reencode_error<E: core::fmt::Display>(error: E) -> Error {
    fail!(Invalid, "cannot re-encode the wasm module: {error}")
}

/// A standard section of the original module, kept for encoding.
enum Section<'a> {
    Type(wasmparser::TypeSectionReader<'a>),
    Import(wasmparser::ImportSectionReader<'a>),
    Function(wasmparser::FunctionSectionReader<'a>),
    Table(wasmparser::TableSectionReader<'a>),
    Memory(wasmparser::MemorySectionReader<'a>),
    Tag(wasmparser::TagSectionReader<'a>),
    Global(wasmparser::GlobalSectionReader<'a>),
    Export(wasmparser::ExportSectionReader<'a>),
    Start(u32),
    Element(wasmparser::ElementSectionReader<'a>),
    DataCount(u32),
    Code,
    Data(wasmparser::DataSectionReader<'a>),
    Custom(wasmparser::CustomSectionReader<'a>),
}

impl Section<'_> {
    /// Position in the order the binary format requires (custom sections: none).
    fn rank(&self) -> Option<u8> {
        Some(match self {
            Section::Type(_) => 1,
            Section::Import(_) => 2,
            Section::Function(_) => 3,
            Section::Table(_) => 4,
            Section::Memory(_) => 5,
            Section::Tag(_) => 6,
            Section::Global(_) => 7,
            Section::Export(_) => 8,
            Section::Start(_) => 9,
            Section::Element(_) => 10,
            Section::DataCount(_) => 11,
            Section::Code => 12,
            Section::Data(_) => 13,
            Section::Custom(_) => return None,
        })
    }
}

const RANK_TYPE: u8 = 1;
const RANK_IMPORT: u8 = 2;
const RANK_FUNCTION: u8 = 3;
const RANK_MEMORY: u8 = 5;
const RANK_GLOBAL: u8 = 7;
const RANK_EXPORT: u8 = 8;
const RANK_CODE: u8 = 12;

/// Rewrites `wasm` (a validated core module) with `pass`; returns the new module.
///
/// # Errors
///
/// [`ErrorKind::Invalid`](crate::ErrorKind::Invalid) when the module cannot be read (or is a component), and
/// whatever the pass reports.
///
/// ```
/// use interplug::rewrite::{rewrite, Identity};
/// let wasm = wat::parse_str("(module)")?;
/// assert!(wasmparser::validate(&rewrite(&wasm, &mut Identity)?).is_ok());
/// # Ok::<(), interplug::Error>(())
/// ```
pub fn rewrite(wasm: &[u8], pass: &mut dyn Pass) -> Result<Vec<u8>, Error> {
    let mut sections = Vec::new();
    let mut bodies = Vec::new();
    let mut info = ModuleInfo::default();
    let mut defined_functions = 0u32;
    let mut defined_memories = 0u32;
    let mut defined_globals = 0u32;
    for payload in Parser::new(0).parse_all(wasm) {
        match payload.map_err(invalid)? {
            Payload::Version { encoding, .. } => {
                if encoding != wasmparser::Encoding::Module {
                    return Err(fail!(
                        Invalid,
                        "only core wasm modules can be rewritten, not components"
                    ));
                }
            }
            Payload::TypeSection(reader) => {
                for group in reader.clone() {
                    for sub in group.map_err(invalid)?.into_types() {
                        info.types.push(match sub.composite_type.inner {
                            wasmparser::CompositeInnerType::Func(f) => Some(f),
                            _ => None,
                        });
                    }
                }
                sections.push(Section::Type(reader));
            }
            Payload::ImportSection(reader) => {
                for import in reader.clone() {
                    match import.map_err(invalid)?.ty {
                        TypeRef::Func(ty) => {
                            info.imported_functions += 1;
                            info.function_types.push(ty);
                        }
                        TypeRef::Memory(_) => info.imported_memories += 1,
                        TypeRef::Global(_) => info.imported_globals += 1,
                        _ => {}
                    }
                }
                sections.push(Section::Import(reader));
            }
            Payload::FunctionSection(reader) => {
                for ty in reader.clone() {
                    info.function_types.push(ty.map_err(invalid)?);
                    defined_functions += 1;
                }
                sections.push(Section::Function(reader));
            }
            Payload::TableSection(reader) => sections.push(Section::Table(reader)),
            Payload::MemorySection(reader) => {
                defined_memories = reader.count();
                sections.push(Section::Memory(reader));
            }
            Payload::TagSection(reader) => sections.push(Section::Tag(reader)),
            Payload::GlobalSection(reader) => {
                defined_globals = reader.count();
                sections.push(Section::Global(reader));
            }
            Payload::ExportSection(reader) => {
                for export in reader.clone() {
                    info.export_names
                        .push(export.map_err(invalid)?.name.to_string());
                }
                sections.push(Section::Export(reader));
            }
            Payload::StartSection { func, .. } => sections.push(Section::Start(func)),
            Payload::ElementSection(reader) => sections.push(Section::Element(reader)),
            Payload::DataCountSection { count, .. } => sections.push(Section::DataCount(count)),
            Payload::DataSection(reader) => sections.push(Section::Data(reader)),
            Payload::CodeSectionStart { .. } => sections.push(Section::Code),
            Payload::CodeSectionEntry(body) => bodies.push(body),
            Payload::CustomSection(reader) => {
                if let wasmparser::KnownCustom::Name(names) = reader.as_known() {
                    for name in names {
                        if let Ok(wasmparser::Name::Function(map)) = name {
                            for naming in map.into_iter().flatten() {
                                info.function_names
                                    .insert(naming.index, naming.name.to_string());
                            }
                        }
                    }
                }
                sections.push(Section::Custom(reader));
            }
            Payload::End(_) => {}
            other => {
                return Err(fail!(
                    Invalid,
                    "cannot rewrite a module with section {:?}",
                    other.as_section().map(|(id, _)| id)
                ))
            }
        }
    }
    info.memories = info.imported_memories + defined_memories;
    info.globals = info.imported_globals + defined_globals;

    let mut add = Additions {
        base: Counts {
            types: info.types.len() as u32,
            imported_functions: info.imported_functions,
            functions: info.imported_functions + defined_functions,
            imported_memories: info.imported_memories,
            memories: info.memories,
            imported_globals: info.imported_globals,
            globals: info.globals,
        },
        ..Additions::default()
    };
    pass.begin(&info, &mut add)?;
    add.imports_frozen = true;
    let remap = add.remap();

    let mut new_bodies = Vec::with_capacity(bodies.len());
    for (i, body) in bodies.iter().enumerate() {
        let index = info.imported_functions + i as u32;
        let ty = info
            .function_type(index)
            .cloned()
            .ok_or_else(|| fail!(Invalid, "function {index} has no function type"))?;
        let mut locals = Vec::new();
        let mut next_local = ty.params().len() as u32;
        for local in body.get_locals_reader().map_err(invalid)? {
            let (count, val) = local.map_err(invalid)?;
            locals.push((
                count,
                RoundtripReencoder.val_type(val).map_err(reencode_error)?,
            ));
            next_local += count;
        }
        let mut rewriter = FunctionRewriter {
            index,
            new_index: remap.function(index),
            ty,
            body_offset: body.range().start,
            reader: body.get_operators_reader().map_err(invalid)?,
            locals,
            next_local,
            code: Vec::new(),
            remap,
        };
        pass.function(&info, &mut add, &mut rewriter)?;
        new_bodies.push(rewriter.finish());
    }
    pass.finish(&info, &mut add)?;

    encode(&sections, &add, new_bodies)
}

/// Writes the new module: each original section re-encoded with the additions of
/// its kind, and sections the original lacks where additions need them.
fn encode(
    sections: &[Section<'_>],
    add: &Additions,
    bodies: Vec<wasm_encoder::Function>,
) -> Result<Vec<u8>, Error> {
    let mut module = wasm_encoder::Module::new();
    let mut remap = add.remap();
    let mut emitted = 0u8;
    let mut bodies = Some(bodies);
    for section in sections {
        if let Some(rank) = section.rank() {
            emit_missing(&mut module, add, &mut bodies, emitted, rank)?;
            emitted = rank;
        }
        match section {
            Section::Type(reader) => {
                let mut types = wasm_encoder::TypeSection::new();
                remap
                    .parse_type_section(&mut types, reader.clone())
                    .map_err(reencode_error)?;
                for ty in &add.types {
                    types.ty().func_type(ty);
                }
                module.section(&types);
            }
            Section::Import(reader) => {
                let mut imports = wasm_encoder::ImportSection::new();
                // Added imports of a kind come right after the module's own of that
                // kind, so they sit where the indices say; order between kinds does
                // not matter.
                remap
                    .parse_import_section(&mut imports, reader.clone())
                    .map_err(reencode_error)?;
                push_imports(&mut imports, add);
                module.section(&imports);
            }
            Section::Function(reader) => {
                let mut functions = wasm_encoder::FunctionSection::new();
                remap
                    .parse_function_section(&mut functions, reader.clone())
                    .map_err(reencode_error)?;
                for f in &add.functions {
                    functions.function(f.type_index);
                }
                module.section(&functions);
            }
            Section::Table(reader) => {
                let mut tables = wasm_encoder::TableSection::new();
                remap
                    .parse_table_section(&mut tables, reader.clone())
                    .map_err(reencode_error)?;
                module.section(&tables);
            }
            Section::Memory(reader) => {
                let mut memories = wasm_encoder::MemorySection::new();
                remap
                    .parse_memory_section(&mut memories, reader.clone())
                    .map_err(reencode_error)?;
                for memory in &add.memories {
                    memories.memory(*memory);
                }
                module.section(&memories);
            }
            Section::Tag(reader) => {
                let mut tags = wasm_encoder::TagSection::new();
                remap
                    .parse_tag_section(&mut tags, reader.clone())
                    .map_err(reencode_error)?;
                module.section(&tags);
            }
            Section::Global(reader) => {
                let mut globals = wasm_encoder::GlobalSection::new();
                remap
                    .parse_global_section(&mut globals, reader.clone())
                    .map_err(reencode_error)?;
                for (ty, init) in &add.globals {
                    globals.global(*ty, init);
                }
                module.section(&globals);
            }
            Section::Export(reader) => {
                let mut exports = wasm_encoder::ExportSection::new();
                remap
                    .parse_export_section(&mut exports, reader.clone())
                    .map_err(reencode_error)?;
                for (name, kind, index) in &add.exports {
                    exports.export(name, *kind, *index);
                }
                module.section(&exports);
            }
            Section::Start(func) => {
                module.section(&wasm_encoder::StartSection {
                    function_index: remap.function(*func),
                });
            }
            Section::Element(reader) => {
                let mut elements = wasm_encoder::ElementSection::new();
                remap
                    .parse_element_section(&mut elements, reader.clone())
                    .map_err(reencode_error)?;
                module.section(&elements);
            }
            Section::DataCount(count) => {
                module.section(&wasm_encoder::DataCountSection { count: *count });
            }
            Section::Code => {
                let mut code = wasm_encoder::CodeSection::new();
                for body in bodies.take().unwrap_or_default() {
                    code.function(&body);
                }
                for f in &add.functions {
                    code.function(&f.body);
                }
                module.section(&code);
            }
            Section::Data(reader) => {
                let mut data = wasm_encoder::DataSection::new();
                remap
                    .parse_data_section(&mut data, reader.clone())
                    .map_err(reencode_error)?;
                module.section(&data);
            }
            Section::Custom(reader) => {
                if let wasmparser::KnownCustom::Name(names) = reader.as_known() {
                    let names = remap.custom_name_section(names).map_err(reencode_error)?;
                    module.section(&names);
                } else {
                    module.section(&wasm_encoder::CustomSection {
                        name: reader.name().into(),
                        data: reader.data().into(),
                    });
                }
            }
        }
    }
    emit_missing(&mut module, add, &mut bodies, emitted, u8::MAX)?;
    Ok(module.finish())
}

/// Emits the sections ranked after `after` and before `before` that the original
/// module lacks but the additions need.
fn emit_missing(
    module: &mut wasm_encoder::Module,
    add: &Additions,
    bodies: &mut Option<Vec<wasm_encoder::Function>>,
    after: u8,
    before: u8,
) -> Result<(), Error> {
    let wanted = |rank: u8| rank > after && rank < before;
    if wanted(RANK_TYPE) && !add.types.is_empty() {
        let mut types = wasm_encoder::TypeSection::new();
        for ty in &add.types {
            types.ty().func_type(ty);
        }
        module.section(&types);
    }
    let any_import = !add.function_imports.is_empty()
        || !add.memory_imports.is_empty()
        || !add.global_imports.is_empty();
    if wanted(RANK_IMPORT) && any_import {
        let mut imports = wasm_encoder::ImportSection::new();
        push_imports(&mut imports, add);
        module.section(&imports);
    }
    if wanted(RANK_FUNCTION) && !add.functions.is_empty() {
        let mut functions = wasm_encoder::FunctionSection::new();
        for f in &add.functions {
            functions.function(f.type_index);
        }
        module.section(&functions);
    }
    if wanted(RANK_MEMORY) && !add.memories.is_empty() {
        let mut memories = wasm_encoder::MemorySection::new();
        for memory in &add.memories {
            memories.memory(*memory);
        }
        module.section(&memories);
    }
    if wanted(RANK_GLOBAL) && !add.globals.is_empty() {
        let mut globals = wasm_encoder::GlobalSection::new();
        for (ty, init) in &add.globals {
            globals.global(*ty, init);
        }
        module.section(&globals);
    }
    if wanted(RANK_EXPORT) && !add.exports.is_empty() {
        let mut exports = wasm_encoder::ExportSection::new();
        for (name, kind, index) in &add.exports {
            exports.export(name, *kind, *index);
        }
        module.section(&exports);
    }
    if wanted(RANK_CODE) {
        let own = bodies.take().unwrap_or_default();
        if !own.is_empty() || !add.functions.is_empty() {
            let mut code = wasm_encoder::CodeSection::new();
            for body in &own {
                code.function(body);
            }
            for f in &add.functions {
                code.function(&f.body);
            }
            module.section(&code);
        }
    }
    Ok(())
}

fn push_imports(imports: &mut wasm_encoder::ImportSection, add: &Additions) {
    for (module, name, ty) in &add.function_imports {
        imports.import(module, name, wasm_encoder::EntityType::Function(*ty));
    }
    for (module, name, ty) in &add.memory_imports {
        imports.import(module, name, wasm_encoder::EntityType::Memory(*ty));
    }
    for (module, name, ty) in &add.global_imports {
        imports.import(module, name, wasm_encoder::EntityType::Global(*ty));
    }
}
