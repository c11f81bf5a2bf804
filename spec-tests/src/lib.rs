//! Conformance suite helpers.

pub mod capi;
pub mod cases;
