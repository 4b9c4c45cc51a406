//! [`FileStorage`]: the core's [`Storage`](steadfast_core::Storage) on a directory of ordinary files.
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
//! every append reaches the OS page cache before `send` returns (so a
//! killed process loses nothing), `sync` is `fdatasync`, and creating,
//! removing or renaming a file syncs the directory as well. A directory
//! sync that the platform refuses (`EBADF`, `EINVAL`, `ENOTSUP`: WASI
//! preview 1, some network file systems) is recorded once as a
//! [`DurabilityNote`].
//!
//! # Appends: a shared mapping, or `pwrite`
//!
//! Appends are gathered in a small write buffer and written out by
//! [`flush`](FileStorage::flush), which the producer calls before `send`
//! returns. How they are written out:
//!
//! - On Linux, a segment this process creates gets its whole size reserved
//!   (`fallocate` with `FALLOC_FL_KEEP_SIZE`, see
//!   [`FileStorage::preallocate_segments`]) and that range mapped shared and
//!   writable (`storage/map.rs`). A flush of up to 4 KiB (a single `send`)
//!   is a `memcpy` into the mapping: no system call. A larger one (a batch)
//!   is one `pwrite`, which fills many pages for less than a page fault on
//!   each would cost. Both land in the same page cache.
//! - Everywhere else, one `pwrite` (or one per append without a
//!   reservation): off Linux, under WASI, on file systems where a store into
//!   a preallocated page could still need space (copy-on-write: btrfs, ZFS)
//!   or fail remotely (NFS), where `fallocate` or `mmap` failed, for
//!   segments opened rather than created by this process, and for the bytes
//!   of a segment past its reservation.
//!
//! A store into a `MAP_SHARED` file mapping is in the page cache when the
//! copy ends, so it survives SIGKILL like a `pwrite`, and `fdatasync` writes
//! back pages dirtied through the mapping (the kernel write-protects them
//! and marks a page dirty on the first store), so `sync` and the
//! group-commit [`SyncTicket`]s work unchanged.
//!
//! Touching a mapped page wholly past the file's end raises SIGBUS, so the
//! file is kept longer than what was appended: it is grown with `set_len`
//! in 1 MiB steps, never past the reservation, whose blocks are already
//! allocated (the growth cannot fail with `ENOSPC`, and a store into those
//! blocks needs no new ones). A write that crosses the file's end is made
//! with `pwrite` before the file grows, so the zeros always follow written
//! bytes. Consequences:
//!
//! - After a crash the newest segment may end in up to 1 MiB of zeros after
//!   its last entry. Recovery cuts them as a torn tail (normal after a
//!   crash; the scan over them costs a few milliseconds). A new segment
//!   that power loss left all zeros (grown, its pages never written back)
//!   is removed by recovery like an empty one.
//! - A segment must not keep zeros once it is no longer the newest, or
//!   recovery would call them damage: before a new segment is created, the
//!   mapped one is unmapped, cut to its length and synced. Closing the
//!   storage (drop) cuts it too, so a closed journal has exact files.
//!   `truncate`, `remove` and `quarantine` drop the mapping first.
//!
//! # Reads: always `pread`
//!
//! Every read of a segment, mapped or not, is a `pread` of the file, never a
//! copy out of the mapping. The bytes are the same (stores into a
//! `MAP_SHARED` mapping and `pread` of the same file share the page cache,
//! so a read sees every append flushed before it), but a page of a mapped
//! segment that was written back and evicted is read from the disk again,
//! and a disk failing that read is then an `EIO` the storage reports, not a
//! SIGBUS that kills the process.
//!
//! Why the mapping is safe: only this process writes the journal's files
//! (the `LOCK`), every store into the mapping goes through the
//! `FileStorage`, which the producer only uses under its lock, and an fsync
//! running outside that lock (a group-commit [`SyncTicket`]) touches the file,
//! never the mapping. What would still raise SIGBUS and kill the process:
//! another process truncating a mapped segment (ignoring the lock), or a
//! store into a page the kernel must first read back from a failing disk
//! (only a partly written page at the end of the appended bytes, which is
//! normally still in the page cache). Recovery then handles the journal
//! like after any crash.
//!
//! After a failed fsync the storage *fails closed*: Linux may already have
//! dropped the dirty pages, so retrying would report success for data that
//! is gone. Every later call fails with `StorageErrorKind::FailedClosed`;
//! reopening the journal recovers from what is really on disk.
//!
//! Files are created 0600 and the directory 0700 (on unix).
//!
//! # Where the file system is called
//!
//! Every file-system call that changes something on disk is made in
//! `storage/fs.rs` (`FsFile` for an open file, `Fs` for names in the
//! directory; stores into the mapping are reported through `FsFile` by
//! `storage/map.rs`), so that a storage opened with
//! [`FileStorage::open_observed`] can report every change it makes to a
//! [`trace::FileObserver`]: the seam the crash-state explorer
//! (`std-runner/tests/crash_states`, docs/crash-states.md) records real
//! workloads through.

mod error;
mod fs;
mod imp;
mod lock;
mod map;
mod note;
mod reaper;
mod runner;
pub mod trace;

use std::collections::BTreeMap;
use std::fs::File;
use std::io;
use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::sync::atomic::{AtomicUsize, Ordering};

pub use error::{FileError, FileOp, OpenStorageError};
pub use imp::SyncTicket;
pub use lock::LOCK_FILE;
pub use note::DurabilityNote;
pub use runner::{RunnerStorage, SyncJob};
use steadfast_core::{SegmentId, StorageErrorKind};

pub(crate) use fs::private_options as private_file_options;
use fs::{Fs, FsFile, Trace, create_private_dir};
use map::SegmentMap;
use trace::FileObserver;

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

/// Bytes of the journal's files that are not segments: the ballast and
/// the two meta slots (the builder's budget counts them).
pub(crate) const FILES_OUTSIDE_SEGMENTS: u64 = BALLAST_LEN + 2 * steadfast_core::META_SLOT_LEN as u64;

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

/// One open segment file.
#[derive(Debug)]
struct Segment {
    file: Arc<FsFile>,
    /// Bytes appended: the segment's length. Unmapped, the file's length
    /// once the write buffer is flushed (this process is its only writer);
    /// mapped, the file may be longer, by zeros. (What is durable is the
    /// journal's to know: the storage syncs when it is asked to.)
    len: u64,
    /// Disk space reserved for it from offset 0 (`fallocate`), within
    /// which appends may be buffered: they cannot fail for lack of space.
    reserved: u64,
    /// The reservation mapped into memory, where small flushes are copied
    /// (a segment this process created, on Linux; see the module docs).
    map: Option<SegmentMap>,
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

/// Most buffered bytes a flush copies into a mapped segment; more are
/// written with `pwrite`. Each page a copy enters costs a page fault, which
/// costs more than a `pwrite` fills a page for, so a copy pays only for
/// small flushes: a single `send` of 100 B runs about twice as fast as with
/// `pwrite`, a `send_batch` of 1,000 × 1 KiB about 40 % slower if copied
/// (`examples/bench`, 2 vCPUs, ext4).
const MAP_COPY_MAX: usize = 4 << 10;

/// Segments mapped for appending by this process (see the module docs).
static SEGMENTS_MAPPED: AtomicUsize = AtomicUsize::new(0);

/// How many segments this process has mapped for appending so far (0 where
/// appends use `pwrite`); lets tests check which path they exercised.
#[doc(hidden)]
pub fn segments_mapped() -> usize {
    SEGMENTS_MAPPED.load(Ordering::Relaxed)
}

/// True if segments created in the existing directory `dir` would be
/// mapped (Linux, on a file system where that is safe: see the module
/// docs). Probes with a temporary file; for tests.
#[doc(hidden)]
pub fn segments_mappable_in(dir: &Path) -> bool {
    if !cfg!(target_os = "linux") {
        return false;
    }
    let probe = dir.join(format!(".steadfast-map-probe-{}", std::process::id()));
    let Ok(file) = File::create(&probe) else {
        return false;
    };
    let yes = map::can_map(&file);
    let _ = std::fs::remove_file(&probe);
    yes
}

/// A journal directory, implementing the core's [`Storage`](steadfast_core::Storage) contract.
/// See the module documentation.
#[derive(Debug)]
pub struct FileStorage {
    dir: PathBuf,
    _lock: lock::DirLock,
    segments: BTreeMap<SegmentId, Segment>,
    meta: [Option<FsFile>; 2],
    /// Every call on a name in the directory goes through here.
    fs: Fs,
    /// Why the storage failed closed, if it did.
    failed: Option<String>,
    notes: Vec<DurabilityNote>,
    /// Bytes to reserve for each new segment (0: none).
    prealloc: u64,
    pending: WriteBuffer,
    /// Map new segments where possible (off only in tests of the `pwrite`
    /// path).
    map_segments: bool,
}

impl FileStorage {
    /// Opens (creating if needed) the journal directory `dir` and takes its
    /// exclusive lock. Fails with [`OpenStorageError::Locked`] if another
    /// process — or another `FileStorage` in this one — has it.
    pub fn open(dir: impl AsRef<Path>) -> Result<FileStorage, OpenStorageError> {
        Self::open_traced(dir.as_ref(), Trace::default())
    }

    /// [`open`](Self::open), with `observer` told of every change the
    /// storage makes to the journal's files from here on (see
    /// [`trace`]): for crash-consistency tests and debugging. The storage
    /// behaves exactly as without it.
    pub fn open_observed(
        dir: impl AsRef<Path>,
        observer: Arc<dyn FileObserver>,
    ) -> Result<FileStorage, OpenStorageError> {
        Self::open_traced(dir.as_ref(), Trace::new(Some(observer)))
    }

    fn open_traced(dir: &Path, trace: Trace) -> Result<FileStorage, OpenStorageError> {
        let dir = dir.to_path_buf();
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
            fs: Fs::new(trace),
            failed: None,
            notes,
            prealloc: 0,
            pending: WriteBuffer::default(),
            map_segments: true,
        })
    }

    /// Reserves `bytes` of disk for every segment created from now on (on
    /// Linux, `fallocate` with `FALLOC_FL_KEEP_SIZE`: the file's length is
    /// unchanged). Appends inside a reservation cannot fail for lack of
    /// space, so they are copied into a mapping of it where possible (see
    /// the module documentation), else gathered in a small buffer and
    /// written with one `pwrite` at the next [`flush`](Self::flush); a full
    /// disk shows up when a segment is created, as `NoSpace`. Where the
    /// reservation is not possible every append is written through at
    /// once. Give the segment size ([`Producer`](crate::Producer) does).
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
        // A segment just removed gives its blocks back only once the
        // reaper has closed it: on a full disk, wait for that first.
        if self.write_ballast(&path) {
            return true;
        }
        reaper::wait_idle();
        self.write_ballast(&path)
    }

    fn write_ballast(&mut self, path: &Path) -> bool {
        let created = self.fs.create(path, true).and_then(|file| {
            // Written, not just sized: a sparse file reserves nothing.
            let zeros = vec![0u8; BALLAST_LEN as usize];
            file.write_all_at(0, &zeros)?;
            file.sync_all()
        });
        if created.is_err() {
            let _ = self.fs.remove_file(path);
            return false;
        }
        let dir = self.dir.clone();
        self.sync_dir_at(&dir).is_ok()
    }

    /// Deletes the ballast file, giving its space to the journal; returns
    /// whether there was one. Used when the disk is full.
    pub fn release_ballast(&mut self) -> bool {
        let path = self.dir.join(BALLAST_FILE);
        if self.fs.remove_file(&path).is_err() {
            return false;
        }
        let dir = self.dir.clone();
        let _ = self.sync_dir_at(&dir);
        true
    }

    /// Writes buffered appends to the operating system: copied into a
    /// mapped segment if they are few (no system call), else one `pwrite`.
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
        let Some(seg) = self.segments.get_mut(&id) else {
            self.pending.bytes.clear();
            return Ok(());
        };
        let (offset, bytes) = (self.pending.offset, &self.pending.bytes);
        let result = match seg.map.as_mut() {
            // A `send`'s worth: a copy, no system call.
            Some(map) if bytes.len() <= MAP_COPY_MAX => map.copy_at(offset, bytes),
            // A batch: one `pwrite` fills many pages at less cost than a
            // page fault on each.
            Some(map) => map.pwrite_at(offset, bytes),
            None => seg.file.write_all_at(offset, bytes),
        };
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
            let file = self
                .fs
                .open(&path)
                .map_err(|e| FileError::io(op, path.clone(), e))?;
            let len = file
                .file()
                .metadata()
                .map_err(|e| FileError::io(op, path.clone(), e))?
                .len();
            let segment = Segment {
                file: Arc::new(file),
                len,
                reserved: 0,
                map: None,
            };
            self.segments.insert(id, segment);
        }
        self.segments
            .get_mut(&id)
            .ok_or_else(|| FileError::new(StorageErrorKind::NotFound, op, PathBuf::new()))
    }

    /// Drops segment `id`'s mapping, if it has one, and cuts the file back
    /// to the bytes appended (the zeros the mapping grew it by); with
    /// `durable`, syncs the cut so that power loss cannot bring the zeros
    /// back. Appends to the segment then use `pwrite`.
    /// The mapping is gone even when this fails.
    fn unmap(&mut self, id: SegmentId, durable: bool) -> Result<(), FileError> {
        let Some(seg) = self.segments.get_mut(&id) else {
            return Ok(());
        };
        // Unmapped here, at the end of the arm.
        let grown = match seg.map.take() {
            Some(map) => map.file_len() > seg.len,
            None => return Ok(()),
        };
        let (file, len) = (Arc::clone(&seg.file), seg.len);
        // Buffered bytes go out with `pwrite` now, before the cut (which
        // keeps them: they are part of the segment's length).
        self.flush_segment(id)?;
        if !grown {
            return Ok(());
        }
        let path = self.path_of(id);
        if let Err(e) = file.set_len(len) {
            // The zeros stay, and nothing would cut them later: fail closed
            // rather than let a new segment make them look like damage.
            let err = FileError::io(FileOp::Truncate, path, e).with_kind(StorageErrorKind::Io);
            self.fail_closed(&err);
            return Err(err);
        }
        if durable {
            self.sync_file(&file, FileOp::Truncate, path)?;
        }
        Ok(())
    }

    /// A mapped segment (there is at most one: the newest this process
    /// created).
    fn mapped(&self) -> Option<SegmentId> {
        self.segments
            .iter()
            .find(|(_, seg)| seg.map.is_some())
            .map(|(&id, _)| id)
    }

    /// Syncs the directory; an unsupported directory sync becomes a note.
    fn sync_dir_at(&mut self, dir: &Path) -> Result<(), FileError> {
        match self.fs.sync_dir(dir) {
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
    fn sync_file(&mut self, file: &FsFile, op: FileOp, path: PathBuf) -> Result<(), FileError> {
        file.sync_data().map_err(|e| {
            // A failed fsync may have dropped dirty pages: fail closed.
            let err = FileError::io(op, path, e).with_kind(StorageErrorKind::Io);
            self.fail_closed(&err);
            err
        })
    }

    fn meta_file(&mut self, slot: usize) -> Result<&FsFile, FileError> {
        let name = META_FILES
            .get(slot)
            .ok_or_else(|| FileError::new(StorageErrorKind::NotFound, FileOp::WriteMeta, self.dir.clone()))?;
        let path = self.dir.join(name);
        if self.meta[slot].is_none() {
            let existed = path.exists();
            let file = self
                .fs
                .create(&path, false)
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
    /// Writes out buffered appends (the core counted them as appended) and
    /// cuts a mapped segment's zeros, so a closed journal has exact files.
    /// (Not synced: if power loss brings the zeros back, they are at the end
    /// of the newest segment, which recovery cuts.)
    fn drop(&mut self) {
        let _ = self.flush();
        // `unmap` takes the mapping even when the cut fails: this ends.
        while let Some(id) = self.mapped() {
            let _ = self.unmap(id, false);
        }
        // Removed segments' space is given back before the journal counts
        // as closed.
        reaper::wait_idle();
    }
}

#[cfg(test)]
mod tests;
