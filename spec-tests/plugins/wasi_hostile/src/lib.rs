//! `wasi_hostile`: a WASI (preview 1) PDK plug-in that misuses the OS layer the way an
//! untrusted plug-in could: long sleeps, files opened and never closed, metadata of
//! files with odd timestamps. The host must stay in control of each.
use std::time::{Duration, UNIX_EPOCH};

use extism_pdk::*;

/// Sleeps for the number of milliseconds in the input (WASI `poll_oneoff`).
#[plugin_fn]
pub fn sleep_ms(input: String) -> FnResult<String> {
    let ms: u64 = input.trim().parse()?;
    std::thread::sleep(Duration::from_millis(ms));
    Ok("slept".to_string())
}

/// Input `path\ncount`: opens `path` up to `count` times without closing any.
/// Returns `opened N` when all opened, or `opened N, then errno E: message` at the
/// first failure. The files are never closed: they stay open as long as the plug-in
/// instance lives.
#[plugin_fn]
pub fn open_many(input: String) -> FnResult<String> {
    let (path, count) = input
        .split_once('\n')
        .ok_or_else(|| Error::msg("open_many expects path\\ncount"))?;
    let count: usize = count.trim().parse()?;
    let mut files = Vec::new();
    for _ in 0..count {
        match std::fs::File::open(path) {
            Ok(file) => files.push(file),
            Err(e) => {
                let errno = e.raw_os_error().unwrap_or(-1);
                let opened = files.len();
                std::mem::forget(files);
                return Ok(format!("opened {opened}, then errno {errno}: {e}"));
            }
        }
    }
    let opened = files.len();
    std::mem::forget(files);
    Ok(format!("opened {opened}"))
}

/// The modification time of `path` in seconds relative to 1970 (negative before),
/// read twice: from the path (`path_filestat_get`) and from an open file
/// (`fd_filestat_get`). Output `path_secs fd_secs`.
#[plugin_fn]
pub fn mtime(path: String) -> FnResult<String> {
    let by_path = seconds(std::fs::metadata(&path)?.modified()?);
    let by_fd = seconds(std::fs::File::open(&path)?.metadata()?.modified()?);
    Ok(format!("{by_path} {by_fd}"))
}

/// Seconds from 1970 to `time` (negative before).
fn seconds(time: std::time::SystemTime) -> i64 {
    match time.duration_since(UNIX_EPOCH) {
        Ok(after) => after.as_secs() as i64,
        Err(before) => -(before.duration().as_secs() as i64),
    }
}
