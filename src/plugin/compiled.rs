//! `CompiledPlugin`: modules compiled and linked once, instantiated many times.

use crate::{
    error::fail,
    host::current_plugin::CurrentPlugin,
    host::function::Function,
    kernel::abi::{LAZY_MEMORY_MODULE, LAZY_MEMORY_NAME},
    limits::call::CallLimits,
    limits::cancel::CancelHandle,
    load::bounds::LoadBounds,
    load::compile::compile_modules,
    load::link::{check_imports, define_host_function, shadowed},
    load::module_cache::CachedModules,
    load::module_cache::Passes,
    load::{module_cache, sources, validate::validate_alongside},
    manifest::input::WasmInput,
    manifest::Manifest,
    plugin::builder::{Options, PluginBuilder},
    Error,
};
use alloc::{
    string::String,
    sync::{Arc, Weak},
    vec::Vec,
};
use wasmi::{Engine, Linker, MemoryType, Module};

/// What is shared by every instance of a compiled plug-in.
pub(super) struct Compiled {
    pub(super) engine: Engine,
    pub(super) linker: Linker<CurrentPlugin>,
    pub(super) main: Module,
    /// Other modules, named, in an order where each only imports earlier ones.
    pub(super) others: Vec<(String, Module)>,
    /// The type of the memory `main` imports in place of its own (lazy memory), if
    /// the lazy-memory pass moved it.
    pub(super) main_memory: Option<MemoryType>,
    /// The same for each of `others`, in their order.
    pub(super) other_memories: Vec<Option<MemoryType>>,
    pub(super) manifest: Arc<Manifest>,
    pub(super) options: Options,
    /// Linked without host functions: plug-ins made from the same
    /// modules, manifest and options may share it (`shared_link`).
    pub(super) shareable: bool,
    /// Copies of `linker` that allow shadowing, for instances of a single module with
    /// a lazy memory: each defines its new memory on one, then gives it back for the
    /// next instance, instead of cloning `linker` (about 6% of an instantiation).
    pub(super) spare_linkers: spin::Mutex<Vec<Linker<CurrentPlugin>>>,
}

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
    pub(super) inner: Arc<Compiled>,
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
