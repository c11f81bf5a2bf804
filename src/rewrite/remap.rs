//! Index remapping: the sizes of the original module's index spaces ([`Counts`]) and
//! [`Remap`], which moves the module's own functions, memories and globals past the
//! imports a pass added (an imported item comes before the module's own ones in its
//! index space, so adding one shifts them).

use core::convert::Infallible;
use wasm_encoder::reencode::Reencode;

/// Sizes of the original module's index spaces.
#[derive(Debug, Clone, Copy, Default)]
pub(super) struct Counts {
    /// Types.
    pub(super) types: u32,
    /// Imported functions.
    pub(super) imported_functions: u32,
    /// Functions (imported and defined).
    pub(super) functions: u32,
    /// Imported memories.
    pub(super) imported_memories: u32,
    /// Memories (imported and defined).
    pub(super) memories: u32,
    /// Imported globals.
    pub(super) imported_globals: u32,
    /// Globals (imported and defined).
    pub(super) globals: u32,
}

/// Moves the module's own functions, memories and globals past added imports.
#[derive(Debug, Clone, Copy)]
pub(super) struct Remap {
    /// The original module's index spaces.
    pub(super) base: Counts,
    /// Functions imported by the pass.
    pub(super) functions: u32,
    /// Memories imported by the pass.
    pub(super) memories: u32,
    /// Globals imported by the pass.
    pub(super) globals: u32,
}

impl Remap {
    /// The final index of the module's function `index`.
    pub(super) fn function(&self, index: u32) -> u32 {
        shift(index, self.base.imported_functions, self.functions)
    }
}

/// `index` moved past `added` imports when it is not one of the `imported` ones.
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
