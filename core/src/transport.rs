//! The transport capability: what carries records to a broker and what it
//! must report back.
//!
//! The core decides *what* to send and *when*; a transport only moves bytes
//! and classifies answers. The driver hands each batch from
//! `Producer::poll_transmit` to
//! [`Transport::submit`], then calls [`Transport::poll`] and feeds every
//! reported outcome to `Producer::handle_outcome`.
//!
//! # The contract
//!
//! For every record passed to `submit`, the transport reports exactly one
//! [`Outcome`] through `poll`, eventually (a transport with its own request
//! deadline reports [`FailureClass::Unknown`] when it passes). Reporting more
//! than one outcome for a record, or an outcome for a record that was never
//! submitted, is tolerated by the core (it is ignored), but it is a bug.
//!
//! - [`Outcome::Confirmed`]: the broker acknowledged the record (acks=all for
//!   Kafka, a per-record success in a REST response). Never report this for
//!   a record the broker did not acknowledge.
//! - [`FailureClass::Retriable`]: the broker did not write the record and
//!   may accept it later (leader election, 5xx, 429, throttling).
//! - [`FailureClass::Terminal`]: the broker will never accept this record
//!   (too large, authorization, unknown topic after the configured wait,
//!   4xx). The core moves it to the dead-letter area.
//! - [`FailureClass::UnknownTopic`]: the topic or partition does not exist
//!   (yet); the core retries for the configured wait, then dead-letters.
//! - [`FailureClass::Unknown`]: the record may or may not have been written
//!   (a timeout or connection reset after the request left, a purge). The
//!   core sends it again; the message id lets consumers drop the duplicate.
//!
//! Records passed to one `submit` call belong to one ordering lane and are in
//! send order; a transport must not reorder them on the wire.

use core::fmt;

use crate::message::{Message, MessageId, Seq};

/// Milliseconds on the caller's monotonic clock.
pub type Millis = u64;

/// Longest failure reason kept (longer reasons are cut at a char boundary).
pub const REASON_LEN: usize = 120;

/// How a failed delivery is to be treated.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
#[non_exhaustive]
pub enum FailureClass {
    /// Not written; try again later with backoff.
    Retriable,
    /// Never going to be written; dead-letter it.
    Terminal,
    /// Maybe written; send again (duplicates are expected).
    Unknown,
    /// The topic (or partition) does not exist, yet. Retried like
    /// `Retriable` until the message has been failing for
    /// `Config::unknown_topic_wait`, then treated as `Terminal`: topics
    /// are often created moments after producers start.
    UnknownTopic,
}

/// A failed delivery: its class, the transport's error code and a reason
/// a person can read.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Failure {
    /// How the core treats it.
    pub class: FailureClass,
    /// The transport's own code (a Kafka error code, an HTTP or REST code).
    pub code: i32,
    /// What happened, for logs and the dead-letter area.
    pub reason: heapless::String<REASON_LEN>,
    /// The server asked to wait this long before retrying (HTTP 429
    /// `Retry-After`, Kafka throttle time).
    pub retry_after: Option<Millis>,
}

impl Failure {
    /// A failure with `reason` cut to [`REASON_LEN`] bytes.
    pub fn new(class: FailureClass, code: i32, reason: &str) -> Self {
        let mut cut = reason.len().min(REASON_LEN);
        while !reason.is_char_boundary(cut) {
            cut -= 1;
        }
        let mut text = heapless::String::new();
        // Cannot fail: `cut` is at most the capacity.
        let _ = text.push_str(&reason[..cut]);
        Failure {
            class,
            code,
            reason: text,
            retry_after: None,
        }
    }

    /// Sets the server's requested wait.
    #[must_use]
    pub fn with_retry_after(mut self, wait: Millis) -> Self {
        self.retry_after = Some(wait);
        self
    }
}

impl fmt::Display for Failure {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let class = match self.class {
            FailureClass::Retriable => "retriable",
            FailureClass::Terminal => "terminal",
            FailureClass::Unknown => "outcome unknown",
            FailureClass::UnknownTopic => "unknown topic",
        };
        write!(f, "{class} failure (code {}): {}", self.code, self.reason)
    }
}

/// What became of one submitted record.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Outcome {
    /// The broker acknowledged it at this partition and offset (offset -1
    /// when the server did not say).
    Confirmed {
        /// Partition the record landed in.
        partition: i32,
        /// Offset in that partition, or -1 if unknown.
        offset: i64,
    },
    /// It was not (or maybe not) written.
    Failed(Failure),
}

/// One record handed to a transport.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct OutgoingRecord<'a> {
    /// The journal sequence number the outcome must be reported under.
    pub seq: Seq,
    /// The stable id to put in the [`MESSAGE_ID_HEADER`](crate::MESSAGE_ID_HEADER) header.
    pub id: MessageId,
    /// The record.
    pub message: Message<'a>,
}

/// Carries records to a broker. See the module documentation.
pub trait Transport {
    /// Starts delivering `records` (one lane, in order). May block while a
    /// request is written (a blocking HTTP transport may even wait for the
    /// answer here), but every outcome is reported through [`poll`](Self::poll).
    fn submit(&mut self, now: Millis, records: &[OutgoingRecord<'_>]);

    /// Waits at most `timeout` for outcomes and reports each through
    /// `report`; returns how many were reported. Returning early with none
    /// is allowed.
    fn poll(&mut self, now: Millis, timeout: Millis, report: &mut dyn FnMut(Seq, Outcome)) -> usize;

    /// Records submitted whose outcome has not yet been reported.
    fn in_flight(&self) -> usize;
}

impl<T: Transport + ?Sized> Transport for &mut T {
    fn submit(&mut self, now: Millis, records: &[OutgoingRecord<'_>]) {
        T::submit(self, now, records)
    }
    fn poll(&mut self, now: Millis, timeout: Millis, report: &mut dyn FnMut(Seq, Outcome)) -> usize {
        T::poll(self, now, timeout, report)
    }
    fn in_flight(&self) -> usize {
        T::in_flight(self)
    }
}
