//! The official runtime (libextism) through its C API, loaded with `libloading`.
//!
//! A thin wrapper made for measuring: calls do not copy the output (the borrowed
//! output slice is returned, as `extism_plugin_output_data` gives it), and the error
//! message is only read when a call fails. Host functions are `(i64) -> i64` and
//! answer `prefix ++ input` in a new block, like the other two runtimes' ones.

use std::ffi::{c_char, c_void, CStr, CString};
use std::path::Path;
use std::ptr::{self, NonNull};
use std::sync::Arc;

use libloading::Library;

/// `ExtismValType::I64`.
const I64: i32 = 1;

/// `ExtismVal`: a tag and an 8-byte union (read and written here as `i64`).
#[repr(C)]
#[derive(Clone, Copy)]
struct ExtismVal {
    t: i32,
    v: i64,
}

type HostFn =
    unsafe extern "C" fn(*mut c_void, *const ExtismVal, u64, *mut ExtismVal, u64, *mut c_void);
type FreeFn = unsafe extern "C" fn(*mut c_void);

/// The entry points used, resolved once.
struct Fns {
    version: unsafe extern "C" fn() -> *const c_char,
    plugin_new: unsafe extern "C" fn(
        *const u8,
        u64,
        *mut *const c_void,
        u64,
        bool,
        *mut *mut c_char,
    ) -> *mut c_void,
    plugin_new_with_fuel_limit: unsafe extern "C" fn(
        *const u8,
        u64,
        *mut *const c_void,
        u64,
        bool,
        u64,
        *mut *mut c_char,
    ) -> *mut c_void,
    compiled_plugin_new: unsafe extern "C" fn(
        *const u8,
        u64,
        *mut *const c_void,
        u64,
        bool,
        *mut *mut c_char,
    ) -> *mut c_void,
    compiled_plugin_free: unsafe extern "C" fn(*mut c_void),
    plugin_new_from_compiled: unsafe extern "C" fn(*const c_void, *mut *mut c_char) -> *mut c_void,
    plugin_new_error_free: unsafe extern "C" fn(*mut c_char),
    plugin_free: unsafe extern "C" fn(*mut c_void),
    plugin_call: unsafe extern "C" fn(*mut c_void, *const c_char, *const u8, u64) -> i32,
    plugin_error: unsafe extern "C" fn(*mut c_void) -> *const c_char,
    plugin_output_length: unsafe extern "C" fn(*mut c_void) -> u64,
    plugin_output_data: unsafe extern "C" fn(*mut c_void) -> *const u8,
    function_new: unsafe extern "C" fn(
        *const c_char,
        *const i32,
        u64,
        *const i32,
        u64,
        Option<HostFn>,
        *mut c_void,
        Option<FreeFn>,
    ) -> *mut c_void,
    function_set_namespace: unsafe extern "C" fn(*mut c_void, *const c_char),
    function_free: unsafe extern "C" fn(*mut c_void),
    current_plugin_memory: unsafe extern "C" fn(*mut c_void) -> *mut u8,
    current_plugin_memory_alloc: unsafe extern "C" fn(*mut c_void, u64) -> u64,
    current_plugin_memory_length: unsafe extern "C" fn(*mut c_void, u64) -> u64,
}

/// The loaded library. Never unloaded (the `Library` is leaked), so the resolved
/// function pointers stay valid for the life of the process.
pub struct Official {
    fns: Fns,
}

/// A host function to give to a plug-in: `namespace`.`name`, `(i64) -> i64`,
/// answering `prefix ++ input`.
#[derive(Clone)]
pub struct HostFunction {
    /// Import module.
    pub namespace: &'static str,
    /// Import name.
    pub name: &'static str,
    /// Bytes put before the input in the answer.
    pub prefix: &'static [u8],
}

/// Resolves `name` in `lib` as a `T`.
///
/// # Safety
/// `T` must be the symbol's exact function pointer type and `lib` must never be
/// unloaded.
unsafe fn sym<T: Copy>(lib: &Library, name: &str) -> Result<T, String> {
    // SAFETY: guaranteed by the caller.
    let symbol = unsafe { lib.get::<T>(name.as_bytes()) }.map_err(|e| format!("{name}: {e}"))?;
    Ok(*symbol)
}

impl Official {
    /// Loads the library at `path`.
    pub fn open(path: &Path) -> Result<Arc<Official>, String> {
        // SAFETY: libextism's initialisers are sound to run.
        let lib = unsafe { Library::new(path) }
            .map_err(|e| format!("cannot load {}: {e}", path.display()))?;
        // SAFETY: each type above is the C signature of the Extism C API 1.x
        // (spec/c-api.md); the library is leaked below, so never unloaded.
        let fns = unsafe {
            Fns {
                version: sym(&lib, "extism_version")?,
                plugin_new: sym(&lib, "extism_plugin_new")?,
                plugin_new_with_fuel_limit: sym(&lib, "extism_plugin_new_with_fuel_limit")?,
                compiled_plugin_new: sym(&lib, "extism_compiled_plugin_new")?,
                compiled_plugin_free: sym(&lib, "extism_compiled_plugin_free")?,
                plugin_new_from_compiled: sym(&lib, "extism_plugin_new_from_compiled")?,
                plugin_new_error_free: sym(&lib, "extism_plugin_new_error_free")?,
                plugin_free: sym(&lib, "extism_plugin_free")?,
                plugin_call: sym(&lib, "extism_plugin_call")?,
                plugin_error: sym(&lib, "extism_plugin_error")?,
                plugin_output_length: sym(&lib, "extism_plugin_output_length")?,
                plugin_output_data: sym(&lib, "extism_plugin_output_data")?,
                function_new: sym(&lib, "extism_function_new")?,
                function_set_namespace: sym(&lib, "extism_function_set_namespace")?,
                function_free: sym(&lib, "extism_function_free")?,
                current_plugin_memory: sym(&lib, "extism_current_plugin_memory")?,
                current_plugin_memory_alloc: sym(&lib, "extism_current_plugin_memory_alloc")?,
                current_plugin_memory_length: sym(&lib, "extism_current_plugin_memory_length")?,
            }
        };
        std::mem::forget(lib);
        Ok(Arc::new(Official { fns }))
    }

    /// `extism_version()`.
    pub fn version(&self) -> String {
        // SAFETY: returns NULL or a static NUL-terminated string.
        unsafe { c_string((self.fns.version)()) }.unwrap_or_default()
    }

    /// Makes the function objects for one plug-in.
    fn functions(self: &Arc<Self>, defs: &[HostFunction]) -> Result<FunctionSet, String> {
        let mut set = FunctionSet {
            lib: self.clone(),
            ptrs: Vec::new(),
        };
        let sig = [I64];
        for def in defs {
            let name = CString::new(def.name).map_err(|e| e.to_string())?;
            let namespace = CString::new(def.namespace).map_err(|e| e.to_string())?;
            let ctx = Box::into_raw(Box::new(HostCtx {
                lib: self.clone(),
                prefix: def.prefix,
            }));
            // SAFETY: valid NUL-terminated name, one-element signatures read
            // during the call, callbacks of the C types; `ctx` is released by
            // `free_ctx` when the library drops the function.
            let raw = unsafe {
                (self.fns.function_new)(
                    name.as_ptr(),
                    sig.as_ptr(),
                    1,
                    sig.as_ptr(),
                    1,
                    Some(trampoline),
                    ctx.cast(),
                    Some(free_ctx),
                )
            };
            let func = NonNull::new(raw).ok_or("extism_function_new returned NULL")?;
            set.ptrs.push(func);
            // SAFETY: a live function object; the string is read during the call.
            unsafe { (self.fns.function_set_namespace)(func.as_ptr(), namespace.as_ptr()) };
        }
        Ok(set)
    }

    /// Copies and frees a creation error message.
    fn take_error(&self, errmsg: *mut c_char) -> String {
        // SAFETY: NULL or a NUL-terminated string from the library.
        let message = unsafe { c_string(errmsg) };
        if !errmsg.is_null() {
            // SAFETY: released once, with the library's function.
            unsafe { (self.fns.plugin_new_error_free)(errmsg) };
        }
        message.unwrap_or_else(|| String::from("creation failed without a message"))
    }

    /// `extism_plugin_new` (or `..._with_fuel_limit`) without WASI.
    pub fn plugin(
        self: &Arc<Self>,
        wasm: &[u8],
        functions: &[HostFunction],
        fuel_limit: Option<u64>,
    ) -> Result<OfficialPlugin, String> {
        let set = self.functions(functions)?;
        let mut ptrs = set.const_ptrs();
        let fns_arg = if ptrs.is_empty() {
            ptr::null_mut()
        } else {
            ptrs.as_mut_ptr()
        };
        let mut errmsg = ptr::null_mut();
        // SAFETY: `wasm` is valid for its length; `fns_arg` is NULL or `ptrs.len()`
        // live function objects; `errmsg` is a valid out-pointer.
        let raw = unsafe {
            match fuel_limit {
                None => (self.fns.plugin_new)(
                    wasm.as_ptr(),
                    wasm.len() as u64,
                    fns_arg,
                    ptrs.len() as u64,
                    false,
                    &mut errmsg,
                ),
                Some(fuel) => (self.fns.plugin_new_with_fuel_limit)(
                    wasm.as_ptr(),
                    wasm.len() as u64,
                    fns_arg,
                    ptrs.len() as u64,
                    false,
                    fuel,
                    &mut errmsg,
                ),
            }
        };
        drop(set);
        match NonNull::new(raw) {
            Some(ptr) => Ok(OfficialPlugin {
                lib: self.clone(),
                ptr,
            }),
            None => Err(self.take_error(errmsg)),
        }
    }

    /// `extism_compiled_plugin_new` without WASI or host functions.
    pub fn compile(self: &Arc<Self>, wasm: &[u8]) -> Result<OfficialCompiled, String> {
        let mut errmsg = ptr::null_mut();
        // SAFETY: `wasm` is valid for its length, no functions, valid out-pointer.
        let raw = unsafe {
            (self.fns.compiled_plugin_new)(
                wasm.as_ptr(),
                wasm.len() as u64,
                ptr::null_mut(),
                0,
                false,
                &mut errmsg,
            )
        };
        match NonNull::new(raw) {
            Some(ptr) => Ok(OfficialCompiled {
                lib: self.clone(),
                ptr,
            }),
            None => Err(self.take_error(errmsg)),
        }
    }
}

/// Copies a C string, `None` for NULL.
///
/// # Safety
/// `p` is NULL or a readable NUL-terminated string.
unsafe fn c_string(p: *const c_char) -> Option<String> {
    if p.is_null() {
        return None;
    }
    // SAFETY: guaranteed by the caller.
    Some(unsafe { CStr::from_ptr(p) }.to_string_lossy().into_owned())
}

/// The function objects made for one plug-in creation, freed after it.
struct FunctionSet {
    lib: Arc<Official>,
    ptrs: Vec<NonNull<c_void>>,
}

impl FunctionSet {
    fn const_ptrs(&self) -> Vec<*const c_void> {
        self.ptrs.iter().map(|p| p.as_ptr().cast_const()).collect()
    }
}

impl Drop for FunctionSet {
    fn drop(&mut self) {
        for func in self.ptrs.drain(..) {
            // SAFETY: from extism_function_new, freed once; a function a plug-in
            // took is an empty shell by then (libextism semantics).
            unsafe { (self.lib.fns.function_free)(func.as_ptr()) };
        }
    }
}

/// What a host function knows.
struct HostCtx {
    lib: Arc<Official>,
    prefix: &'static [u8],
}

/// Releases a [`HostCtx`].
unsafe extern "C" fn free_ctx(ctx: *mut c_void) {
    if !ctx.is_null() {
        // SAFETY: made by Box::into_raw in `functions`, released once.
        drop(unsafe { Box::from_raw(ctx.cast::<HostCtx>()) });
    }
}

/// The C callback: output block = prefix ++ input block (0 on any problem).
unsafe extern "C" fn trampoline(
    plugin: *mut c_void,
    inputs: *const ExtismVal,
    n_inputs: u64,
    outputs: *mut ExtismVal,
    n_outputs: u64,
    ctx: *mut c_void,
) {
    let handle = std::panic::catch_unwind(|| {
        if plugin.is_null() || inputs.is_null() || n_inputs < 1 || ctx.is_null() {
            return 0;
        }
        // SAFETY: our live HostCtx and the library's arguments.
        let (ctx, input) = unsafe { (&*ctx.cast::<HostCtx>(), inputs.read()) };
        let fns = &ctx.lib.fns;
        let Ok(handle) = usize::try_from(input.v) else {
            return 0;
        };
        // SAFETY: `plugin` is the current plug-in of this call.
        let len = unsafe { (fns.current_plugin_memory_length)(plugin, handle as u64) } as usize;
        let mut out = Vec::with_capacity(ctx.prefix.len() + len);
        out.extend_from_slice(ctx.prefix);
        if len > 0 {
            // SAFETY: as above; `base + handle` holds `len` bytes of the block.
            unsafe {
                let base = (fns.current_plugin_memory)(plugin);
                if base.is_null() {
                    return 0;
                }
                out.extend_from_slice(std::slice::from_raw_parts(base.add(handle), len));
            }
        }
        // SAFETY: as above.
        let new = unsafe { (fns.current_plugin_memory_alloc)(plugin, out.len() as u64) };
        if new == 0 {
            return 0;
        }
        // SAFETY: the base is re-read after the allocation; the new block holds
        // `out.len()` bytes and does not overlap `out`.
        unsafe {
            let base = (fns.current_plugin_memory)(plugin);
            if base.is_null() {
                return 0;
            }
            ptr::copy_nonoverlapping(out.as_ptr(), base.add(new as usize), out.len());
        }
        new as i64
    })
    .unwrap_or(0);
    if !outputs.is_null() && n_outputs >= 1 {
        // SAFETY: the library passes `n_outputs` writable slots.
        unsafe { outputs.write(ExtismVal { t: I64, v: handle }) };
    }
}

/// A compiled plug-in (`ExtismCompiledPlugin`).
pub struct OfficialCompiled {
    lib: Arc<Official>,
    ptr: NonNull<c_void>,
}

impl OfficialCompiled {
    /// `extism_plugin_new_from_compiled`.
    pub fn instantiate(&self) -> Result<OfficialPlugin, String> {
        let mut errmsg = ptr::null_mut();
        // SAFETY: a live compiled plug-in and a valid out-pointer.
        let raw =
            unsafe { (self.lib.fns.plugin_new_from_compiled)(self.ptr.as_ptr(), &mut errmsg) };
        match NonNull::new(raw) {
            Some(ptr) => Ok(OfficialPlugin {
                lib: self.lib.clone(),
                ptr,
            }),
            None => Err(self.lib.take_error(errmsg)),
        }
    }
}

impl Drop for OfficialCompiled {
    fn drop(&mut self) {
        // SAFETY: from extism_compiled_plugin_new, freed once.
        unsafe { (self.lib.fns.compiled_plugin_free)(self.ptr.as_ptr()) };
    }
}

/// A plug-in (`ExtismPlugin`), freed on drop.
pub struct OfficialPlugin {
    lib: Arc<Official>,
    ptr: NonNull<c_void>,
}

impl OfficialPlugin {
    /// `extism_plugin_call`; the output is borrowed until the next call.
    pub fn call(&mut self, name: &CStr, input: &[u8]) -> Result<&[u8], String> {
        let fns = &self.lib.fns;
        let plugin = self.ptr.as_ptr();
        // SAFETY: a live plug-in, a NUL-terminated name, `input` valid for its length.
        let rc =
            unsafe { (fns.plugin_call)(plugin, name.as_ptr(), input.as_ptr(), input.len() as u64) };
        if rc != 0 {
            // SAFETY: NULL or a NUL-terminated string owned by the plug-in.
            let message = unsafe { c_string((fns.plugin_error)(plugin)) };
            return Err(format!("rc {rc}: {}", message.unwrap_or_default()));
        }
        // SAFETY: a live plug-in.
        let len = unsafe { (fns.plugin_output_length)(plugin) } as usize;
        if len == 0 {
            return Ok(&[]);
        }
        // SAFETY: a live plug-in; the output holds `len` bytes until the next call,
        // which the `&mut self` borrow of the result rules out.
        unsafe {
            let data = (fns.plugin_output_data)(plugin);
            if data.is_null() {
                return Err(String::from("output data is NULL"));
            }
            Ok(std::slice::from_raw_parts(data, len))
        }
    }
}

impl Drop for OfficialPlugin {
    fn drop(&mut self) {
        // SAFETY: from extism_plugin_new*, freed once.
        unsafe { (self.lib.fns.plugin_free)(self.ptr.as_ptr()) };
    }
}
