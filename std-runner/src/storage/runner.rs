//! [`RunnerStorage`]: what the runner's [`Producer`](crate::Producer) needs
//! of its storage beyond the core's [`Storage`] contract.
//!
//! The core decides when the journal must be synced and says so as a
//! [`SyncRequest`] (`poll_sync`); the runner runs that sync *outside* the
//! producer's lock, so that senders go on appending while the disk works
//! (group commit, see `producer/state.rs`). A storage call needs `&mut`
//! access, which only the lock gives, so a runner storage hands out the
//! sync as a [`SyncJob`]: a value that owns what the fsync needs (for
//! [`FileStorage`](super::FileStorage), the open file) and runs on any
//! thread.
//!
//! ```text
//!  lock:     request = core.poll_sync(now)
//!            job = storage.detach_sync(&request)     (buffered appends out)
//!  unlocked: result = job.run()                      (the fsync)
//!  lock:     storage.finish_sync(job, &result)       (fails closed on error)
//!            core.handle_synced(now, request, result)
//! ```
//!
//! The core's journal is the one record of what is durable; the storage
//! only learns a job's result to fail closed after an error, as the
//! storage contract asks of a failed `Storage::sync`.
//!
//! [`FileStorage`](super::FileStorage) implements the trait (in
//! `storage/imp.rs`); a wrapper around it (one that injects faults in
//! tests, one that counts calls) implements it by passing each call on. Its errors are [`FileError`]s, which the
//! producer's own errors carry.

use steadfast_core::{Config, Storage, SyncRequest};

use super::FileError;
use super::note::DurabilityNote;

/// An fsync detached from its storage (see [`RunnerStorage::detach_sync`]).
pub trait SyncJob {
    /// Runs the sync. Safe to run while the storage is in use elsewhere.
    fn run(&self) -> Result<(), FileError>;
}

/// A [`Storage`] the runner's [`Producer`](crate::Producer) can drive.
/// See the module documentation.
pub trait RunnerStorage: Storage<Error = FileError> + Send + 'static {
    /// A sync prepared under the producer's lock and run outside it.
    type SyncJob: SyncJob + Send + 'static;

    /// Prepares the sync `request` asks for without running it: writes out
    /// whatever the storage still buffers for the request's segment and
    /// returns a job that, once run, has the effect of
    /// `Storage::sync(request.segment())`. An error fails the journal
    /// closed.
    fn detach_sync(&mut self, request: &SyncRequest) -> Result<Self::SyncJob, FileError>;

    /// Learns how a job ended, before the core does. After an error the
    /// storage must fail closed, exactly as after a failed `Storage::sync`.
    fn finish_sync(&mut self, job: Self::SyncJob, result: &Result<(), FileError>);

    /// Called once before the journal is opened (for example to reserve
    /// disk for segments of `config.segment_size`). Default: nothing.
    fn prepare(&mut self, config: &Config) {
        let _ = config;
    }

    /// Writes appends the storage buffers to the operating system, so that
    /// they survive the process being killed; the producer calls it before
    /// a `send` returns. An error fails the journal closed. Default: the
    /// storage buffers nothing.
    fn flush(&mut self) -> Result<(), FileError> {
        Ok(())
    }

    /// Why the storage failed closed, if it did (the reason the producer
    /// reports). Default: it says nothing more than its errors did.
    fn failure(&self) -> Option<&str> {
        None
    }

    /// Durability notes about the platform, each once. Default: none.
    fn notes(&self) -> &[DurabilityNote] {
        &[]
    }

    /// Space was freed, or the producer opens or closes: take back a
    /// reserve of disk given up when the disk was full. Default: nothing.
    fn keep_reserve(&mut self) {}

    /// The disk is too full to open the journal: give up the reserve;
    /// true if there was one (the producer then tries again). Default:
    /// there is none.
    fn release_reserve(&mut self) -> bool {
        false
    }
}
