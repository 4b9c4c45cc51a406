//! Watching the file-system calls of a [`FileStorage`](super::FileStorage):
//! a [`FileObserver`] given to
//! [`FileStorage::open_observed`](super::FileStorage::open_observed) hears of
//! every change the storage makes to the journal's files and directories,
//! in the order it makes them, including the stores into a mapped segment
//! (which are no system calls, so `strace` cannot see them).
//!
//! This is what a crash-consistency checker needs (the crash-state explorer
//! in `std-runner/tests/crash_states.rs` replays these events to build every
//! state a power cut may leave), and what a reader debugging the storage
//! wants to see. The storage is unchanged by it: the calls are made on the
//! real files as always, and an observer only hears about them.
//!
//! Every call is made in one place, `storage/fs.rs` (`FsFile` for calls on
//! an open file, `Fs` for calls on names), and each reports its event
//! there, after the call succeeded. A failed call
//! reports nothing. Reads, listings, `metadata` and the lock file are not
//! reported: they change nothing on disk.

use std::path::Path;

/// Hears the file-system changes a [`FileStorage`](super::FileStorage) makes.
///
/// Called on the thread that made the call (the producer's, or a
/// group-commit fsync's), right after it returned; keep it quick.
pub trait FileObserver: Send + Sync {
    /// `event` has just happened.
    fn on_event(&self, event: &FileEvent<'_>);
}

/// How bytes reached a file: the granularity at which power loss can tear
/// them.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
#[non_exhaustive]
pub enum WriteVia {
    /// A `pwrite` (the disk writes it in sectors, 512 bytes at least).
    Pwrite,
    /// A store into a shared mapping of the file (written back in pages).
    Mapping,
}

/// One change to the journal's files, as [`FileObserver::on_event`] hears it.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
#[non_exhaustive]
pub enum FileEvent<'a> {
    /// `path` was opened with `O_CREAT`: it is new (an entry in its
    /// directory, durable once the directory is synced), or, if `existed`,
    /// it was there already and `truncated` says whether the open cut it
    /// to 0 bytes (`O_TRUNC`).
    Open {
        /// The file.
        path: &'a Path,
        /// It was there before.
        existed: bool,
        /// The open cut it to 0 bytes.
        truncated: bool,
    },
    /// `data` was written at `offset`.
    Write {
        /// The file.
        path: &'a Path,
        /// Where.
        offset: u64,
        /// What.
        data: &'a [u8],
        /// How.
        via: WriteVia,
    },
    /// The file's length was set (`ftruncate`).
    SetLen {
        /// The file.
        path: &'a Path,
        /// The new length.
        len: u64,
    },
    /// `len` bytes from offset 0 were reserved without changing the file's
    /// length (`fallocate` with `FALLOC_FL_KEEP_SIZE`).
    Reserve {
        /// The file.
        path: &'a Path,
        /// Bytes reserved.
        len: u64,
    },
    /// The file's data and length are durable (`fdatasync` or `fsync`).
    /// Its directory entry is not: that takes a [`SyncDir`](Self::SyncDir).
    SyncData {
        /// The file.
        path: &'a Path,
    },
    /// The directory's entries (files created, renamed into or out of it,
    /// removed) are durable (`fsync` of the directory).
    SyncDir {
        /// The directory.
        path: &'a Path,
    },
    /// A directory was created.
    CreateDir {
        /// The new directory.
        path: &'a Path,
    },
    /// `from` was renamed to `to`.
    Rename {
        /// The old name.
        from: &'a Path,
        /// The new name.
        to: &'a Path,
    },
    /// `path` was unlinked.
    Remove {
        /// The file.
        path: &'a Path,
    },
}
