//! Reading a module for rewriting: its sections (kept for encoding), its function
//! bodies, what a pass learns about it ([`ModuleInfo`]) and the sizes of its index
//! spaces. Only core modules are read, not components.

use super::info::ModuleInfo;
use super::remap::Counts;
use super::sections::Section;
use crate::error::fail;
use alloc::string::ToString;
use alloc::vec::Vec;
use anyhow::Error;
use wasmparser::{FunctionBody, Parser, Payload, TypeRef};

/// A module that cannot be read.
fn invalid(error: wasmparser::BinaryReaderError) -> Error {
    fail!(Invalid, "cannot read the wasm module: {error}")
}

/// A module read for rewriting.
pub(super) struct Module<'a> {
    /// Its standard and custom sections, in order.
    pub(super) sections: Vec<Section<'a>>,
    /// The bodies of its own functions, in order.
    pub(super) bodies: Vec<FunctionBody<'a>>,
    /// What a pass learns about it.
    pub(super) info: ModuleInfo,
    /// The sizes of its index spaces.
    pub(super) counts: Counts,
}

/// Reads `wasm`, a core module.
///
/// # Errors
///
/// [`ErrorKind::Invalid`](crate::ErrorKind::Invalid) when the module cannot be read, is
/// a component or has a section the layer does not know.
pub(super) fn read(wasm: &[u8]) -> Result<Module<'_>, Error> {
    let mut reader = Reader::default();
    for payload in Parser::new(0).parse_all(wasm) {
        reader.payload(payload.map_err(invalid)?)?;
    }
    Ok(reader.finish())
}

/// A module being read, payload by payload.
#[derive(Default)]
struct Reader<'a> {
    sections: Vec<Section<'a>>,
    bodies: Vec<FunctionBody<'a>>,
    info: ModuleInfo,
    defined_functions: u32,
    defined_memories: u32,
    defined_globals: u32,
}

impl<'a> Reader<'a> {
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
            Payload::TableSection(reader) => self.sections.push(Section::Table(reader)),
            Payload::MemorySection(reader) => {
                self.defined_memories = reader.count();
                self.sections.push(Section::Memory(reader));
            }
            Payload::TagSection(reader) => self.sections.push(Section::Tag(reader)),
            Payload::GlobalSection(reader) => {
                self.defined_globals = reader.count();
                self.sections.push(Section::Global(reader));
            }
            Payload::ExportSection(reader) => self.exports(reader)?,
            Payload::StartSection { func, .. } => self.sections.push(Section::Start(func)),
            Payload::ElementSection(reader) => self.sections.push(Section::Element(reader)),
            Payload::DataCountSection { count, .. } => {
                self.sections.push(Section::DataCount(count));
            }
            Payload::DataSection(reader) => self.sections.push(Section::Data(reader)),
            Payload::CodeSectionStart { .. } => self.sections.push(Section::Code),
            Payload::CodeSectionEntry(body) => self.bodies.push(body),
            Payload::CustomSection(reader) => {
                self.names(&reader);
                self.sections.push(Section::Custom(reader));
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

    /// The function types of the type section.
    fn types(&mut self, reader: wasmparser::TypeSectionReader<'a>) -> Result<(), Error> {
        for group in reader.clone() {
            for sub in group.map_err(invalid)?.into_types() {
                self.info.types.push(match sub.composite_type.inner {
                    wasmparser::CompositeInnerType::Func(f) => Some(f),
                    _ => None,
                });
            }
        }
        self.sections.push(Section::Type(reader));
        Ok(())
    }

    /// The imported functions (with their types), memories and globals.
    fn imports(&mut self, reader: wasmparser::ImportSectionReader<'a>) -> Result<(), Error> {
        for import in reader.clone() {
            match import.map_err(invalid)?.ty {
                TypeRef::Func(ty) => {
                    self.info.imported_functions += 1;
                    self.info.function_types.push(ty);
                }
                TypeRef::Memory(_) => self.info.imported_memories += 1,
                TypeRef::Global(_) => self.info.imported_globals += 1,
                _ => {}
            }
        }
        self.sections.push(Section::Import(reader));
        Ok(())
    }

    /// The types of the module's own functions.
    fn functions(&mut self, reader: wasmparser::FunctionSectionReader<'a>) -> Result<(), Error> {
        for ty in reader.clone() {
            self.info.function_types.push(ty.map_err(invalid)?);
            self.defined_functions += 1;
        }
        self.sections.push(Section::Function(reader));
        Ok(())
    }

    /// The names the module exports.
    fn exports(&mut self, reader: wasmparser::ExportSectionReader<'a>) -> Result<(), Error> {
        for export in reader.clone() {
            self.info
                .export_names
                .push(export.map_err(invalid)?.name.to_string());
        }
        self.sections.push(Section::Export(reader));
        Ok(())
    }

    /// The function names of a `name` section (other custom sections: nothing).
    fn names(&mut self, reader: &wasmparser::CustomSectionReader<'a>) {
        if let wasmparser::KnownCustom::Name(names) = reader.as_known() {
            for name in names {
                if let Ok(wasmparser::Name::Function(map)) = name {
                    for naming in map.into_iter().flatten() {
                        self.info
                            .function_names
                            .insert(naming.index, naming.name.to_string());
                    }
                }
            }
        }
    }

    /// The module read, with the sizes of its index spaces.
    fn finish(mut self) -> Module<'a> {
        let info = &mut self.info;
        info.memories = info.imported_memories + self.defined_memories;
        info.globals = info.imported_globals + self.defined_globals;
        let counts = Counts {
            types: info.types.len() as u32,
            imported_functions: info.imported_functions,
            functions: info.imported_functions + self.defined_functions,
            imported_memories: info.imported_memories,
            memories: info.memories,
            imported_globals: info.imported_globals,
            globals: info.globals,
        };
        Module {
            sections: self.sections,
            bodies: self.bodies,
            info: self.info,
            counts,
        }
    }
}
