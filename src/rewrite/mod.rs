//! Module rewriting: read a wasm module, let a [`Pass`] add imports, types, tables,
//! memories, globals, functions and exports and rewrite function bodies, and encode
//! the result. The module is not validated first (the load path validates it
//! alongside): an invalid one is refused or rewritten into some other invalid one,
//! never a panic.
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
//! The layer's work is linear in the module's size, and bounded ([`Limits`]): when no
//! index moves (the pass adds no import), sections and the bodies a pass keeps whole
//! are copied as they are, without decoding them; bodies are rewritten one at a time,
//! their operators streamed (never held); every count the module declares is
//! checked, so no index arithmetic overflows; what the rewrite holds is counted
//! against [`Limits::max_bytes`], and [`Limits::interrupt`] (a deadline, a cancel)
//! is called before each body and every few thousand operators.
//!
//! The files: `pass` (the [`Pass`] hooks and [`rewrite`], which runs them), `limits`
//! ([`Limits`] and the count of what a rewrite holds), `read` (the module into
//! sections, bodies and [`ModuleInfo`]), `info`, `additions` ([`Additions`]) and
//! `added` (the lists it fills), `function` ([`FunctionRewriter`]), `remap` (moving
//! indices past added imports), `sections` (the kept sections and their order) and
//! `encode` (the new module); then the passes: `bulk_io` and `coverage`. Files below
//! `pass` import only files that import nothing of the crate but `error`, so the
//! layer stays shallow.
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
mod limits;
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
pub use limits::Limits;
pub use pass::{rewrite, rewrite_with, Identity, Pass};
