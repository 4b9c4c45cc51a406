//! What [`Producer::stats`](crate::Producer::stats) reports: the core's
//! counters plus what only the runner can measure (fsync latency, age of
//! the oldest unconfirmed message, the transport's failures).

use std::time::Duration;

use steadfast_core::{Failure, Outcome, Seq};

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

/// The transport's failed attempts, as the driver saw them.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub(crate) struct TransportStats {
    /// Failed outcomes reported, of any class.
    pub failures: u64,
    /// The most recent one.
    pub last: Option<Failure>,
}

/// Counts the failures among one round's `outcomes`; if there were any,
/// `last_error` becomes the latest, so that a transport failing for good
/// (an unreachable broker, a full disk under a file transport) is visible
/// in [`Stats::last_error`] and not only as a growing retry count.
pub(crate) fn note_outcomes(
    stats: &mut TransportStats,
    last_error: &mut Option<String>,
    outcomes: &[(Seq, Outcome)],
) {
    let before = stats.failures;
    for (_, outcome) in outcomes {
        if let Outcome::Failed(failure) = outcome {
            stats.failures += 1;
            if stats.last.as_ref() != Some(failure) {
                stats.last = Some(failure.clone());
            }
        }
    }
    if stats.failures != before
        && let Some(failure) = &stats.last
    {
        *last_error = Some(format!("transport: {failure}"));
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
    /// Failed attempts that will be retried, since start (one per record
    /// and attempt).
    pub retried: u64,
    /// Failed outcomes the transport reported since start, of any class
    /// (retriable, outcome unknown, unknown topic, terminal), one per record
    /// and attempt.
    pub transport_failures: u64,
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
    /// The last error the driver met that did not close the journal: a
    /// journal error, a failed delivery (`"transport: ..."`, see
    /// [`last_transport_error`](Self::last_transport_error)) or a panic of
    /// the delivery callback. It stays set after the cause went away; watch
    /// the counters to see whether it recurs.
    pub last_error: Option<String>,
    /// The most recent failure the transport reported (its class, code and
    /// reason), and with it [`transport_failures`](Self::transport_failures)
    /// and [`retried`](Self::retried): a transport failing for good shows
    /// here while the messages wait, safe, in the journal.
    pub last_transport_error: Option<Failure>,
}
