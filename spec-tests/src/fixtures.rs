//! Where the committed plug-in fixtures are.
//!
//! The fixtures (`.wasm` files built from `spec-tests/plugins/` with the official
//! PDKs by `spec-tests/build-fixtures.sh`) live in this crate's `fixtures/`
//! folder. Every test, benchmark and harness of the workspace takes their paths
//! from here: the root package's tests and benches, the C library's and the CLI's
//! tests (as a dev-dependency) and `bench-compare`.
//!
//! ```
//! use interplug_spec_tests::fixtures;
//!
//! assert!(fixtures::path("echo").ends_with("fixtures/echo.wasm"));
//! assert!(fixtures::bytes("echo").starts_with(b"\0asm"));
//! ```

use std::path::{Path, PathBuf};

/// The folder holding the committed fixtures (`spec-tests/fixtures/`).
pub fn dir() -> &'static Path {
    Path::new(concat!(env!("CARGO_MANIFEST_DIR"), "/fixtures"))
}

/// The absolute path of fixture `name` (given without `.wasm`).
pub fn path(name: &str) -> PathBuf {
    dir().join(format!("{name}.wasm"))
}

/// The bytes of fixture `name` (given without `.wasm`).
///
/// # Panics
/// When the file cannot be read (a missing fixture is a broken checkout, not
/// a test outcome); the message names the file and the script that rebuilds it.
pub fn bytes(name: &str) -> Vec<u8> {
    let path = path(name);
    std::fs::read(&path).unwrap_or_else(|e| {
        panic!(
            "fixture {} cannot be read ({e}); the committed fixtures are rebuilt by \
             spec-tests/build-fixtures.sh",
            path.display()
        )
    })
}

/// `wasm` with a custom section `name` holding `payload` appended: a module no
/// cache has seen (for measuring or testing a first load), that runs the same.
///
/// # Panics
/// When the section does not fit in 127 bytes (its size is written as one
/// LEB128 byte); callers pass short names and tags.
pub fn with_custom_section(wasm: &[u8], name: &[u8], payload: &[u8]) -> Vec<u8> {
    let size = 1 + name.len() + payload.len();
    assert!(size < 128, "the custom section must fit in 127 bytes");
    let mut bytes = Vec::with_capacity(wasm.len() + 2 + size);
    bytes.extend_from_slice(wasm);
    bytes.push(0); // custom section id
    bytes.push(size as u8);
    bytes.push(name.len() as u8);
    bytes.extend_from_slice(name);
    bytes.extend_from_slice(payload);
    bytes
}

/// `n` bytes of English-like ASCII text: the input the benchmarks give
/// `count_vowels.wasm`.
pub fn text(n: usize) -> Vec<u8> {
    b"The quick brown fox jumps over the lazy dog; a plug-in counts vowels. "
        .iter()
        .copied()
        .cycle()
        .take(n)
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_named_fixture_is_a_module() {
        for name in ["echo", "count_vowels", "host_fns", "limits", "vars"] {
            assert!(bytes(name).starts_with(b"\0asm\x01\0\0\0"), "{name}");
        }
    }

    #[test]
    fn custom_section_is_appended() {
        let module = b"\0asm\x01\0\0\0";
        let tagged = with_custom_section(module, b"ab", b"xyz");
        assert_eq!(&tagged[..8], module);
        assert_eq!(&tagged[8..], b"\0\x06\x02abxyz");
    }
}
