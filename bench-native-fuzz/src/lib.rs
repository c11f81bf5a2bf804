//! The `planted` plug-in's functions compiled natively, for libFuzzer
//! (`scripts/libfuzzer-shapes.sh`). `build.rs` strips the Extism PDK parts from the
//! plug-in's source; this file supplies the one PDK name the bodies use.

/// What a plug-in function returns; the PDK's error type is replaced by a string
/// (the planted bugs are panics, never errors).
pub type FnResult<T> = Result<T, String>;

/// A plug-in function: the raw input in, the output (or a status) out.
pub type PluginFunction = fn(Vec<u8>) -> FnResult<Vec<u8>>;

include!(concat!(env!("OUT_DIR"), "/planted_native.rs"));

/// The plug-in function called `name`, if there is one.
pub fn function(name: &str) -> Option<PluginFunction> {
    FUNCTIONS
        .iter()
        .find(|(known, _)| *known == name)
        .map(|(_, function)| *function)
}
