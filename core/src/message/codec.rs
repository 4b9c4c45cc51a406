//! A [`Record`]'s journal payload, encoded and decoded by hand
//! ([`Record::encode`], [`Record::decode`], failing with [`CodecError`]):
//! byte for byte what postcard makes of the serde-derived types (the format of
//! `docs/journal-format.md`, "Message payload"), without serde in the way.
//!
//! Why by hand: `send` encodes every message, and through serde each field
//! is a separate trip through the generic serializer (a bounds check and a
//! small `memcpy` per varint, tag and string); profiles of the send loop
//! showed that as a large share of the core's time. Here a record is a
//! straight sequence of writes into the caller's slice. Decoding runs for
//! every record handed to a transport, so it is done the same way.
//!
//! Why the same bytes: journals already written must stay readable, and
//! readers built with postcard must read new ones. The serde derives on the
//! types stay, as the executable specification: `core/tests/record_codec.rs`
//! checks that encoding matches `postcard::to_slice` on arbitrary records
//! (and fails alike on short buffers), and that decoding accepts and rejects
//! exactly the byte strings postcard does.
//!
//! The format, in postcard's terms (LEB128 varints, zig-zag for signed
//! integers, `Option` as a 0/1 tag byte, strings and bytes as a varint
//! length then the bytes, sequences as a varint count then the elements,
//! struct fields in declaration order):
//!
//! ```text
//! varint journal, varint seq                      MessageId
//! varint len, topic bytes (UTF-8)
//! 0 | 1 zigzag-varint partition (i32)
//! 0 | 1 varint len, key bytes
//! 0 | 1 varint len, value bytes                   0: tombstone
//! varint count (<= 16), count x (varint len, name bytes (UTF-8), 0 | 1 varint len, value bytes)
//! 0 | 1 zigzag-varint timestamp (i64)
//! ```
//!
//! Decoding is as strict as postcard's: a varint may not run past the width
//! of its type (10 bytes for u64, 5 for i32; lengths are `usize`-wide, as
//! postcard reads them on the target), an option tag is 0 or 1, strings are
//! UTF-8, trailing bytes are an error. It never panics.

use core::fmt;

use super::{Header, MAX_HEADERS, Message, MessageId, Record};

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
        decode(bytes)
    }
}

/// Encodes `id` and `message` as a [`Record`] into `buf`; returns the
/// number of bytes written, or [`CodecError::BufferTooSmall`] if `buf` is
/// shorter than the encoding (what is in `buf` then is unspecified).
///
/// Takes the message by reference so `send` can encode without moving it
/// into a `Record` first.
pub(crate) fn encode(id: MessageId, message: &Message<'_>, buf: &mut [u8]) -> Result<usize, CodecError> {
    let mut out = Out { buf, len: 0 };
    out.varint(id.journal)?;
    out.varint(id.seq)?;
    out.bytes(message.topic.as_bytes())?;
    match message.partition {
        None => out.byte(0)?,
        Some(p) => {
            out.byte(1)?;
            out.varint(u64::from(zigzag_i32(p)))?;
        }
    }
    out.opt_bytes(message.key)?;
    out.opt_bytes(message.value)?;
    out.varint(message.headers.len() as u64)?;
    for header in &message.headers {
        out.bytes(header.name.as_bytes())?;
        out.opt_bytes(header.value)?;
    }
    match message.timestamp {
        None => out.byte(0)?,
        Some(t) => {
            out.byte(1)?;
            out.varint(zigzag_i64(t))?;
        }
    }
    Ok(out.len)
}

/// Decodes a record that borrows from `bytes`; anything but exactly one
/// well-formed record is [`CodecError::Malformed`].
pub(crate) fn decode(bytes: &[u8]) -> Result<Record<'_>, CodecError> {
    let mut input = In { rest: bytes };
    let id = MessageId {
        journal: input.varint(U64)?,
        seq: input.varint(U64)?,
    };
    let topic = input.str()?;
    let partition = match input.tag()? {
        false => None,
        true => Some(unzigzag_i32(input.varint(U32)?)),
    };
    let key = input.opt_bytes()?;
    let value = input.opt_bytes()?;
    let count = input.len()?;
    if count > MAX_HEADERS {
        return Err(CodecError::Malformed);
    }
    let mut headers = heapless::Vec::new();
    for _ in 0..count {
        let header = Header {
            name: input.str()?,
            value: input.opt_bytes()?,
        };
        headers.push(header).map_err(|_| CodecError::Malformed)?;
    }
    let timestamp = match input.tag()? {
        false => None,
        true => Some(unzigzag_i64(input.varint(U64)?)),
    };
    if !input.rest.is_empty() {
        return Err(CodecError::Malformed);
    }
    Ok(Record {
        id,
        message: Message {
            topic,
            partition,
            key,
            value,
            headers,
            timestamp,
        },
    })
}

fn zigzag_i32(n: i32) -> u32 {
    ((n << 1) ^ (n >> 31)) as u32
}

fn zigzag_i64(n: i64) -> u64 {
    ((n << 1) ^ (n >> 63)) as u64
}

/// Only called on values [`U32`] admitted, which fit in 32 bits.
fn unzigzag_i32(n: u64) -> i32 {
    let n = n as u32;
    ((n >> 1) as i32) ^ -((n & 1) as i32)
}

fn unzigzag_i64(n: u64) -> i64 {
    ((n >> 1) as i64) ^ -((n & 1) as i64)
}

/// The output slice and how much of it is written.
struct Out<'b> {
    buf: &'b mut [u8],
    len: usize,
}

impl Out<'_> {
    /// The next `n` bytes of the slice, now counted as written.
    #[inline]
    fn take(&mut self, n: usize) -> Result<&mut [u8], CodecError> {
        let start = self.len;
        let end = start.checked_add(n).ok_or(CodecError::BufferTooSmall)?;
        let dst = self.buf.get_mut(start..end).ok_or(CodecError::BufferTooSmall)?;
        self.len = end;
        Ok(dst)
    }

    #[inline]
    fn byte(&mut self, b: u8) -> Result<(), CodecError> {
        let dst = self.buf.get_mut(self.len).ok_or(CodecError::BufferTooSmall)?;
        *dst = b;
        self.len += 1;
        Ok(())
    }

    /// LEB128: seven bits a byte, least significant first, the high bit set
    /// on every byte but the last. (Postcard writes u32 and usize the same
    /// way as u64, so one function serves them all.)
    #[inline]
    fn varint(&mut self, mut v: u64) -> Result<(), CodecError> {
        if v < 0x80 {
            return self.byte(v as u8);
        }
        let significant = u64::BITS - v.leading_zeros();
        let dst = self.take(significant.div_ceil(7) as usize)?;
        if let Some((last, init)) = dst.split_last_mut() {
            for b in init {
                *b = v as u8 | 0x80;
                v >>= 7;
            }
            *last = v as u8;
        }
        Ok(())
    }

    /// A length, then the bytes.
    #[inline]
    fn bytes(&mut self, bytes: &[u8]) -> Result<(), CodecError> {
        self.varint(bytes.len() as u64)?;
        self.take(bytes.len())?.copy_from_slice(bytes);
        Ok(())
    }

    #[inline]
    fn opt_bytes(&mut self, bytes: Option<&[u8]>) -> Result<(), CodecError> {
        match bytes {
            None => self.byte(0),
            Some(bytes) => {
                self.byte(1)?;
                self.bytes(bytes)
            }
        }
    }
}

/// How wide a varint may be: postcard's `varint_max` and
/// `max_of_last_byte` for the type read.
#[derive(Clone, Copy)]
struct Width {
    /// Bytes at most.
    bytes: u32,
    /// Largest value the last of those bytes may hold.
    last: u8,
}

const fn width(bits: u32) -> Width {
    Width {
        bytes: bits.div_ceil(7),
        last: ((1u32 << (bits % 7)) - 1) as u8,
    }
}

const U32: Width = width(u32::BITS);
const U64: Width = width(u64::BITS);
/// Lengths and counts: postcard reads them as `usize`, so their width
/// depends on the target (10 bytes on 64-bit, 5 on 32-bit).
const USIZE: Width = width(usize::BITS);

/// The bytes not yet decoded.
struct In<'a> {
    rest: &'a [u8],
}

impl<'a> In<'a> {
    #[inline]
    fn byte(&mut self) -> Result<u8, CodecError> {
        let (&b, rest) = self.rest.split_first().ok_or(CodecError::Malformed)?;
        self.rest = rest;
        Ok(b)
    }

    #[inline]
    fn varint(&mut self, width: Width) -> Result<u64, CodecError> {
        let mut value = 0u64;
        for i in 0..width.bytes {
            let b = self.byte()?;
            value |= u64::from(b & 0x7f) << (7 * i);
            if b & 0x80 == 0 {
                if i + 1 == width.bytes && b > width.last {
                    return Err(CodecError::Malformed);
                }
                return Ok(value);
            }
        }
        Err(CodecError::Malformed)
    }

    #[inline]
    fn len(&mut self) -> Result<usize, CodecError> {
        usize::try_from(self.varint(USIZE)?).map_err(|_| CodecError::Malformed)
    }

    /// An option tag: 0 is none, 1 is some.
    #[inline]
    fn tag(&mut self) -> Result<bool, CodecError> {
        match self.byte()? {
            0 => Ok(false),
            1 => Ok(true),
            _ => Err(CodecError::Malformed),
        }
    }

    #[inline]
    fn bytes(&mut self) -> Result<&'a [u8], CodecError> {
        let len = self.len()?;
        let (bytes, rest) = self.rest.split_at_checked(len).ok_or(CodecError::Malformed)?;
        self.rest = rest;
        Ok(bytes)
    }

    #[inline]
    fn str(&mut self) -> Result<&'a str, CodecError> {
        core::str::from_utf8(self.bytes()?).map_err(|_| CodecError::Malformed)
    }

    #[inline]
    fn opt_bytes(&mut self) -> Result<Option<&'a [u8]>, CodecError> {
        match self.tag()? {
            false => Ok(None),
            true => self.bytes().map(Some),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

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

    /// Postcard's `varint_max` and `max_of_last_byte` for each width.
    #[test]
    fn widths_are_postcards() {
        assert_eq!((U32.bytes, U32.last), (5, 0x0f));
        assert_eq!((U64.bytes, U64.last), (10, 0x01));
        assert_eq!((width(16).bytes, width(16).last), (3, 0x03));
        let expected = if usize::BITS == 64 { (10, 0x01) } else { (5, 0x0f) };
        assert_eq!((USIZE.bytes, USIZE.last), expected);
    }

    #[test]
    fn zigzag_round_trips_at_the_extremes() {
        for n in [0, -1, 1, i32::MIN, i32::MAX] {
            assert_eq!(unzigzag_i32(u64::from(zigzag_i32(n))), n);
        }
        for n in [0, -1, 1, i64::MIN, i64::MAX] {
            assert_eq!(unzigzag_i64(zigzag_i64(n)), n);
        }
        assert_eq!(zigzag_i32(-1), 1);
        assert_eq!(zigzag_i64(i64::MIN), u64::MAX);
    }
}
