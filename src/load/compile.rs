//! Compiling modules on an engine, in the order their imports need.

use crate::{
    error::{bail_kind, fail},
    load::bounds::LoadBounds,
    load::module_cache::{CachedModules, Passes},
    manifest::input::LoadedModule,
    Error,
};
use alloc::{string::String, vec::Vec};
use wasmi::{Engine, Module};

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

/// Compiles `modules` on a new engine, the load-time passes under `bounds`.
/// Function bodies are translated at their first call. With `std` they are
/// validated by [`crate::load::validate::alongside`] (the caller's job), without it
/// here, before this returns.
pub(crate) fn compile_modules(
    fueled: bool,
    passes: Passes,
    modules: &[LoadedModule],
    bounds: &LoadBounds,
) -> Result<CachedModules, Error> {
    let mut config = wasmi::Config::default();
    config.consume_fuel(fueled).fuel_cost(COMPILATION_IS_FREE);
    crate::load::validate::configure_compilation(&mut config);
    let engine = Engine::new(&config);
    let mut main = None;
    let mut others = Vec::new();
    // What the modules hold counts against the load-time cap; the passes get the rest.
    let held: u64 = modules.iter().map(|m| m.bytes.len() as u64).sum();
    let pass_bytes = bounds.max_bytes.saturating_sub(held);
    for LoadedModule { name, bytes } in modules {
        bounds.check()?;
        let rewritten = load_time_passes(passes, bytes, bounds, pass_bytes)?;
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

/// The module rewritten by the load-time passes (the bulk-I/O pass, then the
/// lazy-memory pass, each when `passes` says so), or `None` to compile `bytes` as they are: nothing to rewrite, no `std`, or a module
/// the rewriter cannot read (validation reports why). The passes hold at most
/// `max_bytes` and stop at the deadline or a cancel of `bounds`.
///
/// # Errors
///
/// [`ErrorKind::NotFound`](crate::ErrorKind::NotFound) or
/// [`ErrorKind::Invalid`](crate::ErrorKind::Invalid) when the module uses interplug's
/// private bulk names or memory import itself (with the passes on or off);
/// [`ErrorKind::LimitExceeded`](crate::ErrorKind::LimitExceeded),
/// [`ErrorKind::Timeout`](crate::ErrorKind::Timeout) or
/// [`ErrorKind::Cancelled`](crate::ErrorKind::Cancelled) past `bounds`.
#[cfg(feature = "std")]
fn load_time_passes(
    passes: Passes,
    bytes: &[u8],
    bounds: &LoadBounds,
    max_bytes: u64,
) -> Result<Option<Vec<u8>>, Error> {
    let interrupt = || bounds.check();
    let limits =
        crate::rewrite::Limits::with_max_bytes(usize::try_from(max_bytes).unwrap_or(usize::MAX))
            .with_interrupt(&interrupt);
    let rewritten = crate::rewrite::bulk_io::for_loading(bytes, passes.bulk_io, &limits)?;
    // Lazy linear memory: the module's own memory becomes an import.
    crate::rewrite::memory_import::for_this_build(bytes, rewritten, passes.lazy_memory)
}

#[cfg(not(feature = "std"))]
fn load_time_passes(
    _passes: Passes,
    _bytes: &[u8],
    _bounds: &LoadBounds,
    _max_bytes: u64,
) -> Result<Option<Vec<u8>>, Error> {
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
