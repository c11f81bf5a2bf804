//! [`Additions`]: what a pass adds to the module (types, imports, memories, globals,
//! functions, exports), with the final index of each.

use super::added::{Added, AddedFunction};
use super::remap::{Counts, Remap};
use crate::error::fail;
use alloc::string::ToString;
use alloc::vec::Vec;
use anyhow::Error;

/// What a pass adds to the module. Indices returned are final (in the rewritten
/// module's index spaces). Imports come first: once anything else was added or a
/// body was rewritten, adding an import fails.
#[derive(Default)]
pub struct Additions {
    /// Memories the pass defines, after the module's own, in order. A pass may
    /// change their types until the module is encoded (e.g. size a memory once it
    /// knows how much it needs, in [`Pass::finish`](super::Pass::finish)).
    pub memories: Vec<wasm_encoder::MemoryType>,
    /// Everything else the pass added.
    pub(super) added: Added,
    base: Counts,
    imports_frozen: bool,
}

impl core::fmt::Debug for Additions {
    fn fmt(&self, f: &mut core::fmt::Formatter<'_>) -> core::fmt::Result {
        f.debug_struct("Additions")
            .field("types", &self.added.types.len())
            .field("function_imports", &self.added.function_imports)
            .field("memories", &self.memories.len())
            .field("tables", &self.added.tables.len())
            .field("globals", &self.added.globals.len())
            .field("functions", &self.added.functions.len())
            .field("exports", &self.added.exports)
            .finish_non_exhaustive()
    }
}

/// The index of the last of `len` items whose first has index `first`, that is
/// `first + len - 1`. The layer's counts are at most 2^24 and a pass adds few items,
/// so it never saturates in practice; it is checked all the same.
fn last_of(first: u32, len: usize) -> u32 {
    let len = u32::try_from(len).unwrap_or(u32::MAX);
    first.saturating_add(len).saturating_sub(1)
}

impl Additions {
    /// Nothing added yet to a module with index spaces of sizes `base`.
    pub(super) fn new(base: Counts) -> Self {
        Additions {
            base,
            ..Additions::default()
        }
    }

    /// Adds a function type; returns its type index.
    pub fn add_type(
        &mut self,
        params: impl IntoIterator<Item = wasm_encoder::ValType>,
        results: impl IntoIterator<Item = wasm_encoder::ValType>,
    ) -> u32 {
        self.added
            .types
            .push(wasm_encoder::FuncType::new(params, results));
        last_of(self.base.types, self.added.types.len())
    }

    /// Imports a function of type `type_index`; returns its function index. The
    /// module's own functions move up by one: the layer remaps them.
    ///
    /// # Errors
    ///
    /// [`ErrorKind::Invalid`](crate::ErrorKind::Invalid) when something other than an import was added
    /// already, or bodies are being rewritten (add imports first, in
    /// [`Pass::begin`](super::Pass::begin)).
    pub fn import_function(
        &mut self,
        module: &str,
        name: &str,
        type_index: u32,
    ) -> Result<u32, Error> {
        self.check_imports_open()?;
        self.added
            .function_imports
            .push((module.to_string(), name.to_string(), type_index));
        Ok(last_of(
            self.base.imported_functions,
            self.added.function_imports.len(),
        ))
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
        self.added
            .memory_imports
            .push((module.to_string(), name.to_string(), ty));
        Ok(last_of(
            self.base.imported_memories,
            self.added.memory_imports.len(),
        ))
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
        self.added
            .global_imports
            .push((module.to_string(), name.to_string(), ty));
        Ok(last_of(
            self.base.imported_globals,
            self.added.global_imports.len(),
        ))
    }

    /// Defines a memory after the module's own; returns its memory index.
    pub fn add_memory(&mut self, ty: wasm_encoder::MemoryType) -> u32 {
        self.imports_frozen = true;
        self.memories.push(ty);
        last_of(
            self.base.memories,
            self.added.memory_imports.len() + self.memories.len(),
        )
    }

    /// Defines a table after the module's own; returns its table index. No other
    /// index moves: the module's own tables keep theirs.
    pub fn add_table(&mut self, ty: wasm_encoder::TableType) -> u32 {
        self.imports_frozen = true;
        self.added.tables.push(ty);
        last_of(self.base.tables, self.added.tables.len())
    }

    /// Defines a global after the module's own; returns its global index.
    pub fn add_global(
        &mut self,
        ty: wasm_encoder::GlobalType,
        init: &wasm_encoder::ConstExpr,
    ) -> u32 {
        self.imports_frozen = true;
        self.added.globals.push((ty, init.clone()));
        last_of(
            self.base.globals,
            self.added.global_imports.len() + self.added.globals.len(),
        )
    }

    /// Defines a function after the module's own; returns its function index. Its
    /// body refers to functions, memories and globals by their final indices.
    pub fn add_function(&mut self, type_index: u32, body: wasm_encoder::Function) -> u32 {
        self.imports_frozen = true;
        self.added
            .functions
            .push(AddedFunction { type_index, body });
        last_of(
            self.base.functions,
            self.added.function_imports.len() + self.added.functions.len(),
        )
    }

    /// Replaces the body of function `index`, one this pass added (e.g. a helper
    /// added in [`Pass::begin`](super::Pass::begin) whose body depends on what the
    /// bodies needed).
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
        let first = last_of(self.base.functions, self.added.function_imports.len() + 1);
        let slot = index
            .checked_sub(first)
            .and_then(|i| self.added.functions.get_mut(i as usize))
            .ok_or_else(|| fail!(Invalid, "function {index} was not added by this pass"))?;
        slot.body = body;
        Ok(())
    }

    /// Exports an item by its final index.
    pub fn export(&mut self, name: &str, kind: wasm_encoder::ExportKind, index: u32) {
        self.added.exports.push((name.to_string(), kind, index));
    }

    /// The final index of the module's function `original`.
    pub fn function_index(&self, original: u32) -> u32 {
        self.remap().function(original)
    }

    /// Refuses imports from now on (bodies are about to be rewritten).
    pub(super) fn freeze_imports(&mut self) {
        self.imports_frozen = true;
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

    /// How the module's own indices move past what this pass imported.
    pub(super) fn remap(&self) -> Remap {
        Remap {
            base: self.base,
            functions: u32::try_from(self.added.function_imports.len()).unwrap_or(u32::MAX),
            memories: u32::try_from(self.added.memory_imports.len()).unwrap_or(u32::MAX),
            globals: u32::try_from(self.added.global_imports.len()).unwrap_or(u32::MAX),
        }
    }
}
