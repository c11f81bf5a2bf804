//! A mock host: a wasm module whose exports stand in for the host functions a
//! plug-in imports (as `xtp plugin test --mock-host`).
//!
//! The mock is loaded as an interplug plug-in of its own (it may use the Extism
//! kernel, e.g. be written with a PDK). For every import of the plug-in under test
//! that needs a host function and that the mock exports under the same name, a
//! host function is registered that forwards the call to the mock export:
//!
//! - `i32`, `f32`, `f64` values pass through unchanged;
//! - an `i64` argument that is a live block of the caller's Extism memory is copied
//!   into a new block of the mock's memory and the mock gets that handle (Extism
//!   host functions pass memory handles as `i64`); other `i64` values pass through;
//! - an `i64` result that is a live block of the mock's memory is copied back into
//!   a new block of the caller and the caller gets its handle; 0 and other values
//!   pass through. Blocks copied for the call are freed in the mock afterwards.
//!
//! The mock keeps its state (globals, memory, vars) for the whole run.

use crate::inspect::{self, ModuleInfo};
use interplug::{CurrentPlugin, Error, Function, Plugin, UserData, Val};

/// The mock plug-in, shared by the forwarding functions.
pub type SharedMock = UserData<Plugin>;

/// Forwarding host functions for every import of `modules` (the plug-in under test)
/// that needs a host function and that `mock_exports` has. Returns the functions
/// and the imports the mock does not provide, as `module.name` texts.
pub fn forwarding_functions(
    mock: &SharedMock,
    mock_info: &ModuleInfo,
    modules: &[(String, ModuleInfo)],
) -> (Vec<Function>, Vec<String>) {
    let mut functions = Vec::new();
    let mut missing = Vec::new();
    for (_, import) in inspect::host_function_imports(modules) {
        let Some(signature) = import.kind.signature() else {
            missing.push(format!(
                "{}.{} (not a function)",
                import.module, import.name
            ));
            continue;
        };
        if mock_info
            .export(&import.name)
            .and_then(|e| e.kind.signature())
            .is_none()
        {
            missing.push(format!("{}.{}", import.module, import.name));
            continue;
        }
        let export = import.name.clone();
        let function = Function::new(
            import.name.clone(),
            signature.params.clone(),
            signature.results.clone(),
            mock.clone(),
            move |caller, inputs, outputs, mock| forward(caller, inputs, outputs, &mock, &export),
        )
        .with_namespace(import.module.clone());
        functions.push(function);
    }
    (functions, missing)
}

/// Calls the mock's export `name`, copying memory blocks both ways.
fn forward(
    caller: &mut CurrentPlugin,
    inputs: &[Val],
    outputs: &mut [Val],
    mock: &SharedMock,
    name: &str,
) -> Result<(), Error> {
    let mock = mock.get()?;
    let mut mock = mock
        .lock()
        .map_err(|_| anyhow_msg("the mock host is unusable after an earlier panic"))?;
    let mut args = Vec::with_capacity(inputs.len());
    let mut copied = Vec::new();
    for value in inputs {
        match caller.memory_from_val(value) {
            Some(handle) => {
                let bytes = caller.memory_bytes(handle)?.to_vec();
                let copy = mock.current_plugin().memory_new(&bytes[..])?;
                copied.push(copy);
                args.push(Val::I64(copy.offset as i64));
            }
            None => args.push(*value),
        }
    }
    let results = mock.call_export(name, &args);
    for handle in copied {
        mock.current_plugin().memory_free(handle)?;
    }
    let results =
        results.map_err(|e| anyhow_msg(&format!("mock host function `{name}` failed: {e:#}")))?;
    for (slot, value) in outputs.iter_mut().zip(results) {
        let block = match value {
            Val::I64(offset) if offset != 0 => mock.current_plugin().memory_handle(offset as u64),
            _ => None,
        };
        *slot = match block {
            Some(handle) => {
                let bytes = mock.current_plugin().memory_bytes(handle)?.to_vec();
                mock.current_plugin().memory_free(handle)?;
                let copy = caller.memory_new(&bytes[..])?;
                caller.memory_to_val(copy)
            }
            None => value,
        };
    }
    Ok(())
}

fn anyhow_msg(text: &str) -> Error {
    Error::msg(text.to_string())
}
