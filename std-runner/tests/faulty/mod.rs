//! [`FaultyStorage`]: a [`FileStorage`] whose fsyncs fail on demand, as a
//! disk's do when `fdatasync` returns `EIO` (after redb's `CrashBackend`).
//!
//! Every call is passed on to the wrapped storage until a fault is armed
//! ([`Faults::fail_syncs`]); from then on every sync, in place
//! (`Storage::sync`) or detached (a group-commit job run outside the
//! producer's lock), fails with `EIO`, and the wrapper fails closed as the
//! storage contract asks: every later call is refused.
#![allow(dead_code, clippy::unwrap_used)]

use std::path::PathBuf;
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};

use steadfast::core::{ErrorType, META_SLOT_LEN, SegmentId, Storage, SyncRequest};
use steadfast::storage::{DurabilityNote, FileOp};
use steadfast::{Config, FileError, FileStorage, RunnerStorage, SyncJob};

/// The switches of a [`FaultyStorage`], shared with the test.
#[derive(Clone, Debug, Default)]
pub struct Faults {
    fail_syncs: Arc<AtomicBool>,
    /// Syncs that reached the disk (in place or detached).
    syncs: Arc<AtomicU64>,
}

impl Faults {
    /// Makes every later sync fail with `EIO`.
    pub fn fail_syncs(&self) {
        self.fail_syncs.store(true, Ordering::SeqCst);
    }

    /// Syncs run so far (successful ones).
    pub fn syncs(&self) -> u64 {
        self.syncs.load(Ordering::SeqCst)
    }

    fn injected(&self, path: PathBuf) -> Result<(), FileError> {
        if self.fail_syncs.load(Ordering::SeqCst) {
            let eio = std::io::Error::from_raw_os_error(EIO);
            return Err(FileError::io(FileOp::Sync, path, eio));
        }
        Ok(())
    }
}

/// `EIO` (5 on Linux and the BSDs).
const EIO: i32 = 5;

/// A [`FileStorage`] with [`Faults`]. See the module documentation.
#[derive(Debug)]
pub struct FaultyStorage {
    inner: FileStorage,
    faults: Faults,
    /// Why it failed closed (an injected fault).
    failed: Option<String>,
}

impl FaultyStorage {
    /// Wraps `inner`; arm faults through the returned [`Faults`].
    pub fn new(inner: FileStorage) -> (FaultyStorage, Faults) {
        let faults = Faults::default();
        let storage = FaultyStorage {
            inner,
            faults: faults.clone(),
            failed: None,
        };
        (storage, faults)
    }

    fn check(&self) -> Result<(), FileError> {
        match &self.failed {
            Some(_) => {
                let e = std::io::Error::other("failed closed after an injected fsync failure");
                Err(FileError::io(FileOp::Sync, self.inner.dir().to_path_buf(), e))
            }
            None => Ok(()),
        }
    }

    fn fail(&mut self, e: &FileError) {
        self.failed.get_or_insert_with(|| e.to_string());
    }
}

impl ErrorType for FaultyStorage {
    type Error = FileError;
}

impl Storage for FaultyStorage {
    fn list(&mut self, visit: &mut dyn FnMut(SegmentId)) -> Result<(), FileError> {
        self.check()?;
        self.inner.list(visit)
    }
    fn create(&mut self, id: SegmentId) -> Result<(), FileError> {
        self.check()?;
        self.inner.create(id)
    }
    fn len(&mut self, id: SegmentId) -> Result<u64, FileError> {
        self.check()?;
        self.inner.len(id)
    }
    fn read(&mut self, id: SegmentId, offset: u64, buf: &mut [u8]) -> Result<usize, FileError> {
        self.check()?;
        self.inner.read(id, offset, buf)
    }
    fn append(&mut self, id: SegmentId, data: &[u8]) -> Result<(), FileError> {
        self.check()?;
        self.inner.append(id, data)
    }
    fn sync(&mut self, id: SegmentId) -> Result<(), FileError> {
        self.check()?;
        let path = self.inner.dir().to_path_buf();
        if let Err(e) = self.faults.injected(path) {
            self.fail(&e);
            return Err(e);
        }
        self.inner.sync(id)?;
        self.faults.syncs.fetch_add(1, Ordering::SeqCst);
        Ok(())
    }
    fn truncate(&mut self, id: SegmentId, len: u64) -> Result<(), FileError> {
        self.check()?;
        self.inner.truncate(id, len)
    }
    fn remove(&mut self, id: SegmentId) -> Result<(), FileError> {
        self.check()?;
        self.inner.remove(id)
    }
    fn quarantine(&mut self, id: SegmentId) -> Result<(), FileError> {
        self.check()?;
        self.inner.quarantine(id)
    }
    fn read_meta(&mut self, slot: usize, buf: &mut [u8; META_SLOT_LEN]) -> Result<bool, FileError> {
        self.check()?;
        self.inner.read_meta(slot, buf)
    }
    fn write_meta(&mut self, slot: usize, data: &[u8; META_SLOT_LEN]) -> Result<(), FileError> {
        self.check()?;
        self.inner.write_meta(slot, data)
    }
}

/// A detached sync of the wrapped storage, failing when a fault is armed.
pub struct FaultyJob {
    inner: <FileStorage as RunnerStorage>::SyncJob,
    faults: Faults,
    path: PathBuf,
    /// The failure was injected (the wrapped storage's fsync did not run).
    injected: AtomicBool,
}

impl SyncJob for FaultyJob {
    fn run(&self) -> Result<(), FileError> {
        if let Err(e) = self.faults.injected(self.path.clone()) {
            self.injected.store(true, Ordering::SeqCst);
            return Err(e);
        }
        self.inner.run()?;
        self.faults.syncs.fetch_add(1, Ordering::SeqCst);
        Ok(())
    }
}

impl RunnerStorage for FaultyStorage {
    type SyncJob = FaultyJob;

    fn detach_sync(&mut self, request: &SyncRequest) -> Result<FaultyJob, FileError> {
        self.check()?;
        Ok(FaultyJob {
            inner: self.inner.detach_sync(request)?,
            faults: self.faults.clone(),
            path: self.inner.dir().to_path_buf(),
            injected: AtomicBool::new(false),
        })
    }

    fn finish_sync(&mut self, job: FaultyJob, result: &Result<(), FileError>) {
        if let Err(e) = result {
            self.fail(e);
        }
        // The wrapped storage learns how its own fsync went (it did not
        // run if the failure was injected).
        if job.injected.load(Ordering::SeqCst) {
            self.inner.finish_sync(job.inner, &Ok(()));
        } else {
            self.inner.finish_sync(job.inner, result);
        }
    }

    fn prepare(&mut self, config: &Config) {
        self.inner.prepare(config);
    }

    fn flush(&mut self) -> Result<(), FileError> {
        self.check()?;
        RunnerStorage::flush(&mut self.inner)
    }

    fn failure(&self) -> Option<&str> {
        self.failed.as_deref().or(RunnerStorage::failure(&self.inner))
    }

    fn notes(&self) -> &[DurabilityNote] {
        RunnerStorage::notes(&self.inner)
    }

    fn keep_reserve(&mut self) {
        self.inner.keep_reserve();
    }

    fn release_reserve(&mut self) -> bool {
        self.inner.release_reserve()
    }
}
