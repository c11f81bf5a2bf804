//! [`Added`]: what a pass added, as lists in the order the items get their indices.
//! [`Additions`](super::Additions) fills them; the encoder writes them after the
//! module's own items of each kind.

use alloc::string::String;
use alloc::vec::Vec;

/// A function a pass adds, with its body.
pub(super) struct AddedFunction {
    /// Its type index.
    pub(super) type_index: u32,
    /// Its body (final indices).
    pub(super) body: wasm_encoder::Function,
}

/// What a pass added (memories aside: they are the public
/// [`Additions::memories`](super::Additions::memories)).
#[derive(Default)]
pub(super) struct Added {
    /// Function types.
    pub(super) types: Vec<wasm_encoder::FuncType>,
    /// Imported functions: module, name, type index.
    pub(super) function_imports: Vec<(String, String, u32)>,
    /// Imported memories: module, name, type.
    pub(super) memory_imports: Vec<(String, String, wasm_encoder::MemoryType)>,
    /// Imported globals: module, name, type.
    pub(super) global_imports: Vec<(String, String, wasm_encoder::GlobalType)>,
    /// Defined tables.
    pub(super) tables: Vec<wasm_encoder::TableType>,
    /// Defined globals and their initial values.
    pub(super) globals: Vec<(wasm_encoder::GlobalType, wasm_encoder::ConstExpr)>,
    /// Defined functions.
    pub(super) functions: Vec<AddedFunction>,
    /// Exports: name, kind, final index.
    pub(super) exports: Vec<(String, wasm_encoder::ExportKind, u32)>,
}

impl Added {
    /// True when the pass imported anything.
    pub(super) fn has_imports(&self) -> bool {
        !self.function_imports.is_empty()
            || !self.memory_imports.is_empty()
            || !self.global_imports.is_empty()
    }
}
