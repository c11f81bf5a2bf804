//! The Extism kernel as data, with no engine: the ABI's names and shapes, the Extism
//! memory and its handles.

pub mod abi;
pub(crate) mod handle;
pub mod memory;
