//! Helpers shared by the integration tests.
#![allow(dead_code)]

use interplug::{CurrentPlugin, Error, Function, UserData, Val, PTR};
use std::path::PathBuf;

/// The message of an error (with its causes) that `result` must hold.
pub fn error_of<T>(result: Result<T, Error>) -> String {
    match result {
        Ok(_) => panic!("expected an error"),
        Err(e) => format!("{e:#}"),
    }
}

/// Path of a committed fixture.
pub fn fixture(name: &str) -> PathBuf {
    PathBuf::from(concat!(env!("CARGO_MANIFEST_DIR"), "/spec-tests/fixtures"))
        .join(format!("{name}.wasm"))
}

/// Bytes of a committed fixture.
pub fn fixture_bytes(name: &str) -> Vec<u8> {
    std::fs::read(fixture(name)).expect("fixture present")
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
