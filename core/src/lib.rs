//! steadfast-core: the sans-IO, `no_std` heart of steadfast.
#![no_std]
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
pub use journal::recovery::RecoverError;
pub use journal::report::{Damage, RecoveryReport, SeqRange, TornTail};
pub use message::{
    CodecError, Header, MAX_HEADERS, MESSAGE_ID_HEADER, MESSAGE_ID_LEN, Message, MessageId, Record, Seq,
};
pub use retry::{Jitter, RetryPolicy};
pub use storage::{ErrorType, META_SLOT_LEN, SegmentId, Storage, StorageError, StorageErrorKind};
pub use transport::{Failure, FailureClass, Millis, Outcome, OutgoingRecord, REASON_LEN, Transport};
