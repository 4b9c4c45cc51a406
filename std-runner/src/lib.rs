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
//!   without threads (WASI preview 1).
//! - [`transport`]: a file "broker" ([`FileTransport`]) for tests, demos and
//!   journal-only benchmarks. The network transports are in
//!   `steadfast-transports`, re-exported as `steadfast::transports` with
//!   feature `rest` (Kafka REST proxy) or `kafka` (librdkafka); any
//!   `Transport + Send` can be injected.
//!
//! # Features
//!
//! None by default: the library alone builds no HTTP client, no librdkafka
//! and no command-line parser. `rest` adds the REST proxy transport, `tls`
//! its HTTPS, `kafka` the librdkafka transport (built from source with its
//! own configure script). The `steadfast` command-line tool is the
//! `steadfast-cli` crate.
//! - [`clock`]: the only place that reads time.
//!
//! Out of scope here: the wire protocols (see `steadfast-transports`) and the
//! `steadfast` command-line tool (`steadfast-cli`, built on this API).
//!
//! # Durability levels
//!
//! `send` returns only when the message is durable at the configured
//! [`SyncPolicy`]. The default is `Always`.
//!
//! | level | process killed (SIGKILL, panic, OOM) | power loss / kernel crash |
//! |---|---|---|
//! | `Always` | nothing acknowledged is lost | nothing acknowledged is lost: `send` returns after the fsync that covers it (shared by every sender waiting at the time: group commit) |
//! | `Interval(ms)` | nothing acknowledged is lost | messages acknowledged in about the last `ms` milliseconds may be lost: the fsync runs once `ms` have passed since the last one: with a background thread, on its own syncer thread (up to 20 ms early; no `send` ever waits for it, and a driver stalled in a slow transport call does not delay it); in caller-driven mode, in `poll` or in the next `send` that finds it due |
//! | `Never` | nothing acknowledged is lost | messages acknowledged since the current segment was started may be lost (a segment is fsynced when it is sealed, and before another is deleted) |
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
//! sent again, with the same [`MessageId`](steadfast_core::MessageId) in the
//! `steadfast-id` header so consumers can drop duplicates.
//!
//! # Example: a background producer
//!
//! ```no_run
//! use std::time::Duration;
//! use steadfast::{FileTransport, OwnedMessage, Producer};
//!
//! # fn main() -> Result<(), Box<dyn std::error::Error>> {
//! let producer = Producer::builder("/var/lib/myapp/journal")
//!     .on_delivery(|d| println!("{d:?}"))
//!     .spawn(FileTransport::open("/tmp/delivered.jsonl")?)?;
//! let id = producer.send(OwnedMessage::new("events", b"hello".to_vec()).with_key("k"))?;
//! println!("durable as {id}");
//! producer.close(Duration::from_secs(5))?;
//! # Ok(()) }
//! ```
//!
//! # Example: a caller-driven loop (WASI preview 1)
//!
//! ```no_run
//! use std::time::Duration;
//! use steadfast::{FileTransport, OwnedMessage, Producer};
//!
//! # fn main() -> Result<(), Box<dyn std::error::Error>> {
//! let producer = Producer::builder("journal").open(FileTransport::open("out.jsonl")?)?;
//! for i in 0..100u32 {
//!     producer.send(OwnedMessage::new("events", i.to_string()))?;
//!     // Deliver whatever is ready; never blocks longer than the timeout.
//!     producer.poll(Duration::ZERO);
//! }
//! while !producer.poll(Duration::from_millis(100)).idle {}
//! producer.close(Duration::from_secs(1))?;
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
    self as core, Config, Delivery, Failure, FailureClass, MessageId, RecoveryReport, RetryPolicy, SyncPolicy,
};
/// The network transports (`steadfast-transports`): `transports::rest`
/// with feature `rest`, `transports::kafka` with feature `kafka`.
#[cfg(any(feature = "rest", feature = "kafka"))]
pub use steadfast_transports as transports;
pub use storage::{DurabilityNote, FileError, FileStorage, OpenStorageError};
pub use transport::FileTransport;
