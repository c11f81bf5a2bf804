//! Linking: checking every import is satisfied and defining host functions.

use crate::{
    error::{bail_kind, fail, to_engine, with_context},
    host::current_plugin::CurrentPlugin,
    host::function::{wait_here, Callback, Function, HostFuture},
    host::suspend::Suspend,
    kernel::abi::{import_provider, ImportProvider, MAIN_MODULE},
    platform, Error, ErrorKind,
};
use alloc::{format, string::String, sync::Arc, vec::Vec};
use wasmi::{Linker, Module};

/// Checks every import of `module` is one interplug can satisfy, naming the ones it
/// cannot. `functions` are the host functions the plug-in links (after
/// [`shadowed`]): one of them provides an import of its namespace and name, also in
/// the WASI namespace when WASI is off.
///
/// The first unsatisfied import heads the message in wasmtime's words, `unknown
/// import: `ns::name` has not been defined`, as the official runtime reports it (the
/// official SDKs' tests match these words); every problem is then explained.
pub(crate) fn check_imports(
    module_name: &str,
    module: &Module,
    functions: &[Function],
    module_names: &[&str],
    wasi: bool,
) -> Result<(), Error> {
    let mut first: Option<String> = None;
    let mut problems = Vec::new();
    for import in module.imports() {
        let (m, n) = (import.module(), import.name());
        let is_func = matches!(import.ty(), wasmi::ExternType::Func(_));
        let hosted = || functions.iter().any(|f| f.module() == m && f.name() == n);
        let problem = match import_provider(module_name, m, n, is_func, module_names, wasi) {
            ImportProvider::Kernel | ImportProvider::Wasi { enabled: true } => continue,
            // Another module of the manifest; the linker checks the name and type.
            ImportProvider::Module => continue,
            ImportProvider::UnknownKernel => {
                format!("`{m}`.`{n}` is not an Extism kernel function (unknown import of {m})")
            }
            ImportProvider::Wasi { enabled: false } if is_func && hosted() => continue,
            ImportProvider::Wasi { enabled: false } => format!(
                "`{m}`.`{n}` needs WASI, which is not enabled: create the plug-in with \
                 WASI on (with_wasi(true))"
            ),
            ImportProvider::HostFunction if hosted() => continue,
            ImportProvider::HostFunction => format!(
                "`{m}`.`{n}` ({}) is not provided: register a host function with that \
                 namespace and name",
                describe_extern(import.ty())
            ),
        };
        first.get_or_insert_with(|| format!("unknown import: `{m}::{n}` has not been defined"));
        problems.push(problem);
    }
    match first {
        None => Ok(()),
        Some(first) => bail_kind!(
            NotFound,
            "{first} (module `{module_name}` has unresolved imports:\n  {})",
            problems.join("\n  ")
        ),
    }
}

/// The host functions a plug-in links: when several have one namespace and name,
/// the last one given wins and the others are dropped, as the official runtime's
/// linker (which allows shadowing) does. The order of the rest is kept.
pub(crate) fn shadowed(functions: Vec<Function>) -> Vec<Function> {
    let mut seen = alloc::collections::BTreeSet::new();
    let mut kept: Vec<Function> = functions
        .into_iter()
        .rev()
        .filter(|f| seen.insert((String::from(f.module()), String::from(f.name()))))
        .collect();
    kept.reverse();
    kept
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

/// Defines a user host function on the linker. One in the WASI namespace replaces
/// the WASI function of that name (the linker must allow shadowing), as in the
/// official runtime; one with the name of an Extism kernel function is refused.
pub(crate) fn define_host_function(
    linker: &mut Linker<CurrentPlugin>,
    function: &Function,
) -> Result<(), Error> {
    if matches!(
        import_provider(
            MAIN_MODULE,
            function.module(),
            function.name(),
            true,
            &[],
            false
        ),
        ImportProvider::Kernel
    ) {
        bail_kind!(
            Invalid,
            "host function `{}`.`{}` has the name of an Extism kernel function, which \
             host functions cannot replace: give it another namespace or name",
            function.module(),
            function.name()
        );
    }
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
    let label: Arc<str> = Arc::from(format!("{}::{}", function.module(), function.name()));
    let (module, name) = (function.module(), function.name());
    let defined = match &function.callback {
        Callback::Sync(callback) => {
            let callback = callback.clone();
            linker.func_new(module, name, ty, move |mut caller, inputs, outputs| {
                let inputs: Vec<crate::Val> = inputs.iter().map(crate::Val::from_wasmi).collect();
                let mut values: Vec<crate::Val> =
                    outputs.iter().map(crate::Val::from_wasmi).collect();
                let state = caller.data_mut();
                // The host function's own error is the cause; its kind is kept (`Host`
                // when it has none).
                call_guarded(&*callback, state, &inputs, &mut values)
                    .map_err(|e| host_failure(e, &label))?;
                write_results(&label, values, &results, outputs)
            })
        }
        // The function reads its inputs and makes its future here; the run loop
        // awaits it with the call suspended (`host/suspend.rs`).
        Callback::Async(start) => {
            let start = start.clone();
            linker.func_new(module, name, ty, move |mut caller, inputs, outputs| {
                let inputs: Vec<crate::Val> = inputs.iter().map(crate::Val::from_wasmi).collect();
                let state = caller.data_mut();
                let future = platform::catch_panic(|| Ok(start(state, &inputs)))
                    .map_err(|e| host_failure(e, &label))?;
                if state.can_suspend {
                    return Err(Suspend::<HostFuture>::error(Some(label.clone()), future));
                }
                // A start function runs inside instantiation, which cannot be
                // suspended: the future is waited for on this thread.
                let mut values: Vec<crate::Val> =
                    outputs.iter().map(crate::Val::from_wasmi).collect();
                wait_here(state, Some(&label), future, &mut values)
                    .map_err(|e| to_engine(&e, ErrorKind::Host))?;
                write_results(&label, values, &results, outputs)
            })
        }
    };
    defined.map_err(|e| {
        fail!(
            Invalid from e,
            "cannot register host function `{}`.`{}`",
            function.module(),
            function.name()
        )
    })?;
    Ok(())
}

/// Converts a host function's results for the engine.
fn write_results(
    label: &str,
    values: Vec<crate::Val>,
    types: &[wasmi::ValType],
    outputs: &mut [wasmi::Val],
) -> Result<(), wasmi::Error> {
    for ((slot, value), ty) in outputs.iter_mut().zip(values).zip(types) {
        *slot = value.to_wasmi(*ty).map_err(|e| {
            to_engine(
                &with_context(e, &format!("host function `{label}`")),
                ErrorKind::Invalid,
            )
        })?;
    }
    Ok(())
}

/// A host function's error as the engine carries it: the error is the cause, its kind
/// kept (`Host` when it has none).
fn host_failure(error: Error, label: &str) -> wasmi::Error {
    to_engine(
        &with_context(error, &format!("host function `{label}` failed")),
        ErrorKind::Host,
    )
}

/// Calls a host function, turning a panic into an error (with `std`).
fn call_guarded(
    callback: &crate::host::function::HostCallback,
    state: &mut CurrentPlugin,
    inputs: &[crate::Val],
    outputs: &mut [crate::Val],
) -> Result<(), Error> {
    platform::catch_panic(|| callback(state, inputs, outputs))
}
