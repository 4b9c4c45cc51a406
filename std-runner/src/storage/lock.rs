//! The journal's exclusive lock: a `LOCK` file held with an OS file lock
//! for as long as the storage is open, holding the owner's pid.
//!
//! Two writers on one journal would interleave entries and break the chain,
//! so a second opener gets a clear "journal in use by pid N" instead. The
//! lock is released by the OS when the process dies, so a crash never leaves
//! a stale lock behind.

use std::fs::{File, OpenOptions, TryLockError};
use std::io::{Read, Seek, SeekFrom, Write};
use std::path::Path;

use super::error::OpenStorageError;
use super::fs::private_options;

/// Name of the lock file inside the journal directory.
pub const LOCK_FILE: &str = "LOCK";

/// A held lock; dropping it (or the process dying) releases it.
#[derive(Debug)]
pub(crate) struct DirLock {
    _file: File,
}

/// What taking the lock found out about the platform.
pub(crate) enum LockNote {
    /// Locked.
    Held,
    /// The platform has no file locks (WASI preview 1): not locked.
    Unsupported(std::io::Error),
}

/// Takes the lock on `dir`, writing this process's id into the lock file.
pub(crate) fn lock(dir: &Path) -> Result<(DirLock, LockNote), OpenStorageError> {
    let path = dir.join(LOCK_FILE);
    let io = |what: &'static str| {
        let path = path.clone();
        move |source| OpenStorageError::Io { what, path, source }
    };
    let mut options = private_options();
    let mut file = options
        .read(true)
        .write(true)
        .create(true)
        .truncate(false)
        .open(&path)
        .map_err(io("opening lock file"))?;
    let note = match file.try_lock() {
        Ok(()) => LockNote::Held,
        Err(TryLockError::WouldBlock) => {
            return Err(OpenStorageError::Locked {
                pid: holder(&path),
                path,
            });
        }
        Err(TryLockError::Error(e)) if e.kind() == std::io::ErrorKind::Unsupported => {
            LockNote::Unsupported(e)
        }
        Err(TryLockError::Error(e)) => return Err(io("locking")(e)),
    };
    file.set_len(0).map_err(io("writing lock file"))?;
    file.seek(SeekFrom::Start(0)).map_err(io("writing lock file"))?;
    if let Some(pid) = process_id() {
        writeln!(file, "{pid}").map_err(io("writing lock file"))?;
    }
    Ok((DirLock { _file: file }, note))
}

/// This process's id; `None` under WASI, which has no process ids
/// (`std::process::id` panics there). The lock file then stays empty.
fn process_id() -> Option<u32> {
    if cfg!(target_os = "wasi") {
        None
    } else {
        Some(std::process::id())
    }
}

/// The pid the current holder wrote, if it can be read.
fn holder(path: &Path) -> Option<u32> {
    let mut text = String::new();
    OpenOptions::new()
        .read(true)
        .open(path)
        .ok()?
        .take(32)
        .read_to_string(&mut text)
        .ok()?;
    text.trim().parse().ok()
}
