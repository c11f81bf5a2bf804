//! Counts the vowels of its argument with the committed `count_vowels` plug-in (built
//! with the official Rust PDK).
//!
//! ```sh
//! cargo run --release --example count_vowels -- "hello world"
//! ```

use interplug::{Manifest, Plugin, Wasm};

fn main() -> Result<(), interplug::Error> {
    let text = std::env::args()
        .nth(1)
        .unwrap_or_else(|| "hello world".to_string());
    let path = concat!(
        env!("CARGO_MANIFEST_DIR"),
        "/spec-tests/fixtures/count_vowels.wasm"
    );
    let manifest = Manifest::new([Wasm::file(path)]);
    let mut plugin = Plugin::new(&manifest, [], false)?;
    let output: String = plugin.call("count_vowels", text.as_str())?;
    println!("{output}");
    Ok(())
}
