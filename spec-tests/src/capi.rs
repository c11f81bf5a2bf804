//! A safe wrapper around any shared library that implements the Extism C API.
//!
//! The same code drives the official runtime (`libextism_sys.so` from the PyPI
//! wheel `extism-sys`, fetched by `scripts/fetch-oracle.sh`) and interplug's own
//! `libinterplug.so`, which exports the same symbols. Differential tests open
//! both with [`CApiLibrary::open`] and compare the [`CallOutcome`]s.
//!
//! Host functions can be given to plug-ins through the C API as well
//! ([`CHostFunction`]); their behaviour is picked from the small
//! [`HostBehaviour`] enum and implemented here by an `extern "C"` callback that
//! only uses the `extism_current_plugin_*` memory functions, exactly as a C host
//! would.
//!
//! The same client serves the benchmark harness (`bench-compare`), so it also
//! offers what measuring needs: compiled plug-ins ([`CCompiledPlugin`]) and a
//! call that borrows the output instead of copying it
//! ([`CPlugin::call_borrowed`]).
//!
//! A library opened here is never unloaded (no `dlclose`): Rust `cdylib`s with
//! thread-local destructors and runtimes that install signal handlers are not
//! safe to unload, and a host function's `free_user_data` callback may drop the
//! last reference to the library while running inside it.

use std::ffi::{c_char, c_void, CStr, CString};
use std::fmt;
use std::mem::ManuallyDrop;
use std::panic::{catch_unwind, AssertUnwindSafe};
use std::path::{Path, PathBuf};
use std::ptr::{self, NonNull};
use std::sync::{Arc, Mutex, PoisonError};

use interplug_capi_types::{
    val_type, ExtismCancelHandle, ExtismCompiledPlugin, ExtismCurrentPlugin, ExtismFreeUserData,
    ExtismFunction, ExtismFunctionType, ExtismPlugin, ExtismVal,
};
use libloading::Library;

/// The namespace a host function is imported from when none is set:
/// `extism:host/user`.
pub const DEFAULT_HOST_NAMESPACE: &str = "extism:host/user";

/// The environment variable naming the official library (libextism) that
/// interplug is compared with; `scripts/fetch-oracle.sh` prints its path.
pub const ORACLE_ENV: &str = "INTERPLUG_ORACLE_LIB";

/// The path [`ORACLE_ENV`] names, `None` when it is unset or empty.
pub fn oracle_path() -> Option<PathBuf> {
    std::env::var_os(ORACLE_ENV)
        .filter(|p| !p.is_empty())
        .map(PathBuf::from)
}

/// The value in `val` when its tag says `I64` (memory handles are `I64`).
fn as_i64(val: &ExtismVal) -> Option<i64> {
    if val.t == val_type::I64 {
        // SAFETY: the tag says I64, so `i64` is the field that was written;
        // besides, every bit pattern of the 8-byte union is a valid i64.
        Some(unsafe { val.v.i64 })
    } else {
        None
    }
}

type VersionFn = unsafe extern "C" fn() -> *const c_char;
type PluginNewFn = unsafe extern "C" fn(
    *const u8,
    u64,
    *mut *const ExtismFunction,
    u64,
    bool,
    *mut *mut c_char,
) -> *mut ExtismPlugin;
type PluginNewWithFuelLimitFn = unsafe extern "C" fn(
    *const u8,
    u64,
    *mut *const ExtismFunction,
    u64,
    bool,
    u64,
    *mut *mut c_char,
) -> *mut ExtismPlugin;
type CompiledPluginNewFn = unsafe extern "C" fn(
    *const u8,
    u64,
    *mut *const ExtismFunction,
    u64,
    bool,
    *mut *mut c_char,
) -> *mut ExtismCompiledPlugin;
type CompiledPluginFreeFn = unsafe extern "C" fn(*mut ExtismCompiledPlugin);
type PluginNewFromCompiledFn =
    unsafe extern "C" fn(*const ExtismCompiledPlugin, *mut *mut c_char) -> *mut ExtismPlugin;
type PluginNewErrorFreeFn = unsafe extern "C" fn(*mut c_char);
type PluginFreeFn = unsafe extern "C" fn(*mut ExtismPlugin);
type PluginCallFn = unsafe extern "C" fn(*mut ExtismPlugin, *const c_char, *const u8, u64) -> i32;
type PluginErrorFn = unsafe extern "C" fn(*mut ExtismPlugin) -> *const c_char;
type PluginOutputLengthFn = unsafe extern "C" fn(*mut ExtismPlugin) -> u64;
type PluginOutputDataFn = unsafe extern "C" fn(*mut ExtismPlugin) -> *const u8;
type PluginConfigFn = unsafe extern "C" fn(*mut ExtismPlugin, *const u8, u64) -> bool;
type PluginFunctionExistsFn = unsafe extern "C" fn(*mut ExtismPlugin, *const c_char) -> bool;
type PluginResetFn = unsafe extern "C" fn(*mut ExtismPlugin) -> bool;
type PluginCancelHandleFn = unsafe extern "C" fn(*const ExtismPlugin) -> *const ExtismCancelHandle;
type PluginCancelFn = unsafe extern "C" fn(*const ExtismCancelHandle) -> bool;
type FunctionNewFn = unsafe extern "C" fn(
    *const c_char,
    *const i32,
    u64,
    *const i32,
    u64,
    Option<ExtismFunctionType>,
    *mut c_void,
    Option<ExtismFreeUserData>,
) -> *mut ExtismFunction;
type FunctionSetNamespaceFn = unsafe extern "C" fn(*mut ExtismFunction, *const c_char);
type FunctionFreeFn = unsafe extern "C" fn(*mut ExtismFunction);
type CurrentPluginMemoryFn = unsafe extern "C" fn(*mut ExtismCurrentPlugin) -> *mut u8;
type CurrentPluginMemoryAllocFn = unsafe extern "C" fn(*mut ExtismCurrentPlugin, u64) -> u64;
type CurrentPluginMemoryLengthFn = unsafe extern "C" fn(*mut ExtismCurrentPlugin, u64) -> u64;
type CurrentPluginMemoryFreeFn = unsafe extern "C" fn(*mut ExtismCurrentPlugin, u64);

/// The resolved entry points. Plain function pointers: they stay valid for
/// the life of the process because the library is never unloaded.
struct Fns {
    version: VersionFn,
    plugin_new: PluginNewFn,
    plugin_new_with_fuel_limit: PluginNewWithFuelLimitFn,
    compiled_plugin_new: CompiledPluginNewFn,
    compiled_plugin_free: CompiledPluginFreeFn,
    plugin_new_from_compiled: PluginNewFromCompiledFn,
    plugin_new_error_free: PluginNewErrorFreeFn,
    plugin_free: PluginFreeFn,
    plugin_call: PluginCallFn,
    plugin_error: PluginErrorFn,
    plugin_output_length: PluginOutputLengthFn,
    plugin_output_data: PluginOutputDataFn,
    plugin_config: PluginConfigFn,
    plugin_function_exists: PluginFunctionExistsFn,
    plugin_reset: PluginResetFn,
    plugin_cancel_handle: PluginCancelHandleFn,
    plugin_cancel: PluginCancelFn,
    function_new: FunctionNewFn,
    function_set_namespace: FunctionSetNamespaceFn,
    function_free: FunctionFreeFn,
    current_plugin_memory: CurrentPluginMemoryFn,
    current_plugin_memory_alloc: CurrentPluginMemoryAllocFn,
    current_plugin_memory_length: CurrentPluginMemoryLengthFn,
    current_plugin_memory_free: CurrentPluginMemoryFreeFn,
}

/// A loaded shared library implementing the Extism C API, with every symbol
/// this wrapper needs resolved up front.
///
/// Always handled as an `Arc<CApiLibrary>`: plug-ins and host functions keep
/// the library alive. The library is never unloaded (see the module docs).
pub struct CApiLibrary {
    path: PathBuf,
    /// Kept only so the handle is owned; never dropped, so never `dlclose`d.
    _lib: ManuallyDrop<Library>,
    fns: Fns,
}

impl fmt::Debug for CApiLibrary {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("CApiLibrary")
            .field("path", &self.path)
            .finish_non_exhaustive()
    }
}

/// Resolves one symbol and copies the function pointer out of it.
///
/// # Safety
/// `T` must be the exact function pointer type of the symbol `name`, and the
/// returned pointer must not outlive `lib` (here: `lib` is never unloaded).
unsafe fn resolve<T: Copy>(lib: &Library, name: &str) -> Result<T, String> {
    // SAFETY: the caller guarantees `T` is the symbol's real type.
    let symbol = unsafe { lib.get::<T>(name.as_bytes()) }
        .map_err(|e| format!("missing symbol {name}: {e}"))?;
    Ok(*symbol)
}

impl CApiLibrary {
    /// Loads the shared library at `path` and resolves all the Extism C API
    /// symbols the wrapper uses.
    ///
    /// # Errors
    /// The loader's message when the file cannot be loaded, or a message
    /// naming the first missing symbol.
    pub fn open(path: &Path) -> Result<Arc<CApiLibrary>, String> {
        // SAFETY: loading a library runs its initialisers; the libraries this
        // is meant for (libextism, libinterplug) have no unsound ones.
        let lib = unsafe { Library::new(path) }
            .map_err(|e| format!("cannot load {}: {e}", path.display()))?;
        // SAFETY: for every `resolve` below, the type alias is the exact C
        // signature from the Extism C API (see spec/c-api.md), and the library
        // is kept loaded forever (`ManuallyDrop`), so the copied function
        // pointers never dangle.
        let fns = unsafe {
            Fns {
                version: resolve(&lib, "extism_version")?,
                plugin_new: resolve(&lib, "extism_plugin_new")?,
                plugin_new_with_fuel_limit: resolve(&lib, "extism_plugin_new_with_fuel_limit")?,
                compiled_plugin_new: resolve(&lib, "extism_compiled_plugin_new")?,
                compiled_plugin_free: resolve(&lib, "extism_compiled_plugin_free")?,
                plugin_new_from_compiled: resolve(&lib, "extism_plugin_new_from_compiled")?,
                plugin_new_error_free: resolve(&lib, "extism_plugin_new_error_free")?,
                plugin_free: resolve(&lib, "extism_plugin_free")?,
                plugin_call: resolve(&lib, "extism_plugin_call")?,
                plugin_error: resolve(&lib, "extism_plugin_error")?,
                plugin_output_length: resolve(&lib, "extism_plugin_output_length")?,
                plugin_output_data: resolve(&lib, "extism_plugin_output_data")?,
                plugin_config: resolve(&lib, "extism_plugin_config")?,
                plugin_function_exists: resolve(&lib, "extism_plugin_function_exists")?,
                plugin_reset: resolve(&lib, "extism_plugin_reset")?,
                plugin_cancel_handle: resolve(&lib, "extism_plugin_cancel_handle")?,
                plugin_cancel: resolve(&lib, "extism_plugin_cancel")?,
                function_new: resolve(&lib, "extism_function_new")?,
                function_set_namespace: resolve(&lib, "extism_function_set_namespace")?,
                function_free: resolve(&lib, "extism_function_free")?,
                current_plugin_memory: resolve(&lib, "extism_current_plugin_memory")?,
                current_plugin_memory_alloc: resolve(&lib, "extism_current_plugin_memory_alloc")?,
                current_plugin_memory_length: resolve(&lib, "extism_current_plugin_memory_length")?,
                current_plugin_memory_free: resolve(&lib, "extism_current_plugin_memory_free")?,
            }
        };
        Ok(Arc::new(CApiLibrary {
            path: path.to_path_buf(),
            _lib: ManuallyDrop::new(lib),
            fns,
        }))
    }

    /// The official library named by [`ORACLE_ENV`], `None` when the
    /// variable is unset or empty.
    ///
    /// # Errors
    /// As for [`CApiLibrary::open`], when the variable names a library that
    /// cannot be loaded.
    pub fn open_oracle() -> Result<Option<Arc<CApiLibrary>>, String> {
        match oracle_path() {
            Some(path) => CApiLibrary::open(&path)
                .map(Some)
                .map_err(|e| format!("{ORACLE_ENV}={}: {e}", path.display())),
            None => Ok(None),
        }
    }

    /// The path the library was loaded from.
    pub fn path(&self) -> &Path {
        &self.path
    }

    /// `extism_version()`, e.g. `"1.41.0"` (empty if the library returns NULL).
    pub fn version(&self) -> String {
        // SAFETY: takes no arguments; returns a static NUL-terminated string
        // or NULL.
        let p = unsafe { (self.fns.version)() };
        // SAFETY: non-NULL results are NUL-terminated static strings.
        unsafe { lossy_c_string(p) }.unwrap_or_default()
    }

    /// `extism_plugin_new`: creates a plug-in from wasm, WAT or manifest
    /// `bytes`, with the given host functions.
    ///
    /// # Errors
    /// The library's error message (copied, then released with
    /// `extism_plugin_new_error_free`) when creation fails, or a message of
    /// ours when a host function cannot be made (NUL in a name, or
    /// `extism_function_new` returning NULL).
    pub fn plugin_new(
        self: &Arc<Self>,
        bytes: &[u8],
        host_functions: &[CHostFunction],
        with_wasi: bool,
    ) -> Result<CPlugin, String> {
        self.create_plugin(bytes, host_functions, with_wasi, None)
    }

    /// `extism_plugin_new_with_fuel_limit`: like [`CApiLibrary::plugin_new`],
    /// with a per-call fuel limit.
    ///
    /// # Errors
    /// As for [`CApiLibrary::plugin_new`].
    pub fn plugin_new_with_fuel_limit(
        self: &Arc<Self>,
        bytes: &[u8],
        host_functions: &[CHostFunction],
        with_wasi: bool,
        fuel_limit: u64,
    ) -> Result<CPlugin, String> {
        self.create_plugin(bytes, host_functions, with_wasi, Some(fuel_limit))
    }

    fn create_plugin(
        self: &Arc<Self>,
        bytes: &[u8],
        host_functions: &[CHostFunction],
        with_wasi: bool,
        fuel_limit: Option<u64>,
    ) -> Result<CPlugin, String> {
        let ptr = self.construct(host_functions, |fns_arg, n_fns, errmsg| match fuel_limit {
            // SAFETY: `bytes` is valid for `bytes.len()` bytes; `fns_arg` is
            // NULL or points to `n_fns` live ExtismFunction pointers (see
            // `construct`); `errmsg` is a valid out-pointer.
            None => unsafe {
                (self.fns.plugin_new)(
                    bytes.as_ptr(),
                    bytes.len() as u64,
                    fns_arg,
                    n_fns,
                    with_wasi,
                    errmsg,
                )
            },
            // SAFETY: as for `extism_plugin_new` above.
            Some(fuel) => unsafe {
                (self.fns.plugin_new_with_fuel_limit)(
                    bytes.as_ptr(),
                    bytes.len() as u64,
                    fns_arg,
                    n_fns,
                    with_wasi,
                    fuel,
                    errmsg,
                )
            },
        })?;
        Ok(CPlugin::adopt(self, ptr))
    }

    /// `extism_compiled_plugin_new`: compiles wasm, WAT or manifest `bytes`
    /// once, with the given host functions; [`CCompiledPlugin::instantiate`]
    /// then makes plug-ins from it.
    ///
    /// # Errors
    /// As for [`CApiLibrary::plugin_new`].
    pub fn compiled_plugin_new(
        self: &Arc<Self>,
        bytes: &[u8],
        host_functions: &[CHostFunction],
        with_wasi: bool,
    ) -> Result<CCompiledPlugin, String> {
        let ptr = self.construct(host_functions, |fns_arg, n_fns, errmsg| {
            // SAFETY: as for `extism_plugin_new` in `create_plugin`.
            unsafe {
                (self.fns.compiled_plugin_new)(
                    bytes.as_ptr(),
                    bytes.len() as u64,
                    fns_arg,
                    n_fns,
                    with_wasi,
                    errmsg,
                )
            }
        })?;
        Ok(CCompiledPlugin {
            lib: Arc::clone(self),
            ptr,
        })
    }

    /// Runs one of the constructors that take host functions: makes the
    /// `ExtismFunction` objects, passes `make` the C array of them (NULL when
    /// there are none), its length and the `errmsg` out-pointer, then frees the
    /// function objects (a plug-in that was made has taken what it needs, as
    /// with libextism).
    fn construct<T>(
        self: &Arc<Self>,
        host_functions: &[CHostFunction],
        make: impl FnOnce(*mut *const ExtismFunction, u64, &mut *mut c_char) -> *mut T,
    ) -> Result<NonNull<T>, String> {
        let functions = FunctionSet::new(self, host_functions)?;
        let mut fn_ptrs: Vec<*const ExtismFunction> = functions.as_const_ptrs();
        let fns_arg = if fn_ptrs.is_empty() {
            ptr::null_mut()
        } else {
            fn_ptrs.as_mut_ptr()
        };
        let mut errmsg: *mut c_char = ptr::null_mut();
        let raw = make(fns_arg, fn_ptrs.len() as u64, &mut errmsg);
        drop(functions);
        self.adopt(raw, errmsg)
    }

    /// The result of a constructor: the object, or the error message it
    /// returned through `errmsg` (released here).
    #[inline]
    fn adopt<T>(&self, raw: *mut T, errmsg: *mut c_char) -> Result<NonNull<T>, String> {
        let message = self.take_error_message(errmsg);
        NonNull::new(raw).ok_or_else(|| {
            message.unwrap_or_else(|| "creation failed without an error message".into())
        })
    }

    /// Copies and frees an error message returned through `char** errmsg`.
    fn take_error_message(&self, errmsg: *mut c_char) -> Option<String> {
        if errmsg.is_null() {
            return None;
        }
        // SAFETY: a non-NULL errmsg is a NUL-terminated string from the library.
        let message = unsafe { lossy_c_string(errmsg) };
        // SAFETY: the message was allocated by this library for the caller to
        // release with extism_plugin_new_error_free, exactly once.
        unsafe { (self.fns.plugin_new_error_free)(errmsg) };
        message
    }
}

/// The `Debug` form of an object made by `lib`: its type, the library's path and
/// the object's address.
fn debug_handle<T>(
    f: &mut fmt::Formatter<'_>,
    name: &str,
    lib: &CApiLibrary,
    ptr: *const T,
) -> fmt::Result {
    f.debug_struct(name)
        .field("library", &lib.path)
        .field("ptr", &ptr)
        .finish_non_exhaustive()
}

/// Copies a C string into an owned `String` (invalid UTF-8 replaced), or
/// `None` for NULL.
///
/// # Safety
/// `p` must be NULL or point to a NUL-terminated string valid for reads.
unsafe fn lossy_c_string(p: *const c_char) -> Option<String> {
    if p.is_null() {
        return None;
    }
    // SAFETY: guaranteed by the caller.
    Some(unsafe { CStr::from_ptr(p) }.to_string_lossy().into_owned())
}

/// What a [`CHostFunction`] does with its single input block.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum HostBehaviour {
    /// Output block = the prefix followed by the input block's bytes.
    Prefix(Vec<u8>),
    /// Output block = the input block's bytes, ASCII-uppercased.
    Uppercase,
}

impl HostBehaviour {
    /// Computes the output bytes for `input`.
    pub fn apply(&self, input: &[u8]) -> Vec<u8> {
        match self {
            HostBehaviour::Prefix(prefix) => {
                let mut out = Vec::with_capacity(prefix.len() + input.len());
                out.extend_from_slice(prefix);
                out.extend_from_slice(input);
                out
            }
            HostBehaviour::Uppercase => input.to_ascii_uppercase(),
        }
    }
}

/// A host function given to a plug-in through the C API: imported as
/// `namespace`.`name` with signature `(i64) -> (i64)`; it reads the memory block
/// whose handle is its argument and returns the handle of a new block holding
/// `behaviour`'s output (0 if something went wrong).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct CHostFunction {
    /// The import name.
    pub name: String,
    /// The import namespace; `None` leaves the library's default
    /// ([`DEFAULT_HOST_NAMESPACE`]) by not calling
    /// `extism_function_set_namespace`.
    pub namespace: Option<String>,
    /// What the function computes.
    pub behaviour: HostBehaviour,
}

impl CHostFunction {
    /// A host function `name` in the default namespace.
    pub fn new(name: impl Into<String>, behaviour: HostBehaviour) -> Self {
        CHostFunction {
            name: name.into(),
            namespace: None,
            behaviour,
        }
    }

    /// The same function, imported from `namespace` instead.
    #[must_use]
    pub fn with_namespace(mut self, namespace: impl Into<String>) -> Self {
        self.namespace = Some(namespace.into());
        self
    }
}

/// The `user_data` behind each host function created here.
struct HostCtx {
    behaviour: HostBehaviour,
    lib: Arc<CApiLibrary>,
}

/// The ExtismFunction objects made for one plug-in creation; frees them all
/// (with `extism_function_free`) when dropped, on every path.
struct FunctionSet {
    lib: Arc<CApiLibrary>,
    ptrs: Vec<NonNull<ExtismFunction>>,
}

impl FunctionSet {
    fn new(lib: &Arc<CApiLibrary>, defs: &[CHostFunction]) -> Result<FunctionSet, String> {
        let mut set = FunctionSet {
            lib: Arc::clone(lib),
            ptrs: Vec::with_capacity(defs.len()),
        };
        let signature = [val_type::I64];
        for def in defs {
            let name = CString::new(def.name.as_str())
                .map_err(|_| format!("host function name {:?} contains NUL", def.name))?;
            let namespace = match &def.namespace {
                Some(ns) => Some(
                    CString::new(ns.as_str())
                        .map_err(|_| format!("host function namespace {ns:?} contains NUL"))?,
                ),
                None => None,
            };
            let user_data = Box::into_raw(Box::new(HostCtx {
                behaviour: def.behaviour.clone(),
                lib: Arc::clone(lib),
            }));
            // SAFETY: `name` is NUL-terminated; `signature` holds 1 valid
            // ExtismValType and is only read during the call; the callbacks
            // have the C signatures the API expects; `user_data` is a live
            // Box<HostCtx> whose ownership passes to the function object,
            // which releases it through `free_host_ctx`.
            let raw = unsafe {
                (lib.fns.function_new)(
                    name.as_ptr(),
                    signature.as_ptr(),
                    1,
                    signature.as_ptr(),
                    1,
                    Some(host_trampoline),
                    user_data.cast::<c_void>(),
                    Some(free_host_ctx),
                )
            };
            let Some(func) = NonNull::new(raw) else {
                // Whether the library already released `user_data` is
                // unknown, so it is deliberately leaked rather than risk a
                // double free.
                return Err(format!(
                    "extism_function_new returned NULL for {:?}",
                    def.name
                ));
            };
            set.ptrs.push(func);
            if let Some(ns) = &namespace {
                // SAFETY: `func` is a live function object from this library;
                // `ns` is NUL-terminated and only read during the call.
                unsafe { (lib.fns.function_set_namespace)(func.as_ptr(), ns.as_ptr()) };
            }
        }
        Ok(set)
    }

    fn as_const_ptrs(&self) -> Vec<*const ExtismFunction> {
        self.ptrs.iter().map(|p| p.as_ptr().cast_const()).collect()
    }
}

impl Drop for FunctionSet {
    fn drop(&mut self) {
        for func in self.ptrs.drain(..) {
            // SAFETY: each pointer came from extism_function_new of this
            // library and is freed exactly once. A function already taken by
            // a plug-in is only an empty shell at this point (libextism
            // semantics); an untaken one releases its user data.
            unsafe { (self.lib.fns.function_free)(func.as_ptr()) };
        }
    }
}

/// `free_user_data` callback: releases the `HostCtx` box.
unsafe extern "C" fn free_host_ctx(user_data: *mut c_void) {
    if user_data.is_null() {
        return;
    }
    let _ = catch_unwind(AssertUnwindSafe(|| {
        // SAFETY: `user_data` is the pointer made by Box::into_raw in
        // FunctionSet::new, and the library calls this callback once.
        drop(unsafe { Box::from_raw(user_data.cast::<HostCtx>()) });
    }));
}

/// The C callback behind every [`CHostFunction`]. Never unwinds: the body runs
/// under `catch_unwind`, and any failure yields the handle 0.
unsafe extern "C" fn host_trampoline(
    plugin: *mut ExtismCurrentPlugin,
    inputs: *const ExtismVal,
    n_inputs: u64,
    outputs: *mut ExtismVal,
    n_outputs: u64,
    user_data: *mut c_void,
) {
    let handle = catch_unwind(AssertUnwindSafe(|| {
        // SAFETY: the arguments are exactly those the library passed to this
        // callback, forwarded unchanged.
        unsafe { run_host_function(plugin, inputs, n_inputs, user_data) }
    }))
    .ok()
    .flatten()
    .unwrap_or(0);
    // Handles are offsets into a wasm memory, far below i64::MAX.
    let handle = i64::try_from(handle).unwrap_or(0);
    if !outputs.is_null() && n_outputs >= 1 {
        // SAFETY: the library passes `n_outputs` (>= 1 here) writable
        // ExtismVal slots at `outputs`.
        unsafe { outputs.write(ExtismVal::i64(handle)) };
    }
}

/// The body of [`host_trampoline`]: returns the output block's handle.
///
/// # Safety
/// The arguments must be those given by the library to a host function made
/// by [`FunctionSet::new`] (so `user_data` is a live `HostCtx`).
unsafe fn run_host_function(
    plugin: *mut ExtismCurrentPlugin,
    inputs: *const ExtismVal,
    n_inputs: u64,
    user_data: *mut c_void,
) -> Option<u64> {
    if plugin.is_null() || inputs.is_null() || n_inputs < 1 || user_data.is_null() {
        return None;
    }
    // SAFETY: `user_data` is our Box<HostCtx>; the library frees it only once
    // the function can no longer be called, so it is alive for this call.
    let ctx = unsafe { &*user_data.cast::<HostCtx>() };
    // SAFETY: the library passes `n_inputs` (>= 1 here) initialised values.
    let input = unsafe { inputs.read() };
    let handle = u64::try_from(as_i64(&input)?).ok()?;
    let fns = &ctx.lib.fns;
    // SAFETY: `plugin` is the current plug-in given to this callback; the
    // borrowed block is last used by `apply`, before anything is allocated.
    let data = unsafe { borrow_block(fns, plugin, handle) }?;
    let out = ctx.behaviour.apply(data);
    // SAFETY: as above.
    unsafe { write_block(fns, plugin, &out) }
}

/// The bytes of the memory block `handle`, borrowed from the plug-in's memory
/// (not copied: the host call round trip is measured by `bench-compare`).
///
/// # Safety
/// `plugin` must be the live current plug-in handed to a host function, and
/// the slice must not be used after anything that may grow or change the
/// plug-in's memory (an allocation, the end of the host call); the caller
/// picks the lifetime `'a` accordingly.
unsafe fn borrow_block<'a>(
    fns: &Fns,
    plugin: *mut ExtismCurrentPlugin,
    handle: u64,
) -> Option<&'a [u8]> {
    if handle == 0 {
        return Some(&[]);
    }
    // SAFETY: `plugin` is live (caller); any handle value is accepted.
    let len = unsafe { (fns.current_plugin_memory_length)(plugin, handle) };
    if len == 0 {
        return Some(&[]);
    }
    let len = usize::try_from(len).ok()?;
    let offset = usize::try_from(handle).ok()?;
    // SAFETY: `plugin` is live (caller).
    let base = unsafe { (fns.current_plugin_memory)(plugin) };
    if base.is_null() {
        return None;
    }
    (base as usize).checked_add(offset)?.checked_add(len)?;
    // SAFETY: per the C API, `base + handle` is the first byte of the block,
    // which holds `len` bytes inside the plug-in's memory; nothing else
    // touches that memory while the host function runs, and the caller stops
    // using the slice before the memory can change.
    Some(unsafe { std::slice::from_raw_parts(base.add(offset), len) })
}

/// Allocates a block in the plug-in's memory, fills it with `data` and
/// returns its handle (0 when the allocation fails).
///
/// # Safety
/// `plugin` must be the live current plug-in handed to a host function.
unsafe fn write_block(fns: &Fns, plugin: *mut ExtismCurrentPlugin, data: &[u8]) -> Option<u64> {
    // SAFETY: `plugin` is live (caller).
    let handle = unsafe { (fns.current_plugin_memory_alloc)(plugin, data.len() as u64) };
    if handle == 0 || data.is_empty() {
        return Some(handle);
    }
    let offset = usize::try_from(handle).ok()?;
    // Re-read the base only now: allocating may have grown (moved) memory.
    // SAFETY: `plugin` is live (caller).
    let base = unsafe { (fns.current_plugin_memory)(plugin) };
    if base.is_null() {
        // Give the block back rather than leak it inside the plug-in.
        // SAFETY: `handle` was just allocated in this plug-in.
        unsafe { (fns.current_plugin_memory_free)(plugin, handle) };
        return None;
    }
    (base as usize)
        .checked_add(offset)?
        .checked_add(data.len())?;
    // SAFETY: the block at `base + handle` was just allocated with room for
    // `data.len()` bytes and cannot overlap `data`, which lives in host memory.
    unsafe { ptr::copy_nonoverlapping(data.as_ptr(), base.add(offset), data.len()) };
    Some(handle)
}

/// A compiled plug-in (`ExtismCompiledPlugin`), freed with
/// `extism_compiled_plugin_free` on drop.
pub struct CCompiledPlugin {
    lib: Arc<CApiLibrary>,
    ptr: NonNull<ExtismCompiledPlugin>,
}

impl fmt::Debug for CCompiledPlugin {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        debug_handle(f, "CCompiledPlugin", &self.lib, self.ptr.as_ptr())
    }
}

impl CCompiledPlugin {
    /// `extism_plugin_new_from_compiled`: a new plug-in of the compiled module.
    ///
    /// # Errors
    /// The library's error message when instantiation fails.
    #[inline]
    pub fn instantiate(&self) -> Result<CPlugin, String> {
        let mut errmsg: *mut c_char = ptr::null_mut();
        // SAFETY: `self.ptr` is a live compiled plug-in; `errmsg` is a valid
        // out-pointer.
        let raw =
            unsafe { (self.lib.fns.plugin_new_from_compiled)(self.ptr.as_ptr(), &mut errmsg) };
        let ptr = self.lib.adopt(raw, errmsg)?;
        Ok(CPlugin::adopt(&self.lib, ptr))
    }
}

impl Drop for CCompiledPlugin {
    fn drop(&mut self) {
        // SAFETY: `self.ptr` came from extism_compiled_plugin_new of this
        // library and is freed exactly once, here; plug-ins made from it do not
        // depend on it (C API contract).
        unsafe { (self.lib.fns.compiled_plugin_free)(self.ptr.as_ptr()) };
    }
}

/// The result of one `extism_plugin_call`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct CallOutcome {
    /// The return code (0 on success).
    pub rc: i32,
    /// A copy of the output (`extism_plugin_output_data` /
    /// `extism_plugin_output_length`), read after every call.
    pub output: Vec<u8>,
    /// `extism_plugin_error` when `rc != 0` (an empty string if the library
    /// returned NULL or an empty message); `None` when `rc == 0`.
    pub error: Option<String>,
}

/// A failed [`CPlugin::call_borrowed`]: the return code and the library's
/// error message (empty when it gave none).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct CallFailure {
    /// The non-zero return code.
    pub rc: i32,
    /// `extism_plugin_error`, read right after the call.
    pub message: String,
}

impl fmt::Display for CallFailure {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "rc {}: {}", self.rc, self.message)
    }
}

impl std::error::Error for CallFailure {}

impl CallOutcome {
    /// `true` when the call returned 0.
    pub fn is_ok(&self) -> bool {
        self.rc == 0
    }
}

/// A plug-in created through the C API; freed with `extism_plugin_free` on
/// drop.
pub struct CPlugin {
    lib: Arc<CApiLibrary>,
    ptr: NonNull<ExtismPlugin>,
    /// Shared with cancel handles; set to `false` (under the lock) before the
    /// plug-in is freed, so a handle never touches a freed plug-in.
    alive: Arc<Mutex<bool>>,
}

// SAFETY: the C API does not tie a plug-in to the thread that created it (the
// official SDKs move plug-ins between threads), and every mutating operation
// here takes `&mut self`, so moving a CPlugin to another thread is sound.
unsafe impl Send for CPlugin {}

impl fmt::Debug for CPlugin {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        debug_handle(f, "CPlugin", &self.lib, self.ptr.as_ptr())
    }
}

impl CPlugin {
    /// Takes ownership of a plug-in made by `lib`.
    #[inline]
    fn adopt(lib: &Arc<CApiLibrary>, ptr: NonNull<ExtismPlugin>) -> CPlugin {
        CPlugin {
            lib: Arc::clone(lib),
            ptr,
            alive: Arc::new(Mutex::new(true)),
        }
    }

    /// The library this plug-in was created by.
    pub fn library(&self) -> &Arc<CApiLibrary> {
        &self.lib
    }

    /// `extism_plugin_call`: calls the export `name` with `input` and collects
    /// the return code, output and (on failure) error message.
    ///
    /// A `name` containing a NUL byte cannot be passed through the C API; it
    /// gives `rc == -1` without calling the library.
    pub fn call(&mut self, name: &str, input: &[u8]) -> CallOutcome {
        let Ok(c_name) = CString::new(name) else {
            return CallOutcome {
                rc: -1,
                output: Vec::new(),
                error: Some(format!("function name {name:?} contains NUL (not sent)")),
            };
        };
        let rc = self.raw_call(&c_name, input);
        let output = self.output().to_vec();
        let error = if rc != 0 {
            Some(self.error().unwrap_or_default())
        } else {
            None
        };
        CallOutcome { rc, output, error }
    }

    /// `extism_plugin_call` without copies, for measuring: the output is
    /// borrowed from the plug-in until the next call, and the error message
    /// is only read when the call fails. Inlined into the caller, so the
    /// stack the official runtime walks on each call is the caller's own.
    ///
    /// # Errors
    /// A [`CallFailure`] with the return code and the library's message when
    /// the return code is not 0.
    #[inline]
    pub fn call_borrowed(&mut self, name: &CStr, input: &[u8]) -> Result<&[u8], CallFailure> {
        let rc = self.raw_call(name, input);
        if rc != 0 {
            return Err(CallFailure {
                rc,
                message: self.error().unwrap_or_default(),
            });
        }
        Ok(self.output())
    }

    /// `extism_plugin_call` itself: the return code.
    #[inline]
    fn raw_call(&mut self, name: &CStr, input: &[u8]) -> i32 {
        // SAFETY: `self.ptr` is a live plug-in; `name` is NUL-terminated;
        // `input` is valid for `input.len()` bytes for the whole call.
        unsafe {
            (self.lib.fns.plugin_call)(
                self.ptr.as_ptr(),
                name.as_ptr(),
                input.as_ptr(),
                input.len() as u64,
            )
        }
    }

    /// The last call's output, borrowed: valid until the next call, which the
    /// borrow of `self` rules out.
    #[inline]
    fn output(&self) -> &[u8] {
        let fns = &self.lib.fns;
        // SAFETY: `self.ptr` is a live plug-in.
        let len = unsafe { (fns.plugin_output_length)(self.ptr.as_ptr()) };
        if len == 0 {
            return &[];
        }
        let Ok(len) = usize::try_from(len) else {
            return &[];
        };
        // SAFETY: `self.ptr` is a live plug-in.
        let data = unsafe { (fns.plugin_output_data)(self.ptr.as_ptr()) };
        if data.is_null() {
            return &[];
        }
        // SAFETY: the output stays valid (`len` bytes at `data`) until the
        // next call on this plug-in, which needs `&mut self` and so cannot
        // happen while the returned slice (tied to `&self`) is alive.
        unsafe { std::slice::from_raw_parts(data, len) }
    }

    /// `extism_plugin_error`: the last error message, `None` if NULL.
    pub fn error(&self) -> Option<String> {
        // SAFETY: `self.ptr` is a live plug-in.
        let p = unsafe { (self.lib.fns.plugin_error)(self.ptr.as_ptr()) };
        // SAFETY: non-NULL results are NUL-terminated strings owned by the
        // plug-in, valid until its next operation; copied at once.
        unsafe { lossy_c_string(p) }
    }

    /// `extism_plugin_config`: merges a JSON object of string (or `null`)
    /// values into the plug-in's config. `false` on bad JSON.
    pub fn config(&mut self, json: &str) -> bool {
        // SAFETY: `self.ptr` is a live plug-in; `json` is valid for its length.
        unsafe { (self.lib.fns.plugin_config)(self.ptr.as_ptr(), json.as_ptr(), json.len() as u64) }
    }

    /// `extism_plugin_function_exists`. A name containing NUL never exists.
    pub fn function_exists(&self, name: &str) -> bool {
        let Ok(c_name) = CString::new(name) else {
            return false;
        };
        // SAFETY: `self.ptr` is a live plug-in; `c_name` is NUL-terminated.
        unsafe { (self.lib.fns.plugin_function_exists)(self.ptr.as_ptr(), c_name.as_ptr()) }
    }

    /// `extism_plugin_reset`: resets the plug-in's Extism memory.
    pub fn reset(&mut self) -> bool {
        // SAFETY: `self.ptr` is a live plug-in.
        unsafe { (self.lib.fns.plugin_reset)(self.ptr.as_ptr()) }
    }

    /// `extism_plugin_cancel_handle`: a handle that can cancel a running call
    /// from another thread; `None` if the library returns NULL. The handle
    /// may outlive the plug-in: it then does nothing.
    pub fn cancel_handle(&self) -> Option<CCancelHandle> {
        // SAFETY: `self.ptr` is a live plug-in.
        let handle = unsafe { (self.lib.fns.plugin_cancel_handle)(self.ptr.as_ptr()) };
        if handle.is_null() {
            return None;
        }
        Some(CCancelHandle {
            lib: Arc::clone(&self.lib),
            handle,
            alive: Arc::clone(&self.alive),
        })
    }
}

impl Drop for CPlugin {
    fn drop(&mut self) {
        // Waits for any cancel in progress, then stops later ones.
        *self.alive.lock().unwrap_or_else(PoisonError::into_inner) = false;
        // SAFETY: `self.ptr` came from extism_plugin_new* of this library and
        // is freed exactly once, here.
        unsafe { (self.lib.fns.plugin_free)(self.ptr.as_ptr()) };
    }
}

/// A `Send + Sync` wrapper for `extism_plugin_cancel_handle`'s result.
///
/// The C handle points into the plug-in, so it is only used while the plug-in
/// is alive; after [`CPlugin`] is dropped, [`CCancelHandle::cancel`] returns
/// `false` without calling the library.
pub struct CCancelHandle {
    lib: Arc<CApiLibrary>,
    handle: *const ExtismCancelHandle,
    alive: Arc<Mutex<bool>>,
}

// SAFETY: the C API's cancel handle exists to be used from another thread
// while the plug-in runs; use after free is prevented by `alive`.
unsafe impl Send for CCancelHandle {}
// SAFETY: `extism_plugin_cancel` only takes a const pointer and is meant to be
// called concurrently with a running call; calls through `&self` are
// serialised against plug-in destruction by the `alive` mutex.
unsafe impl Sync for CCancelHandle {}

impl fmt::Debug for CCancelHandle {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        debug_handle(f, "CCancelHandle", &self.lib, self.handle)
    }
}

impl CCancelHandle {
    /// `extism_plugin_cancel`: asks the running (or next) call to stop.
    /// Returns the library's answer, or `false` if the plug-in is gone.
    pub fn cancel(&self) -> bool {
        let alive = self.alive.lock().unwrap_or_else(PoisonError::into_inner);
        if !*alive {
            return false;
        }
        // SAFETY: the plug-in is alive (and cannot be freed while `alive` is
        // locked), so the handle pointing into it is valid.
        unsafe { (self.lib.fns.plugin_cancel)(self.handle) }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn behaviours() {
        assert_eq!(HostBehaviour::Uppercase.apply(b"abC-1\xff"), b"ABC-1\xff");
        assert_eq!(HostBehaviour::Prefix(b"hi ".to_vec()).apply(b"x"), b"hi x");
        assert_eq!(HostBehaviour::Prefix(Vec::new()).apply(b""), b"");
    }

    #[test]
    fn handles_are_read_from_i64_values_only() {
        assert_eq!(as_i64(&ExtismVal::i64(-5)), Some(-5));
        let mut not_i64 = ExtismVal::i64(-5);
        not_i64.t = val_type::I32;
        assert_eq!(as_i64(&not_i64), None);
    }

    #[test]
    fn open_missing_library_fails() {
        let Err(err) = CApiLibrary::open(Path::new("/nonexistent/libnothing.so")) else {
            panic!("a missing library must not load");
        };
        assert!(err.contains("cannot load"), "{err}");
    }
}
