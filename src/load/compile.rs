//! Compiling modules on an engine, in the order their imports need.

use crate::{
    error::{bail_kind, fail},
    manifest::input::LoadedModule,
    Error,
};
use alloc::{string::String, vec::Vec};
use wasmi::{Engine, Module};

/// A plug-in's modules compiled on their engine.
#[derive(Clone)]
pub(crate) struct CachedModules {
    pub(crate) engine: Engine,
    pub(crate) main: Module,
    /// The other modules, in an order where each only imports earlier ones.
    pub(crate) others: Vec<(String, Module)>,
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
/// call. With `std` they are validated by [`crate::load::validate::alongside`] (the caller's
/// job), without it here, before this returns.
pub(crate) fn compile_modules(
    fueled: bool,
    bulk_io: bool,
    modules: &[LoadedModule],
) -> Result<CachedModules, Error> {
    let mut config = wasmi::Config::default();
    config.consume_fuel(fueled).fuel_cost(COMPILATION_IS_FREE);
    crate::load::validate::configure_compilation(&mut config);
    let engine = Engine::new(&config);
    let mut main = None;
    let mut others = Vec::new();
    for LoadedModule { name, bytes } in modules {
        let rewritten = load_time_passes(bulk_io, bytes)?;
        let module = Module::new(&engine, rewritten.as_deref().unwrap_or(&bytes[..]))
            .map_err(|e| fail!(Invalid from e, "invalid wasm module `{name}`"))?;
        if name == "main" {
            main = Some(module);
        } else {
            others.push((name.clone(), module));
        }
    }
    let main = main.ok_or_else(|| fail!(Invalid, "the manifest has no `main` module"))?;
    let others = order_by_imports(others)?;
    Ok(CachedModules {
        engine,
        main,
        others,
    })
}

/// The module rewritten by the load-time passes (the bulk-I/O pass when `bulk_io`,
/// then the lazy-memory pass), or `None` to compile `bytes` as they are: nothing to
/// rewrite, no `std`, or a module the rewriter cannot read (validation reports why).
///
/// # Errors
///
/// [`ErrorKind::NotFound`](crate::ErrorKind::NotFound) when the module imports
/// interplug's private bulk functions or memory itself (with the passes on or off).
#[cfg(feature = "std")]
fn load_time_passes(bulk_io: bool, bytes: &[u8]) -> Result<Option<Vec<u8>>, Error> {
    use crate::ErrorExt;
    let result = if bulk_io {
        crate::rewrite::bulk_io::rewrite_bulk_io(bytes).map(|r| r.map(|(wasm, _)| wasm))
    } else {
        crate::rewrite::bulk_io::refuse_private_imports(bytes).map(|()| None)
    };
    let rewritten = match result {
        Ok(rewritten) => rewritten,
        Err(error) if error.kind() == crate::ErrorKind::NotFound => return Err(error),
        Err(_) => None,
    };
    // Lazy linear memory: the module's own memory becomes an import.
    crate::rewrite::memory_import::for_this_build(bytes, rewritten)
}

#[cfg(not(feature = "std"))]
fn load_time_passes(_bulk_io: bool, _bytes: &[u8]) -> Result<Option<Vec<u8>>, Error> {
    Ok(None)
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
                bail_kind!(
                    Invalid,
                    "modules {stuck:?} import each other in a cycle; interplug links modules in \
                     dependency order"
                );
            }
        }
    }
    Ok(ordered)
}
