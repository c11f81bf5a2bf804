//! The runtime's own log lines about calls: each call and its outcome, at the levels
//! the official runtime writes them (the call's start at `trace`, its details at
//! `debug`, an engine failure at `error`), under its target `extism::plugin` (so that
//! a host's filter such as `extism=debug` selects them; `instance.rs` logs a
//! creation there at `debug`). The `log` macros test the level before formatting: a
//! level that is off costs a comparison.
//!
//! [`Plugin::raw_call`], which every sync call of the call API goes through, is here:
//! it wraps [`Plugin::run_call`] with the lines (`Plugin::call_async` writes the same
//! through [`Plugin::log_calling`] and [`Plugin::log_finished`]). Nothing in `src/`
//! imports this file.

use crate::{plugin::instance::Plugin, plugin::run::CallFailure, Error, ErrorExt, ErrorKind};
use alloc::boxed::Box;
use core::any::Any;

/// The target of every line.
const TARGET: &str = "extism::plugin";

impl Plugin {
    /// Runs `name` on raw input bytes, as [`Plugin::run_call`], and logs the call and
    /// its outcome.
    pub(crate) fn raw_call(
        &mut self,
        name: &str,
        input: &[u8],
        host_context: Option<Box<dyn Any + Send + Sync>>,
    ) -> Result<(), CallFailure> {
        self.log_calling(name, input.len());
        let result = self.run_call(name, input, host_context);
        self.log_finished(name, &result);
        result
    }

    /// Logs that a call of `name` with `input_len` bytes of input starts.
    pub(crate) fn log_calling(&self, name: &str, input_len: usize) {
        calling(&self.id, name, input_len);
    }

    /// Logs how the call of `name` ended.
    pub(crate) fn log_finished(&self, name: &str, result: &Result<(), CallFailure>) {
        let failure = result.as_ref().err().map(|f| (&f.error, f.rc));
        if failure.is_none() && log::log_enabled!(target: TARGET, log::Level::Debug) {
            let length = self.output().map_or(0, <[u8]>::len);
            log::debug!(target: TARGET, "output length={length} plugin=\"{}\"", self.id);
        }
        finished(&self.id, name, failure);
    }
}

/// A call of `name` with `input_len` bytes of input starts.
fn calling(id: &uuid::Uuid, name: &str, input_len: usize) {
    log::trace!(target: TARGET, "calling function {name} plugin=\"{id}\"");
    log::debug!(target: TARGET, "input size: {input_len} plugin=\"{id}\"");
}

/// The call of `name` ended: `failure` is its error and return code when it failed.
/// A return code the plug-in gave (also with a message) and a WASI exit are details
/// (`debug`); any other failure (a trap, a timeout, a cancel, fuel or memory running
/// out, a host function's error) is an `error` line, as in the official runtime.
fn finished(id: &uuid::Uuid, name: &str, failure: Option<(&Error, i32)>) {
    match failure {
        None => log::debug!(target: TARGET, "got return code: 0 plugin=\"{id}\""),
        Some((error, rc)) => match error.kind() {
            ErrorKind::Plugin { .. } => {
                log::debug!(target: TARGET, "got return code: {rc} plugin=\"{id}\"");
            }
            ErrorKind::Exit { code } => {
                log::debug!(target: TARGET, "WASI exit code: {code} plugin=\"{id}\"");
            }
            ErrorKind::NotFound => {
                log::debug!(target: TARGET, "call to {name} failed: {error:#} plugin=\"{id}\"");
            }
            _ => log::error!(
                target: TARGET,
                "call to {name} encountered an error: {error:#} plugin=\"{id}\""
            ),
        },
    }
}
