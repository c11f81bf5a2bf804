//! From a plug-in source to linked modules: reading the modules (files, URLs, bytes,
//! WAT), validating them, compiling them (with the load-time rewriting passes),
//! caching them, and checking and binding their imports; all of it under the
//! creation's deadline, cancel and load-time memory cap (`bounds`).

pub(crate) mod bounds;
pub(crate) mod compile;
pub(crate) mod link;
pub(crate) mod module_cache;
pub mod sources;
pub(crate) mod validate;
