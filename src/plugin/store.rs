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

/// The same condition as `LAZY_LINEAR_MEMORY`.
#[cfg(all(
    feature = "std",
    not(miri),
    target_pointer_width = "64",
    any(target_os = "linux", target_os = "android", target_vendor = "apple")
))]
pub(crate) use interplug_os_memory::Store as PluginStore;

#[cfg(not(all(
    feature = "std",
    not(miri),
    target_pointer_width = "64",
    any(target_os = "linux", target_os = "android", target_vendor = "apple")
)))]
pub(crate) use wasmi::Store as PluginStore;

/// Makes a linear memory of type `ty` in `store`: a lazy one over `reserve_bytes` of
/// address space where this build has lazy memory and the system grants the
/// reservation, otherwise the engine's own (as a module's own memory would be).
/// Either way the resource limiter is asked for its initial size first.
pub(crate) fn new_linear_memory<T>(
    store: &mut PluginStore<T>,
    ty: MemoryType,
    reserve_bytes: u64,
) -> Result<Memory, wasmi::Error> {
    #[cfg(all(
        feature = "std",
        not(miri),
        target_pointer_width = "64",
        any(target_os = "linux", target_os = "android", target_vendor = "apple")
    ))]
    match store.new_lazy_memory(ty, reserve_bytes) {
        Ok(memory) => return Ok(memory),
        Err(interplug_os_memory::LazyMemoryError::Engine(error)) => return Err(error),
        // No address space for it (or a memory it does not map): an ordinary one.
        Err(_) => {}
    }
    let _ = reserve_bytes;
    Memory::new(store, ty)
}

/// Gives back to the system the pages of the instance's lazy memories that
/// `memory.grow` filled with zeros since the last time and that are still all zero
/// (done after instantiation and after each call). Without lazy memory, nothing.
pub(crate) fn give_back_grown_pages(store: &mut PluginStore<CurrentPlugin>) {
    let Some(grown) = store.data_mut().budget.take_grown() else {
        return;
    };
    #[cfg(all(
        feature = "std",
        not(miri),
        target_pointer_width = "64",
        any(target_os = "linux", target_os = "android", target_vendor = "apple")
    ))]
    store.give_back_zero_pages(grown);
    #[cfg(not(all(
        feature = "std",
        not(miri),
        target_pointer_width = "64",
        any(target_os = "linux", target_os = "android", target_vendor = "apple")
    )))]
    let _ = grown;
}
