//! What host functions can do with the running plug-in: the
//! `extism_current_plugin_*` functions.
//!
//! The Extism memory is one host buffer; a block's handle is its offset in it, so
//! `extism_current_plugin_memory(p) + handle` is the block's first byte. The
//! buffer can move when it grows: read the base pointer again after
//! `extism_current_plugin_memory_alloc`.

use std::ffi::c_void;

use interplug_core::CurrentPlugin;

use crate::ffi::guard;
use crate::plugin::HostContext;
use crate::types::{ExtismCurrentPlugin, ExtismMemoryHandle, ExtismSize};

/// The core state behind an `ExtismCurrentPlugin*`, or `None` (logged) for NULL.
///
/// # Safety
/// `plugin` must be NULL or the pointer given to the running host function.
unsafe fn current<'a>(
    plugin: *mut ExtismCurrentPlugin,
    what: &str,
) -> Option<&'a mut CurrentPlugin> {
    // SAFETY: the pointer handed to host functions is a `&mut CurrentPlugin` that
    // nothing else uses while the host function runs (function.rs), per the caller.
    let current = unsafe { plugin.cast::<CurrentPlugin>().as_mut() };
    if current.is_none() {
        log::error!(target: "interplug", "{what}: the current plug-in is NULL");
    }
    current
}

/// The base of the Extism memory: `base + handle` is a block's first byte. NULL
/// when `plugin` is NULL. Valid until the next allocation.
///
/// # Safety
/// `plugin` must be NULL or the pointer given to the running host function.
#[no_mangle]
pub unsafe extern "C" fn extism_current_plugin_memory(plugin: *mut ExtismCurrentPlugin) -> *mut u8 {
    guard("extism_current_plugin_memory", std::ptr::null_mut(), || {
        // SAFETY: per this function's contract.
        unsafe { current(plugin, "extism_current_plugin_memory") }
            .map_or(std::ptr::null_mut(), |p| {
                p.memory_mut().as_mut_slice().as_mut_ptr()
            })
    })
}

/// Allocates a block of `n` bytes; returns its handle, or 0 when `n` is 0 or the
/// plug-in's memory budget is exhausted.
///
/// # Safety
/// `plugin` must be NULL or the pointer given to the running host function.
#[no_mangle]
pub unsafe extern "C" fn extism_current_plugin_memory_alloc(
    plugin: *mut ExtismCurrentPlugin,
    n: ExtismSize,
) -> ExtismMemoryHandle {
    guard("extism_current_plugin_memory_alloc", 0, || {
        // SAFETY: per this function's contract.
        let Some(p) = (unsafe { current(plugin, "extism_current_plugin_memory_alloc") }) else {
            return 0;
        };
        match p.memory_alloc(n) {
            Ok(handle) => handle.offset,
            Err(e) => {
                log::debug!(target: "interplug", "extism_current_plugin_memory_alloc({n}): {e:#}");
                0
            }
        }
    })
}

/// The length of the block `handle`, or 0 when it is not a live block.
///
/// # Safety
/// `plugin` must be NULL or the pointer given to the running host function.
#[no_mangle]
pub unsafe extern "C" fn extism_current_plugin_memory_length(
    plugin: *mut ExtismCurrentPlugin,
    handle: ExtismMemoryHandle,
) -> ExtismSize {
    guard("extism_current_plugin_memory_length", 0, || {
        // SAFETY: per this function's contract.
        unsafe { current(plugin, "extism_current_plugin_memory_length") }
            .and_then(|p| p.memory_length(handle).ok())
            .unwrap_or(0)
    })
}

/// Frees the block `handle` (not a live block: no-op).
///
/// # Safety
/// `plugin` must be NULL or the pointer given to the running host function.
#[no_mangle]
pub unsafe extern "C" fn extism_current_plugin_memory_free(
    plugin: *mut ExtismCurrentPlugin,
    handle: ExtismMemoryHandle,
) {
    guard("extism_current_plugin_memory_free", (), || {
        // SAFETY: per this function's contract.
        if let Some(p) = unsafe { current(plugin, "extism_current_plugin_memory_free") } {
            if let Some(block) = p.memory_handle(handle) {
                let _ = p.memory_free(block);
            }
        }
    })
}

/// The `host_context` of `extism_plugin_call_with_host_context`, or NULL (plain
/// `extism_plugin_call`, or NULL `plugin`).
///
/// # Safety
/// `plugin` must be NULL or the pointer given to the running host function.
#[no_mangle]
pub unsafe extern "C" fn extism_current_plugin_host_context(
    plugin: *mut ExtismCurrentPlugin,
) -> *mut c_void {
    guard(
        "extism_current_plugin_host_context",
        std::ptr::null_mut(),
        || {
            // SAFETY: per this function's contract.
            unsafe { current(plugin, "extism_current_plugin_host_context") }
                .and_then(|p| p.host_context::<HostContext>().ok().map(|c| c.0))
                .unwrap_or(std::ptr::null_mut())
        },
    )
}
