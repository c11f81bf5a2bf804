//! WASI preview 1 for plug-ins created with WASI on.
//!
//! A plug-in gets exactly what the manifest grants: the directories of
//! `allowed_paths` (a `ro:` prefix on the host path makes one read-only), clocks and
//! random numbers, an empty environment and no arguments. Its stdout and stderr are
//! discarded unless the host opts in.
//!
//! The WASI layer is `wasi-common` (re-exported by `wasmi_wasi`) with three guards, one
//! file each:
//!
//! - `fs.rs`: read-only directories, a cap of [`DEFAULT_MAX_OPEN_FILES`] open files
//!   per plug-in (`EMFILE` past it), timestamps `wasi-common` cannot convert;
//! - `sched.rs`: sleeps and clock polls wait in short slices and end when the call's
//!   `timeout_ms` passes or it is cancelled;
//! - `imports/wasi.rs` (a layer above, as it needs the plug-in state): interplug's own
//!   binding of every WASI function, on the calling module's memory found at
//!   instantiation, under `catch_unwind` (a panic below ends the call with an error
//!   instead of the host process), and paid for in fuel by the bytes and entries it
//!   handles.

mod fs;
mod sched;

pub use fs::DEFAULT_MAX_OPEN_FILES;

use crate::{error::fail, limits::cancel::CancelHandle, limits::clock::Clock, Error, Manifest};
use alloc::{boxed::Box, sync::Arc};
use std::io;
use wasmi_wasi::{
    wasi_common::{self, table::Table, WasiCtx, WasiDir},
    Dir,
};

pub(crate) use sched::CallWatch;

/// The prefix of an `allowed_paths` host path that makes the directory read-only.
const READ_ONLY_PREFIX: &str = "ro:";

/// A plug-in's WASI state: the `wasi-common` context and the watch its waits check.
pub(crate) struct WasiState {
    pub(crate) ctx: WasiCtx,
    pub(crate) watch: Arc<sched::CallWatch>,
}

/// A WASI context with the manifest's directories and nothing else. Plug-in output
/// goes to the host's stdout and stderr only when `output` is true. Its waits end
/// when `cancel` fires or the running call's deadline (read from `clock`) passes.
///
/// # Errors
///
/// `NotFound`, `PermissionDenied` or `Io` (as the operating system answers, its
/// error the source) when an `allowed_paths` directory cannot be opened, `Invalid`
/// when it cannot be mapped.
pub(crate) fn context(
    manifest: &Manifest,
    output: bool,
    cancel: CancelHandle,
    clock: Option<Arc<dyn Clock>>,
) -> Result<WasiState, Error> {
    let watch = Arc::new(sched::CallWatch::new(cancel, clock));
    let ctx = WasiCtx::new(
        wasi_common::sync::random_ctx(),
        wasi_common::sync::clocks_ctx(),
        Box::new(sched::WatchedSched::new(watch.clone())),
        Table::new(),
    );
    // `WasiCtx::new` gives empty stdin and discarding stdout/stderr.
    if output {
        ctx.set_stdout(Box::new(wasi_common::sync::stdio::stdout()));
        ctx.set_stderr(Box::new(wasi_common::sync::stdio::stderr()));
    } else {
        ctx.set_stdout(Box::new(wasi_common::pipe::WritePipe::new(io::sink())));
        ctx.set_stderr(Box::new(wasi_common::pipe::WritePipe::new(io::sink())));
    }
    let open_files = fs::OpenFiles::new(DEFAULT_MAX_OPEN_FILES);
    for (host, guest) in manifest.allowed_paths.iter().flatten() {
        let guest = guest.to_str().ok_or_else(|| {
            crate::error::fail!(
                Invalid,
                "the WASI guest path {guest:?} (for `{host}`) is not UTF-8; use a UTF-8 path"
            )
        })?;
        let dir = open_allowed_dir(host, guest, &open_files)?;
        ctx.push_preopened_dir(dir, guest).map_err(|e| {
            fail!(
                Invalid from e,
                "cannot map allowed path `{host}` to `{guest}` for WASI"
            )
        })?;
    }
    Ok(WasiState { ctx, watch })
}

/// Opens the host directory of one `allowed_paths` entry, read-only when it starts
/// with `ro:`.
fn open_allowed_dir(
    host: &str,
    guest: &str,
    open_files: &Arc<fs::OpenFiles>,
) -> Result<Box<dyn WasiDir>, Error> {
    let (read_only, host_path) = match host.strip_prefix(READ_ONLY_PREFIX) {
        Some(path) => (true, path),
        None => (false, host),
    };
    let dir = Dir::open_ambient_dir(host_path, wasmi_wasi::ambient_authority()).map_err(|e| {
        crate::error::caused(
            crate::error::io_kind(&e),
            alloc::format!(
                "cannot open allowed path `{host_path}` (mapped to `{guest}`; allowed_paths \
                 must name existing host directories)"
            ),
            e,
        )
    })?;
    let dir: Box<dyn WasiDir> = Box::new(wasi_common::sync::dir::Dir::from_cap_std(dir));
    Ok(Box::new(fs::GuardedDir::preopened(
        dir,
        read_only,
        open_files.clone(),
    )))
}
