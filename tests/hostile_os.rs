//! Hostile plug-ins against the OS layer (issue 12): long WASI sleeps, files opened
//! and never closed, files dated before 1970. Through the `wasi_hostile.wasm` fixture
//! (official Rust PDK, wasm32-wasip1).
//!
//! Each test checks the error kind, that the host lives on and that the plug-in
//! answers the next call. The pre-1970 case runs in a child process, so that the test
//! reports a failure instead of dying with the host when the WASI layer aborts.
#![cfg(feature = "wasi")]

mod support;

use interplug::{ErrorExt, ErrorKind, Manifest, Plugin, PluginBuilder, Wasm};
use std::{
    fs,
    process::{Command, Stdio},
    time::{Duration, Instant, SystemTime},
};
use support::cancel_after;

/// Set in the child process of [`in_child`].
const CHILD: &str = "INTERPLUG_HOSTILE_OS_CHILD";

/// One hour, in the plug-in's milliseconds.
const ONE_HOUR_MS: &str = "3600000";

/// How late a stopped call may end, after its timeout or cancel.
const GRACE: Duration = Duration::from_millis(1500);

/// The `wasi_hostile.wasm` fixture.
fn fixture() -> Wasm {
    Wasm::file(concat!(
        env!("CARGO_MANIFEST_DIR"),
        "/spec-tests/fixtures/wasi_hostile.wasm"
    ))
}

/// A WASI plug-in from `manifest`.
fn plugin(manifest: &Manifest) -> Plugin {
    Plugin::new(manifest, [], true).expect("the plug-in loads")
}

/// Runs the test `name` of this binary again in a child process, and fails unless it
/// passed there.
fn in_child(name: &str) {
    let output = Command::new(std::env::current_exe().expect("the test binary"))
        .args([name, "--exact", "--nocapture", "--test-threads=1"])
        .env(CHILD, "1")
        .output()
        .expect("the test binary runs");
    assert!(
        output.status.success(),
        "the child process failed ({}):\nstdout:\n{}\nstderr:\n{}",
        output.status,
        String::from_utf8_lossy(&output.stdout),
        String::from_utf8_lossy(&output.stderr)
    );
}

/// Runs the test `name` of this binary again in a child process, and fails unless it
/// passes there within `limit` (then the child is killed): a test of a limit that
/// the code before the fix overran fails instead of running for minutes.
fn in_child_within(name: &str, limit: Duration) {
    let mut child = Command::new(std::env::current_exe().expect("the test binary"))
        .args([name, "--exact", "--nocapture", "--test-threads=1"])
        .env(CHILD, "1")
        .stdout(Stdio::null())
        .stderr(Stdio::inherit())
        .spawn()
        .expect("the test binary runs");
    let started = Instant::now();
    loop {
        if let Some(status) = child.try_wait().expect("the child's status") {
            assert!(status.success(), "the child process failed ({status})");
            return;
        }
        if started.elapsed() > limit {
            let _ = child.kill();
            let _ = child.wait();
            panic!("`{name}` did not end within {limit:?}: a limit did not hold");
        }
        std::thread::sleep(Duration::from_millis(20));
    }
}

/// Bytes of the path `open_once` passes to `path_open`.
const LONG_PATH: usize = 60 << 10;

/// A plug-in that makes WASI do much host work per call: `random_get` over 64 or 256
/// KiB, reads and writes through 1 000 iovecs of 64 KiB each, polls of 1 000 clock
/// subscriptions, a 60 KiB path. The `*_once` functions make one call each (a few
/// wasm instructions around it), the `*_forever` ones loop on it.
fn wasi_work_module() -> Vec<u8> {
    // 1 000 iovecs at 0x40000, each 64 KiB at address 0.
    let iovecs = r"\00\00\00\00\00\00\01\00".repeat(1000);
    let path = "a".repeat(LONG_PATH);
    let wat = format!(
        r#"(module
  (import "wasi_snapshot_preview1" "random_get" (func $random_get (param i32 i32) (result i32)))
  (import "wasi_snapshot_preview1" "fd_write" (func $fd_write (param i32 i32 i32 i32) (result i32)))
  (import "wasi_snapshot_preview1" "fd_read" (func $fd_read (param i32 i32 i32 i32) (result i32)))
  (import "wasi_snapshot_preview1" "fd_pread"
    (func $fd_pread (param i32 i32 i32 i64 i32) (result i32)))
  (import "wasi_snapshot_preview1" "fd_pwrite"
    (func $fd_pwrite (param i32 i32 i32 i64 i32) (result i32)))
  (import "wasi_snapshot_preview1" "poll_oneoff"
    (func $poll_oneoff (param i32 i32 i32 i32) (result i32)))
  (import "wasi_snapshot_preview1" "path_open"
    (func $path_open (param i32 i32 i32 i32 i32 i64 i64 i32 i32) (result i32)))
  (memory (export "memory") 16)
  (data (i32.const 0x40000) "{iovecs}")
  (data (i32.const 0x80000) "{path}")
  ;; 1 000 zeroed subscriptions at 0x50000: clocks that expire at once.
  (func $random (param $len i32) (drop (call $random_get (i32.const 0) (local.get $len))))
  (func $write (drop (call $fd_write (i32.const 1) (i32.const 0x40000) (i32.const 1000)
    (i32.const 0x70000))))
  (func $poll (drop (call $poll_oneoff (i32.const 0x50000) (i32.const 0x60000)
    (i32.const 1000) (i32.const 0x70000))))
  (func (export "random_once") (result i32) (call $random (i32.const 65536)) (i32.const 0))
  (func (export "random_forever_64k") (result i32)
    (loop (call $random (i32.const 65536)) (br 0)) (i32.const 0))
  (func (export "random_forever_256k") (result i32)
    (loop (call $random (i32.const 262144)) (br 0)) (i32.const 0))
  (func (export "write_once") (result i32) (call $write) (i32.const 0))
  (func (export "write_forever") (result i32) (loop (call $write) (br 0)) (i32.const 0))
  (func (export "read_once") (result i32)
    (drop (call $fd_read (i32.const 0) (i32.const 0x40000) (i32.const 1000) (i32.const 0x70000)))
    (i32.const 0))
  (func (export "pread_once") (result i32)
    (drop (call $fd_pread (i32.const 0) (i32.const 0x40000) (i32.const 1000) (i64.const 0)
      (i32.const 0x70000)))
    (i32.const 0))
  (func (export "pwrite_once") (result i32)
    (drop (call $fd_pwrite (i32.const 1) (i32.const 0x40000) (i32.const 1000) (i64.const 0)
      (i32.const 0x70000)))
    (i32.const 0))
  (func (export "poll_once") (result i32) (call $poll) (i32.const 0))
  (func (export "poll_forever") (result i32) (loop (call $poll) (br 0)) (i32.const 0))
  (func (export "open_once") (result i32)
    (drop (call $path_open (i32.const 3) (i32.const 0) (i32.const 0x80000) (i32.const {LONG_PATH})
      (i32.const 0) (i64.const 0) (i64.const 0) (i32.const 0) (i32.const 0x70000)))
    (i32.const 0)))"#
    );
    wat::parse_str(wat).expect("valid WAT")
}

/// A WASI plug-in of [`wasi_work_module`] under `manifest`'s limits, with a fuel limit
/// when `fuel` is given.
fn wasi_work_plugin(timeout: Option<Duration>, fuel: Option<u64>) -> Plugin {
    let mut manifest = Manifest::new([Wasm::data(wasi_work_module())]);
    if let Some(timeout) = timeout {
        manifest = manifest.with_timeout(timeout);
    }
    let mut builder = PluginBuilder::new(manifest).with_wasi(true);
    if let Some(fuel) = fuel {
        builder = builder.with_fuel_limit(fuel);
    }
    builder.build().expect("the plug-in loads")
}

/// Every WASI call is charged for the bytes and entries it handles, at the kernel
/// imports' rate (a unit per 64 bytes, and more per entry): one call of each kind uses
/// at least that much fuel. Before, each was charged only its call instruction.
#[test]
fn wasi_calls_are_charged_for_their_bytes_and_entries() {
    let mut plugin = wasi_work_plugin(None, Some(u64::MAX));
    let kib_64 = 64 << 10;
    for (function, at_least) in [
        // 64 KiB of random bytes.
        ("random_once", kib_64 / 64),
        // 1 000 iovecs of 64 KiB written (to the discarded stdout).
        ("write_once", 1000 * kib_64 / 64),
        // 1 000 iovecs read (stdin is empty), or refused after reading them.
        ("read_once", 1000),
        ("pread_once", 1000),
        ("pwrite_once", 1000),
        // 1 000 subscriptions.
        ("poll_once", 1000),
        // A 60 KiB path.
        ("open_once", LONG_PATH as u64 / 64),
    ] {
        plugin
            .call::<&str, &[u8]>(function, "")
            .unwrap_or_else(|e| panic!("{function}: {e:#}"));
        let fuel = plugin.fuel_consumed().expect("fuel is metered");
        eprintln!("{function}: {fuel} units of fuel");
        assert!(fuel >= at_least, "{function} used {fuel} < {at_least}");
    }
}

/// How long a WASI loop of `function` took to stop under `timeout_ms = 300`.
fn wasi_loop_stops_at_the_timeout(function: &str) {
    let mut plugin = wasi_work_plugin(Some(Duration::from_millis(300)), None);
    let started = Instant::now();
    let error = plugin
        .call::<&str, &[u8]>(function, "")
        .expect_err("an endless loop cannot finish");
    let took = started.elapsed();
    eprintln!("{function} under timeout_ms = 300 stopped after {took:?}");
    assert_eq!(error.kind(), ErrorKind::Timeout, "{error:#}");
    assert!(
        took < Duration::from_millis(300) + GRACE,
        "ended {took:?} after the start"
    );
    plugin
        .call::<&str, &[u8]>("random_once", "")
        .expect("the plug-in answers afterwards");
}

/// A plug-in looping on `random_get` over 256 KiB stops at its 300 ms timeout (it
/// used to run 33 s: one fuel slice covered ~235 000 calls).
#[test]
fn a_random_get_loop_stops_at_the_timeout() {
    if std::env::var_os(CHILD).is_none() {
        return in_child_within("a_random_get_loop_stops_at_the_timeout", CHILD_LIMIT);
    }
    wasi_loop_stops_at_the_timeout("random_forever_256k");
}

/// A plug-in looping on `random_get` over 64 KiB under a fuel limit of 1 000 000 runs
/// out of fuel after a few calls (it used to run 8.5 s).
#[test]
fn a_random_get_loop_runs_out_of_fuel() {
    if std::env::var_os(CHILD).is_none() {
        return in_child_within("a_random_get_loop_runs_out_of_fuel", CHILD_LIMIT);
    }
    let mut plugin = wasi_work_plugin(None, Some(1_000_000));
    let started = Instant::now();
    let error = plugin
        .call::<&str, &[u8]>("random_forever_64k", "")
        .expect_err("an endless loop cannot finish");
    let took = started.elapsed();
    eprintln!("random_get over 64 KiB under a fuel limit of 1 000 000 stopped after {took:?}");
    assert_eq!(error.kind(), ErrorKind::OutOfFuel, "{error:#}");
    assert!(took < GRACE, "ended {took:?} after the start");
}

/// Writes through many large iovecs and polls of many subscriptions in a loop stop at
/// the timeout too.
#[test]
fn wasi_write_and_poll_loops_stop_at_the_timeout() {
    if std::env::var_os(CHILD).is_none() {
        return in_child_within("wasi_write_and_poll_loops_stop_at_the_timeout", CHILD_LIMIT);
    }
    wasi_loop_stops_at_the_timeout("write_forever");
    wasi_loop_stops_at_the_timeout("poll_forever");
}

/// How long a child process running one of the tests of a limit may take.
const CHILD_LIMIT: Duration = Duration::from_secs(30);

#[test]
fn a_wasi_sleep_ends_at_the_timeout() {
    let manifest = Manifest::new([fixture()]).with_timeout(Duration::from_millis(300));
    let mut plugin = plugin(&manifest);
    let started = Instant::now();
    let error = plugin
        .call::<&str, String>("sleep_ms", ONE_HOUR_MS)
        .expect_err("an hour's sleep cannot finish within 300 ms");
    let took = started.elapsed();
    eprintln!("a one-hour WASI sleep under timeout_ms = 300 ended after {took:?}");
    assert_eq!(error.kind(), ErrorKind::Timeout, "{error:#}");
    assert!(format!("{error:#}").contains("timeout"), "{error:#}");
    assert!(
        took < Duration::from_millis(300) + GRACE,
        "ended {took:?} after the start"
    );
    let output = plugin
        .call::<&str, String>("sleep_ms", "5")
        .expect("a short sleep after the timeout");
    assert_eq!(output, "slept");
}

#[test]
fn a_wasi_sleep_ends_at_a_cancel() {
    let manifest = Manifest::new([fixture()]);
    let mut plugin = plugin(&manifest);
    let canceller = cancel_after(&plugin, Duration::from_millis(300));
    let started = Instant::now();
    let error = plugin
        .call::<&str, String>("sleep_ms", ONE_HOUR_MS)
        .expect_err("the sleep is cancelled");
    let took = started.elapsed();
    canceller.join();
    eprintln!("a one-hour WASI sleep cancelled at 300 ms ended after {took:?}");
    assert_eq!(error.kind(), ErrorKind::Cancelled, "{error:#}");
    assert!(
        took < Duration::from_millis(300) + GRACE,
        "ended {took:?} after the start"
    );
    let output = plugin
        .call::<&str, String>("sleep_ms", "5")
        .expect("a short sleep after the cancel");
    assert_eq!(output, "slept");
}

#[test]
fn open_files_are_capped_per_plugin() {
    let dir = tempfile::tempdir().expect("a temporary directory");
    fs::write(dir.path().join("f.txt"), "x").expect("a file");
    let manifest =
        Manifest::new([fixture()]).with_allowed_path(dir.path().display().to_string(), "/data");
    let mut plugin = plugin(&manifest);
    let output = plugin
        .call::<&str, String>("open_many", "/data/f.txt\n50000")
        .expect("the plug-in answers");
    let cap = interplug::DEFAULT_MAX_OPEN_FILES;
    // EMFILE is 33 in WASI preview 1.
    assert!(
        output.starts_with(&format!("opened {cap}, then errno 33")),
        "{output}"
    );
    // The plug-in still holds its files; the host can open many of its own.
    let host_files: Vec<fs::File> = (0..200)
        .map(|_| fs::File::open(dir.path().join("f.txt")).expect("the host opens a file"))
        .collect();
    drop(host_files);
    // The plug-in answers; its own files are still at the cap.
    let output = plugin
        .call::<&str, String>("open_many", "/data/f.txt\n1")
        .expect("the plug-in answers");
    assert!(output.starts_with("opened 0, then errno 33"), "{output}");
    // A new plug-in from the same manifest starts with none open.
    let mut fresh = Plugin::new(&manifest, [], true).expect("another plug-in");
    let output = fresh
        .call::<&str, String>("open_many", "/data/f.txt\n10")
        .expect("the new plug-in answers");
    assert_eq!(output, "opened 10");
}

#[test]
fn a_file_dated_before_1970_does_not_abort_the_host() {
    if std::env::var_os(CHILD).is_none() {
        return in_child("a_file_dated_before_1970_does_not_abort_the_host");
    }
    let dir = tempfile::tempdir().expect("a temporary directory");
    let path = dir.path().join("old.txt");
    fs::write(&path, "from 1960").expect("a file");
    let sixties = SystemTime::UNIX_EPOCH - Duration::from_secs(10 * 365 * 24 * 3600);
    fs::File::options()
        .write(true)
        .open(&path)
        .and_then(|file| file.set_modified(sixties))
        .expect("the file's time is set to 1960");
    let manifest =
        Manifest::new([fixture()]).with_allowed_path(dir.path().display().to_string(), "/data");
    let mut plugin = plugin(&manifest);
    // WASI cannot express times before 1970: the plug-in reads 1970-01-01, through
    // the path (`path_filestat_get`) and through an open file (`fd_filestat_get`).
    let output = plugin
        .call::<&str, String>("mtime", "/data/old.txt")
        .expect("metadata of an old file");
    assert_eq!(output, "0 0");
    let output = plugin
        .call::<&str, String>("sleep_ms", "1")
        .expect("the plug-in answers afterwards");
    assert_eq!(output, "slept");
}

/// The error of creating a plug-in from `manifest`, and how long it took.
fn creation_error(manifest: &Manifest) -> (ErrorKind, String, Duration) {
    let started = Instant::now();
    match Plugin::new(manifest, [], false) {
        Ok(_) => panic!("the plug-in should not load"),
        Err(error) => (error.kind(), format!("{error:#}"), started.elapsed()),
    }
}

#[test]
fn module_paths_must_be_regular_files() {
    let dir = tempfile::tempdir().expect("a temporary directory");
    let fifo = dir.path().join("module.fifo");
    let made = Command::new("mkfifo")
        .arg(&fifo)
        .status()
        .expect("mkfifo runs");
    assert!(made.success(), "mkfifo failed");
    let directory = dir.path().display().to_string();
    for path in [
        fifo.display().to_string(),
        "/dev/zero".to_string(),
        directory,
    ] {
        let manifest = Manifest::new([Wasm::file(&path)]);
        let (kind, message, took) = creation_error(&manifest);
        assert_eq!(kind, ErrorKind::Invalid, "{path}: {message}");
        assert!(message.contains("not a regular file"), "{message}");
        assert!(took < Duration::from_secs(2), "{path} took {took:?}");
    }
}

#[test]
fn module_files_over_the_cap_are_refused_before_reading() {
    let dir = tempfile::tempdir().expect("a temporary directory");
    let path = dir.path().join("huge.wasm");
    // A sparse file: its length is over the cap, it takes no disk space.
    fs::File::create(&path)
        .and_then(|file| file.set_len(interplug::sources::DEFAULT_MAX_MODULE_BYTES + 1))
        .expect("a sparse file");
    let manifest = Manifest::new([Wasm::file(path.display().to_string())]);
    let (kind, message, took) = creation_error(&manifest);
    assert_eq!(kind, ErrorKind::LimitExceeded, "{message}");
    assert!(message.contains("more than the"), "{message}");
    assert!(took < Duration::from_secs(2), "took {took:?}");
}

#[test]
fn a_hash_mismatch_does_not_reveal_a_host_files_hash() {
    let dir = tempfile::tempdir().expect("a temporary directory");
    let path = dir.path().join("secret.txt");
    fs::write(&path, "the host's secret").expect("a file");
    let secret_hash = interplug::sources::sha256_hex(b"the host's secret");
    let wrong = "0".repeat(64);
    let manifest = Manifest::new([Wasm::file(path.display().to_string()).with_hash(wrong.clone())]);
    let (kind, message, _) = creation_error(&manifest);
    assert_eq!(kind, ErrorKind::Invalid, "{message}");
    assert!(message.contains("hash mismatch"), "{message}");
    assert!(!message.contains(&secret_hash), "{message}");
}
