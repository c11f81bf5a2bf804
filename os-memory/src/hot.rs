//! Memories made warm, and giving their untouched pages back later.
//!
//! A memory made over a warm reservation (`kept.rs`) is resident over its whole
//! initial size once wasmi's zero fill has run: that is what makes it cheap to make,
//! and a host that drops it soon (a request per instance, the C harness's loop)
//! never pays for giving the pages back. A host that keeps it instead must not hold
//! those pages: the next time any memory is made in the process ([`reclaim_pending`]),
//! the pages of the warm memories still alive that are all zero go back to the
//! system, as they would have right after the fill.
//!
//! That happens on another thread than the one owning the memory, so each warm
//! memory has a [`Hot`] shared with its store and a state that says who may touch its
//! bytes:
//!
//! - `BUSY`: the store may read and write them (it is made, or a call runs);
//! - `IDLE`: the store promised not to write them nor grow the memory until it takes
//!   `BUSY` back ([`Hot::wake`]), which every way to write or grow passes through
//!   (`Store::as_context_mut` and the store's own methods);
//! - `RECLAIMING`: another thread gives the zero pages back; the store waits to take
//!   `BUSY` back until it is done;
//! - `COLD`: the pages were given back (or the store is gone): nothing more to do.
//!
//! The state changes with acquire and release ordering, so the owner's last write
//! happens before the reclaiming thread reads, and the reclaiming thread's system
//! calls end before the owner's next write.

use std::sync::atomic::{AtomicU8, AtomicUsize, Ordering};
use std::sync::{Arc, Mutex};

/// The store may read and write the memory.
const BUSY: u8 = 0;
/// The store neither writes nor grows the memory until it wakes.
const IDLE: u8 = 1;
/// Another thread gives the memory's zero pages back.
const RECLAIMING: u8 = 2;
/// Nothing more to give back (done, or the store is gone).
const COLD: u8 = 3;

/// How many warm memories may wait at once to have their pages given back; past it,
/// new memories are made cold.
const PENDING: usize = 8;

/// A warm memory, shared by its store and the list of memories whose pages are still
/// to be given back.
#[derive(Debug)]
pub(crate) struct Hot {
    state: AtomicU8,
    /// Address of the memory's first byte.
    start: usize,
    /// The memory's size in bytes when the store last went idle.
    size: AtomicUsize,
    /// Bytes at the start of the reservation that may hold what an earlier memory
    /// wrote (past `size`, never seen: wasmi writes zeros before exposing them).
    stale: usize,
}

/// Warm memories whose pages are still to be given back.
static LIST: Mutex<Vec<Arc<Hot>>> = Mutex::new(Vec::new());

impl Hot {
    /// Registers a memory just made warm at `start` (its store busy) over a
    /// reservation whose first `stale` bytes may hold old bytes; `None` when
    /// [`PENDING`] memories wait already (then the caller gives the pages back now).
    pub(crate) fn register(start: usize, stale: usize) -> Option<Arc<Hot>> {
        let mut list = LIST.lock().ok()?;
        if list.len() >= PENDING {
            return None;
        }
        let hot = Arc::new(Hot {
            state: AtomicU8::new(BUSY),
            start,
            size: AtomicUsize::new(0),
            stale,
        });
        list.push(Arc::clone(&hot));
        Some(hot)
    }

    /// The store goes idle with its memory `size` bytes long: from now on it neither
    /// writes the memory nor grows it until [`Hot::wake`].
    pub(crate) fn idle(&self, size: usize) {
        self.size.store(size, Ordering::Relaxed);
        // Release: the store's writes happen before a reclaiming thread's reads.
        let _ = self
            .state
            .compare_exchange(BUSY, IDLE, Ordering::Release, Ordering::Relaxed);
    }

    /// The store may write the memory again (waiting while another thread gives pages
    /// back). False when the pages were given back: the memory is an ordinary lazy
    /// one from now on and needs no more waking.
    pub(crate) fn wake(&self) -> bool {
        loop {
            match self
                .state
                .compare_exchange(IDLE, BUSY, Ordering::Acquire, Ordering::Acquire)
            {
                Ok(_) | Err(BUSY) => return true,
                Err(RECLAIMING) => std::thread::yield_now(),
                Err(_) => return false,
            }
        }
    }

    /// Bytes at the start of the memory's reservation that are resident, as long as
    /// the pages were not given back (0 once they were).
    pub(crate) fn resident_bytes(&self) -> usize {
        match self.state.load(Ordering::Acquire) {
            COLD => 0,
            _ => self.stale,
        }
    }

    /// The store is being dropped: wakes it for the last time and marks it cold.
    /// True when its pages were never given back (all its memory's pages are
    /// resident).
    pub(crate) fn retire(&self) -> bool {
        let resident = self.wake();
        self.state.store(COLD, Ordering::Release);
        resident
    }
}

/// Gives back the zero pages of every warm memory whose store is idle, and forgets
/// those whose stores are gone; memories in a call wait for the next time.
pub(crate) fn reclaim_pending() {
    let pending = match LIST.lock() {
        Ok(mut list) if !list.is_empty() => core::mem::take(&mut *list),
        _ => return,
    };
    let mut busy = Vec::new();
    for hot in pending {
        match hot
            .state
            .compare_exchange(IDLE, RECLAIMING, Ordering::Acquire, Ordering::Acquire)
        {
            Ok(_) => {
                let size = hot.size.load(Ordering::Relaxed);
                // SAFETY: the store went idle (`IDLE`, seen with acquire ordering after
                // its release): it neither writes nor grows the memory, nor drops it
                // (`Store`'s drop wakes first), until this thread leaves `RECLAIMING`.
                // So `start..start + size` is the memory, mapped, and only read
                // meanwhile.
                let bytes = unsafe { core::slice::from_raw_parts(hot.start as *const u8, size) };
                // SAFETY: inside a reservation, and nothing writes to it meanwhile.
                unsafe { crate::reservation::give_back_zero_pages(bytes) };
                if hot.stale > size {
                    // SAFETY: the bytes past the memory's size up to what an earlier
                    // memory wrote: the memory cannot grow over them meanwhile, and
                    // wasmi writes zeros over them before a growth exposes them.
                    unsafe { crate::reservation::discard(hot.start + size, hot.stale - size) };
                }
                hot.state.store(COLD, Ordering::Release);
            }
            Err(BUSY) => busy.push(hot),
            Err(_) => {}
        }
    }
    if !busy.is_empty() {
        if let Ok(mut list) = LIST.lock() {
            list.extend(busy);
        }
    }
}
