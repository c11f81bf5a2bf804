//! The C SDK's types, as the `extism` crate's `sdk` module names them.
//!
//! The `extern "C"` functions of the Extism C API (`extism_plugin_new`,
//! `extism_plugin_call`, ...) are not in this crate, whose core has no `unsafe`
//! code: they are in the `interplug-capi` crate, built as `libinterplug.{so,a}`, a
//! drop-in for `libextism` with the same header. The types below are for Rust code
//! that describes that ABI.
//!
//! The C layouts are declared once, in the `interplug-capi-types` crate, and
//! re-exported here under the `extism` crate's names ([`ExtismVal`], [`ValUnion`],
//! [`Size`], ...): a value built with these types is what the C header
//! (`include/extism.h`) and `libinterplug` read. `extism`'s `ExtismVal` and
//! `ExtismFunction` have private fields, so code written for them builds unchanged.
//!
//! ```
//! use interplug::sdk::{val_type, ExtismVal, ValUnion};
//!
//! let handle = ExtismVal { t: val_type::I64, v: ValUnion { i64: 4096 } };
//! // As in C: a 4-byte tag, then the value, 8-byte aligned on 64-bit targets.
//! assert_eq!(core::mem::size_of_val(&handle.t), 4);
//! ```

use crate::host::function::Function;

pub use interplug_capi_types::{
    val_type, ExtismMemoryHandle, ExtismSize as Size, ExtismVal, ExtismValUnion as ValUnion,
};

/// The return code of a successful plug-in call (`EXTISM_SUCCESS`, 0).
pub static EXTISM_SUCCESS: i32 = interplug_capi_types::EXTISM_SUCCESS;

/// A host function as the C API hands it around (`ExtismFunction*`): made by
/// `extism_function_new`, then given to plug-ins, each of which links its own copy
/// of the [`Function`] (so the object may be freed, or given to another plug-in,
/// once a plug-in is made).
pub struct ExtismFunction(Function);

impl ExtismFunction {
    /// Wraps a host function.
    pub fn new(function: Function) -> ExtismFunction {
        ExtismFunction(function)
    }

    /// The host function, to clone into a plug-in.
    pub fn function(&self) -> &Function {
        &self.0
    }

    /// Moves the function to import module `namespace`, for the plug-ins made
    /// afterwards (`extism_function_set_namespace`).
    pub fn set_namespace(&mut self, namespace: impl Into<alloc::string::String>) {
        self.0.set_namespace(namespace);
    }
}

impl From<Function> for ExtismFunction {
    fn from(function: Function) -> ExtismFunction {
        ExtismFunction::new(function)
    }
}

/// A C host function: plug-in, inputs, outputs and user data.
///
/// The C signature of `interplug_capi_types::ExtismFunctionType`, spelled as the
/// `extism` crate spells it: a safe `extern "C" fn` whose first argument is the
/// Rust [`CurrentPlugin`](crate::CurrentPlugin) (which C sees as the opaque
/// `ExtismCurrentPlugin`), so host code written for `extism::sdk` builds unchanged.
pub type ExtismFunctionType = extern "C" fn(
    plugin: *mut crate::host::current_plugin::CurrentPlugin,
    inputs: *const ExtismVal,
    n_inputs: Size,
    outputs: *mut ExtismVal,
    n_outputs: Size,
    data: *mut core::ffi::c_void,
);

/// A C log drain: one formatted line and its length.
///
/// The C signature of `interplug_capi_types::ExtismLogDrainFunctionType`, as a safe
/// `extern "C" fn` like the `extism` crate's.
pub type ExtismLogDrainFunctionType = extern "C" fn(data: *const core::ffi::c_char, size: Size);

#[cfg(test)]
mod tests {
    use super::{ExtismFunction, Function};

    /// The layout `include/interplug.h` gives `ExtismVal` with a 64-bit C ABI:
    /// `ExtismValType t` (an `int`) at 0, the 8-byte union at 8, 16 bytes in all
    /// (`capi/tests/c_program.rs` compiles the same checks against the header).
    #[test]
    #[cfg(target_pointer_width = "64")]
    fn extism_val_has_the_c_layout() {
        use super::{val_type, ExtismVal, ValUnion};
        use core::mem::{align_of, offset_of, size_of};
        let val = ExtismVal {
            t: val_type::F64,
            v: ValUnion { f64: 2.5 },
        };
        assert_eq!(size_of::<ExtismVal>(), 16);
        assert_eq!(align_of::<ExtismVal>(), 8);
        assert_eq!(offset_of!(ExtismVal, t), 0);
        assert_eq!(size_of_val(&val.t), size_of::<core::ffi::c_int>());
        assert_eq!(offset_of!(ExtismVal, v), 8);
        assert_eq!(size_of::<ValUnion>(), 8);
        assert_eq!(align_of::<ValUnion>(), 8);
        assert_eq!(
            (val_type::I32, val_type::I64, val_type::F32, val_type::F64),
            (0, 1, 2, 3)
        );
    }

    #[test]
    fn a_function_object_keeps_its_function_and_namespace() {
        let function = Function::new(
            "hello",
            [crate::kernel::abi::PTR],
            [crate::kernel::abi::PTR],
            crate::host::function::UserData::<()>::default(),
            |_, _, _, _| Ok(()),
        );
        let mut object = ExtismFunction::from(function);
        assert_eq!(
            object.function().module(),
            crate::kernel::abi::DEFAULT_NAMESPACE
        );
        object.set_namespace("app");
        let linked = object.function().clone();
        assert_eq!((linked.name(), linked.module()), ("hello", "app"));
        assert_eq!(object.function().namespace(), Some("app"));
    }
}
