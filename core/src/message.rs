//! The message a user sends, and its stable id.
//!
//! A [`Message`] borrows everything it carries, so the core never needs an
//! allocator: the caller's buffers are encoded straight into the journal, and
//! a message read back from the journal borrows the read buffer. The encoding
//! is postcard through the serde derives below (see `docs/journal-format.md`,
//! "Message payload"); field order is part of the on-disk format and must
//! never change.

use core::fmt;

use serde::{Deserialize, Serialize};

mod codec;
mod validate;
pub use codec::CodecError;
pub(crate) use codec::encode as encode_record;
pub use validate::{InvalidMessage, MAX_HEADER_NAME_LEN, MAX_TOPIC_LEN};

/// The most headers one message may carry.
pub const MAX_HEADERS: usize = 16;

/// Name of the record header that carries a message's [`MessageId`].
pub const MESSAGE_ID_HEADER: &str = "steadfast-id";

/// Journal sequence number: every journal entry has one, strictly increasing.
pub type Seq = u64;

/// One record header: a name and an opaque value (or none).
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct Header<'a> {
    /// Header name.
    pub name: &'a str,
    /// Header value; `None` is a Kafka null header value.
    #[serde(borrow, with = "opt_bytes")]
    pub value: Option<&'a [u8]>,
}

/// A Kafka record to be delivered.
///
/// `value: None` is a tombstone. `partition: None` lets the transport's
/// partitioner choose (by key when there is one).
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct Message<'a> {
    /// Destination topic.
    pub topic: &'a str,
    /// Explicit partition, or `None` for the partitioner's choice.
    pub partition: Option<i32>,
    /// Record key.
    #[serde(borrow, with = "opt_bytes")]
    pub key: Option<&'a [u8]>,
    /// Record value; `None` is a tombstone.
    #[serde(borrow, with = "opt_bytes")]
    pub value: Option<&'a [u8]>,
    /// Record headers, at most [`MAX_HEADERS`].
    #[serde(borrow)]
    pub headers: heapless::Vec<Header<'a>, MAX_HEADERS>,
    /// Record timestamp in milliseconds since the Unix epoch, if the user set one.
    pub timestamp: Option<i64>,
}

impl<'a> Message<'a> {
    /// A message with a value and nothing else set.
    pub fn new(topic: &'a str, value: &'a [u8]) -> Self {
        Message {
            topic,
            partition: None,
            key: None,
            value: Some(value),
            headers: heapless::Vec::new(),
            timestamp: None,
        }
    }

    /// A tombstone (null value) for `key`.
    pub fn tombstone(topic: &'a str, key: &'a [u8]) -> Self {
        Message {
            topic,
            partition: None,
            key: Some(key),
            value: None,
            headers: heapless::Vec::new(),
            timestamp: None,
        }
    }

    /// Sets the key.
    #[must_use]
    pub fn with_key(mut self, key: &'a [u8]) -> Self {
        self.key = Some(key);
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

    /// Adds a header; hands the header back if [`MAX_HEADERS`] are already set.
    pub fn push_header(&mut self, name: &'a str, value: &'a [u8]) -> Result<(), Header<'a>> {
        self.headers.push(Header {
            name,
            value: Some(value),
        })
    }

    /// Bytes of user data (topic, key, value, headers): what a budget counts.
    pub fn data_len(&self) -> usize {
        self.topic.len()
            + self.key.map_or(0, <[u8]>::len)
            + self.value.map_or(0, <[u8]>::len)
            + self
                .headers
                .iter()
                .map(|h| h.name.len() + h.value.map_or(0, <[u8]>::len))
                .sum::<usize>()
    }

    /// Bytes [`Record::encode`] writes for this message under `id`, without
    /// writing them: the journal payload (a frame adds its header and
    /// padding). Lengths in the format are varints, so this is exact.
    pub fn encoded_len(&self, id: MessageId) -> usize {
        fn varint(v: u64) -> usize {
            (u64::BITS - (v | 1).leading_zeros()).div_ceil(7) as usize
        }
        fn bytes(b: &[u8]) -> usize {
            varint(b.len() as u64) + b.len()
        }
        fn opt_bytes(b: Option<&[u8]>) -> usize {
            1 + b.map_or(0, bytes)
        }
        let zigzag32 = |n: i32| u64::from(((n << 1) ^ (n >> 31)) as u32);
        let zigzag64 = |n: i64| ((n << 1) ^ (n >> 63)) as u64;
        varint(id.journal)
            + varint(id.seq)
            + bytes(self.topic.as_bytes())
            + 1
            + self.partition.map_or(0, |p| varint(zigzag32(p)))
            + opt_bytes(self.key)
            + opt_bytes(self.value)
            + varint(self.headers.len() as u64)
            + self
                .headers
                .iter()
                .map(|h| bytes(h.name.as_bytes()) + opt_bytes(h.value))
                .sum::<usize>()
            + 1
            + self.timestamp.map_or(0, |t| varint(zigzag64(t)))
    }
}

/// A message's stable identity: the journal it was written to and its
/// sequence number there. Travels with the record (header
/// [`MESSAGE_ID_HEADER`]) so consumers can drop duplicates.
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize)]
pub struct MessageId {
    /// The journal's random id, chosen when the journal was created.
    pub journal: u64,
    /// The message's sequence number in that journal.
    pub seq: Seq,
}

/// Length of [`MessageId::encode`]'s text form.
pub const MESSAGE_ID_LEN: usize = 33;

impl MessageId {
    /// The text form, `{journal:016x}-{seq:016x}`, written into `buf`.
    pub fn encode<'b>(&self, buf: &'b mut [u8; MESSAGE_ID_LEN]) -> &'b str {
        const HEX: &[u8; 16] = b"0123456789abcdef";
        for (i, byte) in buf[..16].iter_mut().enumerate() {
            *byte = HEX[((self.journal >> (60 - 4 * i)) & 0xf) as usize];
        }
        buf[16] = b'-';
        for (i, byte) in buf[17..].iter_mut().enumerate() {
            *byte = HEX[((self.seq >> (60 - 4 * i)) & 0xf) as usize];
        }
        // Only ASCII hex digits and '-' were written.
        core::str::from_utf8(buf).unwrap_or("")
    }

    /// Parses the text form written by [`MessageId::encode`].
    pub fn parse(text: &str) -> Option<MessageId> {
        let (journal, seq) = text.split_once('-')?;
        if journal.len() != 16 || seq.len() != 16 {
            return None;
        }
        Some(MessageId {
            journal: u64::from_str_radix(journal, 16).ok()?,
            seq: u64::from_str_radix(seq, 16).ok()?,
        })
    }
}

impl fmt::Display for MessageId {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{:016x}-{:016x}", self.journal, self.seq)
    }
}

/// A message as the journal stores it: the message and its id.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct Record<'a> {
    /// The message's stable id.
    pub id: MessageId,
    /// The message itself.
    #[serde(borrow)]
    pub message: Message<'a>,
}

/// serde helpers: `Option<&[u8]>` as postcard bytes, not a sequence of u8.
mod opt_bytes {
    use core::fmt;

    use serde::de::{Deserializer, Visitor};
    use serde::ser::Serializer;

    pub fn serialize<S: Serializer>(value: &Option<&[u8]>, s: S) -> Result<S::Ok, S::Error> {
        match value {
            Some(bytes) => s.serialize_some(&Bytes(bytes)),
            None => s.serialize_none(),
        }
    }

    struct Bytes<'a>(&'a [u8]);

    impl serde::Serialize for Bytes<'_> {
        fn serialize<S: Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
            s.serialize_bytes(self.0)
        }
    }

    pub fn deserialize<'de, D: Deserializer<'de>>(d: D) -> Result<Option<&'de [u8]>, D::Error> {
        struct OptVisitor;
        impl<'de> Visitor<'de> for OptVisitor {
            type Value = Option<&'de [u8]>;
            fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
                f.write_str("optional bytes")
            }
            fn visit_none<E>(self) -> Result<Self::Value, E> {
                Ok(None)
            }
            fn visit_some<D: Deserializer<'de>>(self, d: D) -> Result<Self::Value, D::Error> {
                <&'de [u8] as serde::Deserialize>::deserialize(d).map(Some)
            }
        }
        d.deserialize_option(OptVisitor)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn message_id_text_round_trips() {
        let id = MessageId {
            journal: 0x0123_4567_89ab_cdef,
            seq: 42,
        };
        let mut buf = [0; MESSAGE_ID_LEN];
        let text = id.encode(&mut buf);
        assert_eq!(text, "0123456789abcdef-000000000000002a");
        assert_eq!(text, id.to_string_for_test());
        assert_eq!(MessageId::parse(text), Some(id));
        assert_eq!(MessageId::parse("nonsense"), None);
    }

    impl MessageId {
        fn to_string_for_test(self) -> heapless::String<40> {
            use core::fmt::Write;
            let mut s = heapless::String::new();
            let _ = write!(s, "{self}");
            s
        }
    }

    #[test]
    fn encoded_len_is_what_encode_writes() {
        let mut big = [0u8; 300];
        big[299] = 1;
        let mut message = Message::new("topic", &big[..200])
            .with_key(b"k")
            .with_partition(i32::MIN)
            .with_timestamp(i64::MAX);
        message.push_header("h", &big[..130]).unwrap();
        message
            .headers
            .push(Header {
                name: "n",
                value: None,
            })
            .unwrap();
        let mut buf = [0u8; 1024];
        for id in [
            MessageId { journal: 0, seq: 0 },
            MessageId {
                journal: 127,
                seq: 128,
            },
            MessageId {
                journal: u64::MAX,
                seq: 1 << 35,
            },
        ] {
            for m in [
                message.clone(),
                Message::tombstone("", b""),
                Message::new("t", &big),
            ] {
                let n = Record {
                    id,
                    message: m.clone(),
                }
                .encode(&mut buf)
                .unwrap();
                assert_eq!(m.encoded_len(id), n, "{m:?} under {id:?}");
            }
        }
    }
}
