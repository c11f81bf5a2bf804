//! `CompiledPlugin`: modules compiled and linked once, instantiated many times.

use crate::{
    error::{fail, with_context},
    host::current_plugin::CurrentPlugin,
    host::function::Function,
    host::linear_memory::MAIN_MODULE_SLOT,
    kernel::abi::{LAZY_MEMORY_MODULE, LAZY_MEMORY_NAME, LINEAR_MEMORY_EXPORT},
    limits::budget::PAGE_BYTES,
    limits::call::{CallLimits, FUEL_SLICE},
    limits::cancel::CancelHandle,
    limits::linear::reservation_pages,
    load::bounds::LoadBounds,
    load::compile::compile_modules,
    load::link::{check_imports, define_host_function, shadowed},
    load::module_cache::CachedModules,
    load::module_cache::Passes,
    load::{module_cache, sources, validate::validate_alongside},
    manifest::input::WasmInput,
    manifest::Manifest,
    plugin::builder::{Options, PluginBuilder},
    plugin::run::run,
    plugin::store::{new_linear_memory, prefault_growth, release_memory_after_run, PluginStore},
    Error, ErrorExt, ErrorKind,
};
use alloc::{
    format,
    string::String,
    sync::{Arc, Weak},
    vec::Vec,
};
use wasmi::{Engine, Instance, Linker, MemoryType, Module};

/// Fuel a module's start function and constructors may use at instantiation (about
/// a second of interpretation), unless the plug-in's fuel limit is lower.
const INIT_FUEL: u64 = 500_000_000;

/// What is shared by every instance of a compiled plug-in.
struct Compiled {
    engine: Engine,
    linker: Linker<CurrentPlugin>,
    main: Module,
    /// Other modules, named, in an order where each only imports earlier ones.
    others: Vec<(String, Module)>,
    /// The type of the memory `main` imports in place of its own (lazy memory), if
    /// the lazy-memory pass moved it.
    main_memory: Option<MemoryType>,
    /// The same for each of `others`, in their order.
    other_memories: Vec<Option<MemoryType>>,
    manifest: Arc<Manifest>,
    options: Options,
    /// Linked without host functions: plug-ins made from the same
    /// modules, manifest and options may share it (`shared_link`).
    shareable: bool,
    /// Copies of `linker` that allow shadowing, for instances of a single module with
    /// a lazy memory: each defines its new memory on one, then gives it back for the
    /// next instance, instead of cloning `linker` (about 6% of an instantiation).
    spare_linkers: spin::Mutex<Vec<Linker<CurrentPlugin>>>,
}

/// Most spare linkers a compiled plug-in keeps: one per thread making instances of
/// it at the same time, up to this many.
const MAX_SPARE_LINKERS: usize = 4;

/// Most linked plug-ins remembered for sharing.
const MAX_SHARED_LINKS: usize = 64;

/// Linked plug-ins that plug-ins made from the same input can share, held weakly: an
/// entry lives as long as a plug-in uses it. Each plug-in made from bytes would
/// otherwise hold its own linker and manifest (about 13 KiB for count_vowels).
static SHARED_LINKS: spin::Mutex<Vec<Weak<Compiled>>> = spin::Mutex::new(Vec::new());

/// Whether two builders' options make the same linked plug-in (the same clock: the
/// same `Arc`, as the default one is). Every field is named, so that a new option
/// cannot be left out of the comparison (a plug-in would then share a link made with
/// another value of it).
fn same_options(a: &Options, b: &Options) -> bool {
    let Options {
        wasi,
        fuel_limit,
        interruptible,
        clock,
        http_response_headers,
        wasi_output,
        initialization_fuel,
        bulk_io,
        lazy_memory,
        yield_fuel,
        debug,
    } = a;
    let same_clock = match (clock, &b.clock) {
        (None, None) => true,
        (Some(a), Some(b)) => Arc::ptr_eq(a, b),
        _ => false,
    };
    same_clock
        && *wasi == b.wasi
        && *fuel_limit == b.fuel_limit
        && *interruptible == b.interruptible
        && *http_response_headers == b.http_response_headers
        && *wasi_output == b.wasi_output
        && *initialization_fuel == b.initialization_fuel
        && *bulk_io == b.bulk_io
        && *lazy_memory == b.lazy_memory
        && *yield_fuel == b.yield_fuel
        && *debug == b.debug
}

/// A live linked plug-in of exactly these modules (the module cache's entry, known by
/// its engine), manifest and options, without host functions.
fn shared_link(
    cached: &CachedModules,
    manifest: &Manifest,
    functions: &[Function],
    options: &Options,
) -> Option<CompiledPlugin> {
    if !functions.is_empty() {
        return None;
    }
    let links = SHARED_LINKS.lock();
    links.iter().filter_map(Weak::upgrade).find_map(|inner| {
        let same = inner.shareable
            && Engine::same(&inner.engine, &cached.engine)
            && *inner.manifest == *manifest
            && same_options(&inner.options, options);
        same.then_some(CompiledPlugin { inner })
    })
}

/// Remembers a shareable linked plug-in, forgetting entries no plug-in uses any more
/// (and the oldest past [`MAX_SHARED_LINKS`]).
fn remember_link(compiled: &CompiledPlugin) {
    let mut links = SHARED_LINKS.lock();
    links.retain(|link| link.strong_count() > 0);
    if links.len() >= MAX_SHARED_LINKS {
        links.remove(0);
    }
    links.push(Arc::downgrade(&compiled.inner));
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

impl PluginBuilder<'_> {
    /// Compiles the modules, for instantiating many plug-ins.
    ///
    /// Every function body is validated before this returns, as Extism does; function
    /// bodies are translated for the interpreter at their first call. Modules seen
    /// recently in this process (same bytes) are taken from an in-process cache. With
    /// `std` and more than one CPU, a helper thread validates while this thread
    /// compiles and links.
    ///
    /// # Errors
    ///
    /// - As [`sources::load_modules`] when a module cannot be read: a file
    ///   ([`NotFound`](crate::ErrorKind::NotFound),
    ///   [`PermissionDenied`](crate::ErrorKind::PermissionDenied) or
    ///   [`Io`](crate::ErrorKind::Io), the I/O error as the source;
    ///   [`LimitExceeded`](crate::ErrorKind::LimitExceeded) past
    ///   [`sources::DEFAULT_MAX_MODULE_BYTES`]) or a URL (the kinds of the download);
    /// - [`Invalid`](crate::ErrorKind::Invalid) when the source, the manifest or a
    ///   module is malformed (the validator's error is the source), a host function
    ///   takes or returns `v128`, or WASI is asked for where it is not available;
    /// - [`NotFound`](crate::ErrorKind::NotFound) when a module imports something
    ///   neither the kernel, WASI, another module nor a host function provides.
    ///
    /// # Examples
    ///
    /// ```
    /// use interplug::{Plugin, PluginBuilder};
    /// let wat = r#"(module (func (export "noop") (result i32) i32.const 0))"#;
    /// let compiled = PluginBuilder::new(wat).compile()?;
    /// let first = Plugin::new_from_compiled(&compiled)?;
    /// let second = Plugin::new_from_compiled(&compiled)?;
    /// assert_ne!(first.id, second.id);
    /// # Ok::<(), interplug::Error>(())
    /// ```
    pub fn compile(self) -> Result<CompiledPlugin, Error> {
        CompiledPlugin::compile_then(self.source, self.functions, self.options, |_| Ok(()))
            .map(|(compiled, ())| compiled)
    }
}

impl CompiledPlugin {
    /// Compiles what `builder` describes: the same as [`PluginBuilder::compile`].
    ///
    /// # Errors
    ///
    /// As [`PluginBuilder::compile`].
    ///
    /// # Examples
    ///
    /// ```
    /// use interplug::{CompiledPlugin, Plugin, PluginBuilder};
    /// let wat = r#"(module (func (export "noop") (result i32) i32.const 0))"#;
    /// let compiled = CompiledPlugin::new(PluginBuilder::new(wat).with_wasi(false))?;
    /// let mut plugin = Plugin::new_from_compiled(&compiled)?;
    /// let output: &[u8] = plugin.call("noop", "")?;
    /// assert!(output.is_empty());
    /// # Ok::<(), interplug::Error>(())
    /// ```
    pub fn new(builder: PluginBuilder<'_>) -> Result<Self, Error> {
        builder.compile()
    }

    /// Compiles `source`, then runs `then` on the result. When the modules are not in
    /// the module cache, `then` runs while their function bodies are still being
    /// validated on another thread (`std` only); an invalid body fails the whole
    /// creation, whatever `then` returned.
    pub(crate) fn compile_then<T>(
        source: WasmInput<'_>,
        functions: Vec<Function>,
        options: Options,
        then: impl FnOnce(&CompiledPlugin) -> Result<T, Error>,
    ) -> Result<(Self, T), Error> {
        let (manifest, modules) = sources::load(source)?;
        let manifest = without_module_bytes(manifest);
        let fueled =
            options.interruptible || options.fuel_limit.is_some() || options.yield_fuel.is_some();
        let passes = Passes {
            bulk_io: options.bulk_io,
            lazy_memory: options.lazy_memory,
        };
        // Validating and rewriting the modules stop at the creation's deadline.
        let bounds = LoadBounds::new(
            options.clock.clone(),
            manifest.timeout_ms,
            CancelHandle::default(),
        );
        if let Some(cached) = module_cache::get(fueled, passes, &modules) {
            let compiled = match shared_link(&cached, &manifest, &functions, &options) {
                Some(shared) => shared,
                None => Self::link(cached, manifest, functions, options)?,
            };
            let value = then(&compiled)?;
            return Ok((compiled, value));
        }
        let compile_and_run = || -> Result<(CachedModules, CompiledPlugin, T), Error> {
            let cached = compile_modules(fueled, passes, &modules, &bounds)?;
            let compiled = Self::link(cached.clone(), manifest, functions, options)?;
            let value = then(&compiled)?;
            Ok((cached, compiled, value))
        };
        let (cached, compiled, value) = validate_alongside(&modules, &bounds, compile_and_run)?;
        module_cache::put(fueled, passes, modules, &cached);
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
        let imports = crate::imports::memory::add_to_linker(&mut linker)
            .and_then(|()| crate::imports::registers::add_to_linker(&mut linker))
            .and_then(|()| crate::imports::store::add_to_linker(&mut linker))
            .and_then(|()| crate::imports::log::add_to_linker(&mut linker))
            .and_then(|()| crate::imports::http::add_to_linker(&mut linker));
        imports.map_err(|e| fail!(Invalid from e, "cannot define the Extism kernel functions"))?;
        #[cfg(feature = "wasi")]
        if options.wasi {
            crate::imports::wasi::add_to_linker(&mut linker)?;
        }
        // Host functions shadow by namespace and name, the last one winning (also over
        // a WASI function), as in the official runtime.
        let functions = shadowed(functions);
        linker.allow_shadowing(true);
        for function in &functions {
            define_host_function(&mut linker, function)?;
        }
        linker.allow_shadowing(false);
        let module_names: Vec<&str> = others.iter().map(|(n, _)| n.as_str()).collect();
        for (name, module) in others
            .iter()
            .map(|(n, m)| (n.as_str(), m))
            .chain([("main", &main)])
        {
            check_imports(name, module, &functions, &module_names, options.wasi)?;
        }
        let main_memory = lazy_memory_type(&main);
        let other_memories = others.iter().map(|(_, m)| lazy_memory_type(m)).collect();
        let shareable = functions.is_empty();
        let compiled = CompiledPlugin {
            inner: Arc::new(Compiled {
                engine,
                linker,
                main,
                others,
                main_memory,
                other_memories,
                manifest: Arc::new(manifest),
                options,
                shareable,
                spare_linkers: spin::Mutex::new(Vec::new()),
            }),
        };
        if shareable {
            remember_link(&compiled);
        }
        Ok(compiled)
    }

    /// The options the plug-in was built with.
    pub(crate) fn options(&self) -> &Options {
        &self.inner.options
    }

    /// The main module, whose exports are the plug-in's functions.
    pub(crate) fn main_module(&self) -> &Module {
        &self.inner.main
    }

    /// The manifest the plug-in was made from, without the bytes of inline modules
    /// (`Wasm::Data` keeps its name and hash; its `data` is empty): a plug-in does not
    /// keep a copy of modules it has compiled.
    pub fn manifest(&self) -> &Manifest {
        &self.inner.manifest
    }

    /// The limits of a call (or a creation) starting now, stopped by `cancel`.
    pub(crate) fn limits_from_now(&self, cancel: &CancelHandle) -> CallLimits {
        let options = &self.inner.options;
        let timeout_ms = self.inner.manifest.timeout_ms;
        let deadline_ms = match (&options.clock, timeout_ms) {
            (Some(clock), Some(timeout)) => Some(clock.now_ms().saturating_add(timeout)),
            _ => None,
        };
        CallLimits {
            cancel: cancel.clone(),
            clock: options.clock.clone(),
            timeout_ms,
            deadline_ms,
            fuel_limit: options.fuel_limit,
        }
    }

    /// Creates a fresh store and instance under `limits`: [`Self::new_store`], then
    /// [`Self::instantiate_in`].
    pub(crate) fn instantiate(
        &self,
        id: uuid::Uuid,
        limits: &CallLimits,
    ) -> Result<(PluginStore<CurrentPlugin>, Instance), Error> {
        let mut store = self.new_store(id, &limits.cancel)?;
        let instance = self.instantiate_in(&mut store, limits)?;
        Ok((store, instance))
    }

    /// A fresh store holding a plug-in's state (with its WASI context), with the
    /// memory limiter installed and no instance yet: what a plug-in has between its
    /// creation and its first call.
    pub(crate) fn new_store(
        &self,
        id: uuid::Uuid,
        cancel: &CancelHandle,
    ) -> Result<PluginStore<CurrentPlugin>, Error> {
        let compiled = &*self.inner;
        let mut state = CurrentPlugin::new(compiled.manifest.clone(), id);
        state.clock = compiled.options.clock.clone();
        state.http.allow_response_headers = compiled.options.http_response_headers;
        state.cancel = cancel.clone();
        #[cfg(feature = "wasi")]
        if compiled.options.wasi {
            state.wasi = Some(crate::os::wasi::context(
                &compiled.manifest,
                compiled.options.wasi_output,
                cancel.clone(),
                state.clock.clone(),
            )?);
        }
        let mut store = PluginStore::new(&compiled.engine, state);
        store.limiter(|state| state as &mut dyn wasmi::ResourceLimiter);
        Ok(store)
    }

    /// Instantiates the modules in `store` (made by [`Self::new_store`], with no
    /// instance yet) under `limits`: the start functions and constructors stop at the
    /// deadline and on cancel, and use at most [`INIT_FUEL`] (or the fuel limit, or a
    /// timeout's worth of fuel slices, when lower). After a failure the store may hold
    /// part of the modules: make a new one to try again.
    pub(crate) fn instantiate_in(
        &self,
        store: &mut PluginStore<CurrentPlugin>,
        limits: &CallLimits,
    ) -> Result<Instance, Error> {
        let compiled = &*self.inner;
        store.data_mut().deadline_ms = limits.deadline_ms;
        let fueled = store.get_fuel().is_ok();
        // Constructors (`_initialize`...) run in fuel slices under the deadline and
        // cancel, with this much fuel at most.
        let init_fuel = compiled.options.initialization_fuel.unwrap_or_else(|| {
            limits
                .fuel_limit
                .map_or(INIT_FUEL, |limit| limit.min(INIT_FUEL))
        });
        // A start section runs inside instantiation, where the engine cannot stop
        // between slices: its fuel also stands in for the deadline (a timeout's worth of
        // fuel slices, about a millisecond each).
        let start_fuel = limits.timeout_ms.map_or(init_fuel, |ms| {
            init_fuel.min(ms.saturating_mul(FUEL_SLICE).max(FUEL_SLICE))
        });
        if fueled {
            store
                .set_fuel(start_fuel)
                .map_err(|e| fail!(Invalid from e, "cannot set fuel"))?;
        }
        let max_pages = compiled.manifest.memory.max_pages;
        let instance = if compiled.others.is_empty() && compiled.main_memory.is_none() {
            compiled
                .linker
                .instantiate_and_start(&mut *store, &compiled.main)
        } else if compiled.others.is_empty() {
            // One module, with a lazy memory: defined for this instance on a spare
            // linker (the last instance's memory is shadowed, never used again).
            let mut linker = self.spare_linker();
            let defined =
                define_memory(&mut linker, store, "main", compiled.main_memory, max_pages);
            let started = defined.map(|()| {
                prefault_growth(store);
                linker.instantiate_and_start(&mut *store, &compiled.main)
            });
            self.keep_spare_linker(linker);
            started?
        } else {
            // Each module that imports its memory (lazy memory) gets a new one, made
            // for it just before it is instantiated, on this instance's own linker.
            let mut linker = compiled.linker.clone();
            linker.allow_shadowing(true);
            let others = compiled.others.iter().zip(&compiled.other_memories);
            for (index, ((name, module), ty)) in others.enumerate() {
                // Slots after the main module's, in the order of instantiation.
                let slot = MAIN_MODULE_SLOT + 1 + index;
                define_memory(&mut linker, store, name, *ty, max_pages)?;
                let own = own_memory_imports(&linker, store, slot, module)?;
                let instance = own
                    .as_ref()
                    .unwrap_or(&linker)
                    .instantiate_and_start(&mut *store, module)
                    .and_then(|instance| {
                        crate::imports::bulk::fill_table(&mut *store, &instance, slot)?;
                        Ok(instance)
                    })
                    .map_err(|e| instantiation_error(store, name, e))?;
                let memory = instance.get_memory(&*store, LINEAR_MEMORY_EXPORT);
                store.data_mut().linear_memories.set(slot, memory);
                linker
                    .instance(&mut *store, name, instance)
                    .map_err(|e| fail!(Invalid from e, "cannot link module `{name}`"))?;
            }
            define_memory(&mut linker, store, "main", compiled.main_memory, max_pages)?;
            prefault_growth(store);
            linker.instantiate_and_start(&mut *store, &compiled.main)
        }
        .and_then(|instance| {
            crate::imports::bulk::fill_table(&mut *store, &instance, MAIN_MODULE_SLOT)?;
            Ok(instance)
        })
        .map_err(|e| instantiation_error(store, "main", e))?;
        // WASI and the bulk copies use the memory from here on (`host/linear_memory.rs`).
        let memory = instance.get_memory(&*store, LINEAR_MEMORY_EXPORT);
        store
            .data_mut()
            .linear_memories
            .set(MAIN_MODULE_SLOT, memory);

        // Reactor and language-runtime constructors run once, before any call, under
        // the creation's deadline and cancel, with the start fuel as their fuel limit.
        let limits = CallLimits {
            fuel_limit: Some(init_fuel),
            ..limits.clone()
        };
        let init = ["_initialize", "__wasm_call_ctors"]
            .into_iter()
            .find_map(|name| instance.get_func(&*store, name).map(|f| (name, f)));
        for (name, func) in init.into_iter().chain(
            instance
                .get_func(&*store, "hs_init")
                .map(|f| ("hs_init", f)),
        ) {
            let ty = func.ty(&*store);
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
            run(store, func, &params, &mut results, &limits, fueled)
                .map_err(|e| with_context(e.error, &format!("the plug-in's `{name}` failed")))?;
        }
        release_memory_after_run(store);
        Ok(instance)
    }
}

impl CompiledPlugin {
    /// A spare copy of the linker that allows shadowing (a new one when there is
    /// none).
    fn spare_linker(&self) -> Linker<CurrentPlugin> {
        let spare = self.inner.spare_linkers.lock().pop();
        spare.unwrap_or_else(|| {
            let mut linker = self.inner.linker.clone();
            linker.allow_shadowing(true);
            linker
        })
    }

    /// Keeps `linker` for the next instance, when others use this compiled plug-in
    /// too (a host's `CompiledPlugin`, plug-ins sharing a link): a plug-in that is
    /// its only user would hold a second linker for nothing.
    fn keep_spare_linker(&self, linker: Linker<CurrentPlugin>) {
        if Arc::strong_count(&self.inner) < 2 {
            return;
        }
        let mut spare = self.inner.spare_linkers.lock();
        if spare.len() < MAX_SPARE_LINKERS {
            spare.push(linker);
        }
    }
}

/// `manifest` without the bytes of its inline modules, which are compiled by now:
/// every live plug-in would otherwise hold a copy of its module (85 KiB for a Rust-PDK
/// plug-in).
fn without_module_bytes(mut manifest: Manifest) -> Manifest {
    for wasm in &mut manifest.wasm {
        if let crate::manifest::Wasm::Data { data, .. } = wasm {
            *data = Vec::new();
        }
    }
    manifest
}

/// Defines on `linker` a new linear memory of type `ty` (when the module `name`
/// imports its memory: lazy memory), reserving as much as it may grow to under a
/// budget of `max_pages`.
fn define_memory(
    linker: &mut Linker<CurrentPlugin>,
    store: &mut PluginStore<CurrentPlugin>,
    name: &str,
    ty: Option<MemoryType>,
    max_pages: Option<u32>,
) -> Result<(), Error> {
    let Some(ty) = ty else {
        return Ok(());
    };
    let reserve = reservation_pages(ty.maximum(), max_pages) * PAGE_BYTES;
    let memory =
        new_linear_memory(store, ty, reserve).map_err(|e| instantiation_error(store, name, e))?;
    linker
        .define(LAZY_MEMORY_MODULE, LAZY_MEMORY_NAME, memory)
        .map_err(|e| fail!(Invalid from e, "cannot link the memory of `{name}`"))?;
    Ok(())
}

/// The type of the memory `module` imports from [`LAZY_MEMORY_MODULE`] (the
/// lazy-memory pass turned its own memory into that import), if any.
fn lazy_memory_type(module: &Module) -> Option<MemoryType> {
    module.imports().find_map(|import| match import.ty() {
        wasmi::ExternType::Memory(ty)
            if import.module() == LAZY_MEMORY_MODULE && import.name() == LAZY_MEMORY_NAME =>
        {
            Some(*ty)
        }
        _ => None,
    })
}

/// For a module other than the main one that imports WASI functions: a linker where
/// those are bound to the module's own linear memory (`slot`), made in `store`; `None`
/// when it imports none (the shared linker serves). (The bulk functions reach a
/// module through its bulk table, filled for its slot by `imports/bulk.rs`.)
fn own_memory_imports(
    linker: &Linker<CurrentPlugin>,
    store: &mut PluginStore<CurrentPlugin>,
    slot: usize,
    module: &Module,
) -> Result<Option<Linker<CurrentPlugin>>, Error> {
    let mut own: Option<Linker<CurrentPlugin>> = None;
    for import in module.imports() {
        let (namespace, name) = (import.module(), import.name());
        #[cfg(feature = "wasi")]
        let func = match namespace {
            crate::kernel::abi::WASI_MODULE if store.data().wasi.is_some() => {
                crate::imports::wasi::func_for(&mut *store, slot, name)
            }
            _ => None,
        };
        #[cfg(not(feature = "wasi"))]
        let func: Option<wasmi::Func> = {
            let _ = (&store, slot, name);
            None
        };
        let Some(func) = func else { continue };
        let own = own.get_or_insert_with(|| {
            let mut own = linker.clone();
            own.allow_shadowing(true);
            own
        });
        own.define(namespace, name, func)
            .map_err(|e| fail!(Invalid from e, "cannot define `{namespace}::{name}`"))?;
    }
    Ok(own)
}

/// Makes an instantiation error readable.
fn instantiation_error(
    store: &PluginStore<CurrentPlugin>,
    module: &str,
    error: wasmi::Error,
) -> Error {
    let error = crate::plugin::run::engine_error(store, &error);
    match error.kind() {
        ErrorKind::Trap | ErrorKind::Host => {
            with_context(error, &format!("cannot instantiate module `{module}`"))
        }
        _ => error,
    }
}

#[cfg(test)]
mod tests {
    use crate::{host::function::Function, Manifest, Plugin, PluginBuilder, Wasm, PTR};
    use wasmi::Engine;

    /// A plug-in that imports nothing and exports one function, returning 0.
    fn module() -> Vec<u8> {
        let text = r#"(module (memory (export "memory") 1)
            (func (export "run") (result i32) i32.const 0))"#;
        wat::parse_str(text).expect("valid text")
    }

    fn same_link(a: &Plugin, b: &Plugin) -> bool {
        alloc::sync::Arc::ptr_eq(&a.compiled.inner, &b.compiled.inner)
    }

    #[test]
    fn plug_ins_from_the_same_input_share_their_link_and_nothing_else() {
        let wasm = module();
        let a = Plugin::new(&wasm, [], false).expect("plug-in");
        let mut b = Plugin::new(&wasm, [], false).expect("plug-in");
        assert_eq!(a.compiled.manifest(), b.compiled.manifest());
        assert!(
            Engine::same(&a.compiled.inner.engine, &b.compiled.inner.engine),
            "module cache"
        );
        assert!(same_link(&a, &b), "same bytes, same options: one link");
        // Each still has its own state.
        b.call::<&str, &[u8]>("run", "").expect("call");
        assert_ne!(a.id, b.id);
        assert!(a.instance.is_none() && b.instance.is_some());

        // Another manifest (config), WASI, or host functions: a link of its own.
        let configured = Manifest::new([Wasm::data(wasm.clone())]).with_config_key("k", "v");
        let c = Plugin::new(&configured, [], false).expect("plug-in");
        assert!(!same_link(&a, &c));
        assert_eq!(
            c.compiled.manifest().config.get("k").map(String::as_str),
            Some("v")
        );
        let d = Plugin::new(&wasm, [], true).expect("plug-in");
        assert!(!same_link(&a, &d));
        let f = Function::new(
            "unused",
            [PTR],
            [PTR],
            crate::UserData::new(()),
            |_, _, _, _| Ok(()),
        );
        let e = PluginBuilder::new(&wasm[..])
            .with_functions([f])
            .build()
            .expect("plug-in");
        assert!(!same_link(&a, &e));

        // Once no plug-in uses a link, the next plug-in makes a new one.
        drop((a, b));
        let g = Plugin::new(&wasm, [], false).expect("plug-in");
        assert_eq!(alloc::sync::Arc::strong_count(&g.compiled.inner), 1);
    }
}
