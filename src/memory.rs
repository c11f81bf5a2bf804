//! The Extism memory: a host-owned byte arena that plug-ins address through handles.
//!
//! Plug-ins exchange data with the host through blocks of this arena. A handle is
//! the offset of a block's first byte; offset 0 means "no block". The arena knows
//! nothing of wasm engines: the `env` module binds its operations to wasm imports.
//!
//! Every access is bounds-checked against the arena. Blocks are handed out first-fit
//! from freed blocks, otherwise from the top of the arena; freeing coalesces adjacent
//! free blocks and gives the top back. [`ExtismMemory::reset`] forgets every block.

use alloc::vec::Vec;
use core::fmt;

/// Offset of the first block. Bytes below it are never handed out, so 0 is never a
/// valid handle.
pub const FIRST_BLOCK_OFFSET: u64 = 8;

/// The largest the arena may grow when no budget is set (4 GiB, the reach of a
/// 32-bit wasm memory, like the official runtime's kernel memory).
pub const DEFAULT_ARENA_LIMIT: u64 = 4 << 30;

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

/// One block of the arena.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
struct Block {
    /// Offset of the first byte; the block's handle.
    offset: u64,
    /// Bytes the owner asked for.
    len: u64,
    /// Bytes reserved for the block (>= `len`); runs up to the next block.
    capacity: u64,
    /// False once freed.
    live: bool,
}

/// The Extism memory of one plug-in instance.
#[derive(Debug, Clone)]
pub struct ExtismMemory {
    /// The arena. Its length is the top: everything above is unreserved.
    bytes: Vec<u8>,
    /// Blocks sorted by offset, tiling `FIRST_BLOCK_OFFSET..bytes.len()` exactly.
    blocks: Vec<Block>,
    /// Number of blocks with `live == false`.
    free_blocks: usize,
    /// The arena may not grow beyond this many bytes.
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
            blocks: Vec::new(),
            free_blocks: 0,
            limit: DEFAULT_ARENA_LIMIT,
        }
    }

    /// Sets the most bytes the arena may reserve (header included). Allocations that
    /// would pass it fail; blocks already handed out are kept.
    pub fn set_limit(&mut self, limit_bytes: u64) {
        self.limit = limit_bytes.min(DEFAULT_ARENA_LIMIT);
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

    /// Forgets every block; handles from before are invalid afterwards. The host
    /// buffer is kept (bounded by the limit) unless it is larger than `keep_bytes`.
    pub fn reset(&mut self, keep_bytes: usize) {
        self.blocks.clear();
        self.free_blocks = 0;
        self.bytes.truncate(FIRST_BLOCK_OFFSET as usize);
        if self.bytes.capacity() > keep_bytes {
            self.bytes
                .shrink_to(keep_bytes.max(FIRST_BLOCK_OFFSET as usize));
        }
    }

    /// Reserves a block of `len` bytes and returns its handle, or `None` when `len` is
    /// 0 or the limit (or the host allocator) refuses.
    pub fn alloc(&mut self, len: u64) -> Option<u64> {
        if len == 0 {
            return None;
        }
        if self.free_blocks > 0 {
            if let Some(index) = self
                .blocks
                .iter()
                .position(|b| !b.live && b.capacity >= len)
            {
                let block = &mut self.blocks[index];
                block.live = true;
                block.len = len;
                self.free_blocks -= 1;
                return Some(block.offset);
            }
        }
        let offset = self.reserved_bytes();
        let top = offset.checked_add(len)?;
        if top > self.limit {
            return None;
        }
        let top = usize::try_from(top).ok()?;
        let additional = top - self.bytes.len();
        self.bytes.try_reserve(additional).ok()?;
        self.bytes.resize(top, 0);
        self.blocks.push(Block {
            offset,
            len,
            capacity: len,
            live: true,
        });
        Some(offset)
    }

    /// Reserves a block holding a copy of `data`; `None` as for [`Self::alloc`].
    pub fn alloc_bytes(&mut self, data: &[u8]) -> Option<u64> {
        let handle = self.alloc(data.len() as u64)?;
        let start = handle as usize;
        self.bytes[start..start + data.len()].copy_from_slice(data);
        Some(handle)
    }

    /// Index of the live block starting at `handle`.
    fn live_index(&self, handle: u64) -> Option<usize> {
        let index = self
            .blocks
            .binary_search_by_key(&handle, |b| b.offset)
            .ok()?;
        self.blocks[index].live.then_some(index)
    }

    /// Releases the block at `handle`. 0 and handles that are not live blocks are
    /// ignored.
    pub fn free(&mut self, handle: u64) {
        let Some(mut index) = self.live_index(handle) else {
            return;
        };
        self.blocks[index].live = false;
        self.blocks[index].len = 0;
        self.free_blocks += 1;
        // Merge with a free successor.
        if let Some(next) = self.blocks.get(index + 1).copied() {
            if !next.live {
                self.blocks[index].capacity += next.capacity;
                self.blocks.remove(index + 1);
                self.free_blocks -= 1;
            }
        }
        // Merge into a free predecessor.
        if index > 0 && !self.blocks[index - 1].live {
            let capacity = self.blocks[index].capacity;
            self.blocks[index - 1].capacity += capacity;
            self.blocks.remove(index);
            self.free_blocks -= 1;
            index -= 1;
        }
        // A free block at the top gives its bytes back.
        if index + 1 == self.blocks.len() {
            let block = self.blocks.remove(index);
            self.free_blocks -= 1;
            self.bytes.truncate(block.offset as usize);
        }
    }

    /// Byte length of the live block at `handle`, or 0 when `handle` is not one.
    pub fn length(&self, handle: u64) -> u64 {
        self.live_index(handle)
            .map_or(0, |index| self.blocks[index].len)
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
    #[inline]
    pub fn load_u8(&self, offset: u64) -> Result<u8, MemoryError> {
        let range = self.range(offset, 1)?;
        Ok(self.bytes[range.start])
    }

    /// Eight bytes little-endian at absolute offset `offset`.
    #[inline]
    pub fn load_u64(&self, offset: u64) -> Result<u64, MemoryError> {
        let range = self.range(offset, 8)?;
        let mut word = [0u8; 8];
        word.copy_from_slice(&self.bytes[range]);
        Ok(u64::from_le_bytes(word))
    }

    /// Writes one byte at absolute offset `offset`.
    #[inline]
    pub fn store_u8(&mut self, offset: u64, value: u8) -> Result<(), MemoryError> {
        let range = self.range(offset, 1)?;
        self.bytes[range.start] = value;
        Ok(())
    }

    /// Writes eight bytes little-endian at absolute offset `offset`.
    #[inline]
    pub fn store_u64(&mut self, offset: u64, value: u64) -> Result<(), MemoryError> {
        let range = self.range(offset, 8)?;
        self.bytes[range].copy_from_slice(&value.to_le_bytes());
        Ok(())
    }

    /// `len` bytes at absolute offset `offset`.
    pub fn slice(&self, offset: u64, len: u64) -> Result<&[u8], MemoryError> {
        let range = self.range(offset, len)?;
        Ok(&self.bytes[range])
    }

    /// `len` bytes at absolute offset `offset`, writable.
    pub fn slice_mut(&mut self, offset: u64, len: u64) -> Result<&mut [u8], MemoryError> {
        let range = self.range(offset, len)?;
        Ok(&mut self.bytes[range])
    }

    /// The bytes of the live block at `handle`.
    pub fn block(&self, handle: u64) -> Result<&[u8], MemoryError> {
        let index = self
            .live_index(handle)
            .ok_or(MemoryError::NotABlock { handle })?;
        let len = self.blocks[index].len;
        self.slice(handle, len)
    }

    /// The bytes of the live block at `handle`, writable.
    pub fn block_mut(&mut self, handle: u64) -> Result<&mut [u8], MemoryError> {
        let index = self
            .live_index(handle)
            .ok_or(MemoryError::NotABlock { handle })?;
        let len = self.blocks[index].len;
        self.slice_mut(handle, len)
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
        self.blocks.len() - self.free_blocks
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
        assert!(memory.reserved_bytes() <= memory.limit().max(FIRST_BLOCK_OFFSET));
        assert_eq!(memory.live_blocks(), model.len());
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
                            let top = memory.reserved_bytes();
                            prop_assert!(n == 0 || top.saturating_add(n) > limit);
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
