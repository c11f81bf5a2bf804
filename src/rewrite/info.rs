//! [`ModuleInfo`]: what a pass learns about the module before rewriting it.

use alloc::string::String;
use alloc::vec::Vec;
use std::collections::BTreeMap;
use wasmparser::FuncType;

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
