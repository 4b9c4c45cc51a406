//! Errors of the file storage: one for the storage calls the core makes
//! ([`FileError`]), one for opening a journal directory ([`OpenStorageError`]).
//!
//! Both say which file and which operation failed and what to do about it,
//! because the person reading them is usually looking at a device in the
//! field with nothing else to go on.

use std::fmt;
use std::io;
use std::path::PathBuf;

use steadfast_core::{StorageError, StorageErrorKind};

/// The storage operation that failed.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
#[non_exhaustive]
pub enum FileOp {
    /// Listing the journal directory.
    List,
    /// Creating a segment file.
    Create,
    /// Opening an existing segment file.
    Open,
    /// Reading a segment.
    Read,
    /// Appending to a segment.
    Append,
    /// Syncing (fsync) a segment.
    Sync,
    /// Cutting a segment's torn tail.
    Truncate,
    /// Deleting a segment.
    Remove,
    /// Moving a segment to `quarantine/`.
    Quarantine,
    /// Reading a meta slot.
    ReadMeta,
    /// Writing (and syncing) a meta slot.
    WriteMeta,
    /// Syncing the journal directory.
    SyncDir,
}

impl fmt::Display for FileOp {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(match self {
            FileOp::List => "listing",
            FileOp::Create => "creating",
            FileOp::Open => "opening",
            FileOp::Read => "reading",
            FileOp::Append => "appending to",
            FileOp::Sync => "syncing (fsync)",
            FileOp::Truncate => "truncating",
            FileOp::Remove => "removing",
            FileOp::Quarantine => "quarantining",
            FileOp::ReadMeta => "reading meta slot",
            FileOp::WriteMeta => "writing meta slot",
            FileOp::SyncDir => "syncing directory",
        })
    }
}

/// A failed storage call: what, on which file, and the OS error.
#[derive(Debug)]
pub struct FileError {
    kind: StorageErrorKind,
    op: FileOp,
    path: PathBuf,
    source: Option<io::Error>,
}

impl FileError {
    /// `op` on `path` failed with `source` (its kind follows the OS error:
    /// `EIO` is [`StorageErrorKind::Io`], `ENOSPC` is `NoSpace`, ...). For
    /// storages that wrap a [`FileStorage`](super::FileStorage) (see
    /// [`RunnerStorage`](super::RunnerStorage)) and fail calls of their own.
    pub fn io(op: FileOp, path: PathBuf, source: io::Error) -> Self {
        FileError {
            kind: kind_of(&source),
            op,
            path,
            source: Some(source),
        }
    }

    pub(crate) fn new(kind: StorageErrorKind, op: FileOp, path: PathBuf) -> Self {
        FileError {
            kind,
            op,
            path,
            source: None,
        }
    }

    /// The same error reported as `kind`.
    pub(crate) fn with_kind(mut self, kind: StorageErrorKind) -> Self {
        self.kind = kind;
        self
    }

    /// The operation that failed.
    pub fn op(&self) -> FileOp {
        self.op
    }

    /// The file (or directory) it failed on.
    pub fn path(&self) -> &std::path::Path {
        &self.path
    }

    /// The operating system's error, if there was one.
    pub fn io_error(&self) -> Option<&io::Error> {
        self.source.as_ref()
    }
}

impl fmt::Display for FileError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{} {}", self.op, self.path.display())?;
        if let Some(e) = &self.source {
            write!(f, ": {e}")?;
        }
        match self.kind {
            StorageErrorKind::NoSpace => f.write_str(
                " (disk full: free space or raise the quota; nothing journaled was lost)",
            ),
            StorageErrorKind::FailedClosed => f.write_str(
                " (the journal failed closed after an earlier I/O error; restart the producer to recover from disk)",
            ),
            StorageErrorKind::Io if self.op == FileOp::Sync => f.write_str(
                " (fsync failed: the journal is now failed closed; restart the producer to recover from disk)",
            ),
            _ => Ok(()),
        }
    }
}

impl std::error::Error for FileError {
    fn source(&self) -> Option<&(dyn std::error::Error + 'static)> {
        self.source
            .as_ref()
            .map(|e| e as &(dyn std::error::Error + 'static))
    }
}

impl StorageError for FileError {
    fn kind(&self) -> StorageErrorKind {
        self.kind
    }
}

/// How an OS error maps onto the core's kinds.
pub(crate) fn kind_of(e: &io::Error) -> StorageErrorKind {
    if let Some(code) = e.raw_os_error() {
        if code == libc::ENOSPC || code == libc::EDQUOT {
            return StorageErrorKind::NoSpace;
        }
        if code == libc::EIO {
            return StorageErrorKind::Io;
        }
    }
    match e.kind() {
        io::ErrorKind::StorageFull | io::ErrorKind::QuotaExceeded => StorageErrorKind::NoSpace,
        io::ErrorKind::NotFound => StorageErrorKind::NotFound,
        io::ErrorKind::Unsupported => StorageErrorKind::Unsupported,
        _ => StorageErrorKind::Other,
    }
}

/// True for the errors a directory fsync gives where directories cannot be
/// synced (WASI preview 1, some network file systems): a durability note,
/// not a failure.
pub(crate) fn is_unsupported_dir_sync(e: &io::Error) -> bool {
    matches!(
        e.raw_os_error(),
        Some(c) if c == libc::EBADF || c == libc::EINVAL || c == libc::ENOTSUP || c == libc::EOPNOTSUPP
    ) || e.kind() == io::ErrorKind::Unsupported
}

/// Why a journal directory could not be opened.
#[derive(Debug)]
#[non_exhaustive]
pub enum OpenStorageError {
    /// The path exists but is not a directory.
    NotADirectory {
        /// The path given.
        path: PathBuf,
    },
    /// Another process (or another producer in this one) holds the journal.
    Locked {
        /// The lock file.
        path: PathBuf,
        /// The holder's process id, as it wrote it into the lock file.
        pid: Option<u32>,
    },
    /// The directory or a file in it could not be created, read or locked.
    Io {
        /// What was being done.
        what: &'static str,
        /// On which path.
        path: PathBuf,
        /// The OS error.
        source: io::Error,
    },
}

impl fmt::Display for OpenStorageError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            OpenStorageError::NotADirectory { path } => write!(
                f,
                "journal path {} exists but is not a directory; give a directory (it is created if missing)",
                path.display()
            ),
            OpenStorageError::Locked { path, pid: Some(pid) } => write!(
                f,
                "journal in use by pid {pid} (lock {}); stop that process or use another journal directory",
                path.display()
            ),
            OpenStorageError::Locked { path, pid: None } => write!(
                f,
                "journal in use by another process (lock {}); stop it or use another journal directory",
                path.display()
            ),
            OpenStorageError::Io { what, path, source } => {
                write!(f, "{what} {}: {source}", path.display())?;
                if source.kind() == io::ErrorKind::PermissionDenied {
                    f.write_str(" (check the directory's owner and permissions)")?;
                }
                Ok(())
            }
        }
    }
}

impl std::error::Error for OpenStorageError {
    fn source(&self) -> Option<&(dyn std::error::Error + 'static)> {
        match self {
            OpenStorageError::Io { source, .. } => Some(source),
            _ => None,
        }
    }
}
