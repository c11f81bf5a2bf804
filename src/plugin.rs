//! `Plugin`, `CompiledPlugin` and `PluginBuilder`: loading modules and the call
//! life cycle.

use crate::{
    convert::{FromBytes, ToBytes},
    current_plugin::CurrentPlugin,
    function::Function,
    limits::{CallLimits, CancelHandle, Clock, Stop, FUEL_SLICE},
    manifest::Manifest,
    sources::{self, LoadedModule},
    Error,
};
use alloc::{
    borrow::Cow,
    boxed::Box,
    format,
    string::{String, ToString},
    sync::Arc,
    vec::Vec,
};
use core::any::Any;
use wasmi::{Engine, Func, Instance, Linker, Module, Store};

/// Fuel a module's start function and constructors may use at instantiation (about
/// a second of interpretation), unless the plug-in's fuel limit is lower.
const INIT_FUEL: u64 = 500_000_000;

/// What a plug-in is made from: module bytes (wasm, WAT, or a JSON/TOML manifest) or
/// a manifest.
#[derive(Debug, Clone)]
pub enum WasmInput<'a> {
    /// Bytes: a wasm binary, wasm text, or a manifest document.
    Data(Cow<'a, [u8]>),
    /// A manifest.
    Manifest(Cow<'a, Manifest>),
}

impl<'a> From<&'a [u8]> for WasmInput<'a> {
    fn from(bytes: &'a [u8]) -> Self {
        WasmInput::Data(Cow::Borrowed(bytes))
    }
}

impl<'a, const N: usize> From<&'a [u8; N]> for WasmInput<'a> {
    fn from(bytes: &'a [u8; N]) -> Self {
        WasmInput::Data(Cow::Borrowed(bytes))
    }
}

impl<'a> From<&'a Vec<u8>> for WasmInput<'a> {
    fn from(bytes: &'a Vec<u8>) -> Self {
        WasmInput::Data(Cow::Borrowed(bytes))
    }
}

impl From<Vec<u8>> for WasmInput<'_> {
    fn from(bytes: Vec<u8>) -> Self {
        WasmInput::Data(Cow::Owned(bytes))
    }
}

impl<'a> From<&'a str> for WasmInput<'a> {
    fn from(text: &'a str) -> Self {
        WasmInput::Data(Cow::Borrowed(text.as_bytes()))
    }
}

impl From<Manifest> for WasmInput<'_> {
    fn from(manifest: Manifest) -> Self {
        WasmInput::Manifest(Cow::Owned(manifest))
    }
}

impl<'a> From<&'a Manifest> for WasmInput<'a> {
    fn from(manifest: &'a Manifest) -> Self {
        WasmInput::Manifest(Cow::Borrowed(manifest))
    }
}

/// Builds a [`Plugin`] or [`CompiledPlugin`] step by step.
pub struct PluginBuilder<'a> {
    source: WasmInput<'a>,
    functions: Vec<Function>,
    options: Options,
}

/// Settings chosen on the builder.
#[derive(Clone)]
struct Options {
    wasi: bool,
    fuel_limit: Option<u64>,
    interruptible: bool,
    clock: Option<Arc<dyn Clock>>,
    http_response_headers: bool,
    wasi_output: bool,
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
                clock: crate::limits::default_clock(),
                http_response_headers: false,
                wasi_output: wasi_output_from_env(),
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
    /// run slightly faster but `timeout_ms` and [`CancelHandle`] have no effect.
    /// A fuel limit turns it back on.
    pub fn with_interruption(mut self, interruptible: bool) -> Self {
        self.options.interruptible = interruptible;
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

    /// Compiles the modules, for instantiating many plug-ins.
    ///
    /// Every function body is validated before this returns, as Extism does; function
    /// bodies are translated for the interpreter at their first call. Modules seen
    /// recently in this process (same bytes) are taken from an in-process cache. With
    /// `std` and more than one CPU, a helper thread validates while this thread
    /// compiles (and, in [`PluginBuilder::build`], instantiates).
    pub fn compile(self) -> Result<CompiledPlugin, Error> {
        CompiledPlugin::compile(self.source, self.functions, self.options)
    }

    /// Compiles and instantiates the plug-in.
    pub fn build(self) -> Result<Plugin, Error> {
        let (_, plugin) = CompiledPlugin::compile_then(
            self.source,
            self.functions,
            self.options,
            Plugin::new_from_compiled,
        )?;
        Ok(plugin)
    }
}

/// True when `EXTISM_ENABLE_WASI_OUTPUT` asks for plug-in output.
fn wasi_output_from_env() -> bool {
    #[cfg(feature = "std")]
    {
        std::env::var_os("EXTISM_ENABLE_WASI_OUTPUT").is_some()
    }
    #[cfg(not(feature = "std"))]
    {
        false
    }
}

/// What is shared by every instance of a compiled plug-in.
struct Compiled {
    engine: Engine,
    linker: Linker<CurrentPlugin>,
    main: Module,
    /// Other modules, named, in an order where each only imports earlier ones.
    others: Vec<(String, Module)>,
    manifest: Arc<Manifest>,
    options: Options,
}

/// Plug-in modules compiled once, instantiated many times, shared across threads.
/// Cloning is cheap.
#[derive(Clone)]
pub struct CompiledPlugin {
    inner: Arc<Compiled>,
}

impl core::fmt::Debug for CompiledPlugin {
    fn fmt(&self, f: &mut core::fmt::Formatter<'_>) -> core::fmt::Result {
        f.debug_struct("CompiledPlugin").finish_non_exhaustive()
    }
}

impl CompiledPlugin {
    /// Compiles `source` with these host functions.
    pub fn new<'a>(
        source: impl Into<WasmInput<'a>>,
        functions: impl IntoIterator<Item = Function>,
        with_wasi: bool,
    ) -> Result<Self, Error> {
        PluginBuilder::new(source)
            .with_functions(functions)
            .with_wasi(with_wasi)
            .compile()
    }

    fn compile(
        source: WasmInput<'_>,
        functions: Vec<Function>,
        options: Options,
    ) -> Result<Self, Error> {
        Self::compile_then(source, functions, options, |_| Ok(())).map(|(compiled, ())| compiled)
    }

    /// Compiles `source`, then runs `then` on the result. When the modules are not in
    /// the module cache, `then` runs while their function bodies are still being
    /// validated on another thread (`std` only); an invalid body fails the whole
    /// creation, whatever `then` returned.
    fn compile_then<T>(
        source: WasmInput<'_>,
        functions: Vec<Function>,
        options: Options,
        then: impl FnOnce(&CompiledPlugin) -> Result<T, Error>,
    ) -> Result<(Self, T), Error> {
        let (manifest, modules) = sources::load(source)?;
        let fueled = options.interruptible || options.fuel_limit.is_some();
        if let Some(cached) = module_cache::get(fueled, &modules) {
            let compiled = Self::link(cached, manifest, functions, options)?;
            let value = then(&compiled)?;
            return Ok((compiled, value));
        }
        let compile_and_run = || -> Result<(CachedModules, CompiledPlugin, T), Error> {
            let cached = compile_modules(fueled, &modules)?;
            let compiled = Self::link(cached.clone(), manifest, functions, options)?;
            let value = then(&compiled)?;
            Ok((cached, compiled, value))
        };
        #[cfg(feature = "std")]
        let (cached, compiled, value) = crate::validate::alongside(&modules, compile_and_run)?;
        #[cfg(not(feature = "std"))]
        let (cached, compiled, value) = compile_and_run()?;
        module_cache::put(fueled, modules, &cached);
        Ok((compiled, value))
    }

    /// Binds compiled modules to the kernel, WASI and host functions, checking that
    /// every import is provided.
    fn link(
        cached: CachedModules,
        manifest: Manifest,
        functions: Vec<Function>,
        options: Options,
    ) -> Result<Self, Error> {
        let CachedModules {
            engine,
            main,
            others,
        } = cached;
        let mut linker = Linker::new(&engine);
        crate::env::add_to_linker(&mut linker)
            .map_err(|e| anyhow::anyhow!("cannot define the Extism kernel functions: {e}"))?;
        #[cfg(feature = "wasi")]
        if options.wasi {
            crate::wasi::add_to_linker(&mut linker)?;
        }
        for function in &functions {
            define_host_function(&mut linker, function)?;
        }
        let module_names: Vec<&str> = others.iter().map(|(n, _)| n.as_str()).collect();
        for (name, module) in others
            .iter()
            .map(|(n, m)| (n.as_str(), m))
            .chain([("main", &main)])
        {
            check_imports(name, module, &functions, &module_names, options.wasi)?;
        }
        Ok(CompiledPlugin {
            inner: Arc::new(Compiled {
                engine,
                linker,
                main,
                others,
                manifest: Arc::new(manifest),
                options,
            }),
        })
    }

    /// The manifest the plug-in was made from.
    pub fn manifest(&self) -> &Manifest {
        &self.inner.manifest
    }

    /// Creates a fresh store and instance.
    fn instantiate(
        &self,
        id: uuid::Uuid,
        cancel: &CancelHandle,
    ) -> Result<(Store<CurrentPlugin>, Instance), Error> {
        let compiled = &*self.inner;
        let mut state = CurrentPlugin::new(compiled.manifest.clone(), id);
        state.clock = compiled.options.clock.clone();
        state.http.allow_response_headers = compiled.options.http_response_headers;
        #[cfg(feature = "wasi")]
        if compiled.options.wasi {
            state.wasi = Some(crate::wasi::context(
                &compiled.manifest,
                compiled.options.wasi_output,
            )?);
        }
        let mut store = Store::new(&compiled.engine, state);
        store.limiter(|state| state as &mut dyn wasmi::ResourceLimiter);
        let fueled = store.get_fuel().is_ok();
        let init_fuel = compiled
            .options
            .fuel_limit
            .map_or(INIT_FUEL, |limit| limit.min(INIT_FUEL));
        if fueled {
            store
                .set_fuel(init_fuel)
                .map_err(|e| anyhow::anyhow!("cannot set fuel: {e}"))?;
        }
        let instance = if compiled.others.is_empty() {
            compiled
                .linker
                .instantiate_and_start(&mut store, &compiled.main)
        } else {
            let mut linker = compiled.linker.clone();
            for (name, module) in &compiled.others {
                let instance = linker
                    .instantiate_and_start(&mut store, module)
                    .map_err(|e| instantiation_error(&store, name, e))?;
                linker
                    .instance(&mut store, name, instance)
                    .map_err(|e| anyhow::anyhow!("cannot link module `{name}`: {e}"))?;
            }
            linker.instantiate_and_start(&mut store, &compiled.main)
        }
        .map_err(|e| instantiation_error(&store, "main", e))?;

        // Reactor and language-runtime constructors run once, before any call.
        let limits = CallLimits {
            cancel: cancel.clone(),
            clock: None,
            timeout_ms: None,
            fuel_limit: None,
        };
        let init = ["_initialize", "__wasm_call_ctors"]
            .into_iter()
            .find_map(|name| instance.get_func(&store, name).map(|f| (name, f)));
        for (name, func) in init
            .into_iter()
            .chain(instance.get_func(&store, "hs_init").map(|f| ("hs_init", f)))
        {
            let ty = func.ty(&store);
            let params: Vec<wasmi::Val> = ty
                .params()
                .iter()
                .map(|t| wasmi::Val::default_for_ty(*t))
                .collect();
            let mut results: Vec<wasmi::Val> = ty
                .results()
                .iter()
                .map(|t| wasmi::Val::default_for_ty(*t))
                .collect();
            if fueled {
                let _ = store.set_fuel(init_fuel);
            }
            run(
                &mut store,
                func,
                &params,
                &mut results,
                &limits,
                fueled,
                Some(init_fuel),
            )
            .map_err(|e| anyhow::anyhow!("the plug-in's `{name}` failed: {}", e.error))?;
        }
        Ok((store, instance))
    }
}

/// A plug-in's modules compiled on their engine.
#[derive(Clone)]
struct CachedModules {
    engine: Engine,
    main: Module,
    /// The other modules, in an order where each only imports earlier ones.
    others: Vec<(String, Module)>,
}

/// Fuel costs with compiling a function at its first call made free. wasmi charges
/// fuel for lazy compilation by default, but running out of fuel there ends the call
/// with an error it cannot resume, which would surface instead of interplug's
/// out-of-fuel error, and would make fuel use depend on which functions an engine
/// had already compiled. Compilation work is bounded by the (validated) module size,
/// so timeouts still hold. Copies keep wasmi's default of 64 bytes per unit.
const COMPILATION_IS_FREE: wasmi::CustomFuelCosts = wasmi::CustomFuelCosts {
    bytes_copied_per_fuel: 64,
    fuel_per_bytes_translated: 0,
    fuel_per_bytes_validated: 0,
};

/// Compiles `modules` on a new engine. Function bodies are translated at their first
/// call. With `std` they are validated by [`crate::validate::alongside`] (the caller's
/// job), without it here, before this returns.
fn compile_modules(fueled: bool, modules: &[LoadedModule]) -> Result<CachedModules, Error> {
    let mut config = wasmi::Config::default();
    config.consume_fuel(fueled).fuel_cost(COMPILATION_IS_FREE);
    #[cfg(feature = "std")]
    crate::validate::configure(&mut config);
    #[cfg(not(feature = "std"))]
    config.compilation_mode(wasmi::CompilationMode::LazyTranslation);
    let engine = Engine::new(&config);
    let mut main = None;
    let mut others = Vec::new();
    for LoadedModule { name, bytes } in modules {
        let module = Module::new(&engine, &bytes[..])
            .map_err(|e| anyhow::anyhow!("invalid wasm module `{name}`: {e}"))?;
        if name == "main" {
            main = Some(module);
        } else {
            others.push((name.clone(), module));
        }
    }
    let main = main.ok_or_else(|| anyhow::anyhow!("the manifest has no `main` module"))?;
    let others = order_by_imports(others)?;
    Ok(CachedModules {
        engine,
        main,
        others,
    })
}

/// Recently compiled modules, by their bytes, so that creating a plug-in from the
/// same modules again skips parsing and validation (most of the cost of creating a
/// plug-in from bytes; the official runtime keeps an on-disk compilation cache for the
/// same reason). Validation already succeeded for identical bytes, so behaviour is
/// unchanged. Bounded by [`module_cache::MAX_ENTRIES`] entries and
/// [`module_cache::MAX_BYTES`] bytes of module binaries; the least recently used entry
/// goes first. Plug-ins made from an entry share its engine, as plug-ins made from one
/// [`CompiledPlugin`] do; host functions, WASI and options are not part of an entry.
mod module_cache {
    use super::{CachedModules, LoadedModule};
    use alloc::vec::Vec;

    /// Most entries kept.
    pub(super) const MAX_ENTRIES: usize = 16;
    /// Most bytes of module binaries kept (larger plug-ins are not cached).
    pub(super) const MAX_BYTES: usize = 32 << 20;

    /// One cached plug-in: the key (fuel metering on or off, the named module
    /// binaries) and the compiled modules.
    struct Entry {
        fueled: bool,
        sources: Vec<LoadedModule>,
        bytes: usize,
        compiled: CachedModules,
    }

    /// Entries, least recently used first.
    static CACHE: spin::Mutex<Vec<Entry>> = spin::Mutex::new(Vec::new());

    /// Total binary size of `sources`.
    fn size(sources: &[LoadedModule]) -> usize {
        sources.iter().map(|m| m.bytes.len()).sum()
    }

    /// The compiled modules of exactly these sources, if cached.
    pub(super) fn get(fueled: bool, sources: &[LoadedModule]) -> Option<CachedModules> {
        let bytes = size(sources);
        let mut cache = CACHE.lock();
        let index = cache.iter().position(|e| {
            e.fueled == fueled
                && e.bytes == bytes
                && e.sources.len() == sources.len()
                && e.sources
                    .iter()
                    .zip(sources)
                    .all(|(a, b)| a.name == b.name && a.bytes == b.bytes)
        })?;
        let entry = cache.remove(index);
        let compiled = entry.compiled.clone();
        cache.push(entry);
        Some(compiled)
    }

    /// Remembers freshly compiled modules.
    pub(super) fn put(fueled: bool, sources: Vec<LoadedModule>, compiled: &CachedModules) {
        let bytes = size(&sources);
        if bytes > MAX_BYTES {
            return;
        }
        let entry = Entry {
            fueled,
            sources,
            bytes,
            compiled: compiled.clone(),
        };
        let mut evicted = Vec::new();
        {
            let mut cache = CACHE.lock();
            cache.push(entry);
            let mut total: usize = cache.iter().map(|e| e.bytes).sum();
            while cache.len() > MAX_ENTRIES || total > MAX_BYTES {
                let old = cache.remove(0);
                total -= old.bytes;
                evicted.push(old);
            }
        }
        // Engines are freed outside the lock.
        drop(evicted);
    }
}

/// Makes an instantiation error readable.
fn instantiation_error(store: &Store<CurrentPlugin>, module: &str, error: wasmi::Error) -> Error {
    if store.data().budget.oom {
        return store.data().budget.oom_error();
    }
    anyhow::anyhow!("cannot instantiate module `{module}`: {error}")
}

/// Sorts named modules so each one's imports of other modules come first.
fn order_by_imports(mut pending: Vec<(String, Module)>) -> Result<Vec<(String, Module)>, Error> {
    let names: Vec<String> = pending.iter().map(|(n, _)| n.clone()).collect();
    let mut ordered: Vec<(String, Module)> = Vec::new();
    while !pending.is_empty() {
        let ready = pending.iter().position(|(_, module)| {
            module.imports().all(|import| {
                !names.iter().any(|n| n == import.module())
                    || ordered.iter().any(|(done, _)| done == import.module())
            })
        });
        match ready {
            Some(index) => ordered.push(pending.remove(index)),
            None => {
                let stuck: Vec<&str> = pending.iter().map(|(n, _)| n.as_str()).collect();
                anyhow::bail!(
                    "modules {stuck:?} import each other in a cycle; interplug links modules in \
                     dependency order"
                );
            }
        }
    }
    Ok(ordered)
}

/// Checks every import of `module` is one interplug can satisfy, naming the ones it
/// cannot.
fn check_imports(
    module_name: &str,
    module: &Module,
    functions: &[Function],
    module_names: &[&str],
    wasi: bool,
) -> Result<(), Error> {
    let mut problems = Vec::new();
    for import in module.imports() {
        let (m, n) = (import.module(), import.name());
        let is_func = matches!(import.ty(), wasmi::ExternType::Func(_));
        if m == crate::env::ENV_MODULE {
            if !is_func || !crate::env::ENV_FUNCTIONS.contains(&n) {
                problems.push(format!(
                    "`{m}`.`{n}` is not an Extism kernel function (unknown import of {m})"
                ));
            }
        } else if m == "wasi_snapshot_preview1" {
            if !wasi {
                problems.push(format!(
                    "`{m}`.`{n}` needs WASI, which is not enabled: create the plug-in with \
                     WASI on (with_wasi(true))"
                ));
            }
        } else if module_names.contains(&m) || (m == "main" && module_name != "main") {
            // Another module of the manifest; the linker checks the type.
        } else if !functions
            .iter()
            .any(|f| f.namespace() == m && f.name() == n)
        {
            problems.push(format!(
                "`{m}`.`{n}` ({}) is not provided: register a host function with that \
                 namespace and name",
                describe_extern(import.ty())
            ));
        }
    }
    if problems.is_empty() {
        Ok(())
    } else {
        anyhow::bail!(
            "module `{module_name}` has unresolved imports:\n  {}",
            problems.join("\n  ")
        )
    }
}

/// A short text for an import's type.
fn describe_extern(ty: &wasmi::ExternType) -> String {
    match ty {
        wasmi::ExternType::Func(f) => format!("func {:?} -> {:?}", f.params(), f.results()),
        wasmi::ExternType::Memory(_) => String::from("memory"),
        wasmi::ExternType::Table(_) => String::from("table"),
        wasmi::ExternType::Global(_) => String::from("global"),
    }
}

/// Defines a user host function on the linker.
fn define_host_function(
    linker: &mut Linker<CurrentPlugin>,
    function: &Function,
) -> Result<(), Error> {
    let params = function
        .params()
        .iter()
        .map(|t| t.to_wasmi())
        .collect::<Result<Vec<_>, _>>()?;
    let results = function
        .results()
        .iter()
        .map(|t| t.to_wasmi())
        .collect::<Result<Vec<_>, _>>()?;
    let ty = wasmi::FuncType::new(params, results.clone());
    let callback = function.callback.clone();
    let label: Arc<str> = Arc::from(format!("{}::{}", function.namespace(), function.name()));
    linker
        .func_new(
            function.namespace(),
            function.name(),
            ty,
            move |mut caller, inputs, outputs| {
                let inputs: Vec<crate::Val> = inputs.iter().map(crate::Val::from_wasmi).collect();
                let mut values: Vec<crate::Val> =
                    outputs.iter().map(crate::Val::from_wasmi).collect();
                let state = caller.data_mut();
                call_guarded(&*callback, state, &inputs, &mut values).map_err(|e| {
                    wasmi::Error::new(format!("host function `{label}` failed: {e:#}"))
                })?;
                for ((slot, value), ty) in outputs.iter_mut().zip(values).zip(&results) {
                    *slot = value
                        .to_wasmi(*ty)
                        .map_err(|e| wasmi::Error::new(format!("host function `{label}`: {e}")))?;
                }
                Ok(())
            },
        )
        .map_err(|e| {
            anyhow::anyhow!(
                "cannot register host function `{}`.`{}`: {e}",
                function.namespace(),
                function.name()
            )
        })?;
    Ok(())
}

/// Calls a host function, turning a panic into an error (with `std`).
fn call_guarded(
    callback: &crate::function::HostCallback,
    state: &mut CurrentPlugin,
    inputs: &[crate::Val],
    outputs: &mut [crate::Val],
) -> Result<(), Error> {
    #[cfg(feature = "std")]
    {
        let result = std::panic::catch_unwind(std::panic::AssertUnwindSafe(|| {
            callback(state, inputs, outputs)
        }));
        match result {
            Ok(result) => result,
            Err(panic) => Err(anyhow::anyhow!("panicked: {}", panic_message(&*panic))),
        }
    }
    #[cfg(not(feature = "std"))]
    {
        callback(state, inputs, outputs)
    }
}

/// The text of a panic payload.
#[cfg(feature = "std")]
pub(crate) fn panic_message(panic: &(dyn Any + Send)) -> String {
    if let Some(text) = panic.downcast_ref::<&str>() {
        String::from(*text)
    } else if let Some(text) = panic.downcast_ref::<String>() {
        text.clone()
    } else {
        String::from("(no message)")
    }
}

/// A failed run of a wasm function.
struct RunError {
    error: Error,
    /// The WASI exit status, when the plug-in called `proc_exit`.
    exit: Option<i32>,
    /// The instance may be inconsistent and is rebuilt before the next call.
    poisoned: bool,
    /// Fuel the call used before it failed (0 without fuel metering).
    fuel_used: u64,
}

impl RunError {
    /// Records how much fuel the call had used when it failed.
    fn after_using(mut self, fuel: u64) -> Self {
        self.fuel_used = fuel;
        self
    }
}

/// Runs `func` under the limits. With fuel metering on, the engine runs in slices
/// of [`FUEL_SLICE`], checking cancel, deadline and the fuel limit between them.
fn run(
    store: &mut Store<CurrentPlugin>,
    func: Func,
    params: &[wasmi::Val],
    results: &mut [wasmi::Val],
    limits: &CallLimits,
    fueled: bool,
    init_fuel: Option<u64>,
) -> Result<u64, RunError> {
    let to_run_error = |store: &Store<CurrentPlugin>, error: wasmi::Error| {
        if let Some(status) = error.i32_exit_status() {
            return RunError {
                error: anyhow::anyhow!("the plug-in exited with status {status}"),
                exit: Some(status),
                poisoned: true,
                fuel_used: 0,
            };
        }
        let error = if store.data().budget.oom {
            store.data().budget.oom_error()
        } else {
            anyhow::anyhow!("{error}")
        };
        RunError {
            error,
            exit: None,
            poisoned: true,
            fuel_used: 0,
        }
    };
    if !fueled {
        return func
            .call(&mut *store, params, results)
            .map(|()| 0)
            .map_err(|e| to_run_error(store, e));
    }
    let stop = |store: &Store<CurrentPlugin>, stop: Stop| {
        let _ = store;
        RunError {
            error: stop.error(limits),
            exit: None,
            poisoned: true,
            fuel_used: 0,
        }
    };
    let mut fuel_left = limits.fuel_limit;
    let slice = |left: Option<u64>, required: u64| match left {
        Some(left) => left.min(FUEL_SLICE.max(required)),
        None => FUEL_SLICE.max(required),
    };
    let mut given = init_fuel.unwrap_or_else(|| slice(fuel_left, 0));
    let mut consumed = 0u64;
    let _ = store.set_fuel(given);
    let mut attempt = func.call_resumable(&mut *store, params, results);
    loop {
        let spent = given.saturating_sub(store.get_fuel().unwrap_or(0));
        consumed = consumed.saturating_add(spent);
        if let Some(left) = fuel_left.as_mut() {
            *left = left.saturating_sub(spent);
        }
        let call = attempt.map_err(|e| to_run_error(store, e).after_using(consumed))?;
        match call {
            wasmi::ResumableCall::Finished => return Ok(consumed),
            wasmi::ResumableCall::HostTrap(trap) => {
                return Err(to_run_error(store, trap.into_host_error()).after_using(consumed));
            }
            wasmi::ResumableCall::OutOfFuel(pending) => {
                if let Some(init_fuel) = init_fuel {
                    return Err(RunError {
                        error: anyhow::anyhow!("used more than {init_fuel} units of fuel"),
                        exit: None,
                        poisoned: true,
                        fuel_used: consumed,
                    });
                }
                let stopped = if fuel_left == Some(0)
                    || fuel_left.is_some_and(|l| l < pending.required_fuel())
                {
                    Some(Stop::OutOfFuel)
                } else if limits.cancel.is_cancelled() {
                    Some(Stop::Cancelled)
                } else if matches!(
                    (&limits.clock, store.data().deadline_ms),
                    (Some(clock), Some(deadline)) if clock.now_ms() > deadline
                ) {
                    Some(Stop::TimedOut)
                } else {
                    None
                };
                if let Some(reason) = stopped {
                    return Err(stop(store, reason).after_using(consumed));
                }
                given = slice(fuel_left, pending.required_fuel());
                let _ = store.set_fuel(given);
                attempt = pending.resume(&mut *store, results);
            }
        }
    }
}

/// The outcome of a failed call: the error and the return code the C API reports.
#[derive(Debug)]
pub(crate) struct CallFailure {
    pub(crate) error: Error,
    pub(crate) rc: i32,
}

/// A plug-in instance: call its functions.
pub struct Plugin {
    compiled: CompiledPlugin,
    store: Store<CurrentPlugin>,
    instance: Instance,
    cancel: CancelHandle,
    needs_rebuild: bool,
    fuel_consumed: Option<u64>,
    /// The plug-in function called last, so that calling it again skips the export
    /// lookup and type check. Cleared with the instance.
    last_function: Option<PluginFunction>,
    /// This plug-in's id.
    pub id: uuid::Uuid,
}

/// An export checked to be a plug-in function (`() -> i32` or `() -> ()`).
struct PluginFunction {
    name: String,
    func: Func,
    /// Whether it returns the i32 return code.
    returns_code: bool,
}

impl core::fmt::Debug for Plugin {
    fn fmt(&self, f: &mut core::fmt::Formatter<'_>) -> core::fmt::Result {
        f.debug_struct("Plugin")
            .field("id", &self.id)
            .finish_non_exhaustive()
    }
}

/// A new plug-in id.
fn new_id() -> uuid::Uuid {
    #[cfg(feature = "std")]
    {
        uuid::Uuid::new_v4()
    }
    #[cfg(not(feature = "std"))]
    {
        use core::sync::atomic::{AtomicU64, Ordering};
        static COUNTER: AtomicU64 = AtomicU64::new(1);
        let n = COUNTER.fetch_add(1, Ordering::Relaxed);
        uuid::Uuid::from_u64_pair(0x696e_7465_7270_6c75, n)
    }
}

impl Plugin {
    /// Creates a plug-in from module bytes or a manifest, with host functions, and
    /// WASI when `with_wasi`.
    pub fn new<'a>(
        source: impl Into<WasmInput<'a>>,
        functions: impl IntoIterator<Item = Function>,
        with_wasi: bool,
    ) -> Result<Plugin, Error> {
        PluginBuilder::new(source)
            .with_functions(functions)
            .with_wasi(with_wasi)
            .build()
    }

    /// Creates a plug-in from a manifest.
    pub fn new_with_manifest(
        manifest: &Manifest,
        functions: impl IntoIterator<Item = Function>,
        with_wasi: bool,
    ) -> Result<Plugin, Error> {
        Plugin::new(manifest, functions, with_wasi)
    }

    /// Instantiates a compiled plug-in.
    pub fn new_from_compiled(compiled: &CompiledPlugin) -> Result<Plugin, Error> {
        let id = new_id();
        let cancel = CancelHandle::new();
        let (store, instance) = compiled.instantiate(id, &cancel)?;
        Ok(Plugin {
            compiled: compiled.clone(),
            store,
            instance,
            cancel,
            needs_rebuild: false,
            fuel_consumed: None,
            last_function: None,
            id,
        })
    }

    /// A handle that cancels this plug-in's running call from another thread.
    pub fn cancel_handle(&self) -> CancelHandle {
        self.cancel.clone()
    }

    /// True when `name` is a plug-in function: an export of type `() -> i32` or
    /// `() -> ()`.
    pub fn function_exists(&self, name: impl AsRef<str>) -> bool {
        self.find_plugin_function(name.as_ref()).is_ok()
    }

    /// The plug-in function `name` (`() -> i32` or `() -> ()`), and whether it returns
    /// a code; the last one found is remembered.
    fn plugin_function(&mut self, name: &str) -> Result<(Func, bool), Error> {
        if let Some(last) = self.last_function.as_ref().filter(|f| f.name == name) {
            return Ok((last.func, last.returns_code));
        }
        let (func, returns_code) = self.find_plugin_function(name)?;
        self.last_function = Some(PluginFunction {
            name: name.to_string(),
            func,
            returns_code,
        });
        Ok((func, returns_code))
    }

    /// Looks up the export `name` and checks that it is a plug-in function.
    fn find_plugin_function(&self, name: &str) -> Result<(Func, bool), Error> {
        let func = self
            .instance
            .get_func(&self.store, name)
            .ok_or_else(|| anyhow::anyhow!("Function not found: {name}"))?;
        let ty = func.ty(&self.store);
        let returns_code = ty.results() == [wasmi::ValType::I32];
        if !ty.params().is_empty() || !(returns_code || ty.results().is_empty()) {
            anyhow::bail!(
                "`{name}` is not a plug-in function: its type is {:?} -> {:?}, not () -> i32",
                ty.params(),
                ty.results()
            );
        }
        Ok((func, returns_code))
    }

    /// Frees the Extism memory: every handle of the last call becomes invalid.
    pub fn reset(&mut self) -> Result<(), Error> {
        self.store.data_mut().reset_memory();
        Ok(())
    }

    /// Replaces the instance by a fresh one (new globals, linear memory and Extism
    /// memory); vars and config are kept.
    pub fn reinstantiate(&mut self) -> Result<(), Error> {
        let (mut store, instance) = self.compiled.instantiate(self.id, &self.cancel)?;
        let old = self.store.data_mut();
        let state = store.data_mut();
        core::mem::swap(&mut state.vars, &mut old.vars);
        core::mem::swap(&mut state.config, &mut old.config);
        state.http.allow_response_headers = old.http.allow_response_headers;
        self.store = store;
        self.instance = instance;
        self.last_function = None;
        self.needs_rebuild = false;
        Ok(())
    }

    /// Fuel the last call used, also when it failed (`None` when fuel metering is off
    /// or before the first call).
    pub fn fuel_consumed(&self) -> Option<u64> {
        self.fuel_consumed
    }

    /// Calls `name` with `input`, returning its output decoded as `U`.
    pub fn call<'a, 'b, T: ToBytes<'a>, U: FromBytes<'b>>(
        &'b mut self,
        name: impl AsRef<str>,
        input: T,
    ) -> Result<U, Error> {
        self.call_get_error_code(name, input).map_err(|(e, _)| e)
    }

    /// Like [`Plugin::call`], but a failure also gives the return code (the
    /// plug-in's own when it returned one, else -1).
    pub fn call_get_error_code<'a, 'b, T: ToBytes<'a>, U: FromBytes<'b>>(
        &'b mut self,
        name: impl AsRef<str>,
        input: T,
    ) -> Result<U, (Error, i32)> {
        let input = input.to_bytes().map_err(|e| (e, -1))?;
        self.raw_call(name.as_ref(), input.as_ref(), None)
            .map_err(|f| (f.error, f.rc))?;
        let output = self.output().map_err(|e| (e, -1))?;
        U::from_bytes(output).map_err(|e| (e, -1))
    }

    /// Like [`Plugin::call`], with a value host functions read through
    /// [`CurrentPlugin::host_context`].
    pub fn call_with_host_context<'a, 'b, T, U, C>(
        &'b mut self,
        name: impl AsRef<str>,
        input: T,
        host_context: C,
    ) -> Result<U, Error>
    where
        T: ToBytes<'a>,
        U: FromBytes<'b>,
        C: Any + Send + Sync + 'static,
    {
        let input = input.to_bytes()?;
        self.raw_call(name.as_ref(), input.as_ref(), Some(Box::new(host_context)))
            .map_err(|f| f.error)?;
        U::from_bytes(self.output()?)
    }

    /// Like [`Plugin::call_with_host_context`], but a failure also gives the return
    /// code, as [`Plugin::call_get_error_code`] does (used by the C API).
    pub fn call_with_host_context_get_error_code<'a, 'b, T, U, C>(
        &'b mut self,
        name: impl AsRef<str>,
        input: T,
        host_context: C,
    ) -> Result<U, (Error, i32)>
    where
        T: ToBytes<'a>,
        U: FromBytes<'b>,
        C: Any + Send + Sync + 'static,
    {
        let input = input.to_bytes().map_err(|e| (e, -1))?;
        self.raw_call(name.as_ref(), input.as_ref(), Some(Box::new(host_context)))
            .map_err(|f| (f.error, f.rc))?;
        let output = self.output().map_err(|e| (e, -1))?;
        U::from_bytes(output).map_err(|e| (e, -1))
    }

    /// The output of the last successful call.
    pub fn output(&self) -> Result<&[u8], Error> {
        self.store.data().output_bytes()
    }

    /// Sets config keys (`None` removes a key); plug-ins see them on the next
    /// `config_get`.
    pub fn set_config<'k>(
        &mut self,
        changes: impl IntoIterator<Item = (&'k str, Option<&'k str>)>,
    ) {
        let config = &mut self.store.data_mut().config;
        for (key, value) in changes {
            match value {
                Some(value) => config.insert(key.to_string(), value.to_string()),
                None => config.remove(key),
            };
        }
    }

    /// Lets the plug-in read HTTP response headers.
    pub fn allow_http_response_headers(&mut self, allow: bool) {
        self.store.data_mut().http.allow_response_headers = allow;
    }

    /// The state host functions see, between calls.
    pub fn current_plugin(&mut self) -> &mut CurrentPlugin {
        self.store.data_mut()
    }

    /// The bytes of a memory the main module exports as `name`, or `None` when it
    /// exports none by that name. Hosts read what an instrumented plug-in recorded
    /// through it (see [`crate::fuzzing`]); the plug-in's state is not reset.
    pub fn exported_memory(&mut self, name: &str) -> Option<&mut [u8]> {
        let memory = self.instance.get_memory(&self.store, name)?;
        Some(memory.data_mut(&mut self.store))
    }

    /// Calls any export `name` with wasm values, under the plug-in's limits (timeout,
    /// cancel, fuel, memory), and returns its results.
    ///
    /// Unlike [`Plugin::call`] it does not start an Extism call: the Extism memory is
    /// not reset, there is no input and no output, and an error the plug-in sets is
    /// not turned into a failure. Hosts use it to drive modules that exchange memory
    /// handles directly, e.g. a module standing in for host functions (allocate blocks
    /// with [`Plugin::current_plugin`], pass their handles, free them after).
    pub fn call_export(
        &mut self,
        name: &str,
        params: &[crate::Val],
    ) -> Result<Vec<crate::Val>, Error> {
        if self.needs_rebuild {
            self.reinstantiate()?;
        }
        let func = self
            .instance
            .get_func(&self.store, name)
            .ok_or_else(|| anyhow::anyhow!("Function not found: {name}"))?;
        let ty = func.ty(&self.store);
        if ty.params().len() != params.len() {
            anyhow::bail!(
                "`{name}` takes {} parameters ({:?}), {} given",
                ty.params().len(),
                ty.params(),
                params.len()
            );
        }
        let params = params
            .iter()
            .zip(ty.params())
            .map(|(value, ty)| value.to_wasmi(*ty))
            .collect::<Result<Vec<_>, _>>()?;
        let mut results: Vec<wasmi::Val> = ty
            .results()
            .iter()
            .map(|t| wasmi::Val::default_for_ty(*t))
            .collect();
        let limits = self.start_limits();
        let fueled = self.store.get_fuel().is_ok();
        self.store.data_mut().budget.oom = false;
        match run(
            &mut self.store,
            func,
            &params,
            &mut results,
            &limits,
            fueled,
            None,
        ) {
            Ok(consumed) => {
                self.fuel_consumed = fueled.then_some(consumed);
                Ok(results.iter().map(crate::Val::from_wasmi).collect())
            }
            Err(failure) => {
                self.fuel_consumed = fueled.then_some(failure.fuel_used);
                self.needs_rebuild |= failure.poisoned;
                Err(failure.error)
            }
        }
    }

    /// The limits of a call starting now: clears a stale cancel and sets the deadline.
    fn start_limits(&mut self) -> CallLimits {
        self.cancel.clear();
        let options = &self.compiled.inner.options;
        let limits = CallLimits {
            cancel: self.cancel.clone(),
            clock: options.clock.clone(),
            timeout_ms: self.compiled.inner.manifest.timeout_ms,
            fuel_limit: options.fuel_limit,
        };
        self.store.data_mut().deadline_ms = match (&limits.clock, limits.timeout_ms) {
            (Some(clock), Some(timeout)) => Some(clock.now_ms().saturating_add(timeout)),
            _ => None,
        };
        limits
    }

    /// Runs `name` on raw input bytes; the output is then in [`Plugin::output`].
    pub(crate) fn raw_call(
        &mut self,
        name: &str,
        input: &[u8],
        host_context: Option<Box<dyn Any + Send>>,
    ) -> Result<(), CallFailure> {
        let fail = |error: Error| CallFailure { error, rc: -1 };
        if self.needs_rebuild {
            self.reinstantiate().map_err(fail)?;
        }
        let (func, returns_code) = self.plugin_function(name).map_err(fail)?;
        let fueled = self.store.get_fuel().is_ok();
        {
            let state = self.store.data_mut();
            state.begin_call(input).map_err(fail)?;
            state.host_context = host_context;
        }
        let limits = self.start_limits();
        let mut code = [wasmi::Val::I32(0)];
        let results = if returns_code {
            &mut code[..]
        } else {
            &mut code[..0]
        };
        let outcome = run(&mut self.store, func, &[], results, &limits, fueled, None);
        self.store.data_mut().host_context = None;
        if name == "_start" {
            self.needs_rebuild = true;
        }
        let plugin_error = self.store.data().error_message();
        match outcome {
            Ok(consumed) => {
                self.fuel_consumed = fueled.then_some(consumed);
                let rc = results.first().and_then(|v| v.i32()).unwrap_or(0);
                match (plugin_error, rc) {
                    (Some(message), rc) => {
                        let rc = if rc == 0 { -1 } else { rc };
                        Err(CallFailure {
                            error: crate::error::new(
                                crate::ErrorKind::Plugin { code: rc },
                                message,
                            ),
                            rc,
                        })
                    }
                    (None, 0) => Ok(()),
                    (None, rc) => Err(CallFailure {
                        error: crate::error::new(
                            crate::ErrorKind::Plugin { code: rc },
                            alloc::format!("Returned non-zero exit code: {rc}"),
                        ),
                        rc,
                    }),
                }
            }
            Err(RunError {
                error,
                exit,
                poisoned,
                fuel_used,
            }) => {
                self.fuel_consumed = fueled.then_some(fuel_used);
                self.needs_rebuild |= poisoned;
                match (exit, plugin_error) {
                    (Some(0), None) => Ok(()),
                    (Some(code), Some(message)) => Err(CallFailure {
                        error: crate::error::new(crate::ErrorKind::Exit { code }, message),
                        rc: code,
                    }),
                    (Some(code), None) => Err(CallFailure { error, rc: code }),
                    (None, _) => Err(fail(error)),
                }
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn assert_send<T: Send>() {}
    fn assert_send_sync<T: Send + Sync>() {}

    #[test]
    fn thread_safety_of_public_types() {
        assert_send::<Plugin>();
        assert_send_sync::<CompiledPlugin>();
        assert_send_sync::<CancelHandle>();
    }

    /// A module that adds one to a global on every call of `bump`.
    const COUNTER: &str = r#"(module
        (import "extism:host/env" "output_set" (func $output_set (param i64 i64)))
        (global $n (mut i32) (i32.const 0))
        (func (export "bump") (result i32)
            (global.set $n (i32.add (global.get $n) (i32.const 1)))
            (call $output_set (i64.const 0) (i64.const 0))
            (global.get $n)))"#;

    #[cfg(feature = "std")]
    #[test]
    fn module_cache_shares_modules_not_state_or_options() {
        let fresh = || PluginBuilder::new(COUNTER).build().expect("plug-in");
        // Two plug-ins of the same bytes (the second from the cache) have their own
        // globals: each first call returns 1 (a non-zero rc, reported as such).
        for _ in 0..2 {
            let mut plugin = fresh();
            let (_, rc) = plugin
                .call_get_error_code::<&str, &[u8]>("bump", "")
                .unwrap_err();
            assert_eq!(rc, 1);
        }
        // Fuel metering is part of the key: the same bytes without interruption
        // support get an engine without fuel, and with it one with fuel.
        let mut plain = PluginBuilder::new(COUNTER)
            .with_interruption(false)
            .build()
            .expect("plug-in");
        assert!(plain.call::<&str, &[u8]>("bump", "").is_err());
        assert_eq!(plain.fuel_consumed(), None);
        let mut metered = fresh();
        assert!(metered.call::<&str, &[u8]>("bump", "").is_err());
        assert!(metered.fuel_consumed().is_some());
        // Invalid bytes are never cached: they fail every time.
        for _ in 0..2 {
            assert!(Plugin::new(b"\0asm\x01\0\0\0\x01\xff".as_slice(), [], false).is_err());
        }
    }

    #[cfg(feature = "std")]
    #[test]
    fn switching_between_plugin_functions_uses_the_right_one() {
        let wat = r#"(module
            (memory (export "memory") 1)
            (func (export "zero") (result i32) i32.const 0)
            (func (export "seven") (result i32) i32.const 7)
            (func (export "nothing"))
            (func (export "takes_arg") (param i32)))"#;
        let mut plugin = Plugin::new(wat, [], false).expect("valid");
        let code = |plugin: &mut Plugin, name: &str| match plugin.call::<&str, &[u8]>(name, "") {
            Ok(_) => Ok(0),
            Err(error) => Err(format!("{error:#}")),
        };
        for _ in 0..2 {
            assert_eq!(code(&mut plugin, "zero"), Ok(0));
            assert_eq!(code(&mut plugin, "zero"), Ok(0));
            let seven = code(&mut plugin, "seven").expect_err("code 7");
            assert!(seven.contains("exit code: 7"), "{seven}");
            assert_eq!(code(&mut plugin, "nothing"), Ok(0));
            let wrong = code(&mut plugin, "takes_arg").expect_err("wrong type");
            assert!(wrong.contains("not a plug-in function"), "{wrong}");
            let missing = code(&mut plugin, "absent").expect_err("missing");
            assert!(missing.contains("Function not found: absent"), "{missing}");
            assert_eq!(code(&mut plugin, "zero"), Ok(0));
            // A new instance: the remembered function belonged to the old one.
            plugin.reinstantiate().expect("fresh instance");
        }
    }
}
