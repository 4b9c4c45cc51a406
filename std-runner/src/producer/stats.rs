//! What [`Producer::stats`](crate::Producer::stats) reports: the core's
//! counters plus what only the runner can measure (fsync latency, age of
//! the oldest unconfirmed message).

use std::time::Duration;

/// Fsync latency, measured around every group-commit fsync.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct FsyncStats {
    /// Fsyncs run by group commit or the interval timer.
    pub count: u64,
    /// Their total duration.
    pub total: Duration,
    /// The slowest one.
    pub max: Duration,
    /// The most recent one.
    pub last: Duration,
}

impl FsyncStats {
    pub(crate) fn record(&mut self, took: Duration) {
        self.count += 1;
        self.total += took;
        self.max = self.max.max(took);
        self.last = took;
    }

    /// Mean latency (zero before the first fsync).
    pub fn mean(&self) -> Duration {
        match u32::try_from(self.count) {
            Ok(0) => Duration::ZERO,
            Ok(n) => self.total / n,
            Err(_) => Duration::from_secs_f64(self.total.as_secs_f64() / self.count as f64),
        }
    }
}

/// A snapshot of the producer's counters and gauges.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
#[non_exhaustive]
pub struct Stats {
    /// Messages not yet confirmed or dead-lettered (including those
    /// recovered from a previous run).
    pub pending: u64,
    /// Bytes the journal occupies on disk: the unconfirmed messages plus
    /// the not-yet-deleted rest of their segments (an upper bound).
    pub pending_bytes: u64,
    /// How long the oldest message the producer is working on has waited
    /// (since it was sent, or since start-up for recovered ones).
    pub oldest_pending: Option<Duration>,
    /// Messages accepted since start.
    pub sent: u64,
    /// Messages confirmed by the broker since start.
    pub confirmed: u64,
    /// Failed attempts that will be retried, since start.
    pub retried: u64,
    /// Messages moved to the dead-letter area since start.
    pub dead_lettered: u64,
    /// Dead letters waiting for a decision (discard or redrive).
    pub dead_letters: u64,
    /// Records handed to the transport and not yet answered.
    pub in_flight: u64,
    /// Segment files in the journal.
    pub segments: u64,
    /// Every message seq up to this one is on disk (fsynced): what a power
    /// loss now would keep.
    pub durable_seq: u64,

    /// Fsync latency.
    pub fsync: FsyncStats,
    /// Why the journal failed closed, if it did.
    pub failed: Option<String>,
    /// The last error the driver met that did not close the journal.
    pub last_error: Option<String>,
}
