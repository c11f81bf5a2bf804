//! Runs a plug-in through the core API alone. Build it without the standard-library
//! features to prove the core needs only `alloc`:
//!
//! ```sh
//! cargo run --example no_std_core --no-default-features
//! ```
//!
//! With `--no-default-features` interplug itself is `#![no_std]`: no files, no wall
//! clock, no WASI or HTTP. The module comes in as bytes, and the host supplies the
//! clock that `timeout_ms` needs (here a counter, as a bare-metal host would read a
//! tick register).

use interplug::{Clock, Manifest, PluginBuilder, Wasm};
use std::sync::{
    atomic::{AtomicU64, Ordering},
    Arc,
};

/// A clock that advances one millisecond each time it is read.
struct TickClock(AtomicU64);

impl Clock for TickClock {
    fn now_ms(&self) -> u64 {
        self.0.fetch_add(1, Ordering::Relaxed)
    }
}

static ECHO: &[u8] = include_bytes!("../spec-tests/fixtures/echo.wasm");

fn main() -> Result<(), interplug::Error> {
    let manifest = Manifest::new([Wasm::data(ECHO.to_vec())])
        .with_memory_max(64)
        .with_timeout(core::time::Duration::from_millis(1000));
    let mut plugin = PluginBuilder::new(manifest)
        .with_clock(Arc::new(TickClock(AtomicU64::new(0))))
        .build()?;
    let length: &str = plugin.call("length", b"12345".as_slice())?;
    assert_eq!(length, "5");
    let output: &[u8] = plugin.call("echo", b"no_std core".as_slice())?;
    assert_eq!(output, b"no_std core");
    println!(
        "echo through the core API: {}",
        core::str::from_utf8(output)?
    );
    Ok(())
}
