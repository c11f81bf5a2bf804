//! Host functions written in C: `extism_function_new`, `extism_function_set_namespace`,
//! `extism_function_free`.
//!
//! A function object is the core's [`ExtismFunction`] (`interplug::sdk`): a
//! [`Function`] whose body calls the C callback. Each plug-in (or compiled plug-in)
//! made with it links a clone of that `Function`, and the clones share one body, so
//! the caller may free the function object right after creating the plug-in, as the
//! official SDKs do, and the same object may even be given to several plug-ins.
//! `free_user_data` runs exactly once, when the last of them is gone.

use std::ffi::{c_char, c_void};

use interplug_core::sdk::ExtismFunction;
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

    /// The core host function `name` calling this C function; the function's
    /// clones share this callback, which goes (and frees the user data) with the
    /// last of them.
    fn into_function(self, name: String, params: Vec<ValType>, results: Vec<ValType>) -> Function {
        let result_types = results.clone();
        Function::new(
            name,
            params,
            results,
            UserData::<()>::default(),
            move |plugin, inputs, outputs, _| {
                self.invoke(plugin, inputs, outputs, &result_types);
                Ok(())
            },
        )
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
            // Built last: on an error above, `user_data` stays the caller's.
            let callback = CCallback {
                f,
                user_data,
                free_user_data,
            };
            Ok::<_, String>(ExtismFunction::new(
                callback.into_function(name, params, results),
            ))
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
            Ok(namespace) => function.set_namespace(namespace),
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

#[cfg(test)]
mod tests {
    use std::ffi::CStr;
    use std::sync::atomic::{AtomicU32, Ordering};

    use interplug_core::sdk;

    use super::*;
    use crate::plugin::{
        extism_plugin_call, extism_plugin_error, extism_plugin_free, extism_plugin_new,
    };
    use crate::types::val_type;

    /// A plug-in that calls `mix(-7, 2^40, 1.5, 2.25)` and returns 0 when it gets
    /// every value doubled back, else the position (1 to 4) of the first wrong one.
    const MIX: &str = r#"(module
        (import "extism:host/user" "mix"
            (func $mix (param i32 i64 f32 f64) (result i32 i64 f32 f64)))
        (memory (export "memory") 1)
        (func (export "run") (result i32)
            (local $a i32) (local $b i64) (local $c f32) (local $d f64)
            (call $mix (i32.const -7) (i64.const 1099511627776) (f32.const 1.5) (f64.const 2.25))
            (local.set $d) (local.set $c) (local.set $b) (local.set $a)
            (if (i32.ne (local.get $a) (i32.const -14)) (then (return (i32.const 1))))
            (if (i64.ne (local.get $b) (i64.const 2199023255552)) (then (return (i32.const 2))))
            (if (f32.ne (local.get $c) (f32.const 3)) (then (return (i32.const 3))))
            (if (f64.ne (local.get $d) (f64.const 4.5)) (then (return (i32.const 4))))
            (i32.const 0)))"#;

    /// The value types of `mix`'s parameters and results, in order.
    const TYPES: [i32; 4] = [val_type::I32, val_type::I64, val_type::F32, val_type::F64];

    /// `mix`, written against `interplug::sdk` as a Rust host of the C API would: reads
    /// each input as an `sdk::ExtismVal` (checking its tag and value) and writes it back
    /// doubled as a whole `sdk::ExtismVal`. Every surprise sets a bit in the `AtomicU32`
    /// that `data` points to (a panic cannot leave an `extern "C"` function).
    extern "C" fn mix(
        _plugin: *mut CurrentPlugin,
        inputs: *const sdk::ExtismVal,
        n_inputs: sdk::Size,
        outputs: *mut sdk::ExtismVal,
        n_outputs: sdk::Size,
        data: *mut c_void,
    ) {
        // SAFETY: `data` is the test's `AtomicU32`, alive for the whole call.
        let failures = unsafe { &*data.cast::<AtomicU32>() };
        if (n_inputs, n_outputs) != (4, 4) {
            failures.fetch_or(1 << 31, Ordering::Relaxed);
            return;
        }
        // SAFETY: the C library passes 4 inputs and 4 output slots (checked above),
        // alive and not otherwise used during this call.
        let (inputs, outputs) = unsafe {
            (
                std::slice::from_raw_parts(inputs, 4),
                std::slice::from_raw_parts_mut(outputs, 4),
            )
        };
        let expected = [(-7i64) as f64, (1u64 << 40) as f64, 1.5, 2.25];
        for (k, ((input, output), ty)) in
            inputs.iter().zip(outputs.iter_mut()).zip(TYPES).enumerate()
        {
            // SAFETY: the C library fills the field that its tag names; the tag is
            // checked first (a wrong one stops before the read).
            let value = (input.t == ty).then(|| unsafe {
                match ty {
                    val_type::I32 => f64::from(input.v.i32),
                    val_type::I64 => input.v.i64 as f64,
                    val_type::F32 => f64::from(input.v.f32),
                    _ => input.v.f64,
                }
            });
            if value != Some(expected[k]) || output.t != ty {
                failures.fetch_or(1 << k, Ordering::Relaxed);
                continue;
            }
            let v = match ty {
                val_type::I32 => sdk::ValUnion { i32: -14 },
                val_type::I64 => sdk::ValUnion { i64: 1 << 41 },
                val_type::F32 => sdk::ValUnion { f32: 3.0 },
                _ => sdk::ValUnion { f64: 4.5 },
            };
            *output = sdk::ExtismVal { t: ty, v };
        }
    }

    #[test]
    fn sdk_values_pass_through_the_c_api() {
        let failures = AtomicU32::new(0);
        let host: sdk::ExtismFunctionType = mix;
        // SAFETY: both are the C signature `ExtismFunctionType`; they differ only in
        // the pointee type of the plug-in pointer (`CurrentPlugin`, which C sees as
        // the opaque `ExtismCurrentPlugin`), not in the ABI.
        let c_host =
            unsafe { std::mem::transmute::<sdk::ExtismFunctionType, ExtismFunctionType>(host) };
        // SAFETY: a NUL-terminated name, 4 types for inputs and outputs, user data
        // that outlives the plug-in, no destructor.
        let function = unsafe {
            extism_function_new(
                c"mix".as_ptr(),
                TYPES.as_ptr(),
                4,
                TYPES.as_ptr(),
                4,
                Some(c_host),
                std::ptr::from_ref(&failures).cast_mut().cast(),
                None,
            )
        };
        assert!(!function.is_null());
        let functions = [function.cast_const()];
        let mut error = std::ptr::null_mut();
        // SAFETY: WAT bytes with their length, one live function object, a writable
        // `errmsg`.
        let plugin = unsafe {
            extism_plugin_new(
                MIX.as_ptr(),
                MIX.len() as u64,
                functions.as_ptr(),
                1,
                false,
                &mut error,
            )
        };
        // SAFETY: made above, freed once.
        unsafe { extism_function_free(function) };
        assert!(error.is_null() && !plugin.is_null());
        // SAFETY: a live plug-in, a NUL-terminated name, no input.
        let rc = unsafe { extism_plugin_call(plugin, c"run".as_ptr(), std::ptr::null(), 0) };
        // SAFETY: a live plug-in; the error (if any) is copied before the free.
        let message = unsafe {
            let text = extism_plugin_error(plugin);
            (!text.is_null()).then(|| CStr::from_ptr(text).to_string_lossy().into_owned())
        };
        // SAFETY: made above, freed once.
        unsafe { extism_plugin_free(plugin) };
        assert_eq!(failures.load(Ordering::Relaxed), 0, "inputs read wrong");
        assert_eq!((rc, message), (0, None), "outputs read wrong");
    }
}
