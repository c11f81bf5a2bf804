//! Encoding the rewritten module: each original section copied as it is when nothing
//! in it changes (no addition of its kind, no index moved), else re-encoded with its
//! indices remapped and the additions of its kind appended; the sections the
//! original lacks inserted where the additions need them, in the order the binary
//! format requires.

use super::added::Added;
use super::limits::Usage;
use super::remap::Remap;
use super::sections::{
    Code, Kept, Section, RANK_CODE, RANK_EXPORT, RANK_FUNCTION, RANK_GLOBAL, RANK_IMPORT,
    RANK_MEMORY, RANK_TABLE, RANK_TYPE,
};
use crate::error::fail;
use alloc::vec::Vec;
use anyhow::Error;
use wasm_encoder::reencode::Reencode;
use wasm_encoder::Encode;

/// A part of the module that cannot be encoded again.
fn reencode_error<E: core::fmt::Display>(error: E) -> Error {
    fail!(Invalid, "cannot re-encode the wasm module: {error}")
}

/// Writes the new module from the original `wasm` and its `sections`, the module's own
/// rewritten bodies (`code`) and what the pass `added` (and its memories), with the
/// module's own indices moved as `remap` says. What it writes is counted in `usage`.
///
/// # Errors
///
/// [`ErrorKind::Invalid`](crate::ErrorKind::Invalid) when a section cannot be
/// encoded again; [`ErrorKind::LimitExceeded`](crate::ErrorKind::LimitExceeded) past
/// the cap of `usage`.
pub(super) fn encode(
    wasm: &[u8],
    sections: &[Kept<'_>],
    (added, memories, remap): (&Added, &[wasm_encoder::MemoryType], Remap),
    code: Code,
    usage: &mut Usage,
) -> Result<Vec<u8>, Error> {
    let mut encoder = Encoder {
        module: wasm_encoder::Module::new(),
        wasm,
        add: added,
        memories,
        remap,
        code: Some(code),
        emitted: 0,
        usage,
    };
    for kept in sections {
        if let Some(rank) = kept.section.rank() {
            encoder.emit_missing(rank)?;
            encoder.emitted = rank;
        }
        encoder.section(kept)?;
    }
    encoder.emit_missing(u8::MAX)?;
    Ok(encoder.module.finish())
}

/// The module being written.
struct Encoder<'a, 'u> {
    module: wasm_encoder::Module,
    /// The original module.
    wasm: &'a [u8],
    add: &'a Added,
    memories: &'a [wasm_encoder::MemoryType],
    remap: Remap,
    /// The module's own bodies, until the code section is written.
    code: Option<Code>,
    /// The rank of the last standard section written.
    emitted: u8,
    usage: &'u mut Usage,
}

impl Encoder<'_, '_> {
    /// Appends a section, counting its bytes.
    fn push(&mut self, section: &impl wasm_encoder::Section) -> Result<(), Error> {
        let before = self.module.as_slice().len();
        self.module.section(section);
        self.usage.charge(self.module.as_slice().len() - before)
    }

    /// Whether the pass added items of the kind `section` holds (its entries are then
    /// re-encoded and the additions appended).
    fn has_additions(&self, section: &Section<'_>) -> bool {
        let add = self.add;
        match section {
            Section::Type(_) => !add.types.is_empty(),
            Section::Import(_) => add.has_imports(),
            Section::Function(_) => !add.functions.is_empty(),
            Section::Table(_) => !add.tables.is_empty(),
            Section::Memory(_) => !self.memories.is_empty(),
            Section::Global(_) => !add.globals.is_empty(),
            Section::Export(_) => !add.exports.is_empty(),
            Section::Code => true,
            _ => false,
        }
    }

    /// Writes one original section, with the additions of its kind.
    fn section(&mut self, kept: &Kept<'_>) -> Result<(), Error> {
        let section = &kept.section;
        if self.remap.is_identity() && !self.has_additions(section) {
            let data = self
                .wasm
                .get(kept.range.clone())
                .ok_or_else(|| fail!(Invalid, "a section lies outside the module's bytes"))?;
            return self.push(&wasm_encoder::RawSection {
                id: section.id(),
                data,
            });
        }
        match section {
            Section::Type(reader) => self.types(Some(reader))?,
            Section::Import(reader) => self.imports(Some(reader))?,
            Section::Function(reader) => self.functions(Some(reader))?,
            Section::Table(reader) => self.tables(Some(reader))?,
            Section::Memory(reader) => self.memories(Some(reader))?,
            Section::Tag(reader) => {
                let mut tags = wasm_encoder::TagSection::new();
                self.remap
                    .parse_tag_section(&mut tags, reader.clone())
                    .map_err(reencode_error)?;
                self.push(&tags)?;
            }
            Section::Global(reader) => self.globals(Some(reader))?,
            Section::Export(reader) => self.exports(Some(reader))?,
            Section::Start(func) => {
                let start = wasm_encoder::StartSection {
                    function_index: self.remap.function(*func),
                };
                self.push(&start)?;
            }
            Section::Element(reader) => {
                let mut elements = wasm_encoder::ElementSection::new();
                self.remap
                    .parse_element_section(&mut elements, reader.clone())
                    .map_err(reencode_error)?;
                self.push(&elements)?;
            }
            Section::DataCount(count) => {
                self.push(&wasm_encoder::DataCountSection { count: *count })?;
            }
            Section::Code => self.code()?,
            Section::Data(reader) => {
                let mut data = wasm_encoder::DataSection::new();
                self.remap
                    .parse_data_section(&mut data, reader.clone())
                    .map_err(reencode_error)?;
                self.push(&data)?;
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
        if wanted(RANK_TABLE) && !add.tables.is_empty() {
            self.tables(None)?;
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
            let own = self.code.as_ref().map_or(0, |code| code.count);
            if own != 0 || !add.functions.is_empty() {
                self.code()?;
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
        self.push(&types)
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
        self.push(&imports)
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
        self.push(&functions)
    }

    /// The table section: the original's tables, then the added ones.
    fn tables(
        &mut self,
        original: Option<&wasmparser::TableSectionReader<'_>>,
    ) -> Result<(), Error> {
        let mut tables = wasm_encoder::TableSection::new();
        if let Some(reader) = original {
            self.remap
                .parse_table_section(&mut tables, reader.clone())
                .map_err(reencode_error)?;
        }
        for table in &self.add.tables {
            tables.table(*table);
        }
        self.push(&tables)
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
        self.push(&memories)
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
        self.push(&globals)
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
        self.push(&exports)
    }

    /// The code section: the module's own bodies, then the added functions'.
    fn code(&mut self) -> Result<(), Error> {
        let Some(mut code) = self.code.take() else {
            return Ok(());
        };
        let added = u32::try_from(self.add.functions.len()).unwrap_or(u32::MAX);
        code.set_count(code.count.saturating_add(added));
        for f in &self.add.functions {
            f.body.encode(&mut code.bodies);
        }
        self.push(&wasm_encoder::RawSection {
            id: 10,
            data: &code.bodies,
        })?;
        self.usage.release(code.bodies.len());
        Ok(())
    }

    /// A custom section: the `name` section with its indices remapped, any other as
    /// it was.
    fn custom(&mut self, reader: &wasmparser::CustomSectionReader<'_>) -> Result<(), Error> {
        if let wasmparser::KnownCustom::Name(names) = reader.as_known() {
            let names = self
                .remap
                .custom_name_section(names)
                .map_err(reencode_error)?;
            self.push(&names)
        } else {
            self.push(&wasm_encoder::CustomSection {
                name: reader.name().into(),
                data: reader.data().into(),
            })
        }
    }
}
