//! WASI preview 1 with real temporary directories, through the `wasi_fs.wasm`,
//! `wasi_command.wasm` and `wasi_exit_code.wasm` fixtures (official Rust PDK,
//! wasm32-wasip1).
//!
//! Every test checks exact outputs or error substrings, that nothing changed outside
//! the allowed directories, and that the plug-in still answers the next call.
#![cfg(feature = "wasi")]

use interplug::{ErrorExt, Manifest, Plugin, PluginBuilder, Wasm};
use interplug_spec_tests::fixtures;
use std::{fs, path::PathBuf, process::Command};

/// A committed fixture.
fn fixture(name: &str) -> Wasm {
    Wasm::file(fixtures::path(name).display().to_string())
}

/// A temporary tree: `data/` (writable, `/data`), `ro/` (read-only, `/ro`) with
/// `keep.txt`, and `secret.txt` next to them, outside every allowed directory.
struct Tree {
    root: tempfile::TempDir,
}

impl Tree {
    fn new() -> Tree {
        let root = tempfile::tempdir().expect("a temporary directory");
        fs::create_dir(root.path().join("data")).expect("data dir");
        fs::create_dir(root.path().join("ro")).expect("ro dir");
        fs::write(root.path().join("ro/keep.txt"), "original").expect("ro file");
        fs::write(root.path().join("secret.txt"), "top secret").expect("secret file");
        Tree { root }
    }

    fn path(&self, relative: &str) -> PathBuf {
        self.root.path().join(relative)
    }

    fn host(&self, relative: &str) -> String {
        self.path(relative).display().to_string()
    }

    /// The manifest mapping `data/` to `/data` and `ro:ro/` to `/ro`.
    fn manifest(&self) -> Manifest {
        Manifest::new([fixture("wasi_fs")])
            .with_allowed_path(self.host("data"), "/data")
            .with_allowed_path(format!("ro:{}", self.host("ro")), "/ro")
    }

    /// Names in `relative`, sorted.
    fn names(&self, relative: &str) -> Vec<String> {
        let mut names: Vec<String> = fs::read_dir(self.path(relative))
            .expect("read dir")
            .map(|e| e.expect("entry").file_name().to_string_lossy().into_owned())
            .collect();
        names.sort();
        names
    }

    /// Checks the parts outside `data/` are as created.
    fn assert_outside_untouched(&self) {
        assert_eq!(self.names("ro"), ["keep.txt"]);
        assert_eq!(
            fs::read_to_string(self.path("ro/keep.txt")).expect("ro file"),
            "original"
        );
        assert_eq!(
            fs::read_to_string(self.path("secret.txt")).expect("secret"),
            "top secret"
        );
        let outside: Vec<String> = self
            .names("")
            .into_iter()
            .filter(|n| !["data", "ro", "secret.txt"].contains(&n.as_str()))
            .collect();
        assert!(outside.is_empty(), "files appeared outside: {outside:?}");
    }
}

/// A WASI plug-in from `manifest`.
fn wasi_plugin(manifest: &Manifest) -> Plugin {
    Plugin::new(manifest, [], true).expect("the WASI plug-in loads")
}

/// Calls `name`; the output text or the error text.
fn call(plugin: &mut Plugin, name: &str, input: &str) -> Result<String, String> {
    plugin
        .call::<&str, String>(name, input)
        .map_err(|e| format!("{e:#}"))
}

/// The error of a call that must fail.
fn err(plugin: &mut Plugin, name: &str, input: &str) -> String {
    match call(plugin, name, input) {
        Ok(output) => panic!("{name}({input:?}) should fail, gave {output:?}"),
        Err(message) => message,
    }
}

/// The plug-in still works.
fn assert_usable(plugin: &mut Plugin) {
    assert_eq!(call(plugin, "clock_random", "").as_deref(), Ok("ok"));
}

#[test]
fn files_written_by_the_plugin_are_on_the_host() {
    let tree = Tree::new();
    let mut plugin = wasi_plugin(&tree.manifest());
    let written = call(&mut plugin, "write_file", "/data/out.txt\nhello\nworld");
    assert_eq!(written.as_deref(), Ok("written"));
    assert_eq!(
        fs::read_to_string(tree.path("data/out.txt")).expect("host sees the file"),
        "hello\nworld"
    );
    fs::write(tree.path("data/from-host.txt"), "made by the host").expect("host write");
    assert_eq!(
        call(&mut plugin, "read_file", "/data/from-host.txt").as_deref(),
        Ok("made by the host")
    );
    assert_eq!(
        call(&mut plugin, "read_file", "/data/out.txt").as_deref(),
        Ok("hello\nworld")
    );
    assert_eq!(
        call(&mut plugin, "list_dir", "/data").as_deref(),
        Ok("from-host.txt\nout.txt")
    );
    let overwritten = call(&mut plugin, "write_file", "/data/out.txt\nshort");
    assert_eq!(overwritten.as_deref(), Ok("written"));
    assert_eq!(
        fs::read_to_string(tree.path("data/out.txt")).expect("file"),
        "short"
    );
    tree.assert_outside_untouched();
    assert_usable(&mut plugin);
}

#[test]
fn missing_file_is_a_plugin_error() {
    let tree = Tree::new();
    let mut plugin = wasi_plugin(&tree.manifest());
    let message = err(&mut plugin, "read_file", "/data/zzz");
    assert_eq!(
        message,
        "read /data/zzz: No such file or directory (os error 44)"
    );
    assert_usable(&mut plugin);
}

#[test]
fn read_only_directory_refuses_changes() {
    let tree = Tree::new();
    let mut plugin = wasi_plugin(&tree.manifest());
    assert_eq!(
        call(&mut plugin, "read_file", "/ro/keep.txt").as_deref(),
        Ok("original")
    );
    assert_eq!(
        call(&mut plugin, "list_dir", "/ro").as_deref(),
        Ok("keep.txt")
    );
    let message = err(&mut plugin, "write_file", "/ro/keep.txt\nchanged");
    assert_eq!(
        message,
        "write /ro/keep.txt: Read-only file system (os error 69)"
    );
    let message = err(&mut plugin, "write_file", "/ro/new.txt\nnew");
    assert_eq!(
        message,
        "write /ro/new.txt: Read-only file system (os error 69)"
    );
    tree.assert_outside_untouched();
    // The writable directory next to it still works.
    let written = call(&mut plugin, "write_file", "/data/ok.txt\nfine");
    assert_eq!(written.as_deref(), Ok("written"));
    assert_usable(&mut plugin);
}

/// The message of a path refused because it leaves its preopened directory.
const ESCAPE: &str = "Operation not permitted (os error 63)";

/// The message of an absolute path under no preopened directory.
const NO_PREOPEN: &str = "No such file or directory (os error 44)";

#[test]
fn paths_outside_the_allowed_directories_are_refused() {
    let tree = Tree::new();
    let mut plugin = wasi_plugin(&tree.manifest());
    let absolute = tree.host("secret.txt");
    let reads = [
        ("/data/../secret.txt", ESCAPE),
        ("/data/../../secret.txt", ESCAPE),
        ("/ro/../secret.txt", ESCAPE),
        ("/secret.txt", NO_PREOPEN),
        ("/etc/passwd", NO_PREOPEN),
        (absolute.as_str(), NO_PREOPEN),
    ];
    for (path, reason) in reads {
        let message = err(&mut plugin, "read_file", path);
        assert_eq!(message, format!("read {path}: {reason}"));
    }
    let writes = [
        ("/data/../escape.txt", ESCAPE),
        // A write under a read-only directory is refused before the path is looked at.
        ("/ro/../escape.txt", "Read-only file system (os error 69)"),
        ("/escape.txt", NO_PREOPEN),
        ("/tmp/escape.txt", NO_PREOPEN),
    ];
    for (path, reason) in writes {
        let message = err(&mut plugin, "write_file", &format!("{path}\nx"));
        assert_eq!(message, format!("write {path}: {reason}"));
    }
    let message = err(&mut plugin, "list_dir", "/data/..");
    assert_eq!(message, format!("list /data/..: {ESCAPE}"));
    tree.assert_outside_untouched();
    assert!(tree.names("data").is_empty());
    assert_usable(&mut plugin);
}

#[cfg(unix)]
#[test]
fn symlinks_pointing_out_are_refused() {
    let tree = Tree::new();
    std::os::unix::fs::symlink(tree.path("secret.txt"), tree.path("data/link-out"))
        .expect("file symlink");
    std::os::unix::fs::symlink(tree.root.path(), tree.path("data/dir-out")).expect("dir symlink");
    std::os::unix::fs::symlink("../secret.txt", tree.path("data/relative-out"))
        .expect("relative symlink");
    std::os::unix::fs::symlink("inside.txt", tree.path("data/link-in")).expect("inner symlink");
    fs::write(tree.path("data/inside.txt"), "inside").expect("inner file");
    let mut plugin = wasi_plugin(&tree.manifest());
    for path in [
        "/data/link-out",
        "/data/dir-out/secret.txt",
        "/data/relative-out",
    ] {
        let message = err(&mut plugin, "read_file", path);
        assert_eq!(message, format!("read {path}: {ESCAPE}"));
    }
    for path in [
        "/data/link-out",
        "/data/dir-out/escape.txt",
        "/data/dir-out/ro/keep.txt",
        "/data/relative-out",
    ] {
        let message = err(&mut plugin, "write_file", &format!("{path}\noverwritten"));
        assert_eq!(message, format!("write {path}: {ESCAPE}"));
    }
    let message = err(&mut plugin, "list_dir", "/data/dir-out");
    assert_eq!(message, format!("list /data/dir-out: {ESCAPE}"));
    // A symlink that stays inside works.
    assert_eq!(
        call(&mut plugin, "read_file", "/data/link-in").as_deref(),
        Ok("inside")
    );
    tree.assert_outside_untouched();
    assert_usable(&mut plugin);
}

/// WASI calls on the first preopened directory (fd 3); each export returns the
/// errno of its call (0 on success) as its return code.
const DIR_OPS_WAT: &str = r#"
(module
  (import "wasi_snapshot_preview1" "path_unlink_file"
    (func $unlink (param i32 i32 i32) (result i32)))
  (import "wasi_snapshot_preview1" "path_create_directory"
    (func $mkdir (param i32 i32 i32) (result i32)))
  (import "wasi_snapshot_preview1" "path_remove_directory"
    (func $rmdir (param i32 i32 i32) (result i32)))
  (import "wasi_snapshot_preview1" "path_rename"
    (func $rename (param i32 i32 i32 i32 i32 i32) (result i32)))
  (import "wasi_snapshot_preview1" "path_symlink"
    (func $symlink (param i32 i32 i32 i32 i32) (result i32)))
  (import "wasi_snapshot_preview1" "path_filestat_set_times"
    (func $touch (param i32 i32 i32 i32 i64 i64 i32) (result i32)))
  (import "wasi_snapshot_preview1" "path_open"
    (func $open (param i32 i32 i32 i32 i32 i64 i64 i32 i32) (result i32)))
  (import "wasi_snapshot_preview1" "fd_filestat_set_size"
    (func $set_size (param i32 i64) (result i32)))
  (import "wasi_snapshot_preview1" "fd_filestat_set_times"
    (func $fd_touch (param i32 i64 i64 i32) (result i32)))
  (import "wasi_snapshot_preview1" "fd_write"
    (func $write (param i32 i32 i32 i32) (result i32)))
  (memory (export "memory") 1)
  ;; "keep.txt" at 0, "new" at 16, "sub" at 32, "renamed.txt" at 48,
  ;; an iovec {ptr 64, len 3} at 80 over "abc" at 64; results at 100 and 104.
  (data (i32.const 0) "keep.txt")
  (data (i32.const 16) "new")
  (data (i32.const 32) "sub")
  (data (i32.const 48) "renamed.txt")
  (data (i32.const 64) "abc")
  (data (i32.const 80) "\40\00\00\00\03\00\00\00")
  (func (export "unlink") (result i32)
    (call $unlink (i32.const 3) (i32.const 0) (i32.const 8)))
  (func (export "mkdir") (result i32)
    (call $mkdir (i32.const 3) (i32.const 16) (i32.const 3)))
  (func (export "rmdir") (result i32)
    (call $rmdir (i32.const 3) (i32.const 32) (i32.const 3)))
  (func (export "rename") (result i32)
    (call $rename (i32.const 3) (i32.const 0) (i32.const 8)
                  (i32.const 3) (i32.const 48) (i32.const 11)))
  (func (export "symlink") (result i32)
    (call $symlink (i32.const 0) (i32.const 8) (i32.const 3) (i32.const 48) (i32.const 11)))
  (func (export "touch") (result i32)
    (call $touch (i32.const 3) (i32.const 0) (i32.const 0) (i32.const 8)
                 (i64.const 0) (i64.const 0) (i32.const 10)))
  ;; path_open "keep.txt" with oflags $o and rights $r; the fd goes to 100.
  (func $open_keep (param $o i32) (param $r i64) (result i32)
    (call $open (i32.const 3) (i32.const 0) (i32.const 0) (i32.const 8)
                (local.get $o) (local.get $r) (i64.const 0) (i32.const 0) (i32.const 100)))
  (func (export "open_write") (result i32)
    (call $open_keep (i32.const 0) (i64.const 64)))
  (func (export "open_truncate") (result i32)
    (call $open_keep (i32.const 8) (i64.const 2)))
  (func (export "open_create") (result i32)
    (call $open (i32.const 3) (i32.const 0) (i32.const 16) (i32.const 3)
                (i32.const 1) (i64.const 2) (i64.const 0) (i32.const 0) (i32.const 100)))
  (func (export "open_read") (result i32)
    (call $open_keep (i32.const 0) (i64.const 2)))
  ;; Opens keep.txt for reading, then tries to change it through the fd.
  (func $read_fd (result i32)
    (drop (call $open_keep (i32.const 0) (i64.const 0xC00002)))
    (i32.load (i32.const 100)))
  (func (export "fd_set_size") (result i32)
    (call $set_size (call $read_fd) (i64.const 0)))
  (func (export "fd_touch") (result i32)
    (call $fd_touch (call $read_fd) (i64.const 0) (i64.const 0) (i32.const 10)))
  (func (export "fd_write") (result i32)
    (call $write (call $read_fd) (i32.const 80) (i32.const 1) (i32.const 104))))
"#;

/// The return code of `name` in the `DIR_OPS_WAT` plug-in (0 on success).
fn rc(plugin: &mut Plugin, name: &str) -> i32 {
    match plugin.call_get_error_code::<&str, String>(name, "") {
        Ok(_) => 0,
        Err((_, rc)) => rc,
    }
}

/// WASI errno values.
const EBADF: i32 = 8;
const EROFS: i32 = 69;

#[test]
fn read_only_directory_refuses_every_change() {
    let tree = Tree::new();
    fs::create_dir(tree.path("ro/sub")).expect("sub dir");
    let before = fs::metadata(tree.path("ro/keep.txt"))
        .and_then(|m| m.modified())
        .expect("mtime");
    let manifest = Manifest::new([Wasm::data(DIR_OPS_WAT.as_bytes().to_vec())])
        .with_allowed_path(format!("ro:{}", tree.host("ro")), "/ro");
    let mut plugin = wasi_plugin(&manifest);
    assert_eq!(rc(&mut plugin, "open_read"), 0);
    for name in [
        "unlink",
        "mkdir",
        "rmdir",
        "rename",
        "symlink",
        "touch",
        "open_write",
        "open_truncate",
        "open_create",
        "fd_set_size",
        "fd_touch",
    ] {
        assert_eq!(rc(&mut plugin, name), EROFS, "{name}");
    }
    assert_eq!(rc(&mut plugin, "fd_write"), EBADF);
    assert_eq!(tree.names("ro"), ["keep.txt", "sub"]);
    assert_eq!(
        fs::read_to_string(tree.path("ro/keep.txt")).expect("file"),
        "original"
    );
    let after = fs::metadata(tree.path("ro/keep.txt"))
        .and_then(|m| m.modified())
        .expect("mtime");
    assert_eq!(before, after);
    assert_eq!(rc(&mut plugin, "open_read"), 0);
}

#[test]
fn writable_directory_allows_the_same_changes() {
    let tree = Tree::new();
    fs::create_dir(tree.path("data/sub")).expect("sub dir");
    fs::write(tree.path("data/keep.txt"), "original").expect("file");
    let manifest = Manifest::new([Wasm::data(DIR_OPS_WAT.as_bytes().to_vec())])
        .with_allowed_path(tree.host("data"), "/data");
    let mut plugin = wasi_plugin(&manifest);
    for name in ["mkdir", "rmdir", "touch", "open_write", "rename"] {
        assert_eq!(rc(&mut plugin, name), 0, "{name}");
    }
    assert_eq!(tree.names("data"), ["new", "renamed.txt"]);
    tree.assert_outside_untouched();
}

#[test]
fn no_allowed_paths_means_no_file_system() {
    let tree = Tree::new();
    let mut plugin = wasi_plugin(&Manifest::new([fixture("wasi_fs")]));
    let message = err(&mut plugin, "read_file", "/data/x");
    assert!(message.starts_with("read /data/x: "), "{message}");
    let message = err(
        &mut plugin,
        "write_file",
        &format!("{}\nx", tree.host("data/x")),
    );
    assert!(message.starts_with("write "), "{message}");
    assert!(tree.names("data").is_empty());
    assert_usable(&mut plugin);
}

#[test]
fn clocks_random_and_discarded_output() {
    let mut plugin = wasi_plugin(&Manifest::new([fixture("wasi_fs")]));
    assert_eq!(call(&mut plugin, "clock_random", "").as_deref(), Ok("ok"));
    assert_eq!(
        call(&mut plugin, "print", "to nowhere").as_deref(),
        Ok("printed")
    );
    assert_usable(&mut plugin);
}

#[test]
fn allowed_paths_that_do_not_exist_fail_to_load() {
    let tree = Tree::new();
    let missing = tree.host("missing");
    for host in [missing.clone(), format!("ro:{missing}")] {
        let manifest = Manifest::new([fixture("wasi_fs")]).with_allowed_path(host, "/data");
        let message = format!(
            "{:#}",
            Plugin::new(&manifest, [], true).expect_err("missing dir")
        );
        assert!(
            message.contains(&format!("cannot open allowed path `{missing}`")),
            "{message}"
        );
        assert!(
            message.contains("must name existing host directories"),
            "{message}"
        );
    }
    let file = tree.host("secret.txt");
    let manifest = Manifest::new([fixture("wasi_fs")]).with_allowed_path(file.clone(), "/data");
    let message = format!(
        "{:#}",
        Plugin::new(&manifest, [], true).expect_err("a file")
    );
    assert!(
        message.contains(&format!("cannot open allowed path `{file}`")),
        "{message}"
    );
    assert!(!tree.path("missing").exists());
}

#[test]
fn wasi_plugin_without_wasi_is_a_load_error() {
    let message = format!(
        "{:#}",
        Plugin::new(Manifest::new([fixture("wasi_fs")]), [], false).expect_err("needs WASI")
    );
    assert!(
        message.contains("needs WASI, which is not enabled"),
        "{message}"
    );
}

#[test]
fn start_command_returning_normally_succeeds() {
    let mut plugin = wasi_plugin(&Manifest::new([fixture("wasi_command")]));
    for _ in 0..3 {
        assert_eq!(call(&mut plugin, "_start", "").as_deref(), Ok(""));
    }
    assert_eq!(call(&mut plugin, "__main_void", "").as_deref(), Ok(""));
    assert_eq!(call(&mut plugin, "_start", "").as_deref(), Ok(""));
}

#[test]
fn proc_exit_with_a_code_fails_with_that_code() {
    let mut plugin = wasi_plugin(&Manifest::new([fixture("wasi_exit_code")]));
    for _ in 0..3 {
        let (error, rc) = plugin
            .call_get_error_code::<&str, String>("_start", "")
            .expect_err("exit 7 is a failure");
        assert_eq!(rc, 7);
        let message = format!("{error:#}");
        assert!(message.contains("exited with status 7"), "{message}");
    }
}

/// Set in the child process of [`start_output_reaches_the_host_only_when_enabled`].
const CHILD_MODE: &str = "INTERPLUG_TEST_WASI_CHILD";

/// In a child process: runs `_start` and `print` with the output setting the parent
/// chose. Does nothing in a normal test run.
#[test]
fn wasi_output_child() {
    let Ok(mode) = std::env::var(CHILD_MODE) else {
        return;
    };
    let builder_output = mode == "builder";
    let mut builder = PluginBuilder::new(Manifest::new([fixture("wasi_command")])).with_wasi(true);
    if builder_output {
        builder = builder.with_wasi_output(true);
    }
    let mut command = builder.build().expect("command loads");
    assert_eq!(call(&mut command, "_start", "").as_deref(), Ok(""));
    let mut builder = PluginBuilder::new(Manifest::new([fixture("wasi_fs")])).with_wasi(true);
    if builder_output {
        builder = builder.with_wasi_output(true);
    }
    let mut fs_plugin = builder.build().expect("wasi_fs loads");
    assert_eq!(
        call(&mut fs_plugin, "print", "<printed bytes>").as_deref(),
        Ok("printed")
    );
}

/// Runs [`wasi_output_child`] in a child process; its stdout and stderr.
fn run_child(mode: &str, env_output: bool) -> (String, String) {
    let exe = std::env::current_exe().expect("test executable");
    let mut command = Command::new(exe);
    command
        .args([
            "wasi_output_child",
            "--exact",
            "--nocapture",
            "--test-threads=1",
        ])
        .env(CHILD_MODE, mode)
        .env_remove("EXTISM_ENABLE_WASI_OUTPUT");
    if env_output {
        command.env("EXTISM_ENABLE_WASI_OUTPUT", "1");
    }
    let output = command.output().expect("child runs");
    let stdout = String::from_utf8_lossy(&output.stdout).into_owned();
    let stderr = String::from_utf8_lossy(&output.stderr).into_owned();
    assert!(output.status.success(), "child failed:\n{stdout}\n{stderr}");
    assert!(stdout.contains("1 passed"), "{stdout}");
    (stdout, stderr)
}

#[test]
fn start_output_reaches_the_host_only_when_enabled() {
    let (stdout, stderr) = run_child("default", false);
    assert!(!stdout.contains("hello from _start"), "{stdout}");
    assert!(!stdout.contains("<printed bytes>"), "{stdout}");
    assert!(!stderr.contains("<printed bytes>"), "{stderr}");
    for (mode, env_output) in [("builder", false), ("default", true)] {
        let (stdout, stderr) = run_child(mode, env_output);
        assert!(stdout.contains("hello from _start\n"), "{mode}: {stdout}");
        assert!(stdout.contains("<printed bytes>"), "{mode}: {stdout}");
        assert!(stderr.contains("<printed bytes>"), "{mode}: {stderr}");
    }
}

/// A module of the plug-in other than `main` that calls WASI works on its own linear
/// memory, and `main` on its own: each is found when the module is instantiated.
/// `lib` writes the 5 bytes its iovec at 0 names, `main` the 3 bytes of its iovec at
/// 32; each reads the count back from its own memory.
#[test]
fn each_module_calls_wasi_on_its_own_memory() {
    let lib = wat::parse_str(
        r#"(module
  (import "wasi_snapshot_preview1" "fd_write" (func $fd_write (param i32 i32 i32 i32) (result i32)))
  (memory (export "memory") 1)
  (data (i32.const 0) "\10\00\00\00\05\00\00\00")
  (data (i32.const 16) "hello")
  (func (export "written") (result i32)
    (drop (call $fd_write (i32.const 1) (i32.const 0) (i32.const 1) (i32.const 8)))
    (i32.load (i32.const 8))))"#,
    )
    .expect("valid WAT");
    let main = wat::parse_str(
        r#"(module
  (import "lib" "written" (func $lib_written (result i32)))
  (import "wasi_snapshot_preview1" "fd_write" (func $fd_write (param i32 i32 i32 i32) (result i32)))
  (memory (export "memory") 1)
  (data (i32.const 32) "\30\00\00\00\03\00\00\00")
  (data (i32.const 48) "abc")
  (func (export "check") (result i32)
    (drop (call $fd_write (i32.const 1) (i32.const 32) (i32.const 1) (i32.const 40)))
    (i32.add
      (i32.mul (i32.const 10) (call $lib_written))
      (i32.load (i32.const 40)))))"#,
    )
    .expect("valid WAT");
    let manifest = Manifest::new([
        Wasm::data(lib).with_name("lib"),
        Wasm::data(main).with_name("main"),
    ]);
    let mut plugin = Plugin::new(&manifest, [], true).expect("the plug-in loads");
    for _ in 0..2 {
        let (_, rc) = plugin
            .call_get_error_code::<&str, &[u8]>("check", "")
            .expect_err("`check` returns 10 * 5 + 3");
        assert_eq!(rc, 53, "lib wrote 5 bytes, main 3");
    }
}

/// WASI needs the calling module's memory, found when the module is instantiated: a
/// start function cannot call WASI (the instantiation fails, saying so), and a module
/// that exports no memory gets an error naming the export, not a crash.
#[test]
fn wasi_without_a_known_memory_fails_clearly() {
    let start = wat::parse_str(
        r#"(module
  (import "wasi_snapshot_preview1" "clock_time_get" (func $time (param i32 i64 i32) (result i32)))
  (memory (export "memory") 1)
  (func $start (drop (call $time (i32.const 0) (i64.const 0) (i32.const 0))))
  (start $start)
  (func (export "f") (result i32) (i32.const 0)))"#,
    )
    .expect("valid WAT");
    // The modules are instantiated at the first call (or at creation).
    let error = match Plugin::new(Manifest::new([Wasm::data(start)]), [], true) {
        Err(error) => error,
        Ok(mut plugin) => plugin
            .call::<&str, &[u8]>("f", "")
            .expect_err("WASI from a start function"),
    };
    let message = format!("{error:#}");
    assert_eq!(error.kind(), interplug::ErrorKind::Invalid, "{message}");
    assert!(message.contains("start function"), "{message}");

    let hidden = wat::parse_str(
        r#"(module
  (import "wasi_snapshot_preview1" "clock_time_get" (func $time (param i32 i64 i32) (result i32)))
  (memory 1)
  (func (export "f") (result i32) (call $time (i32.const 0) (i64.const 0) (i32.const 0))))"#,
    )
    .expect("valid WAT");
    let mut plugin =
        Plugin::new(Manifest::new([Wasm::data(hidden)]), [], true).expect("the plug-in loads");
    let error = plugin
        .call::<&str, &[u8]>("f", "")
        .expect_err("no memory for WASI");
    let message = format!("{error:#}");
    assert_eq!(error.kind(), interplug::ErrorKind::Invalid, "{message}");
    assert!(message.contains("`clock_time_get`"), "{message}");
    assert!(message.contains("named `memory`"), "{message}");
}
