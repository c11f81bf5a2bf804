//! `ExtismCompiledPlugin`: compile once, instantiate many plug-ins.

use std::ffi::c_char;

use interplug_core::sdk::ExtismFunction;
use interplug_core::CompiledPlugin;

use crate::ffi::{guard, set_errmsg};
use crate::plugin::{builder, finish, from_compiled, ExtismPlugin, CREATE_ERROR_PREFIX};
use crate::types::ExtismSize;

/// `ExtismCompiledPlugin`: modules compiled with their host functions and
/// settings, ready to be instantiated.
pub struct ExtismCompiledPlugin {
    compiled: CompiledPlugin,
}

/// Shared body of the two `extism_compiled_plugin_new*` functions.
///
/// # Safety
/// As for `extism_compiled_plugin_new`.
unsafe fn compiled_new(
    wasm: *const u8,
    wasm_size: ExtismSize,
    functions: *const *const ExtismFunction,
    n_functions: ExtismSize,
    with_wasi: bool,
    fuel_limit: Option<u64>,
    errmsg: *mut *mut c_char,
) -> *mut ExtismCompiledPlugin {
    // SAFETY: per the caller.
    let result = unsafe {
        builder(
            wasm,
            wasm_size,
            functions,
            n_functions,
            with_wasi,
            fuel_limit,
        )
    }
    .and_then(|b| b.compile().map_err(|e| format!("{e:#}")));
    match result {
        Ok(compiled) => Box::into_raw(Box::new(ExtismCompiledPlugin { compiled })),
        Err(message) => {
            // SAFETY: per the caller.
            unsafe { set_errmsg(errmsg, &format!("{CREATE_ERROR_PREFIX}{message}")) };
            std::ptr::null_mut()
        }
    }
}

/// Compiles wasm, WAT or manifest bytes with host functions (and WASI when
/// `with_wasi`). NULL on failure, with a message in `errmsg` as for
/// `extism_plugin_new`. The function objects stay the caller's.
///
/// # Safety
/// As for `extism_plugin_new`.
#[no_mangle]
pub unsafe extern "C" fn extism_compiled_plugin_new(
    wasm: *const u8,
    wasm_size: ExtismSize,
    functions: *const *const ExtismFunction,
    n_functions: ExtismSize,
    with_wasi: bool,
    errmsg: *mut *mut c_char,
) -> *mut ExtismCompiledPlugin {
    guard("extism_compiled_plugin_new", std::ptr::null_mut(), || {
        // SAFETY: per this function's contract.
        unsafe {
            compiled_new(
                wasm,
                wasm_size,
                functions,
                n_functions,
                with_wasi,
                None,
                errmsg,
            )
        }
    })
}

/// Like `extism_compiled_plugin_new`; every plug-in made from it has a per-call
/// fuel limit.
///
/// # Safety
/// As for `extism_plugin_new`.
#[no_mangle]
pub unsafe extern "C" fn extism_compiled_plugin_new_with_fuel_limit(
    wasm: *const u8,
    wasm_size: ExtismSize,
    functions: *const *const ExtismFunction,
    n_functions: ExtismSize,
    with_wasi: bool,
    fuel_limit: u64,
    errmsg: *mut *mut c_char,
) -> *mut ExtismCompiledPlugin {
    guard(
        "extism_compiled_plugin_new_with_fuel_limit",
        std::ptr::null_mut(),
        || {
            // SAFETY: per this function's contract.
            unsafe {
                compiled_new(
                    wasm,
                    wasm_size,
                    functions,
                    n_functions,
                    with_wasi,
                    Some(fuel_limit),
                    errmsg,
                )
            }
        },
    )
}

/// Frees a compiled plug-in. Plug-ins made from it keep working. NULL is a no-op.
///
/// # Safety
/// `plugin` must be NULL or a compiled plug-in not freed before.
#[no_mangle]
pub unsafe extern "C" fn extism_compiled_plugin_free(plugin: *mut ExtismCompiledPlugin) {
    guard("extism_compiled_plugin_free", (), || {
        if !plugin.is_null() {
            // SAFETY: from Box::into_raw in `compiled_new`; freed once per the
            // contract.
            drop(unsafe { Box::from_raw(plugin) });
        }
    })
}

/// Instantiates a compiled plug-in. NULL on failure, with a message in `errmsg`
/// as for `extism_plugin_new`.
///
/// # Safety
/// `compiled` must be NULL or a live compiled plug-in; `errmsg` NULL or writable.
#[no_mangle]
pub unsafe extern "C" fn extism_plugin_new_from_compiled(
    compiled: *const ExtismCompiledPlugin,
    errmsg: *mut *mut c_char,
) -> *mut ExtismPlugin {
    guard(
        "extism_plugin_new_from_compiled",
        std::ptr::null_mut(),
        || {
            // SAFETY: NULL or live per the contract; only read.
            let result = match unsafe { compiled.as_ref() } {
                Some(c) => from_compiled(&c.compiled),
                None => Err("the compiled plug-in is NULL".to_string()),
            };
            // SAFETY: per this function's contract.
            unsafe { finish(result, errmsg) }
        },
    )
}
