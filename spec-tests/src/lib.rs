//! Conformance suite helpers, and the workspace's shared test support: the
//! fixtures' paths ([`fixtures`]) and the one client of the Extism C API
//! ([`capi`]), used by the conformance and differential tests and by
//! `bench-compare`.

pub mod capi;
pub mod cases;
pub mod fixtures;
