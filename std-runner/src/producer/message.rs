//! [`OwnedMessage`]: the message type of the runner's API.
//!
//! The core's `Message` borrows everything so the core needs no allocator.
//! The runner takes messages by value instead, so that a refused send can
//! hand the message back (`Full(message)`) and the caller keeps it without
//! having to hold on to the buffers it borrowed from. It is journaled
//! straight from these buffers; nothing is copied or kept after `send`.

use std::borrow::Cow;

use steadfast_core::{MAX_HEADERS, Message};

/// A Kafka record to send, owning its data.
///
/// `value: None` is a tombstone; `partition: None` lets the transport's
/// partitioner choose (by key when there is one). Order is kept per
/// partition, and so per key.
///
/// `send` refuses, handing the message back, what a broker would refuse
/// later (see [`InvalidMessage`](steadfast_core::InvalidMessage)): a topic
/// name that is empty, longer than 249 bytes, `.` or `..`, or has other
/// characters than ASCII letters, digits, `.`, `_` and `-`; a negative
/// partition; more than [`MAX_MESSAGE_HEADERS`] (16) headers; a header name
/// that is empty, longer than
/// [`MAX_HEADER_NAME_LEN`](steadfast_core::MAX_HEADER_NAME_LEN) (256) bytes,
/// or `steadfast-id` in any letter case (steadfast adds that header to
/// every record: it carries the message id).
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct OwnedMessage {
    /// Destination topic (a `&'static str` costs no allocation).
    pub topic: Cow<'static, str>,
    /// Explicit partition.
    pub partition: Option<i32>,
    /// Record key.
    pub key: Option<Vec<u8>>,
    /// Record value; `None` is a tombstone.
    pub value: Option<Vec<u8>>,
    /// Record headers (at most [`MAX_HEADERS`]); a `None` value is a null header.
    pub headers: Vec<(String, Option<Vec<u8>>)>,
    /// Timestamp in milliseconds since the Unix epoch. `None`: the producer
    /// stamps the time `send` was called (unless
    /// [`Builder::stamp_timestamps`](crate::Builder::stamp_timestamps) is
    /// off, in which case the broker stamps its own time of arrival).
    pub timestamp: Option<i64>,
}

impl OwnedMessage {
    /// A message with a value and nothing else.
    pub fn new(topic: impl Into<Cow<'static, str>>, value: impl Into<Vec<u8>>) -> Self {
        OwnedMessage {
            topic: topic.into(),
            value: Some(value.into()),
            ..OwnedMessage::default()
        }
    }

    /// A tombstone (null value) for `key`.
    pub fn tombstone(topic: impl Into<Cow<'static, str>>, key: impl Into<Vec<u8>>) -> Self {
        OwnedMessage {
            topic: topic.into(),
            key: Some(key.into()),
            ..OwnedMessage::default()
        }
    }

    /// Sets the key.
    #[must_use]
    pub fn with_key(mut self, key: impl Into<Vec<u8>>) -> Self {
        self.key = Some(key.into());
        self
    }

    /// Sets an explicit partition.
    #[must_use]
    pub fn with_partition(mut self, partition: i32) -> Self {
        self.partition = Some(partition);
        self
    }

    /// Sets the timestamp (milliseconds since the Unix epoch).
    #[must_use]
    pub fn with_timestamp(mut self, millis: i64) -> Self {
        self.timestamp = Some(millis);
        self
    }

    /// Adds a header.
    #[must_use]
    pub fn with_header(mut self, name: impl Into<String>, value: impl Into<Vec<u8>>) -> Self {
        self.headers.push((name.into(), Some(value.into())));
        self
    }

    /// Bytes of user data (topic, key, value, headers).
    pub fn data_len(&self) -> usize {
        self.topic.len()
            + self.key.as_ref().map_or(0, Vec::len)
            + self.value.as_ref().map_or(0, Vec::len)
            + self
                .headers
                .iter()
                .map(|(n, v)| n.len() + v.as_ref().map_or(0, Vec::len))
                .sum::<usize>()
    }

    /// The core's borrowed view, or `None` if there are more than
    /// [`MAX_HEADERS`] headers.
    pub fn as_message(&self) -> Option<Message<'_>> {
        let mut headers = heapless::Vec::new();
        for (name, value) in &self.headers {
            headers
                .push(steadfast_core::Header {
                    name,
                    value: value.as_deref(),
                })
                .ok()?;
        }
        Some(Message {
            topic: &self.topic,
            partition: self.partition,
            key: self.key.as_deref(),
            value: self.value.as_deref(),
            headers,
            timestamp: self.timestamp,
        })
    }

    /// An owned copy of a core message (for example one read back from the
    /// journal's dead-letter area).
    pub fn from_message(m: &Message<'_>) -> Self {
        OwnedMessage {
            topic: Cow::Owned(m.topic.to_string()),
            partition: m.partition,
            key: m.key.map(<[u8]>::to_vec),
            value: m.value.map(<[u8]>::to_vec),
            headers: m
                .headers
                .iter()
                .map(|h| (h.name.to_string(), h.value.map(<[u8]>::to_vec)))
                .collect(),
            timestamp: m.timestamp,
        }
    }
}

/// The most headers a message may carry.
pub const MAX_MESSAGE_HEADERS: usize = MAX_HEADERS;

/// Gives `view` the send time `at` (unix milliseconds) if it has no
/// timestamp of its own. Only the journaled view is stamped: a message
/// handed back in an error is untouched.
pub(crate) fn stamp(view: &mut Message<'_>, at: Option<i64>) {
    if view.timestamp.is_none() {
        view.timestamp = at;
    }
}
