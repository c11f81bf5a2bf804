//! A global allocator that counts the bytes the process holds and their peak, for the
//! tests and the fuzz target that bound host memory. Include it with `#[path]`; it
//! installs itself as the `#[global_allocator]` of the including crate.

use std::alloc::{GlobalAlloc, Layout, System};
use std::sync::atomic::{AtomicIsize, Ordering};

/// The system allocator, counting live bytes and their peak.
struct Counting;

static LIVE_BYTES: AtomicIsize = AtomicIsize::new(0);
static PEAK_BYTES: AtomicIsize = AtomicIsize::new(0);

fn add(bytes: isize) {
    let live = LIVE_BYTES.fetch_add(bytes, Ordering::Relaxed) + bytes;
    PEAK_BYTES.fetch_max(live, Ordering::Relaxed);
}

// SAFETY: forwards to the system allocator unchanged; only counts sizes.
unsafe impl GlobalAlloc for Counting {
    unsafe fn alloc(&self, layout: Layout) -> *mut u8 {
        add(layout.size() as isize);
        // SAFETY: same contract as the caller's.
        unsafe { System.alloc(layout) }
    }
    unsafe fn alloc_zeroed(&self, layout: Layout) -> *mut u8 {
        add(layout.size() as isize);
        // SAFETY: same contract as the caller's.
        unsafe { System.alloc_zeroed(layout) }
    }
    unsafe fn dealloc(&self, ptr: *mut u8, layout: Layout) {
        add(-(layout.size() as isize));
        // SAFETY: same contract as the caller's.
        unsafe { System.dealloc(ptr, layout) }
    }
    unsafe fn realloc(&self, ptr: *mut u8, layout: Layout, new_size: usize) -> *mut u8 {
        add(new_size as isize - layout.size() as isize);
        // SAFETY: same contract as the caller's.
        unsafe { System.realloc(ptr, layout, new_size) }
    }
}

#[global_allocator]
static ALLOCATOR: Counting = Counting;

/// Host bytes held now.
#[allow(dead_code)]
pub fn live() -> isize {
    LIVE_BYTES.load(Ordering::Relaxed)
}

/// Starts a peak measurement from the bytes held now, and returns them.
#[allow(dead_code)]
pub fn reset_peak() -> isize {
    let now = live();
    PEAK_BYTES.store(now, Ordering::Relaxed);
    now
}

/// The most bytes held since the last [`reset_peak`].
#[allow(dead_code)]
pub fn peak() -> isize {
    PEAK_BYTES.load(Ordering::Relaxed)
}
