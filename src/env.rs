//! The `extism:host/env` imports, bound onto a wasmi [`Linker`].
//!
//! Each import is a typed host function that bounds-checks its arguments against
//! the Extism memory and turns a bad handle into a trap with a message.

use crate::{current_plugin::CurrentPlugin, memory::MemoryError};
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

/// A memory error as a trap.
fn trap(error: MemoryError) -> Trap {
    Trap::new(format!("{error}"))
}

/// The bytes of the block at `handle` as text; traps on a bad handle or bad UTF-8.
fn block_str(state: &CurrentPlugin, handle: i64, what: &str) -> Result<String, Trap> {
    let bytes = state.memory.block(handle as u64).map_err(trap)?;
    core::str::from_utf8(bytes)
        .map(String::from)
        .map_err(|e| Trap::new(format!("the {what} is not valid UTF-8: {e}")))
}

/// Bytes of host work (zeroing, copying) that cost one unit of fuel.
const BYTES_PER_FUEL: u64 = 64;

/// Charges the fuel for `bytes` of host work done in an import, so that imports that
/// copy or zero memory count against the fuel limit and end the current fuel slice
/// (where timeout and cancel are checked) like wasm instructions do. No-op when fuel
/// metering is off.
fn charge(c: &mut Ctx, bytes: u64) {
    if let Ok(fuel) = c.get_fuel() {
        let _ = c.set_fuel(fuel.saturating_sub(bytes / BYTES_PER_FUEL));
    }
}

/// Defines every `extism:host/env` function on `linker`.
pub(crate) fn add_to_linker(linker: &mut Linker<CurrentPlugin>) -> Result<(), wasmi::Error> {
    let m = ENV_MODULE;
    linker.func_wrap(m, "alloc", |mut c: Ctx, n: i64| -> i64 {
        let state = c.data_mut();
        match state.memory.alloc(n as u64) {
            Some(handle) => {
                charge(&mut c, n as u64);
                handle as i64
            }
            None => {
                if n > 0 && state.budget.total.is_some() {
                    state.budget.oom = true;
                }
                0
            }
        }
    })?;
    linker.func_wrap(m, "free", |mut c: Ctx, h: i64| {
        c.data_mut().memory.free(h as u64);
    })?;
    linker.func_wrap(m, "length", |c: Ctx, h: i64| -> i64 {
        c.data().memory.length(h as u64) as i64
    })?;
    linker.func_wrap(m, "length_unsafe", |c: Ctx, h: i64| -> i64 {
        c.data().memory.length(h as u64) as i64
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
        let state = c.data_mut();
        if h != 0 && state.memory.length(h as u64) == 0 {
            return Err(trap(MemoryError::NotABlock { handle: h as u64 }));
        }
        state.error = h as u64;
        Ok(())
    })?;
    linker.func_wrap(m, "error_get", |c: Ctx| -> i64 { c.data().error as i64 })?;
    linker.func_wrap(m, "config_get", |mut c: Ctx, k: i64| -> Result<i64, Trap> {
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
                charge(&mut c, len);
                Ok(handle as i64)
            }
            None => Err(state.budget.oom_error_trap()),
        }
    })?;
    linker.func_wrap(m, "var_get", |mut c: Ctx, k: i64| -> Result<i64, Trap> {
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
                charge(&mut c, len);
                Ok(handle as i64)
            }
            None => Err(state.budget.oom_error_trap()),
        }
    })?;
    linker.func_wrap(
        m,
        "var_set",
        |mut c: Ctx, k: i64, v: i64| -> Result<(), Trap> {
            let state = c.data_mut();
            let key = block_str(state, k, "var name")?;
            let copied = state.memory.length(v as u64);
            let result = if v == 0 {
                state.vars.set(&key, None)
            } else {
                let value = state.memory.block(v as u64).map_err(trap)?;
                state.vars.set(&key, Some(value))
            };
            state.memory.free(k as u64);
            state.memory.free(v as u64);
            charge(&mut c, copied);
            result.map_err(Trap::new)
        },
    )?;
    linker.func_wrap(
        m,
        "http_request",
        |mut c: Ctx, req: i64, body: i64| -> Result<i64, Trap> {
            // h2 (issue 12): the error keeps its kind (Cancelled, Timeout...) through the trap.
            let response = crate::http::request(c.data_mut(), req as u64, body as u64)
                .map_err(|e| crate::error::trap(&e))?;
            let len = c.data().memory.length(response as u64);
            charge(&mut c, len);
            Ok(response)
        },
    )?;
    linker.func_wrap(m, "http_status_code", |c: Ctx| -> i32 {
        c.data().http.status
    })?;
    linker.func_wrap(m, "http_headers", |mut c: Ctx| -> Result<i64, Trap> {
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
            let state = c.data_mut();
            let bytes = state.memory.block(h as u64).map_err(trap)?;
            let len = bytes.len() as u64;
            if level <= log::max_level() {
                let message = String::from_utf8_lossy(bytes);
                log::log!(target: "extism", level, "{} {}", state.id, message);
            }
            state.memory.free(h as u64);
            charge(&mut c, len);
            Ok(())
        })?;
    }
    linker.func_wrap(m, "get_log_level", |_c: Ctx| -> i32 { log_level_number() })?;
    linker.func_wrap(m, "memory_bytes", |c: Ctx| -> i64 {
        c.data().memory.reserved_bytes() as i64
    })?;
    linker.func_wrap(m, "reset", |mut c: Ctx| {
        c.data_mut().reset_memory();
    })?;
    Ok(())
}

/// The Extism memory address of `len` input bytes at `index`, or a trap when they run
/// past the end of the input.
#[inline]
fn input_address(state: &CurrentPlugin, index: i64, len: u64) -> Result<u64, Trap> {
    let input = state.input;
    match (index as u64).checked_add(len) {
        Some(end) if end <= input.length => Ok(input.offset + index as u64),
        _ => Err(input_bounds(index, len, input.length)),
    }
}

/// The error for an input read past its end.
#[cold]
fn input_bounds(index: i64, len: u64, input_len: u64) -> Trap {
    Trap::new(format!(
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
        self.oom = true;
        Trap::new(format!("{}", self.oom_error()))
    }
}
