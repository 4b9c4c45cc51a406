//! [`FileStorage`]: the core's [`Storage`] on a directory of ordinary files.
//!
//! ```text
//! journal-dir/
//!   LOCK                         exclusive lock, holds the owner's pid
//!   meta-0, meta-1               the two 64-byte meta slots (high-water mark)
//!   00000000000000000001.seg     segments, named by their id (20 digits)
//!   00000000000000000002.seg
//!   RESERVE                      64 KiB of disk given up when the disk is full
//!   quarantine/                  damaged segments moved aside by recovery
//! ```
//!
//! Durability follows the storage contract of `steadfast_core::storage`:
//! appends are positional writes (they reach the OS page cache, so a killed
//! process loses nothing), `sync` is `fdatasync`, and creating, removing or
//! renaming a file syncs the directory as well. A directory sync that the
//! platform refuses (`EBADF`, `EINVAL`, `ENOTSUP`: WASI preview 1, some
//! network file systems) is recorded once as a [`DurabilityNote`].
//!
//! After a failed fsync the storage *fails closed*: Linux may already have
//! dropped the dirty pages, so retrying would report success for data that
//! is gone. Every later call fails with `StorageErrorKind::FailedClosed`;
//! reopening the journal recovers from what is really on disk.
//!
//! Files are created 0600 and the directory 0700 (on unix).

mod error;
mod fs;
mod imp;
mod lock;

use std::collections::BTreeMap;
use std::fs::File;
use std::io;
use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};

pub use error::{FileError, FileOp, OpenStorageError};
pub use lock::LOCK_FILE;
use steadfast_core::{SegmentId, StorageErrorKind};

pub(crate) use fs::private_options as private_file_options;
use fs::{create_private_dir, private_options, sync_dir, write_all_at};

/// Name of the subdirectory damaged segments are moved to.
pub const QUARANTINE_DIR: &str = "quarantine";

/// A file of reserved disk space the journal gives up when the disk is
/// full, so that a restart can always start a segment and drain the
/// backlog (see [`FileStorage::keep_ballast`]).
pub const BALLAST_FILE: &str = "RESERVE";

/// Bytes the ballast file holds: room for a new segment's header and
/// manifest and the confirmations that let full segments be deleted.
pub const BALLAST_LEN: u64 = 64 << 10;

/// Names of the two meta slot files.
pub const META_FILES: [&str; 2] = ["meta-0", "meta-1"];

/// File name of segment `id`.
pub fn segment_file_name(id: SegmentId) -> String {
    format!("{id:020}.seg")
}

/// The segment id a file name stands for, if it is a segment's name.
pub fn parse_segment_file_name(name: &str) -> Option<SegmentId> {
    let digits = name.strip_suffix(".seg")?;
    if digits.len() != 20 || !digits.bytes().all(|b| b.is_ascii_digit()) {
        return None;
    }
    digits.parse().ok()
}

/// Something about this platform that weakens durability, found while
/// running; reported once each.
#[derive(Clone, Debug, PartialEq, Eq)]
#[non_exhaustive]
pub enum DurabilityNote {
    /// Directories cannot be fsynced here: after power loss a segment just
    /// created, removed or quarantined may be back to its old state. Recovery
    /// handles each of those cases; data in synced segments is not affected.
    DirectorySyncUnsupported {
        /// The OS error.
        error: String,
    },
    /// The platform has no file locks: nothing stops a second process from
    /// opening the same journal. Make sure only one does.
    LockUnsupported {
        /// The OS error.
        error: String,
    },
}

impl std::fmt::Display for DurabilityNote {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            DurabilityNote::DirectorySyncUnsupported { error } => write!(
                f,
                "directory fsync is not supported here ({error}): a segment created or removed just before power loss may reappear or vanish; recovery handles it"
            ),
            DurabilityNote::LockUnsupported { error } => write!(
                f,
                "file locks are not supported here ({error}): make sure only one process opens this journal"
            ),
        }
    }
}

/// One open segment file.
#[derive(Debug)]
struct Segment {
    file: Arc<File>,
    /// Bytes appended (the file's length once the write buffer is flushed:
    /// this process is its only writer).
    len: u64,
    /// Bytes known durable.
    synced: u64,
    /// Disk space reserved for it from offset 0 (`fallocate`), within
    /// which appends may be buffered: they cannot fail for lack of space.
    reserved: u64,
}

/// Appends held back to be written with one `pwrite` (see [`FileStorage::flush`]).
#[derive(Debug, Default)]
struct WriteBuffer {
    segment: SegmentId,
    /// File offset of `bytes[0]`.
    offset: u64,
    bytes: Vec<u8>,
}

/// Most bytes held in the write buffer before it is written out.
const WRITE_BUFFER: usize = 256 << 10;

/// A journal directory, implementing the core's [`Storage`] contract.
/// See the module documentation.
#[derive(Debug)]
pub struct FileStorage {
    dir: PathBuf,
    _lock: lock::DirLock,
    segments: BTreeMap<SegmentId, Segment>,
    meta: [Option<File>; 2],
    /// Why the storage failed closed, if it did.
    failed: Option<String>,
    notes: Vec<DurabilityNote>,
    fail_syncs: Arc<AtomicBool>,
    /// Bytes to reserve for each new segment (0: none).
    prealloc: u64,
    pending: WriteBuffer,
}

impl FileStorage {
    /// Opens (creating if needed) the journal directory `dir` and takes its
    /// exclusive lock. Fails with [`OpenStorageError::Locked`] if another
    /// process — or another `FileStorage` in this one — has it.
    pub fn open(dir: impl AsRef<Path>) -> Result<FileStorage, OpenStorageError> {
        let dir = dir.as_ref().to_path_buf();
        match std::fs::metadata(&dir) {
            Ok(m) if !m.is_dir() => return Err(OpenStorageError::NotADirectory { path: dir }),
            Ok(_) => {}
            Err(e) if e.kind() == io::ErrorKind::NotFound => {
                create_private_dir(&dir).map_err(|source| OpenStorageError::Io {
                    what: "creating journal directory",
                    path: dir.clone(),
                    source,
                })?;
            }
            Err(source) => {
                return Err(OpenStorageError::Io {
                    what: "reading journal directory",
                    path: dir,
                    source,
                });
            }
        }
        // Fail here, with the path, if the directory cannot be listed.
        std::fs::read_dir(&dir).map_err(|source| OpenStorageError::Io {
            what: "listing journal directory",
            path: dir.clone(),
            source,
        })?;
        let (lock, lock_note) = lock::lock(&dir)?;
        let mut notes = Vec::new();
        if let lock::LockNote::Unsupported(e) = lock_note {
            notes.push(DurabilityNote::LockUnsupported { error: e.to_string() });
        }
        Ok(FileStorage {
            dir,
            _lock: lock,
            segments: BTreeMap::new(),
            meta: [None, None],
            failed: None,
            notes,
            fail_syncs: Arc::new(AtomicBool::new(false)),
            prealloc: 0,
            pending: WriteBuffer::default(),
        })
    }

    /// Reserves `bytes` of disk for every segment created from now on (on
    /// Linux, `fallocate` with `FALLOC_FL_KEEP_SIZE`: the file's length is
    /// unchanged). Appends inside a reservation cannot fail for lack of
    /// space, so they may be gathered in a small buffer and written with
    /// one `pwrite` at the next [`flush`](Self::flush); a full disk shows up
    /// when a segment is created, as `NoSpace`. Where the reservation is not
    /// possible every append is written through at once. Give the segment
    /// size ([`Producer`](crate::Producer) does).
    pub fn preallocate_segments(&mut self, bytes: u64) {
        self.prealloc = bytes;
    }

    /// Makes sure the ballast file ([`BALLAST_FILE`], [`BALLAST_LEN`]
    /// bytes, really allocated) exists; returns whether it does. Best
    /// effort: on a full disk it stays missing until space is freed.
    pub fn keep_ballast(&mut self) -> bool {
        let path = self.dir.join(BALLAST_FILE);
        if std::fs::metadata(&path).is_ok_and(|m| m.len() >= BALLAST_LEN) {
            return true;
        }
        let created = private_options()
            .write(true)
            .create(true)
            .truncate(true)
            .open(&path)
            .and_then(|file| {
                // Written, not just sized: a sparse file reserves nothing.
                let zeros = vec![0u8; BALLAST_LEN as usize];
                write_all_at(&file, 0, &zeros)?;
                file.sync_all()
            });
        if created.is_err() {
            let _ = std::fs::remove_file(&path);
            return false;
        }
        let dir = self.dir.clone();
        self.sync_dir_at(&dir).is_ok()
    }

    /// Deletes the ballast file, giving its space to the journal; returns
    /// whether there was one. Used when the disk is full.
    pub fn release_ballast(&mut self) -> bool {
        let path = self.dir.join(BALLAST_FILE);
        if std::fs::remove_file(&path).is_err() {
            return false;
        }
        let dir = self.dir.clone();
        let _ = self.sync_dir_at(&dir);
        true
    }

    /// Writes buffered appends to the operating system (one `pwrite`).
    /// After it returns they survive the process being killed. The
    /// producer calls it before any `send` returns. A failure here fails
    /// the storage closed: the journal already counted those bytes.
    pub fn flush(&mut self) -> Result<(), FileError> {
        if self.pending.bytes.is_empty() {
            return Ok(());
        }
        let id = self.pending.segment;
        // The path is built only for an error: this runs on every `send`,
        // and formatting a segment file name each time showed in profiles.
        self.check(FileOp::Append, || self.path_of(id))?;
        let Some(seg) = self.segments.get(&id) else {
            self.pending.bytes.clear();
            return Ok(());
        };
        let result = write_all_at(&seg.file, self.pending.offset, &self.pending.bytes);
        self.pending.bytes.clear();
        result.map_err(|e| {
            let err = FileError::io(FileOp::Append, self.path_of(id), e).with_kind(StorageErrorKind::Io);
            self.fail_closed(&err);
            err
        })
    }

    /// Flushes the write buffer if it holds bytes of segment `id`.
    fn flush_segment(&mut self, id: SegmentId) -> Result<(), FileError> {
        if self.pending.segment == id {
            self.flush()
        } else {
            Ok(())
        }
    }

    /// The journal directory.
    pub fn dir(&self) -> &Path {
        &self.dir
    }

    /// Durability notes found so far (each reported once).
    pub fn notes(&self) -> &[DurabilityNote] {
        &self.notes
    }

    /// Why the storage failed closed, if it did.
    pub fn failure(&self) -> Option<&str> {
        self.failed.as_deref()
    }

    /// Files and directories in the journal directory that are not part of
    /// the journal (not a segment, meta slot, lock or `quarantine/`).
    /// [`Storage::list`](steadfast_core::Storage::list) ignores them; `journal verify` reports them.
    pub fn stray_files(&self) -> io::Result<Vec<PathBuf>> {
        let mut strays = Vec::new();
        for entry in std::fs::read_dir(&self.dir)? {
            let entry = entry?;
            let name = entry.file_name();
            let known = name.to_str().is_some_and(|n| {
                parse_segment_file_name(n).is_some()
                    || META_FILES.contains(&n)
                    || n == LOCK_FILE
                    || n == BALLAST_FILE
                    || n == QUARANTINE_DIR
            });
            if !known {
                strays.push(entry.path());
            }
        }
        strays.sort();
        Ok(strays)
    }

    /// Segments moved to `quarantine/` (by this run or earlier ones).
    pub fn quarantined_files(&self) -> io::Result<Vec<PathBuf>> {
        let mut files = match std::fs::read_dir(self.dir.join(QUARANTINE_DIR)) {
            Ok(entries) => entries
                .map(|e| e.map(|e| e.path()))
                .collect::<io::Result<Vec<_>>>()?,
            Err(e) if e.kind() == io::ErrorKind::NotFound => Vec::new(),
            Err(e) => return Err(e),
        };
        files.sort();
        Ok(files)
    }

    /// Makes every later fsync fail as if the device had failed, to test
    /// that the producer fails closed. Not for production use.
    #[doc(hidden)]
    pub fn inject_sync_failure(&self) {
        self.fail_syncs.store(true, Ordering::SeqCst);
    }

    fn path_of(&self, id: SegmentId) -> PathBuf {
        self.dir.join(segment_file_name(id))
    }

    fn check(&self, op: FileOp, path: impl FnOnce() -> PathBuf) -> Result<(), FileError> {
        match self.failed {
            Some(_) => Err(FileError::new(StorageErrorKind::FailedClosed, op, path())),
            None => Ok(()),
        }
    }

    fn fail_closed(&mut self, why: &FileError) {
        if self.failed.is_none() {
            self.failed = Some(why.to_string());
        }
    }

    /// The open segment `id`, opening its file on first use.
    fn segment(&mut self, id: SegmentId, op: FileOp) -> Result<&mut Segment, FileError> {
        if !self.segments.contains_key(&id) {
            let path = self.path_of(id);
            let file = std::fs::OpenOptions::new()
                .read(true)
                .write(true)
                .open(&path)
                .map_err(|e| FileError::io(op, path.clone(), e))?;
            let len = file
                .metadata()
                .map_err(|e| FileError::io(op, path.clone(), e))?
                .len();
            let segment = Segment {
                file: Arc::new(file),
                len,
                synced: len,
                reserved: 0,
            };
            self.segments.insert(id, segment);
        }
        self.segments
            .get_mut(&id)
            .ok_or_else(|| FileError::new(StorageErrorKind::NotFound, op, PathBuf::new()))
    }

    /// Syncs the directory; an unsupported directory sync becomes a note.
    fn sync_dir_at(&mut self, dir: &Path) -> Result<(), FileError> {
        match sync_dir(dir) {
            Ok(()) => Ok(()),
            Err(e) if is_unsupported(&e) => {
                if !self
                    .notes
                    .iter()
                    .any(|n| matches!(n, DurabilityNote::DirectorySyncUnsupported { .. }))
                {
                    self.notes
                        .push(DurabilityNote::DirectorySyncUnsupported { error: e.to_string() });
                }
                Ok(())
            }
            Err(e) => Err(FileError::io(FileOp::SyncDir, dir.to_path_buf(), e)),
        }
    }

    /// Runs `fdatasync` on `file`; on failure the storage fails closed.
    fn sync_file(&mut self, file: &File, op: FileOp, path: PathBuf) -> Result<(), FileError> {
        imp::fdatasync(file, &self.fail_syncs).map_err(|e| {
            // A failed fsync may have dropped dirty pages: fail closed.
            let err = FileError::io(op, path, e).with_kind(StorageErrorKind::Io);
            self.fail_closed(&err);
            err
        })
    }

    fn meta_file(&mut self, slot: usize) -> Result<&File, FileError> {
        let name = META_FILES
            .get(slot)
            .ok_or_else(|| FileError::new(StorageErrorKind::NotFound, FileOp::WriteMeta, self.dir.clone()))?;
        let path = self.dir.join(name);
        if self.meta[slot].is_none() {
            let existed = path.exists();
            let file = private_options()
                .read(true)
                .write(true)
                .create(true)
                .truncate(false)
                .open(&path)
                .map_err(|e| FileError::io(FileOp::WriteMeta, path.clone(), e))?;
            if !existed {
                let dir = self.dir.clone();
                self.sync_dir_at(&dir)?;
            }
            self.meta[slot] = Some(file);
        }
        self.meta[slot]
            .as_ref()
            .ok_or_else(|| FileError::new(StorageErrorKind::Other, FileOp::WriteMeta, path))
    }
}

fn is_unsupported(e: &io::Error) -> bool {
    error::is_unsupported_dir_sync(e)
}

impl Drop for FileStorage {
    /// Writes out buffered appends (the core counted them as appended).
    fn drop(&mut self) {
        let _ = self.flush();
    }
}

#[cfg(test)]
mod tests;
