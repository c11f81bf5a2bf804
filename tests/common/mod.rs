//! Helpers shared by the integration tests.
// Each test binary uses a subset of the helpers. Tests may make untyped errors (as
// host code does); the workspace's clippy.toml refuses them in `src/` only.
#![allow(dead_code, unused_imports)]
#![allow(clippy::disallowed_macros, clippy::disallowed_methods)]

use interplug::{CurrentPlugin, Error, Function, UserData, Val, PTR};
use interplug_spec_tests::fixtures;

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
