//! Making an instance of a compiled plug-in: a store holding the plug-in's state,
//! its modules instantiated in order, each with a new linear memory when it imports
//! one (lazy memory), and their constructors run under the creation's limits.

use crate::{
    error::{fail, with_context},
    host::current_plugin::CurrentPlugin,
    host::linear_memory::MAIN_MODULE_SLOT,
    kernel::abi::{LAZY_MEMORY_MODULE, LAZY_MEMORY_NAME, LINEAR_MEMORY_EXPORT},
    limits::budget::PAGE_BYTES,
    limits::call::{CallLimits, FUEL_SLICE},
    limits::cancel::CancelHandle,
    limits::linear::reservation_pages,
    plugin::compiled::CompiledPlugin,
    plugin::run::run,
    plugin::store::{new_linear_memory, prefault_growth, release_memory_after_run, PluginStore},
    Error, ErrorExt, ErrorKind,
};
use alloc::{format, sync::Arc, vec::Vec};
use wasmi::{Instance, Linker, MemoryType, Module};

/// Fuel a module's start function and constructors may use at instantiation (about
/// a second of interpretation), unless the plug-in's fuel limit is lower.
const INIT_FUEL: u64 = 500_000_000;

/// Most spare linkers a compiled plug-in keeps: one per thread making instances of
/// it at the same time, up to this many.
const MAX_SPARE_LINKERS: usize = 4;

impl CompiledPlugin {
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
        let instance = if compiled.others.is_empty() && compiled.main_memory.is_none() {
            compiled
                .linker
                .instantiate_and_start(&mut *store, &compiled.main)
        } else {
            // Each module that imports its memory (lazy memory) gets a new one, made
            // for it just before it is instantiated, on a linker of its own that allows
            // shadowing: a spare one when the main module is the only one (the last
            // instance's memory is shadowed, never used again).
            let mut linker = self.spare_linker();
            let max_pages = compiled.manifest.memory.max_pages;
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
            let started = linker.instantiate_and_start(&mut *store, &compiled.main);
            self.keep_spare_linker(linker);
            started
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

    /// Keeps `linker` for the next instance, when it holds no more than this
    /// instance's memory (a single module: other modules' exports would be this
    /// instance's) and others use this compiled plug-in too (a host's
    /// `CompiledPlugin`, plug-ins sharing a link): a plug-in that is its only user
    /// would hold a second linker for nothing.
    fn keep_spare_linker(&self, linker: Linker<CurrentPlugin>) {
        if !self.inner.others.is_empty() || Arc::strong_count(&self.inner) < 2 {
            return;
        }
        let mut spare = self.inner.spare_linkers.lock();
        if spare.len() < MAX_SPARE_LINKERS {
            spare.push(linker);
        }
    }
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
