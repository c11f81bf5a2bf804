//! `CurrentPlugin`: the per-instance state the engine hands to host functions.
//!
//! It owns the Extism memory, the call registers (input, output, error), vars,
//! config, the memory budget and the host context of the running call.

use crate::{
    error::{fail, Failure},
    host::convert::{decode, encode, FromBytes, ToBytes},
    host::val::Val,
    kernel::memory::{ExtismMemory, MemoryError},
    limits::budget::Budget,
    Error,
};
use alloc::{boxed::Box, collections::BTreeMap, format, string::String, sync::Arc, vec::Vec};
use core::any::Any;

use crate::host::vars::Vars;
pub use crate::host::vars::{DEFAULT_MAX_VAR_BYTES, MAX_VAR_ENTRIES, VAR_ENTRY_OVERHEAD};
pub use crate::kernel::handle::MemoryHandle;

/// The state of the last HTTP request a plug-in made.
#[derive(Debug, Default, Clone)]
pub(crate) struct HttpState {
    pub(crate) status: i32,
    pub(crate) headers: Option<String>,
    pub(crate) allow_response_headers: bool,
}

/// The running plug-in, as host functions see it: its Extism memory (blocks the
/// plug-in passes as handles), vars, config, manifest and the call's host context.
///
/// # Errors
///
/// Memory methods fail on handles outside the Extism memory, on bytes that do not
/// decode, and on allocations over the plug-in's memory budget.
///
/// # Examples
///
/// A host function that reads its argument block and answers with a new one:
///
/// ```
/// use interplug::{CurrentPlugin, Function, Manifest, Plugin, UserData, Val, Wasm, PTR};
/// fn say_hi(plugin: &mut CurrentPlugin, inputs: &[Val], outputs: &mut [Val], _: UserData<()>)
///     -> Result<(), interplug::Error>
/// {
///     let name: &str = plugin.memory_get_val(&inputs[0])?;
///     let reply = format!("Hi {name}");
///     let handle = plugin.memory_new(&reply)?;
///     outputs[0] = plugin.memory_to_val(handle);
///     Ok(())
/// }
/// let manifest = Manifest::new([Wasm::file("spec-tests/fixtures/host_fns.wasm")]);
/// let hello = Function::new("hello_world", [PTR], [PTR], UserData::default(), say_hi);
/// // The plug-in imports two more functions; this example does not call them.
/// let panic_now = Function::new("panic_now", [PTR], [PTR], UserData::default(), say_hi);
/// let shout = Function::new("shout", [PTR], [PTR], UserData::default(), say_hi)
///     .with_namespace("example:other");
/// let mut plugin = Plugin::new(&manifest, [hello, panic_now, shout], false)?;
/// assert_eq!(plugin.call::<&str, &str>("call_host", "Bo")?, "Hi Bo");
/// # Ok::<(), interplug::Error>(())
/// ```
pub struct CurrentPlugin {
    pub(crate) memory: ExtismMemory,
    pub(crate) input: MemoryHandle,
    pub(crate) output: MemoryHandle,
    pub(crate) error: u64,
    pub(crate) vars: Vars,
    pub(crate) config: BTreeMap<String, String>,
    pub(crate) budget: Budget,
    pub(crate) http: HttpState,
    pub(crate) host_context: Option<Box<dyn Any + Send + Sync>>,
    pub(crate) manifest: Arc<crate::Manifest>,
    pub(crate) id: uuid::Uuid,
    pub(crate) clock: Option<Arc<dyn crate::limits::clock::Clock>>,
    pub(crate) deadline_ms: Option<u64>,
    /// Fuel that imports charged beyond what was left in the current fuel slice; the
    /// run loop takes it from the fuel limit ([`Self::take_fuel_debt`]).
    pub(crate) fuel_debt: u64,
    /// The plug-in's cancel flag, for host work that blocks (WASI waits, HTTP).
    pub(crate) cancel: crate::limits::cancel::CancelHandle,
    /// True while the run loop runs the plug-in (a resumable call: host functions may
    /// suspend it); false in a start function, which runs inside instantiation.
    pub(crate) can_suspend: bool,
    #[cfg(feature = "wasi")]
    pub(crate) wasi: Option<crate::os::wasi::WasiState>,
    /// The linear memory of each module instance, found when it is instantiated: WASI
    /// and the bulk copies take it from here.
    pub(crate) linear_memories: crate::host::linear_memory::LinearMemories,
}

impl core::fmt::Debug for CurrentPlugin {
    fn fmt(&self, f: &mut core::fmt::Formatter<'_>) -> core::fmt::Result {
        f.debug_struct("CurrentPlugin")
            .field("id", &self.id)
            .finish_non_exhaustive()
    }
}

impl CurrentPlugin {
    pub(crate) fn new(manifest: Arc<crate::Manifest>, id: uuid::Uuid) -> Self {
        let max_var_bytes = manifest
            .memory
            .max_var_bytes
            .unwrap_or(DEFAULT_MAX_VAR_BYTES);
        let budget = Budget::new(manifest.memory.max_pages);
        let mut memory = ExtismMemory::new();
        memory.set_limit(budget.extism_limit());
        CurrentPlugin {
            memory,
            input: MemoryHandle {
                offset: 0,
                length: 0,
            },
            output: MemoryHandle {
                offset: 0,
                length: 0,
            },
            error: 0,
            vars: Vars {
                max_bytes: max_var_bytes,
                ..Vars::default()
            },
            config: manifest.config.clone(),
            budget,
            http: HttpState::default(),
            host_context: None,
            manifest,
            id,
            clock: crate::limits::clock::default_clock(),
            deadline_ms: None,
            fuel_debt: 0,
            cancel: crate::limits::cancel::CancelHandle::default(),
            can_suspend: false,
            #[cfg(feature = "wasi")]
            wasi: None,
            linear_memories: Default::default(),
        }
    }

    /// Starts a call: forgets every block, clears the registers, stores the input.
    pub(crate) fn begin_call(&mut self, input: &[u8]) -> Result<(), Error> {
        self.reset_memory();
        self.budget.clear_refusal();
        // Fuel charged outside a call (a start function) is not this call's.
        self.fuel_debt = 0;
        if input.is_empty() {
            return Ok(());
        }
        let offset = self.memory.alloc_bytes(input).ok_or_else(|| {
            fail!(
                OutOfMemory,
                "oom: the input of {} bytes does not fit in the plug-in's memory budget \
                 (memory.max_pages): raise it or pass a smaller input",
                input.len()
            )
        })?;
        self.input = MemoryHandle {
            offset,
            length: input.len() as u64,
        };
        Ok(())
    }

    /// The fuel imports charged past the end of the current slice, now owed by the
    /// call; reading it clears it.
    pub(crate) fn take_fuel_debt(&mut self) -> u64 {
        core::mem::take(&mut self.fuel_debt)
    }

    /// Forgets every block and clears input, output and error.
    pub(crate) fn reset_memory(&mut self) {
        /// Keep up to this much host buffer between calls.
        const KEEP_BYTES: usize = 1 << 20;
        self.memory.reset(KEEP_BYTES);
        self.memory.set_limit(self.budget.extism_limit());
        self.input = MemoryHandle {
            offset: 0,
            length: 0,
        };
        self.output = self.input;
        self.error = 0;
        self.http.status = 0;
        self.http.headers = None;
    }

    /// The output bytes of the last call.
    pub(crate) fn output_bytes(&self) -> Result<&[u8], Error> {
        if self.output.length == 0 {
            return Ok(&[]);
        }
        self.memory
            .slice(self.output.offset, self.output.length)
            .map_err(|e| fail!(Trap from e, "the plug-in's output is invalid"))
    }

    /// The error message the plug-in set with `error_set` during the current (or,
    /// between calls, the last) call, if any.
    pub fn error_message(&self) -> Option<String> {
        if self.error == 0 {
            return None;
        }
        let bytes = self.memory.block(self.error).ok()?;
        Some(String::from_utf8_lossy(bytes).into_owned())
    }

    /// The plug-in's id.
    pub fn id(&self) -> uuid::Uuid {
        self.id
    }

    /// The manifest the plug-in was made from, without the bytes of inline modules
    /// (as [`CompiledPlugin::manifest`](crate::CompiledPlugin::manifest)).
    pub fn manifest(&self) -> &crate::Manifest {
        &self.manifest
    }

    /// The plug-in's config (the manifest's, plus changes the host made since).
    pub fn config(&self) -> &BTreeMap<String, String> {
        &self.config
    }

    /// The plug-in's vars.
    pub fn vars(&self) -> &BTreeMap<String, Vec<u8>> {
        &self.vars.values
    }

    /// Sets a var as the plug-in's `var_set` would, within `max_var_bytes`.
    ///
    /// # Errors
    ///
    /// `LimitExceeded` when the var would pass `max_var_bytes` or the cap on var
    /// entries, or vars are disabled; the vars are left as they were.
    pub fn set_var(&mut self, key: &str, value: Option<&[u8]>) -> Result<(), Error> {
        self.vars.set(key, value)
    }

    /// The Extism memory, for hosts that address blocks as `base + offset`.
    pub fn memory(&self) -> &ExtismMemory {
        &self.memory
    }

    /// The Extism memory, writable.
    pub fn memory_mut(&mut self) -> &mut ExtismMemory {
        &mut self.memory
    }

    /// Allocates a block of `n` bytes.
    ///
    /// # Errors
    ///
    /// `Invalid` for 0 bytes; `OutOfMemory` when the block does not fit in the
    /// memory budget.
    pub fn memory_alloc(&mut self, n: u64) -> Result<MemoryHandle, Error> {
        let offset = self.memory.alloc(n).ok_or_else(|| {
            if n == 0 {
                fail!(
                    Invalid,
                    "cannot allocate an empty block: ask for at least one byte"
                )
            } else {
                fail!(
                    OutOfMemory,
                    "oom: cannot allocate {n} bytes within the plug-in's memory budget \
                     (memory.max_pages)"
                )
            }
        })?;
        Ok(MemoryHandle { offset, length: n })
    }

    /// Allocates a block holding `value`'s bytes.
    ///
    /// # Errors
    ///
    /// As [`Self::memory_alloc`]; `Invalid` when `value` cannot be encoded.
    pub fn memory_new<'a, T: ToBytes<'a>>(&mut self, value: T) -> Result<MemoryHandle, Error> {
        let bytes = encode(&value, || String::from("a memory block"))?;
        let bytes = bytes.as_ref();
        if bytes.is_empty() {
            // An empty value is the null handle, as plug-ins read it.
            return Ok(MemoryHandle {
                offset: 0,
                length: 0,
            });
        }
        let handle = self.memory_alloc(bytes.len() as u64)?;
        self.memory
            .slice_mut(handle.offset, handle.length)
            .map_err(memory_error)?
            .copy_from_slice(bytes);
        Ok(handle)
    }

    /// Frees a block.
    ///
    /// # Errors
    ///
    /// None: a handle that is not a live block is ignored.
    pub fn memory_free(&mut self, handle: MemoryHandle) -> Result<(), Error> {
        self.memory.free(handle.offset);
        Ok(())
    }

    /// The block starting at `offset`, if it is a live one.
    pub fn memory_handle(&self, offset: u64) -> Option<MemoryHandle> {
        let length = self.memory.length(offset);
        (length > 0).then_some(MemoryHandle { offset, length })
    }

    /// Length of the block at `offset` (0 when it is not a block).
    ///
    /// # Errors
    ///
    /// `Invalid` when `offset` is not the start of a live block.
    pub fn memory_length(&self, offset: u64) -> Result<u64, Error> {
        match self.memory.length(offset) {
            0 => Err(memory_error(MemoryError::NotABlock { handle: offset })),
            n => Ok(n),
        }
    }

    /// The bytes of a block.
    ///
    /// # Errors
    ///
    /// `Invalid` when the handle's bytes are not inside the Extism memory.
    pub fn memory_bytes(&mut self, handle: MemoryHandle) -> Result<&mut [u8], Error> {
        self.memory
            .slice_mut(handle.offset, handle.length)
            .map_err(memory_error)
    }

    /// The bytes of a block as UTF-8 text.
    ///
    /// # Errors
    ///
    /// `Invalid` when the bytes are outside the Extism memory or not UTF-8.
    pub fn memory_str(&mut self, handle: MemoryHandle) -> Result<&mut str, Error> {
        let bytes = self.memory_bytes(handle)?;
        core::str::from_utf8_mut(bytes).map_err(|e| {
            fail!(
                Invalid from e,
                "block at {} is not valid UTF-8",
                handle.offset
            )
        })
    }

    /// The block a handle value refers to (an `I64` value naming a live block).
    pub fn memory_from_val(&self, value: &Val) -> Option<MemoryHandle> {
        self.memory_handle(value.i64()? as u64)
    }

    /// A handle as a value to return to the plug-in.
    pub fn memory_to_val(&self, handle: MemoryHandle) -> Val {
        Val::I64(handle.offset as i64)
    }

    /// Decodes the block a handle value refers to; `T` may borrow the block (`&str`,
    /// `&[u8]`). The null handle decodes as empty bytes.
    ///
    /// # Errors
    ///
    /// `Invalid` when `value` is not an i64 naming a live block, or the bytes do not
    /// decode as `T`.
    pub fn memory_get_val<'a, T: FromBytes<'a>>(&'a mut self, value: &Val) -> Result<T, Error> {
        let offset = value
            .i64()
            .ok_or_else(|| fail!(Invalid, "expected an i64 memory handle, got {value:?}"))?
            as u64;
        if offset == 0 {
            return decode(&[], || String::from("the null handle's empty block"));
        }
        let bytes = self.memory.block(offset).map_err(memory_error)?;
        decode(bytes, || format!("the memory block at {offset}"))
    }

    /// Encodes `data` into a new block and stores its handle in `slot`.
    ///
    /// # Errors
    ///
    /// As [`Self::memory_alloc`]; `Invalid` when `data` cannot be encoded.
    pub fn memory_set_val<'a, T: ToBytes<'a>>(
        &mut self,
        slot: &mut Val,
        data: T,
    ) -> Result<(), Error> {
        let handle = self.memory_new(data)?;
        *slot = Val::I64(handle.offset as i64);
        Ok(())
    }

    /// The value given to `call_with_host_context` for the running call.
    ///
    /// # Errors
    ///
    /// `NotFound` outside `call_with_host_context`; `Invalid` when the context is
    /// not a `T`.
    pub fn host_context<T: 'static>(&mut self) -> Result<&mut T, Error> {
        let context = self
            .host_context
            .as_mut()
            .ok_or_else(|| fail!(NotFound, "no host context: use call_with_host_context"))?;
        context.downcast_mut::<T>().ok_or_else(|| {
            fail!(
                Invalid,
                "the host context is not a {}: ask for the type given to \
                 call_with_host_context",
                core::any::type_name::<T>()
            )
        })
    }

    /// The running call's input.
    pub fn input(&self) -> MemoryHandle {
        self.input
    }
}

/// A memory error as an [`Error`] of kind
/// [`ErrorKind::Invalid`](crate::ErrorKind::Invalid).
fn memory_error(error: MemoryError) -> Error {
    Error::new(Failure::from(error))
}

/// Accessors of the `extism` crate's `CurrentPlugin` (memory views, error, vars, time).
impl CurrentPlugin {
    /// The bytes of a block, writable (as [`CurrentPlugin::memory_bytes`]).
    ///
    /// # Errors
    ///
    /// `Invalid` when the handle's bytes are not inside the Extism memory.
    pub fn memory_bytes_mut(&mut self, handle: MemoryHandle) -> Result<&mut [u8], Error> {
        self.memory_bytes(handle)
    }

    /// The bytes of a block as UTF-8 text, writable.
    ///
    /// # Errors
    ///
    /// `Invalid` when the bytes are outside the Extism memory or not UTF-8.
    pub fn memory_str_mut(&mut self, handle: MemoryHandle) -> Result<&mut str, Error> {
        self.memory_str(handle)
    }

    /// Decodes a block; `T` may borrow it (`&str`, `&[u8]`).
    ///
    /// # Errors
    ///
    /// `Invalid` when the handle's bytes are outside the Extism memory or do not
    /// decode as `T`.
    pub fn memory_get<'a, T: FromBytes<'a>>(
        &'a mut self,
        handle: MemoryHandle,
    ) -> Result<T, Error> {
        let bytes = self
            .memory
            .slice(handle.offset, handle.length)
            .map_err(memory_error)?;
        decode(bytes, || {
            format!("the {} bytes of memory at {}", handle.length, handle.offset)
        })
    }

    /// Length of the block at `offset`, 0 when it is not a block (the kernel's
    /// `length_unsafe`; bounds are checked all the same).
    ///
    /// # Errors
    ///
    /// Never; the `Result` is the `extism` crate's signature.
    pub fn memory_length_unsafe(&mut self, offset: u64) -> Result<u64, Error> {
        Ok(self.memory.length(offset))
    }

    /// The plug-in's vars, writable. Changes made here are not counted against
    /// `memory.max_var_bytes` (the host is trusted); the plug-in's own `var_set` is.
    pub fn vars_mut(&mut self) -> &mut BTreeMap<String, Vec<u8>> {
        &mut self.vars.values
    }

    /// The error message of the running call, as the plug-in (or
    /// [`CurrentPlugin::set_error`]) set it; `None` when none is set or it is not UTF-8.
    pub fn get_error(&mut self) -> Option<&str> {
        if self.error == 0 {
            return None;
        }
        let bytes = self.memory.block(self.error).ok()?;
        core::str::from_utf8(bytes).ok()
    }

    /// Sets the running call's error message, as the kernel's `error_set` does: the
    /// call fails with it. Returns the message block's offset and length.
    ///
    /// # Errors
    ///
    /// The message does not fit in the plug-in's memory budget
    /// ([`ErrorKind::OutOfMemory`](crate::ErrorKind::OutOfMemory)).
    pub fn set_error(&mut self, message: impl AsRef<str>) -> Result<(u64, u64), Error> {
        let message = message.as_ref();
        let handle = self.memory_new(message)?;
        self.error = handle.offset;
        Ok((handle.offset, message.len() as u64))
    }

    /// Clears the running call's error message.
    pub fn clear_error(&mut self) {
        self.error = 0;
    }

    /// Time left before the running call's timeout (`timeout_ms`); `None` without a
    /// timeout or without a clock.
    pub fn time_remaining(&self) -> Option<core::time::Duration> {
        let deadline = self.deadline_ms?;
        let now = self.clock.as_ref()?.now_ms();
        Some(core::time::Duration::from_millis(
            deadline.saturating_sub(now),
        ))
    }
}

/// Bytes of host work (zeroing, copying, comparing, parsing) that cost one unit of
/// fuel.
const BYTES_PER_FUEL: u64 = 64;

/// Fuel for one call of an import that does more than a bounds check (a tree or map
/// lookup, logging), on top of its bytes. The O(1) accessors (`load_*`, `store_*`,
/// `input_load_*`, the register getters) are paid by the wasm `call` instruction.
pub(crate) const IMPORT_FUEL: u64 = 16;

/// Fuel for an `alloc` or `free`: a few searches and updates of the block trees,
/// each O(log blocks).
pub(crate) const BLOCK_FUEL: u64 = 64;

/// The fuel for an import doing `bytes` bytes of host work plus `fixed` units.
#[inline]
pub(crate) fn cost(fixed: u64, bytes: u64) -> u64 {
    fixed.saturating_add(bytes / BYTES_PER_FUEL)
}

/// Charges `units` of fuel for the host work an import did, so that it counts
/// against the fuel limit and ends the current fuel slice (where timeout and cancel
/// are checked) like wasm instructions do. When the slice holds less, the fuel goes
/// to 0 (the next wasm instruction stops the slice) and the rest is recorded as a
/// debt the run loop takes from the fuel limit. No-op when fuel metering is off.
#[inline]
pub(crate) fn charge(c: &mut wasmi::Caller<'_, CurrentPlugin>, units: u64) {
    let Ok(fuel) = c.get_fuel() else {
        return;
    };
    if units <= fuel {
        let _ = c.set_fuel(fuel - units);
    } else {
        let _ = c.set_fuel(0);
        let state = c.data_mut();
        state.fuel_debt = state.fuel_debt.saturating_add(units - fuel);
    }
}

/// A memory error as a trap: the plug-in passed a bad address or handle.
#[cold]
pub(crate) fn memory_trap(error: MemoryError) -> wasmi::Error {
    crate::error::trap(crate::ErrorKind::Trap, alloc::format!("{error}"))
}

/// The out-of-memory error as a trap, noting that the budget was hit.
#[cold]
pub(crate) fn oom_trap(budget: &mut Budget) -> wasmi::Error {
    budget.refuse(None);
    crate::error::to_engine(&budget.oom_error(), crate::ErrorKind::OutOfMemory)
}

/// The Extism memory address of `len` input bytes at `index`, or a trap when they run
/// past the end of the input.
#[inline]
pub(crate) fn input_address(
    state: &CurrentPlugin,
    index: i64,
    len: u64,
) -> Result<u64, wasmi::Error> {
    let input = state.input;
    match (index as u64).checked_add(len) {
        Some(end) if end <= input.length => Ok(input.offset + index as u64),
        _ => Err(input_bounds(index, len, input.length)),
    }
}

/// The error for an input read past its end.
#[cold]
fn input_bounds(index: i64, len: u64, input_len: u64) -> wasmi::Error {
    crate::error::trap(
        crate::ErrorKind::Trap,
        alloc::format!(
            "out-of-bounds read of the input: {len} byte(s) at index {}, but the input has \
             {input_len} bytes",
            index as u64
        ),
    )
}
