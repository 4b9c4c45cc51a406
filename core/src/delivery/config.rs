//! Producer configuration and durability levels.

use crate::journal::recovery::RecoveryMode;
use crate::retry::RetryPolicy;
use crate::transport::Millis;

/// When appended entries are made durable (fsync).
///
/// What each level survives (the std runner's docs repeat this):
///
/// | level | process crash (SIGKILL, panic) | power loss / kernel crash |
/// |---|---|---|
/// | `Always` | nothing lost | nothing lost: `send` returns after fsync |
/// | `Interval(d)` | nothing lost | up to `d` of sends may be lost |
/// | `Never` | nothing lost | everything since the last segment roll may be lost |
///
/// A process crash never loses an appended entry because appends reach the
/// operating system before `send` returns; only power loss needs fsync.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum SyncPolicy {
    /// `send` completes only after its entry is synced; concurrent senders
    /// share one sync (group commit).
    Always,
    /// Synced at most this many milliseconds after `send` returns.
    Interval(Millis),
    /// Synced only when a segment is sealed or a segment is deleted.
    Never,
}

/// How a [`Producer`](crate::Producer) behaves. `Config::default()` is safe:
/// `SyncPolicy::Always`, unlimited retries.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Config {
    /// Id for a new journal (draw it from a random source; the core has none).
    pub journal_id: u64,
    /// Bytes per segment before a new one is started; capped at a quarter
    /// of the budget after its reserve ([`Producer::segment_size`] gives
    /// the size used), so that a full journal can free space.
    ///
    /// [`Producer::segment_size`]: crate::Producer::segment_size
    pub segment_size: u64,
    /// Most bytes the journal may occupy; `send` fails with `Full` beyond
    /// it. At least [`Producer::min_budget`]`(max_entry)`: `open` refuses
    /// less (see [`budget`](crate::delivery::budget)).
    ///
    /// [`Producer::min_budget`]: crate::Producer::min_budget
    pub budget: u64,
    /// Durability level.
    pub sync: SyncPolicy,
    /// Backoff and delivery timeout.
    pub retry: RetryPolicy,
    /// Most records per batch handed to the transport (at most [`MAX_BATCH`]).
    pub max_batch_records: usize,
    /// Most payload bytes per batch.
    pub max_batch_bytes: usize,
    /// Largest entry frame (a message, encoded, plus 24 bytes of framing).
    pub max_entry: usize,
    /// How often the high-water mark is written while entries are synced.
    pub meta_interval: Millis,
    /// How soon confirmations are journaled after they arrive.
    pub confirm_interval: Millis,
    /// How long a message may fail with [`FailureClass::UnknownTopic`]
    /// before it is dead-lettered.
    ///
    /// [`FailureClass::UnknownTopic`]: crate::FailureClass::UnknownTopic
    pub unknown_topic_wait: Millis,
    /// Seed of the retry jitter.
    pub jitter_seed: u64,
    /// What recovery does about damage: salvage what is intact and report
    /// the rest (the default), or refuse to start.
    pub recovery: RecoveryMode,
}

/// Most records one batch can hold.
pub const MAX_BATCH: usize = 1024;

impl Default for Config {
    fn default() -> Self {
        Config {
            journal_id: 0,
            segment_size: 64 << 20,
            budget: 1 << 30,
            sync: SyncPolicy::Always,
            retry: RetryPolicy::default(),
            max_batch_records: 512,
            max_batch_bytes: 1 << 20,
            max_entry: 1 << 20,
            meta_interval: 1_000,
            confirm_interval: 50,
            unknown_topic_wait: 60_000,

            jitter_seed: 0,
            recovery: RecoveryMode::Salvage,
        }
    }
}
