//! WASI preview 1 for plug-ins created with WASI on.
//!
//! A plug-in gets exactly what the manifest grants: the directories of
//! `allowed_paths` (a `ro:` prefix on the host path makes one read-only), clocks and
//! random numbers, an empty environment and no arguments. Its stdout and stderr are
//! discarded unless the host opts in.
//!
//! Read-only directories wrap the `WasiDir` of `wasi-common` in [`ReadOnlyDir`]: every
//! operation that would change the file system answers the WASI error `EROFS` (the
//! plug-in sees an ordinary I/O error, the host never traps), and files and
//! directories opened through it are wrapped the same way.

use crate::{current_plugin::CurrentPlugin, Error, Manifest};
use std::{any::Any, io, path::PathBuf};
use wasmi::Linker;
use wasmi_wasi::wasi_common::{
    self,
    dir::{OpenResult, ReaddirCursor, ReaddirEntity},
    file::{Advice, FdFlags, FileType, Filestat, OFlags},
    snapshots::preview_1::types::Errno,
    SystemTimeSpec, WasiCtx, WasiDir, WasiFile,
};

/// The prefix of an `allowed_paths` host path that makes the directory read-only.
const READ_ONLY_PREFIX: &str = "ro:";

/// Adds the `wasi_snapshot_preview1` functions to `linker`.
pub(crate) fn add_to_linker(linker: &mut Linker<CurrentPlugin>) -> Result<(), Error> {
    // On 32-bit x86, wasmi 2.0.0 crashes the process (SIGSEGV in `Caller::get_export`)
    // as soon as a WASI function looks up the calling instance's memory: refuse WASI
    // there rather than take the host down (README, Platforms).
    if cfg!(target_arch = "x86") {
        crate::error::bail_kind!(
            Invalid,
            "WASI for plug-ins is not available in 32-bit x86 builds of interplug \
             (the wasmi interpreter crashes there): use a 64-bit or ARM build, or \
             create the plug-in without WASI"
        );
    }
    wasmi_wasi::add_to_linker(linker, |state: &mut CurrentPlugin| {
        state
            .wasi
            .as_mut()
            .expect("a WASI context exists whenever WASI functions are linked")
    })
    .map_err(|e| anyhow::anyhow!("cannot define the WASI functions: {e}"))
}

/// A WASI context with the manifest's directories and nothing else. Plug-in output
/// goes to the host's stdout and stderr only when `output` is true.
pub(crate) fn context(manifest: &Manifest, output: bool) -> Result<WasiCtx, Error> {
    let mut builder = wasmi_wasi::WasiCtxBuilder::new();
    if output {
        builder.inherit_stdout().inherit_stderr();
    } else {
        builder
            .stdout(Box::new(wasi_common::pipe::WritePipe::new(io::sink())))
            .stderr(Box::new(wasi_common::pipe::WritePipe::new(io::sink())));
    }
    let ctx = builder.build();
    for (host, guest) in manifest.allowed_paths.iter().flatten() {
        let dir = open_allowed_dir(host, guest)?;
        ctx.push_preopened_dir(dir, guest).map_err(|e| {
            anyhow::anyhow!("cannot map allowed path `{host}` to `{guest}` for WASI: {e}")
        })?;
    }
    Ok(ctx)
}

/// Opens the host directory of one `allowed_paths` entry, read-only when it starts
/// with `ro:`.
fn open_allowed_dir(host: &str, guest: &str) -> Result<Box<dyn WasiDir>, Error> {
    let (read_only, host_path) = match host.strip_prefix(READ_ONLY_PREFIX) {
        Some(path) => (true, path),
        None => (false, host),
    };
    let dir = wasmi_wasi::Dir::open_ambient_dir(host_path, wasmi_wasi::ambient_authority())
        .map_err(|e| {
            anyhow::anyhow!(
                "cannot open allowed path `{host_path}` (mapped to `{guest}`): {e}; \
                 allowed_paths must name existing host directories"
            )
        })?;
    let dir: Box<dyn WasiDir> = Box::new(wasi_common::sync::dir::Dir::from_cap_std(dir));
    Ok(if read_only {
        Box::new(ReadOnlyDir(dir))
    } else {
        dir
    })
}

/// The error every refused change answers: "read-only file system".
fn read_only() -> wasi_common::Error {
    Errno::Rofs.into()
}

/// True when opening with these options could create, truncate or change a file.
fn opens_for_change(oflags: OFlags, write: bool, fdflags: FdFlags) -> bool {
    write
        || oflags.intersects(OFlags::CREATE | OFlags::TRUNCATE | OFlags::EXCLUSIVE)
        || fdflags.contains(FdFlags::APPEND)
}

/// A directory whose contents a plug-in may read but not change.
///
/// `as_any` returns the wrapper itself, so `wasi-common` cannot see the inner
/// directory: a rename or link *into* a read-only directory from a writable one
/// fails too (the inner implementation only links between its own kind).
struct ReadOnlyDir(Box<dyn WasiDir>);

#[async_trait::async_trait]
impl WasiDir for ReadOnlyDir {
    fn as_any(&self) -> &dyn Any {
        self
    }

    async fn open_file(
        &self,
        symlink_follow: bool,
        path: &str,
        oflags: OFlags,
        read: bool,
        write: bool,
        fdflags: FdFlags,
    ) -> Result<OpenResult, wasi_common::Error> {
        if opens_for_change(oflags, write, fdflags) {
            return Err(read_only());
        }
        let opened = self
            .0
            .open_file(symlink_follow, path, oflags, read, false, fdflags)
            .await?;
        Ok(match opened {
            OpenResult::File(file) => OpenResult::File(Box::new(ReadOnlyFile(file))),
            OpenResult::Dir(dir) => OpenResult::Dir(Box::new(ReadOnlyDir(dir))),
        })
    }

    async fn create_dir(&self, _path: &str) -> Result<(), wasi_common::Error> {
        Err(read_only())
    }

    async fn readdir(
        &self,
        cursor: ReaddirCursor,
    ) -> Result<
        Box<dyn Iterator<Item = Result<ReaddirEntity, wasi_common::Error>> + Send>,
        wasi_common::Error,
    > {
        self.0.readdir(cursor).await
    }

    async fn symlink(&self, _old_path: &str, _new_path: &str) -> Result<(), wasi_common::Error> {
        Err(read_only())
    }

    async fn remove_dir(&self, _path: &str) -> Result<(), wasi_common::Error> {
        Err(read_only())
    }

    async fn unlink_file(&self, _path: &str) -> Result<(), wasi_common::Error> {
        Err(read_only())
    }

    async fn read_link(&self, path: &str) -> Result<PathBuf, wasi_common::Error> {
        self.0.read_link(path).await
    }

    async fn get_filestat(&self) -> Result<Filestat, wasi_common::Error> {
        self.0.get_filestat().await
    }

    async fn get_path_filestat(
        &self,
        path: &str,
        follow_symlinks: bool,
    ) -> Result<Filestat, wasi_common::Error> {
        self.0.get_path_filestat(path, follow_symlinks).await
    }

    async fn rename(
        &self,
        _path: &str,
        _dest_dir: &dyn WasiDir,
        _dest_path: &str,
    ) -> Result<(), wasi_common::Error> {
        Err(read_only())
    }

    async fn hard_link(
        &self,
        _path: &str,
        _target_dir: &dyn WasiDir,
        _target_path: &str,
    ) -> Result<(), wasi_common::Error> {
        Err(read_only())
    }

    async fn set_times(
        &self,
        _path: &str,
        _atime: Option<SystemTimeSpec>,
        _mtime: Option<SystemTimeSpec>,
        _follow_symlinks: bool,
    ) -> Result<(), wasi_common::Error> {
        Err(read_only())
    }
}

/// A file opened from a [`ReadOnlyDir`]: reads pass through, changes (writes, size,
/// times) answer `EROFS`.
struct ReadOnlyFile(Box<dyn WasiFile>);

#[async_trait::async_trait]
impl WasiFile for ReadOnlyFile {
    fn as_any(&self) -> &dyn Any {
        self
    }

    async fn get_filetype(&self) -> Result<FileType, wasi_common::Error> {
        self.0.get_filetype().await
    }

    #[cfg(unix)]
    fn pollable(&self) -> Option<std::os::fd::BorrowedFd<'_>> {
        self.0.pollable()
    }

    fn isatty(&self) -> bool {
        self.0.isatty()
    }

    async fn get_fdflags(&self) -> Result<FdFlags, wasi_common::Error> {
        self.0.get_fdflags().await
    }

    async fn set_fdflags(&mut self, flags: FdFlags) -> Result<(), wasi_common::Error> {
        if flags.contains(FdFlags::APPEND) {
            return Err(read_only());
        }
        self.0.set_fdflags(flags).await
    }

    async fn get_filestat(&self) -> Result<Filestat, wasi_common::Error> {
        self.0.get_filestat().await
    }

    async fn set_filestat_size(&self, _size: u64) -> Result<(), wasi_common::Error> {
        Err(read_only())
    }

    async fn advise(
        &self,
        offset: u64,
        len: u64,
        advice: Advice,
    ) -> Result<(), wasi_common::Error> {
        self.0.advise(offset, len, advice).await
    }

    async fn set_times(
        &self,
        _atime: Option<SystemTimeSpec>,
        _mtime: Option<SystemTimeSpec>,
    ) -> Result<(), wasi_common::Error> {
        Err(read_only())
    }

    async fn read_vectored<'a>(
        &self,
        bufs: &mut [io::IoSliceMut<'a>],
    ) -> Result<u64, wasi_common::Error> {
        self.0.read_vectored(bufs).await
    }

    async fn read_vectored_at<'a>(
        &self,
        bufs: &mut [io::IoSliceMut<'a>],
        offset: u64,
    ) -> Result<u64, wasi_common::Error> {
        self.0.read_vectored_at(bufs, offset).await
    }

    async fn write_vectored<'a>(
        &self,
        _bufs: &[io::IoSlice<'a>],
    ) -> Result<u64, wasi_common::Error> {
        Err(read_only())
    }

    async fn write_vectored_at<'a>(
        &self,
        _bufs: &[io::IoSlice<'a>],
        _offset: u64,
    ) -> Result<u64, wasi_common::Error> {
        Err(read_only())
    }

    async fn seek(&self, pos: io::SeekFrom) -> Result<u64, wasi_common::Error> {
        self.0.seek(pos).await
    }

    async fn peek(&self, buf: &mut [u8]) -> Result<u64, wasi_common::Error> {
        self.0.peek(buf).await
    }

    fn num_ready_bytes(&self) -> Result<u64, wasi_common::Error> {
        self.0.num_ready_bytes()
    }

    async fn readable(&self) -> Result<(), wasi_common::Error> {
        self.0.readable().await
    }
}
