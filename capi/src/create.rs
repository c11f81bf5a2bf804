//! What the creation functions share (`extism_plugin_new*`,
//! `extism_compiled_plugin_new*`, `extism_plugin_new_from_compiled`): reading their
//! arguments into a builder, and handing the result to C or the error to `errmsg`.

use std::ffi::c_char;

use interplug_core::sdk::ExtismFunction;
use interplug_core::{Error, Function, PluginBuilder};

use crate::ffi::{bytes, guard, set_errmsg};
use crate::types::ExtismSize;

/// Every creation error starts with this, as libextism's do.
pub(crate) const CREATE_ERROR_PREFIX: &str = "Unable to compile Extism plugin: ";

/// The arguments the four `*_new*` creation functions take, as C passed them.
pub(crate) struct Creation {
    /// Wasm, WAT or manifest bytes.
    pub(crate) wasm: *const u8,
    /// Their length.
    pub(crate) wasm_size: ExtismSize,
    /// Host function objects (the array and its entries may be NULL).
    pub(crate) functions: *const *const ExtismFunction,
    /// How many entries `functions` has.
    pub(crate) n_functions: ExtismSize,
    /// Whether plug-ins get WASI.
    pub(crate) with_wasi: bool,
    /// The per-call fuel limit of the `*_with_fuel_limit` functions.
    pub(crate) fuel_limit: Option<u64>,
}

impl Creation {
    /// The body of a creation function named `what`: makes a `T` from the builder
    /// the arguments describe and hands it to C; NULL on failure (or panic), with a
    /// message in `errmsg`.
    ///
    /// # Safety
    /// As for `extism_plugin_new`: `wasm` valid for `wasm_size` bytes, `functions`
    /// NULL or valid for `n_functions` pointers to live function objects (or NULL),
    /// `errmsg` NULL or writable.
    pub(crate) unsafe fn run<T>(
        self,
        what: &str,
        errmsg: *mut *mut c_char,
        make: impl FnOnce(PluginBuilder<'_>) -> Result<T, Error>,
    ) -> *mut T {
        guard(what, std::ptr::null_mut(), || {
            // SAFETY: per the caller.
            let result =
                unsafe { self.builder() }.and_then(|b| make(b).map_err(|e| format!("{e:#}")));
            // SAFETY: per the caller.
            unsafe { finish(result, errmsg) }
        })
    }

    /// A builder for these arguments.
    ///
    /// # Safety
    /// As for [`Creation::run`].
    unsafe fn builder<'a>(&self) -> Result<PluginBuilder<'a>, String> {
        // SAFETY: per the caller.
        let wasm = unsafe { bytes(self.wasm, self.wasm_size, "the wasm/manifest") }?;
        if wasm.is_empty() {
            return Err("no wasm, WAT or manifest bytes were given (length 0)".to_string());
        }
        // SAFETY: per the caller.
        let functions = unsafe { collect_functions(self.functions, self.n_functions) }?;
        let builder = PluginBuilder::new(wasm)
            .with_functions(functions)
            .with_wasi(self.with_wasi);
        Ok(match self.fuel_limit {
            Some(fuel) => builder.with_fuel_limit(fuel),
            None => builder,
        })
    }
}

/// Collects the core functions of a C function array, skipping NULL entries.
///
/// # Safety
/// `functions` must be NULL or point to `n` pointers, each NULL or a live
/// function object.
unsafe fn collect_functions(
    functions: *const *const ExtismFunction,
    n: ExtismSize,
) -> Result<Vec<Function>, String> {
    if functions.is_null() {
        if n != 0 {
            log::warn!(
                target: "interplug",
                "the host function array is NULL but n_functions is {n}: using none"
            );
        }
        return Ok(Vec::new());
    }
    let n = usize::try_from(n)
        .ok()
        .filter(|&n| n <= isize::MAX as usize / std::mem::size_of::<usize>())
        .ok_or_else(|| format!("n_functions = {n} is too large"))?;
    // SAFETY: not NULL and valid for `n` pointers per the caller; `n` is bounded.
    let pointers = unsafe { std::slice::from_raw_parts(functions, n) };
    Ok(pointers
        .iter()
        // SAFETY: each entry is NULL or a live function object per the caller.
        .filter_map(|&f| unsafe { f.as_ref() })
        .map(|f| f.function().clone())
        .collect())
}

/// Hands a new object to C (boxed; the matching `*_free` function releases it), or
/// reports the error through `errmsg` and returns NULL.
///
/// # Safety
/// `errmsg` must be NULL or writable.
pub(crate) unsafe fn finish<T>(result: Result<T, String>, errmsg: *mut *mut c_char) -> *mut T {
    match result {
        Ok(made) => Box::into_raw(Box::new(made)),
        Err(message) => {
            // SAFETY: per the caller.
            unsafe { set_errmsg(errmsg, &format!("{CREATE_ERROR_PREFIX}{message}")) };
            std::ptr::null_mut()
        }
    }
}
