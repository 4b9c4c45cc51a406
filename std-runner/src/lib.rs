//! steadfast: a Kafka producer that does not lose messages — the std runner.
//!
//! This crate puts the sans-IO core (`steadfast-core`) on a real machine:
//!
//! - [`FileStorage`]: the journal as segment files in a directory, with
//!   fsync of data and directory, an exclusive lock, 0600 files, and
//!   fail-closed behaviour after a failed fsync.
//! - [`Producer`]: a blocking, thread-safe API — `send` / `try_send` /
//!   `send_timeout` / `send_deadline`, batch sends, `flush`, `close`,
//!   `stats`, a delivery callback, dead-letter handling — over a driver that
//!   runs either on a background thread ([`Builder::spawn`]) or from the
//!   caller's own loop ([`Builder::open`] + [`Producer::poll`]) on platforms
//!   without threads (WASI preview 1). Its journal is a `FileStorage`
//!   unless it is opened over another [`RunnerStorage`] (a wrapper around
//!   one, say) with [`Producer::with_storage`]; the fsyncs the core asks
//!   for run outside the producer's lock as a storage's [`SyncJob`]s.
//! - [`transport`]: a file "broker" ([`FileTransport`]) for tests, demos and
//!   journal-only benchmarks. The network transports are in
//!   `steadfast-transports`, re-exported as `steadfast::transports` with
//!   feature `rest` (Kafka REST proxy) or `kafka` (librdkafka); any
//!   `Transport + Send` can be injected.
//! - [`clock`]: the only place that reads time.
//!
//! # Features
//!
//! None by default: the library alone builds no HTTP client, no librdkafka
//! and no command-line parser. `rest` adds the REST proxy transport, `tls`
//! its HTTPS, `kafka` the librdkafka transport (built from source with its
//! own configure script). The `steadfast` command-line tool is the
//! `steadfast-cli` crate.
//!
//! Out of scope here: the wire protocols (see `steadfast-transports`) and the
//! `steadfast` command-line tool (`steadfast-cli`, built on this API).
//!
//! # Durability levels
//!
//! `send` returns only when the message is durable at the configured
//! [`SyncPolicy`], set with [`Builder::sync`]: `SyncPolicy::Always` (the
//! default), `SyncPolicy::Interval(ms)` (`ms` is a number of milliseconds,
//! a `u64`: `.sync(SyncPolicy::Interval(100))`) or `SyncPolicy::Never`.
//!
//! | level | process killed (SIGKILL, panic, OOM) | power loss / kernel crash |
//! |---|---|---|
//! | `SyncPolicy::Always` | nothing acknowledged is lost | nothing acknowledged is lost: `send` returns after the fsync that covers it (shared by every sender waiting at the time: group commit) |
//! | `SyncPolicy::Interval(ms)` | nothing acknowledged is lost | messages acknowledged in about the last `ms` milliseconds may be lost: the fsync runs once `ms` have passed since the last one: with a background thread, on its own syncer thread (up to 20 ms early; no `send` ever waits for it, and a driver stalled in a slow transport call does not delay it); in caller-driven mode, in `poll` or in the next `send` that finds it due |
//! | `SyncPolicy::Never` | nothing acknowledged is lost | messages acknowledged since the current segment was started may be lost (a segment is fsynced when it is sealed, and before another is deleted) |
//!
//! A killed process never loses an acknowledged message at any level,
//! because every append reaches the operating system's page cache before
//! `send` returns (a copy into a shared mapping of the segment on Linux, a
//! `pwrite` elsewhere), and the OS keeps it after the process is gone. Only power
//! loss, a kernel crash or a failing disk needs the fsync. What the journal
//! does when the fsync itself fails: the storage *fails closed*, every later
//! send is refused with [`Refusal::FailedClosed`], and a restart recovers
//! from what is really on disk. Directory fsync that the platform does not
//! support is reported once as a [`DurabilityNote`].
//!
//! Delivery is at-least-once: after a crash, messages not yet confirmed are
//! sent again, with the same [`MessageId`] in the
//! `steadfast-id` header so consumers can drop duplicates.
//!
//! # Example: a background producer
//!
//! ```
//! use std::time::Duration;
//! use steadfast::{FileTransport, OwnedMessage, Producer, SyncPolicy};
//!
//! # fn main() -> Result<(), Box<dyn std::error::Error + Send + Sync>> {
//! let dir = tempfile::tempdir()?; // your journal's directory, e.g. /var/lib/myapp/journal
//! let producer = Producer::builder(dir.path().join("journal"))
//!     .sync(SyncPolicy::Always) // the default: `send` returns after fsync
//!     .on_delivery(|d| println!("{d:?}"))
//!     // A file stands in for the broker here; see `steadfast::transports`.
//!     .spawn(FileTransport::open(dir.path().join("delivered.jsonl"))?)?;
//! let id = producer.send(OwnedMessage::new("events", b"hello".to_vec()).with_key("k"))?;
//! println!("durable as {id}");
//! let report = producer.close(Duration::from_secs(5))?;
//! assert!(report.flushed, "{report:?}"); // delivered, and the callback saw it
//! assert_eq!(report.pending, 0);
//! # Ok(()) }
//! ```
//!
//! # Two driver modes: `spawn` or `open` + `poll`
//!
//! [`Builder::spawn`] starts a background thread that delivers: what every
//! program with threads wants. [`Builder::open`] starts none, for
//! platforms without threads (WASI preview 1): **with `open`, nothing is
//! delivered unless the program calls [`Producer::poll`]** in its own loop
//! (blocking calls, `flush` and a `send` waiting for room, also drive it).
//! Unpolled messages are not lost — they wait in the journal — but they do
//! not reach the broker.
//!
//! ```
//! use std::time::Duration;
//! use steadfast::{FileTransport, OwnedMessage, Producer};
//!
//! # fn main() -> Result<(), Box<dyn std::error::Error + Send + Sync>> {
//! # let dir = tempfile::tempdir()?;
//! # let (journal, out) = (dir.path().join("journal"), dir.path().join("out.jsonl"));
//! let producer = Producer::builder(journal).open(FileTransport::open(out)?)?;
//! for i in 0..100u32 {
//!     producer.send(OwnedMessage::new("events", i.to_string()))?;
//!     // Deliver whatever is ready; never blocks longer than the timeout.
//!     producer.poll(Duration::ZERO);
//! }
//! while !producer.poll(Duration::from_millis(100)).idle {}
//! assert!(producer.close(Duration::from_secs(1))?.flushed);
//! # Ok(()) }
//! ```
//!
//! A WASI preview 1 program needs a main stack of a few MiB (for example
//! `-C link-arg=-zstack-size=8388608`): the core keeps its indexes inline
//! and opening a journal moves a few hundred kilobytes on the stack (native
//! targets open it on a helper thread with a large stack). See
//! `examples/wasi_poll.rs`.
//!
//! Each `poll` runs one round of the driver: hand ready batches to the
//! transport, wait for outcomes no longer than the core's next deadline (or
//! the timeout), feed them back, run the core's timers and call the delivery
//! callback. Blocking calls (`send` on a full journal, `flush`, `close`) run
//! rounds themselves in this mode.
//!
//! # Messages
//!
//! An [`OwnedMessage`] has a topic, an optional partition, key, value
//! (`None`: a tombstone), headers and timestamp. `send` refuses at once,
//! handing the message back with the rule it broke, what a broker would
//! otherwise refuse hours later as a dead letter ([`Refusal::Invalid`],
//! [`InvalidMessage`]):
//!
//! - a topic name must be 1 to 249 ([`MAX_TOPIC_LEN`]) ASCII letters,
//!   digits, `.`, `_` or `-`, and not `.` or `..`;
//! - a partition, if given, is 0 or more (`None` lets the partitioner
//!   choose);
//! - at most 16 headers ([`MAX_MESSAGE_HEADERS`], [`Refusal::TooManyHeaders`]);
//!   a header name is 1 to 256 ([`MAX_HEADER_NAME_LEN`]) bytes and not
//!   `steadfast-id` (in any case), the header steadfast adds to every record;
//! - the encoded entry fits `Config::max_entry` (1 MiB by default;
//!   [`Refusal::TooLarge`] says the entry's real size).
//!
//! A message without a timestamp is stamped with the time `send` was called
//! (wall clock, Unix milliseconds), so one sent during an outage keeps the
//! time it happened; one with its own timestamp keeps it;
//! [`Builder::stamp_timestamps`]`(false)` turns stamping off.
//!
//! # Sends: `try_`, plain, `_timeout`, `_deadline`
//!
//! The forms differ in how long they wait for *room* in the journal (its
//! byte budget, or the disk): `try_send` not at all, `send` as long as it
//! takes, `send_timeout` / `send_deadline` until then. Every form returns
//! only once the message is durable at the configured [`SyncPolicy`]: under
//! `Always` (the default) even `try_send` waits for the fsync that covers
//! it, shared with the other senders of the moment. Batches
//! (`send_batch`...) journal many messages under one fsync.
//!
//! # The delivery callback
//!
//! [`Builder::on_delivery`] is called with every confirmation and dead
//! letter, on the driver (the background thread, or inside `poll`), and
//! delivery waits while it runs: keep it short. From the callback a
//! program may call `try_send`, `send` while there is room, `stats` and the
//! dead-letter methods. What would wait for deliveries cannot end inside
//! the callback, so it returns an error at once instead of hanging:
//! `send` / `send_timeout` / `send_batch` on a full journal
//! ([`Refusal::InDeliveryCallback`]), `flush`
//! ([`FlushError::InDeliveryCallback`]), and `close`, which closes without
//! waiting ([`CloseError::InDeliveryCallback`]). Dropping the producer in
//! the callback closes it without waiting; `poll` there runs nothing. A
//! panic in the callback is caught and shown in [`Stats::last_error`].
//!
//! # Watching it
//!
//! [`Producer::stats`] has the counters (sent, confirmed, retried,
//! dead-lettered, pending and its age, fsync latency) and the last errors:
//! [`Stats::last_transport_error`] shows a transport that keeps failing
//! (an unreachable broker) while the messages wait in the journal.
//! [`Producer::close`] returns by its deadline and reports what it left:
//! [`CloseReport::flushed`] is true only if everything was delivered and
//! seen by the callback.

// Errors hand back what the failed call took (the message, the rest of a
// batch): large `Err` variants are the design, as in the core.
#![allow(clippy::result_large_err)]

pub mod clock;
mod producer;
pub mod storage;
pub mod transport;

pub use producer::{
    BatchError, BatchStop, Builder, CloseError, CloseReport, DeadLetter, DeadLetterError, DeliveryFn,
    FlushError, FsyncStats, FullCause, InspectError, MAX_MESSAGE_HEADERS, OpenError, OpenFailed,
    OwnedMessage, PollStatus, Producer, Refusal, SendError, SendTimeoutError, Stats, TrySendError,
};
pub use steadfast_core::{
    self as core, Config, Delivery, Failure, FailureClass, InvalidMessage, MAX_HEADER_NAME_LEN,
    MAX_TOPIC_LEN, MessageId, RecoveryMode, RecoveryReport, RetryPolicy, SyncPolicy,
};
/// The network transports (`steadfast-transports`): `transports::rest`
/// with feature `rest`, `transports::kafka` with feature `kafka`.
#[cfg(any(feature = "rest", feature = "kafka"))]
pub use steadfast_transports as transports;
pub use storage::{DurabilityNote, FileError, FileStorage, OpenStorageError, RunnerStorage, SyncJob};
pub use transport::FileTransport;
