//! Reading a module for rewriting: its sections (kept for encoding, with where their
//! bytes lie), its function bodies, what a pass learns about it ([`ModuleInfo`]) and
//! the sizes of its index spaces. Only core modules are read, not components.
//!
//! Every count is checked against [`MAX_ITEMS`], so that index arithmetic on them
//! (adding what a pass adds) cannot overflow, whatever the module says.

use super::info::ModuleInfo;
use super::limits::Usage;
use super::remap::Counts;
use super::sections::{Kept, Section};
use crate::error::fail;
use alloc::string::ToString;
use alloc::vec::Vec;
use anyhow::Error;
use core::mem::size_of;
use core::ops::Range;
use wasmparser::{FunctionBody, Parser, Payload, TypeRef};

/// The most items of one kind (types, functions, memories, globals, tables) a module
/// read for rewriting may have: more than any engine accepts (wasmparser's limits
/// are 1 000 000 and lower), low enough that no index arithmetic overflows.
pub(super) const MAX_ITEMS: u32 = 1 << 24;

/// Bytes counted for each function name kept, besides its text (the map's entry).
const NAME_ENTRY_BYTES: usize = 64;

/// A module that cannot be read.
fn invalid(error: wasmparser::BinaryReaderError) -> Error {
    fail!(Invalid, "cannot read the wasm module: {error}")
}

/// A module read for rewriting.
pub(super) struct Module<'a> {
    /// Its standard and custom sections, in order.
    pub(super) sections: Vec<Kept<'a>>,
    /// The bodies of its own functions, in order.
    pub(super) bodies: Vec<FunctionBody<'a>>,
    /// What a pass learns about it.
    pub(super) info: ModuleInfo,
    /// The sizes of its index spaces.
    pub(super) counts: Counts,
}

/// Reads `wasm`, a core module; the function names of its `name` section only when
/// `names`. What it records is counted in `usage`.
///
/// # Errors
///
/// [`ErrorKind::Invalid`](crate::ErrorKind::Invalid) when the module cannot be read, is
/// a component, has a section the layer does not know or more than [`MAX_ITEMS`] items
/// of a kind; [`ErrorKind::LimitExceeded`](crate::ErrorKind::LimitExceeded) when what
/// it records goes past the cap of `usage`.
pub(super) fn read<'a>(
    wasm: &'a [u8],
    names: bool,
    usage: &mut Usage,
) -> Result<Module<'a>, Error> {
    let mut reader = Reader {
        sections: Vec::new(),
        bodies: Vec::new(),
        info: ModuleInfo::default(),
        counts: Counts::default(),
        defined: Counts::default(),
        names,
        usage,
    };
    for payload in Parser::new(0).parse_all(wasm) {
        reader.payload(payload.map_err(invalid)?)?;
    }
    reader.finish()
}

/// `count` items of a kind, checked against [`MAX_ITEMS`].
fn checked(count: u64, what: &str) -> Result<u32, Error> {
    match u32::try_from(count) {
        Ok(count) if count <= MAX_ITEMS => Ok(count),
        _ => Err(fail!(
            Invalid,
            "cannot rewrite a module with more than {MAX_ITEMS} {what}"
        )),
    }
}

/// A module being read, payload by payload.
struct Reader<'a, 'u> {
    sections: Vec<Kept<'a>>,
    bodies: Vec<FunctionBody<'a>>,
    info: ModuleInfo,
    /// Imports and types so far (the module's own items are in `defined`).
    counts: Counts,
    /// The module's own functions, memories, globals and tables so far.
    defined: Counts,
    /// Whether to keep the function names.
    names: bool,
    usage: &'u mut Usage,
}

impl<'a> Reader<'a, '_> {
    /// Keeps a section.
    fn keep(&mut self, section: Section<'a>, range: Range<usize>) -> Result<(), Error> {
        self.usage.charge(size_of::<Kept<'_>>())?;
        self.sections.push(Kept { section, range });
        Ok(())
    }

    /// Takes in one payload.
    fn payload(&mut self, payload: Payload<'a>) -> Result<(), Error> {
        match payload {
            Payload::Version { encoding, .. } => {
                if encoding != wasmparser::Encoding::Module {
                    return Err(fail!(
                        Invalid,
                        "only core wasm modules can be rewritten, not components"
                    ));
                }
            }
            Payload::TypeSection(reader) => self.types(reader)?,
            Payload::ImportSection(reader) => self.imports(reader)?,
            Payload::FunctionSection(reader) => self.functions(reader)?,
            Payload::TableSection(reader) => {
                self.defined.tables = self.add(self.defined.tables, reader.count(), "tables")?;
                let range = reader.range();
                self.keep(Section::Table(reader), range)?;
            }
            Payload::MemorySection(reader) => {
                self.defined.memories =
                    self.add(self.defined.memories, reader.count(), "memories")?;
                let range = reader.range();
                self.keep(Section::Memory(reader), range)?;
            }
            Payload::TagSection(reader) => {
                let range = reader.range();
                self.keep(Section::Tag(reader), range)?;
            }
            Payload::GlobalSection(reader) => {
                self.defined.globals = self.add(self.defined.globals, reader.count(), "globals")?;
                let range = reader.range();
                self.keep(Section::Global(reader), range)?;
            }
            Payload::ExportSection(reader) => self.exports(reader)?,
            Payload::StartSection { func, range } => self.keep(Section::Start(func), range)?,
            Payload::ElementSection(reader) => {
                let range = reader.range();
                self.keep(Section::Element(reader), range)?;
            }
            Payload::DataCountSection { count, range } => {
                self.keep(Section::DataCount(count), range)?;
            }
            Payload::DataSection(reader) => {
                let range = reader.range();
                self.keep(Section::Data(reader), range)?;
            }
            Payload::CodeSectionStart { count, range, .. } => {
                checked(u64::from(count), "function bodies")?;
                self.keep(Section::Code, range)?;
            }
            Payload::CodeSectionEntry(body) => {
                self.usage.charge(size_of::<FunctionBody<'_>>())?;
                self.bodies.push(body);
            }
            Payload::CustomSection(reader) => {
                if self.names {
                    self.names(&reader)?;
                }
                let range = reader.range();
                self.keep(Section::Custom(reader), range)?;
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
        Ok(())
    }

    /// `count + more` items of a kind, checked.
    fn add(&self, count: u32, more: u32, what: &str) -> Result<u32, Error> {
        checked(u64::from(count) + u64::from(more), what)
    }

    /// The function types of the type section.
    fn types(&mut self, reader: wasmparser::TypeSectionReader<'a>) -> Result<(), Error> {
        for group in reader.clone() {
            for sub in group.map_err(invalid)?.into_types() {
                let ty = match sub.composite_type.inner {
                    wasmparser::CompositeInnerType::Func(f) => Some(f),
                    _ => None,
                };
                let params = ty
                    .as_ref()
                    .map_or(0, |f| f.params().len() + f.results().len());
                self.usage
                    .charge(size_of::<Option<wasmparser::FuncType>>() + params)?;
                self.info.types.push(ty);
            }
        }
        self.counts.types = checked(self.info.types.len() as u64, "types")?;
        let range = reader.range();
        self.keep(Section::Type(reader), range)
    }

    /// The imported functions (with their types), memories, globals and tables.
    fn imports(&mut self, reader: wasmparser::ImportSectionReader<'a>) -> Result<(), Error> {
        for import in reader.clone() {
            let counts = &mut self.counts;
            match import.map_err(invalid)?.ty {
                TypeRef::Func(ty) => {
                    counts.imported_functions =
                        checked(u64::from(counts.imported_functions) + 1, "functions")?;
                    self.usage.charge(size_of::<u32>())?;
                    self.info.function_types.push(ty);
                }
                TypeRef::Memory(_) => {
                    counts.imported_memories =
                        checked(u64::from(counts.imported_memories) + 1, "memories")?;
                }
                TypeRef::Global(_) => {
                    counts.imported_globals =
                        checked(u64::from(counts.imported_globals) + 1, "globals")?;
                }
                TypeRef::Table(_) => {
                    counts.imported_tables =
                        checked(u64::from(counts.imported_tables) + 1, "tables")?;
                }
                TypeRef::Tag(_) => {}
            }
        }
        let range = reader.range();
        self.keep(Section::Import(reader), range)
    }

    /// The types of the module's own functions.
    fn functions(&mut self, reader: wasmparser::FunctionSectionReader<'a>) -> Result<(), Error> {
        for ty in reader.clone() {
            self.usage.charge(size_of::<u32>())?;
            self.info.function_types.push(ty.map_err(invalid)?);
            self.defined.functions = checked(u64::from(self.defined.functions) + 1, "functions")?;
        }
        let range = reader.range();
        self.keep(Section::Function(reader), range)
    }

    /// The names the module exports.
    fn exports(&mut self, reader: wasmparser::ExportSectionReader<'a>) -> Result<(), Error> {
        for export in reader.clone() {
            let name = export.map_err(invalid)?.name;
            self.usage
                .charge(size_of::<alloc::string::String>() + name.len())?;
            self.info.export_names.push(name.to_string());
        }
        let range = reader.range();
        self.keep(Section::Export(reader), range)
    }

    /// The function names of a `name` section (other custom sections: nothing). Names
    /// of functions the module does not have are left out.
    fn names(&mut self, reader: &wasmparser::CustomSectionReader<'a>) -> Result<(), Error> {
        let wasmparser::KnownCustom::Name(names) = reader.as_known() else {
            return Ok(());
        };
        let functions =
            u64::from(self.counts.imported_functions) + u64::from(self.defined.functions);
        for name in names {
            let Ok(wasmparser::Name::Function(map)) = name else {
                continue;
            };
            for naming in map.into_iter().flatten() {
                if u64::from(naming.index) >= functions {
                    continue;
                }
                self.usage.charge(NAME_ENTRY_BYTES + naming.name.len())?;
                self.info
                    .function_names
                    .insert(naming.index, naming.name.to_string());
            }
        }
        Ok(())
    }

    /// The module read, with the sizes of its index spaces.
    fn finish(self) -> Result<Module<'a>, Error> {
        let mut counts = self.counts;
        let defined = self.defined;
        counts.functions = self.add(counts.imported_functions, defined.functions, "functions")?;
        counts.memories = self.add(counts.imported_memories, defined.memories, "memories")?;
        counts.globals = self.add(counts.imported_globals, defined.globals, "globals")?;
        counts.tables = self.add(counts.imported_tables, defined.tables, "tables")?;
        let mut info = self.info;
        info.imported_functions = counts.imported_functions;
        info.imported_memories = counts.imported_memories;
        info.imported_globals = counts.imported_globals;
        info.memories = counts.memories;
        info.globals = counts.globals;
        Ok(Module {
            sections: self.sections,
            bodies: self.bodies,
            info,
            counts,
        })
    }
}
