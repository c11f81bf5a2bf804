//! `PluginBuilder`: the options a plug-in is created with.
//!
//! Every method of the `extism` crate's builder is here. Those that configure
//! wasmtime (its `Config`, code cache, profiler, core and memory dumps, debug info)
//! are accepted and do nothing: interplug interprets with wasmi and has none of them.
//!
//! # Examples
//!
//! ```
//! use interplug::{Manifest, PluginBuilder, Wasm};
//! let manifest = Manifest::new([Wasm::file("spec-tests/fixtures/count_vowels.wasm")]);
//! let mut plugin = PluginBuilder::new(manifest)
//!     .with_wasi(false)
//!     .with_fuel_limit(50_000_000)
//!     .with_cache_disabled() // a wasmtime setting: accepted, no effect
//!     .build()?;
//! let output: String = plugin.call("count_vowels", "hello")?;
//! assert!(output.starts_with(r#"{"count":2"#));
//! # Ok::<(), interplug::Error>(())
//! ```

use crate::{
    host::current_plugin::CurrentPlugin, host::function::Function, limits::clock::Clock,
    manifest::input::WasmInput, manifest::Manifest, Error,
};
use alloc::{borrow::Cow, string::String, sync::Arc, vec::Vec};

/// Builds a [`Plugin`](crate::Plugin) or [`CompiledPlugin`](crate::CompiledPlugin) step
/// by step: [`PluginBuilder::build`] instantiates, [`PluginBuilder::compile`] compiles
/// for many instances.
#[derive(Clone)]
pub struct PluginBuilder<'a> {
    pub(crate) source: WasmInput<'a>,
    pub(crate) functions: Vec<Function>,
    pub(crate) options: Options,
}

/// Settings chosen on the builder.
#[derive(Clone)]
pub(crate) struct Options {
    pub(crate) wasi: bool,
    pub(crate) fuel_limit: Option<u64>,
    pub(crate) interruptible: bool,
    pub(crate) clock: Option<Arc<dyn Clock>>,
    pub(crate) http_response_headers: bool,
    pub(crate) wasi_output: bool,
    /// Fuel for instantiation and initialisation, when set apart from the call limit.
    pub(crate) initialization_fuel: Option<u64>,
    /// Whether the bulk I/O pass rewrites the plug-in's copy loops.
    pub(crate) bulk_io: bool,
    /// Whether linear memories are lazy (untouched pages not resident) where the
    /// platform has lazy memory.
    pub(crate) lazy_memory: bool,
    /// Fuel an async call runs between two yields to the executor (`None`: never).
    pub(crate) yield_fuel: Option<u64>,
    /// Debug settings of the `extism` crate's builder; kept, unused by the engine.
    pub(crate) debug: DebugOptions,
}

/// The profiling strategy of the `extism` crate's [`DebugOptions`] (a wasmtime
/// setting). interplug has no JIT to profile: every value is accepted and ignored.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum ProfilingStrategy {
    /// No profiling.
    #[default]
    None,
    /// Linux `perf` map files (ignored).
    PerfMap,
    /// `perf` jitdump files (ignored).
    JitDump,
    /// Intel VTune (ignored).
    VTune,
    /// The Pulley interpreter's profiler (ignored).
    Pulley,
}

/// Debug settings of the `extism` crate (wasmtime profiling, core dumps, memory
/// dumps, debug info). interplug accepts and keeps them and does nothing with them:
/// its errors already name the failing function and trap.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct DebugOptions {
    /// Profiler to feed (ignored).
    pub profiling_strategy: ProfilingStrategy,
    /// Where to write a wasm core dump on a trap (ignored).
    pub coredump: Option<crate::manifest::HostPath>,
    /// Where to write the linear memory on a failure (ignored).
    pub memdump: Option<crate::manifest::HostPath>,
    /// Whether to emit native debug info (ignored).
    pub debug_info: bool,
}

impl<'a> PluginBuilder<'a> {
    /// Starts from module bytes or a manifest.
    pub fn new(source: impl Into<WasmInput<'a>>) -> Self {
        PluginBuilder {
            source: source.into(),
            functions: Vec::new(),
            options: Options {
                wasi: false,
                fuel_limit: None,
                interruptible: true,
                clock: crate::limits::clock::default_clock(),
                http_response_headers: false,
                wasi_output: crate::platform::wasi_output_from_env(),
                initialization_fuel: None,
                debug: DebugOptions::default(),
                bulk_io: crate::platform::bulk_io_from_env(),
                lazy_memory: crate::platform::lazy_memory_from_env(),
                yield_fuel: None,
            },
        }
    }

    /// Replaces the source with a manifest.
    pub fn with_manifest(mut self, manifest: impl Into<Manifest>) -> Self {
        self.source = WasmInput::Manifest(Cow::Owned(manifest.into()));
        self
    }

    /// Enables WASI preview 1.
    pub fn with_wasi(mut self, wasi: bool) -> Self {
        self.options.wasi = wasi;
        self
    }

    /// Adds a host function.
    pub fn with_function<T: 'static + Send, F>(
        mut self,
        name: impl Into<String>,
        params: impl IntoIterator<Item = crate::ValType>,
        results: impl IntoIterator<Item = crate::ValType>,
        user_data: crate::UserData<T>,
        f: F,
    ) -> Self
    where
        F: Fn(
                &mut CurrentPlugin,
                &[crate::Val],
                &mut [crate::Val],
                crate::UserData<T>,
            ) -> Result<(), Error>
            + Send
            + Sync
            + 'static,
    {
        self.functions
            .push(Function::new(name, params, results, user_data, f));
        self
    }

    /// Adds a host function in another namespace.
    pub fn with_function_in_namespace<T: 'static + Send, F>(
        mut self,
        namespace: impl Into<String>,
        name: impl Into<String>,
        params: impl IntoIterator<Item = crate::ValType>,
        results: impl IntoIterator<Item = crate::ValType>,
        user_data: crate::UserData<T>,
        f: F,
    ) -> Self
    where
        F: Fn(
                &mut CurrentPlugin,
                &[crate::Val],
                &mut [crate::Val],
                crate::UserData<T>,
            ) -> Result<(), Error>
            + Send
            + Sync
            + 'static,
    {
        self.functions
            .push(Function::new(name, params, results, user_data, f).with_namespace(namespace));
        self
    }

    /// Adds host functions.
    pub fn with_functions(mut self, functions: impl IntoIterator<Item = Function>) -> Self {
        self.functions.extend(functions);
        self
    }

    /// Gives every call `fuel` units of fuel; a call that spends them fails.
    pub fn with_fuel_limit(mut self, fuel: u64) -> Self {
        self.options.fuel_limit = Some(fuel);
        self
    }

    /// Turns timeout and cancel support off (it is on by default). Without it, calls
    /// run slightly faster but `timeout_ms` and [`CancelHandle`](crate::CancelHandle) have no effect.
    /// A fuel limit turns it back on.
    pub fn with_interruption(mut self, interruptible: bool) -> Self {
        self.options.interruptible = interruptible;
        self
    }

    /// Under [`Plugin::call_async`](crate::Plugin::call_async), gives the executor its
    /// thread back every `fuel` units of fuel the plug-in runs, so that a long call
    /// shares its thread with other tasks (off by default: an async call then runs
    /// until it ends or waits on a host function). Each yield wakes the task and
    /// returns `Pending` once: no timer, no allocation. Sync calls never yield. Needs
    /// fuel metering, so it keeps it on even with `with_interruption(false)`; 0 turns
    /// yielding off.
    ///
    /// # Examples
    ///
    /// ```
    /// use interplug::PluginBuilder;
    /// let wat = r#"(module (func (export "noop") (result i32) i32.const 0))"#;
    /// let mut plugin = PluginBuilder::new(wat).with_yield_fuel(100_000).build()?;
    /// assert_eq!(plugin.call::<&str, &str>("noop", "")?, "");
    /// # Ok::<(), interplug::Error>(())
    /// ```
    pub fn with_yield_fuel(mut self, fuel: u64) -> Self {
        self.options.yield_fuel = (fuel > 0).then_some(fuel);
        self
    }

    /// The clock used for `timeout_ms` (needed for timeouts without `std`).
    pub fn with_clock(mut self, clock: Arc<dyn Clock>) -> Self {
        self.options.clock = Some(clock);
        self
    }

    /// Lets plug-ins read HTTP response headers with `http_headers`.
    pub fn with_http_response_headers(mut self, allow: bool) -> Self {
        self.options.http_response_headers = allow;
        self
    }

    /// Passes the plug-in's WASI stdout and stderr through to the host's (off by
    /// default unless `EXTISM_ENABLE_WASI_OUTPUT` is set).
    pub fn with_wasi_output(mut self, enable: bool) -> Self {
        self.options.wasi_output = enable;
        self
    }

    /// Turns the bulk-I/O rewrite on or off (on by default unless the environment
    /// variable `INTERPLUG_BULK_IO` is `0` or `off`). When on, the copy loops the
    /// Extism PDKs run around `input_load_u64`, `load_u64` and `store_u64` (and their
    /// `u8` forms) are given one bulk copy each when the plug-in is compiled
    /// ([`crate::rewrite::bulk_io`]); plug-ins behave the same either way, only faster
    /// and with less fuel used for large inputs and outputs. Without `std` there is no
    /// rewriting and this has no effect.
    ///
    /// # Examples
    ///
    /// ```
    /// use interplug::PluginBuilder;
    /// let wat = r#"(module (func (export "noop") (result i32) i32.const 0))"#;
    /// let mut plugin = PluginBuilder::new(wat).with_bulk_io(false).build()?;
    /// assert_eq!(plugin.call::<&str, &str>("noop", "")?, "");
    /// # Ok::<(), interplug::Error>(())
    /// ```
    pub fn with_bulk_io(mut self, enable: bool) -> Self {
        self.options.bulk_io = enable && crate::platform::bulk_io_supported();
        self
    }

    /// Turns lazy linear memory on or off (on by default, unless the environment
    /// variable `INTERPLUG_LAZY_MEMORY` is `0` or `off`; it exists only where the
    /// platform table of `docs/platforms.md` says so). With it, a page of the
    /// plug-in's memory costs resident memory only once the plug-in writes it, and
    /// `memory.grow` never copies the memory; the price is a few system calls and page
    /// faults per instance (`docs/performance.md`). Off, the module keeps its own
    /// memory, the engine's heap buffer, as before lazy memory: every page of it
    /// resident and a copy of the memory on some growths, but an instance made and
    /// dropped in a loop costs less time. Plug-ins behave the same either way.
    ///
    /// # Examples
    ///
    /// ```
    /// use interplug::PluginBuilder;
    /// let wat = r#"(module (memory (export "memory") 17)
    ///     (func (export "noop") (result i32) i32.const 0))"#;
    /// let mut plugin = PluginBuilder::new(wat).with_lazy_memory(false).build()?;
    /// assert_eq!(plugin.call::<&str, &str>("noop", "")?, "");
    /// # Ok::<(), interplug::Error>(())
    /// ```
    pub fn with_lazy_memory(mut self, enable: bool) -> Self {
        self.options.lazy_memory = enable;
        self
    }
}

/// The `extism` crate's builder methods for wasmtime and debug settings: accepted,
/// documented, and (except the initialization fuel limit) without effect.
impl PluginBuilder<'_> {
    /// Bounds the fuel a module's start function and constructors may use while the
    /// plug-in is instantiated (by default the call fuel limit, capped at
    /// 500,000,000).
    pub fn with_initialization_fuel_limit(mut self, fuel: u64) -> Self {
        self.options.initialization_fuel = Some(fuel);
        self
    }

    /// A wasmtime setting: accepted and ignored (no JIT to profile).
    pub fn with_profiling_strategy<P>(mut self, _strategy: P) -> Self {
        self.options.debug.profiling_strategy = ProfilingStrategy::None;
        self
    }

    /// A wasmtime setting (core dump on trap): accepted, kept in the debug options,
    /// and ignored.
    #[cfg(feature = "std")]
    pub fn with_coredump(mut self, path: impl Into<std::path::PathBuf>) -> Self {
        self.options.debug.coredump = Some(path.into());
        self
    }

    /// A wasmtime setting (linear memory dump on failure): accepted, kept in the debug
    /// options, and ignored.
    #[cfg(feature = "std")]
    pub fn with_memdump(mut self, path: impl Into<std::path::PathBuf>) -> Self {
        self.options.debug.memdump = Some(path.into());
        self
    }

    /// A wasmtime setting (native debug info): accepted and ignored.
    pub fn with_debug_info(mut self) -> Self {
        self.options.debug.debug_info = true;
        self
    }

    /// The `extism` crate's debug settings: accepted, kept, and ignored.
    pub fn with_debug_options(mut self, options: DebugOptions) -> Self {
        self.options.debug = options;
        self
    }

    /// A wasmtime setting (on-disk code cache): accepted and ignored; interplug keeps
    /// recently compiled modules in memory instead.
    #[cfg(feature = "std")]
    pub fn with_cache_config(self, _dir: impl Into<std::path::PathBuf>) -> Self {
        self
    }

    /// A wasmtime setting (turns its code cache off): accepted and ignored.
    pub fn with_cache_disabled(self) -> Self {
        self
    }

    /// A `wasmtime::Config`: accepted (any value) and ignored; the engine is
    /// interplug's wasmi configuration.
    pub fn with_wasmtime_config<C>(self, _config: C) -> Self {
        self
    }
}
