//! `journal dump`: every entry on disk as one JSON line, read straight from
//! the segment files (not through recovery), so it shows exactly what is
//! there — including entries recovery would skip.
//!
//! ```json
//! {"segment":1,"offset":64,"kind":"segment","journal":"…","prev_seq":0}
//! {"segment":1,"offset":128,"seq":2,"kind":"message","lane":3,"id":"…-…","topic":"t","partition":null,"key":null,"value":"hi","headers":[],"timestamp":1700000000000}
//! {"segment":1,"offset":4096,"kind":"damaged","error":"checksum mismatch"}
//! ```
//!
//! Kinds: `segment` (a segment header), `message`, `confirm` (lane
//! watermarks), `manifest`, `dead_letter` (reason and the message),
//! `resolve`, `segment_removed`, and `damaged` (the rest of that segment
//! is not read; `journal verify` says what was lost). Bytes that are not
//! UTF-8 are shown base64 under `key_base64` / `value_base64`.

use std::fs::File;
use std::io::{Read, Write};
use std::path::Path;

use base64::Engine;
use base64::engine::general_purpose::STANDARD as BASE64;
use serde_json::{Map, Value, json};
use steadfast::core::journal::entry::{
    DeadLetterEntry, Reader, Resolution, decode_manifest, decode_resolve, decode_segment_removed,
    decode_watermarks,
};
use steadfast::core::journal::format::{
    EntryKind, FRAME_ALIGN, FRAME_HEADER_LEN, FrameHeader, SEGMENT_HEADER_LEN, SegmentHeader,
};
use steadfast::core::{Message, Record};

use super::error::CliError;

/// Largest payload `dump` believes (anything larger is damage).
const MAX_PAYLOAD: u32 = 64 << 20;

/// Writes every entry of the journal in `dir` to `out`. Returns the number
/// of damaged places found.
pub fn dump(dir: &Path, out: &mut dyn Write) -> Result<u64, CliError> {
    let mut ids: Vec<u64> = std::fs::read_dir(dir)
        .map_err(|e| CliError::Journal(format!("cannot list {}: {e}", dir.display())))?
        .filter_map(|e| e.ok())
        .filter_map(|e| {
            e.file_name()
                .to_str()
                .and_then(steadfast::storage::parse_segment_file_name)
        })
        .collect();
    ids.sort_unstable();
    let mut damaged = 0;
    for id in ids {
        let path = dir.join(steadfast::storage::segment_file_name(id));
        let file = File::open(&path)
            .map_err(|e| CliError::Journal(format!("cannot open {}: {e}", path.display())))?;
        match dump_segment(id, &file, out) {
            Ok(n) => damaged += n,
            // The reader went away (`| head`): not an error.
            Err(e) if e.kind() == std::io::ErrorKind::BrokenPipe => return Ok(damaged),
            Err(e) => return Err(CliError::Journal(format!("reading {}: {e}", path.display()))),
        }
    }
    Ok(damaged)
}

fn emit(out: &mut dyn Write, v: &Value) -> std::io::Result<()> {
    serde_json::to_writer(&mut *out, v)?;
    out.write_all(b"\n")
}

fn dump_segment(id: u64, file: &File, out: &mut dyn Write) -> std::io::Result<u64> {
    let mut bytes = Vec::new();
    (&*file).read_to_end(&mut bytes)?;
    let len = bytes.len() as u64;
    let mut damaged = 0;
    match SegmentHeader::decode(&bytes[..bytes.len().min(SEGMENT_HEADER_LEN)]) {
        Ok(header) => emit(
            out,
            &json!({
                "segment": id, "offset": 0, "kind": "segment",
                "journal": format!("{:016x}", header.journal), "prev_seq": header.prev_seq, "bytes": len,
            }),
        )?,
        // The frames behind a damaged header check themselves (recovery
        // salvages them): go on reading them.
        Err(e) => {
            emit(
                out,
                &json!({"segment": id, "offset": 0, "kind": "damaged", "bytes": SEGMENT_HEADER_LEN,
                        "error": format!("bad segment header: {e:?}")}),
            )?;
            damaged += 1;
        }
    }
    let mut at = SEGMENT_HEADER_LEN;
    while at + FRAME_HEADER_LEN <= bytes.len() {
        if bytes[at..at + FRAME_HEADER_LEN].iter().all(|b| *b == 0) {
            // Zeroes after the last entry: space reserved, never written.
            break;
        }
        let Some((frame, payload)) = frame_at(&bytes, at) else {
            // Damage: find the next frame that checks out, and say how
            // many bytes were skipped.
            let next = (at + FRAME_ALIGN..bytes.len())
                .step_by(FRAME_ALIGN)
                .find(|&n| frame_at(&bytes, n).is_some());
            let skipped = next.unwrap_or(bytes.len()) - at;
            let why = if next.is_some() {
                "bad frame (checksum mismatch or corrupt length); skipped to the next valid frame"
            } else {
                "bad frame up to the end of the segment (a torn tail if this is the newest segment)"
            };
            emit(
                out,
                &json!({"segment": id, "offset": at, "kind": "damaged", "bytes": skipped, "error": why}),
            )?;
            damaged += 1;
            match next {
                Some(n) => {
                    at = n;
                    continue;
                }
                None => break,
            }
        };
        let mut v = Map::new();
        v.insert("segment".into(), json!(id));
        v.insert("offset".into(), json!(at));
        v.insert("seq".into(), json!(frame.seq));
        describe(&mut v, frame.kind, frame.lane, payload);
        emit(out, &Value::Object(v))?;
        at += frame.frame_len() as usize;
    }
    Ok(damaged)
}

/// The frame at `at`, if its header and checksum check out.
fn frame_at(bytes: &[u8], at: usize) -> Option<(FrameHeader, &[u8])> {
    let head: &[u8; FRAME_HEADER_LEN] = bytes.get(at..at + FRAME_HEADER_LEN)?.try_into().ok()?;
    let frame = FrameHeader::parse(head);
    if frame.len > MAX_PAYLOAD || EntryKind::from_u8(frame.kind).is_none() {
        return None;
    }
    let start = at + FRAME_HEADER_LEN;
    let payload = bytes.get(start..start + frame.len as usize)?;
    (at + frame.frame_len() as usize <= bytes.len() && frame.verify(head, payload))
        .then_some((frame, payload))
}

/// Adds the kind-specific fields of one entry.
fn describe(v: &mut Map<String, Value>, kind: u8, lane: u16, payload: &[u8]) {
    let mut put = |k: &str, x: Value| {
        v.insert(k.into(), x);
    };
    let undecodable = json!("payload cannot be decoded");
    match EntryKind::from_u8(kind) {
        Some(EntryKind::Message) => {
            put("kind", json!("message"));
            put("lane", json!(lane));
            match Record::decode(payload) {
                Ok(r) => {
                    put("id", json!(r.id.to_string()));
                    message_fields(v, &r.message);
                }
                Err(_) => put("error", undecodable),
            }
        }
        Some(EntryKind::Confirm) => {
            put("kind", json!("confirm"));
            let mut marks = Vec::new();
            let ok = decode_watermarks(&mut Reader::new(payload), |lane, upto| {
                marks.push(json!({"lane": lane, "upto": upto}));
            });
            put("marks", Value::Array(marks));
            if ok.is_err() {
                put("error", undecodable);
            }
        }
        Some(EntryKind::Manifest) => {
            put("kind", json!("manifest"));
            let (mut marks, mut live) = (Vec::new(), Vec::new());
            let ok = decode_manifest(
                payload,
                |lane, upto| marks.push(json!({"lane": lane, "upto": upto})),
                |id| live.push(json!(id)),
            );
            put("marks", Value::Array(marks));
            put("live_segments", Value::Array(live));
            if ok.is_err() {
                put("error", undecodable);
            }
        }
        Some(EntryKind::DeadLetter) => {
            put("kind", json!("dead_letter"));
            match DeadLetterEntry::decode(payload) {
                Ok(dl) => {
                    put("message_seq", json!(dl.message_seq));
                    put("code", json!(dl.code));
                    put("reason", json!(dl.reason));
                    let mut m = Map::new();
                    match Record::decode(dl.record) {
                        Ok(r) => {
                            m.insert("id".into(), json!(r.id.to_string()));
                            message_fields(&mut m, &r.message);
                        }
                        Err(_) => {
                            m.insert("error".into(), json!("record cannot be decoded"));
                        }
                    }
                    v.insert("message".into(), Value::Object(m));
                }
                Err(_) => put("error", undecodable),
            }
        }
        Some(EntryKind::Resolve) => {
            put("kind", json!("resolve"));
            match decode_resolve(payload) {
                Ok((seq, how)) => {
                    put("dead_letter_seq", json!(seq));
                    let how = match how {
                        Resolution::Discarded => "discarded",
                        Resolution::Redriven => "redriven",
                    };
                    put("resolution", json!(how));
                }
                Err(_) => put("error", undecodable),
            }
        }
        Some(EntryKind::SegmentRemoved) => {
            put("kind", json!("segment_removed"));
            match decode_segment_removed(payload) {
                Ok(id) => put("removed_segment", json!(id)),
                Err(_) => put("error", undecodable),
            }
        }
        None => put("kind", json!(format!("unknown({kind})"))),
    }
}

/// Bytes as a JSON string when UTF-8, else base64 under `{name}_base64`.
pub fn put_bytes(v: &mut Map<String, Value>, name: &str, bytes: Option<&[u8]>) {
    match bytes.map(std::str::from_utf8) {
        None => {
            v.insert(name.into(), Value::Null);
        }
        Some(Ok(text)) => {
            v.insert(name.into(), json!(text));
        }
        Some(Err(_)) => {
            let encoded = BASE64.encode(bytes.unwrap_or_default());
            v.insert(format!("{name}_base64"), json!(encoded));
        }
    }
}

/// Topic, partition, key, value, headers and timestamp of a message.
pub fn message_fields(v: &mut Map<String, Value>, m: &Message<'_>) {
    v.insert("topic".into(), json!(m.topic));
    v.insert("partition".into(), json!(m.partition));
    put_bytes(v, "key", m.key);
    put_bytes(v, "value", m.value);
    let headers: Vec<Value> = m
        .headers
        .iter()
        .map(|h| {
            let mut o = Map::new();
            o.insert("name".into(), json!(h.name));
            put_bytes(&mut o, "value", h.value);
            Value::Object(o)
        })
        .collect();
    v.insert("headers".into(), Value::Array(headers));
    v.insert("timestamp".into(), json!(m.timestamp));
}
