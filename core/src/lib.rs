//! steadfast-core: the sans-IO, `no_std` heart of steadfast, a Kafka
//! producer that does not lose messages.
//!
//! Every message is written to a journal before `send` reports it, sent to a
//! broker, and forgotten only when the broker confirms it. This crate holds
//! everything that decides *what* happens — the journal format and its
//! recovery, the delivery state machine, the retry policy — and nothing that
//! *does* I/O: no clock, no threads, no sockets, no random source, no
//! allocator. It is driven through two capability traits and `now`:
//!
//! - [`Storage`]: where the journal lives (files, flash, memory).
//! - [`Transport`]: what carries records to a broker (librdkafka, a REST
//!   proxy, a simulator).
//!
//! In scope: the byte format (`docs/journal-format.md`), recovery
//! ([`RecoveryReport`]), ordering per lane, batching, backoff with full
//! jitter, dead letters, the byte budget, durability bookkeeping.
//! Out of scope: files, fsync, sockets, threads, clocks — see the `steadfast`
//! crate (std runner) and `steadfast-transports`.
//!
//! # A complete driver loop
//!
//! ```
//! use steadfast_core::{Config, Delivery, Message, Millis, OutgoingRecord, Producer, Storage, Transport};
//!
//! /// Sends `values`, then drives until every one is confirmed or dead-lettered.
//! fn run<S: Storage, T: Transport>(storage: S, transport: &mut T, values: &[&[u8]]) -> usize {
//!     let config = Config { journal_id: 0x1234, ..Config::default() };
//!     let buf = vec![0u8; Producer::<S, Vec<u8>>::buffer_len(&config)];
//!     let (mut producer, report) = match Producer::<S, Vec<u8>>::open(storage, buf, config, 0) {
//!         Ok(ok) => ok,
//!         Err(failed) => panic!("{}", failed.error),
//!     };
//!     println!("{report}");
//!     let mut now: Millis = 0; // a monotonic clock in a real driver
//!     for value in values {
//!         producer.send(now, Message::new("events", value)).expect("journaled");
//!     }
//!     let mut out = vec![0u8; 1 << 20];
//!     let mut done = 0;
//!     loop {
//!         // 1. Durability: with SyncPolicy::Always a send is complete once
//!         //    `producer.is_synced(seq)`; one sync covers every send so far.
//!         //    The sync is the core's output: run it (here in place; a
//!         //    threaded driver may run it outside its lock) and feed back
//!         //    the result. `producer.sync(now)` does the same in one call.
//!         if let Some(request) = producer.poll_sync(now) {
//!             let result = producer.storage_mut().sync(request.segment());
//!             producer.handle_synced(now, request, result).expect("synced");
//!         }
//!         // 2. Everything ready goes to the transport.
//!         while let Some(batch) = producer.poll_transmit(now, &mut out).expect("readable") {
//!             let records: Vec<OutgoingRecord<'_>> =
//!                 batch.records(&out).filter_map(Result::ok).collect();
//!             transport.submit(now, &records);
//!         }
//!         // 3. Wait for outcomes no longer than the next deadline.
//!         let deadline = producer.poll_timeout(now);
//!         let wait = deadline.map_or(100, |d| d.saturating_sub(now));
//!         let mut outcomes = Vec::new();
//!         transport.poll(now, wait, &mut |seq, outcome| outcomes.push((seq, outcome)));
//!         for (seq, outcome) in outcomes {
//!             producer.handle_outcome(now, seq, outcome);
//!         }
//!         while let Some(delivery) = producer.poll_delivery(now) {
//!             match delivery {
//!                 Delivery::Confirmed { id, partition, offset } => println!("{id} at {partition}/{offset}"),
//!                 Delivery::DeadLettered { id, failure } => println!("{id} dead: {failure}"),
//!             }
//!             done += 1;
//!         }
//!         // 4. Timers: confirmations journaled, segments deleted, syncs.
//!         now = deadline.map_or(now + wait, |d| d.max(now));
//!         producer.handle_timeout(now).expect("journal healthy");
//!         if producer.is_idle() && done == values.len() {
//!             return done;
//!         }
//!     }
//! }
//!
//! # #[cfg(feature = "test-support")] {
//! use steadfast_core::testing::{MemStorage, ScriptedTransport};
//! let mut broker = ScriptedTransport::accept_all();
//! assert_eq!(run(MemStorage::new(), &mut broker, &[b"one", b"two"]), 2);
//! # }
//! ```
//!
//! With no allocator, give [`Producer`] a fixed buffer (`[u8; N]`) and small
//! capacities: `Producer<MyFlash, [u8; 8192], 2, 8, 8>` (2 lanes, 8 messages
//! per lane window, 8 segments), and collect a batch into a `heapless::Vec`.
//!
//! # Memory
//!
//! A [`Producer`] holds all of its state by value, sized by its three const
//! parameters and by no backlog. On a 64-bit target (less on 32-bit) it is
//! about 11 KiB + `LANES` × (64 B × `WINDOW` + 180 B) + `SEGMENTS` ×
//! (20 B × `LANES` + 68 B), plus your storage and buffer:
//!
//! | `LANES`, `WINDOW`, `SEGMENTS` | size |
//! |---|---|
//! | 16, 128, 256 (the defaults) | about 237 KiB |
//! | 4, 16, 16 | about 18 KiB |
//! | 4, 16, 4 | about 16 KiB |
//!
//! Keep it in a `static` (or a `Box`), not on a small stack: opening moves
//! it by value. `core/tests/footprint.rs` pins these figures.

//!
//! # Features
//!
//! - `alloc`: nothing yet requires it; reserved for additive conveniences.
//! - `test-support`: `testing`: an in-memory storage that can crash and a
//!   scripted transport (needs an allocator).
//! - `hw-crc32c`: the journal's CRC-32C computed with the CPU's CRC
//!   instructions where it has them (SSE 4.2, ARMv8 CRC), through the
//!   `crc32c` crate, which needs `std`; the same checksums, 2–8× faster
//!   (more for longer inputs; see [`journal::checksum`]). The `steadfast`
//!   runner enables it.
#![no_std]
// Errors hand back what the failed call took (a message with its headers, a
// recovery report) and the core has no allocator to box them: large `Err`
// variants are the design, not an accident.
#![allow(clippy::result_large_err, clippy::large_enum_variant)]
#![warn(clippy::std_instead_of_core, clippy::alloc_instead_of_core)]
#![forbid(unsafe_code)]

#[cfg(test)]
extern crate std;

#[cfg(feature = "alloc")]
extern crate alloc;

pub mod delivery;
pub mod journal;
pub mod message;
pub mod retry;
pub mod storage;
pub mod transport;

#[cfg(any(test, feature = "test-support"))]
pub mod testing;

pub use delivery::{
    Config, Delivery, EntryView, JournalError, MAX_BATCH, OpenError, OpenFailed, Producer, SendError,
    SendErrorKind, Stats, SyncPolicy, Transmit,
};
pub use journal::recovery::{RecoverError, RecoveryMode};
pub use journal::report::{Damage, RecoveryReport, SeqRange, TornTail};
pub use message::{
    CodecError, Header, InvalidMessage, MAX_HEADER_NAME_LEN, MAX_HEADERS, MAX_TOPIC_LEN, MESSAGE_ID_HEADER,
    MESSAGE_ID_LEN, Message, MessageId, Record, Seq,
};
pub use retry::{Jitter, RetryPolicy};
pub use storage::{
    ErrorType, META_SLOT_LEN, SegmentId, Storage, StorageError, StorageErrorKind, SyncRequest,
};
pub use transport::{Failure, FailureClass, Millis, Outcome, OutgoingRecord, REASON_LEN, Transport};
