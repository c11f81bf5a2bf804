//! What a module imports of the Extism kernel: the data-movement imports the pass
//! looks for ([`Kernel`]), found by [`scan`] along with whether the module can be
//! rewritten at all (a 32-bit memory 0 exported as `memory`, and no import of
//! interplug's private [`BULK_MODULE`] nor export of its [`BULK_TABLE_EXPORT`]).

use crate::error::{bail_kind, fail};
use crate::kernel::abi::{
    BULK_MODULE, BULK_TABLE_EXPORT, ENV_MODULE, INPUT_TO_LINEAR, LINEAR_MEMORY_EXPORT,
    LINEAR_TO_MEMORY, MEMORY_TO_LINEAR,
};
use anyhow::Error;
use std::collections::BTreeMap;
use wasmparser::{ExternalKind, Parser, Payload, TypeRef};

/// A data-movement import of the Extism kernel.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(super) enum Kernel {
    /// `input_load_u64` or `input_load_u8`: `chunk` bytes of the input.
    InputLoad { chunk: u64 },
    /// `load_u64` or `load_u8`: `chunk` bytes of the Extism memory.
    Load { chunk: u64 },
    /// `store_u64` or `store_u8`: `chunk` bytes into the Extism memory.
    Store { chunk: u64 },
}

impl Kernel {
    /// The data-movement import called `name`, if it is one.
    fn from_name(name: &str) -> Option<Self> {
        Some(match name {
            "input_load_u64" => Kernel::InputLoad { chunk: 8 },
            "input_load_u8" => Kernel::InputLoad { chunk: 1 },
            "load_u64" => Kernel::Load { chunk: 8 },
            "load_u8" => Kernel::Load { chunk: 1 },
            "store_u64" => Kernel::Store { chunk: 8 },
            "store_u8" => Kernel::Store { chunk: 1 },
            _ => return None,
        })
    }

    /// Index of the bulk function doing this copy in bulk, in [`DIRECTIONS`].
    pub(super) fn direction(self) -> usize {
        match self {
            Kernel::InputLoad { .. } => 0,
            Kernel::Load { .. } => 1,
            Kernel::Store { .. } => 2,
        }
    }
}

/// The bulk function names, by [`Kernel::direction`].
pub(super) const DIRECTIONS: [&str; 3] = [INPUT_TO_LINEAR, MEMORY_TO_LINEAR, LINEAR_TO_MEMORY];

/// What [`scan`] found.
pub(super) enum Scan {
    /// The module cannot be read (validation says why when it is loaded).
    Unreadable(Error),
    /// Nothing to rewrite: no data-movement import, or no 32-bit memory 0 exported as
    /// `memory`.
    Nothing,
    /// The data-movement imports, by function index.
    Kernel(BTreeMap<u32, Kernel>),
}

/// Reads the imports and exports: the data-movement imports by function index, when
/// the module has any and exports a 32-bit memory 0 as `memory`.
///
/// # Errors
///
/// [`ErrorKind::NotFound`](crate::ErrorKind::NotFound) when the module imports
/// from [`BULK_MODULE`] or a name [`BULK_TABLE_EXPORT`],
/// [`ErrorKind::Invalid`](crate::ErrorKind::Invalid) when it exports
/// [`BULK_TABLE_EXPORT`]; a module that cannot be read is [`Scan::Unreadable`].
pub(super) fn scan(wasm: &[u8]) -> Result<Scan, Error> {
    let mut kernel = BTreeMap::new();
    let mut functions = 0u32;
    let mut memory_is_32_bit = false;
    let mut memory_exported = false;
    macro_rules! read {
        ($result:expr) => {
            match $result {
                Ok(value) => value,
                Err(e) => {
                    return Ok(Scan::Unreadable(fail!(
                        Invalid,
                        "cannot read the wasm module: {e}"
                    )))
                }
            }
        };
    }
    for payload in Parser::new(0).parse_all(wasm) {
        match read!(payload) {
            Payload::ImportSection(reader) => {
                for import in reader {
                    let import = read!(import);
                    if import.module == BULK_MODULE || import.name == BULK_TABLE_EXPORT {
                        bail_kind!(
                            NotFound,
                            "the module imports `{}`.`{}`: `{BULK_MODULE}` is private to \
                             interplug; import the Extism kernel functions from `{ENV_MODULE}`",
                            import.module,
                            import.name
                        );
                    }
                    match import.ty {
                        TypeRef::Func(_) => {
                            if import.module == ENV_MODULE {
                                if let Some(k) = Kernel::from_name(import.name) {
                                    kernel.insert(functions, k);
                                }
                            }
                            functions = functions.saturating_add(1);
                        }
                        TypeRef::Memory(ty) if !memory_is_32_bit => {
                            memory_is_32_bit = !ty.memory64;
                        }
                        _ => {}
                    }
                }
            }
            Payload::MemorySection(reader) => {
                if let Some(ty) = reader.into_iter().next() {
                    let ty = read!(ty);
                    memory_is_32_bit |= !ty.memory64;
                }
            }
            Payload::ExportSection(reader) => {
                for export in reader {
                    let export = read!(export);
                    if export.name == BULK_TABLE_EXPORT {
                        bail_kind!(
                            Invalid,
                            "the module exports `{BULK_TABLE_EXPORT}`, a name private to \
                             interplug; rename that export"
                        );
                    }
                    if export.name == LINEAR_MEMORY_EXPORT
                        && export.kind == ExternalKind::Memory
                        && export.index == 0
                    {
                        memory_exported = true;
                    }
                }
            }
            Payload::CodeSectionStart { .. } => break,
            _ => {}
        }
    }
    Ok(
        if !kernel.is_empty() && memory_is_32_bit && memory_exported {
            Scan::Kernel(kernel)
        } else {
            Scan::Nothing
        },
    )
}
