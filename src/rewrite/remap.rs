//! Index remapping: the sizes of the original module's index spaces ([`Counts`]) and
//! [`Remap`], which moves the module's own functions, memories and globals past the
//! imports a pass added (an imported item comes before the module's own ones in its
//! index space, so adding one shifts them).

use core::convert::Infallible;
use wasm_encoder::reencode::Reencode;

/// Sizes of the original module's index spaces, each at most
/// [`MAX_ITEMS`](super::read::MAX_ITEMS).
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
    /// Imported tables.
    pub(super) imported_tables: u32,
    /// Tables (imported and defined).
    pub(super) tables: u32,
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
        shift(
            index,
            self.base.imported_functions,
            self.base.functions,
            self.functions,
        )
    }

    /// True when no index moves: original bytes can be copied as they are.
    pub(super) fn is_identity(&self) -> bool {
        self.functions == 0 && self.memories == 0 && self.globals == 0
    }
}

/// `index` moved past `added` imports when it is one of the module's own items
/// (`imported <= index < total`). An index past the last item (in an invalid body or
/// a `name` section) stays as it is: validation refuses the first, the second names
/// nothing either way. Checked: an index never wraps around.
fn shift(index: u32, imported: u32, total: u32, added: u32) -> u32 {
    if index < imported || index >= total {
        return index;
    }
    index.checked_add(added).unwrap_or(index)
}

impl Reencode for Remap {
    type Error = Infallible;

    fn function_index(&mut self, func: u32) -> u32 {
        self.function(func)
    }

    fn memory_index(&mut self, memory: u32) -> u32 {
        shift(
            memory,
            self.base.imported_memories,
            self.base.memories,
            self.memories,
        )
    }

    fn global_index(&mut self, global: u32) -> u32 {
        shift(
            global,
            self.base.imported_globals,
            self.base.globals,
            self.globals,
        )
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn indices_past_the_module_or_near_the_top_never_wrap() {
        assert_eq!(shift(u32::MAX, 2, 10, 3), u32::MAX);
        assert_eq!(shift(1, 2, 10, 3), 1);
        assert_eq!(shift(2, 2, 10, 3), 5);
        assert_eq!(shift(10, 2, 10, 3), 10);
        assert_eq!(shift(u32::MAX - 1, 0, u32::MAX, 3), u32::MAX - 1);
    }
}
