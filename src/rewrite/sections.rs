//! [`Section`]: a standard section of the original module, kept for encoding, and
//! the order the binary format requires of sections.

use alloc::vec::Vec;
use core::ops::Range;

/// A standard section of the original module, kept for encoding.
pub(super) enum Section<'a> {
    Type(wasmparser::TypeSectionReader<'a>),
    Import(wasmparser::ImportSectionReader<'a>),
    Function(wasmparser::FunctionSectionReader<'a>),
    Table(wasmparser::TableSectionReader<'a>),
    Memory(wasmparser::MemorySectionReader<'a>),
    Tag(wasmparser::TagSectionReader<'a>),
    Global(wasmparser::GlobalSectionReader<'a>),
    Export(wasmparser::ExportSectionReader<'a>),
    Start(u32),
    Element(wasmparser::ElementSectionReader<'a>),
    DataCount(u32),
    Code,
    Data(wasmparser::DataSectionReader<'a>),
    Custom(wasmparser::CustomSectionReader<'a>),
}

/// A section of the original module and where its contents lie in the module's
/// bytes (copied as they are when nothing in it changes).
pub(super) struct Kept<'a> {
    /// The section.
    pub(super) section: Section<'a>,
    /// Its contents (after the id and size) in the original module's bytes.
    pub(super) range: Range<usize>,
}

impl Section<'_> {
    /// Position in the order the binary format requires (custom sections: none).
    pub(super) fn rank(&self) -> Option<u8> {
        Some(match self {
            Section::Type(_) => 1,
            Section::Import(_) => 2,
            Section::Function(_) => 3,
            Section::Table(_) => 4,
            Section::Memory(_) => 5,
            Section::Tag(_) => 6,
            Section::Global(_) => 7,
            Section::Export(_) => 8,
            Section::Start(_) => 9,
            Section::Element(_) => 10,
            Section::DataCount(_) => 11,
            Section::Code => 12,
            Section::Data(_) => 13,
            Section::Custom(_) => return None,
        })
    }

    /// The section's id in the binary format.
    pub(super) fn id(&self) -> u8 {
        match self {
            Section::Custom(_) => 0,
            Section::Type(_) => 1,
            Section::Import(_) => 2,
            Section::Function(_) => 3,
            Section::Table(_) => 4,
            Section::Memory(_) => 5,
            Section::Global(_) => 6,
            Section::Export(_) => 7,
            Section::Start(_) => 8,
            Section::Element(_) => 9,
            Section::Code => 10,
            Section::Data(_) => 11,
            Section::DataCount(_) => 12,
            Section::Tag(_) => 13,
        }
    }
}

/// The ranks of the sections a pass can add to a module that lacks them.
pub(super) const RANK_TYPE: u8 = 1;
pub(super) const RANK_IMPORT: u8 = 2;
pub(super) const RANK_FUNCTION: u8 = 3;
pub(super) const RANK_TABLE: u8 = 4;
pub(super) const RANK_MEMORY: u8 = 5;
pub(super) const RANK_GLOBAL: u8 = 7;
pub(super) const RANK_EXPORT: u8 = 8;
pub(super) const RANK_CODE: u8 = 12;

/// The contents of the code section being written: the module's own bodies,
/// rewritten, after room for their count.
#[derive(Debug)]
pub(super) struct Code {
    /// How many bodies.
    pub(super) count: u32,
    /// The count (once [`Code::set_count`] wrote it), then each body with its size.
    pub(super) bodies: Vec<u8>,
}

/// Bytes of the count at the start of [`Code::bodies`]: a LEB128 `u32` padded to its
/// longest form, which the binary format allows, so that it can be written last.
const COUNT_BYTES: usize = 5;

impl Code {
    /// No body yet.
    pub(super) fn new() -> Self {
        Code {
            count: 0,
            bodies: alloc::vec![0x80, 0x80, 0x80, 0x80, 0],
        }
    }

    /// Writes `count` as the section's count of bodies.
    pub(super) fn set_count(&mut self, count: u32) {
        for (i, byte) in self.bodies.iter_mut().take(COUNT_BYTES).enumerate() {
            let bits = ((count >> (7 * i)) & 0x7f) as u8;
            *byte = if i + 1 < COUNT_BYTES {
                bits | 0x80
            } else {
                bits
            };
        }
    }
}
