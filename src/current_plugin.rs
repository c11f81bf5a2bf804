//! `CurrentPlugin`: the per-instance state the engine hands to host functions.
//!
//! It owns the Extism memory, the call registers (input, output, error), vars,
//! config, the memory budget and the host context of the running call.

use crate::{
    convert::{FromBytes, ToBytes},
    error::{bail_kind, fail, Failure},
    limits::Budget,
    memory::{ExtismMemory, MemoryError},
    val::Val,
    Error,
};
use alloc::{
    boxed::Box,
    collections::BTreeMap,
    string::{String, ToString},
    sync::Arc,
    vec::Vec,
};
use core::any::Any;

pub use crate::memory_handle::MemoryHandle;

/// Default cap on the total size of vars: their keys, values and
/// [`VAR_ENTRY_OVERHEAD`] per entry (`memory.max_var_bytes`).
pub const DEFAULT_MAX_VAR_BYTES: u64 = 1 << 20;

/// Host bytes counted against `max_var_bytes` for each var besides its key and
/// value: the map slot and the two heap buffers that hold them (an upper bound:
/// about 88 bytes measured with a counting allocator in `tests/hostile_kernel.rs`).
pub const VAR_ENTRY_OVERHEAD: u64 = 128;

/// The most vars one plug-in holds, whatever `max_var_bytes` allows.
pub const MAX_VAR_ENTRIES: usize = 1 << 16;

/// The vars of one plug-in: they survive calls, not re-creation.
#[derive(Debug, Default, Clone)]
pub(crate) struct Vars {
    pub(crate) values: BTreeMap<String, Vec<u8>>,
    /// Bytes counted against `max_bytes`: keys, values and the per-entry overhead.
    pub(crate) bytes: u64,
    pub(crate) max_bytes: u64,
}

impl Vars {
    /// What one entry counts against the cap.
    fn entry_bytes(key: &str, value: &[u8]) -> u64 {
        (key.len() + value.len()) as u64 + VAR_ENTRY_OVERHEAD
    }

    /// Sets `key` to `value`, or removes it when `value` is `None`, within the caps.
    /// A refused var leaves the vars as they were.
    ///
    /// # Errors
    ///
    /// [`ErrorKind::LimitExceeded`](crate::ErrorKind::LimitExceeded) when the var would
    /// pass `max_var_bytes` or [`MAX_VAR_ENTRIES`], or vars are disabled.
    pub(crate) fn set(&mut self, key: &str, value: Option<&[u8]>) -> Result<(), Error> {
        let old = self
            .values
            .get(key)
            .map_or(0, |v| Self::entry_bytes(key, v));
        let Some(value) = value else {
            if self.values.remove(key).is_some() {
                self.bytes -= old;
            }
            return Ok(());
        };
        if self.max_bytes == 0 {
            bail_kind!(
                LimitExceeded,
                "vars are disabled for this plug-in (memory.max_var_bytes is 0): raise \
                 memory.max_var_bytes in the manifest"
            );
        }
        if old == 0 && self.values.len() >= MAX_VAR_ENTRIES {
            bail_kind!(
                LimitExceeded,
                "var store full: the plug-in already holds {MAX_VAR_ENTRIES} vars, the most \
                 a plug-in may hold; remove vars (var_set with a null value) before \
                 adding `{key}`"
            );
        }
        let new = Self::entry_bytes(key, value);
        let total = self.bytes - old + new;
        if total > self.max_bytes {
            bail_kind!(
                LimitExceeded,
                "var store full: setting `{key}` would use {total} bytes (keys, values \
                 and {VAR_ENTRY_OVERHEAD} bytes per var), more than \
                 memory.max_var_bytes = {}; raise it in the manifest or store fewer vars",
                self.max_bytes
            );
        }
        self.values.insert(key.to_string(), value.to_vec());
        self.bytes = total;
        Ok(())
    }
}

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
    pub(crate) clock: Option<Arc<dyn crate::limits::Clock>>,
    pub(crate) deadline_ms: Option<u64>,
    /// Fuel that imports charged beyond what was left in the current fuel slice; the
    /// run loop takes it from the fuel limit ([`Self::take_fuel_debt`]).
    pub(crate) fuel_debt: u64,
    /// The plug-in's cancel flag, for host work that blocks (WASI waits, HTTP).
    pub(crate) cancel: crate::limits::CancelHandle,
    #[cfg(feature = "wasi")]
    pub(crate) wasi: Option<crate::wasi::WasiState>,
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
            clock: crate::platform::default_clock(),
            deadline_ms: None,
            fuel_debt: 0,
            cancel: crate::limits::CancelHandle::default(),
            #[cfg(feature = "wasi")]
            wasi: None,
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
            .map_err(|e| fail!(Trap, "the plug-in's output is invalid: {e}"))
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

    /// The manifest the plug-in was made from.
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
    /// As [`Self::memory_alloc`], and the error of encoding `value`.
    pub fn memory_new<'a, T: ToBytes<'a>>(&mut self, value: T) -> Result<MemoryHandle, Error> {
        let bytes = value.to_bytes()?;
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
                Invalid,
                "block at {} is not valid UTF-8: {e}",
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
    /// `Invalid` when `value` is not an i64 naming a live block; the error of
    /// decoding the bytes as `T`.
    pub fn memory_get_val<'a, T: FromBytes<'a>>(&'a mut self, value: &Val) -> Result<T, Error> {
        let offset = value
            .i64()
            .ok_or_else(|| fail!(Invalid, "expected an i64 memory handle, got {value:?}"))?
            as u64;
        if offset == 0 {
            return T::from_bytes(&[]);
        }
        let bytes = self.memory.block(offset).map_err(memory_error)?;
        T::from_bytes(bytes)
    }

    /// Encodes `data` into a new block and stores its handle in `slot`.
    ///
    /// # Errors
    ///
    /// As [`Self::memory_alloc`], and the error of encoding `data`.
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
    /// The handle is outside the Extism memory.
    pub fn memory_bytes_mut(&mut self, handle: MemoryHandle) -> Result<&mut [u8], Error> {
        self.memory_bytes(handle)
    }

    /// The bytes of a block as UTF-8 text, writable.
    ///
    /// # Errors
    ///
    /// The handle is outside the Extism memory, or the bytes are not UTF-8.
    pub fn memory_str_mut(&mut self, handle: MemoryHandle) -> Result<&mut str, Error> {
        self.memory_str(handle)
    }

    /// Decodes a block; `T` may borrow it (`&str`, `&[u8]`).
    ///
    /// # Errors
    ///
    /// The handle is outside the Extism memory, or the bytes do not decode as `T`.
    pub fn memory_get<'a, T: FromBytes<'a>>(
        &'a mut self,
        handle: MemoryHandle,
    ) -> Result<T, Error> {
        let bytes = self.memory.slice(handle.offset, handle.length)?;
        T::from_bytes(bytes)
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
