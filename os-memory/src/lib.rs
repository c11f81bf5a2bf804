//! Linear memories for interplug whose untouched pages cost nothing.
//!
//! The wasmi engine keeps a linear memory in a heap buffer that it fills with zeros
//! when the memory is made, so every page of a plug-in's initial memory is resident,
//! and that it reallocates (and copies) on `memory.grow`. This crate gives wasmi a
//! memory over a mapping reserved from the operating system instead
//! ([`Store::new_lazy_memory`]):
//!
//! - the mapping reserves the memory's maximum up front (address space only), so
//!   `memory.grow` never moves or copies the memory;
//! - right after wasmi's zero fill, every page of the new memory is zero, and the
//!   crate gives them back to the operating system: a page is resident again only
//!   when the plug-in (a data segment, its start function, its code) writes to it;
//! - on Linux and Android the fill itself runs over a few resident zero pages the
//!   process keeps and moves in and out of the new mapping (`mremap`), so making a
//!   memory costs no page faults;
//! - on Linux and Android a dropped store's reservations are kept for the next
//!   memories of the same length (`kept.rs`), once the pages their memories covered
//!   are given back: a host that makes and drops instances in a loop maps nothing;
//! - on Linux and Android up to two dropped reservations (of memories up to 2 MiB)
//!   are kept *warm*, their pages resident (`kept.rs`): the next memory of the same length
//!   is made over them with no system call and no page fault (a host that makes,
//!   calls and drops instances in a loop). Such a memory holds its pages until its
//!   store is idle ([`Store::idle`], between calls) and another memory is made (or
//!   [`give_back_idle_pages`] is called): then its all-zero pages go back, so a host
//!   that keeps its instances still holds only what they wrote (`hot.rs`);
//! - a [`GrowthPrefault`] lets the resource limiter make the pages a `memory.grow` is
//!   about to fill resident in one system call rather than a page fault each.
//!
//! It is the one place of interplug, with the C API, that has `unsafe` code; every
//! block says why it is sound in a `SAFETY:` comment. The platforms with lazy memory
//! are those of [`SUPPORTED`]; elsewhere [`Store::new_lazy_memory`] refuses
//! ([`LazyMemoryError::Unsupported`]) and the caller makes an ordinary memory.
//!
//! # Why this is sound
//!
//! wasmi's [`wasmi::Memory::new_static`] takes the buffer as `&'static mut [u8]`:
//! wasmi may use it for as long as the engine's store that owns the memory exists.
//! The bytes live in a mapping this crate owns (`Reservation`), not for the whole
//! program, so the crate must make sure that the store is gone before the mapping is
//! unmapped, whatever safe code does. It does so by owning both:
//!
//! 1. A [`Store`] holds the engine's store and the reservations of the memories made
//!    in it. The engine's store is the first field, the reservations the second, and
//!    Rust drops a struct's fields in declaration order: the engine's store (with every
//!    memory wasmi made over a reservation) is dropped before any reservation is
//!    unmapped, also when a destructor in the store's data panics (the remaining fields
//!    are still dropped, in order, while the panic unwinds; wasmi's memory over a
//!    static buffer frees nothing and reads nothing when dropped).
//! 2. The engine's store never leaves the [`Store`]: there is no method that returns
//!    it by value or as `&mut wasmi::Store<T>`, so neither `mem::swap`, `mem::replace`
//!    nor `mem::take` can separate it from its reservations (swapping two [`Store`]s
//!    moves each engine's store together with its reservations). Access goes through
//!    [`wasmi::StoreContext`] and [`wasmi::StoreContextMut`] ([`AsContext`],
//!    [`AsContextMut`]), through which wasmi offers no way to reach, move or replace
//!    the store itself, and through the few methods [`Store`] forwards (data, fuel,
//!    limiter).
//! 3. Byte slices of a memory that wasmi hands out ([`wasmi::Memory::data`],
//!    [`wasmi::Memory::data_mut`]) borrow the [`Store`] they were taken from, so they
//!    end before it can be dropped or moved. A [`wasmi::Memory`] handle is an index
//!    into its store; used with another store, wasmi panics before touching memory.
//! 4. The slice given to wasmi is never used by this crate while wasmi may use it
//!    (but for what point 9 allows):
//!    the crate only gives pages back right after [`wasmi::Memory::new_static`]
//!    returned, holding `&mut` to the store (so no other access is running), through
//!    the slice wasmi hands back for that memory, and only pages whose bytes are all
//!    zero at that moment. On Linux and Android `madvise(MADV_DONTNEED)` makes private
//!    anonymous pages read as zero afterwards; elsewhere a fresh anonymous mapping
//!    replaces the pages (`MAP_FIXED`). Either way every byte reads as before (zero):
//!    the program cannot tell, only the resident memory changes. On Linux and Android
//!    wasmi's zero fill runs over resident zero pages moved in from a region the
//!    crate keeps (`mremap` with `MREMAP_DONTUNMAP`, before wasmi gets the slice to
//!    write and right after [`wasmi::Memory::new_static`] returned, under the same
//!    `&mut` borrow): the bytes read zero before, during and after each move, the
//!    region is all zero again when it is kept (wasmi wrote only zeros), and no range
//!    of a reservation is ever unmapped in between.
//! 5. A reservation is readable and writable over its whole length from its creation
//!    to its unmapping (`PROT_READ | PROT_WRITE`, `MAP_NORESERVE`), so the `'static`
//!    slice covers only accessible memory; pages cost memory only once written.
//! 6. Leaking a [`Store`] (`mem::forget`) leaks its reservations with it: memory is
//!    never unmapped under a live store.
//! 7. A reservation is kept for reuse only after the engine's store is dropped (its
//!    `Drop` notes, while the engine's store is still alive, how many bytes each
//!    memory covers: nothing past them was ever written), and has no user until
//!    [`Store::new_lazy_memory`] takes it. Either those bytes were given back
//!    (`MADV_DONTNEED`) and it reads as zero everywhere, like a new one, or it is kept
//!    warm and they still hold what the dropped memory wrote: wasmi writes zeros over
//!    every byte a memory exposes before exposing it (the initial size in
//!    [`wasmi::Memory::new_static`], each growth in `memory.grow`), so no memory
//!    reads what an earlier one wrote either way.
//! 8. [`GrowthPrefault`] holds an address, not a borrow: it asks the kernel to fault
//!    pages in without writing them (`MADV_POPULATE_WRITE`), which changes what no
//!    byte reads, so even used after its store is gone it cannot make the program
//!    read or write anything differently.
//! 9. Another thread touches a store's memory only to give back the pages of a warm
//!    memory, and only while the store is idle: [`Store::idle`] (which takes `&mut`,
//!    so no borrow of a memory's bytes for writing is live) marks it so, and every
//!    way to write or grow a memory ([`AsContextMut::as_context_mut`],
//!    [`Store::new_lazy_memory`], [`Store::give_back_zero_pages`], the store's drop)
//!    first takes it back, waiting while the other thread works. The state changes
//!    atomically with acquire and release ordering. Meanwhile the other thread only
//!    reads the memory, gives back pages that are all zero (they read zero
//!    afterwards: shared borrows the owner still holds read the same), and gives back
//!    the bytes past the memory's size that an earlier memory wrote (which nothing
//!    reads before wasmi writes zeros over them, and the memory cannot grow while
//!    idle). The store's drop waits too, so the memory is mapped throughout.
//!
//! A reservation is plain memory owned by one [`Store`], like a `Box<[u8]>`, so a
//! [`Store`] is `Send` and `Sync` when the engine's store is.

#![warn(missing_docs)]
#![deny(unsafe_op_in_unsafe_fn, clippy::undocumented_unsafe_blocks)]

mod hot;
#[cfg(any(target_os = "linux", target_os = "android"))]
mod kept;
mod reservation;
#[cfg(any(target_os = "linux", target_os = "android"))]
mod scratch;

use hot::Hot;
use reservation::Reservation;
pub use reservation::SUPPORTED;
use std::sync::Arc;
use wasmi::{AsContext, AsContextMut, Engine, Memory, MemoryType, StoreContext, StoreContextMut};

/// Bytes in one wasm page.
pub const WASM_PAGE_BYTES: u64 = 64 * 1024;

/// Why [`Store::new_lazy_memory`] made no memory.
#[derive(Debug)]
pub enum LazyMemoryError {
    /// This platform has no lazy memory ([`SUPPORTED`] is false), or the memory is a
    /// 64-bit one.
    Unsupported,
    /// The operating system refused the reservation (address space or map count
    /// exhausted, a strict overcommit policy, a resource limit).
    Reserve(std::io::Error),
    /// wasmi refused the memory (its resource limiter refused the initial size, or the
    /// reservation is smaller than the minimum).
    Engine(wasmi::Error),
}

impl core::fmt::Display for LazyMemoryError {
    fn fmt(&self, f: &mut core::fmt::Formatter<'_>) -> core::fmt::Result {
        match self {
            LazyMemoryError::Unsupported => {
                f.write_str("lazy linear memory is not available for this memory here")
            }
            LazyMemoryError::Reserve(e) => {
                write!(f, "cannot reserve address space for a linear memory: {e}")
            }
            LazyMemoryError::Engine(e) => write!(f, "{e}"),
        }
    }
}

impl std::error::Error for LazyMemoryError {
    fn source(&self) -> Option<&(dyn std::error::Error + 'static)> {
        match self {
            LazyMemoryError::Unsupported => None,
            LazyMemoryError::Reserve(e) => Some(e),
            LazyMemoryError::Engine(e) => Some(e),
        }
    }
}

/// A wasmi store together with the mappings its lazy memories live in. See the
/// [crate docs](crate#why-this-is-sound) for why the store can never outlive them.
///
/// ```
/// use interplug_os_memory::{Store, WASM_PAGE_BYTES};
/// use wasmi::{Engine, MemoryType};
///
/// let engine = Engine::default();
/// let mut store = Store::new(&engine, ());
/// let ty = MemoryType::new(17, None);
/// match store.new_lazy_memory(ty, 1024 * WASM_PAGE_BYTES) {
///     Ok(memory) => {
///         assert_eq!(memory.size(&store), 17);
///         memory.data_mut(&mut store)[0] = 1;
///         // Grows in place, up to the reservation.
///         memory.grow(&mut store, 100).expect("reserved");
///         assert_eq!(memory.data(&store)[0], 1);
///     }
///     // Platforms without lazy memory: the caller makes an ordinary one.
///     Err(_) => assert!(!interplug_os_memory::SUPPORTED),
/// }
/// ```
pub struct Store<T> {
    /// The engine's store. It must stay the first field: it is dropped before
    /// `reservations` (see the crate docs).
    store: wasmi::Store<T>,
    /// The mappings of the memories made in `store`, unmapped after it is dropped.
    reservations: Vec<Reservation>,
    /// The lazy memories made in `store` (each over one of `reservations`).
    memories: Vec<Memory>,
    /// The one memory made warm in `store` whose pages may still be given back by
    /// another thread (`hot.rs`), with its shared state.
    hot: Option<(Arc<Hot>, Memory)>,
    /// False while the store is idle ([`Store::idle`]): it must wake before any
    /// write to a memory.
    awake: bool,
}

impl<T> core::fmt::Debug for Store<T> {
    fn fmt(&self, f: &mut core::fmt::Formatter<'_>) -> core::fmt::Result {
        f.debug_struct("Store")
            .field("reserved_bytes", &self.reserved_bytes())
            .finish_non_exhaustive()
    }
}

impl<T> Store<T> {
    /// A new store on `engine` holding `data`, as [`wasmi::Store::new`].
    pub fn new(engine: &Engine, data: T) -> Self {
        Store {
            store: wasmi::Store::new(engine, data),
            reservations: Vec::new(),
            memories: Vec::new(),
            hot: None,
            awake: true,
        }
    }

    /// Tells the store that no call runs for now: until the next access that may
    /// write (through [`AsContextMut`] or the store's own methods), another thread
    /// making a memory may give back the pages of a warm memory of this store that
    /// are all zero. Call it when a call (or the instantiation) has ended; without
    /// it, a memory made warm keeps its pages until the store is dropped.
    ///
    /// ```
    /// use interplug_os_memory::{Store, WASM_PAGE_BYTES};
    /// use wasmi::{Engine, MemoryType};
    ///
    /// let mut store = Store::new(&Engine::default(), ());
    /// if let Ok(memory) = store.new_lazy_memory(MemoryType::new(1, None), WASM_PAGE_BYTES) {
    ///     memory.data_mut(&mut store)[0] = 7;
    ///     store.idle();
    ///     // Any later write wakes the store first.
    ///     memory.data_mut(&mut store)[1] = 8;
    ///     assert_eq!(&memory.data(&store)[..2], &[7, 8]);
    /// }
    /// ```
    pub fn idle(&mut self) {
        if let Some((hot, memory)) = &self.hot {
            if self.awake {
                hot.idle(memory.data(&self.store).len());
                self.awake = false;
            }
        }
    }

    /// Makes the store able to write its memories again after [`Store::idle`].
    #[inline]
    fn wake(&mut self) {
        if !self.awake {
            self.wake_up();
        }
    }

    /// [`Store::wake`] once idle: waits for another thread giving pages back.
    fn wake_up(&mut self) {
        if let Some((hot, _)) = &self.hot {
            if !hot.wake() {
                self.hot = None;
            }
        }
        self.awake = true;
    }

    /// The engine the store belongs to.
    pub fn engine(&self) -> &Engine {
        self.store.engine()
    }

    /// The store's data.
    pub fn data(&self) -> &T {
        self.store.data()
    }

    /// The store's data, writable.
    pub fn data_mut(&mut self) -> &mut T {
        self.store.data_mut()
    }

    /// The fuel left, as [`wasmi::Store::get_fuel`].
    ///
    /// # Errors
    ///
    /// When fuel metering is off.
    pub fn get_fuel(&self) -> Result<u64, wasmi::Error> {
        self.store.get_fuel()
    }

    /// Sets the fuel left, as [`wasmi::Store::set_fuel`].
    ///
    /// # Errors
    ///
    /// When fuel metering is off.
    pub fn set_fuel(&mut self, fuel: u64) -> Result<(), wasmi::Error> {
        self.store.set_fuel(fuel)
    }

    /// Installs the resource limiter, as [`wasmi::Store::limiter`].
    pub fn limiter(
        &mut self,
        limiter: impl (FnMut(&mut T) -> &mut dyn wasmi::ResourceLimiter) + Send + Sync + 'static,
    ) {
        self.store.limiter(limiter);
    }

    /// Address space reserved for the lazy memories of this store, in bytes.
    pub fn reserved_bytes(&self) -> usize {
        self.reservations.iter().map(Reservation::len).sum()
    }

    /// Makes a linear memory of type `ty` (32-bit, 64 KiB pages) over a new mapping of
    /// `reserve_bytes` (rounded up to whole wasm pages, at least the type's minimum and
    /// at most its maximum): `memory.grow` up to that size never moves the memory, and
    /// past it
    /// fails as it does past the type's maximum. The memory's pages are given back
    /// to the operating system right after wasmi's zero fill, so a page costs
    /// memory only once written; over a warm reservation (one a dropped store left
    /// resident), only once the store is idle and another memory is made (see the
    /// [crate docs](crate)). Making a memory first gives back the pages of the idle
    /// warm memories of other stores ([`give_back_idle_pages`]). The resource limiter
    /// sees the creation as wasmi's [`wasmi::Memory::new`] would make it.
    ///
    /// # Errors
    ///
    /// [`LazyMemoryError::Unsupported`] on platforms without lazy memory and for
    /// 64-bit memories; [`LazyMemoryError::Reserve`] when the operating system refuses
    /// the mapping; [`LazyMemoryError::Engine`] when wasmi refuses the memory (its
    /// resource limiter). In every case no memory was made, and the caller may make an
    /// ordinary one instead.
    pub fn new_lazy_memory(
        &mut self,
        ty: MemoryType,
        reserve_bytes: u64,
    ) -> Result<Memory, LazyMemoryError> {
        if !SUPPORTED || ty.is_64() {
            return Err(LazyMemoryError::Unsupported);
        }
        self.wake();
        hot::reclaim_pending();
        let maximum = ty.maximum().unwrap_or(1 << 16);
        let pages = reserve_bytes
            .div_ceil(WASM_PAGE_BYTES)
            .clamp(ty.minimum(), maximum.max(ty.minimum()));
        let bytes = usize::try_from(pages.saturating_mul(WASM_PAGE_BYTES))
            .map_err(|_| LazyMemoryError::Reserve(std::io::ErrorKind::OutOfMemory.into()))?;
        let mut reservation = Reservation::new(bytes).map_err(LazyMemoryError::Reserve)?;
        // A warm reservation: wasmi's fill runs over resident pages, which the memory
        // keeps until another thread gives them back (`hot.rs`); one per store.
        let stale = reservation.warm();
        let warm = stale > 0 && self.hot.is_none();
        // SAFETY: the reservation is kept in `self.reservations` below (also when wasmi
        // refuses the memory), next to `self.store`, the only place the slice goes;
        // `Store` drops `store` before `reservations` and never lets the store out (see
        // the crate docs).
        let buffer = unsafe { reservation.as_static_slice() };
        let minimum =
            usize::try_from(ty.minimum().saturating_mul(WASM_PAGE_BYTES)).unwrap_or(usize::MAX);
        // SAFETY: the reservation was just mapped and nothing has used `buffer` yet.
        let fill = unsafe { reservation.fill_begins(minimum) };
        let made = wasmi::Memory::new_static(&mut self.store, ty, buffer);
        // Every byte of the new memory is zero (wasmi filled it, or refused before
        // writing), and the rest of what the fill covers was never written: give the
        // pages back.
        // SAFETY: as just said; wasmi keeps only a raw pointer to the buffer, and the
        // `&mut` borrow of the store makes this the only access.
        let span = unsafe { reservation.fill_ends(fill) };
        self.reservations.push(reservation);
        let memory = made.map_err(LazyMemoryError::Engine)?;
        if warm {
            let start = memory.data(&self.store).as_ptr() as usize;
            if let Some(hot) = Hot::register(start, stale) {
                self.hot = Some((hot, memory));
                self.memories.push(memory);
                return Ok(memory);
            }
        }
        // What the span did not cover (a reservation too small for a huge page).
        let data = memory.data_mut(&mut self.store);
        let len = data.len();
        let bytes = &mut data[span.min(len)..];
        // SAFETY: `bytes` is the part past `span` of the memory wasmi just made over the reservation
        // pushed above, wasmi filled it with zeros and nothing has run since, and the
        // `&mut` borrow of the store ends no access in progress (this is the only one).
        unsafe { reservation::give_back_zeroed(bytes) };
        self.memories.push(memory);
        Ok(memory)
    }

    /// Gives back to the operating system the pages of `bytes` (offsets into each lazy
    /// memory of this store, clamped to its size) that are resident and hold only
    /// zeros: for instance what `memory.grow` filled and the plug-in did not write.
    /// They read as zero afterwards and cost memory again once written. Costs a read
    /// of the resident pages of the range; pages that are not resident are not read.
    /// Returns the bytes given back.
    pub fn give_back_zero_pages(&mut self, bytes: core::ops::Range<u64>) -> u64 {
        self.wake();
        if self.hot.is_some() {
            // A warm memory: its pages go back all at once later (`hot.rs`).
            return 0;
        }
        let mut given = 0u64;
        for memory in &self.memories {
            let data = memory.data_mut(&mut self.store);
            let end = usize::try_from(bytes.end).map_or(data.len(), |e| e.min(data.len()));
            let start = usize::try_from(bytes.start).map_or(end, |s| s.min(end));
            let range = &mut data[start..end];
            // SAFETY: `range` is part of a lazy memory of this store, so of one of its
            // reservations, and the `&mut` borrow of the store makes this the only
            // access to it.
            given += unsafe { reservation::give_back_zero_pages(range) } as u64;
        }
        given
    }
}

/// Gives back the all-zero pages of every memory made warm (over a reservation a
/// dropped store left resident) whose store is idle ([`Store::idle`]), as making any
/// lazy memory does first. A host that makes no more memories for a while and wants
/// the idle ones lean now may call it; memories of stores in a call are left for the
/// next time.
///
/// ```
/// use interplug_os_memory::{give_back_idle_pages, Store, WASM_PAGE_BYTES};
/// use wasmi::{Engine, MemoryType};
///
/// let engine = Engine::default();
/// let ty = MemoryType::new(17, None);
/// // A store made and dropped leaves its reservation warm for the next one.
/// drop(Store::new(&engine, ()).new_lazy_memory(ty, 32 * WASM_PAGE_BYTES));
/// let mut store = Store::new(&engine, ());
/// if let Ok(memory) = store.new_lazy_memory(ty, 32 * WASM_PAGE_BYTES) {
///     memory.data_mut(&mut store)[0] = 1;
///     store.idle();
///     give_back_idle_pages();
///     assert_eq!(memory.data(&store)[0], 1);
/// }
/// ```
pub fn give_back_idle_pages() {
    hot::reclaim_pending();
}

/// Makes the pages that a `memory.grow` of a store's one lazy memory is about to
/// fill resident in one system call (`MADV_POPULATE_WRITE`, Linux 5.14), instead of
/// one page fault per page when wasmi writes its zeros over them. Call
/// [`GrowthPrefault::growing`] from the resource limiter's `memory_growing`, once the
/// growth is granted; the pages left zero are given back as before
/// ([`Store::give_back_zero_pages`]).
///
/// It only changes when pages become resident, never what any byte reads: where the
/// kernel has no such advice, or the range is not this store's any more, nothing
/// happens.
///
/// ```
/// use interplug_os_memory::{Store, WASM_PAGE_BYTES};
/// use wasmi::{Engine, MemoryType};
///
/// let mut store = Store::new(&Engine::default(), ());
/// if let Ok(memory) = store.new_lazy_memory(MemoryType::new(1, None), 4 * WASM_PAGE_BYTES) {
///     let prefault = store.growth_prefault().expect("one lazy memory");
///     prefault.growing(WASM_PAGE_BYTES as usize, 2 * WASM_PAGE_BYTES as usize);
///     memory.grow(&mut store, 1).expect("reserved");
///     assert!(memory.data(&store).iter().all(|b| *b == 0));
/// }
/// ```
#[derive(Debug, Clone)]
pub struct GrowthPrefault {
    /// Address of the memory's first byte.
    start: usize,
    /// Bytes the memory may grow to (its reservation).
    len: usize,
    /// The memory's state when it was made warm: its first pages are resident while
    /// they were not given back.
    warm: Option<Arc<Hot>>,
}

impl GrowthPrefault {
    /// Makes the bytes `current..desired` of the memory (offsets, clamped to its
    /// reservation; whole pages inside them) resident before wasmi fills them; no
    /// system call for what a warm memory has resident already.
    pub fn growing(&self, current: usize, desired: usize) {
        let resident = self.warm.as_ref().map_or(0, |hot| hot.resident_bytes());
        let to = desired.min(self.len);
        if to > current.max(resident) {
            let _ = reservation::populate(self.start, current.max(resident), to);
        }
    }
}

impl<T> Store<T> {
    /// The prefault for growths of this store's lazy memory, when it has exactly one
    /// (with more, the resource limiter cannot tell which one grows).
    pub fn growth_prefault(&self) -> Option<GrowthPrefault> {
        let [memory] = self.memories.as_slice() else {
            return None;
        };
        let start = memory.data(&self.store).as_ptr();
        let reservation = self.reservations.iter().find(|r| r.start() == start)?;
        // With one memory, a warm one is that one.
        let warm = self.hot.as_ref().map(|(hot, _)| Arc::clone(hot));
        Some(GrowthPrefault {
            start: start as usize,
            len: reservation.len(),
            warm,
        })
    }
}

impl<T> Drop for Store<T> {
    /// Records, for each reservation, how much of it the memory over it covers (all
    /// it may have written), so that the reservation can be given back and kept for
    /// a later memory once the engine's store is gone. The fields are dropped after
    /// this, in order: the engine's store first.
    fn drop(&mut self) {
        // A warm memory whose pages were never given back: all resident.
        let resident = match self.hot.take() {
            Some((hot, memory)) => hot.retire().then(|| memory.data(&self.store).as_ptr()),
            None => None,
        };
        for memory in &self.memories {
            let data = memory.data(&self.store);
            let (at, len) = (data.as_ptr(), data.len());
            if let Some(reservation) = self.reservations.iter_mut().find(|r| r.start() == at) {
                reservation.note_written(len);
                if resident == Some(at) {
                    reservation.note_resident();
                }
            }
        }
    }
}

impl<T> AsContext for Store<T> {
    type Data = T;

    fn as_context(&self) -> StoreContext<'_, T> {
        self.store.as_context()
    }
}

impl<T> AsContextMut for Store<T> {
    fn as_context_mut(&mut self) -> StoreContextMut<'_, T> {
        self.wake();
        self.store.as_context_mut()
    }
}
