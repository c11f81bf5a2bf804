//! Linking: checking every import is satisfied and defining host functions.

use crate::{
    error::{bail_kind, fail, to_engine, with_context},
    host::current_plugin::CurrentPlugin,
    host::function::{Callback, Function, HostFuture},
    host::suspend::Suspend,
    kernel::abi::{import_provider, ImportProvider},
    platform, Error, ErrorKind,
};
use alloc::{format, string::String, sync::Arc, vec::Vec};
use wasmi::{Linker, Module};

/// Checks every import of `module` is one interplug can satisfy, naming the ones it
/// cannot.
pub(crate) fn check_imports(
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
        match import_provider(module_name, m, n, is_func, module_names, wasi) {
            ImportProvider::Kernel | ImportProvider::Wasi { enabled: true } => {}
            // Another module of the manifest; the linker checks the name and type.
            ImportProvider::Module => {}
            ImportProvider::UnknownKernel => problems.push(format!(
                "`{m}`.`{n}` is not an Extism kernel function (unknown import of {m})"
            )),
            ImportProvider::Wasi { enabled: false } => problems.push(format!(
                "`{m}`.`{n}` needs WASI, which is not enabled: create the plug-in with \
                 WASI on (with_wasi(true))"
            )),
            ImportProvider::HostFunction => {
                if !functions.iter().any(|f| f.module() == m && f.name() == n) {
                    problems.push(format!(
                        "`{m}`.`{n}` ({}) is not provided: register a host function with that \
                         namespace and name",
                        describe_extern(import.ty())
                    ));
                }
            }
        }
    }
    if problems.is_empty() {
        Ok(())
    } else {
        bail_kind!(
            NotFound,
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
pub(crate) fn define_host_function(
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
                for ((slot, value), ty) in outputs.iter_mut().zip(values).zip(&results) {
                    *slot = value.to_wasmi(*ty).map_err(|e| {
                        to_engine(
                            &with_context(e, &format!("host function `{label}`")),
                            ErrorKind::Invalid,
                        )
                    })?;
                }
                Ok(())
            })
        }
        // The function reads its inputs and makes its future here; the run loop
        // awaits it with the call suspended (`host/suspend.rs`).
        Callback::Async(start) => {
            let start = start.clone();
            linker.func_new(module, name, ty, move |mut caller, inputs, _| {
                let inputs: Vec<crate::Val> = inputs.iter().map(crate::Val::from_wasmi).collect();
                let state = caller.data_mut();
                let future = platform::catch_panic(|| Ok(start(state, &inputs)))
                    .map_err(|e| host_failure(e, &label))?;
                Err(Suspend::<HostFuture>::error(Some(label.clone()), future))
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
