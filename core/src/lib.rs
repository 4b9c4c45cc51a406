//! steadfast-core: the sans-IO, `no_std` heart of steadfast.
#![no_std]
#![forbid(unsafe_code)]

#[cfg(test)]
extern crate std;

pub mod message;
pub mod storage;
pub mod transport;

pub use message::{Header, MESSAGE_ID_HEADER, MESSAGE_ID_LEN, MAX_HEADERS, Message, MessageId, Record, Seq};
pub use storage::{ErrorType, SegmentId, Storage, StorageError, StorageErrorKind, META_SLOT_LEN};
pub use transport::{Failure, FailureClass, Millis, Outcome, OutgoingRecord, Transport, REASON_LEN};
