//! The delivery state machine.
//!
//! ```text
//!            send()
//!              │  journaled (durable per SyncPolicy)
//!              ▼
//!          ┌────────┐  poll_transmit()   ┌───────────┐
//!   ┌────▶ │ Queued │ ─────────────────▶ │ In flight │
//!   │      └────────┘                    └───────────┘
//!   │  backoff  ▲                          │   │   │
//!   │  expires  │ Retriable / Unknown      │   │   │ Terminal, or failing
//!   │           └──────────────────────────┘   │   │ past delivery_timeout
//!   │                                Confirmed │   ▼
//!   │                                          │ ┌───────────────┐
//!   │                                          │ │ Dead-lettered │──▶ discard / redrive
//!   │                                          ▼ └───────────────┘      (redrive = a new send)
//!   │                                    ┌───────────┐
//!   └─ (crash: everything not yet        │ Confirmed │
//!       past the watermark is Queued     └───────────┘
//!       again after recovery)                  │ the lane's watermark passes it
//!                                              ▼
//!                                 forgotten (its segment is deleted
//!                                 once nothing in it is needed)
//! ```
//!
//! Ordering: each lane (`lane.rs`) has at most one batch in flight; a failed
//! record is sent again before anything after it in its lane, and the
//! lane's *watermark* — journaled in `Confirm` entries — only moves over a
//! done prefix. A crash re-sends what is past the watermark (at-least-once).

pub mod budget;
mod config;
mod error;
pub(crate) mod lane;
mod producer;

pub use config::{Config, MAX_BATCH, SyncPolicy};
pub use error::{JournalError, OpenError, OpenFailed, SendError, SendErrorKind};
pub use producer::{Delivery, EntryView, Producer, Stats, TIMER_RETRY, Transmit};
