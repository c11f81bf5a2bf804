//! The linear memories of a plug-in's module instances, found once, when each module
//! is instantiated.
//!
//! WASI and the bulk copies work on the linear memory (the `memory` export) of the
//! module that calls them. Each of their host functions is made for one module's slot
//! and takes the memory from here, instead of looking the calling instance's export up
//! through the engine on every call (`Caller::get_export`, which crashes wasmi 2.0.0
//! in 32-bit x86 builds). The main module's memory is in [`MAIN_MODULE_SLOT`]; the
//! other modules' follow it, in the order they are instantiated.

use alloc::vec::Vec;
use wasmi::Memory;

/// The slot of the main module's linear memory.
pub(crate) const MAIN_MODULE_SLOT: usize = 0;

/// The linear memory of each module instance of a plug-in, by slot.
#[derive(Debug, Default)]
pub(crate) struct LinearMemories {
    /// The main module's ([`MAIN_MODULE_SLOT`]).
    main: Option<Memory>,
    /// The other modules', from slot 1 on.
    others: Vec<Option<Memory>>,
}

impl LinearMemories {
    /// The linear memory of the module in `slot`; `None` when it exports none or is
    /// not instantiated yet (its start function is running).
    #[inline]
    pub(crate) fn get(&self, slot: usize) -> Option<Memory> {
        match slot.checked_sub(1) {
            None => self.main,
            Some(other) => self.others.get(other).copied().flatten(),
        }
    }

    /// Records the linear memory of the module in `slot`.
    pub(crate) fn set(&mut self, slot: usize, memory: Option<Memory>) {
        let Some(other) = slot.checked_sub(1) else {
            self.main = memory;
            return;
        };
        if self.others.len() <= other {
            self.others.resize(other + 1, None);
        }
        if let Some(entry) = self.others.get_mut(other) {
            *entry = memory;
        }
    }
}
