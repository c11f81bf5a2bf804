//! Linear memory: where interplug gives instances lazy memory, and how much address
//! space it reserves for one.
//!
//! With lazy memory (the standard library on a 64-bit Linux, Android, macOS or iOS
//! host), a module's own linear memory becomes an import
//! ([`crate::rewrite::memory_import`]) and each instance gets it over a mapping that
//! reserves the memory's largest size up front: pages cost memory only once written,
//! and `memory.grow` never moves or copies the memory. The memory budget counts the
//! memory as the plug-in sees it (its size in pages), as for any other memory.
//! Elsewhere (bare metal, wasm, 32-bit hosts, Windows) memories are the engine's own.
//!
//! [`platform`] holds what differs: the store type of an instance
//! (`interplug_os_memory::Store`, which owns the mappings its memories live in, or the
//! engine's store; both have the methods the core uses), how a lazy memory is made,
//! given back and prefaulted.

/// True when this build gives instances lazy linear memory. The same condition
/// chooses [`platform`] below. (Read by the load-time pass, which
/// needs `std`.)
#[cfg(feature = "std")]
pub(crate) const LAZY_LINEAR_MEMORY: bool = cfg!(all(
    feature = "std",
    not(miri),
    target_pointer_width = "64",
    any(
        target_os = "linux",
        target_os = "android",
        target_vendor = "apple"
    )
));

/// With lazy memory (the same condition as `LAZY_LINEAR_MEMORY`): os-memory's store
/// and memories.
#[cfg(all(
    feature = "std",
    not(miri),
    target_pointer_width = "64",
    any(target_os = "linux", target_os = "android", target_vendor = "apple")
))]
pub(crate) mod platform {
    use wasmi::{Memory, MemoryType};

    pub(crate) use interplug_os_memory::{GrowthPrefault, Store as PluginStore};

    /// A lazy memory over `reserve_bytes` of address space; `None` when the system
    /// refuses the reservation (or the memory is one os-memory does not map).
    pub(crate) fn lazy_memory<T>(
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
    pub(crate) fn give_back<T>(store: &mut PluginStore<T>, grown: core::ops::Range<u64>) {
        store.give_back_zero_pages(grown);
    }

    /// The prefault for growths of the store's one lazy memory, if it has one.
    pub(crate) fn growth_prefault<T>(store: &PluginStore<T>) -> Option<GrowthPrefault> {
        store.growth_prefault()
    }

    /// No call runs in the store for now: another thread making a memory may give
    /// back the zero pages of its warm memory until the next write wakes it.
    pub(crate) fn idle<T>(store: &mut PluginStore<T>) {
        store.idle();
    }
}

/// Without lazy memory: the engine's store and memories.
#[cfg(not(all(
    feature = "std",
    not(miri),
    target_pointer_width = "64",
    any(target_os = "linux", target_os = "android", target_vendor = "apple")
)))]
pub(crate) mod platform {
    use wasmi::{Memory, MemoryType};

    pub(crate) use wasmi::Store as PluginStore;

    /// Without lazy memory there is nothing to prefault: no value of this type exists.
    #[derive(Debug, Clone, Copy)]
    pub(crate) enum GrowthPrefault {}

    impl GrowthPrefault {
        /// Never called (no value exists).
        pub(crate) fn growing(&self, _current: usize, _desired: usize) {
            match *self {}
        }
    }

    /// Never a lazy memory here.
    pub(crate) fn lazy_memory<T>(
        _store: &mut PluginStore<T>,
        _ty: MemoryType,
        _reserve_bytes: u64,
    ) -> Option<Result<Memory, wasmi::Error>> {
        None
    }

    /// Nothing to give back: the engine's memories are its heap buffers.
    pub(crate) fn give_back<T>(_store: &mut PluginStore<T>, _grown: core::ops::Range<u64>) {}

    /// No lazy memory, no prefault.
    pub(crate) fn growth_prefault<T>(_store: &PluginStore<T>) -> Option<GrowthPrefault> {
        None
    }

    /// No lazy memory, nothing given back by other threads.
    pub(crate) fn idle<T>(_store: &mut PluginStore<T>) {}
}

pub(crate) use platform::GrowthPrefault;

/// The most pages a 32-bit memory has.
const MAX_PAGES: u64 = 1 << 16;

/// Pages of address space to reserve for a memory whose type allows at most
/// `type_maximum` pages, in a plug-in whose memory budget is `max_pages` pages: the
/// most it can ever grow to, so that it never has to move (4 GiB when neither bounds
/// it).
pub(crate) fn reservation_pages(type_maximum: Option<u64>, max_pages: Option<u32>) -> u64 {
    type_maximum
        .unwrap_or(MAX_PAGES)
        .min(max_pages.map_or(MAX_PAGES, u64::from))
        .min(MAX_PAGES)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_reservation_is_the_most_the_memory_can_grow_to() {
        assert_eq!(reservation_pages(None, None), 1 << 16);
        assert_eq!(reservation_pages(Some(100), None), 100);
        assert_eq!(reservation_pages(None, Some(3200)), 3200);
        assert_eq!(reservation_pages(Some(100), Some(3200)), 100);
        assert_eq!(reservation_pages(Some(1 << 20), Some(u32::MAX)), 1 << 16);
    }
}
