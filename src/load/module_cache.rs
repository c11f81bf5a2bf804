//! Recently compiled modules, by their bytes, so that creating a plug-in from the
//! same modules again skips parsing and validation (most of the cost of creating a
//! plug-in from bytes; the official runtime keeps an on-disk compilation cache for the
//! same reason). Validation already succeeded for identical bytes, so behaviour is
//! unchanged. Bounded by [`module_cache::MAX_ENTRIES`] entries and
//! [`module_cache::MAX_BYTES`] bytes of module binaries; the least recently used entry
//! goes first. Plug-ins made from an entry share its engine, as plug-ins made from one
//! [`CompiledPlugin`] do; host functions, WASI and options are not part of an entry.

use crate::manifest::input::LoadedModule;
use alloc::{string::String, vec::Vec};
use wasmi::{Engine, Module};

/// A plug-in's modules compiled on their engine.
#[derive(Clone)]
pub(crate) struct CachedModules {
    pub(crate) engine: Engine,
    pub(crate) main: Module,
    /// The other modules, in an order where each only imports earlier ones.
    pub(crate) others: Vec<(String, Module)>,
}

/// Most entries kept.
pub(super) const MAX_ENTRIES: usize = 16;
/// Most bytes of module binaries kept (larger plug-ins are not cached).
pub(super) const MAX_BYTES: usize = 32 << 20;

/// Which load-time passes rewrite a plug-in's modules (the module cache keeps modules
/// compiled with different passes apart).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) struct Passes {
    /// The bulk-I/O pass ([`crate::rewrite::bulk_io`]).
    pub(crate) bulk_io: bool,
    /// The lazy-memory pass ([`crate::rewrite::memory_import`]), where the build has
    /// lazy memory.
    pub(crate) lazy_memory: bool,
}

/// One cached plug-in: the key (fuel metering on or off, the named module
/// binaries) and the compiled modules.
struct Entry {
    fueled: bool,
    /// The load-time passes that ran (the entry holds the rewritten module).
    passes: Passes,
    sources: Vec<LoadedModule>,
    bytes: usize,
    compiled: CachedModules,
}

/// Entries, least recently used first.
static CACHE: spin::Mutex<Vec<Entry>> = spin::Mutex::new(Vec::new());

/// Total binary size of `sources`.
fn size(sources: &[LoadedModule]) -> usize {
    sources.iter().map(|m| m.bytes.len()).sum()
}

/// The compiled modules of exactly these sources, if cached.
pub(crate) fn get(fueled: bool, passes: Passes, sources: &[LoadedModule]) -> Option<CachedModules> {
    let bytes = size(sources);
    let mut cache = CACHE.lock();
    let index = cache.iter().position(|e| {
        e.fueled == fueled
            && e.passes == passes
            && e.bytes == bytes
            && e.sources.len() == sources.len()
            && e.sources
                .iter()
                .zip(sources)
                .all(|(a, b)| a.name == b.name && same_bytes(&a.bytes, &b.bytes))
    })?;
    let entry = cache.remove(index);
    let compiled = entry.compiled.clone();
    cache.push(entry);
    Some(compiled)
}

/// Whether two module binaries are the same, their ends compared first: binaries that
/// differ only in a custom section appended at the end (a build id, a signature, a
/// counter) would otherwise be compared whole against every cached entry of their
/// size.
fn same_bytes(a: &[u8], b: &[u8]) -> bool {
    let tail = a.len().saturating_sub(64);
    a.len() == b.len() && a[tail..] == b[tail..] && a == b
}

/// Remembers freshly compiled modules.
pub(crate) fn put(
    fueled: bool,
    passes: Passes,
    sources: Vec<LoadedModule>,
    compiled: &CachedModules,
) {
    let bytes = size(&sources);
    if bytes > MAX_BYTES {
        return;
    }
    let entry = Entry {
        fueled,
        passes,
        sources,
        bytes,
        compiled: compiled.clone(),
    };
    let mut evicted = Vec::new();
    {
        let mut cache = CACHE.lock();
        cache.push(entry);
        let mut total: usize = cache.iter().map(|e| e.bytes).sum();
        while cache.len() > MAX_ENTRIES || total > MAX_BYTES {
            let old = cache.remove(0);
            total -= old.bytes;
            evicted.push(old);
        }
    }
    // Engines are freed outside the lock.
    drop(evicted);
}

#[cfg(test)]
mod tests {
    use super::same_bytes;

    #[test]
    fn binaries_are_the_same_only_when_every_byte_is() {
        let a: alloc::vec::Vec<u8> = (0..1000u32).map(|i| i as u8).collect();
        assert!(same_bytes(&a, &a.clone()));
        for at in [0, 500, 999] {
            let mut b = a.clone();
            b[at] ^= 1;
            assert!(!same_bytes(&a, &b), "differs at {at}");
        }
        assert!(!same_bytes(&a, &a[..999]));
        assert!(same_bytes(&a[..10], &a[..10]), "shorter than the tail");
    }
}
