//! Conformance suite helpers.

pub mod capi;
