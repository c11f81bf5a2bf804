//! Hostile plug-ins against the OS layer (issue 12): long WASI sleeps, files opened
//! and never closed, files dated before 1970. Through the `wasi_hostile.wasm` fixture
//! (official Rust PDK, wasm32-wasip1).
//!
//! Each test checks the error kind, that the host lives on and that the plug-in
//! answers the next call. The pre-1970 case runs in a child process, so that the test
//! reports a failure instead of dying with the host when the WASI layer aborts.
#![cfg(feature = "wasi")]

mod support;

use interplug::{ErrorExt, ErrorKind, Manifest, Plugin, Wasm};
use std::{
    fs,
    process::Command,
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
#[cfg_attr(
    target_arch = "x86",
    ignore = "needs WASI, refused on 32-bit x86 (docs/platforms.md)"
)]
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
#[cfg_attr(
    target_arch = "x86",
    ignore = "needs WASI, refused on 32-bit x86 (docs/platforms.md)"
)]
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
