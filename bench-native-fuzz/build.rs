//! Turns the `planted` plug-in's own source (`spec-tests/plugins/planted/src/lib.rs`)
//! into plain Rust: the `use extism_pdk::*;` line, the `#[plugin_fn]` attributes and
//! the inner doc comments are dropped, and a table of the plug-in functions (every
//! `pub fn` that had `#[plugin_fn]`) is appended. `src/lib.rs` defines the
//! `FnResult` the source names and `include!`s the result from `OUT_DIR`, so the
//! function bodies compiled natively are exactly the plug-in's.
use std::fmt::Write as _;
use std::path::{Path, PathBuf};

const PLUGIN_SOURCE: &str = "../spec-tests/plugins/planted/src/lib.rs";

fn main() {
    println!("cargo:rerun-if-changed={PLUGIN_SOURCE}");
    let manifest_dir = std::env::var("CARGO_MANIFEST_DIR").unwrap_or_else(|_| ".".into());
    let source_path = Path::new(&manifest_dir).join(PLUGIN_SOURCE);
    let source = std::fs::read_to_string(&source_path).unwrap_or_else(|error| {
        panic!(
            "cannot read the plug-in source {}: {error}",
            source_path.display()
        )
    });

    let mut native = String::new();
    let mut functions = Vec::new();
    let mut after_plugin_fn = false;
    let mut dropped_use = false;
    for line in source.lines() {
        let trimmed = line.trim();
        if trimmed == "use extism_pdk::*;" {
            dropped_use = true;
            continue;
        }
        if trimmed.starts_with("//!") {
            continue;
        }
        if trimmed == "#[plugin_fn]" {
            after_plugin_fn = true;
            continue;
        }
        if after_plugin_fn {
            let name = trimmed
                .strip_prefix("pub fn ")
                .and_then(|rest| rest.split('(').next())
                .unwrap_or_else(|| panic!("`#[plugin_fn]` not followed by `pub fn NAME(`: {line}"));
            functions.push(name.to_owned());
            after_plugin_fn = false;
        }
        native.push_str(line);
        native.push('\n');
    }
    assert!(
        dropped_use,
        "{PLUGIN_SOURCE} no longer has `use extism_pdk::*;`: update build.rs"
    );
    assert!(
        !functions.is_empty(),
        "{PLUGIN_SOURCE} has no `#[plugin_fn]` function"
    );

    native.push_str("\n/// The plug-in functions, by name.\n");
    native.push_str("pub const FUNCTIONS: &[(&str, PluginFunction)] = &[\n");
    for name in &functions {
        let _ = writeln!(native, "    (\"{name}\", {name}),");
    }
    native.push_str("];\n");

    let out_dir = PathBuf::from(std::env::var("OUT_DIR").expect("cargo sets OUT_DIR"));
    std::fs::write(out_dir.join("planted_native.rs"), native).expect("OUT_DIR is writable");
}
