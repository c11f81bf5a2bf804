//! The Extism memory: a host-owned byte arena that plug-ins address through handles.
//!
//! Plug-ins exchange data with the host through blocks of this arena. A handle is
//! the offset of a block's first byte; offset 0 means "no block". The arena knows
//! nothing of wasm engines: the `env` module binds its operations to wasm imports.
//!
//! Every access is bounds-checked against the arena. Blocks tile the arena from
//! [`FIRST_BLOCK_OFFSET`] to its top. Freed blocks are merged with free neighbours
//! and kept in a tree ordered by size, so that `alloc` takes the smallest free range
//! that fits (splitting off the rest) and `free` merges, both in O(log blocks); a
//! free range that reaches the top gives its bytes back. [`ExtismMemory::reset`]
//! forgets every block and releases the bookkeeping.
//!
//! What counts against the arena's limit is what the host holds for it: the arena's
//! capacity (not only the bytes up to its top, so a freed block whose bytes the host
//! keeps still counts) and the bookkeeping, every block record (live or free) charged
//! [`RECORD_BYTES`], in [`ExtismMemory::footprint_bytes`]. An instance holds at most
//! [`MAX_BLOCKS`] records whatever its limit. Capacity kept past the top is given back
//! when the limit needs it ([`ExtismMemory::set_limit`]).

use alloc::collections::{BTreeMap, BTreeSet};
use alloc::vec::Vec;
use core::fmt;

/// Offset of the first block. Bytes below it are never handed out, so 0 is never a
/// valid handle.
pub const FIRST_BLOCK_OFFSET: u64 = 8;

/// The largest the arena may grow when no budget is set (4 GiB, the reach of a
/// 32-bit wasm memory, like the official runtime's kernel memory).
pub const DEFAULT_ARENA_LIMIT: u64 = 4 << 30;

/// Host bytes charged against the limit for each block record, live or free: an
/// upper bound of what the two trees holding it cost the host (about 27 bytes per
/// record measured with a counting allocator in `tests/hostile_kernel.rs`).
pub const RECORD_BYTES: u64 = 64;

/// The most block records (live blocks plus free ranges) one memory holds, whatever
/// its limit: about 64 MiB of bookkeeping at most. Without `memory.max_pages` this is
/// what bounds a plug-in looping over `alloc(1)`.
pub const MAX_BLOCKS: usize = 1 << 20;

/// A failed access to the Extism memory.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum MemoryError {
    /// `len` bytes at `offset` are not inside the arena of `size` bytes.
    OutOfBounds {
        /// First byte asked for.
        offset: u64,
        /// Number of bytes asked for.
        len: u64,
        /// Current size of the arena in bytes.
        size: u64,
    },
    /// `handle` is not the start of a live block.
    NotABlock {
        /// The handle given.
        handle: u64,
    },
}

impl fmt::Display for MemoryError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            MemoryError::OutOfBounds { offset, len, size } => write!(
                f,
                "out-of-bounds access to the Extism memory: {len} byte(s) at offset {offset}, \
                 but the memory holds {size} bytes"
            ),
            MemoryError::NotABlock { handle } => write!(
                f,
                "handle {handle} is not the start of a live block of the Extism memory \
                 (handles are invalidated at the start of every call)"
            ),
        }
    }
}

impl core::error::Error for MemoryError {}

impl From<MemoryError> for crate::error::Failure {
    /// A bad address or handle is an invalid argument ([`ErrorKind::Invalid`]).
    ///
    /// [`ErrorKind::Invalid`]: crate::ErrorKind::Invalid
    fn from(error: MemoryError) -> Self {
        crate::error::Failure::new(crate::ErrorKind::Invalid, alloc::format!("{error}"))
    }
}

/// The record of one block of the arena, keyed by its offset.
///
/// Offsets and sizes fit in 32 bits (the arena never passes [`DEFAULT_ARENA_LIMIT`]),
/// which halves the bookkeeping.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
struct Record {
    /// Bytes the owner asked for; 0 for a free range.
    len: u32,
    /// Bytes the block spans (>= `len`); runs up to the next block.
    capacity: u32,
}

/// The Extism memory of one plug-in instance.
#[derive(Debug, Clone)]
pub struct ExtismMemory {
    /// The arena. Its length is the top: everything above is unreserved.
    bytes: Vec<u8>,
    /// Every block, live or free, by offset, tiling `FIRST_BLOCK_OFFSET..bytes.len()`
    /// exactly. No two free ranges are adjacent and none ends at the top.
    blocks: BTreeMap<u32, Record>,
    /// The free ranges as `(capacity, offset)`, smallest first.
    free_ranges: BTreeSet<(u32, u32)>,
    /// The arena and its bookkeeping may not pass this many bytes.
    limit: u64,
}

impl Default for ExtismMemory {
    fn default() -> Self {
        Self::new()
    }
}

impl ExtismMemory {
    /// An empty memory limited to [`DEFAULT_ARENA_LIMIT`] bytes.
    pub fn new() -> Self {
        ExtismMemory {
            bytes: alloc::vec![0; FIRST_BLOCK_OFFSET as usize],
            blocks: BTreeMap::new(),
            free_ranges: BTreeSet::new(),
            limit: DEFAULT_ARENA_LIMIT,
        }
    }

    /// Sets the most bytes the arena and its bookkeeping may take (header included).
    /// Allocations that would pass it fail; blocks already handed out are kept. Host
    /// capacity the arena keeps above its top is given back as far as the new limit
    /// needs.
    pub fn set_limit(&mut self, limit_bytes: u64) {
        self.limit = limit_bytes.min(DEFAULT_ARENA_LIMIT);
        self.fit_within(self.limit);
    }

    /// Gives back host capacity kept above the arena's top until the footprint fits in
    /// `bytes`, or no spare capacity is left. Blocks are kept. Shrinking an allocation
    /// does not copy it.
    pub fn fit_within(&mut self, bytes: u64) {
        if self.footprint_bytes() <= bytes {
            return;
        }
        let room = bytes.saturating_sub(self.bookkeeping_bytes(self.blocks.len()));
        let keep = usize::try_from(room)
            .unwrap_or(usize::MAX)
            .max(self.bytes.len());
        self.bytes.shrink_to(keep);
    }

    /// Host bytes the arena holds: its capacity, at least its top.
    pub fn capacity_bytes(&self) -> u64 {
        self.bytes.capacity() as u64
    }

    /// The current limit in bytes.
    pub fn limit(&self) -> u64 {
        self.limit
    }

    /// Bytes currently reserved by the arena (its top), the value of the
    /// `memory_bytes` import.
    pub fn reserved_bytes(&self) -> u64 {
        self.bytes.len() as u64
    }

    /// Host bytes this memory counts against its limit and the plug-in's memory
    /// budget: what the arena holds ([`Self::capacity_bytes`], free bytes above the top
    /// included) plus [`RECORD_BYTES`] per block record.
    pub fn footprint_bytes(&self) -> u64 {
        self.capacity_bytes() + self.bookkeeping_bytes(self.blocks.len())
    }

    /// The bookkeeping charge of `records` block records.
    fn bookkeeping_bytes(&self, records: usize) -> u64 {
        records as u64 * RECORD_BYTES
    }

    /// Forgets every block; handles from before are invalid afterwards. The block
    /// records are released; the host buffer is kept (bounded by the limit) unless
    /// it is larger than `keep_bytes`.
    pub fn reset(&mut self, keep_bytes: usize) {
        // `clear` frees every node of both trees.
        self.blocks.clear();
        self.free_ranges.clear();
        self.bytes.truncate(FIRST_BLOCK_OFFSET as usize);
        if self.bytes.capacity() > keep_bytes {
            self.bytes
                .shrink_to(keep_bytes.max(FIRST_BLOCK_OFFSET as usize));
        }
    }

    /// True when one more record fits under [`MAX_BLOCKS`] and the limit, with the
    /// arena's top at `top` and the capacity it holds; spare capacity above the top is
    /// given back when that is what stands in the way.
    fn record_fits(&mut self, top: u64) -> bool {
        let records = self.blocks.len() + 1;
        let bookkeeping = self.bookkeeping_bytes(records);
        if records > MAX_BLOCKS || top.saturating_add(bookkeeping) > self.limit {
            return false;
        }
        if self.capacity_bytes().saturating_add(bookkeeping) > self.limit {
            let room = usize::try_from(self.limit - bookkeeping).unwrap_or(usize::MAX);
            self.bytes.shrink_to(room.max(self.bytes.len()));
        }
        true
    }

    /// Reserves a block of `len` bytes and returns its handle, or `None` when `len` is
    /// 0 or the limit (or the host allocator) refuses. O(log blocks).
    ///
    /// ```
    /// use interplug::memory::{ExtismMemory, RECORD_BYTES};
    ///
    /// let mut memory = ExtismMemory::new();
    /// memory.set_limit(1024);
    /// let a = memory.alloc(100).expect("fits");
    /// let b = memory.alloc(10).expect("fits");
    /// memory.free(a);
    /// // The freed range is reused, and the rest of it split off.
    /// assert_eq!(memory.alloc(40), Some(a));
    /// // Block records count against the limit with the bytes the host holds.
    /// assert_eq!(memory.reserved_bytes(), b + 10);
    /// assert_eq!(
    ///     memory.footprint_bytes(),
    ///     memory.capacity_bytes() + 3 * RECORD_BYTES
    /// );
    /// assert!(memory.footprint_bytes() <= 1024);
    /// assert_eq!(memory.alloc(2000), None);
    /// ```
    pub fn alloc(&mut self, len: u64) -> Option<u64> {
        if len == 0 {
            return None;
        }
        let len32 = u32::try_from(len).ok()?;
        if let Some(&(capacity, offset)) = self.free_ranges.range((len32, 0)..).next() {
            self.free_ranges.remove(&(capacity, offset));
            let rest = capacity - len32;
            // Split off what is left when one more record fits; otherwise the block
            // keeps the whole range.
            let split = rest > 0 && self.record_fits(self.reserved_bytes());
            let kept = if split { len32 } else { capacity };
            self.blocks.insert(
                offset,
                Record {
                    len: len32,
                    capacity: kept,
                },
            );
            if split {
                // The range was followed by a live block, so the rest is not at the
                // top and has no free neighbour.
                let rest_offset = offset + len32;
                self.blocks.insert(
                    rest_offset,
                    Record {
                        len: 0,
                        capacity: rest,
                    },
                );
                self.free_ranges.insert((rest, rest_offset));
            }
            return Some(u64::from(offset));
        }
        self.alloc_at_top(len32)
    }

    /// Reserves `len` bytes at the top of the arena.
    fn alloc_at_top(&mut self, len: u32) -> Option<u64> {
        let offset = self.reserved_bytes();
        let top = offset.checked_add(u64::from(len))?;
        if !self.record_fits(top) {
            return None;
        }
        let offset32 = u32::try_from(offset).ok()?;
        let top_usize = usize::try_from(top).ok()?;
        if top_usize > self.bytes.capacity() {
            // Grow geometrically, but never reserve past what the limit leaves for the
            // arena: the host buffer stays within the budget.
            let room = self
                .limit
                .saturating_sub(self.bookkeeping_bytes(self.blocks.len() + 1));
            let room = usize::try_from(room).unwrap_or(usize::MAX);
            let wanted = self
                .bytes
                .capacity()
                .saturating_mul(2)
                .min(room)
                .max(top_usize);
            self.bytes
                .try_reserve_exact(wanted - self.bytes.len())
                .ok()?;
        }
        self.bytes.resize(top_usize, 0);
        self.blocks.insert(offset32, Record { len, capacity: len });
        Some(offset)
    }

    /// Reserves a block holding a copy of `data`; `None` as for [`Self::alloc`].
    pub fn alloc_bytes(&mut self, data: &[u8]) -> Option<u64> {
        let handle = self.alloc(data.len() as u64)?;
        let start = handle as usize;
        self.bytes[start..start + data.len()].copy_from_slice(data);
        Some(handle)
    }

    /// The record of the live block starting at `handle`.
    fn live(&self, handle: u64) -> Option<Record> {
        let offset = u32::try_from(handle).ok()?;
        self.blocks
            .get(&offset)
            .copied()
            .filter(|record| record.len > 0)
    }

    /// Releases the block at `handle`. 0 and handles that are not live blocks are
    /// ignored. O(log blocks); never adds a record.
    pub fn free(&mut self, handle: u64) {
        if self.live(handle).is_none() {
            return;
        }
        let Ok(offset) = u32::try_from(handle) else {
            return;
        };
        let Some(record) = self.blocks.remove(&offset) else {
            return;
        };
        let mut start = offset;
        let mut capacity = record.capacity;
        // Merge with a free successor.
        let next_offset = offset + capacity;
        if let Some(next) = self.blocks.get(&next_offset).copied() {
            if next.len == 0 {
                self.blocks.remove(&next_offset);
                self.free_ranges.remove(&(next.capacity, next_offset));
                capacity += next.capacity;
            }
        }
        // Merge into a free predecessor.
        if let Some((&previous_offset, &previous)) = self.blocks.range(..offset).next_back() {
            if previous.len == 0 {
                self.blocks.remove(&previous_offset);
                self.free_ranges
                    .remove(&(previous.capacity, previous_offset));
                start = previous_offset;
                capacity += previous.capacity;
            }
        }
        if u64::from(start) + u64::from(capacity) == self.reserved_bytes() {
            // A free range at the top gives its bytes back.
            self.bytes.truncate(start as usize);
        } else {
            self.blocks.insert(start, Record { len: 0, capacity });
            self.free_ranges.insert((capacity, start));
        }
    }

    /// Byte length of the live block at `handle`, or 0 when `handle` is not one.
    pub fn length(&self, handle: u64) -> u64 {
        self.live(handle).map_or(0, |record| u64::from(record.len))
    }

    /// Checks that `len` bytes at `offset` lie inside the arena; returns the range.
    #[inline]
    fn range(&self, offset: u64, len: u64) -> Result<core::ops::Range<usize>, MemoryError> {
        let size = self.bytes.len() as u64;
        match offset.checked_add(len) {
            Some(end) if offset >= FIRST_BLOCK_OFFSET && end <= size => {
                Ok(offset as usize..end as usize)
            }
            _ => Err(MemoryError::OutOfBounds { offset, len, size }),
        }
    }

    /// The byte at absolute offset `offset`.
    ///
    /// # Errors
    ///
    /// [`MemoryError::OutOfBounds`] when the byte is outside the arena.
    #[inline]
    pub fn load_u8(&self, offset: u64) -> Result<u8, MemoryError> {
        let range = self.range(offset, 1)?;
        Ok(self.bytes[range.start])
    }

    /// Eight bytes little-endian at absolute offset `offset`.
    ///
    /// # Errors
    ///
    /// [`MemoryError::OutOfBounds`] when the eight bytes are not all inside the arena.
    #[inline]
    pub fn load_u64(&self, offset: u64) -> Result<u64, MemoryError> {
        let range = self.range(offset, 8)?;
        let mut word = [0u8; 8];
        word.copy_from_slice(&self.bytes[range]);
        Ok(u64::from_le_bytes(word))
    }

    /// Writes one byte at absolute offset `offset`.
    ///
    /// # Errors
    ///
    /// [`MemoryError::OutOfBounds`] when the byte is outside the arena.
    #[inline]
    pub fn store_u8(&mut self, offset: u64, value: u8) -> Result<(), MemoryError> {
        let range = self.range(offset, 1)?;
        self.bytes[range.start] = value;
        Ok(())
    }

    /// Writes eight bytes little-endian at absolute offset `offset`.
    ///
    /// # Errors
    ///
    /// [`MemoryError::OutOfBounds`] when the eight bytes are not all inside the arena.
    #[inline]
    pub fn store_u64(&mut self, offset: u64, value: u64) -> Result<(), MemoryError> {
        let range = self.range(offset, 8)?;
        self.bytes[range].copy_from_slice(&value.to_le_bytes());
        Ok(())
    }

    /// `len` bytes at absolute offset `offset`.
    ///
    /// # Errors
    ///
    /// [`MemoryError::OutOfBounds`] when the range is not inside the arena.
    pub fn slice(&self, offset: u64, len: u64) -> Result<&[u8], MemoryError> {
        let range = self.range(offset, len)?;
        Ok(&self.bytes[range])
    }

    /// `len` bytes at absolute offset `offset`, writable.
    ///
    /// # Errors
    ///
    /// [`MemoryError::OutOfBounds`] when the range is not inside the arena.
    pub fn slice_mut(&mut self, offset: u64, len: u64) -> Result<&mut [u8], MemoryError> {
        let range = self.range(offset, len)?;
        Ok(&mut self.bytes[range])
    }

    /// The bytes of the live block at `handle`.
    ///
    /// # Errors
    ///
    /// [`MemoryError::NotABlock`] when `handle` is not the start of a live block.
    pub fn block(&self, handle: u64) -> Result<&[u8], MemoryError> {
        let record = self.live(handle).ok_or(MemoryError::NotABlock { handle })?;
        self.slice(handle, u64::from(record.len))
    }

    /// The bytes of the live block at `handle`, writable.
    ///
    /// # Errors
    ///
    /// [`MemoryError::NotABlock`] when `handle` is not the start of a live block.
    pub fn block_mut(&mut self, handle: u64) -> Result<&mut [u8], MemoryError> {
        let record = self.live(handle).ok_or(MemoryError::NotABlock { handle })?;
        self.slice_mut(handle, u64::from(record.len))
    }

    /// The whole arena, for hosts that address blocks as `base + handle`.
    pub fn as_slice(&self) -> &[u8] {
        &self.bytes
    }

    /// The whole arena, writable, for hosts that address blocks as `base + handle`.
    pub fn as_mut_slice(&mut self) -> &mut [u8] {
        &mut self.bytes
    }

    /// Number of live blocks (for tests and diagnostics).
    pub fn live_blocks(&self) -> usize {
        self.blocks.len() - self.free_ranges.len()
    }

    /// Number of block records, live and free (for tests and diagnostics).
    pub fn records(&self) -> usize {
        self.blocks.len()
    }

    /// The capacity of the largest free range (for tests).
    #[cfg(test)]
    fn largest_free_range(&self) -> u64 {
        self.free_ranges
            .iter()
            .next_back()
            .map_or(0, |(capacity, _)| u64::from(*capacity))
    }

    /// Checks the internal invariants (for tests): the records tile the arena, free
    /// ranges are never adjacent nor at the top, and the size tree matches them.
    #[cfg(test)]
    fn check_structure(&self) {
        let mut end = FIRST_BLOCK_OFFSET;
        let mut previous_free = false;
        let mut free = 0;
        for (&offset, record) in &self.blocks {
            assert_eq!(u64::from(offset), end, "records do not tile the arena");
            assert!(record.len <= record.capacity && record.capacity > 0);
            let is_free = record.len == 0;
            assert!(
                !(is_free && previous_free),
                "adjacent free ranges at {offset}"
            );
            if is_free {
                free += 1;
                assert!(self.free_ranges.contains(&(record.capacity, offset)));
            }
            previous_free = is_free;
            end += u64::from(record.capacity);
        }
        assert_eq!(end, self.reserved_bytes(), "records do not reach the top");
        assert!(!previous_free, "a free range at the top");
        assert_eq!(free, self.free_ranges.len());
        assert!(self.blocks.len() <= MAX_BLOCKS);
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use alloc::collections::BTreeMap;
    use proptest::prelude::*;

    #[test]
    fn zero_is_never_a_handle() {
        let mut memory = ExtismMemory::new();
        assert_eq!(memory.alloc(0), None);
        let handle = memory.alloc(4).expect("small alloc");
        assert!(handle >= FIRST_BLOCK_OFFSET);
        assert_eq!(memory.length(0), 0);
        assert!(memory.load_u8(0).is_err());
        assert!(matches!(
            memory.block(0),
            Err(MemoryError::NotABlock { .. })
        ));
    }

    #[test]
    fn freed_block_is_reused() {
        let mut memory = ExtismMemory::new();
        let a = memory.alloc(100).expect("a");
        let _b = memory.alloc(10).expect("b");
        memory.free(a);
        assert_eq!(memory.length(a), 0);
        let c = memory.alloc(50).expect("c");
        assert_eq!(c, a, "first fit reuses the freed block");
        assert_eq!(memory.length(c), 50);
    }

    #[test]
    fn freeing_the_top_gives_bytes_back() {
        let mut memory = ExtismMemory::new();
        let start = memory.reserved_bytes();
        let a = memory.alloc(100).expect("a");
        let b = memory.alloc(100).expect("b");
        memory.free(a);
        memory.free(b);
        assert_eq!(memory.reserved_bytes(), start);
        assert_eq!(memory.live_blocks(), 0);
    }

    #[test]
    fn limit_refuses_allocation() {
        let mut memory = ExtismMemory::new();
        memory.set_limit(1024);
        assert!(memory.alloc(2000).is_none());
        assert!(memory.alloc(u64::MAX).is_none());
        assert!(memory.alloc(500).is_some());
    }

    #[test]
    fn out_of_bounds_is_an_error() {
        let mut memory = ExtismMemory::new();
        let h = memory.alloc(8).expect("h");
        assert!(memory.store_u64(h, 7).is_ok());
        assert!(memory.store_u64(h + 1, 7).is_err());
        assert!(memory.load_u64(u64::MAX - 3).is_err());
        let message = memory.load_u64(h + 4).unwrap_err().to_string();
        assert!(message.contains("out-of-bounds"), "{message}");
    }

    #[test]
    fn reset_invalidates_handles() {
        let mut memory = ExtismMemory::new();
        let h = memory.alloc_bytes(b"hello").expect("h");
        assert_eq!(memory.block(h).expect("live"), b"hello");
        memory.reset(1 << 20);
        assert_eq!(memory.length(h), 0);
        assert!(memory.block(h).is_err());
        assert_eq!(memory.reserved_bytes(), FIRST_BLOCK_OFFSET);
    }

    #[test]
    fn best_fit_splits_and_merges() {
        let mut memory = ExtismMemory::new();
        let a = memory.alloc(100).expect("a");
        let b = memory.alloc(10).expect("b");
        let c = memory.alloc(30).expect("c");
        let _d = memory.alloc(1).expect("d");
        memory.free(a);
        memory.free(c);
        // The smallest range that fits is taken, and what is left is split off.
        let e = memory.alloc(20).expect("e");
        assert_eq!(e, c);
        let f = memory.alloc(10).expect("f");
        assert_eq!(f, c + 20);
        memory.check_structure();
        // Freeing b merges it with the free range before it.
        memory.free(b);
        memory.check_structure();
        assert_eq!(memory.alloc(110), Some(a));
        memory.check_structure();
    }

    #[test]
    fn fragmented_memory_reuses_and_gives_back_without_new_records() {
        let mut memory = ExtismMemory::new();
        let handles: Vec<u64> = (0..10_000).map(|_| memory.alloc(1).expect("1")).collect();
        for handle in handles.iter().step_by(2) {
            memory.free(*handle);
        }
        memory.check_structure();
        let records = memory.records();
        let top = memory.reserved_bytes();
        for _ in 0..1_000 {
            // No 1-byte hole fits 2 bytes: the block goes on top and comes back.
            let handle = memory.alloc(2).expect("2");
            assert_eq!(handle, top);
            memory.free(handle);
            assert_eq!(memory.records(), records);
            assert_eq!(memory.reserved_bytes(), top);
        }
        memory.check_structure();
    }

    #[test]
    fn freed_capacity_counts_until_the_limit_takes_it_back() {
        // Issue 22, item 5: a freed block at the top keeps its host capacity; the
        // footprint counts it, and lowering the limit gives it back.
        let mut memory = ExtismMemory::new();
        let big = 4 << 20;
        let handle = memory.alloc(big).expect("fits the default limit");
        memory.free(handle);
        assert_eq!(memory.reserved_bytes(), FIRST_BLOCK_OFFSET);
        assert!(memory.capacity_bytes() >= big);
        assert!(memory.footprint_bytes() >= big, "the capacity held counts");
        memory.set_limit(1 << 20);
        assert!(memory.capacity_bytes() <= 1 << 20);
        assert!(memory.footprint_bytes() <= memory.limit());
        // Live blocks are kept whatever the limit.
        let kept = memory.alloc(64 << 10).expect("fits");
        memory.set_limit(0);
        assert_eq!(memory.length(kept), 64 << 10);
        memory.check_structure();
    }

    #[test]
    fn spare_capacity_gives_way_to_new_records() {
        let mut memory = ExtismMemory::new();
        memory.set_limit(4096);
        let a = memory.alloc(3000).expect("fits");
        memory.free(a);
        // 3 000 bytes of capacity are held; one more record still fits because the
        // spare capacity is given back for it.
        let mut handles = Vec::new();
        while let Some(h) = memory.alloc(1) {
            handles.push(h);
        }
        assert!(handles.len() > 40, "{}", handles.len());
        assert!(memory.footprint_bytes() <= 4096);
        memory.check_structure();
    }

    #[test]
    fn bookkeeping_counts_against_the_limit() {
        let mut memory = ExtismMemory::new();
        let limit = 2 << 20;
        memory.set_limit(limit);
        let mut blocks = 0u64;
        while memory.alloc(1).is_some() {
            blocks += 1;
        }
        assert!(memory.footprint_bytes() <= limit);
        assert_eq!(blocks, (limit - FIRST_BLOCK_OFFSET) / (1 + RECORD_BYTES));
        memory.reset(0);
        assert_eq!(memory.records(), 0);
        assert_eq!(memory.footprint_bytes(), FIRST_BLOCK_OFFSET);
    }

    #[test]
    fn record_count_is_capped_without_a_limit() {
        let mut memory = ExtismMemory::new();
        let mut blocks = 0;
        while memory.alloc(1).is_some() {
            blocks += 1;
        }
        assert_eq!(blocks, MAX_BLOCKS);
        // Freeing never needs a record, so a full memory can still free and reuse.
        memory.free(FIRST_BLOCK_OFFSET + 5);
        assert_eq!(memory.alloc(1), Some(FIRST_BLOCK_OFFSET + 5));
    }

    /// One operation of a random sequence.
    #[derive(Debug, Clone)]
    enum Op {
        Alloc(u64),
        Free(usize),
        FreeRaw(u64),
        StoreU8(usize, u64, u8),
        StoreU64(usize, u64, u64),
        LoadU8(usize, u64),
        LoadU64(usize, u64),
        LoadRaw(u64),
        Length(usize),
        LengthRaw(u64),
        Reset,
    }

    fn op() -> impl Strategy<Value = Op> {
        prop_oneof![
            4 => (0u64..600).prop_map(Op::Alloc),
            1 => any::<u64>().prop_map(Op::Alloc),
            2 => any::<usize>().prop_map(Op::Free),
            1 => any::<u64>().prop_map(Op::FreeRaw),
            3 => (any::<usize>(), 0u64..700, any::<u8>()).prop_map(|(b, o, v)| Op::StoreU8(b, o, v)),
            3 => (any::<usize>(), 0u64..700, any::<u64>()).prop_map(|(b, o, v)| Op::StoreU64(b, o, v)),
            2 => (any::<usize>(), 0u64..700).prop_map(|(b, o)| Op::LoadU8(b, o)),
            2 => (any::<usize>(), 0u64..700).prop_map(|(b, o)| Op::LoadU64(b, o)),
            1 => any::<u64>().prop_map(Op::LoadRaw),
            1 => any::<usize>().prop_map(Op::Length),
            1 => any::<u64>().prop_map(Op::LengthRaw),
            1 => Just(Op::Reset),
        ]
    }

    /// The model: live blocks with their contents, by handle.
    type Model = BTreeMap<u64, Vec<u8>>;

    fn pick(model: &Model, index: usize) -> Option<(u64, usize)> {
        if model.is_empty() {
            return None;
        }
        let (handle, bytes) = model.iter().nth(index % model.len())?;
        Some((*handle, bytes.len()))
    }

    fn check_invariants(memory: &ExtismMemory, model: &Model) {
        let mut end = FIRST_BLOCK_OFFSET;
        for (handle, bytes) in model {
            assert!(*handle >= end, "blocks overlap at {handle}");
            end = handle + bytes.len() as u64;
            assert_eq!(memory.length(*handle), bytes.len() as u64);
            assert_eq!(memory.block(*handle).expect("live block"), &bytes[..]);
        }
        assert!(end <= memory.reserved_bytes());
        assert!(memory.footprint_bytes() <= memory.limit().max(FIRST_BLOCK_OFFSET));
        assert_eq!(memory.live_blocks(), model.len());
        memory.check_structure();
    }

    proptest! {
        #![proptest_config(ProptestConfig::with_cases(400))]

        #[test]
        fn agrees_with_model(ops in proptest::collection::vec(op(), 1..200), limit in 64u64..8192) {
            let mut memory = ExtismMemory::new();
            memory.set_limit(limit);
            let mut model = Model::new();
            for op in ops {
                match op {
                    Op::Alloc(n) => {
                        if let Some(h) = memory.alloc(n) {
                            prop_assert!(n > 0);
                            let contents = memory.block(h).expect("new block").to_vec();
                            prop_assert_eq!(contents.len() as u64, n);
                            model.insert(h, contents);
                        } else {
                            // Refused only when no free range fits and the top (block
                            // plus its record) would pass the limit.
                            let top = memory.footprint_bytes();
                            prop_assert!(
                                n == 0
                                    || (memory.largest_free_range() < n
                                        && top.saturating_add(n).saturating_add(RECORD_BYTES) > limit)
                            );
                        }
                    }
                    Op::Free(i) => {
                        if let Some((h, _)) = pick(&model, i) {
                            memory.free(h);
                            model.remove(&h);
                        }
                    }
                    Op::FreeRaw(h) => {
                        if model.remove(&h).is_some() {
                            memory.free(h);
                        } else {
                            // Not a live block: must be ignored.
                            memory.free(h);
                        }
                    }
                    Op::StoreU8(i, o, v) => {
                        if let Some((h, len)) = pick(&model, i) {
                            if (o as usize) < len {
                                prop_assert!(memory.store_u8(h + o, v).is_ok());
                                if let Some(bytes) = model.get_mut(&h) { bytes[o as usize] = v; }
                            } else if h + o >= memory.reserved_bytes() {
                                // Past the block but inside the arena would write into a
                                // neighbour the model does not track (as for StoreU64).
                                prop_assert!(memory.store_u8(h + o, v).is_err());
                            }
                        }
                    }
                    Op::StoreU64(i, o, v) => {
                        if let Some((h, len)) = pick(&model, i) {
                            if (o as usize) + 8 <= len {
                                prop_assert!(memory.store_u64(h + o, v).is_ok());
                                if let Some(bytes) = model.get_mut(&h) {
                                    bytes[o as usize..o as usize + 8].copy_from_slice(&v.to_le_bytes());
                                }
                            } else {
                                // Writing past the block but inside the arena would corrupt
                                // a neighbour in the model; only try when it is surely
                                // outside every block.
                                let at = h + o;
                                if at + 8 > memory.reserved_bytes() {
                                    prop_assert!(memory.store_u64(at, v).is_err());
                                }
                            }
                        }
                    }
                    Op::LoadU8(i, o) => {
                        if let Some((h, len)) = pick(&model, i) {
                            let result = memory.load_u8(h + o);
                            if (o as usize) < len {
                                prop_assert_eq!(result, Ok(model[&h][o as usize]));
                            }
                        }
                    }
                    Op::LoadU64(i, o) => {
                        if let Some((h, len)) = pick(&model, i) {
                            let result = memory.load_u64(h + o);
                            if (o as usize) + 8 <= len {
                                let mut word = [0u8; 8];
                                word.copy_from_slice(&model[&h][o as usize..o as usize + 8]);
                                prop_assert_eq!(result, Ok(u64::from_le_bytes(word)));
                            }
                        }
                    }
                    Op::LoadRaw(p) => {
                        let result = memory.load_u64(p);
                        let in_bounds = p >= FIRST_BLOCK_OFFSET
                            && p.checked_add(8).is_some_and(|e| e <= memory.reserved_bytes());
                        prop_assert_eq!(result.is_ok(), in_bounds);
                    }
                    Op::Length(i) => {
                        if let Some((h, len)) = pick(&model, i) {
                            prop_assert_eq!(memory.length(h), len as u64);
                        }
                    }
                    Op::LengthRaw(h) => {
                        let expected = model.get(&h).map_or(0, |b| b.len() as u64);
                        prop_assert_eq!(memory.length(h), expected);
                    }
                    Op::Reset => {
                        memory.reset(4096);
                        model.clear();
                    }
                }
                check_invariants(&memory, &model);
            }
        }
    }
}
