//! The `extism:host/env` logging functions: `log_trace` ... `log_error` write the
//! block's text to the `log` facade (target `extism`, with the plug-in's id), and
//! `get_log_level` tells the plug-in which levels the host keeps.

use crate::{
    host::current_plugin::{
        charge, cost, memory_trap as trap, CurrentPlugin, BLOCK_FUEL, IMPORT_FUEL,
    },
    kernel::abi::ENV_MODULE,
};
use alloc::string::String;
use wasmi::{Caller, Linker};

type Ctx<'a> = Caller<'a, CurrentPlugin>;
type Trap = wasmi::Error;

/// Defines these `extism:host/env` functions on `linker`.
pub(crate) fn add_to_linker(linker: &mut Linker<CurrentPlugin>) -> Result<(), wasmi::Error> {
    let m = ENV_MODULE;
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
    Ok(())
}

/// The host's log level as `get_log_level` reports it.
fn log_level_number() -> i32 {
    match log::max_level() {
        log::LevelFilter::Off => i32::MAX,
        log::LevelFilter::Error => 4,
        log::LevelFilter::Warn => 3,
        log::LevelFilter::Info => 2,
        log::LevelFilter::Debug => 1,
        log::LevelFilter::Trace => 0,
    }
}
