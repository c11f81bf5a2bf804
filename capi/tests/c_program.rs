//! Compiles the C test program (`tests/c/test.c`) with the system C compiler
//! against `include/extism.h` and runs it, linked with `libinterplug.so` and with
//! `libinterplug.a`; checks the header from C++ and against the library's exports.
//!
//! The compiler is `$CC` (default `cc`); `$CXX` (default `c++`) for the C++ check.

mod common;

use std::path::{Path, PathBuf};
use std::process::Command;

use interplug_spec_tests::{capi, fixtures};

/// Every function of the Extism C API (the dynamic symbols of libextism 1.41).
const API: &[&str] = &[
    "extism_compiled_plugin_free",
    "extism_compiled_plugin_new",
    "extism_compiled_plugin_new_with_fuel_limit",
    "extism_current_plugin_host_context",
    "extism_current_plugin_memory",
    "extism_current_plugin_memory_alloc",
    "extism_current_plugin_memory_free",
    "extism_current_plugin_memory_length",
    "extism_error",
    "extism_function_free",
    "extism_function_new",
    "extism_function_set_namespace",
    "extism_log_custom",
    "extism_log_drain",
    "extism_log_file",
    "extism_plugin_allow_http_response_headers",
    "extism_plugin_call",
    "extism_plugin_call_with_host_context",
    "extism_plugin_cancel",
    "extism_plugin_cancel_handle",
    "extism_plugin_config",
    "extism_plugin_error",
    "extism_plugin_free",
    "extism_plugin_function_exists",
    "extism_plugin_id",
    "extism_plugin_new",
    "extism_plugin_new_error_free",
    "extism_plugin_new_from_compiled",
    "extism_plugin_new_with_fuel_limit",
    "extism_plugin_output_data",
    "extism_plugin_output_length",
    "extism_plugin_reset",
    "extism_version",
];

/// A scratch folder for build products of this test.
fn scratch(name: &str) -> PathBuf {
    let dir = Path::new(env!("CARGO_TARGET_TMPDIR")).join(name);
    std::fs::create_dir_all(&dir).expect("create scratch folder");
    dir
}

/// Runs a command, panicking with its output when it fails; returns stdout.
fn run(mut command: Command, what: &str) -> String {
    let output = command
        .output()
        .unwrap_or_else(|e| panic!("{what}: cannot run {command:?}: {e}"));
    let stdout = String::from_utf8_lossy(&output.stdout).into_owned();
    let stderr = String::from_utf8_lossy(&output.stderr);
    eprintln!("{what}:\n{stdout}{stderr}");
    assert!(
        output.status.success(),
        "{what} failed ({}): {command:?}\n{stdout}{stderr}",
        output.status
    );
    stdout
}

/// A C compiler command with the test program's common flags.
fn compile_test_program(output: &Path) -> Command {
    let cc = std::env::var("CC").unwrap_or_else(|_| "cc".to_string());
    let mut command = Command::new(cc);
    command
        .args(["-std=c11", "-Wall", "-Wextra", "-Werror", "-g", "-O1"])
        .arg("-I")
        .arg(common::include_dir())
        .arg(Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/c/test.c"))
        .arg("-o")
        .arg(output);
    command
}

/// Runs the compiled test program on the fixtures and checks its summary line.
fn run_test_program(program: &Path, what: &str) {
    let mut command = Command::new(program);
    command.arg(fixtures::dir());
    let stdout = run(command, what);
    assert!(
        stdout.lines().any(|l| l.ends_with(" passed, 0 failed")),
        "{what}: no summary line in {stdout}"
    );
}

/// Compiles the test program linked with the shared library `library` (into the
/// scratch folder `folder`) and runs it.
fn test_program_with_shared_library(library: &Path, folder: &str) {
    let dir = library.parent().expect("library folder");
    let name = library
        .file_name()
        .expect("library file name")
        .to_string_lossy();
    let program = scratch(folder).join("test");
    let mut command = compile_test_program(&program);
    command
        .arg("-L")
        .arg(dir)
        .arg(format!("-l:{name}"))
        .arg(format!("-Wl,-rpath,{}", dir.display()))
        .arg("-lpthread");
    run(command, &format!("compile test.c ({name})"));
    run_test_program(&program, &format!("test.c with {name}"));
}

#[test]
fn c_program_passes_with_the_shared_library() {
    test_program_with_shared_library(&common::shared_library(), "c-dynamic");
}

#[test]
fn c_program_passes_with_the_official_library() {
    // The same program against libextism shows the test checks real Extism
    // behaviour (it accepts the documented differences both ways).
    let Some(oracle) = capi::oracle_path() else {
        eprintln!("oracle absent: set INTERPLUG_ORACLE_LIB to also run test.c on libextism");
        return;
    };
    test_program_with_shared_library(&oracle, "c-official");
}

#[test]
fn c_program_passes_with_the_static_library() {
    let library = common::library_file("libinterplug.a");
    let program = scratch("c-static").join("test");
    let mut command = compile_test_program(&program);
    // The system libraries Rust's standard library needs on Linux (what
    // `--print native-static-libs` lists).
    command.arg(&library).args([
        "-lgcc_s",
        "-lutil",
        "-lrt",
        "-lpthread",
        "-lm",
        "-ldl",
        "-lc",
    ]);
    run(command, "compile test.c (static)");
    run_test_program(&program, "test.c with libinterplug.a");
}

#[test]
fn header_compiles_as_cpp() {
    let cxx = std::env::var("CXX").unwrap_or_else(|_| "c++".to_string());
    if Command::new(&cxx).arg("--version").output().is_err() {
        eprintln!("no C++ compiler ({cxx}): skipping the C++ header check");
        return;
    }
    let source = scratch("cpp").join("header.cpp");
    std::fs::write(
        &source,
        "#include <extism.h>\n#include <interplug.h>\n\
         static void f(ExtismCurrentPlugin *, const ExtismVal *, ExtismSize, ExtismVal *,\n\
                       ExtismSize, void *) {}\n\
         int main() {\n\
           ExtismValType t[] = {EXTISM_PTR};\n\
           ExtismFunction *fn = extism_function_new(\"f\", t, 1, t, 1, f, nullptr, nullptr);\n\
           extism_function_free(fn);\n\
           return extism_version() == nullptr;\n\
         }\n",
    )
    .expect("write header.cpp");
    let mut command = Command::new(cxx);
    command
        .args([
            "-std=c++11",
            "-Wall",
            "-Wextra",
            "-Werror",
            "-pedantic",
            "-fsyntax-only",
        ])
        .arg("-I")
        .arg(common::include_dir())
        .arg(&source);
    run(command, "C++ header check");
}

#[test]
fn header_lays_out_extism_val_as_the_rust_types_do() {
    // `interplug::ExtismVal` is the one declaration (`interplug-capi-types`) that the
    // C library and the core's `interplug::sdk` re-export: the C compiler must give
    // the header's types the same sizes, alignments and offsets.
    use interplug::{ExtismVal, ExtismValUnion};
    use std::mem::{align_of, offset_of, size_of};
    let checks = [
        ("sizeof(ExtismVal)", size_of::<ExtismVal>()),
        ("_Alignof(ExtismVal)", align_of::<ExtismVal>()),
        ("offsetof(ExtismVal, t)", offset_of!(ExtismVal, t)),
        ("sizeof(((ExtismVal *)0)->t)", size_of::<i32>()),
        ("sizeof(ExtismValType)", size_of::<i32>()),
        ("offsetof(ExtismVal, v)", offset_of!(ExtismVal, v)),
        ("sizeof(ExtismValUnion)", size_of::<ExtismValUnion>()),
        ("_Alignof(ExtismValUnion)", align_of::<ExtismValUnion>()),
    ];
    let asserts: String = checks
        .iter()
        .map(|(c, rust)| {
            format!("_Static_assert({c} == {rust}, \"{c} is not {rust} as in Rust\");\n")
        })
        .collect();
    let source = scratch("layout").join("layout.c");
    std::fs::write(
        &source,
        format!("#include <extism.h>\n#include <stddef.h>\n{asserts}"),
    )
    .expect("write layout.c");
    let cc = std::env::var("CC").unwrap_or_else(|_| "cc".to_string());
    let mut command = Command::new(cc);
    command
        .args(["-std=c11", "-Wall", "-Wextra", "-Werror", "-fsyntax-only"])
        .arg("-I")
        .arg(common::include_dir())
        .arg(&source);
    run(command, "ExtismVal layout check");
}

#[test]
fn header_declares_and_library_exports_the_whole_api() {
    let header = std::fs::read_to_string(common::include_dir().join("interplug.h"))
        .expect("read include/interplug.h");
    let library = common::shared_library();
    // SAFETY: loading libinterplug runs no initialisers with preconditions; it is
    // never unloaded while symbols are in use (only looked up here).
    let lib = unsafe { libloading::Library::new(&library) }.expect("load libinterplug.so");
    let mut missing = Vec::new();
    for name in API {
        if !header.contains(&format!(" {name}(")) && !header.contains(&format!("*{name}(")) {
            missing.push(format!("{name}: not declared in interplug.h"));
        }
        // SAFETY: only the address is looked up, the function is not called.
        if unsafe { lib.get::<*const ()>(name.as_bytes()) }.is_err() {
            missing.push(format!("{name}: not exported by {}", library.display()));
        }
    }
    assert!(missing.is_empty(), "{}", missing.join("\n"));
    // Keep the library loaded for the rest of the process (no dlclose).
    std::mem::forget(lib);
}

#[test]
fn install_script_and_pkg_config_build_the_readme_example() {
    if Command::new("pkg-config")
        .arg("--version")
        .output()
        .is_err()
    {
        eprintln!("no pkg-config: skipping the install check");
        return;
    }
    let library = common::shared_library();
    let prefix = scratch("install-prefix");
    let mut install = Command::new("bash");
    install
        .arg(common::repo_root().join("capi/install.sh"))
        .arg(&prefix)
        .env("FROM", library.parent().expect("library folder"));
    run(install, "capi/install.sh");

    let pkgconfig = prefix.join("lib/pkgconfig");
    let mut flags = Command::new("pkg-config");
    flags
        .args(["--cflags", "--libs", "interplug"])
        .env("PKG_CONFIG_PATH", &pkgconfig);
    let flags = run(flags, "pkg-config --cflags --libs interplug");

    let program = scratch("example").join("greet");
    let cc = std::env::var("CC").unwrap_or_else(|_| "cc".to_string());
    let mut compile = Command::new(cc);
    compile
        .args(["-Wall", "-Wextra", "-Werror"])
        .arg(Path::new(env!("CARGO_MANIFEST_DIR")).join("examples/greet.c"))
        .args(flags.split_whitespace())
        .arg(format!("-Wl,-rpath,{}", prefix.join("lib").display()))
        .arg("-o")
        .arg(&program);
    run(compile, "compile examples/greet.c");

    let mut greet = Command::new(&program);
    greet
        .arg(fixtures::dir().join("host_fns.wasm"))
        .args(["call_host", "world"]);
    assert_eq!(run(greet, "greet"), "Hello, world!\n");
    // The installed copies are large (debug builds): do not keep them.
    let _ = std::fs::remove_dir_all(&prefix);
}
