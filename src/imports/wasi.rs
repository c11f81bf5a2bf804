//! The `wasi_snapshot_preview1` imports: interplug's own binding of `wasi-common`'s
//! preview 1 functions, each behind a guard and paid for in fuel.
//!
//! Each WASI function, when the plug-in calls it:
//!
//! 1. takes the calling module's linear memory from the plug-in state, where
//!    instantiation put it (`host/linear_memory.rs`): nothing is looked up
//!    through the engine's `Caller` (on 32-bit x86, wasmi 2.0.0 crashes doing that);
//! 2. gives the plug-in's [`CallWatch`] the running call's deadline;
//! 3. calls `wasi-common`'s function on that memory and drives its future to its end
//!    ([`drive`], the one place a WASI future is driven; the waits themselves are in
//!    `os/wasi/sched.rs`), under `catch_unwind`:
//!    - a panic anywhere below (in `wasi-common`, `cap-std`, a file system quirk) ends
//!      the call with an error of kind `Host` naming the function, as a panicking
//!      host function does; the instance is rebuilt before the next call, so the
//!      plug-in stays usable and the host process lives on;
//!    - a wait the watch interrupted ends the call with kind `Timeout` or `Cancelled`;
//!    - `proc_exit` ends it with the engine's exit, which the run loop reports as
//!      kind `Exit` with the code;
//!    - a sleep, where the call can be suspended, ends the call's run for a while
//!      instead: the call suspends until the sleep is over (`wasi_sleep.rs`);
//! 4. charges fuel for the host work it did ([`Work`]): a fixed cost (more for a
//!    call that asks the operating system), a cost per iovec and per poll
//!    subscription, a unit per random byte, and the kernel imports' rate ([`cost`]: a
//!    unit per 64 bytes) for iovec lists, paths and the bytes read, written or filled.
//!    A charge larger than what is left of the fuel slice ends the slice, so
//!    `timeout_ms`, cancel and the fuel limit hold against a plug-in that loops on
//!    WASI calls.

use crate::{
    error::ErrorKind,
    host::current_plugin::{charge, cost, CurrentPlugin, IMPORT_FUEL},
    host::function::{HostFuture, Writer},
    host::linear_memory::MAIN_MODULE_SLOT,
    host::suspend::Suspend,
    imports::wasi_sleep::{stopped, Sleep},
    kernel::abi::{LINEAR_MEMORY_EXPORT, WASI_MODULE},
    os::wasi::CallWatch,
    Error,
};
use alloc::{format, sync::Arc};
use core::{
    future::Future,
    task::{Context, Poll, Waker},
};
use std::panic::{catch_unwind, AssertUnwindSafe};
use wasmi::{AsContextMut, Caller, Func, Linker, Memory};
use wasmi_wasi::{
    wasi_common::{snapshots::preview_1::wasi_snapshot_preview1 as preview_1, I32Exit},
    WasiCtx, WasmiGuestMemory,
};

/// Fuel for a WASI call that stays in the process (clocks, random numbers, the
/// empty arguments and environment), besides its bytes: as a kernel import that does
/// more than a bounds check.
const CALL_FUEL: u64 = IMPORT_FUEL;

/// Fuel for a WASI call that asks the operating system (files, directories, polls,
/// yields), besides its entries and bytes: a system call takes about as long as a
/// few hundred wasm instructions.
const OS_FUEL: u64 = 512;

/// Fuel for each iovec of a read or write, besides its bytes: `wasi-common` reads,
/// checks and collects every one of them.
const IOVEC_FUEL: u64 = 8;

/// Fuel for each subscription of a poll, besides its bytes: `wasi-common` decodes it,
/// looks its file up or computes its deadline, and writes an event (about 250 ns
/// each, measured).
const SUBSCRIPTION_FUEL: u64 = 64;

/// Fuel for each random byte `random_get` makes. Making random bytes (ChaCha) costs
/// about 1 ns a byte, measured: 60 times a copy, so the copy rate would let a
/// plug-in spend 100 ms of host time on one fuel slice.
const RANDOM_FUEL_PER_BYTE: u64 = 1;

/// Bytes of one iovec (`ciovec`) in linear memory.
const IOVEC_BYTES: u64 = 8;

/// Bytes of one poll subscription and of its event in linear memory.
const POLL_ENTRY_BYTES: u64 = 48 + 32;

/// The host work of one WASI call: what its arguments say before the call, and where
/// it writes how many bytes it moved (read after a successful call).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
struct Work {
    /// Fuel owed whatever the call did.
    fixed: u64,
    /// Bytes of host work known from the arguments (buffers, paths, iovec lists).
    bytes: u64,
    /// Where a successful call stores the number of bytes it read, wrote or filled.
    moved_at: Option<u32>,
}

impl Work {
    /// A call that stays in the process and handles a few bytes.
    const CALL: Work = Work {
        fixed: CALL_FUEL,
        bytes: 0,
        moved_at: None,
    };

    /// A call that asks the operating system and handles a few bytes.
    const OS: Work = Work {
        fixed: OS_FUEL,
        bytes: 0,
        moved_at: None,
    };

    /// A call that stays in the process and fills or reads `len` bytes.
    fn bytes(len: i32) -> Work {
        Work {
            bytes: u64::from(len as u32),
            ..Work::CALL
        }
    }

    /// `random_get` of `len` bytes.
    fn random(len: i32) -> Work {
        let random = u64::from(len as u32).saturating_mul(RANDOM_FUEL_PER_BYTE);
        Work {
            fixed: CALL_FUEL.saturating_add(random),
            ..Work::CALL
        }
    }

    /// A call to the operating system on paths of these lengths.
    fn paths(lengths: &[i32]) -> Work {
        Work {
            bytes: lengths.iter().map(|len| u64::from(*len as u32)).sum(),
            ..Work::OS
        }
    }

    /// A read or write through `entries` iovecs, storing the bytes moved at `moved_at`.
    fn io(entries: i32, moved_at: i32) -> Work {
        let entries = u64::from(entries as u32);
        Work {
            fixed: OS_FUEL.saturating_add(entries.saturating_mul(IOVEC_FUEL)),
            bytes: entries.saturating_mul(IOVEC_BYTES),
            moved_at: Some(moved_at as u32),
        }
    }

    /// A call to the operating system that fills a buffer, storing how much at
    /// `filled_at`, after reading a path of `path_len` bytes (0: none).
    fn fills(path_len: i32, filled_at: i32) -> Work {
        Work {
            moved_at: Some(filled_at as u32),
            ..Work::paths(&[path_len])
        }
    }

    /// A poll of `subscriptions` subscriptions.
    fn poll(subscriptions: i32) -> Work {
        let entries = u64::from(subscriptions as u32);
        Work {
            fixed: OS_FUEL.saturating_add(entries.saturating_mul(SUBSCRIPTION_FUEL)),
            bytes: entries.saturating_mul(POLL_ENTRY_BYTES),
            moved_at: None,
        }
    }

    /// The fuel of the call, given the linear memory after it and whether it succeeded.
    fn fuel(self, memory: &[u8], succeeded: bool) -> u64 {
        let moved = match self.moved_at {
            Some(at) if succeeded => read_u32(memory, at).map_or(0, u64::from),
            _ => 0,
        };
        cost(self.fixed, self.bytes.saturating_add(moved))
    }
}

/// The little-endian u32 at `at` in `memory`, if it lies inside.
fn read_u32(memory: &[u8], at: u32) -> Option<u32> {
    let at = usize::try_from(at).ok()?;
    let bytes = memory.get(at..at.checked_add(4)?)?;
    Some(u32::from_le_bytes(bytes.try_into().ok()?))
}

/// What a WASI function returns: an errno (0 is success), or nothing (`proc_exit`).
trait Errno {
    /// True when the call succeeded.
    fn succeeded(&self) -> bool;

    /// The value as the function's wasm result, if it has one.
    fn result(&self) -> Option<crate::Val>;
}

impl Errno for i32 {
    fn succeeded(&self) -> bool {
        *self == 0
    }

    fn result(&self) -> Option<crate::Val> {
        Some(crate::Val::I32(*self))
    }
}

impl Errno for () {
    fn succeeded(&self) -> bool {
        true
    }

    fn result(&self) -> Option<crate::Val> {
        None
    }
}

/// Runs a WASI function's future to its end on this thread and returns its output.
///
/// This is the one place where a WASI future is driven. `wasi-common`'s functions,
/// with interplug's scheduler, never return `Pending`: their waits (sleeps, polls)
/// block inside, in slices that a deadline or cancel ends (`os/wasi/sched.rs`). A
/// future that is not ready after one poll fails the call instead of blocking.
fn drive<F: Future>(future: F) -> Result<F::Output, wasmi::Error> {
    let mut future = core::pin::pin!(future);
    let mut context = Context::from_waker(Waker::noop());
    match future.as_mut().poll(&mut context) {
        Poll::Ready(output) => Ok(output),
        Poll::Pending => Err(crate::error::trap(
            ErrorKind::Host,
            "a WASI function waited for something a synchronous call cannot wait for",
        )),
    }
}

/// A WASI function's result in the engine's terms: `proc_exit` as the engine's exit
/// (with its status), any other trap as an error keeping its kind (`finish` then puts
/// back the kind of a wait the watch stopped).
fn outcome<R>(result: Result<R, Error>) -> Result<R, wasmi::Error> {
    result.map_err(|error| match error.downcast_ref::<I32Exit>() {
        Some(exit) => wasmi::Error::i32_exit(exit.0),
        None => crate::error::to_engine(&error, ErrorKind::Trap),
    })
}

/// The WASI context of a plug-in created with WASI on ([`begin`] checked it).
fn wasi_ctx<'a>(state: &'a mut CurrentPlugin, name: &str) -> Result<&'a mut WasiCtx, wasmi::Error> {
    match state.wasi.as_mut() {
        Some(wasi) => Ok(&mut wasi.ctx),
        None => Err(without_wasi(name)),
    }
}

/// The error of a WASI call by a plug-in created without WASI.
#[cold]
fn without_wasi(name: &str) -> wasmi::Error {
    crate::error::trap(
        ErrorKind::Invalid,
        format!(
            "the plug-in called WASI `{name}` but was created without WASI; create it with \
             with_wasi(true)"
        ),
    )
}

/// The error of a WASI call from a module whose linear memory is not known.
#[cold]
fn without_memory(name: &str) -> wasmi::Error {
    crate::error::trap(
        ErrorKind::Invalid,
        format!(
            "the plug-in called WASI `{name}` from a module that exports no linear memory \
             named `{LINEAR_MEMORY_EXPORT}`, or from a start function (the memory is known \
             once the module is instantiated): export the memory, and call WASI from an \
             exported function such as `_initialize` instead"
        ),
    )
}

/// Before a WASI function: the calling module's linear memory, and the plug-in's
/// watch with the running call's deadline.
fn begin(
    state: &CurrentPlugin,
    slot: usize,
    name: &str,
) -> Result<(Memory, Arc<CallWatch>), wasmi::Error> {
    let Some(wasi) = state.wasi.as_ref() else {
        return Err(without_wasi(name));
    };
    let Some(memory) = state.linear_memories.get(slot) else {
        return Err(without_memory(name));
    };
    wasi.watch.begin(state.deadline_ms);
    wasi.watch.defer_sleeps(state.can_suspend);
    Ok((memory, wasi.watch.clone()))
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

/// The engine error that suspends the call until `until` (`None`: until its cancel or
/// deadline), then resumes the WASI function `name` with its `result`.
fn suspend_until(
    name: &'static str,
    watch: Arc<CallWatch>,
    until: Option<std::time::Instant>,
    result: Option<crate::Val>,
) -> wasmi::Error {
    let sleep = Sleep::new(name, watch, until);
    let resume = move |_: &mut CurrentPlugin, outputs: &mut [crate::Val]| {
        if let (Some(value), Some(slot)) = (result, outputs.first_mut()) {
            *slot = value;
        }
        Ok(())
    };
    let future: HostFuture = alloc::boxed::Box::pin(async move {
        sleep.await?;
        Ok(alloc::boxed::Box::new(resume) as Writer)
    });
    Suspend::<HostFuture>::error(None, future)
}

/// After a WASI function that returned: charges the fuel of its work.
fn pay(caller: &mut Caller<'_, CurrentPlugin>, memory: Memory, work: Work, succeeded: bool) {
    let fuel = work.fuel(memory.data(&*caller), succeeded);
    charge(caller, fuel);
}

/// Defines, for every WASI preview 1 function, a constructor of its host function
/// bound to the linear memory of one module (`bind::NAME(slot)`), and the two ways
/// they are used: [`add_to_linker`] (the main module) and [`func_for`] (the others).
macro_rules! wasi_functions {
    ($( $name:ident ( $( $arg:ident : $ty:ty ),* ) -> $ret:ty = $work:expr; )*) => {
        /// The host function of each WASI function, for the module in `slot`.
        mod bind {
            use super::*;
            $(
                pub(super) fn $name(
                    slot: usize,
                ) -> impl Fn(Caller<'_, CurrentPlugin>, $( $ty ),*) -> Result<$ret, wasmi::Error>
                       + Send
                       + Sync
                       + 'static {
                    move |mut caller: Caller<'_, CurrentPlugin>, $( $arg: $ty ),*| {
                        const NAME: &str = stringify!($name);
                        let work: Work = $work;
                        let (memory, watch) = begin(caller.data(), slot, NAME)?;
                        let result = catch_unwind(AssertUnwindSafe(|| -> Result<$ret, wasmi::Error> {
                            let (bytes, state) = memory.data_and_store_mut(&mut caller);
                            let ctx = wasi_ctx(state, NAME)?;
                            let mut guest = WasmiGuestMemory::Unshared(bytes);
                            outcome(drive(preview_1::$name(ctx, &mut guest, $( $arg ),*))?)
                        }));
                        let deferred = watch.take_deferred();
                        let value = finish(NAME, &watch, result)?;
                        pay(&mut caller, memory, work, value.succeeded());
                        match deferred {
                            // A sleep: the call suspends until then (`wasi_sleep.rs`).
                            Some(until) => Err(suspend_until(NAME, watch, until, value.result())),
                            None => Ok(value),
                        }
                    }
                }
            )*
        }

        /// Adds every `wasi_snapshot_preview1` function to `linker`, for the main module.
        pub(crate) fn add_to_linker(linker: &mut Linker<CurrentPlugin>) -> Result<(), Error> {
            $(
                linker
                    .func_wrap(WASI_MODULE, stringify!($name), bind::$name(MAIN_MODULE_SLOT))
                    .map_err(|e| {
                        crate::error::fail!(
                            Invalid from e,
                            "cannot define the WASI function `{}`",
                            stringify!($name)
                        )
                    })?;
            )*
            Ok(())
        }

        /// The WASI function `name`, made in `store` for the module in `slot` (a module
        /// other than the main one): it works on that module's linear memory. `None`
        /// when WASI preview 1 has no function of that name.
        pub(crate) fn func_for(
            mut store: impl AsContextMut<Data = CurrentPlugin>,
            slot: usize,
            name: &str,
        ) -> Option<Func> {
            match name {
                $( stringify!($name) => Some(Func::wrap(&mut store, bind::$name(slot))), )*
                _ => None,
            }
        }
    };
}

// The WASI preview 1 ABI: each function's name, wasm parameters and result, and the
// host work it is charged for.
wasi_functions! {
    args_get(argv: i32, argv_buf: i32) -> i32 = Work::CALL;
    args_sizes_get(count_at: i32, size_at: i32) -> i32 = Work::CALL;
    environ_get(environ: i32, environ_buf: i32) -> i32 = Work::CALL;
    environ_sizes_get(count_at: i32, size_at: i32) -> i32 = Work::CALL;
    clock_res_get(id: i32, at: i32) -> i32 = Work::CALL;
    clock_time_get(id: i32, precision: i64, at: i32) -> i32 = Work::CALL;
    fd_advise(fd: i32, offset: i64, len: i64, advice: i32) -> i32 = Work::OS;
    fd_allocate(fd: i32, offset: i64, len: i64) -> i32 = Work::OS;
    fd_close(fd: i32) -> i32 = Work::OS;
    fd_datasync(fd: i32) -> i32 = Work::OS;
    fd_fdstat_get(fd: i32, at: i32) -> i32 = Work::OS;
    fd_fdstat_set_flags(fd: i32, flags: i32) -> i32 = Work::OS;
    fd_fdstat_set_rights(fd: i32, base: i64, inheriting: i64) -> i32 = Work::OS;
    fd_filestat_get(fd: i32, at: i32) -> i32 = Work::OS;
    fd_filestat_set_size(fd: i32, size: i64) -> i32 = Work::OS;
    fd_filestat_set_times(fd: i32, atim: i64, mtim: i64, flags: i32) -> i32 = Work::OS;
    fd_pread(fd: i32, iovs: i32, iovs_len: i32, offset: i64, nread_at: i32) -> i32 =
        Work::io(iovs_len, nread_at);
    fd_prestat_get(fd: i32, at: i32) -> i32 = Work::CALL;
    fd_prestat_dir_name(fd: i32, path: i32, path_len: i32) -> i32 = Work::bytes(path_len);
    fd_pwrite(fd: i32, iovs: i32, iovs_len: i32, offset: i64, nwritten_at: i32) -> i32 =
        Work::io(iovs_len, nwritten_at);
    fd_read(fd: i32, iovs: i32, iovs_len: i32, nread_at: i32) -> i32 =
        Work::io(iovs_len, nread_at);
    fd_readdir(fd: i32, buf: i32, buf_len: i32, cookie: i64, used_at: i32) -> i32 =
        Work::fills(0, used_at);
    fd_renumber(fd: i32, to: i32) -> i32 = Work::OS;
    fd_seek(fd: i32, offset: i64, whence: i32, at: i32) -> i32 = Work::OS;
    fd_sync(fd: i32) -> i32 = Work::OS;
    fd_tell(fd: i32, at: i32) -> i32 = Work::OS;
    fd_write(fd: i32, iovs: i32, iovs_len: i32, nwritten_at: i32) -> i32 =
        Work::io(iovs_len, nwritten_at);
    path_create_directory(fd: i32, path: i32, path_len: i32) -> i32 = Work::paths(&[path_len]);
    path_filestat_get(fd: i32, flags: i32, path: i32, path_len: i32, at: i32) -> i32 =
        Work::paths(&[path_len]);
    path_filestat_set_times(
        fd: i32, flags: i32, path: i32, path_len: i32, atim: i64, mtim: i64, fst_flags: i32
    ) -> i32 = Work::paths(&[path_len]);
    path_link(
        old_fd: i32, old_flags: i32, old_path: i32, old_len: i32, new_fd: i32, new_path: i32,
        new_len: i32
    ) -> i32 = Work::paths(&[old_len, new_len]);
    path_open(
        fd: i32, dirflags: i32, path: i32, path_len: i32, oflags: i32, base: i64,
        inheriting: i64, fdflags: i32, fd_at: i32
    ) -> i32 = Work::paths(&[path_len]);
    path_readlink(fd: i32, path: i32, path_len: i32, buf: i32, buf_len: i32, used_at: i32) -> i32 =
        Work::fills(path_len, used_at);
    path_remove_directory(fd: i32, path: i32, path_len: i32) -> i32 = Work::paths(&[path_len]);
    path_rename(
        fd: i32, old_path: i32, old_len: i32, new_fd: i32, new_path: i32, new_len: i32
    ) -> i32 = Work::paths(&[old_len, new_len]);
    path_symlink(old_path: i32, old_len: i32, fd: i32, new_path: i32, new_len: i32) -> i32 =
        Work::paths(&[old_len, new_len]);
    path_unlink_file(fd: i32, path: i32, path_len: i32) -> i32 = Work::paths(&[path_len]);
    poll_oneoff(subscriptions: i32, events: i32, count: i32, nevents_at: i32) -> i32 =
        Work::poll(count);
    proc_exit(code: i32) -> () = Work::CALL;
    proc_raise(signal: i32) -> i32 = Work::CALL;
    sched_yield() -> i32 = Work::OS;
    random_get(buf: i32, buf_len: i32) -> i32 = Work::random(buf_len);
    sock_accept(fd: i32, flags: i32, fd_at: i32) -> i32 = Work::OS;
    sock_recv(
        fd: i32, iovs: i32, iovs_len: i32, flags: i32, nread_at: i32, flags_at: i32
    ) -> i32 = Work::io(iovs_len, nread_at);
    sock_send(fd: i32, iovs: i32, iovs_len: i32, flags: i32, nwritten_at: i32) -> i32 =
        Work::io(iovs_len, nwritten_at);
    sock_shutdown(fd: i32, how: i32) -> i32 = Work::OS;
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

    #[test]
    fn exits_and_traps_keep_their_meaning() {
        let exit = outcome::<i32>(Err(Error::new(I32Exit(3)))).expect_err("an exit");
        assert_eq!(exit.i32_exit_status(), Some(3));
        let timeout = outcome::<i32>(Err(crate::error::new(ErrorKind::Timeout, "late")))
            .expect_err("a stopped wait");
        assert_eq!(kind_of(&timeout), Some(ErrorKind::Timeout));
        let other = outcome::<i32>(Err(Error::new(std::io::Error::other("a guest fault"))))
            .expect_err("a trap");
        assert_eq!(kind_of(&other), Some(ErrorKind::Trap));
        assert_eq!(outcome::<i32>(Ok(0)).ok(), Some(0));
    }

    #[test]
    fn a_pending_future_fails_instead_of_blocking() {
        assert_eq!(drive(async { 5 }).ok(), Some(5));
        let error = drive(core::future::pending::<()>()).expect_err("never ready");
        assert_eq!(kind_of(&error), Some(ErrorKind::Host));
    }

    #[test]
    fn work_is_charged_by_entries_and_bytes() {
        let memory = [0u8; 16];
        // 6 400 bytes of a path given to the process: 100 units besides the call.
        assert_eq!(Work::bytes(6400).fuel(&memory, true), CALL_FUEL + 100);
        // 256 KiB of random bytes, a unit each.
        assert_eq!(
            Work::random(256 << 10).fuel(&memory, true),
            CALL_FUEL + (256 << 10)
        );
        // A length the plug-in gives as negative is a large unsigned one.
        assert!(Work::random(-1).fuel(&memory, true) > u64::from(u32::MAX) - 1);
        assert!(Work::bytes(-1).fuel(&memory, true) > 60_000_000);
        // 1 000 iovecs, of which the call moved 64 KiB (stored at offset 4).
        let mut moved = memory;
        moved[4..8].copy_from_slice(&(64u32 << 10).to_le_bytes());
        let io = Work::io(1000, 4);
        let entries = OS_FUEL + 1000 * IOVEC_FUEL + 1000 * IOVEC_BYTES / 64;
        assert_eq!(io.fuel(&moved, true), entries + 1024);
        // A failed call moved nothing; a count stored outside the memory is 0.
        assert_eq!(io.fuel(&moved, false), entries);
        assert_eq!(Work::io(1000, 14).fuel(&moved, true), entries);
        assert_eq!(
            Work::poll(100).fuel(&memory, true),
            OS_FUEL + 100 * SUBSCRIPTION_FUEL + 100 * POLL_ENTRY_BYTES / 64
        );
        assert_eq!(
            Work::paths(&[6400, 640]).fuel(&memory, false),
            OS_FUEL + 110
        );
        assert_eq!(Work::fills(640, 4).fuel(&moved, true), OS_FUEL + 10 + 1024);
        assert_eq!(Work::OS.fuel(&memory, true), OS_FUEL);
    }
}
