//! The engine behind the `interplug` command, usable from Rust:
//!
//! - [`options`]: load a plug-in file (wasm, WAT or manifest) and apply limits and
//!   permissions;
//! - [`inspect`] and [`info`]: read a module's imports, exports and memories without
//!   running it, and decide whether interplug can run it;
//! - [`harness`]: run test plug-ins (`xtp-test` and friends) over the
//!   `xtp:test/harness` ABI;
//! - [`mock_host`]: stand a wasm module's exports in for a plug-in's host functions;
//! - [`fuzzer`]: fuzz a plug-in function, minimise and save what breaks it;
//! - [`logger`], [`exit`], [`rng`]: the small pieces the command is made of.

#![deny(missing_docs)]

pub mod exit;
pub mod fuzzer;
pub mod harness;
pub mod info;
pub mod inspect;
pub mod logger;
pub mod mock_host;
pub mod options;
pub mod rng;
