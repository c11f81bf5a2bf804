//! 100 000 calls on one plug-in do not grow host memory: a counting allocator
//! measures the bytes the process holds.

mod common;
use interplug::Plugin;
use std::{
    alloc::{GlobalAlloc, Layout, System},
    sync::atomic::{AtomicIsize, Ordering},
};

/// The system allocator, counting live bytes.
struct Counting;

static LIVE_BYTES: AtomicIsize = AtomicIsize::new(0);

// SAFETY: forwards to the system allocator unchanged; only counts sizes.
unsafe impl GlobalAlloc for Counting {
    unsafe fn alloc(&self, layout: Layout) -> *mut u8 {
        LIVE_BYTES.fetch_add(layout.size() as isize, Ordering::Relaxed);
        // SAFETY: same contract as the caller's.
        unsafe { System.alloc(layout) }
    }
    unsafe fn dealloc(&self, ptr: *mut u8, layout: Layout) {
        LIVE_BYTES.fetch_sub(layout.size() as isize, Ordering::Relaxed);
        // SAFETY: same contract as the caller's.
        unsafe { System.dealloc(ptr, layout) }
    }
    unsafe fn realloc(&self, ptr: *mut u8, layout: Layout, new_size: usize) -> *mut u8 {
        LIVE_BYTES.fetch_add(
            new_size as isize - layout.size() as isize,
            Ordering::Relaxed,
        );
        // SAFETY: same contract as the caller's.
        unsafe { System.realloc(ptr, layout, new_size) }
    }
}

#[global_allocator]
static ALLOCATOR: Counting = Counting;

#[test]
fn a_hundred_thousand_calls_do_not_grow_host_memory() {
    let mut plugin = Plugin::new(common::fixture_bytes("count_vowels"), [], false).expect("loads");
    let input = "the quick brown fox jumps over the lazy dog";
    for _ in 0..1_000 {
        plugin
            .call::<&str, &[u8]>("count_vowels", input)
            .expect("call");
    }
    let after_warm_up = LIVE_BYTES.load(Ordering::Relaxed);
    for _ in 0..99_000 {
        plugin
            .call::<&str, &[u8]>("count_vowels", input)
            .expect("call");
    }
    let after_all = LIVE_BYTES.load(Ordering::Relaxed);
    let growth = after_all - after_warm_up;
    assert!(
        growth < 4096,
        "host memory grew by {growth} bytes over 99 000 calls"
    );
}
