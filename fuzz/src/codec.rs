//! The record codec ([`Record::encode`], [`Record::decode`]): decoding
//! arbitrary bytes never panics, whatever decodes encodes back (in no more
//! bytes) to a record that decodes the same, and a record built from
//! the input survives a round trip, failing cleanly in a buffer too small.
//!
//! The first input byte chooses: even, decode the rest as a record; odd,
//! build a record from the rest ([`record_from`]) and round-trip it.

use steadfast_core::{CodecError, Header, MAX_HEADERS, Message, MessageId, Record};

/// The fuzz target's check.
pub fn check(data: &[u8]) {
    let Some((&mode, rest)) = data.split_first() else {
        return;
    };
    if mode & 1 == 0 {
        decode_arbitrary(rest);
    } else {
        let strings = Strings::new(rest);
        if let Some(record) = record_from(&strings) {
            round_trip(&record, mode >> 1);
        }
    }
}

fn decode_arbitrary(bytes: &[u8]) {
    let Ok(record) = Record::decode(bytes) else {
        return;
    };
    // Varints may arrive longer than needed (postcard accepts that too), so
    // the bytes need not come back; the record must, in no more bytes.
    let mut buf = vec![0u8; bytes.len()];
    let n = record
        .encode(&mut buf)
        .expect("a decoded record fits in the bytes it came from");
    assert_eq!(Record::decode(&buf[..n]).as_ref(), Ok(&record));
}

fn round_trip(record: &Record<'_>, shortfall: u8) {
    let mut buf = vec![0u8; 64 + record.message.data_len() + 8 * MAX_HEADERS];
    let n = record
        .encode(&mut buf)
        .expect("the buffer is larger than any encoding");
    assert_eq!(Record::decode(&buf[..n]).as_ref(), Ok(record));
    // Every shorter buffer is too small, never a panic or a short write.
    let short = n.saturating_sub(usize::from(shortfall) + 1);
    if short < n {
        assert_eq!(record.encode(&mut buf[..short]), Err(CodecError::BufferTooSmall));
    }
    // Every strict prefix is malformed.
    assert_eq!(Record::decode(&buf[..short]), Err(CodecError::Malformed));
}

/// The input cut into the pieces a record is built from.
pub struct Strings<'a> {
    numbers: [u64; 4],
    flags: u32,
    pieces: Vec<&'a [u8]>,
}

impl<'a> Strings<'a> {
    /// 32 bytes of numbers and flags, then pieces separated by `0xff`.
    pub fn new(data: &'a [u8]) -> Self {
        let mut fixed = [0u8; 36];
        let (head, tail) = data.split_at(data.len().min(36));
        fixed[..head.len()].copy_from_slice(head);
        let word = |i: usize| u64::from_le_bytes(fixed[8 * i..8 * i + 8].try_into().unwrap_or([0; 8]));
        Strings {
            numbers: [word(0), word(1), word(2), word(3)],
            flags: u32::from_le_bytes(fixed[32..36].try_into().unwrap_or([0; 4])),
            pieces: tail.split(|&b| b == 0xff).collect(),
        }
    }
}

/// A record from the input: ids and numbers from the fixed part, topic,
/// key, value and headers from the pieces (text made valid UTF-8 lossily
/// by dropping what is not). `None` when the pieces are not text.
pub fn record_from<'a>(s: &'a Strings<'a>) -> Option<Record<'a>> {
    let text =
        |i: usize| -> Option<&'a str> { std::str::from_utf8(s.pieces.get(i).copied().unwrap_or(b"")).ok() };
    let bytes = |i: usize| s.pieces.get(i).copied();
    let bit = |n: u32| s.flags & (1 << n) != 0;
    let mut message = Message {
        topic: text(0)?,
        partition: bit(0).then_some(s.numbers[2] as i32),
        key: if bit(1) { bytes(1).or(Some(b"")) } else { None },
        value: if bit(2) { bytes(2).or(Some(b"")) } else { None },
        headers: heapless::Vec::new(),
        timestamp: bit(3).then_some(s.numbers[3] as i64),
    };
    let headers = (s.flags >> 8) as usize % (MAX_HEADERS + 1);
    for h in 0..headers {
        let name = text(3 + 2 * h).unwrap_or("");
        let value = if bit(4 + (h as u32 % 4)) {
            None
        } else {
            bytes(4 + 2 * h).or(Some(b""))
        };
        message.headers.push(Header { name, value }).ok()?;
    }
    Some(Record {
        id: MessageId {
            journal: s.numbers[0],
            seq: s.numbers[1],
        },
        message,
    })
}
