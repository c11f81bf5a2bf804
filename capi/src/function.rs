//! Host functions written in C: `extism_function_new`, `extism_function_set_namespace`,
//! `extism_function_free`.
//!
//! A function object holds its C callback and user data behind an `Arc`. Each
//! plug-in (or compiled plug-in) made with it takes a clone of that `Arc`, so the
//! caller may free the function object right after creating the plug-in, as the
//! official SDKs do, and the same object may even be given to several plug-ins.
//! `free_user_data` runs exactly once, when the last of them is gone.

use std::ffi::{c_char, c_void};
use std::sync::Arc;

use interplug_core::{CurrentPlugin, Function, UserData, Val, ValType};

use crate::ffi::{guard, str_arg};
use crate::types::{
    val_type_from_raw, ExtismCurrentPlugin, ExtismFreeUserData, ExtismFunctionType, ExtismSize,
    ExtismVal, ValConversion,
};

/// The C side of a host function: callback, user data and its destructor.
struct CCallback {
    f: ExtismFunctionType,
    user_data: *mut c_void,
    free_user_data: Option<ExtismFreeUserData>,
}

// SAFETY: the C API lets host functions run on whichever thread calls the plug-in
// and the user data is only handed back to the C callback, never dereferenced
// here; making the user data safe to use from several threads is the host's part
// of the contract, as with libextism.
unsafe impl Send for CCallback {}
// SAFETY: see `Send`: this type only stores and forwards the pointer.
unsafe impl Sync for CCallback {}

impl Drop for CCallback {
    fn drop(&mut self) {
        if let (Some(free), false) = (self.free_user_data, self.user_data.is_null()) {
            // SAFETY: the host gave this destructor for this pointer; it runs once,
            // when the last function object or plug-in that can call `f` is gone.
            unsafe { free(self.user_data) };
        }
    }
}

impl CCallback {
    /// Calls the C function with the plug-in's arguments and reads its results
    /// back as the declared `results` types.
    fn invoke(
        &self,
        plugin: &mut CurrentPlugin,
        inputs: &[Val],
        outputs: &mut [Val],
        results: &[ValType],
    ) {
        let c_inputs: Vec<ExtismVal> = inputs.iter().map(ExtismVal::from_val).collect();
        let mut c_outputs: Vec<ExtismVal> = results.iter().map(|t| ExtismVal::zero(*t)).collect();
        let current: *mut ExtismCurrentPlugin = (plugin as *mut CurrentPlugin).cast();
        // SAFETY: `f` is the host's callback with the documented signature; the
        // input and output arrays hold exactly the lengths passed and live across
        // the call; `current` stays valid for the call (the extism_current_plugin_*
        // functions turn it back into the `CurrentPlugin` it is).
        unsafe {
            (self.f)(
                current,
                c_inputs.as_ptr(),
                c_inputs.len() as ExtismSize,
                c_outputs.as_mut_ptr(),
                c_outputs.len() as ExtismSize,
                self.user_data,
            )
        };
        for ((slot, value), ty) in outputs.iter_mut().zip(&c_outputs).zip(results) {
            *slot = value.to_val(*ty);
        }
    }
}

/// `ExtismFunction`: a host function defined in C, before it is given to plug-ins.
pub struct ExtismFunction {
    name: String,
    namespace: Option<String>,
    params: Vec<ValType>,
    results: Vec<ValType>,
    callback: Arc<CCallback>,
}

impl ExtismFunction {
    /// The core host function calling this C function.
    pub(crate) fn to_function(&self) -> Function {
        let callback = Arc::clone(&self.callback);
        let results = self.results.clone();
        let function = Function::new(
            self.name.clone(),
            self.params.iter().copied(),
            self.results.iter().copied(),
            UserData::<()>::default(),
            move |plugin, inputs, outputs, _| {
                callback.invoke(plugin, inputs, outputs, &results);
                Ok(())
            },
        );
        match &self.namespace {
            Some(namespace) => function.with_namespace(namespace.clone()),
            None => function,
        }
    }
}

/// Reads `n` raw `ExtismValType`s.
///
/// # Safety
/// `types` must be NULL or point to `n` readable `int`-sized values.
unsafe fn read_types(types: *const i32, n: ExtismSize, what: &str) -> Result<Vec<ValType>, String> {
    let n_bytes = n
        .checked_mul(std::mem::size_of::<i32>() as u64)
        .ok_or_else(|| format!("{what}: {n} types is too many"))?;
    // SAFETY: checked for NULL/length by `bytes`; valid per the caller. Only used
    // to validate the pointer and length.
    unsafe { crate::ffi::bytes(types.cast::<u8>(), n_bytes, what) }?;
    (0..n as usize)
        .map(|i| {
            // SAFETY: `i < n` and `types` points to `n` values (checked above);
            // read_unaligned tolerates any alignment the caller used.
            let raw = unsafe { types.add(i).read_unaligned() };
            val_type_from_raw(raw)
                .ok_or_else(|| format!("{what}[{i}] = {raw} is not an ExtismValType (0..=6)"))
        })
        .collect()
}

/// Creates a host function `name` taking `n_inputs` values of the types in
/// `inputs` and returning `n_outputs` values of the types in `outputs`. The
/// plug-in calls `func` with `user_data`; `free_user_data` (may be NULL) releases
/// `user_data` when neither this object nor any plug-in made with it needs it.
/// Returns NULL (and logs why) on a NULL or non-UTF-8 name, a NULL `func` or an
/// unknown value type; `user_data` then stays the caller's (it is not freed).
///
/// # Safety
/// `name` must be NULL or NUL-terminated; `inputs`/`outputs` NULL or valid for
/// `n_inputs`/`n_outputs` values; `func` a function of the documented signature.
#[no_mangle]
pub unsafe extern "C" fn extism_function_new(
    name: *const c_char,
    inputs: *const i32,
    n_inputs: ExtismSize,
    outputs: *const i32,
    n_outputs: ExtismSize,
    func: Option<ExtismFunctionType>,
    user_data: *mut c_void,
    free_user_data: Option<ExtismFreeUserData>,
) -> *mut ExtismFunction {
    guard("extism_function_new", std::ptr::null_mut(), || {
        let made = (|| {
            // SAFETY: per this function's contract.
            let name = unsafe { str_arg(name, "the host function name") }?.to_string();
            let f = func.ok_or_else(|| {
                format!("host function `{name}`: the callback is NULL: pass a function pointer")
            })?;
            // SAFETY: per this function's contract.
            let params = unsafe { read_types(inputs, n_inputs, "inputs") }
                .map_err(|e| format!("host function `{name}`: {e}"))?;
            // SAFETY: per this function's contract.
            let results = unsafe { read_types(outputs, n_outputs, "outputs") }
                .map_err(|e| format!("host function `{name}`: {e}"))?;
            Ok::<_, String>(ExtismFunction {
                name,
                namespace: None,
                params,
                results,
                // Built last: on an error above, `user_data` stays the caller's.
                callback: Arc::new(CCallback {
                    f,
                    user_data,
                    free_user_data,
                }),
            })
        })();
        match made {
            Ok(function) => Box::into_raw(Box::new(function)),
            Err(message) => {
                log::error!(target: "interplug", "extism_function_new: {message}");
                std::ptr::null_mut()
            }
        }
    })
}

/// Moves the function to import module `namespace` (the default is
/// `extism:host/user`). Applies to plug-ins created afterwards. NULL arguments
/// are ignored.
///
/// # Safety
/// `function` must be NULL or a live function object; `namespace` NULL or
/// NUL-terminated.
#[no_mangle]
pub unsafe extern "C" fn extism_function_set_namespace(
    function: *mut ExtismFunction,
    namespace: *const c_char,
) {
    guard("extism_function_set_namespace", (), || {
        // SAFETY: per this function's contract, a non-NULL pointer is a live object
        // that nothing else accesses during this call.
        let Some(function) = (unsafe { function.as_mut() }) else {
            return;
        };
        // SAFETY: per this function's contract.
        match unsafe { str_arg(namespace, "the namespace") } {
            Ok(namespace) => function.namespace = Some(namespace.to_string()),
            Err(message) => {
                log::error!(target: "interplug", "extism_function_set_namespace: {message}")
            }
        }
    })
}

/// Frees a function object. Plug-ins already made with it keep working; the user
/// data is released once they are gone too. NULL is a no-op.
///
/// # Safety
/// `function` must be NULL or a function object not freed before.
#[no_mangle]
pub unsafe extern "C" fn extism_function_free(function: *mut ExtismFunction) {
    guard("extism_function_free", (), || {
        if !function.is_null() {
            // SAFETY: a live object from extism_function_new (Box::into_raw), freed
            // once per the contract.
            drop(unsafe { Box::from_raw(function) });
        }
    })
}
