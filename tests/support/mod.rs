//! What the integration tests share: include it with `mod support;`.
//!
//! - this file: error text, fixtures, a thread that cancels a call
//!   ([`cancel_after`]), the `panic_now` host functions of `limits.wasm`;
//! - [`http_server`]: a small HTTP server on 127.0.0.1 (`support::http_server::TestServer`);
//! - [`bulk_programs`]: random kernel-call programs for the bulk-I/O pass (also
//!   included by the `bulk_io` fuzz target);
//! - `counting_alloc.rs`, not a module of this one: a global allocator that counts
//!   the bytes the process holds. Including it replaces the test binary's allocator,
//!   so only the tests that measure memory (and the `kernel_churn` fuzz target) do,
//!   with `#[path = "support/counting_alloc.rs"] mod counting_alloc;`.
// Each test binary uses a subset of the helpers.
#![allow(dead_code, unused_imports)]
#![allow(clippy::disallowed_macros, clippy::disallowed_methods)]

pub mod bulk_programs;
pub mod http_server;

use interplug::{CurrentPlugin, Error, Function, Plugin, UserData, Val, PTR};
use interplug_spec_tests::fixtures;
use std::thread::JoinHandle;
use std::time::Duration;

/// The message of an error (with its causes) that `result` must hold.
pub fn error_of<T>(result: Result<T, Error>) -> String {
    match result {
        Ok(_) => panic!("expected an error"),
        Err(e) => format!("{e:#}"),
    }
}

/// `wasm` with a custom section holding `tag` appended: a module that no cache has
/// seen, for measuring or testing a first load.
pub fn unique_module(wasm: &[u8], tag: &str) -> Vec<u8> {
    fixtures::with_custom_section(wasm, b"interplug-test", tag.as_bytes())
}

/// Path of a committed fixture (name without `.wasm`).
pub use fixtures::path as fixture;

/// Bytes of a committed fixture (name without `.wasm`).
pub use fixtures::bytes as fixture_bytes;

/// A thread that cancels a plug-in's call after a delay ([`cancel_after`]).
pub struct Canceller(JoinHandle<Result<(), Error>>);

/// Starts a thread that cancels `plugin`'s running call `delay` from now.
pub fn cancel_after(plugin: &Plugin, delay: Duration) -> Canceller {
    let cancel = plugin.cancel_handle();
    Canceller(std::thread::spawn(move || {
        std::thread::sleep(delay);
        cancel.cancel()
    }))
}

impl Canceller {
    /// Waits for the thread; panics when it or its cancel failed.
    pub fn join(self) {
        self.0
            .join()
            .expect("the canceller thread")
            .expect("cancel");
    }
}

/// `panic_now` for `limits.wasm`, running `body` when called.
fn panic_now(body: fn() -> Result<(), Error>) -> Function {
    Function::new(
        "panic_now",
        [PTR],
        [PTR],
        UserData::<()>::default(),
        move |_plugin: &mut CurrentPlugin, _in: &[Val], _out: &mut [Val], _: UserData<()>| body(),
    )
}

/// `panic_now` that panics with a known message.
pub fn panicking_host_fn() -> Function {
    panic_now(|| panic!("host function blew up on purpose"))
}

/// `panic_now` that returns an error instead.
pub fn failing_host_fn() -> Function {
    panic_now(|| Err(Error::msg("host function refused on purpose")))
}
