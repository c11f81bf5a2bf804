//! Reservations kept for reuse (Linux, Android): a store dropped gives its
//! reservation's written pages back and keeps the mapping for the next memory of the
//! same length, instead of unmapping it.
//!
//! A host that makes and drops instances of one plug-in one after the other (a
//! request per instance, a pool checkout, the C harness's loop) otherwise maps a
//! reservation, trims it to a huge-page boundary, advises it and unmaps it for every
//! instance: four to five system calls that change the layout of the address space.
//! Giving the written pages back (`MADV_DONTNEED` over the bytes the memory covered)
//! is one system call that changes no mapping, and afterwards every byte of the
//! reservation reads as zero with nothing resident, as in a new one: a later plug-in
//! sees nothing of the earlier one.
//!
//! Only a few reservations are kept ([`KEPT`]); one whose memory covered more than
//! [`MAX_WRITTEN`] is unmapped (the kernel keeps the page tables of a range given
//! back, which for a large memory are worth freeing).
//!
//! Up to [`WARM`] of them whose memories covered at most [`WARM_BYTES`] are kept
//! *warm* instead (which ones: [`warm_room`]): their written pages stay resident (made
//! resident in one system call if they were given back meanwhile), holding what the
//! dropped memory wrote.
//! The next memory made over one gets wasmi's zero fill over resident pages, with no
//! system call and no page fault; wasmi writes zeros over every byte before a memory
//! exposes it (at creation and at each growth), so a later plug-in still sees nothing
//! of the earlier one. Such a memory holds its pages until they are given back
//! (`hot.rs`).

use core::ptr::NonNull;
use std::sync::Mutex;

use crate::reservation::Reservation;

/// How many reservations the process keeps at most: enough for a few threads making
/// and dropping instances at the same time.
const KEPT: usize = 8;

/// Reservations whose memory covered more than this are unmapped, not kept.
const MAX_WRITTEN: usize = 64 << 20;

/// How many kept reservations are warm at most (resident: idle memory).
const WARM: usize = 2;

/// Reservations whose memory covered more than this are not kept warm.
const WARM_BYTES: usize = 2 << 20;

/// A kept mapping, used by nothing: all zero with nothing resident past its first
/// `warm` bytes, which are resident and may hold what its last memory wrote.
struct Kept {
    start: NonNull<u8>,
    len: usize,
    warm: usize,
}

// SAFETY: a kept mapping is owned by the list alone, like a `Box<[u8]>`; nothing in
// it is tied to a thread.
unsafe impl Send for Kept {}

impl Drop for Kept {
    fn drop(&mut self) {
        // SAFETY: unmaps exactly a reservation's mapping, which the list owned alone
        // (its store is gone): nothing refers to it.
        let _ = unsafe { libc::munmap(self.start.as_ptr().cast(), self.len) };
    }
}

/// The kept reservations.
static LIST: Mutex<Vec<Kept>> = Mutex::new(Vec::new());

/// A kept reservation of exactly `len` bytes, if there is one (a warm one first).
pub(crate) fn take(len: usize) -> Option<Reservation> {
    let kept = {
        let mut list = LIST.lock().ok()?;
        let index = list
            .iter()
            .rposition(|k| k.len == len && k.warm > 0)
            .or_else(|| list.iter().rposition(|k| k.len == len))?;
        list.swap_remove(index)
    };
    let (start, len, warm) = (kept.start, kept.len, kept.warm);
    core::mem::forget(kept);
    Some(Reservation::from_kept(start, len, warm))
}

/// Keeps the reservation at `start` (`len` bytes), whose first `written` bytes may
/// have been written, for a later memory: warm when there is room for one (its
/// written pages resident: `resident` says they are, else they are made so), else
/// with those pages given back. False when it is not kept (too large a memory, the
/// list full, the kernel refusing), and then the caller unmaps it.
///
/// # Safety
///
/// `start..start + len` is a reservation's whole mapping (private, anonymous,
/// readable and writable), nothing accesses it any more, nothing refers to it but
/// the caller, who gives it up when this returns true, and no byte past the first
/// `written` was written since it was mapped or last given back.
pub(crate) unsafe fn keep(start: NonNull<u8>, len: usize, written: usize, resident: bool) -> bool {
    if written > MAX_WRITTEN || written > len {
        return false;
    }
    let bytes = written
        .next_multiple_of(crate::reservation::page_size())
        .min(len);
    let may_be_warm = bytes > 0 && bytes <= WARM_BYTES;
    let warm = match LIST.lock() {
        Ok(list) if list.len() < KEPT => may_be_warm && warm_room(&list, len, resident).is_some(),
        _ => return false,
    };
    if warm {
        // Pages given back since are made resident again, once, here.
        let resident = resident || crate::reservation::populate(start.as_ptr() as usize, 0, bytes);
        if resident {
            if let Ok(mut list) = LIST.lock() {
                if let Some(evict) = warm_room(&list, len, resident) {
                    // Unmapped once the lock is released.
                    let evicted = evict.map(|index| list.remove(index));
                    if list.len() < KEPT {
                        list.push(Kept {
                            start,
                            len,
                            warm: bytes,
                        });
                        drop(list);
                        drop(evicted);
                        return true;
                    }
                }
            }
        }
    }
    // The pages go back outside the list's lock, so that threads dropping stores at
    // the same time do not wait for each other's system call.
    if bytes > 0 {
        // SAFETY: whole pages at the start of a private anonymous mapping that nothing
        // accesses (the caller's promise): after `MADV_DONTNEED` they read as zero
        // and are not resident, like the never-written rest of the mapping.
        let given = unsafe { libc::madvise(start.as_ptr().cast(), bytes, libc::MADV_DONTNEED) };
        if given != 0 {
            return false;
        }
    }
    let Ok(mut list) = LIST.lock() else {
        return false;
    };
    // Another thread may have filled the list meanwhile: then the caller unmaps it.
    if list.len() >= KEPT {
        return false;
    }
    list.push(Kept {
        start,
        len,
        warm: 0,
    });
    true
}

/// Whether a reservation of `len` bytes may be kept warm in `list`, and which warm one
/// it replaces: `Some(None)` when there are fewer than [`WARM`]; else the oldest, for
/// one whose pages are resident already (made warm and dropped: the newest is the
/// likeliest to be reused, and keeping it costs nothing), or the oldest of another
/// length, for one whose pages would have to be made resident again (so that a host
/// dropping many instances of one plug-in does that at most [`WARM`] times, and a
/// plug-in made and dropped in a loop still gets a warm reservation when the warm
/// ones are of other lengths). `None`: keep it cold.
fn warm_room(list: &[Kept], len: usize, resident: bool) -> Option<Option<usize>> {
    let warm = list.iter().filter(|k| k.warm > 0).count();
    if warm < WARM {
        return Some(None);
    }
    list.iter()
        .position(|k| k.warm > 0 && (resident || k.len != len))
        .map(Some)
}

#[cfg(test)]
mod tests {
    use super::*;

    /// A list entry that maps nothing (forgotten at the end, never dropped).
    fn entry(len: usize, warm: usize) -> Kept {
        Kept {
            start: NonNull::dangling(),
            len,
            warm,
        }
    }

    #[test]
    fn warm_room_bounds_the_warm_ones_and_the_pages_made_resident() {
        let (a, b, c) = (1 << 20, 2 << 20, 3 << 20);
        let mut list = vec![entry(a, 0)];
        assert_eq!(warm_room(&list, a, false), Some(None), "room");
        list.push(entry(a, 4096));
        assert_eq!(warm_room(&list, a, false), Some(None), "room for a second");
        list.push(entry(b, 4096));
        // Two warm: a resident one replaces the oldest warm one.
        assert_eq!(warm_room(&list, a, true), Some(Some(1)));
        // One to make resident again replaces only a warm one of another length.
        assert_eq!(warm_room(&list, a, false), Some(Some(2)));
        assert_eq!(warm_room(&list, c, false), Some(Some(1)));
        list[2].len = a;
        assert_eq!(warm_room(&list, a, false), None, "kept cold");
        // The entries map nothing: none may unmap anything when dropped.
        list.into_iter().for_each(core::mem::forget);
    }
}
