//! The lazy-memory pass: a module's own linear memory becomes an import
//! ([`LAZY_MEMORY_MODULE`].[`LAZY_MEMORY_NAME`], same type), so that interplug can give
//! each instance a memory over a reserved mapping whose untouched pages cost nothing
//! (`interplug-os-memory`) instead of the heap buffer the engine fills with zeros.
//!
//! Imported memories come first in the memory index space, and the module imports no
//! other memory, so the memory keeps index 0: no function body, export, data segment
//! or name changes. The pass works on sections, not operators: it copies every
//! section as it is except the import section (one entry more) and the memory section
//! (one entry fewer), so it costs a copy of the module, whatever its code.
//!
//! It leaves alone modules that import a memory already, define none, or define a
//! 64-bit or shared memory or one with a custom page size.
//!
//! ```
//! use interplug::rewrite::memory_import::import_own_memory;
//! let wasm = wat::parse_str(r#"(module (memory (export "memory") 17)
//!     (data (i32.const 1048576) "hi"))"#)?;
//! let rewritten = import_own_memory(&wasm)?.expect("one memory to import");
//! wasmparser::validate(&rewritten)?;
//! let module = wasmi::Module::new(&wasmi::Engine::default(), &rewritten)?;
//! let import = module.imports().next().expect("the memory");
//! assert_eq!((import.module(), import.name()), ("interplug:memory", "memory"));
//! assert!(matches!(import.ty(), wasmi::ExternType::Memory(m) if m.minimum() == 17));
//! // The export still names it.
//! assert!(matches!(module.get_export("memory"), Some(wasmi::ExternType::Memory(_))));
//! # Ok::<(), interplug::Error>(())
//! ```

use crate::error::fail;
use crate::kernel::abi::{LAZY_MEMORY_MODULE, LAZY_MEMORY_NAME};
use crate::limits::linear::LAZY_LINEAR_MEMORY;
use alloc::vec::Vec;
use anyhow::Error;
use wasm_encoder::Encode;
use wasmparser::{BinaryReader, ImportSectionReader, MemorySectionReader, TypeRef};

/// Section ids of the binary format.
const IMPORT: u8 = 2;
const MEMORY: u8 = 5;
const CUSTOM: u8 = 0;
const TYPE: u8 = 1;

/// One section of the module: its id and where its contents are.
struct RawSection {
    id: u8,
    /// Offset of the section's id byte.
    start: usize,
    /// Offsets of its contents.
    contents: core::ops::Range<usize>,
}

/// The sections of a core module, in order; `None` when `wasm` is not a well-formed
/// sequence of sections of a version-1 core module.
fn sections(wasm: &[u8]) -> Option<Vec<RawSection>> {
    const HEADER: [u8; 8] = [0, b'a', b's', b'm', 1, 0, 0, 0];
    if wasm.get(..8)? != HEADER {
        return None;
    }
    let mut reader = BinaryReader::new(&wasm[8..], 8);
    let mut sections = Vec::new();
    while !reader.eof() {
        let start = reader.original_position();
        let id = reader.read_u8().ok()?;
        let len = reader.read_var_u32().ok()? as usize;
        let begin = reader.original_position();
        let end = begin.checked_add(len).filter(|end| *end <= wasm.len())?;
        reader.read_bytes(len).ok()?;
        sections.push(RawSection {
            id,
            start,
            contents: begin..end,
        });
    }
    Some(sections)
}

/// `wasm` with its own memory 0 turned into an import of
/// [`LAZY_MEMORY_MODULE`].[`LAZY_MEMORY_NAME`], or `None` when the module is left as it
/// is (no own memory, a memory import already, a memory this pass does not move, or
/// bytes it cannot read, which validation then reports).
///
/// # Errors
///
/// [`ErrorKind::NotFound`](crate::ErrorKind::NotFound) when the module imports from
/// [`LAZY_MEMORY_MODULE`] itself: that import is interplug's.
pub fn import_own_memory(wasm: &[u8]) -> Result<Option<Vec<u8>>, Error> {
    let Some(sections) = sections(wasm) else {
        return Ok(None);
    };
    // The imports: refuse interplug's own, leave modules that import a memory.
    let mut import_entries: Option<(u32, core::ops::Range<usize>)> = None;
    for section in sections.iter().filter(|s| s.id == IMPORT) {
        let reader = BinaryReader::new(&wasm[section.contents.clone()], section.contents.start);
        let Ok(imports) = ImportSectionReader::new(reader) else {
            return Ok(None);
        };
        let count = imports.count();
        let entries = imports.range();
        for import in imports {
            let Ok(import) = import else {
                return Ok(None);
            };
            if import.module == LAZY_MEMORY_MODULE {
                return Err(fail!(
                    NotFound,
                    "`{}`.`{}` is interplug's own import (the memory it gives a module): \
                     a plug-in cannot import it",
                    import.module,
                    import.name
                ));
            }
            if matches!(import.ty, TypeRef::Memory(_)) {
                return Ok(None);
            }
        }
        // `entries` starts at the count; the entries follow it.
        let mut counted = BinaryReader::new(&wasm[entries.clone()], entries.start);
        if counted.read_var_u32().is_err() {
            return Ok(None);
        }
        import_entries = Some((count, counted.original_position()..entries.end));
    }
    // The memory section: its first memory, and where the others start.
    let Some(memory_section) = sections.iter().find(|s| s.id == MEMORY) else {
        return Ok(None);
    };
    let reader = BinaryReader::new(
        &wasm[memory_section.contents.clone()],
        memory_section.contents.start,
    );
    let Ok(memories) = MemorySectionReader::new(reader) else {
        return Ok(None);
    };
    let remaining = memories.count().saturating_sub(1);
    let end = memories.range().end;
    let mut iter = memories.into_iter_with_offsets();
    let Some(Ok((_, memory))) = iter.next() else {
        return Ok(None);
    };
    if memory.memory64 || memory.shared || memory.page_size_log2.is_some() {
        return Ok(None);
    }
    let others_start = match iter.next() {
        Some(Ok((offset, _))) => offset,
        Some(Err(_)) => return Ok(None),
        None => end,
    };
    let Ok(minimum) = u32::try_from(memory.initial) else {
        return Ok(None);
    };
    let maximum = match memory.maximum.map(u32::try_from) {
        Some(Ok(max)) => Some(u64::from(max)),
        Some(Err(_)) => return Ok(None),
        None => None,
    };
    let ty = wasm_encoder::MemoryType {
        minimum: u64::from(minimum),
        maximum,
        memory64: false,
        shared: false,
        page_size_log2: None,
    };

    // The new import section's contents: the old entries, then the memory.
    let mut imports = Vec::new();
    let (count, entries) = import_entries.unwrap_or((0, 0..0));
    (count + 1).encode(&mut imports);
    imports.extend_from_slice(&wasm[entries]);
    LAZY_MEMORY_MODULE.encode(&mut imports);
    LAZY_MEMORY_NAME.encode(&mut imports);
    imports.push(0x02);
    ty.encode(&mut imports);

    let mut out = Vec::with_capacity(wasm.len() + imports.len() + 8);
    out.extend_from_slice(&wasm[..8]);
    let mut imports_written = false;
    for section in &sections {
        // The import section goes right before the first section that must follow
        // it, in place of the old one when there was one.
        if !imports_written && section.id != CUSTOM && section.id != TYPE {
            out.push(IMPORT);
            imports.as_slice().encode(&mut out);
            imports_written = true;
        }
        match section.id {
            IMPORT => {}
            MEMORY => {
                if remaining > 0 {
                    let mut contents = Vec::new();
                    remaining.encode(&mut contents);
                    contents.extend_from_slice(&wasm[others_start..section.contents.end]);
                    out.push(MEMORY);
                    contents.as_slice().encode(&mut out);
                }
            }
            _ => out.extend_from_slice(&wasm[section.start..section.contents.end]),
        }
    }
    Ok(Some(out))
}

/// The load-time step of lazy memory: where this build has lazy memory
/// ([`LAZY_LINEAR_MEMORY`]) and `lazy` asks for it, the module as the earlier passes
/// left it (`rewritten`, or `original` when they changed nothing) with its own memory
/// made an import; otherwise `rewritten` unchanged. `None`: compile `original` as it
/// is.
///
/// # Errors
///
/// As [`import_own_memory`], on every platform: a plug-in importing interplug's
/// memory itself is refused.
pub(crate) fn for_this_build(
    original: &[u8],
    rewritten: Option<Vec<u8>>,
    lazy: bool,
) -> Result<Option<Vec<u8>>, Error> {
    let moved = import_own_memory(rewritten.as_deref().unwrap_or(original))?;
    Ok(if LAZY_LINEAR_MEMORY && lazy {
        moved.or(rewritten)
    } else {
        rewritten
    })
}
