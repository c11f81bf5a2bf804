//! The engine's store of an instance, and how its linear memories are made.
//!
//! With lazy linear memory ([`LAZY_LINEAR_MEMORY`]) the store is
//! `interplug_os_memory::Store`: the engine's store together with the mappings its
//! memories live in, which it unmaps only after the engine's store is gone (the unsafe
//! code and why it is sound are in that crate). Elsewhere it is the engine's store.
//! Both have the methods the core uses (`new`, `data`, `data_mut`, `get_fuel`,
//! `set_fuel`, `limiter`) and are engine contexts (`AsContext`, `AsContextMut`). The
//! parts that differ by platform are in `limits/linear.rs` (`platform`); this file
//! ties them to the instance's state.
//!
//! [`LAZY_LINEAR_MEMORY`]: crate::limits::linear::LAZY_LINEAR_MEMORY

use crate::host::current_plugin::CurrentPlugin;
use crate::limits::linear::platform;
use wasmi::{Memory, MemoryType};

pub(crate) use platform::PluginStore;

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

/// Ends a run of the instance's code (its instantiation or a call): gives back to
/// the system the pages of its lazy memories that `memory.grow` filled with zeros
/// since the last time and that are still all zero, and lets other threads give back
/// the zero pages of a warm memory until the next call. Without lazy memory, nothing.
pub(crate) fn release_memory_after_run(store: &mut PluginStore<CurrentPlugin>) {
    if let Some(grown) = store.data_mut().budget.take_grown() {
        platform::give_back(store, grown);
    }
    platform::idle(store);
}
