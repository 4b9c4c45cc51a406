//! The record codec (`Record::encode`/`decode`, postcard through the serde
//! derives) against postcard applied to a whole `Record` and against the
//! documented field map: `send` encodes a borrowed message (a private
//! `RecordRef`), which must give the very bytes `postcard::to_slice` gives
//! for the `Record` (and fail alike when they do not fit), and decoding must
//! accept exactly what postcard accepts with no trailing bytes. Journals
//! written by earlier builds depend on it; `the_field_map_is_the_documented_one`
//! pins the bytes of docs/journal-format.md.
#![allow(clippy::unwrap_used)]

use proptest::prelude::*;
use steadfast_core::{CodecError, Header, MAX_HEADERS, Message, MessageId, Record};

/// The owned parts of an arbitrary record.
#[derive(Clone, Debug)]
struct Parts {
    journal: u64,
    seq: u64,
    topic: String,
    partition: Option<i32>,
    key: Option<Vec<u8>>,
    value: Option<Vec<u8>>,
    headers: Vec<(String, Option<Vec<u8>>)>,
    timestamp: Option<i64>,
}

impl Parts {
    fn record(&self) -> Record<'_> {
        let mut headers = heapless::Vec::new();
        for (name, value) in &self.headers {
            headers
                .push(Header {
                    name,
                    value: value.as_deref(),
                })
                .unwrap();
        }
        Record {
            id: MessageId {
                journal: self.journal,
                seq: self.seq,
            },
            message: Message {
                topic: &self.topic,
                partition: self.partition,
                key: self.key.as_deref(),
                value: self.value.as_deref(),
                headers,
                timestamp: self.timestamp,
            },
        }
    }
}

/// u64s of every varint length, the extremes most of all.
fn wide_u64() -> impl Strategy<Value = u64> {
    prop_oneof![
        any::<u64>(),
        (0u64..300),
        (0u64..300).prop_map(|d| u64::MAX - d),
        (0u32..64, any::<u64>()).prop_map(|(bits, v)| v >> bits),
    ]
}

fn wide_i32() -> impl Strategy<Value = i32> {
    prop_oneof![
        any::<i32>(),
        (-200i32..200),
        (0i32..100).prop_map(|d| i32::MAX - d),
        (0i32..100).prop_map(|d| i32::MIN + d),
    ]
}

fn wide_i64() -> impl Strategy<Value = i64> {
    prop_oneof![
        any::<i64>(),
        (-200i64..200),
        (0i64..100).prop_map(|d| i64::MAX - d),
        (0i64..100).prop_map(|d| i64::MIN + d),
        (0u32..64, any::<i64>()).prop_map(|(bits, v)| v >> bits),
    ]
}

/// Byte strings, some long enough for two- and three-byte lengths.
fn blob(max: usize) -> impl Strategy<Value = Vec<u8>> {
    prop_oneof![
        4 => prop::collection::vec(any::<u8>(), 0..40),
        1 => prop::collection::vec(any::<u8>(), 0..max),
    ]
}

/// A header: short or long name (two-byte length), value or none.
fn header() -> impl Strategy<Value = (String, Option<Vec<u8>>)> {
    (
        prop_oneof![".{0,12}", "[a-z]{120,140}"],
        proptest::option::of(blob(300)),
    )
}

fn parts() -> impl Strategy<Value = Parts> {
    (
        (wide_u64(), wide_u64()),
        prop_oneof![".{0,30}", "\\PC{100,200}"],
        proptest::option::of(wide_i32()),
        proptest::option::of(blob(20_000)),
        proptest::option::of(blob(2_000)),
        prop_oneof![
            3 => prop::collection::vec(header(), 0..4),
            1 => prop::collection::vec(header(), MAX_HEADERS..=MAX_HEADERS),
            1 => prop::collection::vec(header(), 0..=MAX_HEADERS),
        ],
        proptest::option::of(wide_i64()),
    )
        .prop_map(
            |((journal, seq), topic, partition, key, value, headers, timestamp)| Parts {
                journal,
                seq,
                topic,
                partition,
                key,
                value,
                headers,
                timestamp,
            },
        )
}

/// postcard's encoding of `record` through the serde derives.
fn postcard_bytes(record: &Record<'_>) -> Vec<u8> {
    let mut buf = vec![0u8; 64 << 10];
    let n = postcard::to_slice(record, &mut buf).unwrap().len();
    buf.truncate(n);
    buf
}

/// postcard's decoding, with `Record::decode`'s rule (no trailing bytes).
fn postcard_decode(bytes: &[u8]) -> Option<Record<'_>> {
    match postcard::take_from_bytes::<Record<'_>>(bytes) {
        Ok((record, [])) => Some(record),
        _ => None,
    }
}

/// Decodes with both and requires the same answer.
fn same_decoding(bytes: &[u8]) -> Result<(), TestCaseError> {
    let ours = Record::decode(bytes);
    let theirs = postcard_decode(bytes);
    match (&ours, &theirs) {
        (Ok(a), Some(b)) => prop_assert_eq!(a, b),
        (Err(e), None) => prop_assert_eq!(*e, CodecError::Malformed),
        _ => prop_assert!(
            false,
            "decode {:?}, postcard {:?} for {:02x?}",
            ours,
            theirs,
            bytes
        ),
    }
    Ok(())
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(512))]

    #[test]
    fn encoding_is_postcards_byte_for_byte(parts in parts()) {
        let record = parts.record();
        let expected = postcard_bytes(&record);
        let mut buf = vec![0xa5u8; expected.len() + 64];
        let n = record.encode(&mut buf).unwrap();
        prop_assert_eq!(&buf[..n], &expected[..]);
        // Exactly enough room is enough.
        let mut exact = vec![0u8; expected.len()];
        prop_assert_eq!(record.encode(&mut exact), Ok(expected.len()));
        prop_assert_eq!(&exact, &expected);
        // And the bytes read back, the same as postcard reads them.
        prop_assert_eq!(&Record::decode(&buf[..n]).unwrap(), &record);
        same_decoding(&buf[..n])?;
    }

    #[test]
    fn a_short_buffer_fails_as_postcard_does(parts in parts(), cut in any::<prop::sample::Index>()) {
        let record = parts.record();
        let len = postcard_bytes(&record).len();
        let mut buf = vec![0u8; len];
        // Every length below the encoding's around its fields' edges, and one
        // at random.
        let short = (0..len.min(64)).chain(len.saturating_sub(64)..len).chain([cut.index(len)]);
        for short in short {
            prop_assert_eq!(record.encode(&mut buf[..short]), Err(CodecError::BufferTooSmall), "room {}", short);
            prop_assert!(
                matches!(postcard::to_slice(&record, &mut buf[..short]), Err(postcard::Error::SerializeBufferFull)),
                "postcard fitted {} bytes into {}", len, short
            );
        }
    }

    #[test]
    fn damaged_encodings_decode_as_postcard_decodes_them(
        parts in parts(),
        edits in prop::collection::vec((any::<prop::sample::Index>(), any::<u8>(), 0u8..5), 1..4),
    ) {
        let record = parts.record();
        let mut bytes = postcard_bytes(&record);
        for (at, byte, how) in edits {
            let i = at.index(bytes.len() + 1);
            match how {
                0 if i < bytes.len() => bytes[i] = byte,
                1 if i < bytes.len() => bytes[i] ^= 1 << (byte % 8),
                2 => bytes.insert(i, byte),
                3 if i < bytes.len() => { bytes.remove(i); }
                _ => bytes.truncate(i),
            }
        }
        same_decoding(&bytes)?;
    }

    #[test]
    fn arbitrary_bytes_decode_as_postcard_decodes_them(bytes in prop::collection::vec(any::<u8>(), 0..64)) {
        same_decoding(&bytes)?;
    }
}

/// A record whose every field is set, and its encoding split at fields.
fn fields() -> Vec<Vec<u8>> {
    vec![
        vec![0x07],                   // journal
        vec![0x09],                   // seq
        vec![0x01, b't'],             // topic
        vec![0x01, 0x06],             // partition Some(3)
        vec![0x01, 0x01, b'k'],       // key
        vec![0x01, 0x01, b'v'],       // value
        vec![0x01, 0x01, b'h', 0x00], // headers: one, value none
        vec![0x01, 0x09],             // timestamp Some(-5)
    ]
}

fn with(replaced: usize, by: &[u8]) -> Vec<u8> {
    let mut out = Vec::new();
    for (i, field) in fields().iter().enumerate() {
        out.extend_from_slice(if i == replaced { by } else { field });
    }
    out
}

#[test]
fn the_field_map_is_the_documented_one() {
    let bytes = with(usize::MAX, &[]);
    let record = Record::decode(&bytes).unwrap();
    assert_eq!(record.id, MessageId { journal: 7, seq: 9 });
    assert_eq!(record.message.partition, Some(3));
    assert_eq!(record.message.timestamp, Some(-5));
    let mut buf = [0u8; 64];
    let n = record.encode(&mut buf).unwrap();
    assert_eq!(&buf[..n], &bytes[..]);
}

/// Edge cases of the format, each checked against postcard: non-minimal
/// varints, varints at and past their type's width, bad option tags, too
/// many headers, invalid UTF-8, trailing bytes.
#[test]
fn edge_cases_decode_as_postcard_decodes_them() {
    let mut cases: Vec<Vec<u8>> = Vec::new();
    let u64_max = [0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0x01];
    for journal in [
        &[0x80, 0x00][..],
        &u64_max,
        &[0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0x02],
        &[0x80, 0x80, 0x80, 0x80, 0x80, 0x80, 0x80, 0x80, 0x80, 0x00],
        &[0x80, 0x80, 0x80, 0x80, 0x80, 0x80, 0x80, 0x80, 0x80, 0x80, 0x00],
        &[0x80],
    ] {
        cases.push(with(0, journal));
    }
    for partition in [
        &[0x01, 0xff, 0xff, 0xff, 0xff, 0x0f][..],
        &[0x01, 0xff, 0xff, 0xff, 0xff, 0x10],
        &[0x01, 0xfe, 0xff, 0xff, 0xff, 0x0f],
        &[0x01, 0x80, 0x80, 0x80, 0x80, 0x00],
        &[0x01, 0x80, 0x80, 0x80, 0x80, 0x80, 0x00],
        &[0x02, 0x06],
        &[0x00],
    ] {
        cases.push(with(3, partition));
    }
    for timestamp in [
        &[0x01, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0x01][..],
        &[0x01, 0xfe, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0x01],
        &[0x01, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0x03],
        &[0x01],
        &[0xff, 0x00],
    ] {
        cases.push(with(7, timestamp));
    }
    // Topic: invalid UTF-8, a non-minimal length, a length past the end.
    cases.push(with(2, &[0x01, 0xff]));
    cases.push(with(2, &[0x02, 0xc3, 0xa9]));
    cases.push(with(2, &[0x81, 0x00, b't']));
    cases.push(with(2, &[0x7f, b't']));
    cases.push(with(
        2,
        &[0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0x01],
    ));
    // Key and value tags.
    cases.push(with(4, &[0x02, 0x01, b'k']));
    cases.push(with(5, &[0x00]));
    // Headers: none, the most, one too many, a bad name, a count past the end.
    let header = [0x01, b'h', 0x01, 0x00];
    for count in [0usize, 1, 15, 16, 17, 200] {
        let mut field = vec![];
        if count < 128 {
            field.push(count as u8);
        } else {
            field.extend_from_slice(&[(count as u8) | 0x80, (count >> 7) as u8]);
        }
        for _ in 0..count {
            field.extend_from_slice(&header);
        }
        cases.push(with(6, &field));
    }
    cases.push(with(6, &[0x01, 0x01, 0xfe, 0x00]));
    cases.push(with(6, &[0x03, 0x01, b'h', 0x00]));
    // Trailing and missing bytes.
    let mut trailing = with(usize::MAX, &[]);
    trailing.push(0);
    cases.push(trailing);
    let whole = with(usize::MAX, &[]);
    for cut in 0..whole.len() {
        cases.push(whole[..cut].to_vec());
    }

    for bytes in &cases {
        let ours = Record::decode(bytes);
        let theirs = postcard_decode(bytes);
        match (&ours, &theirs) {
            (Ok(a), Some(b)) => assert_eq!(a, b, "{bytes:02x?}"),
            (Err(CodecError::Malformed), None) => {}
            _ => panic!("decode {ours:?}, postcard {theirs:?} for {bytes:02x?}"),
        }
    }
    // Some of them are valid: the comparison saw both outcomes.
    assert!(cases.iter().any(|b| Record::decode(b).is_ok()));
    assert!(cases.iter().any(|b| Record::decode(b).is_err()));
}
