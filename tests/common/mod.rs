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

/// `wasm` with a custom section holding `tag` appended: a module that no cache has
/// seen, for measuring or testing a first load.
pub fn unique_module(wasm: &[u8], tag: &str) -> Vec<u8> {
    let name = b"interplug-test";
    let size = 1 + name.len() + tag.len();
    assert!(size < 128, "the section size must fit one LEB128 byte");
    let mut bytes = Vec::with_capacity(wasm.len() + 2 + size);
    bytes.extend_from_slice(wasm);
    bytes.push(0); // custom section id
    bytes.push(size as u8);
    bytes.push(name.len() as u8);
    bytes.extend_from_slice(name);
    bytes.extend_from_slice(tag.as_bytes());
    bytes
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
