//! Warm reservations (Linux, Android): a store dropped leaves its reservation
//! resident for the next memory of the same length, which is made without a system
//! call; that memory shows nothing of the dropped one, and its all-zero pages go back
//! to the system once its store is idle and another memory is made. The scenarios run
//! one after the other in this file's own process, so that no other test's stores
//! take or evict the warm reservations they count on.

#![cfg(any(target_os = "linux", target_os = "android"))]

use interplug_os_memory::{give_back_idle_pages, Store, WASM_PAGE_BYTES};
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::Arc;
use wasmi::{Engine, Memory, MemoryType};

const PAGE: usize = WASM_PAGE_BYTES as usize;

/// Resident 4 KiB pages of `bytes` (`mincore`).
fn resident_pages(bytes: &[u8]) -> usize {
    let mut flags = vec![0u8; bytes.len().div_ceil(4096)];
    // SAFETY: `bytes` is a memory's mapping, page-aligned; `mincore` only reads the
    // page tables and writes one byte per page into `flags`, which has that many.
    let rc = unsafe {
        libc::mincore(
            bytes.as_ptr().cast_mut().cast(),
            bytes.len(),
            flags.as_mut_ptr(),
        )
    };
    assert_eq!(rc, 0, "mincore");
    flags.iter().filter(|f| **f & 1 == 1).count()
}

fn made(engine: &Engine, min: u32, reserve_pages: u64) -> (Store<()>, Memory) {
    let mut store = Store::new(engine, ());
    let memory = store
        .new_lazy_memory(MemoryType::new(min, None), reserve_pages * WASM_PAGE_BYTES)
        .expect("lazy memory");
    (store, memory)
}

#[test]
fn warm_reservations() {
    a_warm_memory_shows_nothing_of_the_dropped_one_and_gives_its_pages_back();
    an_idle_store_loses_nothing_while_another_thread_gives_pages_back();
}

fn a_warm_memory_shows_nothing_of_the_dropped_one_and_gives_its_pages_back() {
    let engine = Engine::default();
    let (mut first, memory) = made(&engine, 17, 29);
    memory.grow(&mut first, 2).expect("grows");
    memory.data_mut(&mut first).fill(0xA5);
    let address = memory.data(&first).as_ptr() as usize;
    drop(first);

    // The reservation comes back warm: the whole initial size resident at once.
    let (mut second, memory) = made(&engine, 17, 29);
    assert_eq!(memory.data(&second).as_ptr() as usize, address, "reused");
    assert!(
        resident_pages(memory.data(&second)) >= 17 * PAGE / 4096,
        "made over resident pages"
    );
    assert!(memory.data(&second).iter().all(|b| *b == 0), "reads zero");
    memory.grow(&mut second, 2).expect("grows");
    assert!(
        memory.data(&second).iter().all(|b| *b == 0),
        "the dropped memory's growth reads zero too"
    );
    memory.data_mut(&mut second)[3 * PAGE] = 7;

    // Busy (no `idle`): making another memory leaves its pages alone.
    drop(Store::<()>::new(&engine, ()).new_lazy_memory(MemoryType::new(1, None), WASM_PAGE_BYTES));
    assert!(resident_pages(memory.data(&second)) >= 17 * PAGE / 4096);

    // Idle: they go back, all but the written one, and the bytes stay.
    second.idle();
    give_back_idle_pages();
    assert_eq!(resident_pages(memory.data(&second)), 1);
    assert_eq!(memory.data(&second)[3 * PAGE], 7);
    // Past its size, nothing of the dropped memory is left resident either.
    // SAFETY: the reservation is 29 pages and mapped while `second` lives; the slice
    // is only passed to `mincore`.
    let past = unsafe { std::slice::from_raw_parts((address + 19 * PAGE) as *const u8, 10 * PAGE) };
    assert_eq!(resident_pages(past), 0);

    // Writable again, and an ordinary lazy memory from now on.
    memory.data_mut(&mut second)[5 * PAGE] = 8;
    assert_eq!(memory.data(&second)[5 * PAGE], 8);
    memory.grow(&mut second, 1).expect("grows");
    assert_eq!(
        second.give_back_zero_pages(19 * WASM_PAGE_BYTES..20 * WASM_PAGE_BYTES),
        WASM_PAGE_BYTES
    );
}

fn an_idle_store_loses_nothing_while_another_thread_gives_pages_back() {
    let engine = Engine::default();
    let stop = Arc::new(AtomicBool::new(false));
    let reclaimer = {
        let (stop, engine) = (Arc::clone(&stop), engine.clone());
        std::thread::spawn(move || {
            let mut count = 0u32;
            while !stop.load(Ordering::Relaxed) {
                give_back_idle_pages();
                // Memories of another length: they give pages back as they are made.
                drop(made(&engine, 1, 3));
                count += 1;
            }
            count
        })
    };
    let mut last: Option<(Store<()>, Memory)> = None;
    for round in 0..300usize {
        // Drop the previous store (its reservation goes warm) and make the next one
        // over it: a warm memory, whose pages the other thread may give back
        // whenever the store is idle.
        drop(last.take());
        let (mut store, memory) = made(&engine, 17, 31);
        for step in 0..20usize {
            let at = ((round * 7 + step * 13) % 17) * PAGE + step;
            memory.data_mut(&mut store)[at] = (step as u8) | 1;
            store.idle();
            std::thread::yield_now();
            // Everything written so far in this round is still there.
            for earlier in 0..=step {
                let at = ((round * 7 + earlier * 13) % 17) * PAGE + earlier;
                // (Every value written is odd; a page given back would read zero.)
                let found = memory.data(&store)[at];
                assert!(found & 1 == 1, "round {round} step {step}: byte {at} lost");
            }
            if step % 5 == 0 {
                memory.grow(&mut store, 1).expect("grows");
            }
        }
        last = Some((store, memory));
    }
    stop.store(true, Ordering::Relaxed);
    let made = reclaimer.join().expect("reclaimer");
    assert!(made > 0);
}
