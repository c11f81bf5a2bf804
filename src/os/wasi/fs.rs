//! The directories and files a plug-in reaches through WASI, behind a guard.
//!
//! Every `allowed_paths` directory is a [`GuardedDir`] around `wasi-common`'s own
//! `cap-std` directory, and every file or directory opened through it is wrapped the
//! same way ([`GuardedFile`], [`GuardedDir`]). The guard does three jobs:
//!
//! - **read-only directories** (a `ro:` prefix in `allowed_paths`): every operation that
//!   would change the file system answers the WASI error `EROFS` (the plug-in sees an
//!   ordinary I/O error, the host never traps);
//! - **a cap on open files**: each plug-in holds at most [`DEFAULT_MAX_OPEN_FILES`]
//!   files and directories opened through WASI at once; one more open answers `EMFILE`
//!   to the plug-in, and the host's own descriptors are never exhausted by it. Closing
//!   a file (or re-creating the plug-in) frees its place;
//! - **timestamps `wasi-common` cannot convert**: WASI counts times in nanoseconds since
//!   1970, and `wasi-common` panics on an earlier time (a file dated 1960 in an allowed
//!   directory would take the host down); such times read as 1970-01-01 instead.
//!
//! `as_any` returns the guard itself, so `wasi-common` never sees an inner directory: a
//! rename or link between two guarded directories unwraps both here, and one into a
//! read-only directory fails.

use alloc::sync::Arc;
use core::sync::atomic::{AtomicUsize, Ordering};
use std::{any::Any, io, path::PathBuf, time::SystemTime};
use wasmi_wasi::wasi_common::{
    self,
    dir::{OpenResult, ReaddirCursor, ReaddirEntity},
    file::{Advice, FdFlags, FileType, Filestat, OFlags},
    snapshots::preview_1::types::Errno,
    SystemTimeSpec, WasiDir, WasiFile,
};

/// Default cap on the files and directories one plug-in holds open through WASI at
/// once (its preopened `allowed_paths` directories and stdio not counted). One more
/// open fails inside the plug-in with the WASI error `EMFILE`.
///
/// ```
/// assert_eq!(interplug::DEFAULT_MAX_OPEN_FILES, 256);
/// ```
pub const DEFAULT_MAX_OPEN_FILES: usize = 256;

/// The count of files a plug-in holds open, shared by all its guarded directories.
#[derive(Debug)]
pub(crate) struct OpenFiles {
    open: AtomicUsize,
    max: usize,
}

impl OpenFiles {
    /// A count starting at zero, capped at `max`.
    pub(crate) fn new(max: usize) -> Arc<Self> {
        Arc::new(OpenFiles {
            open: AtomicUsize::new(0),
            max,
        })
    }

    /// Takes one place, or answers `EMFILE` when all are taken.
    fn reserve(self: &Arc<Self>) -> Result<OpenSlot, wasi_common::Error> {
        let taken = self
            .open
            .fetch_update(Ordering::AcqRel, Ordering::Acquire, |open| {
                (open < self.max).then_some(open + 1)
            });
        match taken {
            Ok(_) => Ok(OpenSlot(self.clone())),
            Err(_) => Err(Errno::Mfile.into()),
        }
    }
}

/// One place in [`OpenFiles`], given back when the file holding it is dropped.
#[derive(Debug)]
struct OpenSlot(Arc<OpenFiles>);

impl Drop for OpenSlot {
    fn drop(&mut self) {
        self.0.open.fetch_sub(1, Ordering::AcqRel);
    }
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

/// A time WASI can carry: times before 1970 become 1970-01-01.
fn representable(time: Option<SystemTime>) -> Option<SystemTime> {
    time.map(|t| t.max(SystemTime::UNIX_EPOCH))
}

/// `stat` with every time representable in WASI.
fn representable_stat(stat: Filestat) -> Filestat {
    Filestat {
        atim: representable(stat.atim),
        mtim: representable(stat.mtim),
        ctim: representable(stat.ctim),
        ..stat
    }
}

/// A directory a plug-in reaches through WASI (see the module documentation).
pub(crate) struct GuardedDir {
    inner: Box<dyn WasiDir>,
    read_only: bool,
    open_files: Arc<OpenFiles>,
    /// The place this directory takes in `open_files` (none for a preopened one).
    _slot: Option<OpenSlot>,
}

impl GuardedDir {
    /// A preopened `allowed_paths` directory.
    pub(crate) fn preopened(
        inner: Box<dyn WasiDir>,
        read_only: bool,
        open_files: Arc<OpenFiles>,
    ) -> Self {
        GuardedDir {
            inner,
            read_only,
            open_files,
            _slot: None,
        }
    }

    /// Fails with `EROFS` in a read-only directory.
    fn check_writable(&self) -> Result<(), wasi_common::Error> {
        if self.read_only {
            Err(read_only())
        } else {
            Ok(())
        }
    }

    /// The guarded directory behind `dir`, when `dir` is one and may be changed.
    fn writable_target(dir: &dyn WasiDir) -> Result<&GuardedDir, wasi_common::Error> {
        let target = dir
            .as_any()
            .downcast_ref::<GuardedDir>()
            .ok_or_else(|| wasi_common::Error::from(Errno::Xdev))?;
        target.check_writable()?;
        Ok(target)
    }
}

#[async_trait::async_trait]
impl WasiDir for GuardedDir {
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
        if self.read_only && opens_for_change(oflags, write, fdflags) {
            return Err(read_only());
        }
        let slot = self.open_files.reserve()?;
        let opened = self
            .inner
            .open_file(symlink_follow, path, oflags, read, write, fdflags)
            .await?;
        Ok(match opened {
            OpenResult::File(file) => OpenResult::File(Box::new(GuardedFile {
                inner: file,
                read_only: self.read_only,
                _slot: slot,
            })),
            OpenResult::Dir(dir) => OpenResult::Dir(Box::new(GuardedDir {
                inner: dir,
                read_only: self.read_only,
                open_files: self.open_files.clone(),
                _slot: Some(slot),
            })),
        })
    }

    async fn create_dir(&self, path: &str) -> Result<(), wasi_common::Error> {
        self.check_writable()?;
        self.inner.create_dir(path).await
    }

    async fn readdir(
        &self,
        cursor: ReaddirCursor,
    ) -> Result<
        Box<dyn Iterator<Item = Result<ReaddirEntity, wasi_common::Error>> + Send>,
        wasi_common::Error,
    > {
        self.inner.readdir(cursor).await
    }

    async fn symlink(&self, old_path: &str, new_path: &str) -> Result<(), wasi_common::Error> {
        self.check_writable()?;
        self.inner.symlink(old_path, new_path).await
    }

    async fn remove_dir(&self, path: &str) -> Result<(), wasi_common::Error> {
        self.check_writable()?;
        self.inner.remove_dir(path).await
    }

    async fn unlink_file(&self, path: &str) -> Result<(), wasi_common::Error> {
        self.check_writable()?;
        self.inner.unlink_file(path).await
    }

    async fn read_link(&self, path: &str) -> Result<PathBuf, wasi_common::Error> {
        self.inner.read_link(path).await
    }

    async fn get_filestat(&self) -> Result<Filestat, wasi_common::Error> {
        self.inner.get_filestat().await.map(representable_stat)
    }

    async fn get_path_filestat(
        &self,
        path: &str,
        follow_symlinks: bool,
    ) -> Result<Filestat, wasi_common::Error> {
        self.inner
            .get_path_filestat(path, follow_symlinks)
            .await
            .map(representable_stat)
    }

    async fn rename(
        &self,
        path: &str,
        dest_dir: &dyn WasiDir,
        dest_path: &str,
    ) -> Result<(), wasi_common::Error> {
        self.check_writable()?;
        let target = GuardedDir::writable_target(dest_dir)?;
        self.inner.rename(path, &*target.inner, dest_path).await
    }

    async fn hard_link(
        &self,
        path: &str,
        target_dir: &dyn WasiDir,
        target_path: &str,
    ) -> Result<(), wasi_common::Error> {
        self.check_writable()?;
        let target = GuardedDir::writable_target(target_dir)?;
        self.inner
            .hard_link(path, &*target.inner, target_path)
            .await
    }

    async fn set_times(
        &self,
        path: &str,
        atime: Option<SystemTimeSpec>,
        mtime: Option<SystemTimeSpec>,
        follow_symlinks: bool,
    ) -> Result<(), wasi_common::Error> {
        self.check_writable()?;
        self.inner
            .set_times(path, atime, mtime, follow_symlinks)
            .await
    }
}

/// A file opened through a [`GuardedDir`]: it holds a place among the plug-in's open
/// files until dropped; in a read-only directory, changes (writes, size, times)
/// answer `EROFS`.
struct GuardedFile {
    inner: Box<dyn WasiFile>,
    read_only: bool,
    _slot: OpenSlot,
}

impl GuardedFile {
    /// Fails with `EROFS` for a file of a read-only directory.
    fn check_writable(&self) -> Result<(), wasi_common::Error> {
        if self.read_only {
            Err(read_only())
        } else {
            Ok(())
        }
    }
}

#[async_trait::async_trait]
impl WasiFile for GuardedFile {
    fn as_any(&self) -> &dyn Any {
        self
    }

    async fn get_filetype(&self) -> Result<FileType, wasi_common::Error> {
        self.inner.get_filetype().await
    }

    #[cfg(unix)]
    fn pollable(&self) -> Option<std::os::fd::BorrowedFd<'_>> {
        self.inner.pollable()
    }

    fn isatty(&self) -> bool {
        self.inner.isatty()
    }

    async fn datasync(&self) -> Result<(), wasi_common::Error> {
        self.inner.datasync().await
    }

    async fn sync(&self) -> Result<(), wasi_common::Error> {
        self.inner.sync().await
    }

    async fn get_fdflags(&self) -> Result<FdFlags, wasi_common::Error> {
        self.inner.get_fdflags().await
    }

    async fn set_fdflags(&mut self, flags: FdFlags) -> Result<(), wasi_common::Error> {
        if flags.contains(FdFlags::APPEND) {
            self.check_writable()?;
        }
        self.inner.set_fdflags(flags).await
    }

    async fn get_filestat(&self) -> Result<Filestat, wasi_common::Error> {
        self.inner.get_filestat().await.map(representable_stat)
    }

    async fn set_filestat_size(&self, size: u64) -> Result<(), wasi_common::Error> {
        self.check_writable()?;
        self.inner.set_filestat_size(size).await
    }

    async fn advise(
        &self,
        offset: u64,
        len: u64,
        advice: Advice,
    ) -> Result<(), wasi_common::Error> {
        self.inner.advise(offset, len, advice).await
    }

    async fn set_times(
        &self,
        atime: Option<SystemTimeSpec>,
        mtime: Option<SystemTimeSpec>,
    ) -> Result<(), wasi_common::Error> {
        self.check_writable()?;
        self.inner.set_times(atime, mtime).await
    }

    async fn read_vectored<'a>(
        &self,
        bufs: &mut [io::IoSliceMut<'a>],
    ) -> Result<u64, wasi_common::Error> {
        self.inner.read_vectored(bufs).await
    }

    async fn read_vectored_at<'a>(
        &self,
        bufs: &mut [io::IoSliceMut<'a>],
        offset: u64,
    ) -> Result<u64, wasi_common::Error> {
        self.inner.read_vectored_at(bufs, offset).await
    }

    async fn write_vectored<'a>(
        &self,
        bufs: &[io::IoSlice<'a>],
    ) -> Result<u64, wasi_common::Error> {
        self.check_writable()?;
        self.inner.write_vectored(bufs).await
    }

    async fn write_vectored_at<'a>(
        &self,
        bufs: &[io::IoSlice<'a>],
        offset: u64,
    ) -> Result<u64, wasi_common::Error> {
        self.check_writable()?;
        self.inner.write_vectored_at(bufs, offset).await
    }

    async fn seek(&self, pos: io::SeekFrom) -> Result<u64, wasi_common::Error> {
        self.inner.seek(pos).await
    }

    async fn peek(&self, buf: &mut [u8]) -> Result<u64, wasi_common::Error> {
        self.inner.peek(buf).await
    }

    fn num_ready_bytes(&self) -> Result<u64, wasi_common::Error> {
        self.inner.num_ready_bytes()
    }

    async fn readable(&self) -> Result<(), wasi_common::Error> {
        self.inner.readable().await
    }

    async fn writable(&self) -> Result<(), wasi_common::Error> {
        self.check_writable()?;
        self.inner.writable().await
    }
}
