//! Fill scratch (Linux, Android): resident zero pages that wasmi's zero fill of a new
//! memory runs over, so that the fill costs no page faults.
//!
//! wasmi writes zeros over the whole initial size of every memory it makes. Over a
//! fresh reservation each page of it faults, and the kernel allocates and zeroes a page
//! that is given back right after: most of the time it takes to make an instance.
//! Instead, the process keeps a few regions of pages that are resident and all zero.
//! Before the fill one is moved over the start of the new reservation (`mremap`: the
//! page tables move, no byte is copied); wasmi's fill is then a plain `memset`; right
//! after, the pages move back to where they came from. wasmi wrote only zeros, so the
//! region is still all zero and ready for the next memory, and the reservation's range
//! reads as zero with nothing resident.
//!
//! A region stays resident between two fills only while the host drops stores in
//! between (instances made and dropped in a loop, where the next fill comes soon); a
//! host that makes instances and keeps them gets the region's pages back after each
//! fill, and the next fill makes them resident again in one system call
//! (`MADV_POPULATE_WRITE`), so that no memory sits idle next to its live plug-ins.
//!
//! Both moves use `MREMAP_DONTUNMAP` (Linux 5.7): the range the pages leave stays
//! mapped (it reads as zero, nothing resident), so no address range of this process is
//! ever unmapped in between, where another thread's `mmap` could land and be replaced
//! by a later move. Where the kernel refuses the first move, the crate stops asking and
//! fills as before.

use core::ptr::NonNull;
use std::sync::atomic::{AtomicBool, AtomicUsize, Ordering};
use std::sync::Mutex;

/// Regions larger than this are not kept: such memories are filled as before.
pub(crate) const MAX_BYTES: usize = 64 << 20;

/// How many regions the process keeps at most (each resident: the initial memory
/// size of the plug-ins made, 1.06 MiB for a Rust-PDK plug-in). One is enough for a
/// thread making instances one after the other; more serve threads making them at
/// the same time.
const KEPT: usize = 4;

/// Alignment of a region: a huge page, as the reservations, so that whole 2 MiB spans
/// move as one page table.
const ALIGN: usize = 2 << 20;

/// The kept regions.
static POOL: Mutex<Vec<Scratch>> = Mutex::new(Vec::new());

/// Set when the kernel refused a move: the process fills without scratch from then on.
static OFF: AtomicBool = AtomicBool::new(false);

/// Reservations dropped so far in the process ([`note_dropped`]).
static DROPS: AtomicUsize = AtomicUsize::new(0);

/// Counts a reservation dropped (kept or unmapped): a host that drops stores between
/// two new memories makes and drops instances in a loop, and a region stays resident
/// for it.
pub(crate) fn note_dropped() {
    DROPS.fetch_add(1, Ordering::Relaxed);
}

#[cfg(target_os = "linux")]
const MREMAP_MAYMOVE: libc::c_int = libc::MREMAP_MAYMOVE;
#[cfg(target_os = "linux")]
const MREMAP_FIXED: libc::c_int = libc::MREMAP_FIXED;
#[cfg(target_os = "linux")]
const MREMAP_DONTUNMAP: libc::c_int = libc::MREMAP_DONTUNMAP;
// The `libc` crate has neither `mremap` nor its flags for Android; the values are
// the kernel's (`include/uapi/linux/mman.h`), the same on every architecture.
#[cfg(target_os = "android")]
const MREMAP_MAYMOVE: libc::c_int = 1;
#[cfg(target_os = "android")]
const MREMAP_FIXED: libc::c_int = 2;
#[cfg(target_os = "android")]
const MREMAP_DONTUNMAP: libc::c_int = 4;

/// Moves the `len` bytes of mappings at `from` to `to`, leaving `from` mapped and
/// empty (`MREMAP_DONTUNMAP`); true on success.
///
/// # Safety
///
/// `from..from + len` and `to..to + len` are whole pages of private anonymous mappings
/// this crate owns, they do not overlap, no access to either is in progress, and the
/// caller may lose what `to` held and what `from` held (it reads as zero afterwards).
unsafe fn move_pages(from: *mut u8, to: *mut u8, len: usize) -> bool {
    let flags = MREMAP_MAYMOVE | MREMAP_FIXED | MREMAP_DONTUNMAP;
    #[cfg(target_os = "linux")]
    // SAFETY: the caller's promise: both ranges are this crate's own private anonymous
    // mappings, with nothing else in them and no access in progress; `MREMAP_FIXED`
    // replaces only `to..to + len`, and `MREMAP_DONTUNMAP` leaves `from` mapped.
    let moved = unsafe { libc::mremap(from.cast(), len, len, flags, to.cast::<libc::c_void>()) };
    #[cfg(target_os = "android")]
    // SAFETY: as above; the same system call, made directly (no wrapper in `libc`).
    let moved =
        unsafe { libc::syscall(libc::SYS_mremap, from, len, len, flags, to) as *mut libc::c_void };
    moved == to.cast()
}

/// A region of pages, all zero, that only its owner uses; unmapped when dropped.
/// Resident when `resident`; otherwise it holds no memory and [`take`] makes its pages
/// resident again before a fill.
pub(crate) struct Scratch {
    start: NonNull<u8>,
    len: usize,
    resident: bool,
    /// [`DROPS`] when the region was last kept.
    drops_seen: usize,
}

// SAFETY: a `Scratch` owns its mapping exclusively, like a `Box<[u8]>`; nothing in it
// is tied to a thread.
unsafe impl Send for Scratch {}

impl Scratch {
    /// A new region of `len` bytes (whole pages), all of them made resident.
    fn new(len: usize) -> Option<Scratch> {
        let page = crate::reservation::page_size();
        if len == 0 || len % page != 0 {
            return None;
        }
        let start = crate::reservation::map_aligned(len, ALIGN).ok()?;
        let mut scratch = Scratch {
            start,
            len,
            resident: false,
            drops_seen: DROPS.load(Ordering::Relaxed),
        };
        // SAFETY: advice on the mapping just made; it changes no contents. Small pages,
        // as the reservations they move into (a failure changes nothing).
        let _ = unsafe { libc::madvise(start.as_ptr().cast(), len, libc::MADV_NOHUGEPAGE) };
        scratch.make_resident();
        Some(scratch)
    }

    /// Makes every page of the region resident: in one system call where the kernel
    /// has `MADV_POPULATE_WRITE`, else by writing a zero over a zero on each page.
    fn make_resident(&mut self) {
        let page = crate::reservation::page_size();
        let start = self.start.as_ptr() as usize;
        if !crate::reservation::populate(start, 0, self.len) {
            for offset in (0..self.len).step_by(page) {
                // SAFETY: a byte inside the region's own mapping (readable and
                // writable), which nothing else refers to; writing zero over zero
                // makes the page resident without changing what it reads.
                unsafe { self.start.as_ptr().add(offset).write_volatile(0) };
            }
        }
        self.resident = true;
    }

    /// Gives the region's pages back to the system (the mapping stays, reading zero).
    fn give_back(&mut self) {
        // SAFETY: the region's own private anonymous mapping, all zero and used by
        // nothing: after `MADV_DONTNEED` it reads as zero, as before.
        let given =
            unsafe { libc::madvise(self.start.as_ptr().cast(), self.len, libc::MADV_DONTNEED) };
        self.resident = given != 0;
    }

    /// Moves the region's pages to `to` (its first `len()` bytes). Its own range
    /// stays mapped and empty; [`Away::come_home`] brings the pages back. Gives the
    /// region back untouched when the kernel refuses (and stops using scratch).
    ///
    /// # Safety
    ///
    /// `to..to + len()` is whole pages at the start of a `Reservation` that nothing
    /// has written since it was mapped, and no access to it is in progress.
    pub(crate) unsafe fn move_to(self, to: NonNull<u8>) -> Result<Away, Scratch> {
        // SAFETY: the region is this crate's own mapping, resident and unused; the
        // target is a fresh part of a reservation (the caller's promise) whose zero
        // pages the region's zero pages replace: every byte reads as before.
        if unsafe { move_pages(self.start.as_ptr(), to.as_ptr(), self.len) } {
            let away = Away {
                home: self.start,
                at: to,
                len: self.len,
                drops_seen: self.drops_seen,
            };
            core::mem::forget(self);
            Ok(away)
        } else {
            OFF.store(true, Ordering::Relaxed);
            Err(self)
        }
    }
}

impl Drop for Scratch {
    fn drop(&mut self) {
        // SAFETY: unmaps exactly the region made in `new`, which nothing uses any more.
        let _ = unsafe { libc::munmap(self.start.as_ptr().cast(), self.len) };
    }
}

/// A region whose pages are over the start of a reservation: its own range (`home`)
/// is mapped and empty.
pub(crate) struct Away {
    home: NonNull<u8>,
    at: NonNull<u8>,
    len: usize,
    drops_seen: usize,
}

impl Away {
    /// Bytes of the reservation the region covers.
    pub(crate) fn len(&self) -> usize {
        self.len
    }

    /// Moves the pages back home: the region is whole again (and kept for the next
    /// memory), and the reservation's range stays mapped, empty, reading as zero.
    /// Where the kernel refuses, gives the pages of the reservation's range back
    /// (`MADV_DONTNEED`), unmaps the home range and stops using scratch.
    ///
    /// # Safety
    ///
    /// Every byte of the reservation's range is zero (wasmi wrote only zeros over it
    /// since [`Scratch::move_to`]), and the caller holds the only access to it.
    pub(crate) unsafe fn come_home(self) {
        let (home, at, len, drops_seen) = (self.home, self.at, self.len, self.drops_seen);
        // SAFETY: both ranges are this crate's own private anonymous mappings (the
        // region's home, left mapped and empty by `move_to`, and the start of a
        // reservation), with no access in progress (the caller's promise); the
        // reservation's range reads as zero afterwards, as it did (all zero).
        if unsafe { move_pages(at.as_ptr(), home.as_ptr(), len) } {
            keep(Scratch {
                start: home,
                len,
                resident: true,
                drops_seen,
            });
            // SAFETY: the range is the start of a reservation, empty and reading as
            // zero, and the caller holds the only access.
            unsafe { rejoin(at, len) };
            return;
        }
        OFF.store(true, Ordering::Relaxed);
        // SAFETY: the reservation's range is whole pages of a private anonymous
        // mapping, all zero (the caller's promise): after `MADV_DONTNEED` they read as
        // zero again. The home range is this crate's own empty mapping, used by
        // nothing: unmapping it touches no one.
        unsafe {
            let _ = libc::madvise(at.as_ptr().cast(), len, libc::MADV_DONTNEED);
            let _ = libc::munmap(home.as_ptr().cast(), len);
        }
    }
}

/// Replaces `at..at + len`, left behind as a mapping of its own by a move, by a fresh
/// one, which the kernel joins to the rest of the reservation: one mapping per
/// reservation, as without scratch, so the process's mapping count (limited, 65 530 by
/// default) does not double. Where the kernel refuses, the range stays as it was (two
/// mappings, reading the same).
///
/// # Safety
///
/// `at..at + len` is whole pages at the start of a `Reservation`, mapped on its own,
/// reading as zero with nothing resident, and the caller holds the only access.
unsafe fn rejoin(at: NonNull<u8>, len: usize) {
    let flags = libc::MAP_PRIVATE | libc::MAP_ANONYMOUS | libc::MAP_NORESERVE | libc::MAP_FIXED;
    let addr = at.as_ptr().cast::<libc::c_void>();
    // SAFETY: replaces the range (empty, reading as zero, the caller's promise) by a
    // new private anonymous mapping with the same protection, which reads as zero
    // too: no byte the program can see changes. `MAP_FIXED` replaces in one step.
    let mapped = unsafe { libc::mmap(addr, len, libc::PROT_READ | libc::PROT_WRITE, flags, -1, 0) };
    if mapped == addr {
        // SAFETY: advice on the mapping just made, as over the rest of the
        // reservation (the same flags let the kernel join the two); no contents change.
        let _ = unsafe { libc::madvise(addr, len, libc::MADV_NOHUGEPAGE) };
        return;
    }
    // The kernel refuses before touching the old mapping (the mapping count limit),
    // or, on kernels before 6.12 out of memory for its own bookkeeping, after
    // unmapping it: then the memory in use has a hole, and going on could read or
    // write unmapped memory, or another mapping placed there.
    let mut byte = 0u8;
    // SAFETY: `mincore` reads the page tables for one page and writes one byte.
    let still_mapped = unsafe { libc::mincore(addr, 1, (&raw mut byte).cast()) } == 0;
    if !still_mapped {
        eprintln!("interplug-os-memory: cannot replace pages of a linear memory");
        std::process::abort();
    }
}

/// A region of at least `bytes` and at most `limit` bytes: a kept one, or a new one of
/// `bytes` (whole pages). `None` when scratch is off, `bytes` is past [`MAX_BYTES`] or
/// the system has no memory for a new one.
pub(crate) fn take(bytes: usize, limit: usize) -> Option<Scratch> {
    if bytes == 0 || bytes > MAX_BYTES || bytes > limit || OFF.load(Ordering::Relaxed) {
        return None;
    }
    let kept = {
        let mut pool = POOL.lock().ok()?;
        let fits = pool.iter().position(|s| s.len >= bytes && s.len <= limit);
        fits.map(|index| pool.swap_remove(index))
    };
    match kept {
        Some(mut scratch) => {
            if !scratch.resident {
                scratch.make_resident();
            }
            Some(scratch)
        }
        None => Scratch::new(bytes.next_multiple_of(crate::reservation::page_size())),
    }
}

/// Keeps `scratch` for a later memory; when [`KEPT`] regions are kept already, the
/// smallest of them and it is unmapped.
///
/// The region stays resident only when a reservation was dropped since it was last
/// kept (instances made and dropped in a loop, where the next memory comes soon);
/// otherwise its pages go back to the system, so that a host that only makes
/// instances and keeps them does not hold them: the next fill makes them resident again
/// in one system call.
fn keep(mut scratch: Scratch) {
    let drops = DROPS.load(Ordering::Relaxed);
    if drops == scratch.drops_seen {
        scratch.give_back();
    }
    scratch.drops_seen = drops;
    let Ok(mut pool) = POOL.lock() else {
        return;
    };
    pool.push(scratch);
    if pool.len() > KEPT {
        if let Some(index) = (0..pool.len()).min_by_key(|i| pool[*i].len) {
            drop(pool.swap_remove(index));
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Resident pages of the `len` bytes of a region at `start`.
    fn resident(start: NonNull<u8>, len: usize) -> usize {
        // SAFETY: `start..start + len` is a region's own mapping, readable, which no
        // one writes while the slice lives (only its page tables are read).
        let bytes = unsafe { std::slice::from_raw_parts(start.as_ptr(), len) };
        let page = crate::reservation::page_size();
        let pages = crate::reservation::resident(bytes, page).expect("mincore");
        pages.iter().filter(|r| **r).count()
    }

    #[test]
    fn a_region_stays_resident_only_while_stores_are_dropped() {
        // A length no other region has (the tests of this module share the list).
        let len = 37 * crate::reservation::page_size();
        let pages = len / crate::reservation::page_size();
        let scratch = Scratch::new(len).expect("mapped");
        let start = scratch.start;
        assert_eq!(resident(start, len), pages, "made resident");
        // No store dropped since it was made: a host that only makes instances; its
        // pages go back.
        keep(scratch);
        assert_eq!(resident(start, len), 0, "given back when kept");
        let again = take(len, len).expect("the kept region");
        assert_eq!(again.start, start);
        assert_eq!(
            resident(start, len),
            pages,
            "resident again for the next fill"
        );
        // A store dropped in between: instances made and dropped in a loop.
        note_dropped();
        keep(again);
        assert_eq!(resident(start, len), pages, "kept resident");
        let last = take(len, len).expect("the kept region");
        assert_eq!(last.start, start);
    }
}
