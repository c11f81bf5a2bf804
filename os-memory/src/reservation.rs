//! Reserved mappings and giving zeroed pages back: the system calls, through `libc`.

/// True where this crate maps lazy memories: Linux, Android, and Apple's systems
/// (macOS, iOS). Elsewhere (Windows, the BSDs, wasm, bare metal) its callers keep
/// ordinary memories.
pub const SUPPORTED: bool = cfg!(any(
    target_os = "linux",
    target_os = "android",
    target_vendor = "apple"
));

#[cfg(any(target_os = "linux", target_os = "android", target_vendor = "apple"))]
mod os {
    use core::ptr::NonNull;

    /// The huge page size transparent huge pages use on x86_64 and on aarch64 with 4 KiB
    /// pages; elsewhere asking for huge pages over such spans just has no effect.
    const HUGE_PAGE: usize = 2 << 20;

    /// An anonymous private mapping, readable and writable over its whole length,
    /// that only its owner uses. When dropped it is kept for a later memory of the
    /// same length (Linux, Android: see `kept.rs`) once its written pages are given
    /// back, or unmapped.
    pub(crate) struct Reservation {
        start: NonNull<u8>,
        len: usize,
        /// How many bytes at the start may have been written since the reservation
        /// was mapped or last given back (the size of the memory over it when its
        /// store was dropped); `None` when not known, and then it is never reused.
        written: Option<usize>,
        /// Bytes at the start that are resident and may still hold what an earlier
        /// memory wrote (a warm reservation from `kept.rs`; 0 otherwise). wasmi writes
        /// zeros over every byte before a memory exposes it, so they are never read.
        warm: usize,
        /// Set when the pages of the first `written` bytes are known to be resident
        /// (a memory made warm and never given back): it can be kept warm as it is.
        resident: bool,
    }

    /// What [`Reservation::fill_begins`] prepared for wasmi's zero fill.
    pub(crate) enum Fill {
        /// The reservation is warm: the pages are resident already.
        #[cfg(any(target_os = "linux", target_os = "android"))]
        Warm,
        /// A region of resident zero pages is over the start of the reservation.
        #[cfg(any(target_os = "linux", target_os = "android"))]
        Scratch(crate::scratch::Away),
        /// Huge pages were asked for over this many bytes at the start.
        Huge(usize),
    }

    // SAFETY: a `Reservation` owns its mapping exclusively, like a `Box<[u8]>` owns its
    // bytes; nothing in it is tied to the thread that made it.
    unsafe impl Send for Reservation {}
    // SAFETY: `&Reservation` gives no access to the bytes (only its length).
    unsafe impl Sync for Reservation {}

    impl Reservation {
        /// Reserves `len` bytes (`len > 0`, a multiple of the page size) of address
        /// space, readable and writable, with no memory behind it until written.
        pub(crate) fn new(len: usize) -> std::io::Result<Self> {
            if len == 0 || len % page_size() != 0 {
                return Err(std::io::ErrorKind::InvalidInput.into());
            }
            #[cfg(any(target_os = "linux", target_os = "android"))]
            if let Some(kept) = crate::kept::take(len) {
                return Ok(kept);
            }
            // Aligned to a huge page (Linux, Android), so that the first pages can be
            // filled as one (see `fill_begins`).
            let align = if cfg!(any(target_os = "linux", target_os = "android")) {
                HUGE_PAGE
            } else {
                page_size()
            };
            let start = map_aligned(len, align)?;
            let reservation = Reservation {
                start,
                len,
                written: None,
                warm: 0,
                resident: false,
            };
            #[cfg(any(target_os = "linux", target_os = "android"))]
            {
                // Where transparent huge pages are on for every mapping, one byte
                // written would make 2 MiB resident: keep this mapping to small pages.
                // SAFETY: advice on the mapping made above; it changes no contents. A
                // failure (a kernel without THP) changes nothing.
                let _ = unsafe { libc::madvise(start.as_ptr().cast(), len, libc::MADV_NOHUGEPAGE) };
            }
            Ok(reservation)
        }

        /// Called before wasmi writes zeros over the first `bytes` of the reservation.
        /// On Linux and Android, moves a region of resident zero pages (a kept
        /// [`Scratch`](crate::scratch::Scratch)) over them, so that the fill is a plain
        /// write with no page faults; where there is none (scratch refused by the
        /// kernel, or `bytes` past its limit), asks for huge pages there instead, so
        /// that the fill costs one page fault per 2 MiB instead of one per 4 KiB (with
        /// transparent huge pages off, nothing changes). Returns what to give to
        /// [`Self::fill_ends`].
        ///
        /// # Safety
        ///
        /// Nothing has written to the reservation since it was mapped or taken from
        /// the kept ones (whose written pages were given back, or, for a warm one, are
        /// resident: then no region moves in), and no access to it is in progress.
        pub(crate) unsafe fn fill_begins(&mut self, bytes: usize) -> Fill {
            #[cfg(any(target_os = "linux", target_os = "android"))]
            if self.warm > 0 {
                // What the warm pages do not cover faults in at once.
                if self.warm < bytes {
                    let _ = populate(self.start.as_ptr() as usize, self.warm, bytes);
                }
                return Fill::Warm;
            }
            #[cfg(any(target_os = "linux", target_os = "android"))]
            if let Some(scratch) = crate::scratch::take(bytes, self.len) {
                // Where the kernel refuses, the region is dropped: as below.
                // SAFETY: the region covers whole pages at the start of this
                // reservation (`take` gives one of at most `self.len` bytes), never
                // written (the caller's promise).
                if let Ok(away) = unsafe { scratch.move_to(self.start) } {
                    return Fill::Scratch(away);
                }
            }
            let span = bytes.next_multiple_of(HUGE_PAGE).min(self.len) / HUGE_PAGE * HUGE_PAGE;
            #[cfg(any(target_os = "linux", target_os = "android"))]
            if span > 0 {
                // SAFETY: advice on whole huge pages at the start of the reservation;
                // it changes no contents.
                let _ =
                    unsafe { libc::madvise(self.start.as_ptr().cast(), span, libc::MADV_HUGEPAGE) };
            }
            Fill::Huge(span)
        }

        /// Called right after that fill: moves the scratch's pages back out (the
        /// reservation's range stays mapped, reading as zero, nothing resident), or
        /// gives the huge pages back (whole huge pages, dropped at once) and returns
        /// them to small pages. Returns how many bytes at the start of the
        /// reservation are no longer resident.
        ///
        /// # Safety
        ///
        /// The bytes the fill covers are all zero (wasmi wrote zeros over the memory,
        /// and the rest was never written), and the caller holds the only access to
        /// them: no reference into them is live.
        pub(crate) unsafe fn fill_ends(&mut self, fill: Fill) -> usize {
            match fill {
                #[cfg(any(target_os = "linux", target_os = "android"))]
                Fill::Warm => 0,
                #[cfg(any(target_os = "linux", target_os = "android"))]
                Fill::Scratch(away) => {
                    let len = away.len();
                    // SAFETY: the caller's promise: the range is all zero and this is
                    // the only access.
                    unsafe { away.come_home() };
                    len
                }
                Fill::Huge(span) => {
                    #[cfg(any(target_os = "linux", target_os = "android"))]
                    if span > 0 {
                        let start = self.start.as_ptr().cast::<libc::c_void>();
                        // SAFETY: whole pages of this private anonymous mapping, all
                        // zero (the caller's promise): after `MADV_DONTNEED` they read
                        // as zero again, so no byte the program can see changes; then
                        // advice only.
                        unsafe {
                            let _ = libc::madvise(start, span, libc::MADV_DONTNEED);
                            let _ = libc::madvise(start, span, libc::MADV_NOHUGEPAGE);
                        }
                    }
                    span
                }
            }
        }

        /// Bytes reserved.
        pub(crate) fn len(&self) -> usize {
            self.len
        }

        /// Where the reservation starts.
        pub(crate) fn start(&self) -> *const u8 {
            self.start.as_ptr()
        }

        /// Records that at most the first `bytes` may have been written (the size of
        /// the memory over the reservation when its store is dropped): enough to
        /// give them back and keep the reservation for a later memory.
        pub(crate) fn note_written(&mut self, bytes: usize) {
            self.written = Some(bytes.max(self.warm).min(self.len));
        }

        /// Records that the pages of the bytes noted written are all resident (a
        /// memory made warm whose pages were never given back).
        pub(crate) fn note_resident(&mut self) {
            self.resident = true;
        }

        /// Bytes at the start that are resident and may hold an earlier memory's
        /// bytes (0 unless the reservation came warm from the kept ones).
        pub(crate) fn warm(&self) -> usize {
            self.warm
        }

        /// A reservation kept for reuse: every byte of it past the first `warm`
        /// reads as zero and is not resident (`kept.rs` gave its written pages back,
        /// or kept them resident, `warm` bytes of them).
        #[cfg(any(target_os = "linux", target_os = "android"))]
        pub(crate) fn from_kept(start: NonNull<u8>, len: usize, warm: usize) -> Self {
            Reservation {
                start,
                len,
                written: None,
                warm,
                resident: false,
            }
        }

        /// The whole reservation as a slice the type system lets live forever.
        ///
        /// # Safety
        ///
        /// The caller makes sure the slice (and everything derived from it) is no
        /// longer used once `self` is dropped, and that it is the only way the bytes
        /// are reached (this function is called once per reservation).
        pub(crate) unsafe fn as_static_slice(&mut self) -> &'static mut [u8] {
            // SAFETY: the mapping is `len` bytes, readable and writable, and stays
            // mapped until `self` is dropped; the caller guarantees the slice is not
            // used after that and is the only access to the bytes.
            unsafe { core::slice::from_raw_parts_mut(self.start.as_ptr(), self.len) }
        }
    }

    impl Drop for Reservation {
        fn drop(&mut self) {
            #[cfg(any(target_os = "linux", target_os = "android"))]
            crate::scratch::note_dropped();
            #[cfg(any(target_os = "linux", target_os = "android"))]
            if let Some(written) = self.written {
                // SAFETY: the owner dropped every user of the mapping first (the
                // engine's store), so nothing accesses it; what was written lies in
                // the first `written` bytes.
                if unsafe { crate::kept::keep(self.start, self.len, written, self.resident) } {
                    return;
                }
            }
            // SAFETY: unmaps exactly the mapping made in `new`, which nothing uses any
            // more (the owner dropped its users first). A failure leaves it mapped: a
            // leak, never an access to unmapped memory.
            let _ = unsafe { libc::munmap(self.start.as_ptr().cast(), self.len) };
        }
    }

    /// Maps `len` bytes (whole pages) of private anonymous memory, readable and
    /// writable, with no memory behind it until written, at an address that is a
    /// multiple of `align` (a power of two, at least the page size): maps more, then
    /// unmaps the ends.
    pub(crate) fn map_aligned(len: usize, align: usize) -> std::io::Result<NonNull<u8>> {
        let whole = len
            .checked_add(align)
            .ok_or(std::io::ErrorKind::OutOfMemory)?;
        let flags = libc::MAP_PRIVATE | libc::MAP_ANONYMOUS | libc::MAP_NORESERVE;
        // SAFETY: a new anonymous mapping at an address the kernel picks: it
        // overlaps nothing that exists, and its length and flags are valid.
        let base = unsafe {
            libc::mmap(
                core::ptr::null_mut(),
                whole,
                libc::PROT_READ | libc::PROT_WRITE,
                flags,
                -1,
                0,
            )
        };
        if base == libc::MAP_FAILED {
            return Err(std::io::Error::last_os_error());
        }
        let base = base as usize;
        let first = base.next_multiple_of(align);
        for (from, to) in [(base, first), (first + len, base + whole)] {
            if to > from {
                // SAFETY: unmaps a part of the mapping just made that is outside
                // `first..first + len`; nothing refers to it.
                let _ = unsafe { libc::munmap(from as *mut libc::c_void, to - from) };
            }
        }
        NonNull::new(first as *mut u8)
            .ok_or_else(|| std::io::Error::from(std::io::ErrorKind::OutOfMemory))
    }

    /// The operating system's page size.
    pub(crate) fn page_size() -> usize {
        // SAFETY: `sysconf` only reads a constant of the system.
        let size = unsafe { libc::sysconf(libc::_SC_PAGESIZE) };
        usize::try_from(size)
            .ok()
            .filter(|s| *s > 0)
            .unwrap_or(4096)
    }

    /// Whether each page of `pages` (page-aligned, whole pages of a mapping) is
    /// resident, or `None` when the system does not say.
    pub(crate) fn resident(pages: &[u8], page: usize) -> Option<std::vec::Vec<bool>> {
        let count = pages.len() / page;
        #[cfg(any(target_os = "linux", target_os = "android"))]
        let mut flags = std::vec![0u8; count];
        #[cfg(target_vendor = "apple")]
        let mut flags = std::vec![0i8; count];
        // SAFETY: `pages` is whole pages of a mapping; `mincore` only reads the page
        // tables and writes one byte per page into `flags`, which has that many.
        let rc = unsafe {
            libc::mincore(
                pages.as_ptr().cast_mut().cast(),
                pages.len(),
                flags.as_mut_ptr().cast(),
            )
        };
        (rc == 0).then(|| flags.iter().map(|f| f & 1 == 1).collect())
    }

    /// True when every byte of `page` is zero (stops at the first 64 bytes that are
    /// not).
    fn is_zero(page: &[u8]) -> bool {
        page.chunks(64)
            .all(|block| block.iter().fold(0u8, |acc, b| acc | b) == 0)
    }

    /// Gives back the whole pages inside `bytes` that are resident and all zero;
    /// returns how many bytes that was.
    ///
    /// # Safety
    ///
    /// `bytes` lies inside a [`Reservation`], and nothing writes to it while this
    /// runs (reading is fine: a page given back reads zero, as it did).
    pub(crate) unsafe fn give_back_zero_pages(bytes: &[u8]) -> usize {
        let page = page_size();
        let start = bytes.as_ptr() as usize;
        let first = start.next_multiple_of(page) - start;
        let last = (start + bytes.len()) / page * page - start;
        if last <= first {
            return 0;
        }
        let pages = &bytes[first..last];
        let Some(resident) = resident(pages, page) else {
            return 0;
        };
        let mut given = 0;
        let mut run: Option<usize> = None;
        for index in 0..=resident.len() {
            let zero = index < resident.len()
                && resident[index]
                && is_zero(&pages[index * page..(index + 1) * page]);
            match (zero, run) {
                (true, None) => run = Some(index),
                (false, Some(from)) => {
                    let range = &pages[from * page..index * page];
                    given += range.len();
                    // SAFETY: `range` is whole pages inside a reservation (the
                    // caller's promise), each checked to be all zero just above, and
                    // nothing writes to them while this runs (the caller's promise).
                    unsafe { give_back_zeroed(range) };
                    run = None;
                }
                _ => {}
            }
        }
        given
    }

    /// Gives back the whole pages inside the `len` bytes at `start`, whatever they
    /// hold: on Linux and Android they read as zero afterwards and are not resident
    /// (elsewhere the system may keep them).
    ///
    /// # Safety
    ///
    /// The bytes lie inside a [`Reservation`], past the size of the memory over it,
    /// and that memory cannot grow while this runs: nothing reads or writes them
    /// before wasmi writes zeros over them in a later growth.
    pub(crate) unsafe fn discard(start: usize, len: usize) {
        let page = page_size();
        let first = start.next_multiple_of(page);
        let last = start.saturating_add(len) / page * page;
        if last > first {
            // SAFETY: whole pages of a private anonymous mapping (a `Reservation`)
            // that no one reads or writes until wasmi zero-fills them (the caller's
            // promise), so what they held is never seen. A failure leaves them as
            // they were.
            let _ = unsafe {
                libc::madvise(
                    first as *mut libc::c_void,
                    last - first,
                    libc::MADV_DONTNEED,
                )
            };
        }
    }

    /// Makes the whole pages inside `from..to` (offsets from the address `start`)
    /// resident, as writes would, without writing (Linux, Android; elsewhere, and on
    /// kernels without `MADV_POPULATE_WRITE`, nothing happens). True when the kernel
    /// did (or there was no whole page to make resident).
    pub(crate) fn populate(start: usize, from: usize, to: usize) -> bool {
        #[cfg(any(target_os = "linux", target_os = "android"))]
        {
            // The kernel's value (`include/uapi/asm-generic/mman-common.h`), the same on
            // every architecture; not in the `libc` crate for every target.
            const MADV_POPULATE_WRITE: libc::c_int = 23;
            let page = page_size();
            let (Some(first), Some(end)) = (start.checked_add(from), start.checked_add(to)) else {
                return false;
            };
            let first = first.next_multiple_of(page);
            let last = end / page * page;
            if last <= first {
                return true;
            }
            // SAFETY: `MADV_POPULATE_WRITE` faults pages in as a write would, without
            // writing: no byte of any mapping reads differently afterwards, whatever
            // is mapped at the range (the caller means a part of a reservation that
            // wasmi is about to fill, or a fill region); unmapped or unsuitable ranges
            // only fail.
            let done = unsafe {
                libc::madvise(
                    first as *mut libc::c_void,
                    last - first,
                    MADV_POPULATE_WRITE,
                )
            };
            done == 0
        }
        #[cfg(not(any(target_os = "linux", target_os = "android")))]
        {
            let _ = (start, from, to);
            false
        }
    }

    /// Gives the whole pages inside `bytes` back to the operating system; they read
    /// as zero afterwards and cost memory again once written.
    ///
    /// # Safety
    ///
    /// `bytes` lies inside a [`Reservation`], every byte of it is zero, and nothing
    /// writes to it while this runs (reading is fine: it reads zero throughout).
    pub(crate) unsafe fn give_back_zeroed(bytes: &[u8]) {
        let page = page_size();
        let start = bytes.as_ptr() as usize;
        let end = start + bytes.len();
        let first = start.next_multiple_of(page);
        let last = end - end % page;
        if last <= first {
            return;
        }
        let (addr, len) = ((first as *mut u8).cast::<libc::c_void>(), last - first);
        #[cfg(any(target_os = "linux", target_os = "android"))]
        {
            // SAFETY: `addr..addr + len` is whole pages of a private anonymous mapping
            // (a `Reservation`), all zero; after `MADV_DONTNEED` they read as zero again,
            // so no byte the program can see changes, and nothing writes to them
            // meanwhile (the caller's promise). A failure leaves the pages as they were.
            let _ = unsafe { libc::madvise(addr, len, libc::MADV_DONTNEED) };
        }
        #[cfg(target_vendor = "apple")]
        {
            // `MADV_DONTNEED` does not free pages here; a new anonymous mapping over
            // them does, and reads as zero like the pages it replaces.
            let flags = libc::MAP_PRIVATE | libc::MAP_ANONYMOUS | libc::MAP_NORESERVE;
            // SAFETY: replaces whole pages of a mapping this crate owns (a
            // `Reservation`), all zero, by new zero pages with the same protection: no
            // byte the program can see changes. Nothing writes to them meanwhile (the
            // caller's promise).
            let replaced = unsafe {
                libc::mmap(
                    addr,
                    len,
                    libc::PROT_READ | libc::PROT_WRITE,
                    flags | libc::MAP_FIXED,
                    -1,
                    0,
                )
            };
            if replaced != addr {
                // The pages may be gone and the memory is in use: going on could read
                // unmapped memory. The system refuses only when it is out of memory
                // for its own bookkeeping.
                eprintln!("interplug-os-memory: cannot replace pages of a linear memory");
                std::process::abort();
            }
        }
    }
}

#[cfg(not(any(target_os = "linux", target_os = "android", target_vendor = "apple")))]
mod os {
    /// Never made on this platform.
    pub(crate) enum Fill {}

    /// No reservations on this platform: [`Reservation::new`] always refuses.
    pub(crate) struct Reservation {
        never: core::convert::Infallible,
    }

    impl Reservation {
        /// Refuses: this platform has no lazy memory.
        pub(crate) fn new(_len: usize) -> std::io::Result<Self> {
            Err(std::io::ErrorKind::Unsupported.into())
        }

        /// Bytes reserved (never called: no reservation exists).
        pub(crate) fn len(&self) -> usize {
            match self.never {}
        }

        /// Never called: no reservation exists.
        pub(crate) fn start(&self) -> *const u8 {
            match self.never {}
        }

        /// Never called: no reservation exists.
        pub(crate) fn note_written(&mut self, _bytes: usize) {
            match self.never {}
        }

        /// Never called: no reservation exists.
        pub(crate) fn note_resident(&mut self) {
            match self.never {}
        }

        /// Never called: no reservation exists.
        pub(crate) fn warm(&self) -> usize {
            match self.never {}
        }

        /// Never called: no reservation exists.
        ///
        /// # Safety
        ///
        /// None needed.
        pub(crate) unsafe fn as_static_slice(&mut self) -> &'static mut [u8] {
            match self.never {}
        }

        /// Never called: no reservation exists.
        ///
        /// # Safety
        ///
        /// None needed.
        pub(crate) unsafe fn fill_begins(&mut self, _bytes: usize) -> Fill {
            match self.never {}
        }

        /// Never called: no reservation exists.
        ///
        /// # Safety
        ///
        /// None needed.
        pub(crate) unsafe fn fill_ends(&mut self, _fill: Fill) -> usize {
            match self.never {}
        }
    }

    /// Nothing to give back on this platform.
    ///
    /// # Safety
    ///
    /// None needed.
    pub(crate) unsafe fn give_back_zeroed(_bytes: &[u8]) {}

    /// Nothing to give back on this platform.
    ///
    /// # Safety
    ///
    /// None needed.
    pub(crate) unsafe fn discard(_start: usize, _len: usize) {}

    /// Nothing to make resident on this platform (no lazy memory).
    pub(crate) fn populate(_start: usize, _from: usize, _to: usize) -> bool {
        false
    }

    /// Nothing to give back on this platform.
    ///
    /// # Safety
    ///
    /// None needed.
    pub(crate) unsafe fn give_back_zero_pages(_bytes: &[u8]) -> usize {
        0
    }
}

#[cfg(all(test, any(target_os = "linux", target_os = "android")))]
pub(crate) use os::resident;
pub(crate) use os::{discard, give_back_zero_pages, give_back_zeroed, populate, Reservation};
#[cfg(any(target_os = "linux", target_os = "android"))]
pub(crate) use os::{map_aligned, page_size};
