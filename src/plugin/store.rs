//! The engine's store of an instance, and how its linear memories are made.
//!
//! With lazy linear memory ([`LAZY_LINEAR_MEMORY`]) the store is
//! `interplug_os_memory::Store`: the engine's store together with the mappings its
//! memories live in, which it unmaps only after the engine's store is gone (the unsafe
//! code and why it is sound are in that crate). Elsewhere it is the engine's store.
//! Both have the methods the core uses (`new`, `data`, `data_mut`, `get_fuel`,
//! `set_fuel`, `limiter`) and are engine contexts (`AsContext`, `AsContextMut`).
//!
//! [`LAZY_LINEAR_MEMORY`]: crate::limits::linear::LAZY_LINEAR_MEMORY

use crate::host::current_plugin::CurrentPlugin;
use wasmi::{Memory, MemoryType};

pub(crate) use platform::PluginStore;

/// With lazy memory (the same condition as `LAZY_LINEAR_MEMORY`): os-memory's store
/// and memories.
#[cfg(all(
    feature = "std",
    not(miri),
    target_pointer_width = "64",
    any(target_os = "linux", target_os = "android", target_vendor = "apple")
))]
mod platform {
    use wasmi::{Memory, MemoryType};

    use crate::limits::linear::GrowthPrefault;
    pub(crate) use interplug_os_memory::Store as PluginStore;

    /// A lazy memory over `reserve_bytes` of address space; `None` when the system
    /// refuses the reservation (or the memory is one os-memory does not map).
    pub(super) fn lazy_memory<T>(
        store: &mut PluginStore<T>,
        ty: MemoryType,
        reserve_bytes: u64,
    ) -> Option<Result<Memory, wasmi::Error>> {
        match store.new_lazy_memory(ty, reserve_bytes) {
            Ok(memory) => Some(Ok(memory)),
            Err(interplug_os_memory::LazyMemoryError::Engine(error)) => Some(Err(error)),
            Err(_) => None,
        }
    }

    /// Gives back the all-zero resident pages of `grown` in the store's memories.
    pub(super) fn give_back<T>(store: &mut PluginStore<T>, grown: core::ops::Range<u64>) {
        store.give_back_zero_pages(grown);
    }

    /// The prefault for growths of the store's one lazy memory, if it has one.
    pub(super) fn growth_prefault<T>(store: &PluginStore<T>) -> Option<GrowthPrefault> {
        store.growth_prefault()
    }
}

/// Without lazy memory: the engine's store and memories.
#[cfg(not(all(
    feature = "std",
    not(miri),
    target_pointer_width = "64",
    any(target_os = "linux", target_os = "android", target_vendor = "apple")
)))]
mod platform {
    use wasmi::{Memory, MemoryType};

    pub(crate) use wasmi::Store as PluginStore;

    /// Never a lazy memory here.
    pub(super) fn lazy_memory<T>(
        _store: &mut PluginStore<T>,
        _ty: MemoryType,
        _reserve_bytes: u64,
    ) -> Option<Result<Memory, wasmi::Error>> {
        None
    }

    /// Nothing to give back: the engine's memories are its heap buffers.
    pub(super) fn give_back<T>(_store: &mut PluginStore<T>, _grown: core::ops::Range<u64>) {}

    use crate::limits::linear::GrowthPrefault;

    /// No lazy memory, no prefault.
    pub(super) fn growth_prefault<T>(_store: &PluginStore<T>) -> Option<GrowthPrefault> {
        None
    }
}

/// Makes a linear memory of type `ty` in `store`: a lazy one over `reserve_bytes` of
/// address space where this build has lazy memory and the system grants the
/// reservation, otherwise the engine's own (as a module's own memory would be).
/// Either way the resource limiter is asked for its initial size first.
pub(crate) fn new_linear_memory(
    store: &mut PluginStore<CurrentPlugin>,
    ty: MemoryType,
    reserve_bytes: u64,
) -> Result<Memory, wasmi::Error> {
    match platform::lazy_memory(store, ty, reserve_bytes) {
        Some(made) => made,
        None => Memory::new(store, ty),
    }
}

/// Lets the resource limiter make the pages a `memory.grow` of the instance's lazy
/// memory fills resident in one system call instead of a page fault each (once every
/// memory of the instance is made).
pub(crate) fn prefault_growth(store: &mut PluginStore<CurrentPlugin>) {
    let prefault = platform::growth_prefault(store);
    store.data_mut().budget.growth_prefault = prefault;
}

/// Gives back to the system the pages of the instance's lazy memories that
/// `memory.grow` filled with zeros since the last time and that are still all zero
/// (done after instantiation and after each call). Without lazy memory, nothing.
pub(crate) fn give_back_grown_pages(store: &mut PluginStore<CurrentPlugin>) {
    if let Some(grown) = store.data_mut().budget.take_grown() {
        platform::give_back(store, grown);
    }
}
