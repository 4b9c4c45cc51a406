//! The one place the file storage changes the file system: small portable
//! helpers (private 0600 files, positional reads and writes, directory
//! sync, each with the fallback WASI preview 1 needs), [`FsFile`] for calls
//! on an open file and [`Fs`] for calls on names. Each call that changes
//! something on disk reports it to the storage's
//! [`FileObserver`](super::trace::FileObserver), if it has one (see
//! `storage/trace.rs`). Calls that only look (listing the directory,
//! `metadata`, opening a meta slot to read it, `mmap`) and the lock file
//! (`storage/lock.rs`) stay where they are used.

use std::fs::{File, OpenOptions};
use std::io;
use std::path::{Path, PathBuf};
use std::sync::Arc;

use super::trace::{FileEvent, FileObserver, WriteVia};

/// Open options whose created files are readable and writable by the
/// owner only (0600 on unix; WASI has no permission bits).
pub(crate) fn private_options() -> OpenOptions {
    #[allow(unused_mut)]
    let mut options = OpenOptions::new();
    #[cfg(unix)]
    {
        use std::os::unix::fs::OpenOptionsExt;
        options.mode(0o600);
    }
    options
}

/// Creates `dir` (and its parents) with owner-only permissions (0700 on unix).
pub(crate) fn create_private_dir(dir: &Path) -> io::Result<()> {
    let mut builder = std::fs::DirBuilder::new();
    builder.recursive(true);
    #[cfg(unix)]
    {
        use std::os::unix::fs::DirBuilderExt;
        builder.mode(0o700);
    }
    builder.create(dir)
}

/// Syncs a directory so that entries created, renamed or removed in it
/// survive power loss.
fn sync_dir(dir: &Path) -> io::Result<()> {
    File::open(dir)?.sync_all()
}

/// Reads from `offset` until `buf` is full or the file ends; returns the
/// bytes read.
pub(crate) fn read_at(file: &File, offset: u64, buf: &mut [u8]) -> io::Result<usize> {
    let mut done = 0;
    while done < buf.len() {
        let n = match read_once(file, offset + done as u64, &mut buf[done..]) {
            Ok(n) => n,
            Err(e) if e.kind() == io::ErrorKind::Interrupted => continue,
            Err(e) => return Err(e),
        };
        if n == 0 {
            break;
        }
        done += n;
    }
    Ok(done)
}

#[cfg(unix)]
fn read_once(file: &File, offset: u64, buf: &mut [u8]) -> io::Result<usize> {
    std::os::unix::fs::FileExt::read_at(file, buf, offset)
}

#[cfg(not(unix))]
fn read_once(mut file: &File, offset: u64, buf: &mut [u8]) -> io::Result<usize> {
    use std::io::{Read, Seek, SeekFrom};
    file.seek(SeekFrom::Start(offset))?;
    file.read(buf)
}

/// Writes all of `data` at `offset`.
fn write_all_at(file: &File, offset: u64, data: &[u8]) -> io::Result<()> {
    #[cfg(unix)]
    {
        std::os::unix::fs::FileExt::write_all_at(file, data, offset)
    }
    #[cfg(not(unix))]
    {
        use std::io::{Seek, SeekFrom, Write};
        let mut file = file;
        file.seek(SeekFrom::Start(offset))?;
        file.write_all(data)
    }
}

/// The storage's observer, if it has one.
#[derive(Clone, Default)]
pub(crate) struct Trace(Option<Arc<dyn FileObserver>>);

impl Trace {
    pub(crate) fn new(observer: Option<Arc<dyn FileObserver>>) -> Trace {
        Trace(observer)
    }

    /// Reports `event` (built only if someone listens).
    fn emit<'a>(&self, event: impl FnOnce() -> FileEvent<'a>) {
        if let Some(observer) = &self.0 {
            observer.on_event(&event());
        }
    }

    /// Passes `result` through, reporting `event` if it is `Ok`.
    fn after<'a, T>(&self, result: io::Result<T>, event: impl FnOnce() -> FileEvent<'a>) -> io::Result<T> {
        if result.is_ok() {
            self.emit(event);
        }
        result
    }
}

impl std::fmt::Debug for Trace {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(if self.0.is_some() {
            "Trace(observed)"
        } else {
            "Trace(none)"
        })
    }
}

/// An open file of the journal, with its path (for errors and the
/// observer). Every call on it that changes the file goes through here.
#[derive(Debug)]
pub(crate) struct FsFile {
    file: File,
    path: PathBuf,
    trace: Trace,
}

impl FsFile {
    /// The same journal file reached through another OS file (unit tests
    /// swap in a pipe, on which `fdatasync` fails).
    #[cfg(test)]
    pub(crate) fn swapped(&self, file: File) -> FsFile {
        FsFile {
            file,
            path: self.path.clone(),
            trace: self.trace.clone(),
        }
    }

    /// The OS file, for calls that change nothing on disk (`fstat`,
    /// `fstatfs`, `mmap`, `sync_file_range`).
    pub(crate) fn file(&self) -> &File {
        &self.file
    }

    /// Reads from `offset` until `buf` is full or the file ends.
    pub(crate) fn read_at(&self, offset: u64, buf: &mut [u8]) -> io::Result<usize> {
        read_at(&self.file, offset, buf)
    }

    /// Writes all of `data` at `offset` (`pwrite`).
    pub(crate) fn write_all_at(&self, offset: u64, data: &[u8]) -> io::Result<()> {
        let result = write_all_at(&self.file, offset, data);
        self.trace.after(result, || FileEvent::Write {
            path: &self.path,
            offset,
            data,
            via: WriteVia::Pwrite,
        })
    }

    /// Reports a store of `data` at `offset` into a shared mapping of this
    /// file, made by the caller (`storage/map.rs`).
    pub(crate) fn stored(&self, offset: u64, data: &[u8]) {
        self.trace.emit(|| FileEvent::Write {
            path: &self.path,
            offset,
            data,
            via: WriteVia::Mapping,
        });
    }

    /// Sets the file's length (`ftruncate`).
    pub(crate) fn set_len(&self, len: u64) -> io::Result<()> {
        let result = self.file.set_len(len);
        self.trace.after(result, || FileEvent::SetLen {
            path: &self.path,
            len,
        })
    }

    /// `fdatasync`.
    pub(crate) fn sync_data(&self) -> io::Result<()> {
        let result = self.file.sync_data();
        self.trace
            .after(result, || FileEvent::SyncData { path: &self.path })
    }

    /// `fsync`.
    pub(crate) fn sync_all(&self) -> io::Result<()> {
        let result = self.file.sync_all();
        self.trace
            .after(result, || FileEvent::SyncData { path: &self.path })
    }

    /// Reserves `len` bytes from offset 0 without changing the file's
    /// length; returns the bytes reserved (0 where the platform or file
    /// system cannot).
    pub(crate) fn reserve(&self, len: u64) -> u64 {
        #[cfg(target_os = "linux")]
        {
            use rustix::fs::{FallocateFlags, fallocate};
            if len > 0 && fallocate(&self.file, FallocateFlags::KEEP_SIZE, 0, len).is_ok() {
                self.trace.emit(|| FileEvent::Reserve {
                    path: &self.path,
                    len,
                });
                return len;
            }
        }
        let _ = len;
        0
    }
}

/// Calls on names in the journal directory.
#[derive(Clone, Debug, Default)]
pub(crate) struct Fs {
    trace: Trace,
}

impl Fs {
    pub(crate) fn new(trace: Trace) -> Fs {
        Fs { trace }
    }

    /// Opens the existing file `path` for reading and writing.
    pub(crate) fn open(&self, path: &Path) -> io::Result<FsFile> {
        let file = OpenOptions::new().read(true).write(true).open(path)?;
        Ok(self.file(file, path))
    }

    /// Opens `path` for reading and writing, creating it (0600) if it is
    /// missing; with `truncate`, cuts it to 0 bytes if it is there.
    pub(crate) fn create(&self, path: &Path, truncate: bool) -> io::Result<FsFile> {
        // Only asked when someone listens.
        let existed = self.trace.0.is_some().then(|| path.exists());
        let file = private_options()
            .read(true)
            .write(true)
            .create(true)
            .truncate(truncate)
            .open(path)?;
        if let Some(existed) = existed {
            self.trace.emit(|| FileEvent::Open {
                path,
                existed,
                truncated: existed && truncate,
            });
        }
        Ok(self.file(file, path))
    }

    fn file(&self, file: File, path: &Path) -> FsFile {
        FsFile {
            file,
            path: path.to_path_buf(),
            trace: self.trace.clone(),
        }
    }

    /// Unlinks `path`.
    pub(crate) fn remove_file(&self, path: &Path) -> io::Result<()> {
        let result = std::fs::remove_file(path);
        self.trace.after(result, || FileEvent::Remove { path })
    }

    /// Renames `from` to `to`.
    pub(crate) fn rename(&self, from: &Path, to: &Path) -> io::Result<()> {
        let result = std::fs::rename(from, to);
        self.trace.after(result, || FileEvent::Rename { from, to })
    }

    /// Creates `dir` (0700).
    pub(crate) fn create_dir(&self, dir: &Path) -> io::Result<()> {
        let result = create_private_dir(dir);
        self.trace.after(result, || FileEvent::CreateDir { path: dir })
    }

    /// Syncs directory `dir`.
    pub(crate) fn sync_dir(&self, dir: &Path) -> io::Result<()> {
        let result = sync_dir(dir);
        self.trace.after(result, || FileEvent::SyncDir { path: dir })
    }
}
