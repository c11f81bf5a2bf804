//! The `extism:host/env` functions that read the plug-in's config and read and write
//! its vars: `config_get`, `var_get`, `var_set`. Keys are UTF-8 text; vars stay within
//! `memory.max_var_bytes` and the cap on entries.

use crate::{
    error::{to_engine, trap as error_trap, ErrorKind},
    host::current_plugin::{
        charge, cost, memory_trap as trap, oom_trap, CurrentPlugin, BLOCK_FUEL, IMPORT_FUEL,
    },
    kernel::abi::ENV_MODULE,
};
use alloc::{format, string::String};
use wasmi::{Caller, Linker};

type Ctx<'a> = Caller<'a, CurrentPlugin>;
type Trap = wasmi::Error;

/// Defines these `extism:host/env` functions on `linker`.
pub(crate) fn add_to_linker(linker: &mut Linker<CurrentPlugin>) -> Result<(), wasmi::Error> {
    let m = ENV_MODULE;
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
            None => Err(oom_trap(&mut state.budget)),
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
            None => Err(oom_trap(&mut state.budget)),
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
            // Over a cap on vars: `LimitExceeded`, as `set` says.
            result.map_err(|e| to_engine(&e, ErrorKind::LimitExceeded))
        },
    )?;
    Ok(())
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
