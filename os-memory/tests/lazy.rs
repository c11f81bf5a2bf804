//! The edge cases of lazy memories: growth to the reservation, growth refused,
//! resident pages, stores dropped and rebuilt, stores swapped, many threads.

use interplug_os_memory::{LazyMemoryError, Store, SUPPORTED, WASM_PAGE_BYTES};
use wasmi::{Engine, Memory, MemoryType};

const PAGE: usize = WASM_PAGE_BYTES as usize;

/// A store with a lazy memory of `ty` over `reserve_pages`, or `None` where this
/// platform has none (the tests then check the refusal only).
fn lazy<T>(data: T, ty: MemoryType, reserve_pages: u64) -> Option<(Store<T>, Memory)> {
    let engine = Engine::default();
    let mut store = Store::new(&engine, data);
    match store.new_lazy_memory(ty, reserve_pages * WASM_PAGE_BYTES) {
        Ok(memory) => {
            // A memory made over a warm reservation (another test dropped one) holds
            // its pages until they are given back: these tests start from a cold one.
            store.idle();
            interplug_os_memory::give_back_idle_pages();
            Some((store, memory))
        }
        Err(LazyMemoryError::Unsupported) if !SUPPORTED => None,
        Err(e) => panic!("lazy memory refused: {e}"),
    }
}

/// How many of the pages of `bytes` are resident (Linux and Android: `mincore`).
#[cfg(any(target_os = "linux", target_os = "android"))]
fn resident_pages(bytes: &[u8]) -> Option<usize> {
    let page = 4096;
    let start = bytes.as_ptr() as usize;
    assert_eq!(start % page, 0);
    let pages = bytes.len().div_ceil(page);
    let mut vec = vec![0u8; pages];
    // SAFETY: `start..start + len` is the mapping behind `bytes`; `mincore` only reads
    // the page tables and writes one byte per page into `vec`, which has that many.
    let rc = unsafe { libc::mincore(start as *mut libc::c_void, bytes.len(), vec.as_mut_ptr()) };
    (rc == 0).then(|| vec.iter().filter(|b| **b & 1 == 1).count())
}

#[cfg(not(any(target_os = "linux", target_os = "android")))]
fn resident_pages(_bytes: &[u8]) -> Option<usize> {
    None
}

/// True when the page at `address` is mapped (Linux, Android: `mincore` fails with
/// `ENOMEM` on unmapped pages).
#[cfg(any(target_os = "linux", target_os = "android"))]
fn is_mapped(address: usize) -> bool {
    let mut byte = 0u8;
    // SAFETY: `mincore` reads the page tables for one page and writes one byte.
    unsafe { libc::mincore(address as *mut libc::c_void, 1, &mut byte) == 0 }
}

#[test]
fn a_new_memory_reads_zero_and_holds_no_pages() {
    let Some((mut store, memory)) = lazy((), MemoryType::new(17, None), 1 << 16) else {
        return;
    };
    assert_eq!(memory.size(&store), 17);
    if let Some(resident) = resident_pages(memory.data(&store)) {
        // wasmi wrote zeros over the 17 pages; they were given back.
        assert_eq!(resident, 0);
    }
    assert!(memory.data(&store).iter().all(|b| *b == 0));
    {
        let bytes = memory.data_mut(&mut store);
        bytes[0] = 1;
        bytes[5 * PAGE + 7] = 2;
    }
    assert_eq!(memory.data(&store)[5 * PAGE + 7], 2);
    assert_eq!(store.reserved_bytes(), 4 << 30);
}

#[cfg(any(target_os = "linux", target_os = "android"))]
#[test]
fn only_written_pages_are_resident() {
    let Some((mut store, memory)) = lazy((), MemoryType::new(17, None), 64) else {
        return;
    };
    {
        let bytes = memory.data_mut(&mut store);
        for page in [0, 3, 16] {
            bytes[page * PAGE] = 1;
        }
    }
    // Each write makes one small page resident (transparent huge pages are off here).
    let resident = resident_pages(memory.data(&store)).expect("mincore");
    assert_eq!(resident, 3, "only the three written pages");
}

#[cfg(any(target_os = "linux", target_os = "android"))]
#[test]
fn zero_pages_of_a_growth_are_given_back() {
    let Some((mut store, memory)) = lazy((), MemoryType::new(1, None), 64) else {
        return;
    };
    memory.grow(&mut store, 10).expect("grows");
    // wasmi wrote zeros over the 10 new pages: 160 small pages resident.
    assert_eq!(resident_pages(memory.data(&store)), Some(160));
    {
        let bytes = memory.data_mut(&mut store);
        bytes[PAGE + 5] = 1;
        bytes[7 * PAGE + 4095] = 2;
    }
    let given = store.give_back_zero_pages(PAGE as u64..11 * PAGE as u64);
    assert_eq!(given, 158 * 4096);
    assert_eq!(resident_pages(memory.data(&store)), Some(2));
    assert_eq!(memory.data(&store)[PAGE + 5], 1);
    assert_eq!(memory.data(&store)[7 * PAGE + 4095], 2);
    // Pages that are not resident are not read (nothing to give back), and a range
    // past the memory is clamped.
    assert_eq!(store.give_back_zero_pages(0..u64::MAX), 0);
    assert_eq!(resident_pages(memory.data(&store)), Some(2));
    assert!(memory.data(&store)[PAGE + 6..7 * PAGE]
        .iter()
        .all(|b| *b == 0));
}

#[test]
fn grows_in_place_up_to_the_reservation_and_no_further() {
    let Some((mut store, memory)) = lazy((), MemoryType::new(1, None), 40) else {
        return;
    };
    memory.data_mut(&mut store)[10] = 42;
    let start = memory.data(&store).as_ptr();
    for _ in 0..39 {
        memory.grow(&mut store, 1).expect("within the reservation");
    }
    assert_eq!(memory.size(&store), 40);
    assert_eq!(memory.data(&store).as_ptr(), start, "never moved");
    assert_eq!(memory.data(&store)[10], 42);
    assert!(memory.data(&store)[PAGE..].iter().all(|b| *b == 0));
    assert!(memory.grow(&mut store, 1).is_err(), "past the reservation");
    assert_eq!(memory.size(&store), 40);
    memory.data_mut(&mut store)[40 * PAGE - 1] = 7;
}

#[test]
fn grows_to_the_type_maximum() {
    let Some((mut store, memory)) = lazy((), MemoryType::new(2, Some(10)), 1 << 16) else {
        return;
    };
    // The reservation is capped at the type's maximum.
    assert_eq!(store.reserved_bytes(), 10 * PAGE);
    memory.grow(&mut store, 8).expect("to the maximum");
    assert!(memory.grow(&mut store, 1).is_err());
    memory.data_mut(&mut store)[10 * PAGE - 1] = 1;
}

/// A limiter that allows `pages` pages in all.
struct Limit {
    pages: usize,
    refused: usize,
}

impl wasmi::ResourceLimiter for Limit {
    fn memory_growing(
        &mut self,
        _current: usize,
        desired: usize,
        _maximum: Option<usize>,
    ) -> Result<bool, wasmi_core::LimiterError> {
        let allowed = desired <= self.pages * PAGE;
        if !allowed {
            self.refused += 1;
        }
        Ok(allowed)
    }

    fn table_growing(
        &mut self,
        _current: usize,
        _desired: usize,
        _maximum: Option<usize>,
    ) -> Result<bool, wasmi_core::LimiterError> {
        Ok(true)
    }

    fn instances(&self) -> usize {
        1
    }

    fn tables(&self) -> usize {
        1
    }

    fn memories(&self) -> usize {
        4
    }
}

#[test]
fn the_limiter_sees_creation_and_growth() {
    let engine = Engine::default();
    let mut store = Store::new(
        &engine,
        Limit {
            pages: 5,
            refused: 0,
        },
    );
    store.limiter(|limit| limit as &mut dyn wasmi::ResourceLimiter);
    // Creation is asked for, as for an ordinary memory.
    match store.new_lazy_memory(MemoryType::new(6, None), 64 * WASM_PAGE_BYTES) {
        Err(LazyMemoryError::Engine(_)) => assert_eq!(store.data().refused, 1),
        Err(LazyMemoryError::Unsupported) if !SUPPORTED => return,
        other => panic!("{other:?}"),
    }
    let memory = store
        .new_lazy_memory(MemoryType::new(3, None), 64 * WASM_PAGE_BYTES)
        .expect("within the limit");
    memory.grow(&mut store, 2).expect("5 pages");
    assert!(memory.grow(&mut store, 1).is_err(), "refused");
    assert_eq!(store.data().refused, 2);
    assert_eq!(memory.size(&store), 5);
}

/// The address of a store's memory after writing to it and growing it by `grow`
/// pages, once the store is dropped.
fn dropped_after_use(min: u32, reserve: u64, grow: u64) -> Option<usize> {
    let (mut store, memory) = lazy(vec![1u8; 10], MemoryType::new(min, None), reserve)?;
    memory
        .grow(&mut store, grow)
        .expect("within the reservation");
    let len = memory.data(&store).len();
    memory.data_mut(&mut store)[0] = 9;
    memory.data_mut(&mut store)[len - 1] = 9;
    let address = memory.data(&store).as_ptr() as usize;
    drop(store);
    Some(address)
}

#[test]
fn a_dropped_store_s_reservation_is_kept_without_its_bytes() {
    // A length no other test reserves: the kept reservation is this test's own.
    let Some(address) = dropped_after_use(2, 37, 3) else {
        return;
    };
    #[cfg(any(target_os = "linux", target_os = "android"))]
    if is_mapped(address) {
        // Kept for a later memory: resident at most over what the dropped memory
        // covered (kept warm), and the next memory of the same length reads zero
        // where the dropped one was written.
        // SAFETY: the range is a kept reservation (mapped, as just checked) that no
        // one uses; the slice is only passed to `mincore` and dropped before the next
        // store is made.
        let kept = unsafe { std::slice::from_raw_parts(address as *const u8, 37 * PAGE) };
        let resident = resident_pages(kept).expect("mincore");
        assert!(
            resident == 0 || resident == 5 * PAGE / 4096,
            "{resident} pages of a kept reservation resident"
        );
        let (mut store, memory) = lazy((), MemoryType::new(2, None), 37).expect("reserved");
        memory.grow(&mut store, 3).expect("grows");
        assert_eq!(
            memory.data(&store).as_ptr() as usize,
            address,
            "the kept one is reused"
        );
        assert!(memory.data(&store).iter().all(|b| *b == 0));
    }
    let _ = address;
}

#[test]
fn a_large_memory_is_unmapped_with_its_store() {
    // Past the 64 MiB the kept reservations may have covered: unmapped.
    let Some(address) = dropped_after_use(1, 2048, 1100) else {
        return;
    };
    #[cfg(any(target_os = "linux", target_os = "android"))]
    assert!(!is_mapped(address), "unmapped with its store");
    let _ = address;
}

#[test]
fn only_a_few_reservations_are_kept() {
    // 20 stores of a length no other test reserves, alive at once, then dropped: at
    // most 8 of their mappings stay (the rest are unmapped).
    let stores: Vec<_> = (0..20)
        .filter_map(|_| lazy((), MemoryType::new(1, None), 41))
        .collect();
    let addresses: Vec<usize> = stores
        .iter()
        .map(|(store, memory)| memory.data(store).as_ptr() as usize)
        .collect();
    drop(stores);
    #[cfg(any(target_os = "linux", target_os = "android"))]
    {
        let still_mapped = addresses.iter().filter(|a| is_mapped(**a)).count();
        assert!(still_mapped <= 8, "{still_mapped} reservations kept");
    }
    let _ = addresses;
}

#[test]
fn swapped_stores_keep_their_own_memories() {
    let (Some((mut a, ma)), Some((mut b, mb))) = (
        lazy("a", MemoryType::new(1, None), 4),
        lazy("b", MemoryType::new(1, None), 4),
    ) else {
        return;
    };
    ma.data_mut(&mut a)[0] = 1;
    mb.data_mut(&mut b)[0] = 2;
    core::mem::swap(&mut a, &mut b);
    drop(a); // the store of `mb`, with its mapping
    assert_eq!(*b.data(), "a");
    assert_eq!(ma.data(&b)[0], 1);
    ma.grow(&mut b, 3).expect("grows");
    ma.data_mut(&mut b)[4 * PAGE - 1] = 3;
}

#[test]
fn many_threads_make_grow_and_drop_memories() {
    let threads: Vec<_> = (0..8)
        .map(|t| {
            std::thread::spawn(move || {
                let mut kept = Vec::new();
                for i in 0..100u32 {
                    let Some((mut store, memory)) = lazy(i, MemoryType::new(17, None), 256) else {
                        return;
                    };
                    let bytes = memory.data_mut(&mut store);
                    bytes[PAGE * 16] = t as u8;
                    memory.grow(&mut store, (i % 8).into()).expect("grows");
                    let len = memory.data(&store).len();
                    memory.data_mut(&mut store)[len - 1] = 1;
                    assert_eq!(memory.data(&store)[PAGE * 16], t as u8);
                    // Keep some alive for a while, drop others at once.
                    if i % 3 == 0 {
                        kept.push((store, memory));
                    }
                    if kept.len() > 10 {
                        let (store, memory) = kept.remove(0);
                        assert_eq!(memory.data(&store)[PAGE * 16], t as u8);
                    }
                }
            })
        })
        .collect();
    for thread in threads {
        thread.join().expect("thread");
    }
}

#[test]
fn a_store_can_be_sent_to_another_thread() {
    let Some((mut store, memory)) = lazy(0u64, MemoryType::new(1, None), 2) else {
        return;
    };
    memory.data_mut(&mut store)[3] = 3;
    let moved = std::thread::spawn(move || {
        memory.grow(&mut store, 1).expect("grows");
        (store, memory)
    })
    .join()
    .expect("thread");
    assert_eq!(moved.1.data(&moved.0)[3], 3);
}

/// Writes a pattern over every byte of `memory` (what a plug-in could leave behind).
fn scribble(store: &mut Store<()>, memory: Memory, seed: u8) {
    for (i, byte) in memory.data_mut(store).iter_mut().enumerate() {
        *byte = (i as u8) ^ seed | 1;
    }
}

#[test]
fn a_new_memory_shows_nothing_of_a_dropped_one() {
    // Sizes in turn, so that kept fill regions are reused, replaced and too large for
    // a small reservation (2 pages reserved after 17-page memories).
    for (round, (min, reserve)) in [
        (17, 64),
        (17, 64),
        (2, 2),
        (17, 17),
        (40, 40),
        (17, 1 << 16),
    ]
    .into_iter()
    .enumerate()
    {
        let Some((mut store, memory)) = lazy((), MemoryType::new(min, None), reserve) else {
            return;
        };
        // (Before reading: a read maps the shared zero page, which counts as resident.)
        if let Some(resident) = resident_pages(memory.data(&store)) {
            assert_eq!(resident, 0, "round {round}: nothing resident");
        }
        assert!(
            memory.data(&store).iter().all(|b| *b == 0),
            "round {round}: a new memory reads zero"
        );
        // Where a dropped memory of the same reservation grew (a kept reservation
        // reused), the growth reads zero too.
        let grow = u64::from(u64::from(min) < reserve);
        memory
            .grow(&mut store, grow)
            .expect("within the reservation");
        assert!(
            memory.data(&store).iter().all(|b| *b == 0),
            "round {round}: a grown memory reads zero"
        );
        scribble(&mut store, memory, round as u8);
        drop(store);
    }
}

#[test]
fn many_threads_never_see_each_others_bytes() {
    let threads: Vec<_> = (0..6u8)
        .map(|t| {
            std::thread::spawn(move || {
                let mut kept = Vec::new();
                for i in 0..40u32 {
                    let min = if i % 5 == 0 { 3 } else { 17 };
                    let Some((mut store, memory)) = lazy((), MemoryType::new(min, None), 64) else {
                        return;
                    };
                    assert!(memory.data(&store).iter().all(|b| *b == 0));
                    scribble(&mut store, memory, t);
                    if i % 4 == 0 {
                        kept.push((store, memory));
                    }
                }
                for (store, memory) in kept {
                    assert!(memory.data(&store).iter().all(|b| *b & 1 == 1));
                }
            })
        })
        .collect();
    for thread in threads {
        thread.join().expect("thread");
    }
}

/// Whether this kernel has `MADV_POPULATE_WRITE` (Linux 5.14), tried on a mapping of
/// the test's own.
#[cfg(any(target_os = "linux", target_os = "android"))]
fn kernel_populates() -> bool {
    let len = 4096;
    let flags = libc::MAP_PRIVATE | libc::MAP_ANONYMOUS;
    // SAFETY: a new anonymous mapping at an address the kernel picks; unmapped below.
    let at = unsafe {
        libc::mmap(
            std::ptr::null_mut(),
            len,
            libc::PROT_READ | libc::PROT_WRITE,
            flags,
            -1,
            0,
        )
    };
    assert_ne!(at, libc::MAP_FAILED);
    // SAFETY: advice on the mapping just made (it changes no contents), then unmapping
    // it; nothing else refers to it.
    unsafe {
        let populated = libc::madvise(at, len, 23) == 0;
        libc::munmap(at, len);
        populated
    }
}

#[test]
fn a_growth_prefault_makes_the_grown_pages_resident_and_they_go_back() {
    let Some((mut store, memory)) = lazy((), MemoryType::new(1, None), 8) else {
        return;
    };
    let prefault = store.growth_prefault().expect("one lazy memory");
    prefault.growing(PAGE, 3 * PAGE);
    #[cfg(any(target_os = "linux", target_os = "android"))]
    if kernel_populates() {
        // Before the growth: the two pages past the memory's end, in its reservation.
        let past_end = memory.data(&store).as_ptr() as usize + PAGE;
        let mut flags = vec![0u8; 2 * PAGE / 4096];
        // SAFETY: `mincore` reads the page tables of the reservation's range (mapped:
        // 8 pages were reserved) and writes one byte per page into `flags`.
        let rc =
            unsafe { libc::mincore(past_end as *mut libc::c_void, 2 * PAGE, flags.as_mut_ptr()) };
        assert_eq!(rc, 0);
        assert!(
            flags.iter().all(|f| f & 1 == 1),
            "made resident before the fill"
        );
    }
    memory.grow(&mut store, 2).expect("within the reservation");
    assert!(memory.data(&store).iter().all(|b| *b == 0), "reads zero");
    memory.data_mut(&mut store)[PAGE] = 5;
    // What stayed zero goes back, as after any growth.
    let given = store.give_back_zero_pages(PAGE as u64..3 * PAGE as u64);
    if cfg!(any(target_os = "linux", target_os = "android")) {
        assert_eq!(given, 2 * PAGE as u64 - 4096);
    }
    assert_eq!(memory.data(&store)[PAGE], 5);
    // Past the reservation, the prefault stops at its end: the memory still works.
    prefault.growing(3 * PAGE, 1000 * PAGE);
    memory.grow(&mut store, 5).expect("to the 8 reserved pages");
    assert!(memory.grow(&mut store, 1).is_err());
    assert_eq!(memory.data(&store)[PAGE], 5);
}

#[test]
fn a_store_with_two_lazy_memories_has_no_growth_prefault() {
    let Some((mut store, _first)) = lazy((), MemoryType::new(1, None), 4) else {
        return;
    };
    assert!(store.growth_prefault().is_some());
    store
        .new_lazy_memory(MemoryType::new(1, None), 4 * WASM_PAGE_BYTES)
        .expect("a second memory");
    assert!(
        store.growth_prefault().is_none(),
        "which memory grows is unknown"
    );
}
