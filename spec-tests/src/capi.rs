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
//! A library opened here is never unloaded (no `dlclose`): Rust `cdylib`s with
//! thread-local destructors and runtimes that install signal handlers are not
//! safe to unload, and a host function's `free_user_data` callback may drop the
//! last reference to the library while running inside it.

use std::ffi::{c_char, c_void, CStr, CString};
use std::fmt;
use std::marker::{PhantomData, PhantomPinned};
use std::mem::ManuallyDrop;
use std::panic::{catch_unwind, AssertUnwindSafe};
use std::path::{Path, PathBuf};
use std::ptr::{self, NonNull};
use std::sync::{Arc, Mutex, PoisonError};

use libloading::Library;

/// The namespace a host function is imported from when none is set:
/// `extism:host/user`.
pub const DEFAULT_HOST_NAMESPACE: &str = "extism:host/user";

/// `ExtismValType`: the type tag of an [`ExtismVal`] (a C enum, `int` sized).
#[repr(i32)]
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum ExtismValType {
    /// `int32_t`.
    I32 = 0,
    /// `int64_t`; also used for Extism memory handles (`EXTISM_PTR`).
    I64 = 1,
    /// `float`.
    F32 = 2,
    /// `double`.
    F64 = 3,
    /// A 128-bit SIMD value.
    V128 = 4,
    /// A function reference.
    FuncRef = 5,
    /// An external reference.
    ExternRef = 6,
}

impl ExtismValType {
    /// Converts the raw C enum value into an [`ExtismValType`], or `None` if
    /// the value is not one of the defined tags.
    pub fn from_raw(raw: i32) -> Option<Self> {
        Some(match raw {
            0 => Self::I32,
            1 => Self::I64,
            2 => Self::F32,
            3 => Self::F64,
            4 => Self::V128,
            5 => Self::FuncRef,
            6 => Self::ExternRef,
            _ => return None,
        })
    }
}

/// The value part of an [`ExtismVal`]: the C union
/// `{ int32_t i32; int64_t i64; float f32; double f64; }` (8 bytes).
#[repr(C)]
#[derive(Clone, Copy)]
pub union ExtismValUnion {
    /// Valid when the tag is [`ExtismValType::I32`].
    pub i32: i32,
    /// Valid when the tag is [`ExtismValType::I64`].
    pub i64: i64,
    /// Valid when the tag is [`ExtismValType::F32`].
    pub f32: f32,
    /// Valid when the tag is [`ExtismValType::F64`].
    pub f64: f64,
}

/// `ExtismVal`: `struct { ExtismValType t; union { ... } v; }`, 16 bytes.
///
/// The tag is kept as its raw `i32` so that a value written by a foreign
/// library can never be an invalid Rust enum; use [`ExtismVal::val_type`].
#[repr(C)]
#[derive(Clone, Copy)]
pub struct ExtismVal {
    /// The raw `ExtismValType` tag (see [`ExtismValType`]).
    pub t: i32,
    /// The value, interpreted according to `t`.
    pub v: ExtismValUnion,
}

impl ExtismVal {
    /// An `I64` value (the type used for Extism memory handles).
    pub fn i64(value: i64) -> Self {
        ExtismVal {
            t: ExtismValType::I64 as i32,
            v: ExtismValUnion { i64: value },
        }
    }

    /// The tag as an [`ExtismValType`], or `None` for an unknown tag.
    pub fn val_type(&self) -> Option<ExtismValType> {
        ExtismValType::from_raw(self.t)
    }

    /// The value as an `i64` if the tag says `I64`.
    pub fn as_i64(&self) -> Option<i64> {
        if self.t == ExtismValType::I64 as i32 {
            // SAFETY: the tag says I64, so `i64` is the field that was written;
            // besides, every bit pattern of the 8-byte union is a valid i64.
            Some(unsafe { self.v.i64 })
        } else {
            None
        }
    }
}

impl fmt::Debug for ExtismVal {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        // SAFETY: all fields of the union are plain numbers, every bit pattern
        // of the (fully initialised, 8-byte) union is a valid i64 and the
        // 4-byte prefix a valid i32/f32.
        let raw = unsafe { self.v.i64 };
        match self.val_type() {
            Some(ExtismValType::I32) => {
                // SAFETY: as above; the tag says I32.
                write!(f, "ExtismVal::I32({})", unsafe { self.v.i32 })
            }
            Some(ExtismValType::F32) => {
                // SAFETY: as above; the tag says F32.
                write!(f, "ExtismVal::F32({})", unsafe { self.v.f32 })
            }
            Some(ExtismValType::F64) => {
                // SAFETY: as above; the tag says F64.
                write!(f, "ExtismVal::F64({})", unsafe { self.v.f64 })
            }
            Some(t) => write!(f, "ExtismVal::{t:?}({raw})"),
            None => write!(f, "ExtismVal {{ t: {}, bits: {raw:#x} }}", self.t),
        }
    }
}

// The layout must match the C header exactly: an `int` tag, then the 8-byte union
// aligned as the target's C ABI aligns `int64_t` (8 on 64-bit targets and armv7, 4 on
// i686: there the struct is 12 bytes, as gcc lays it out).
const I64_ALIGN: usize = std::mem::align_of::<i64>();
const _: () = assert!(std::mem::size_of::<ExtismValType>() == 4);
const _: () = assert!(std::mem::size_of::<ExtismValUnion>() == 8);
const _: () = assert!(std::mem::align_of::<ExtismValUnion>() == I64_ALIGN);
const _: () =
    assert!(std::mem::size_of::<ExtismVal>() == 8 + if I64_ALIGN > 4 { I64_ALIGN } else { 4 });
const _: () = assert!(std::mem::align_of::<ExtismVal>() == I64_ALIGN);

macro_rules! opaque {
    ($(#[$doc:meta] $name:ident),* $(,)?) => {$(
        #[$doc]
        #[repr(C)]
        pub struct $name {
            _private: [u8; 0],
            _marker: PhantomData<(*mut u8, PhantomPinned)>,
        }
    )*};
}

opaque! {
    /// Opaque `ExtismPlugin` (only ever used behind a pointer).
    ExtismPlugin,
    /// Opaque `ExtismCurrentPlugin`, handed to host functions.
    ExtismCurrentPlugin,
    /// Opaque `ExtismFunction`, a host function definition.
    ExtismFunction,
    /// Opaque `ExtismCancelHandle`.
    ExtismCancelHandle,
}

/// The C host function callback type.
type HostFn = unsafe extern "C" fn(
    *mut ExtismCurrentPlugin,
    *const ExtismVal,
    u64,
    *mut ExtismVal,
    u64,
    *mut c_void,
);
/// The `free_user_data` callback type.
type FreeUserDataFn = unsafe extern "C" fn(*mut c_void);

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
    *const ExtismValType,
    u64,
    *const ExtismValType,
    u64,
    Option<HostFn>,
    *mut c_void,
    Option<FreeUserDataFn>,
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
        let functions = FunctionSet::new(self, host_functions)?;
        let mut fn_ptrs: Vec<*const ExtismFunction> = functions.as_const_ptrs();
        let fns_arg = if fn_ptrs.is_empty() {
            ptr::null_mut()
        } else {
            fn_ptrs.as_mut_ptr()
        };
        let n_fns = fn_ptrs.len() as u64;
        let mut errmsg: *mut c_char = ptr::null_mut();
        let raw = match fuel_limit {
            // SAFETY: `bytes` is valid for `bytes.len()` bytes; `fns_arg` is
            // NULL or points to `n_fns` live ExtismFunction pointers owned by
            // `functions`; `errmsg` is a valid out-pointer.
            None => unsafe {
                (self.fns.plugin_new)(
                    bytes.as_ptr(),
                    bytes.len() as u64,
                    fns_arg,
                    n_fns,
                    with_wasi,
                    &mut errmsg,
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
                    &mut errmsg,
                )
            },
        };
        // The plug-in (if any) has taken the host functions; the ExtismFunction
        // objects themselves stay ours to free, as with libextism.
        drop(functions);
        let message = self.take_error_message(errmsg);
        match NonNull::new(raw) {
            Some(ptr) => Ok(CPlugin {
                lib: Arc::clone(self),
                ptr,
                alive: Arc::new(Mutex::new(true)),
            }),
            None => Err(message
                .unwrap_or_else(|| "plug-in creation failed without an error message".into())),
        }
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
        let signature = [ExtismValType::I64];
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
    let handle = u64::try_from(input.as_i64()?).ok()?;
    let fns = &ctx.lib.fns;
    // SAFETY: `plugin` is the current plug-in given to this callback.
    let data = unsafe { read_block(fns, plugin, handle) }?;
    let out = ctx.behaviour.apply(&data);
    // SAFETY: as above.
    unsafe { write_block(fns, plugin, &out) }
}

/// Copies the bytes of the memory block `handle` out of the plug-in's memory.
///
/// # Safety
/// `plugin` must be the live current plug-in handed to a host function.
unsafe fn read_block(fns: &Fns, plugin: *mut ExtismCurrentPlugin, handle: u64) -> Option<Vec<u8>> {
    if handle == 0 {
        return Some(Vec::new());
    }
    // SAFETY: `plugin` is live (caller); any handle value is accepted.
    let len = unsafe { (fns.current_plugin_memory_length)(plugin, handle) };
    if len == 0 {
        return Some(Vec::new());
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
    // touches that memory while the host function runs.
    let bytes = unsafe { std::slice::from_raw_parts(base.add(offset), len) };
    Some(bytes.to_vec())
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
        f.debug_struct("CPlugin")
            .field("library", &self.lib.path)
            .field("ptr", &self.ptr)
            .finish_non_exhaustive()
    }
}

impl CPlugin {
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
        let fns = &self.lib.fns;
        // SAFETY: `self.ptr` is a live plug-in; `c_name` is NUL-terminated;
        // `input` is valid for `input.len()` bytes for the whole call.
        let rc = unsafe {
            (fns.plugin_call)(
                self.ptr.as_ptr(),
                c_name.as_ptr(),
                input.as_ptr(),
                input.len() as u64,
            )
        };
        let output = self.output();
        let error = if rc != 0 {
            Some(self.error().unwrap_or_default())
        } else {
            None
        };
        CallOutcome { rc, output, error }
    }

    /// A copy of the last call's output.
    fn output(&self) -> Vec<u8> {
        let fns = &self.lib.fns;
        // SAFETY: `self.ptr` is a live plug-in.
        let len = unsafe { (fns.plugin_output_length)(self.ptr.as_ptr()) };
        if len == 0 {
            return Vec::new();
        }
        let Ok(len) = usize::try_from(len) else {
            return Vec::new();
        };
        // SAFETY: `self.ptr` is a live plug-in.
        let data = unsafe { (fns.plugin_output_data)(self.ptr.as_ptr()) };
        if data.is_null() {
            return Vec::new();
        }
        // SAFETY: the output stays valid (`len` bytes at `data`) until the
        // next call on this plug-in, which `&self` rules out here.
        unsafe { std::slice::from_raw_parts(data, len) }.to_vec()
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
        f.debug_struct("CCancelHandle")
            .field("library", &self.lib.path)
            .field("handle", &self.handle)
            .finish_non_exhaustive()
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
    fn val_layout_and_tags() {
        let v = ExtismVal::i64(-5);
        assert_eq!(v.val_type(), Some(ExtismValType::I64));
        assert_eq!(v.as_i64(), Some(-5));
        assert_eq!(ExtismValType::from_raw(7), None);
        // After the 4-byte tag, at the C ABI's int64_t alignment (4 on i686).
        assert_eq!(std::mem::offset_of!(ExtismVal, v), I64_ALIGN.max(4));
    }

    #[test]
    fn open_missing_library_fails() {
        let Err(err) = CApiLibrary::open(Path::new("/nonexistent/libnothing.so")) else {
            panic!("a missing library must not load");
        };
        assert!(err.contains("cannot load"), "{err}");
    }
}
