//! Module rewriting: read a validated wasm module, let a [`Pass`] add imports,
//! memories, globals, functions and exports and rewrite function bodies, and encode
//! the result.
//!
//! Everything the pass does not touch is copied: sections keep their order, custom
//! sections (the `name` section included) stay where they were. Items a pass adds
//! are appended to their index space, so existing indices keep their meaning, with
//! one exception the layer handles once for every pass: an *imported* function,
//! memory or global comes before the module's own ones in its index space, so adding
//! one shifts the module's own items. The layer remaps those indices everywhere
//! (calls, `ref.func`, loads and stores, `global.get`/`set`, exports, the start
//! function, element and data segments, constant expressions and the name section).
//!
//! The files: `pass` (the [`Pass`] hooks and [`rewrite`], which runs them), `read`
//! (the module into sections, bodies and [`ModuleInfo`]), `info`, `additions`
//! ([`Additions`]) and `added` (the lists it fills), `function`
//! ([`FunctionRewriter`]), `remap` (moving indices past added imports), `sections`
//! (the kept sections and their order) and `encode` (the new module); then the
//! passes: `bulk_io` and `coverage`. Files below `pass` import only files that
//! import nothing of the crate but `error`, so the layer stays shallow.
//!
//! ```
//! use interplug::rewrite::{rewrite, Identity};
//! let bytes = wat::parse_str(r#"(module (func (export "f") (result i32) i32.const 7))"#)?;
//! let same = rewrite(&bytes, &mut Identity)?;
//! wasmparser::validate(&same)?;
//! # Ok::<(), interplug::Error>(())
//! ```

mod added;
mod additions;
mod encode;
mod function;
mod info;
mod pass;
mod read;
mod remap;
mod sections;

pub mod bulk_io;
pub mod coverage;
pub mod memory_import;
#[cfg(test)]
mod tests;

pub use additions::Additions;
pub use function::FunctionRewriter;
pub use info::ModuleInfo;
pub use pass::{rewrite, Identity, Pass};
