//! `ExtismCompiledPlugin`: compile once, instantiate many plug-ins.

use std::ffi::c_char;

use interplug_core::sdk::ExtismFunction;
use interplug_core::{CompiledPlugin, Error, Plugin, PluginBuilder};

use crate::create::{finish, Creation};
use crate::ffi::guard;
use crate::plugin::ExtismPlugin;
use crate::types::ExtismSize;

/// `ExtismCompiledPlugin`: modules compiled with their host functions and
/// settings, ready to be instantiated.
pub struct ExtismCompiledPlugin {
    compiled: CompiledPlugin,
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
    let args = Creation {
        wasm,
        wasm_size,
        functions,
        n_functions,
        with_wasi,
        fuel_limit: None,
    };
    // SAFETY: per this function's contract.
    unsafe { args.run("extism_compiled_plugin_new", errmsg, compile) }
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
    let args = Creation {
        wasm,
        wasm_size,
        functions,
        n_functions,
        with_wasi,
        fuel_limit: Some(fuel_limit),
    };
    // SAFETY: per this function's contract.
    unsafe {
        args.run(
            "extism_compiled_plugin_new_with_fuel_limit",
            errmsg,
            compile,
        )
    }
}

/// Compiles what a creation function's arguments describe.
fn compile(builder: PluginBuilder<'_>) -> Result<ExtismCompiledPlugin, Error> {
    builder
        .compile()
        .map(|compiled| ExtismCompiledPlugin { compiled })
}

/// Frees a compiled plug-in. Plug-ins made from it keep working. NULL is a no-op.
///
/// # Safety
/// `plugin` must be NULL or a compiled plug-in not freed before.
#[no_mangle]
pub unsafe extern "C" fn extism_compiled_plugin_free(plugin: *mut ExtismCompiledPlugin) {
    guard("extism_compiled_plugin_free", (), || {
        if !plugin.is_null() {
            // SAFETY: from Box::into_raw in `create::finish`; freed once per the
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
                Some(c) => Plugin::new_from_compiled(&c.compiled)
                    .map(ExtismPlugin::new)
                    .map_err(|e| format!("{e:#}")),
                None => Err("the compiled plug-in is NULL".to_string()),
            };
            // SAFETY: per this function's contract.
            unsafe { finish(result, errmsg) }
        },
    )
}
