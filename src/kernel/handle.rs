//! `MemoryHandle`: a block of the Extism memory as host code names it.
//!
//! With `std` it is the `extism-convert` crate's `MemoryHandle` (the type the `extism`
//! crate uses), so a handle made by code written for `extism` is one here too; the
//! `no_std` core has its own, with the same fields and methods.

#[cfg(feature = "std")]
pub use extism_convert::MemoryHandle;

/// A block of the Extism memory: its handle (offset) and length.
#[cfg(not(feature = "std"))]
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub struct MemoryHandle {
    /// Offset of the first byte (the handle plug-ins see).
    pub offset: u64,
    /// Length in bytes.
    pub length: u64,
}

#[cfg(not(feature = "std"))]
impl MemoryHandle {
    /// A handle to `length` bytes at `offset`. Safe here (the `extism-convert` crate,
    /// used with `std`, marks it `unsafe`): every access through a handle is
    /// bounds-checked.
    pub fn new(offset: u64, length: u64) -> MemoryHandle {
        MemoryHandle { offset, length }
    }

    /// The null handle (offset 0, length 0): an empty value.
    pub fn null() -> MemoryHandle {
        MemoryHandle {
            offset: 0,
            length: 0,
        }
    }

    /// The handle plug-ins see.
    pub fn offset(&self) -> u64 {
        self.offset
    }

    /// Length in bytes; `usize::MAX` for a length past the host's address space
    /// (more than 4 GiB on a 32-bit host), which no access can then satisfy.
    pub fn len(&self) -> usize {
        usize::try_from(self.length).unwrap_or(usize::MAX)
    }

    /// True for an empty block.
    pub fn is_empty(&self) -> bool {
        self.length == 0
    }
}
