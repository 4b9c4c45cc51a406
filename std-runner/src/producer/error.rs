//! Errors of the producer's operations, one type per operation, each
//! handing back what the call took (the message, the rest of a batch, the
//! transport).
//!
//! Waiting can fix a full journal ([`FullCause`]); it cannot fix a
//! [`Refusal`]. A refused message whose journal failed closed may still be
//! on disk and be delivered after a restart: re-sending it can duplicate
//! it, never lose it.

use std::fmt;

use std::sync::{Mutex, PoisonError};

use steadfast_core::{InvalidMessage, JournalError, MessageId, RecoverError, StorageErrorKind, Transport};

use super::message::OwnedMessage;
use crate::storage::{FileError, OpenStorageError};

/// Why there is no room for a message right now.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
#[non_exhaustive]
pub enum FullCause {
    /// The journal's byte budget is used up until deliveries free space.
    Budget {
        /// The configured budget.
        budget: u64,
        /// Bytes in use.
        used: u64,
    },
    /// The disk itself is full (ENOSPC). Nothing already journaled is harmed.
    NoSpace,
}

impl fmt::Display for FullCause {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            FullCause::Budget { budget, used } => write!(
                f,
                "journal full ({used} of {budget} budget bytes in use): wait for deliveries or raise the budget"
            ),
            FullCause::NoSpace => {
                f.write_str("the journal's disk is full: free space; nothing already journaled was lost")
            }
        }
    }
}

/// Why a message can never be accepted as it is, or not by this producer.
#[derive(Clone, Debug, PartialEq, Eq)]
#[non_exhaustive]
pub enum Refusal {
    /// It breaks a rule the broker would refuse it for, later, as a dead
    /// letter: the topic name, a negative partition, a header name (see
    /// [`InvalidMessage`] for each rule). Nothing was journaled.
    Invalid(InvalidMessage),
    /// Its journal entry (the encoded record with its frame) would be
    /// larger than the largest entry the journal takes.
    TooLarge {
        /// Bytes the entry would take.
        size: usize,
        /// The limit: `Config::max_entry`, or less when the journal's
        /// budget (less what it keeps for bookkeeping) is smaller.
        limit: usize,
    },
    /// More headers than a message may carry.
    TooManyHeaders {
        /// Headers given.
        count: usize,
        /// The most allowed.
        limit: usize,
    },
    /// The producer was closed.
    Closed,
    /// A call that waits for room (`send`, `send_timeout`, `send_batch`, ...)
    /// found the journal full while running inside this producer's own
    /// delivery callback. Room is freed only by deliveries, and deliveries
    /// wait for the callback to return, so waiting would never end. Use
    /// `try_send` in the callback (and keep what it hands back), or send
    /// from another thread.
    InDeliveryCallback,
    /// A failed fsync closed the journal; restart the producer to recover
    /// from what is on disk.
    FailedClosed {
        /// What failed, as the storage reported it.
        reason: String,
    },
    /// Another storage failure.
    Storage(StorageErrorKind),
}

impl fmt::Display for Refusal {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Refusal::Invalid(why) => write!(f, "invalid message: {why}"),
            Refusal::TooLarge { size, limit } => write!(
                f,
                "message too large: its journal entry would be {size} bytes (encoded record and frame), \
                 the journal's limit is {limit} (Config::max_entry, or the budget if smaller)"
            ),
            Refusal::TooManyHeaders { count, limit } => {
                write!(f, "message has {count} headers; at most {limit} are allowed")
            }
            Refusal::Closed => f.write_str("the producer is closed"),
            Refusal::InDeliveryCallback => f.write_str(
                "the journal is full and this call was made from the producer's own delivery callback, \
                 where waiting for room would never end (room is freed by deliveries, which wait for the \
                 callback): use try_send in the callback, or send from another thread",
            ),
            Refusal::FailedClosed { reason } => write!(
                f,
                "the journal failed closed after an I/O error ({reason}); restart the producer to recover from disk"
            ),
            Refusal::Storage(kind) => write!(f, "journal storage error: {kind}"),
        }
    }
}

macro_rules! message_error {
    ($name:ident, $doc:literal, $full:ident, $full_doc:literal) => {
        #[doc = $doc]
        #[derive(Clone, Debug, PartialEq, Eq)]
        #[non_exhaustive]
        pub enum $name {
            #[doc = $full_doc]
            $full {
                /// The message, untouched.
                message: OwnedMessage,
                /// Why there was no room.
                cause: FullCause,
            },
            /// The message cannot be accepted (see [`Refusal`]).
            Refused {
                /// The message, untouched.
                message: OwnedMessage,
                /// Why.
                refusal: Refusal,
            },
        }

        impl $name {
            /// The message handed back.
            pub fn into_message(self) -> OwnedMessage {
                match self {
                    $name::$full { message, .. } | $name::Refused { message, .. } => message,
                }
            }
        }

        impl fmt::Display for $name {
            fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
                match self {
                    $name::$full { message, cause } => {
                        write!(f, "send to topic `{}`: {cause}", message.topic)
                    }
                    $name::Refused { message, refusal } => {
                        write!(f, "send to topic `{}` refused: {refusal}", message.topic)
                    }
                }
            }
        }

        impl std::error::Error for $name {}
    };
}

message_error!(
    TrySendError,
    "Why [`try_send`](crate::Producer::try_send) did not accept a message.",
    Full,
    "No room right now (budget or disk full)."
);
message_error!(
    SendTimeoutError,
    "Why [`send_timeout`](crate::Producer::send_timeout) / [`send_deadline`](crate::Producer::send_deadline) did not accept a message.",
    Timeout,
    "Still no room when the deadline passed."
);

/// Why [`send`](crate::Producer::send) did not accept a message (it waits
/// for room as long as it takes, so only a [`Refusal`] ends it).
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct SendError {
    /// The message, untouched.
    pub message: OwnedMessage,
    /// Why.
    pub refusal: Refusal,
}

impl fmt::Display for SendError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(
            f,
            "send to topic `{}` refused: {}",
            self.message.topic, self.refusal
        )
    }
}

impl std::error::Error for SendError {}

/// What stopped a batch send.
#[derive(Clone, Debug, PartialEq, Eq)]
#[non_exhaustive]
pub enum BatchStop {
    /// No room (immediately for `try_`, at the deadline otherwise).
    Full(FullCause),
    /// The first of `rest` cannot be accepted.
    Refused(Refusal),
}

/// A batch send that stopped part-way. The `accepted` messages are durable
/// at the configured level, exactly as if the call had succeeded for them;
/// `rest` are handed back in order.
///
/// When the batch stopped because there was no room or a message was
/// refused ([`BatchStop::Full`], most [`BatchStop::Refused`]), nothing in
/// `rest` was journaled: send it again as it is. When the journal failed
/// closed during the call (`BatchStop::Refused(Refusal::FailedClosed)` or
/// `Refusal::Storage`), durability of the whole batch is unknown:
/// `accepted` is empty and `rest` holds every message of the batch, some
/// of which may be on disk and be delivered after a restart (re-sending
/// them can duplicate, never lose).
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct BatchError {
    /// Ids of the messages that were accepted, in order.
    pub accepted: Vec<MessageId>,
    /// The messages not accepted, in order, starting with the one that
    /// stopped it (the whole batch if the journal failed closed).
    pub rest: Vec<OwnedMessage>,
    /// Why it stopped.
    pub stop: BatchStop,
}

impl fmt::Display for BatchError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(
            f,
            "batch stopped after {} accepted, {} handed back: ",
            self.accepted.len(),
            self.rest.len()
        )?;
        match &self.stop {
            BatchStop::Full(cause) => write!(f, "{cause}"),
            BatchStop::Refused(refusal) => write!(f, "{refusal}"),
        }
    }
}

impl std::error::Error for BatchError {}

/// Why [`flush`](crate::Producer::flush) returned before everything was done.
#[derive(Clone, Debug, PartialEq, Eq)]
#[non_exhaustive]
pub enum FlushError {
    /// The deadline passed; the messages are still journaled and will be
    /// delivered later (or after a restart).
    Timeout {
        /// Messages not yet confirmed or dead-lettered.
        pending: u64,
    },
    /// The producer was closed.
    Closed,
    /// Called from this producer's own delivery callback: the deliveries it
    /// would wait for run after the callback returns, so it would never
    /// end. Flush from another thread.
    InDeliveryCallback,
    /// The journal failed closed; restart to recover from disk.
    FailedClosed {
        /// What failed.
        reason: String,
    },
}

impl fmt::Display for FlushError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            FlushError::Timeout { pending } => write!(
                f,
                "flush deadline passed with {pending} messages unconfirmed; they stay journaled and will be delivered later"
            ),
            FlushError::Closed => f.write_str("the producer is closed"),
            FlushError::InDeliveryCallback => f.write_str(
                "flush was called from the producer's own delivery callback, where it could never end \
                 (the deliveries it waits for run after the callback returns): flush from another thread",
            ),
            FlushError::FailedClosed { reason } => write!(
                f,
                "the journal failed closed ({reason}); restart the producer to recover from disk"
            ),
        }
    }
}

impl std::error::Error for FlushError {}

/// Why a dead-letter operation failed.
#[derive(Clone, Debug, PartialEq, Eq)]
#[non_exhaustive]
pub enum DeadLetterError {
    /// No pending dead letter has that entry seq (already resolved?).
    NotFound {
        /// The dead-letter entry seq given.
        seq: u64,
    },
    /// The producer was closed.
    Closed,
    /// The journal could not do it.
    Journal(JournalError),
}

impl fmt::Display for DeadLetterError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            DeadLetterError::NotFound { seq } => write!(
                f,
                "no pending dead letter with entry seq {seq}; list them again, it may be resolved already"
            ),
            DeadLetterError::Closed => f.write_str("the producer is closed"),
            DeadLetterError::Journal(e) => write!(f, "{e}"),
        }
    }
}

impl std::error::Error for DeadLetterError {}

impl From<JournalError> for DeadLetterError {
    fn from(e: JournalError) -> Self {
        DeadLetterError::Journal(e)
    }
}

/// Why a producer could not be opened.
#[derive(Debug)]
#[non_exhaustive]
pub enum OpenError {
    /// The journal directory could not be opened or locked.
    Storage(OpenStorageError),
    /// Recovery or start-up of the journal failed.
    Journal(Box<steadfast_core::OpenError<FileError>>),
    /// The background thread could not be started.
    Spawn(std::io::Error),
}

impl fmt::Display for OpenError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            OpenError::Storage(e) => write!(f, "{e}"),
            OpenError::Journal(e) => write!(f, "{e}"),
            OpenError::Spawn(e) => write!(f, "could not start the producer's thread: {e}"),
        }
    }
}

impl std::error::Error for OpenError {
    fn source(&self) -> Option<&(dyn std::error::Error + 'static)> {
        match self {
            OpenError::Storage(e) => Some(e),
            OpenError::Journal(e) => Some(e),
            OpenError::Spawn(e) => Some(e),
        }
    }
}

impl OpenError {
    /// The recovery report, when strict mode refused a damaged journal.
    pub fn damage_report(&self) -> Option<&steadfast_core::RecoveryReport> {
        match self {
            OpenError::Journal(e) => match &**e {
                steadfast_core::OpenError::Recover(RecoverError::Damaged(r)) => Some(r),
                _ => None,
            },
            _ => None,
        }
    }
}

/// A failed open, handing back the transport it was given
/// ([`into_transport`](Self::into_transport)).
///
/// It is `Send + Sync` (the transport is kept behind a mutex it never
/// needs), so `?` converts it into `Box<dyn Error + Send + Sync>` or
/// `anyhow::Error`.
pub struct OpenFailed {
    transport: Mutex<Box<dyn Transport + Send>>,
    /// Why.
    pub error: OpenError,
}

impl OpenFailed {
    pub(crate) fn new(transport: Box<dyn Transport + Send>, error: OpenError) -> Self {
        OpenFailed {
            transport: Mutex::new(transport),
            error,
        }
    }

    /// The transport, unused, to try again with.
    pub fn into_transport(self) -> Box<dyn Transport + Send> {
        self.transport
            .into_inner()
            .unwrap_or_else(PoisonError::into_inner)
    }
}

impl fmt::Debug for OpenFailed {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("OpenFailed")
            .field("error", &self.error)
            .finish_non_exhaustive()
    }
}

impl fmt::Display for OpenFailed {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}", self.error)
    }
}

impl std::error::Error for OpenFailed {
    fn source(&self) -> Option<&(dyn std::error::Error + 'static)> {
        Some(&self.error)
    }
}
