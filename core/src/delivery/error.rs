//! Errors of the producer's operations, one enum per operation.

use core::fmt;

use crate::journal::recovery::RecoverError;
use crate::message::{InvalidMessage, Message};
use crate::storage::{StorageError, StorageErrorKind};

/// Why `send` refused a message. The message is handed back in [`SendError`].
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
#[non_exhaustive]
pub enum SendErrorKind {
    /// The journal budget is used up; retry after deliveries free space.
    Full {
        /// The configured budget in bytes.
        budget: u64,
        /// Bytes in use.
        used: u64,
    },
    /// The message breaks a rule the broker would refuse it for (topic
    /// name, partition, header names); nothing was journaled.
    Invalid(InvalidMessage),
    /// The message can never fit; `limit` is the largest entry allowed.
    TooLarge {
        /// Bytes the message's journal entry would take: the encoded
        /// record plus the frame's header and padding.
        size: usize,
        /// The limit it exceeded.
        limit: usize,
    },
    /// The storage medium is full (ENOSPC); nothing already journaled is harmed.
    NoSpace,
    /// An earlier I/O error (a failed fsync) closed the journal; restart the
    /// producer to recover from what is on disk.
    FailedClosed(StorageErrorKind),
    /// Another storage failure.
    Storage(StorageErrorKind),
}

impl fmt::Display for SendErrorKind {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            SendErrorKind::Full { budget, used } => write!(
                f,
                "journal full: {used} of {budget} budget bytes in use; wait for deliveries or raise the budget"
            ),
            SendErrorKind::Invalid(why) => write!(f, "invalid message: {why}"),
            SendErrorKind::TooLarge { size, limit } => write!(
                f,
                "message too large: its journal entry would be {size} bytes, the limit is {limit} (max entry / segment size)"
            ),
            SendErrorKind::NoSpace => {
                f.write_str("no space left on the journal's disk; nothing journaled was lost")
            }
            SendErrorKind::FailedClosed(kind) => write!(
                f,
                "journal failed closed after an I/O error ({kind}); restart to recover from disk"
            ),
            SendErrorKind::Storage(kind) => write!(f, "journal storage error: {kind}"),
        }
    }
}

/// A refused `send`: why, and the message back.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct SendError<'a> {
    /// Why.
    pub kind: SendErrorKind,
    /// The message, untouched.
    pub message: Message<'a>,
}

impl fmt::Display for SendError<'_> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "send to topic `{}` refused: {}", self.message.topic, self.kind)
    }
}

impl core::error::Error for SendError<'_> {}

/// Why the producer could not be opened.
#[derive(Debug)]
#[non_exhaustive]
pub enum OpenError<E> {
    /// Recovery failed.
    Recover(RecoverError<E>),
    /// The buffer is smaller than the configuration needs.
    BufferTooSmall {
        /// Bytes needed: `2 * max_entry` plus the manifest size.
        needed: usize,
        /// Bytes given.
        got: usize,
    },
    /// The configuration is inconsistent; the text says which field.
    Config(&'static str),
    /// The budget is below the smallest that admits `max_entry`
    /// ([`Producer::min_budget`](crate::Producer::min_budget)).
    BudgetTooSmall {
        /// The configured budget.
        budget: u64,
        /// The smallest budget for the configured `max_entry`.
        minimum: u64,
        /// The configured `max_entry`.
        max_entry: usize,
    },
    /// Starting the first segment failed.
    Storage(E),
}

impl<E: StorageError> fmt::Display for OpenError<E> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            OpenError::Recover(e) => write!(f, "{e}"),
            OpenError::BufferTooSmall { needed, got } => write!(
                f,
                "producer buffer is {got} bytes but the configuration needs {needed} (2 × max_entry + manifest)"
            ),
            OpenError::Config(what) => write!(f, "invalid configuration: {what}"),
            OpenError::BudgetTooSmall {
                budget,
                minimum,
                max_entry,
            } => write!(
                f,
                "a journal budget of {budget} bytes is below the minimum of {minimum} bytes for entries of up to \
                 {max_entry} bytes: raise the budget, or lower max_entry"
            ),
            OpenError::Storage(e) => write!(f, "could not start a journal segment: {e}"),
        }
    }
}

impl<E: StorageError> core::error::Error for OpenError<E> {}

/// A failed open, handing back what it took.
#[derive(Debug)]
pub struct OpenFailed<S, B, E> {
    /// The storage.
    pub storage: S,
    /// The buffer.
    pub buffer: B,
    /// Why.
    pub error: OpenError<E>,
}

/// Why a journal operation outside `send` (sync, maintenance, dead-letter
/// handling) failed.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
#[non_exhaustive]
pub enum JournalError {
    /// The journal failed closed after an I/O error; restart to recover.
    FailedClosed(StorageErrorKind),
    /// A storage call failed.
    Storage(StorageErrorKind),
    /// Every segment slot is in use (raise `SEGMENTS` or the segment size).
    NoSegmentSlot,
    /// No dead letter with that sequence number is waiting.
    NoSuchDeadLetter,
    /// A journal entry could not be read back (damaged since recovery).
    Unreadable,
    /// A caller-provided buffer is too small for the entry.
    BufferTooSmall,
    /// The journal budget is used up.
    Full,
}

impl fmt::Display for JournalError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            JournalError::FailedClosed(k) => write!(
                f,
                "journal failed closed after an I/O error ({k}); restart to recover"
            ),
            JournalError::Storage(k) => write!(f, "journal storage error: {k}"),
            JournalError::NoSegmentSlot => {
                f.write_str("all segment slots are in use; raise SEGMENTS or the segment size")
            }
            JournalError::NoSuchDeadLetter => f.write_str("no pending dead letter has that sequence number"),
            JournalError::Unreadable => f.write_str("a journal entry could not be read back"),
            JournalError::BufferTooSmall => f.write_str("the buffer given is smaller than the entry"),
            JournalError::Full => f.write_str("journal full: wait for deliveries or raise the budget"),
        }
    }
}

impl core::error::Error for JournalError {}
