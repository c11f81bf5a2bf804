//! The `wasi_snapshot_preview1` imports, each behind a guard.
//!
//! Every WASI function is `wasmi_wasi`'s own (its `wrapped` functions), called from a
//! closure that first gives the plug-in's [`CallWatch`] the running call's deadline,
//! then runs the function under `catch_unwind`:
//!
//! - a panic anywhere below (in `wasi-common`, `cap-std`, a file system quirk) ends
//!   the call with an error of kind `Host` naming the function, as a panicking host
//!   function does; the instance is rebuilt before the next call, so the plug-in
//!   stays usable and the host process lives on;
//! - a wait the watch interrupted (see `sched.rs`) ends the call with kind `Timeout`
//!   or `Cancelled`.

use crate::os::wasi::CallWatch;
use crate::{error::ErrorKind, host::current_plugin::CurrentPlugin, Error};
use alloc::{format, string::String, sync::Arc};
use std::panic::{catch_unwind, AssertUnwindSafe};
use wasmi::{Caller, Linker};
use wasmi_wasi::{sync::snapshots::preview_1::wrapped, WasiCtx};

/// The module name of WASI preview 1 imports.
const WASI_MODULE: &str = "wasi_snapshot_preview1";

/// The WASI context of a plug-in created with WASI on. WASI functions are linked only
/// for such plug-ins, and each checks with [`begin`] first that the context exists.
fn wasi_ctx(state: &mut CurrentPlugin) -> &mut WasiCtx {
    match state.wasi.as_mut() {
        Some(wasi) => &mut wasi.ctx,
        // `begin` refused the call before `wasmi_wasi` could get here.
        None => unreachable!("WASI function called on a plug-in without a WASI context"),
    }
}

/// Before a WASI function: the plug-in's watch, with the running call's deadline.
fn begin(state: &CurrentPlugin, name: &str) -> Result<Arc<CallWatch>, wasmi::Error> {
    let Some(wasi) = state.wasi.as_ref() else {
        return Err(crate::error::trap(
            ErrorKind::Invalid,
            format!(
                "the plug-in called WASI `{name}` but was created without WASI; create it \
                 with with_wasi(true)"
            ),
        ));
    };
    wasi.watch.begin(state.deadline_ms);
    Ok(wasi.watch.clone())
}

/// After a WASI function: its result, a stopped wait as `Timeout`/`Cancelled`, a
/// panic as an error.
fn finish<R>(
    name: &str,
    watch: &CallWatch,
    result: std::thread::Result<Result<R, wasmi::Error>>,
) -> Result<R, wasmi::Error> {
    match result {
        Ok(Ok(value)) => Ok(value),
        Ok(Err(error)) => Err(match watch.take_stop() {
            Some(kind) => crate::error::to_engine(&stopped(name, kind), crate::ErrorKind::Trap),
            None => error,
        }),
        Err(panic) => Err(crate::error::trap(
            ErrorKind::Host,
            format!(
                "the WASI function `{name}` panicked: {}; the call was stopped and the plug-in \
                 will be re-instantiated before its next call",
                crate::platform::panic_text(&*panic)
            ),
        )),
    }
}

/// The error of a WASI wait stopped by the call's cancel or deadline.
fn stopped(name: &str, kind: ErrorKind) -> Error {
    let why: String = match kind {
        ErrorKind::Cancelled => String::from("plug-in call cancelled"),
        _ => String::from("timeout: the call ran longer than its timeout_ms"),
    };
    crate::error::new(kind, format!("{why} (while waiting in WASI `{name}`)"))
}

/// Defines each listed WASI function on the linker, guarded.
macro_rules! define_guarded {
    ($linker:ident; $( $name:ident ( $( $arg:ident : $ty:ty ),* ) -> $ret:ty; )*) => {
        $(
            let inner = wrapped::$name::<CurrentPlugin, WasiCtx>(wasi_ctx);
            $linker
                .func_wrap(
                    WASI_MODULE,
                    stringify!($name),
                    move |caller: Caller<'_, CurrentPlugin>, $( $arg: $ty ),*|
                          -> Result<$ret, wasmi::Error> {
                        let name = stringify!($name);
                        let watch = begin(caller.data(), name)?;
                        let result =
                            catch_unwind(AssertUnwindSafe(|| inner(caller, $( $arg ),*)));
                        finish(name, &watch, result)
                    },
                )
                .map_err(|e| {
                    crate::error::fail!(
                        Invalid from e,
                        "cannot define the WASI function `{}`",
                        stringify!($name)
                    )
                })?;
        )*
    };
}

/// Adds every `wasi_snapshot_preview1` function to `linker`, guarded.
pub(crate) fn add_to_linker(linker: &mut Linker<CurrentPlugin>) -> Result<(), Error> {
    // On 32-bit x86, wasmi 2.0.0 crashes the process (SIGSEGV in `Caller::get_export`)
    // as soon as a WASI function looks up the calling instance's memory: refuse WASI
    // there rather than take the host down (docs/platforms.md).
    if cfg!(target_arch = "x86") {
        crate::error::bail_kind!(
            Invalid,
            "WASI for plug-ins is not available in 32-bit x86 builds of interplug \
             (the wasmi interpreter crashes there): use a 64-bit or ARM build, or \
             create the plug-in without WASI"
        );
    }
    // The WASI preview 1 ABI: names and wasm types of each function.
    define_guarded! { linker;
        args_get(a: i32, b: i32) -> i32;
        args_sizes_get(a: i32, b: i32) -> i32;
        environ_get(a: i32, b: i32) -> i32;
        environ_sizes_get(a: i32, b: i32) -> i32;
        clock_res_get(a: i32, b: i32) -> i32;
        clock_time_get(a: i32, b: i64, c: i32) -> i32;
        fd_advise(a: i32, b: i64, c: i64, d: i32) -> i32;
        fd_allocate(a: i32, b: i64, c: i64) -> i32;
        fd_close(a: i32) -> i32;
        fd_datasync(a: i32) -> i32;
        fd_fdstat_get(a: i32, b: i32) -> i32;
        fd_fdstat_set_flags(a: i32, b: i32) -> i32;
        fd_fdstat_set_rights(a: i32, b: i64, c: i64) -> i32;
        fd_filestat_get(a: i32, b: i32) -> i32;
        fd_filestat_set_size(a: i32, b: i64) -> i32;
        fd_filestat_set_times(a: i32, b: i64, c: i64, d: i32) -> i32;
        fd_pread(a: i32, b: i32, c: i32, d: i64, e: i32) -> i32;
        fd_prestat_get(a: i32, b: i32) -> i32;
        fd_prestat_dir_name(a: i32, b: i32, c: i32) -> i32;
        fd_pwrite(a: i32, b: i32, c: i32, d: i64, e: i32) -> i32;
        fd_read(a: i32, b: i32, c: i32, d: i32) -> i32;
        fd_readdir(a: i32, b: i32, c: i32, d: i64, e: i32) -> i32;
        fd_renumber(a: i32, b: i32) -> i32;
        fd_seek(a: i32, b: i64, c: i32, d: i32) -> i32;
        fd_sync(a: i32) -> i32;
        fd_tell(a: i32, b: i32) -> i32;
        fd_write(a: i32, b: i32, c: i32, d: i32) -> i32;
        path_create_directory(a: i32, b: i32, c: i32) -> i32;
        path_filestat_get(a: i32, b: i32, c: i32, d: i32, e: i32) -> i32;
        path_filestat_set_times(a: i32, b: i32, c: i32, d: i32, e: i64, f: i64, g: i32) -> i32;
        path_link(a: i32, b: i32, c: i32, d: i32, e: i32, f: i32, g: i32) -> i32;
        path_open(a: i32, b: i32, c: i32, d: i32, e: i32, f: i64, g: i64, h: i32, i: i32) -> i32;
        path_readlink(a: i32, b: i32, c: i32, d: i32, e: i32, f: i32) -> i32;
        path_remove_directory(a: i32, b: i32, c: i32) -> i32;
        path_rename(a: i32, b: i32, c: i32, d: i32, e: i32, f: i32) -> i32;
        path_symlink(a: i32, b: i32, c: i32, d: i32, e: i32) -> i32;
        path_unlink_file(a: i32, b: i32, c: i32) -> i32;
        poll_oneoff(a: i32, b: i32, c: i32, d: i32) -> i32;
        proc_exit(a: i32) -> ();
        proc_raise(a: i32) -> i32;
        sched_yield() -> i32;
        random_get(a: i32, b: i32) -> i32;
        sock_accept(a: i32, b: i32, c: i32) -> i32;
        sock_recv(a: i32, b: i32, c: i32, d: i32, e: i32, f: i32) -> i32;
        sock_send(a: i32, b: i32, c: i32, d: i32, e: i32) -> i32;
        sock_shutdown(a: i32, b: i32) -> i32;
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::{error::Failure, limits::cancel::CancelHandle, ErrorKind};

    /// The kind a trap made by `finish` carries back to the run loop.
    fn kind_of(error: &wasmi::Error) -> Option<ErrorKind> {
        error.downcast_ref::<Failure>().map(Failure::kind)
    }

    #[test]
    fn a_panic_below_a_wasi_function_becomes_a_host_error() {
        let watch = CallWatch::new(CancelHandle::default(), None);
        let panicked =
            catch_unwind(|| -> Result<i32, wasmi::Error> { panic!("a file system quirk") });
        let error = finish("fd_filestat_get", &watch, panicked).expect_err("a panic fails");
        assert_eq!(kind_of(&error), Some(ErrorKind::Host));
        let message = error.to_string();
        assert!(
            message.contains("`fd_filestat_get` panicked: a file system quirk"),
            "{message}"
        );
    }

    #[test]
    fn a_stopped_wait_keeps_its_kind_and_other_results_pass() {
        let cancel = CancelHandle::default();
        let watch = CallWatch::new(cancel.clone(), None);
        assert_eq!(finish("fd_read", &watch, Ok(Ok(7))).ok(), Some(7));
        let plain = finish::<i32>("fd_read", &watch, Ok(Err(wasmi::Error::new("badf"))))
            .expect_err("an error passes");
        assert_eq!(kind_of(&plain), None);
        let _ = cancel.cancel();
        watch.begin(None);
        let interrupted = finish::<i32>(
            "poll_oneoff",
            &watch,
            catch_unwind(AssertUnwindSafe(|| {
                Err(wasmi::Error::new(format!("{:?}", watch_stop(&watch))))
            })),
        )
        .expect_err("a cancelled wait fails");
        assert_eq!(kind_of(&interrupted), Some(ErrorKind::Cancelled));
    }

    /// Runs one slice of a wait under `watch` (it stops at once when cancelled).
    fn watch_stop(watch: &CallWatch) -> bool {
        watch.sleep_for_test()
    }
}
