//! The `extism:host/env` functions that manage and access the Extism memory:
//! `alloc`, `free`, `length`, `length_unsafe`, the `load_*`/`store_*` accessors,
//! `memory_bytes` and `reset`. Every access is bounds-checked; a bad address or handle
//! is a trap with a message.

use crate::{
    host::current_plugin::{
        charge, cost, memory_trap as trap, CurrentPlugin, BLOCK_FUEL, IMPORT_FUEL,
    },
    kernel::abi::ENV_MODULE,
};
use wasmi::{Caller, Linker};

/// Fuel per block record that `reset` drops.
const RECORD_FUEL: u64 = 4;

type Ctx<'a> = Caller<'a, CurrentPlugin>;
type Trap = wasmi::Error;

/// Defines these `extism:host/env` functions on `linker`.
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
