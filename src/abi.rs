//! What the Extism ABI says about a module's imports and exports: which imports
//! interplug provides itself, and which exports are plug-in functions.
//!
//! The runtime links by these rules and the `interplug` command lists plug-ins by them,
//! so both always agree.
//!
//! ```
//! use interplug::abi::{import_provider, is_plugin_function, ImportProvider};
//! use interplug::ValType;
//!
//! assert!(is_plugin_function(&[], &[ValType::I32]));
//! assert!(!is_plugin_function(&[ValType::I64], &[]));
//! let provider = import_provider("main", "extism:host/env", "output_set", true, &[], false);
//! assert_eq!(provider, ImportProvider::Kernel);
//! ```

use crate::{
    env::{ENV_FUNCTIONS, ENV_MODULE},
    val::ValType,
};

/// The WASI preview 1 import module.
pub const WASI_MODULE: &str = "wasi_snapshot_preview1";

/// True for the type of an Extism plug-in function: no parameters, and either no
/// result or one `i32` (the return code).
pub fn is_plugin_function(params: &[ValType], results: &[ValType]) -> bool {
    params.is_empty() && (results.is_empty() || results == [ValType::I32])
}

/// Who provides an import of a plug-in module.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ImportProvider {
    /// An Extism kernel function interplug provides.
    Kernel,
    /// An `extism:host/env` import interplug does not know (or not a function): the
    /// plug-in cannot load.
    UnknownKernel,
    /// WASI preview 1: provided when the plug-in is created with WASI on.
    Wasi {
        /// Whether WASI is on.
        enabled: bool,
    },
    /// Another module of the manifest (named `module`, or `main`).
    Module,
    /// A host function the embedding program must register.
    HostFunction,
}

impl ImportProvider {
    /// True when interplug satisfies the import without a host function (a module
    /// import still needs the other module to export the name).
    pub fn is_builtin(self) -> bool {
        matches!(
            self,
            ImportProvider::Kernel
                | ImportProvider::Wasi { enabled: true }
                | ImportProvider::Module
        )
    }
}

/// Who provides the import `module`.`name` (a function when `is_function`) of the
/// module named `importer`, when the manifest's other modules are `module_names` and
/// WASI is `wasi`. A module other than `main` may also import from `main`.
pub fn import_provider(
    importer: &str,
    module: &str,
    name: &str,
    is_function: bool,
    module_names: &[&str],
    wasi: bool,
) -> ImportProvider {
    if module == ENV_MODULE {
        if is_function && ENV_FUNCTIONS.contains(&name) {
            ImportProvider::Kernel
        } else {
            ImportProvider::UnknownKernel
        }
    } else if module == crate::bulk::BULK_MODULE {
        // Imports the bulk-I/O pass adds (a module that imports them itself is
        // refused before linking).
        if is_function && crate::bulk::BULK_FUNCTIONS.contains(&name) {
            ImportProvider::Kernel
        } else {
            ImportProvider::UnknownKernel
        }
    } else if module == WASI_MODULE {
        ImportProvider::Wasi { enabled: wasi }
    } else if module_names.contains(&module) || (module == "main" && importer != "main") {
        ImportProvider::Module
    } else {
        ImportProvider::HostFunction
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn providers() {
        let p = |m, n, f, w| import_provider("main", m, n, f, &["lib"], w);
        assert_eq!(p(ENV_MODULE, "alloc", true, false), ImportProvider::Kernel);
        assert_eq!(
            p(ENV_MODULE, "alloc", false, false),
            ImportProvider::UnknownKernel
        );
        assert_eq!(
            p(ENV_MODULE, "nope", true, false),
            ImportProvider::UnknownKernel
        );
        assert_eq!(
            p(WASI_MODULE, "fd_write", true, false),
            ImportProvider::Wasi { enabled: false }
        );
        assert_eq!(p("lib", "f", true, false), ImportProvider::Module);
        assert_eq!(p("main", "f", true, false), ImportProvider::HostFunction);
        assert_eq!(
            import_provider("lib", "main", "f", true, &[], false),
            ImportProvider::Module
        );
        assert_eq!(p("host", "f", true, true), ImportProvider::HostFunction);
        assert!(!ImportProvider::Wasi { enabled: false }.is_builtin());
    }
}
