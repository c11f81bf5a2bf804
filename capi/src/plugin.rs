//! `ExtismPlugin`: creating plug-ins, calling them, reading output and errors,
//! config, reset, id, cancel.
//!
//! A plug-in's state sits behind a mutex, so calls made on one plug-in from
//! several threads are serialised instead of racing. A thread that re-enters a
//! plug-in it is already calling (a host function calling its own plug-in) gets
//! an error value instead of a deadlock. The cancel handle lives outside the
//! mutex: it works while a call runs.

use std::cell::RefCell;
use std::ffi::{c_char, c_void, CString};
use std::sync::{Mutex, MutexGuard, PoisonError};

use interplug_core::sdk::ExtismFunction;
use interplug_core::{CancelHandle, Error, ErrorExt, ErrorKind, Plugin, PluginBuilder};

use crate::create::Creation;
use crate::ffi::{bytes, c_string, guard, str_arg};
use crate::types::{ExtismSize, EXTISM_SUCCESS};

/// `ExtismCancelHandle`: stops a plug-in's running call from another thread.
pub struct ExtismCancelHandle {
    handle: CancelHandle,
}

/// `ExtismPlugin`: a plug-in instance.
pub struct ExtismPlugin {
    inner: Mutex<Inner>,
    cancel: ExtismCancelHandle,
    id: [u8; 16],
}

/// The mutable part of a plug-in.
struct Inner {
    plugin: Plugin,
    /// The error of the last call (or failed operation), NUL-terminated for C.
    error: Option<CString>,
}

/// The `void*` given to `extism_plugin_call_with_host_context`, as the core's host
/// context value.
pub(crate) struct HostContext(pub(crate) *mut c_void);

// SAFETY: the pointer is only stored for the duration of one call and handed back
// to the host's own host functions, which run on the calling thread; it is never
// dereferenced here.
unsafe impl Send for HostContext {}
// SAFETY: as for `Send`: never dereferenced, only returned.
unsafe impl Sync for HostContext {}

thread_local! {
    /// Addresses of the plug-ins this thread holds the lock of, to refuse
    /// re-entrant use (which would deadlock) with an error.
    static HELD: RefCell<Vec<usize>> = const { RefCell::new(Vec::new()) };
}

/// The locked state of a plug-in; unlocks and forgets the re-entrancy mark on drop.
struct Locked<'a> {
    guard: MutexGuard<'a, Inner>,
    address: usize,
}

impl Drop for Locked<'_> {
    fn drop(&mut self) {
        let _ = HELD.try_with(|held| {
            let mut held = held.borrow_mut();
            if let Some(i) = held.iter().rposition(|&a| a == self.address) {
                held.remove(i);
            }
        });
    }
}

impl std::ops::Deref for Locked<'_> {
    type Target = Inner;
    fn deref(&self) -> &Inner {
        &self.guard
    }
}

impl std::ops::DerefMut for Locked<'_> {
    fn deref_mut(&mut self) -> &mut Inner {
        &mut self.guard
    }
}

impl ExtismPlugin {
    /// Wraps a core plug-in.
    pub(crate) fn new(plugin: Plugin) -> ExtismPlugin {
        ExtismPlugin {
            cancel: ExtismCancelHandle {
                handle: plugin.cancel_handle(),
            },
            id: *plugin.id.as_bytes(),
            inner: Mutex::new(Inner {
                plugin,
                error: None,
            }),
        }
    }

    /// True when this thread is inside a call of this plug-in.
    fn held_by_this_thread(&self) -> bool {
        let address = self as *const ExtismPlugin as usize;
        HELD.try_with(|held| held.borrow().contains(&address))
            .unwrap_or(false)
    }

    /// Locks the plug-in, or logs and returns `None` when this thread already
    /// holds it (re-entrant use from one of its own host functions).
    fn lock(&self, what: &str) -> Option<Locked<'_>> {
        if self.held_by_this_thread() {
            log::error!(
                target: "interplug",
                "{what}: the plug-in is busy running a call on this thread (a host \
                 function cannot use its own plug-in); returning an error value"
            );
            return None;
        }
        let guard = self.inner.lock().unwrap_or_else(PoisonError::into_inner);
        let address = self as *const ExtismPlugin as usize;
        let _ = HELD.try_with(|held| held.borrow_mut().push(address));
        Some(Locked { guard, address })
    }

    /// Runs `name` and records the outcome; returns the C API's return code.
    ///
    /// # Safety
    /// `name` must be NULL or NUL-terminated; `data` NULL or valid for `len` bytes.
    unsafe fn call(
        &self,
        name: *const c_char,
        data: *const u8,
        len: ExtismSize,
        ctx: Option<*mut c_void>,
    ) -> i32 {
        let Some(mut inner) = self.lock("extism_plugin_call") else {
            return -1;
        };
        // The name or input may be the previous error (`extism_plugin_error`): keep
        // its buffer alive until this call ends, then drop it.
        let _previous_error = inner.error.take();
        // SAFETY: per this function's contract.
        let name = unsafe { str_arg(name, "the function name") }.map(String::from);
        // SAFETY: per this function's contract.
        let input = unsafe { bytes(data, len, "the input") };
        let (name, input) = match (name, input) {
            // The name is copied: it may be the previous output, which the reset
            // below frees.
            (Ok(name), Ok(input)) => (name, input),
            (Err(message), _) | (_, Err(message)) => {
                inner.error = Some(c_string(&message));
                return -1;
            }
        };
        // The input may be the previous output (chaining calls), which lives in
        // the memory the call is about to reset: copy it out first. Until then the
        // memory is only read.
        let arena = inner
            .plugin
            .current_plugin()
            .memory()
            .as_slice()
            .as_ptr_range();
        let copied;
        let input =
            if input.as_ptr_range().start < arena.end && arena.start < input.as_ptr_range().end {
                copied = input.to_vec();
                &copied[..]
            } else {
                input
            };
        // The previous output goes now, so a call that fails before the plug-in
        // runs (an unknown function) has empty output, as with libextism.
        let _ = inner.plugin.reset();
        let result = match ctx {
            None => inner
                .plugin
                .call_get_error_code::<&[u8], &[u8]>(&name, input)
                .map(|_| ()),
            Some(ctx) => inner
                .plugin
                .call_with_host_context_get_error_code::<&[u8], &[u8], _>(
                    &name,
                    input,
                    HostContext(ctx),
                )
                .map(|_| ()),
        };
        match result {
            Ok(()) => EXTISM_SUCCESS,
            Err((error, rc)) => {
                let rc = if rc == 0 { -1 } else { rc };
                let message = format!("{error:#}");
                // A non-zero return without a message: libextism reports no error
                // text, only the code.
                let silent = matches!(error.kind(), ErrorKind::Plugin { .. })
                    && inner.plugin.current_plugin().error_message().is_none();
                inner.error = (!silent).then(|| c_string(&message));
                rc
            }
        }
    }
}

/// Creates a plug-in from wasm, WAT or manifest (JSON or TOML) bytes, with
/// `n_functions` host functions and WASI when `with_wasi`. On failure returns NULL
/// and, when `errmsg` is not NULL, stores a message to release with
/// `extism_plugin_new_error_free`. The function objects stay the caller's.
///
/// # Safety
/// `wasm` must be valid for `wasm_size` bytes; `functions` NULL or valid for
/// `n_functions` pointers to live function objects (or NULL); `errmsg` NULL or
/// writable.
#[no_mangle]
pub unsafe extern "C" fn extism_plugin_new(
    wasm: *const u8,
    wasm_size: ExtismSize,
    functions: *const *const ExtismFunction,
    n_functions: ExtismSize,
    with_wasi: bool,
    errmsg: *mut *mut c_char,
) -> *mut ExtismPlugin {
    let args = Creation {
        wasm,
        wasm_size,
        functions,
        n_functions,
        with_wasi,
        fuel_limit: None,
    };
    // SAFETY: per this function's contract.
    unsafe { args.run("extism_plugin_new", errmsg, build) }
}

/// Like `extism_plugin_new`, and every call may use at most `fuel_limit` units of
/// fuel (about one per wasm instruction); a call that needs more fails.
///
/// # Safety
/// As for `extism_plugin_new`.
#[no_mangle]
pub unsafe extern "C" fn extism_plugin_new_with_fuel_limit(
    wasm: *const u8,
    wasm_size: ExtismSize,
    functions: *const *const ExtismFunction,
    n_functions: ExtismSize,
    with_wasi: bool,
    fuel_limit: u64,
    errmsg: *mut *mut c_char,
) -> *mut ExtismPlugin {
    let args = Creation {
        wasm,
        wasm_size,
        functions,
        n_functions,
        with_wasi,
        fuel_limit: Some(fuel_limit),
    };
    // SAFETY: per this function's contract.
    unsafe { args.run("extism_plugin_new_with_fuel_limit", errmsg, build) }
}

/// Builds the plug-in a creation function's arguments describe.
fn build(builder: PluginBuilder<'_>) -> Result<ExtismPlugin, Error> {
    builder.build().map(ExtismPlugin::new)
}

/// Releases a message stored in `errmsg` by a creation function. NULL is a no-op.
///
/// # Safety
/// `err` must be NULL or a message from a creation function, not freed before.
#[no_mangle]
pub unsafe extern "C" fn extism_plugin_new_error_free(err: *mut c_char) {
    guard("extism_plugin_new_error_free", (), || {
        if !err.is_null() {
            // SAFETY: creation messages come from malloc (ffi::malloc_string).
            unsafe { libc::free(err.cast()) };
        }
    })
}

/// Frees a plug-in. NULL is a no-op. Waits for a call running on another thread.
///
/// # Safety
/// `plugin` must be NULL or a live plug-in, not used afterwards (its cancel handle
/// included).
#[no_mangle]
pub unsafe extern "C" fn extism_plugin_free(plugin: *mut ExtismPlugin) {
    guard("extism_plugin_free", (), || {
        // SAFETY: NULL or a live plug-in per the contract.
        let Some(shared) = (unsafe { plugin.as_ref() }) else {
            return;
        };
        if shared.held_by_this_thread() {
            log::error!(
                target: "interplug",
                "extism_plugin_free: the plug-in is running a call on this thread (freed \
                 from its own host function); not freed"
            );
            return;
        }
        // Wait for a call on another thread to end before the memory goes.
        let inner = shared.inner.lock().unwrap_or_else(PoisonError::into_inner);
        log::trace!(
            target: "extism::sdk",
            "called extism_plugin_free plugin=\"{}\"",
            inner.plugin.id
        );
        drop(inner);
        // SAFETY: from Box::into_raw in `create::finish`; freed once per the contract.
        drop(unsafe { Box::from_raw(plugin) });
    })
}

/// Borrows a plug-in argument.
///
/// # Safety
/// `plugin` must be NULL or a live plug-in.
unsafe fn plugin_ref<'a>(plugin: *const ExtismPlugin, what: &str) -> Option<&'a ExtismPlugin> {
    // SAFETY: per the caller; only shared references are ever made.
    let plugin = unsafe { plugin.as_ref() };
    if plugin.is_none() {
        log::error!(target: "interplug", "{what}: the plug-in is NULL");
    }
    plugin
}

/// Calls the plug-in function `func_name` with `data_len` bytes of input. Returns
/// 0 on success; otherwise the plug-in's own return code when it returned a
/// non-zero one, else -1 (traps, cancel, timeouts, unknown functions...), and
/// `extism_plugin_error` gives the message (NULL when the plug-in returned a code
/// without setting one).
///
/// # Safety
/// `plugin` must be NULL or a live plug-in; `func_name` NULL or NUL-terminated;
/// `data` NULL or valid for `data_len` bytes.
#[no_mangle]
pub unsafe extern "C" fn extism_plugin_call(
    plugin: *mut ExtismPlugin,
    func_name: *const c_char,
    data: *const u8,
    data_len: ExtismSize,
) -> i32 {
    guard("extism_plugin_call", -1, || {
        // SAFETY: per this function's contract.
        let Some(plugin) = (unsafe { plugin_ref(plugin, "extism_plugin_call") }) else {
            return -1;
        };
        // SAFETY: per this function's contract.
        unsafe { plugin.call(func_name, data, data_len, None) }
    })
}

/// Like `extism_plugin_call`; host functions read `host_context` with
/// `extism_current_plugin_host_context` during this call.
///
/// # Safety
/// As for `extism_plugin_call`.
#[no_mangle]
pub unsafe extern "C" fn extism_plugin_call_with_host_context(
    plugin: *mut ExtismPlugin,
    func_name: *const c_char,
    data: *const u8,
    data_len: ExtismSize,
    host_context: *mut c_void,
) -> i32 {
    guard("extism_plugin_call_with_host_context", -1, || {
        // SAFETY: per this function's contract.
        let Some(plugin) = (unsafe { plugin_ref(plugin, "extism_plugin_call_with_host_context") })
        else {
            return -1;
        };
        // SAFETY: per this function's contract.
        unsafe { plugin.call(func_name, data, data_len, Some(host_context)) }
    })
}

/// The error of the last call, or NULL when it succeeded. The string belongs to
/// the plug-in and stays valid until its next call.
///
/// # Safety
/// `plugin` must be NULL or a live plug-in.
#[no_mangle]
pub unsafe extern "C" fn extism_plugin_error(plugin: *mut ExtismPlugin) -> *const c_char {
    guard("extism_plugin_error", std::ptr::null(), || {
        // SAFETY: per this function's contract.
        let Some(plugin) = (unsafe { plugin_ref(plugin, "extism_plugin_error") }) else {
            return std::ptr::null();
        };
        let Some(inner) = plugin.lock("extism_plugin_error") else {
            return std::ptr::null();
        };
        // The CString's heap buffer does not move when the lock is released.
        inner
            .error
            .as_ref()
            .map_or(std::ptr::null(), |e| e.as_ptr())
    })
}

/// Deprecated name of `extism_plugin_error`.
///
/// # Safety
/// As for `extism_plugin_error`.
#[no_mangle]
pub unsafe extern "C" fn extism_error(plugin: *mut ExtismPlugin) -> *const c_char {
    // SAFETY: same contract.
    unsafe { extism_plugin_error(plugin) }
}

/// The output bytes of the last call (empty for NULL or when there is none).
fn output(plugin: *mut ExtismPlugin, what: &str) -> (*const u8, ExtismSize) {
    /// Returned for empty output, so the pointer is never NULL.
    static EMPTY: [u8; 1] = [0];
    // SAFETY: the public wrappers pass their `plugin` argument, NULL or live.
    let Some(plugin) = (unsafe { plugin_ref(plugin, what) }) else {
        return (EMPTY.as_ptr(), 0);
    };
    let Some(inner) = plugin.lock(what) else {
        return (EMPTY.as_ptr(), 0);
    };
    match inner.plugin.output() {
        Ok(out) if !out.is_empty() => (out.as_ptr(), out.len() as ExtismSize),
        _ => (EMPTY.as_ptr(), 0),
    }
}

/// The length of the last call's output.
///
/// # Safety
/// `plugin` must be NULL or a live plug-in.
#[no_mangle]
pub unsafe extern "C" fn extism_plugin_output_length(plugin: *mut ExtismPlugin) -> ExtismSize {
    guard("extism_plugin_output_length", 0, || {
        output(plugin, "extism_plugin_output_length").1
    })
}

/// The last call's output (`extism_plugin_output_length` bytes). Valid until the
/// plug-in's next call, reset or free; never NULL.
///
/// # Safety
/// `plugin` must be NULL or a live plug-in.
#[no_mangle]
pub unsafe extern "C" fn extism_plugin_output_data(plugin: *mut ExtismPlugin) -> *const u8 {
    guard("extism_plugin_output_data", std::ptr::null(), || {
        output(plugin, "extism_plugin_output_data").0
    })
}

/// Merges a JSON object into the plug-in's config: string values set keys, `null`
/// values remove them. False (with a message in `extism_plugin_error`) on invalid
/// JSON or values that are not strings or null.
///
/// # Safety
/// `plugin` must be NULL or a live plug-in; `json` NULL or valid for `json_size`
/// bytes.
#[no_mangle]
pub unsafe extern "C" fn extism_plugin_config(
    plugin: *mut ExtismPlugin,
    json: *const u8,
    json_size: ExtismSize,
) -> bool {
    guard("extism_plugin_config", false, || {
        // SAFETY: per this function's contract.
        let Some(plugin) = (unsafe { plugin_ref(plugin, "extism_plugin_config") }) else {
            return false;
        };
        let Some(mut inner) = plugin.lock("extism_plugin_config") else {
            return false;
        };
        // SAFETY: per this function's contract.
        let parsed = unsafe { bytes(json, json_size, "the config JSON") }.and_then(|text| {
            serde_json::from_slice::<std::collections::BTreeMap<String, Option<String>>>(text)
                .map_err(|e| {
                    format!(
                        "invalid config: {e}; expected a JSON object whose values are \
                         strings (set) or null (remove)"
                    )
                })
        });
        match parsed {
            Ok(changes) => {
                inner
                    .plugin
                    .set_config(changes.iter().map(|(k, v)| (k.as_str(), v.as_deref())));
                true
            }
            Err(message) => {
                inner.error = Some(c_string(&message));
                false
            }
        }
    })
}

/// True when the plug-in exports a plug-in function (`() -> i32` or `() -> ()`)
/// named `func_name`.
///
/// # Safety
/// `plugin` must be NULL or a live plug-in; `func_name` NULL or NUL-terminated.
#[no_mangle]
pub unsafe extern "C" fn extism_plugin_function_exists(
    plugin: *mut ExtismPlugin,
    func_name: *const c_char,
) -> bool {
    guard("extism_plugin_function_exists", false, || {
        // SAFETY: per this function's contract.
        let Some(plugin) = (unsafe { plugin_ref(plugin, "extism_plugin_function_exists") }) else {
            return false;
        };
        // SAFETY: per this function's contract.
        let Ok(name) = (unsafe { str_arg(func_name, "the function name") }) else {
            return false;
        };
        plugin
            .lock("extism_plugin_function_exists")
            .is_some_and(|inner| !name.is_empty() && inner.plugin.function_exists(name))
    })
}

/// Frees the plug-in's Extism memory (the last output included).
///
/// # Safety
/// `plugin` must be NULL or a live plug-in.
#[no_mangle]
pub unsafe extern "C" fn extism_plugin_reset(plugin: *mut ExtismPlugin) -> bool {
    guard("extism_plugin_reset", false, || {
        // SAFETY: per this function's contract.
        let Some(plugin) = (unsafe { plugin_ref(plugin, "extism_plugin_reset") }) else {
            return false;
        };
        plugin
            .lock("extism_plugin_reset")
            .is_some_and(|mut inner| inner.plugin.reset().is_ok())
    })
}

/// The plug-in's id: 16 bytes (a UUID), valid as long as the plug-in.
///
/// # Safety
/// `plugin` must be NULL or a live plug-in.
#[no_mangle]
pub unsafe extern "C" fn extism_plugin_id(plugin: *mut ExtismPlugin) -> *const u8 {
    guard("extism_plugin_id", std::ptr::null(), || {
        // SAFETY: per this function's contract.
        unsafe { plugin_ref(plugin, "extism_plugin_id") }
            .map_or(std::ptr::null(), |p| p.id.as_ptr())
    })
}

/// Lets the plug-in read HTTP response headers (`http_headers`).
///
/// # Safety
/// `plugin` must be NULL or a live plug-in.
#[no_mangle]
pub unsafe extern "C" fn extism_plugin_allow_http_response_headers(plugin: *mut ExtismPlugin) {
    guard("extism_plugin_allow_http_response_headers", (), || {
        // SAFETY: per this function's contract.
        let Some(plugin) =
            (unsafe { plugin_ref(plugin, "extism_plugin_allow_http_response_headers") })
        else {
            return;
        };
        if let Some(mut inner) = plugin.lock("extism_plugin_allow_http_response_headers") {
            inner.plugin.allow_http_response_headers(true);
        }
    })
}

/// The plug-in's cancel handle, valid as long as the plug-in; usable from any
/// thread.
///
/// # Safety
/// `plugin` must be NULL or a live plug-in.
#[no_mangle]
pub unsafe extern "C" fn extism_plugin_cancel_handle(
    plugin: *const ExtismPlugin,
) -> *const ExtismCancelHandle {
    guard("extism_plugin_cancel_handle", std::ptr::null(), || {
        // SAFETY: per this function's contract.
        unsafe { plugin_ref(plugin, "extism_plugin_cancel_handle") }
            .map_or(std::ptr::null(), |p| &p.cancel as *const ExtismCancelHandle)
    })
}

/// Stops the plug-in's running call (it fails with an error mentioning `cancel`).
/// A cancel while no call runs does not affect the next call. Returns true unless
/// `handle` is NULL.
///
/// # Safety
/// `handle` must be NULL or the cancel handle of a live plug-in.
#[no_mangle]
pub unsafe extern "C" fn extism_plugin_cancel(handle: *const ExtismCancelHandle) -> bool {
    guard("extism_plugin_cancel", false, || {
        // SAFETY: per this function's contract; the handle is only read.
        unsafe { handle.as_ref() }.is_some_and(|h| h.handle.cancel().is_ok())
    })
}
