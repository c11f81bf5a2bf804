//! Shared helpers of the C API tests: where `libinterplug.so` and the headers are
//! (the fixtures' paths come from `interplug_spec_tests::fixtures`).

// Each test binary uses a subset of the helpers.
#![allow(dead_code, unused_imports)]

use std::path::{Path, PathBuf};
use std::sync::Arc;

use interplug_spec_tests::capi::CApiLibrary;

/// The repository root.
pub fn repo_root() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR"))
        .parent()
        .expect("capi/ has a parent")
        .to_path_buf()
}

/// `include/`.
pub fn include_dir() -> PathBuf {
    repo_root().join("include")
}

/// The folder cargo builds this package's library into for the running test: the
/// `deps/` folder holding the test executable. Cargo builds the library there with
/// all its crate types (the `rlib` the tests depend on, and with it the `cdylib`
/// and `staticlib`), so the files are always those of the current sources.
fn deps_dir() -> PathBuf {
    let exe = std::env::current_exe().expect("the test executable's path");
    exe.parent().expect("the executable's folder").to_path_buf()
}

/// A library file of this package: `INTERPLUG_CAPI_DIR` when set, else the
/// `deps/` folder of the running test, else its parent (`target/<profile>/`).
pub fn library_file(name: &str) -> PathBuf {
    let mut candidates = Vec::new();
    if let Some(dir) = std::env::var_os("INTERPLUG_CAPI_DIR") {
        candidates.push(PathBuf::from(dir).join(name));
    }
    let deps = deps_dir();
    candidates.push(deps.join(name));
    if let Some(profile_dir) = deps.parent() {
        candidates.push(profile_dir.join(name));
    }
    candidates
        .iter()
        .find(|p| p.is_file())
        .cloned()
        .unwrap_or_else(|| {
            panic!(
                "{name} not found in {candidates:?}: run `cargo build -p interplug-capi` \
                 (or set INTERPLUG_CAPI_DIR to the folder holding it)"
            )
        })
}

/// `libinterplug.so`.
pub fn shared_library() -> PathBuf {
    library_file("libinterplug.so")
}

/// `libinterplug.so`, loaded through the same wrapper as the official library.
pub fn ours() -> Arc<CApiLibrary> {
    let path = shared_library();
    CApiLibrary::open(&path).unwrap_or_else(|e| panic!("cannot load {}: {e}", path.display()))
}

/// The official library when `INTERPLUG_ORACLE_LIB` names it; a notice otherwise.
pub use interplug_spec_tests::cases::oracle;
