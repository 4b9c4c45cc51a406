//! A [`Record`]'s journal payload, encoded and decoded with postcard
//! ([`Record::encode`], [`Record::decode`], failing with [`CodecError`]).
//! The format is postcard's rendering of the serde-derived types in
//! `message.rs` (`docs/journal-format.md`, "Message payload"); postcard is
//! built without default features, so this runs without an allocator.

use core::fmt;

use serde::Serialize;

use super::{Message, MessageId, Record};

/// Why a record could not be encoded or decoded.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
#[non_exhaustive]
pub enum CodecError {
    /// The output buffer is smaller than the encoded record.
    BufferTooSmall,
    /// The bytes are not a valid postcard-encoded record.
    Malformed,
}

impl fmt::Display for CodecError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            CodecError::BufferTooSmall => f.write_str("buffer too small for the encoded message"),
            CodecError::Malformed => f.write_str("bytes are not a valid encoded message"),
        }
    }
}

impl core::error::Error for CodecError {}

impl<'a> Record<'a> {
    /// Encodes into `buf`, returning the number of bytes written: the bytes
    /// `postcard::to_slice` writes. Fails with
    /// [`CodecError::BufferTooSmall`] if they do not fit.
    pub fn encode(&self, buf: &mut [u8]) -> Result<usize, CodecError> {
        encode(self.id, &self.message, buf)
    }

    /// Decodes a record that borrows from `bytes`; trailing bytes are an
    /// error. Accepts exactly what postcard's decoding of [`Record`] accepts.
    pub fn decode(bytes: &'a [u8]) -> Result<Record<'a>, CodecError> {
        match postcard::take_from_bytes::<Record<'a>>(bytes) {
            Ok((record, [])) => Ok(record),
            _ => Err(CodecError::Malformed),
        }
    }
}

/// A [`Record`] made of a borrowed message: the same fields in the same
/// order, so postcard writes the same bytes, without moving the message
/// into a `Record` first (`send` encodes the caller's message in place).
#[derive(Serialize)]
struct RecordRef<'r, 'a> {
    id: MessageId,
    message: &'r Message<'a>,
}

/// Encodes `id` and `message` as a [`Record`] into `buf`; returns the
/// number of bytes written, or [`CodecError::BufferTooSmall`] if `buf` is
/// shorter than the encoding (what is in `buf` then is unspecified).
pub(crate) fn encode(id: MessageId, message: &Message<'_>, buf: &mut [u8]) -> Result<usize, CodecError> {
    match postcard::to_slice(&RecordRef { id, message }, buf) {
        Ok(written) => Ok(written.len()),
        Err(postcard::Error::SerializeBufferFull) => Err(CodecError::BufferTooSmall),
        // The types hold nothing postcard cannot write (at most
        // `MAX_HEADERS` headers, lengths known up front).
        Err(_) => Err(CodecError::Malformed),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::message::Header;

    #[test]
    fn record_round_trips_with_every_field() {
        let mut message = Message::new("t", b"value")
            .with_key(b"k")
            .with_partition(3)
            .with_timestamp(-5);
        message.push_header("h", b"v").unwrap();
        message
            .headers
            .push(Header {
                name: "n",
                value: None,
            })
            .unwrap();
        let record = Record {
            id: MessageId { journal: 7, seq: 9 },
            message,
        };
        let mut buf = [0u8; 128];
        let n = record.encode(&mut buf).unwrap();
        assert_eq!(Record::decode(&buf[..n]).unwrap(), record);
        assert_eq!(Record::decode(&buf[..n - 1]), Err(CodecError::Malformed));
        assert_eq!(record.encode(&mut buf[..4]), Err(CodecError::BufferTooSmall));
    }

    #[test]
    fn tombstone_has_no_value() {
        let record = Record {
            id: MessageId { journal: 1, seq: 1 },
            message: Message::tombstone("t", b"k"),
        };
        let mut buf = [0u8; 64];
        let n = record.encode(&mut buf).unwrap();
        assert_eq!(Record::decode(&buf[..n]).unwrap().message.value, None);
    }
}
