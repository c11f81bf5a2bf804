//! Encoding the rewritten module: each original section re-encoded with its indices
//! remapped and the additions of its kind appended, and the sections the original
//! lacks inserted where the additions need them, in the order the binary format
//! requires.

use super::added::Added;
use super::remap::Remap;
use super::sections::{
    Section, RANK_CODE, RANK_EXPORT, RANK_FUNCTION, RANK_GLOBAL, RANK_IMPORT, RANK_MEMORY,
    RANK_TYPE,
};
use crate::error::fail;
use alloc::vec::Vec;
use anyhow::Error;
use wasm_encoder::reencode::Reencode;

/// A part of the module that cannot be encoded again.
fn reencode_error<E: core::fmt::Display>(error: E) -> Error {
    fail!(Invalid, "cannot re-encode the wasm module: {error}")
}

/// Writes the new module from the original's `sections`, the module's own rewritten
/// `bodies` and what the pass `added` (and its `memories`), with the module's own
/// indices moved as `remap` says.
///
/// # Errors
///
/// [`ErrorKind::Invalid`](crate::ErrorKind::Invalid) when a section cannot be
/// encoded again.
pub(super) fn encode(
    sections: &[Section<'_>],
    added: &Added,
    memories: &[wasm_encoder::MemoryType],
    remap: Remap,
    bodies: Vec<wasm_encoder::Function>,
) -> Result<Vec<u8>, Error> {
    let mut encoder = Encoder {
        module: wasm_encoder::Module::new(),
        add: added,
        memories,
        remap,
        bodies: Some(bodies),
        emitted: 0,
    };
    for section in sections {
        if let Some(rank) = section.rank() {
            encoder.emit_missing(rank)?;
            encoder.emitted = rank;
        }
        encoder.section(section)?;
    }
    encoder.emit_missing(u8::MAX)?;
    Ok(encoder.module.finish())
}

/// The module being written.
struct Encoder<'a> {
    module: wasm_encoder::Module,
    add: &'a Added,
    memories: &'a [wasm_encoder::MemoryType],
    remap: Remap,
    /// The module's own bodies, until the code section is written.
    bodies: Option<Vec<wasm_encoder::Function>>,
    /// The rank of the last standard section written.
    emitted: u8,
}

impl Encoder<'_> {
    /// Writes one original section, with the additions of its kind.
    fn section(&mut self, section: &Section<'_>) -> Result<(), Error> {
        match section {
            Section::Type(reader) => self.types(Some(reader))?,
            Section::Import(reader) => self.imports(Some(reader))?,
            Section::Function(reader) => self.functions(Some(reader))?,
            Section::Table(reader) => {
                let mut tables = wasm_encoder::TableSection::new();
                self.remap
                    .parse_table_section(&mut tables, reader.clone())
                    .map_err(reencode_error)?;
                self.module.section(&tables);
            }
            Section::Memory(reader) => self.memories(Some(reader))?,
            Section::Tag(reader) => {
                let mut tags = wasm_encoder::TagSection::new();
                self.remap
                    .parse_tag_section(&mut tags, reader.clone())
                    .map_err(reencode_error)?;
                self.module.section(&tags);
            }
            Section::Global(reader) => self.globals(Some(reader))?,
            Section::Export(reader) => self.exports(Some(reader))?,
            Section::Start(func) => {
                self.module.section(&wasm_encoder::StartSection {
                    function_index: self.remap.function(*func),
                });
            }
            Section::Element(reader) => {
                let mut elements = wasm_encoder::ElementSection::new();
                self.remap
                    .parse_element_section(&mut elements, reader.clone())
                    .map_err(reencode_error)?;
                self.module.section(&elements);
            }
            Section::DataCount(count) => {
                self.module
                    .section(&wasm_encoder::DataCountSection { count: *count });
            }
            Section::Code => {
                let own = self.bodies.take().unwrap_or_default();
                self.code(own);
            }
            Section::Data(reader) => {
                let mut data = wasm_encoder::DataSection::new();
                self.remap
                    .parse_data_section(&mut data, reader.clone())
                    .map_err(reencode_error)?;
                self.module.section(&data);
            }
            Section::Custom(reader) => self.custom(reader)?,
        }
        Ok(())
    }

    /// Writes the sections ranked after the last one written and before `before`
    /// that the original module lacks but the additions need.
    fn emit_missing(&mut self, before: u8) -> Result<(), Error> {
        let after = self.emitted;
        let wanted = |rank: u8| rank > after && rank < before;
        let add = self.add;
        if wanted(RANK_TYPE) && !add.types.is_empty() {
            self.types(None)?;
        }
        if wanted(RANK_IMPORT) && add.has_imports() {
            self.imports(None)?;
        }
        if wanted(RANK_FUNCTION) && !add.functions.is_empty() {
            self.functions(None)?;
        }
        if wanted(RANK_MEMORY) && !self.memories.is_empty() {
            self.memories(None)?;
        }
        if wanted(RANK_GLOBAL) && !add.globals.is_empty() {
            self.globals(None)?;
        }
        if wanted(RANK_EXPORT) && !add.exports.is_empty() {
            self.exports(None)?;
        }
        if wanted(RANK_CODE) {
            let own = self.bodies.take().unwrap_or_default();
            if !own.is_empty() || !add.functions.is_empty() {
                self.code(own);
            }
        }
        Ok(())
    }

    /// The type section: the original's types (if any), then the added ones.
    fn types(&mut self, original: Option<&wasmparser::TypeSectionReader<'_>>) -> Result<(), Error> {
        let mut types = wasm_encoder::TypeSection::new();
        if let Some(reader) = original {
            self.remap
                .parse_type_section(&mut types, reader.clone())
                .map_err(reencode_error)?;
        }
        for ty in &self.add.types {
            types.ty().func_type(ty);
        }
        self.module.section(&types);
        Ok(())
    }

    /// The import section: added imports of a kind come right after the module's own
    /// of that kind, so they sit where the indices say; order between kinds does not
    /// matter.
    fn imports(
        &mut self,
        original: Option<&wasmparser::ImportSectionReader<'_>>,
    ) -> Result<(), Error> {
        let mut imports = wasm_encoder::ImportSection::new();
        if let Some(reader) = original {
            self.remap
                .parse_import_section(&mut imports, reader.clone())
                .map_err(reencode_error)?;
        }
        for (module, name, ty) in &self.add.function_imports {
            imports.import(module, name, wasm_encoder::EntityType::Function(*ty));
        }
        for (module, name, ty) in &self.add.memory_imports {
            imports.import(module, name, wasm_encoder::EntityType::Memory(*ty));
        }
        for (module, name, ty) in &self.add.global_imports {
            imports.import(module, name, wasm_encoder::EntityType::Global(*ty));
        }
        self.module.section(&imports);
        Ok(())
    }

    /// The function section: the original's functions, then the added ones.
    fn functions(
        &mut self,
        original: Option<&wasmparser::FunctionSectionReader<'_>>,
    ) -> Result<(), Error> {
        let mut functions = wasm_encoder::FunctionSection::new();
        if let Some(reader) = original {
            self.remap
                .parse_function_section(&mut functions, reader.clone())
                .map_err(reencode_error)?;
        }
        for f in &self.add.functions {
            functions.function(f.type_index);
        }
        self.module.section(&functions);
        Ok(())
    }

    /// The memory section: the original's memories, then the added ones.
    fn memories(
        &mut self,
        original: Option<&wasmparser::MemorySectionReader<'_>>,
    ) -> Result<(), Error> {
        let mut memories = wasm_encoder::MemorySection::new();
        if let Some(reader) = original {
            self.remap
                .parse_memory_section(&mut memories, reader.clone())
                .map_err(reencode_error)?;
        }
        for memory in self.memories {
            memories.memory(*memory);
        }
        self.module.section(&memories);
        Ok(())
    }

    /// The global section: the original's globals, then the added ones.
    fn globals(
        &mut self,
        original: Option<&wasmparser::GlobalSectionReader<'_>>,
    ) -> Result<(), Error> {
        let mut globals = wasm_encoder::GlobalSection::new();
        if let Some(reader) = original {
            self.remap
                .parse_global_section(&mut globals, reader.clone())
                .map_err(reencode_error)?;
        }
        for (ty, init) in &self.add.globals {
            globals.global(*ty, init);
        }
        self.module.section(&globals);
        Ok(())
    }

    /// The export section: the original's exports, then the added ones.
    fn exports(
        &mut self,
        original: Option<&wasmparser::ExportSectionReader<'_>>,
    ) -> Result<(), Error> {
        let mut exports = wasm_encoder::ExportSection::new();
        if let Some(reader) = original {
            self.remap
                .parse_export_section(&mut exports, reader.clone())
                .map_err(reencode_error)?;
        }
        for (name, kind, index) in &self.add.exports {
            exports.export(name, *kind, *index);
        }
        self.module.section(&exports);
        Ok(())
    }

    /// The code section: the module's own bodies, then the added functions'.
    fn code(&mut self, own: Vec<wasm_encoder::Function>) {
        let mut code = wasm_encoder::CodeSection::new();
        for body in &own {
            code.function(body);
        }
        for f in &self.add.functions {
            code.function(&f.body);
        }
        self.module.section(&code);
    }

    /// A custom section: the `name` section with its indices remapped, any other as
    /// it was.
    fn custom(&mut self, reader: &wasmparser::CustomSectionReader<'_>) -> Result<(), Error> {
        if let wasmparser::KnownCustom::Name(names) = reader.as_known() {
            let names = self
                .remap
                .custom_name_section(names)
                .map_err(reencode_error)?;
            self.module.section(&names);
        } else {
            self.module.section(&wasm_encoder::CustomSection {
                name: reader.name().into(),
                data: reader.data().into(),
            });
        }
        Ok(())
    }
}
