//! The `extism:host/env` functions that read and set a call's registers: the input
//! (`input_length`, `input_offset`, `input_load_*`, `input_set`), the output
//! (`output_set`, `output_length`, `output_offset`) and the error (`error_set`,
//! `error_get`).

use crate::{
    host::current_plugin::{
        charge, input_address, memory_trap as trap, CurrentPlugin, IMPORT_FUEL,
    },
    kernel::{abi::ENV_MODULE, handle::MemoryHandle, memory::MemoryError},
};
use wasmi::{Caller, Linker};

type Ctx<'a> = Caller<'a, CurrentPlugin>;
type Trap = wasmi::Error;

/// Defines these `extism:host/env` functions on `linker`.
pub(crate) fn add_to_linker(linker: &mut Linker<CurrentPlugin>) -> Result<(), wasmi::Error> {
    let m = ENV_MODULE;
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
            state.input = MemoryHandle {
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
            state.output = MemoryHandle {
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
    Ok(())
}
