//! `wasi_fs`: a WASI (preview 1) PDK plug-in using files, clocks, randomness and stdio.
use std::io::Write;
use std::time::{SystemTime, UNIX_EPOCH};

use extism_pdk::*;

#[link(wasm_import_module = "wasi_snapshot_preview1")]
extern "C" {
    #[link_name = "random_get"]
    fn wasi_random_get(buf: *mut u8, len: usize) -> i32;
}

/// 2020-01-01T00:00:00Z
const YEAR_2020: u64 = 1_577_836_800;

fn io_err(what: &str, path: &str, e: std::io::Error) -> Error {
    Error::msg(format!("{what} {path}: {e}"))
}

#[plugin_fn]
pub fn read_file(path: String) -> FnResult<Vec<u8>> {
    Ok(std::fs::read(&path).map_err(|e| io_err("read", &path, e))?)
}

#[plugin_fn]
pub fn write_file(input: Vec<u8>) -> FnResult<String> {
    let nl = input
        .iter()
        .position(|&b| b == b'\n')
        .ok_or_else(|| Error::msg("write_file expects path\\ncontent"))?;
    let path = String::from_utf8(input[..nl].to_vec())?;
    std::fs::write(&path, &input[nl + 1..]).map_err(|e| io_err("write", &path, e))?;
    Ok("written".to_string())
}

#[plugin_fn]
pub fn list_dir(path: String) -> FnResult<String> {
    let mut names = Vec::new();
    for entry in std::fs::read_dir(&path).map_err(|e| io_err("list", &path, e))? {
        let entry = entry.map_err(|e| io_err("list", &path, e))?;
        names.push(entry.file_name().to_string_lossy().into_owned());
    }
    names.sort();
    Ok(names.join("\n"))
}

#[plugin_fn]
pub fn clock_random() -> FnResult<String> {
    let secs = SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map_err(|e| Error::msg(format!("clock before 1970: {e}")))?
        .as_secs();
    if secs <= YEAR_2020 {
        return Err(Error::msg(format!("clock before 2020: {secs}")).into());
    }

    // std's hash keys come from random_get too; use them so that path is exercised.
    use std::hash::{BuildHasher, Hasher};
    let mut h = std::collections::hash_map::RandomState::new().build_hasher();
    h.write(b"interplug");
    core::hint::black_box(h.finish());

    let mut buf = [0u8; 32];
    let errno = unsafe { wasi_random_get(buf.as_mut_ptr(), buf.len()) };
    if errno != 0 {
        return Err(Error::msg(format!("random_get failed: errno {errno}")).into());
    }
    if buf.iter().all(|&b| b == 0) {
        return Err(Error::msg("random_get returned 32 zero bytes").into());
    }
    Ok("ok".to_string())
}

#[plugin_fn]
pub fn print(input: Vec<u8>) -> FnResult<String> {
    let mut out = std::io::stdout();
    out.write_all(&input)?;
    out.flush()?;
    let mut err = std::io::stderr();
    err.write_all(&input)?;
    err.flush()?;
    Ok("printed".to_string())
}
