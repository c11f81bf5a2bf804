//! The `extism:host/env` imports, bound onto a wasmi [`Linker`].
//!
//! Each import is a typed host function that bounds-checks its arguments against
//! the Extism memory and turns a bad handle into a trap with a message.

use crate::{
    current_plugin::CurrentPlugin,
    error::{to_engine, trap as error_trap, ErrorKind},
    memory::MemoryError,
};
use alloc::{format, string::String};
use wasmi::{Caller, Linker};

/// The module plug-ins import the Extism kernel functions from.
pub const ENV_MODULE: &str = "extism:host/env";

/// Every function of [`ENV_MODULE`] interplug provides.
pub const ENV_FUNCTIONS: &[&str] = &[
    "alloc",
    "free",
    "length",
    "length_unsafe",
    "load_u8",
    "load_u64",
    "store_u8",
    "store_u64",
    "input_length",
    "input_offset",
    "input_load_u8",
    "input_load_u64",
    "input_set",
    "output_set",
    "output_length",
    "output_offset",
    "error_set",
    "error_get",
    "config_get",
    "var_get",
    "var_set",
    "http_request",
    "http_status_code",
    "http_headers",
    "log_trace",
    "log_debug",
    "log_info",
    "log_warn",
    "log_error",
    "get_log_level",
    "memory_bytes",
    "reset",
];

type Ctx<'a> = Caller<'a, CurrentPlugin>;
type Trap = wasmi::Error;

/// A memory error as a trap: the plug-in passed a bad address or handle.
pub(crate) fn trap(error: MemoryError) -> Trap {
    error_trap(ErrorKind::Trap, format!("{error}"))
}

/// The bytes of the block at `handle` as text; traps on a bad handle or bad UTF-8.
fn block_str(state: &CurrentPlugin, handle: i64, what: &str) -> Result<String, Trap> {
    let bytes = state.memory.block(handle as u64).map_err(trap)?;
    core::str::from_utf8(bytes).map(String::from).map_err(|e| {
        error_trap(
            ErrorKind::Invalid,
            format!("the {what} is not valid UTF-8 ({e}): pass UTF-8 text"),
        )
    })
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
const BLOCK_FUEL: u64 = 64;

/// Fuel per block record that `reset` drops.
const RECORD_FUEL: u64 = 4;

/// The fuel for an import doing `bytes` bytes of host work plus `fixed` units.
pub(crate) fn cost(fixed: u64, bytes: u64) -> u64 {
    fixed.saturating_add(bytes / BYTES_PER_FUEL)
}

/// Charges `units` of fuel for the host work an import did, so that it counts
/// against the fuel limit and ends the current fuel slice (where timeout and cancel
/// are checked) like wasm instructions do. When the slice holds less, the fuel goes
/// to 0 (the next wasm instruction stops the slice) and the rest is recorded as a
/// debt the run loop takes from the fuel limit. No-op when fuel metering is off.
pub(crate) fn charge(c: &mut Ctx, units: u64) {
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

/// Defines every `extism:host/env` function on `linker`.
pub(crate) fn add_to_linker(linker: &mut Linker<CurrentPlugin>) -> Result<(), wasmi::Error> {
    let m = ENV_MODULE;
    linker.func_wrap(m, "alloc", |mut c: Ctx, n: i64| -> i64 {
        let state = c.data_mut();
        match state.memory.alloc(n as u64) {
            Some(handle) => {
                // Something was allocated after any refused request: a later failure is
                // not explained by it.
                state.budget.oom = false;
                // Zeroing (at the top) or handing out a used range: at most n bytes.
                charge(&mut c, cost(BLOCK_FUEL, n as u64));
                handle as i64
            }
            None => {
                if n > 0 && state.budget.total.is_some() {
                    state.budget.refuse(None);
                }
                charge(&mut c, BLOCK_FUEL);
                0
            }
        }
    })?;
    linker.func_wrap(m, "free", |mut c: Ctx, h: i64| {
        c.data_mut().memory.free(h as u64);
        charge(&mut c, BLOCK_FUEL);
    })?;
    linker.func_wrap(m, "length", |mut c: Ctx, h: i64| -> i64 {
        let length = c.data().memory.length(h as u64);
        charge(&mut c, IMPORT_FUEL);
        length as i64
    })?;
    linker.func_wrap(m, "length_unsafe", |mut c: Ctx, h: i64| -> i64 {
        let length = c.data().memory.length(h as u64);
        charge(&mut c, IMPORT_FUEL);
        length as i64
    })?;
    linker.func_wrap(m, "load_u8", |c: Ctx, p: i64| -> Result<i32, Trap> {
        c.data()
            .memory
            .load_u8(p as u64)
            .map(i32::from)
            .map_err(trap)
    })?;
    linker.func_wrap(m, "load_u64", |c: Ctx, p: i64| -> Result<i64, Trap> {
        c.data()
            .memory
            .load_u64(p as u64)
            .map(|v| v as i64)
            .map_err(trap)
    })?;
    linker.func_wrap(
        m,
        "store_u8",
        |mut c: Ctx, p: i64, v: i32| -> Result<(), Trap> {
            c.data_mut()
                .memory
                .store_u8(p as u64, v as u8)
                .map_err(trap)
        },
    )?;
    linker.func_wrap(
        m,
        "store_u64",
        |mut c: Ctx, p: i64, v: i64| -> Result<(), Trap> {
            c.data_mut()
                .memory
                .store_u64(p as u64, v as u64)
                .map_err(trap)
        },
    )?;
    linker.func_wrap(m, "input_length", |c: Ctx| -> i64 {
        c.data().input.length as i64
    })?;
    linker.func_wrap(m, "input_offset", |c: Ctx| -> i64 {
        c.data().input.offset as i64
    })?;
    linker.func_wrap(m, "input_load_u8", |c: Ctx, i: i64| -> Result<i32, Trap> {
        let state = c.data();
        state
            .memory
            .load_u8(input_address(state, i, 1)?)
            .map(i32::from)
            .map_err(trap)
    })?;
    linker.func_wrap(m, "input_load_u64", |c: Ctx, i: i64| -> Result<i64, Trap> {
        let state = c.data();
        state
            .memory
            .load_u64(input_address(state, i, 8)?)
            .map(|v| v as i64)
            .map_err(trap)
    })?;
    linker.func_wrap(
        m,
        "input_set",
        |mut c: Ctx, h: i64, n: i64| -> Result<(), Trap> {
            let state = c.data_mut();
            state.memory.slice(h as u64, n as u64).map_err(trap)?;
            state.input = crate::MemoryHandle {
                offset: h as u64,
                length: n as u64,
            };
            Ok(())
        },
    )?;
    linker.func_wrap(
        m,
        "output_set",
        |mut c: Ctx, h: i64, n: i64| -> Result<(), Trap> {
            let state = c.data_mut();
            if n != 0 {
                state.memory.slice(h as u64, n as u64).map_err(trap)?;
            }
            state.output = crate::MemoryHandle {
                offset: h as u64,
                length: n as u64,
            };
            Ok(())
        },
    )?;
    linker.func_wrap(m, "output_length", |c: Ctx| -> i64 {
        c.data().output.length as i64
    })?;
    linker.func_wrap(m, "output_offset", |c: Ctx| -> i64 {
        c.data().output.offset as i64
    })?;
    linker.func_wrap(m, "error_set", |mut c: Ctx, h: i64| -> Result<(), Trap> {
        charge(&mut c, IMPORT_FUEL);
        let state = c.data_mut();
        if h != 0 && state.memory.length(h as u64) == 0 {
            return Err(trap(MemoryError::NotABlock { handle: h as u64 }));
        }
        state.error = h as u64;
        Ok(())
    })?;
    linker.func_wrap(m, "error_get", |c: Ctx| -> i64 { c.data().error as i64 })?;
    linker.func_wrap(m, "config_get", |mut c: Ctx, k: i64| -> Result<i64, Trap> {
        let key_len = c.data().memory.length(k as u64);
        // Reading the key, looking it up, two block operations.
        charge(&mut c, cost(IMPORT_FUEL + 2 * BLOCK_FUEL, key_len));
        let state = c.data_mut();
        let key = block_str(state, k, "config key")?;
        state.memory.free(k as u64);
        let Some(value) = state.config.get(&key) else {
            return Ok(0);
        };
        if value.is_empty() {
            return Ok(0);
        }
        let len = value.len() as u64;
        match state.memory.alloc_bytes(value.as_bytes()) {
            Some(handle) => {
                charge(&mut c, cost(0, len));
                Ok(handle as i64)
            }
            None => Err(state.budget.oom_error_trap()),
        }
    })?;
    linker.func_wrap(m, "var_get", |mut c: Ctx, k: i64| -> Result<i64, Trap> {
        let key_len = c.data().memory.length(k as u64);
        charge(&mut c, cost(IMPORT_FUEL + 2 * BLOCK_FUEL, key_len));
        let state = c.data_mut();
        let key = block_str(state, k, "var name")?;
        state.memory.free(k as u64);
        let Some(value) = state.vars.values.get(&key) else {
            return Ok(0);
        };
        if value.is_empty() {
            return Ok(0);
        }
        let len = value.len() as u64;
        match state.memory.alloc_bytes(value) {
            Some(handle) => {
                charge(&mut c, cost(0, len));
                Ok(handle as i64)
            }
            None => Err(state.budget.oom_error_trap()),
        }
    })?;
    linker.func_wrap(
        m,
        "var_set",
        |mut c: Ctx, k: i64, v: i64| -> Result<(), Trap> {
            let copied = {
                let memory = &c.data().memory;
                memory.length(k as u64) + memory.length(v as u64)
            };
            // Reading key and value, the map update, two frees.
            charge(&mut c, cost(IMPORT_FUEL + 2 * BLOCK_FUEL, copied));
            let state = c.data_mut();
            let key = block_str(state, k, "var name")?;
            let result = if v == 0 {
                state.vars.set(&key, None)
            } else {
                let value = state.memory.block(v as u64).map_err(trap)?;
                state.vars.set(&key, Some(value))
            };
            state.memory.free(k as u64);
            state.memory.free(v as u64);
            result.map_err(|e| to_engine(&e, ErrorKind::Host))
        },
    )?;
    linker.func_wrap(
        m,
        "http_request",
        |mut c: Ctx, req: i64, body: i64| -> Result<i64, Trap> {
            let sent = {
                let memory = &c.data().memory;
                memory.length(req as u64) + memory.length(body as u64)
            };
            charge(&mut c, cost(IMPORT_FUEL + 3 * BLOCK_FUEL, sent));
            let response = crate::http::request(c.data_mut(), req as u64, body as u64)
                .map_err(|e| to_engine(&e, ErrorKind::Host))?;
            let len = c.data().memory.length(response as u64);
            charge(&mut c, cost(0, len));
            Ok(response)
        },
    )?;
    linker.func_wrap(m, "http_status_code", |c: Ctx| -> i32 {
        c.data().http.status
    })?;
    linker.func_wrap(m, "http_headers", |mut c: Ctx| -> Result<i64, Trap> {
        let headers_len = c.data().http.headers.as_ref().map_or(0, |h| h.len() as u64);
        charge(&mut c, cost(IMPORT_FUEL + BLOCK_FUEL, headers_len));
        let state = c.data_mut();
        if !state.http.allow_response_headers {
            return Ok(0);
        }
        let Some(headers) = state.http.headers.clone() else {
            return Ok(0);
        };
        match state.memory.alloc_bytes(headers.as_bytes()) {
            Some(handle) => Ok(handle as i64),
            None => Err(state.budget.oom_error_trap()),
        }
    })?;
    for (name, level) in [
        ("log_trace", log::Level::Trace),
        ("log_debug", log::Level::Debug),
        ("log_info", log::Level::Info),
        ("log_warn", log::Level::Warn),
        ("log_error", log::Level::Error),
    ] {
        linker.func_wrap(m, name, move |mut c: Ctx, h: i64| -> Result<(), Trap> {
            let len = c.data().memory.length(h as u64);
            charge(&mut c, cost(IMPORT_FUEL + BLOCK_FUEL, len));
            let state = c.data_mut();
            let bytes = state.memory.block(h as u64).map_err(trap)?;
            if level <= log::max_level() {
                let message = String::from_utf8_lossy(bytes);
                log::log!(target: "extism", level, "{} {}", state.id, message);
            }
            state.memory.free(h as u64);
            Ok(())
        })?;
    }
    linker.func_wrap(m, "get_log_level", |_c: Ctx| -> i32 { log_level_number() })?;
    linker.func_wrap(m, "memory_bytes", |c: Ctx| -> i64 {
        c.data().memory.reserved_bytes() as i64
    })?;
    linker.func_wrap(m, "reset", |mut c: Ctx| {
        let records = c.data().memory.records() as u64;
        charge(
            &mut c,
            IMPORT_FUEL.saturating_add(records.saturating_mul(RECORD_FUEL)),
        );
        c.data_mut().reset_memory();
    })?;
    Ok(())
}

/// The Extism memory address of `len` input bytes at `index`, or a trap when they run
/// past the end of the input.
#[inline]
pub(crate) fn input_address(state: &CurrentPlugin, index: i64, len: u64) -> Result<u64, Trap> {
    let input = state.input;
    match (index as u64).checked_add(len) {
        Some(end) if end <= input.length => Ok(input.offset + index as u64),
        _ => Err(input_bounds(index, len, input.length)),
    }
}

/// The error for an input read past its end.
#[cold]
fn input_bounds(index: i64, len: u64, input_len: u64) -> Trap {
    error_trap(ErrorKind::Trap, format!(
        "out-of-bounds read of the input: {len} byte(s) at index {}, but the input has {input_len} bytes",
        index as u64
    ))
}

/// The host's log level as `get_log_level` reports it.
pub(crate) fn log_level_number() -> i32 {
    match log::max_level() {
        log::LevelFilter::Off => i32::MAX,
        log::LevelFilter::Error => 4,
        log::LevelFilter::Warn => 3,
        log::LevelFilter::Info => 2,
        log::LevelFilter::Debug => 1,
        log::LevelFilter::Trace => 0,
    }
}

impl crate::limits::Budget {
    /// The out-of-memory error as a trap, noting that the budget was hit.
    fn oom_error_trap(&mut self) -> Trap {
        self.refuse(None);
        to_engine(&self.oom_error(), ErrorKind::OutOfMemory)
    }
}
