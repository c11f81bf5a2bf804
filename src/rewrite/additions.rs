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
            .field("globals", &self.added.globals.len())
            .field("functions", &self.added.functions.len())
            .field("exports", &self.added.exports)
            .finish_non_exhaustive()
    }
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
        self.base.types + self.added.types.len() as u32 - 1
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
        Ok(self.base.imported_functions + self.added.function_imports.len() as u32 - 1)
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
        Ok(self.base.imported_memories + self.added.memory_imports.len() as u32 - 1)
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
        Ok(self.base.imported_globals + self.added.global_imports.len() as u32 - 1)
    }

    /// Defines a memory after the module's own; returns its memory index.
    pub fn add_memory(&mut self, ty: wasm_encoder::MemoryType) -> u32 {
        self.imports_frozen = true;
        self.memories.push(ty);
        self.base.memories + self.added.memory_imports.len() as u32 + self.memories.len() as u32 - 1
    }

    /// Defines a global after the module's own; returns its global index.
    pub fn add_global(
        &mut self,
        ty: wasm_encoder::GlobalType,
        init: &wasm_encoder::ConstExpr,
    ) -> u32 {
        self.imports_frozen = true;
        self.added.globals.push((ty, init.clone()));
        self.base.globals + self.added.global_imports.len() as u32 + self.added.globals.len() as u32
            - 1
    }

    /// Defines a function after the module's own; returns its function index. Its
    /// body refers to functions, memories and globals by their final indices.
    pub fn add_function(&mut self, type_index: u32, body: wasm_encoder::Function) -> u32 {
        self.imports_frozen = true;
        self.added
            .functions
            .push(AddedFunction { type_index, body });
        self.base.functions
            + self.added.function_imports.len() as u32
            + self.added.functions.len() as u32
            - 1
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
        let first = self.base.functions + self.added.function_imports.len() as u32;
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
            functions: self.added.function_imports.len() as u32,
            memories: self.added.memory_imports.len() as u32,
            globals: self.added.global_imports.len() as u32,
        }
    }
}
