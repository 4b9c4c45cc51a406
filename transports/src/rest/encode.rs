//! Records as the proxies want them on the wire.
//!
//! Each record is encoded on its own, once, so that its exact size is known
//! before it is packed into a request: batches are split by encoded size
//! (base64 grows a payload by a third), and a record that cannot fit in any
//! request is found before anything is sent.
//!
//! - v3: one JSON object per record, keys and values as `BINARY` (base64,
//!   so any bytes travel, valid UTF-8 or not), record headers with the
//!   message id first, `partition_id` and an RFC 3339 `timestamp` when set.
//!   A missing key or value is left out (a Kafka null; a tombstone for the
//!   value). Requests are the objects back to back, not an array.
//! - v2: `{"key": b64, "value": b64, "partition": n}` inside
//!   `{"records": [...]}`. v2 has no record headers, so neither the
//!   message id nor the message's own headers travel.

use core::fmt::Write as _;

use base64::Engine as _;
use steadfast_core::{Failure, FailureClass, MESSAGE_ID_HEADER, MESSAGE_ID_LEN, OutgoingRecord};

const B64: base64::engine::GeneralPurpose = base64::engine::general_purpose::STANDARD;

/// Bytes a v2 request adds around its records: `{"records":[` and `]}`.
pub(crate) const V2_FRAME: usize = r#"{"records":[]}"#.len();

/// Encodes one record for v3.
pub(crate) fn v3_record(record: &OutgoingRecord<'_>) -> Result<Vec<u8>, Failure> {
    let message = &record.message;
    let mut out = String::with_capacity(96 + message.data_len() * 4 / 3);
    out.push('{');
    if let Some(partition) = message.partition {
        let _ = write!(out, r#""partition_id":{partition},"#);
    }
    let mut id_text = [0u8; MESSAGE_ID_LEN];
    out.push_str(r#""headers":[{"name":"#);
    push_json_string(&mut out, MESSAGE_ID_HEADER);
    out.push_str(r#","value":""#);
    B64.encode_string(record.id.encode(&mut id_text), &mut out);
    out.push_str("\"}");
    for header in &message.headers {
        out.push_str(r#",{"name":"#);
        push_json_string(&mut out, header.name);
        match header.value {
            Some(value) => {
                out.push_str(r#","value":""#);
                B64.encode_string(value, &mut out);
                out.push_str("\"}");
            }
            None => out.push_str(r#","value":null}"#),
        }
    }
    out.push(']');
    if let Some(key) = message.key {
        out.push_str(r#","key":{"type":"BINARY","data":""#);
        B64.encode_string(key, &mut out);
        out.push_str("\"}");
    }
    if let Some(value) = message.value {
        out.push_str(r#","value":{"type":"BINARY","data":""#);
        B64.encode_string(value, &mut out);
        out.push_str("\"}");
    }
    if let Some(millis) = message.timestamp {
        let Some(stamp) = rfc3339(millis) else {
            return Err(Failure::new(
                FailureClass::Terminal,
                0,
                &format!("timestamp {millis} ms is outside the years 0000-9999"),
            ));
        };
        let _ = write!(out, r#","timestamp":"{stamp}""#);
    }
    out.push('}');
    Ok(out.into_bytes())
}

/// Encodes one record for v2 (an element of the `records` array).
pub(crate) fn v2_record(record: &OutgoingRecord<'_>) -> Vec<u8> {
    let message = &record.message;
    let mut out = String::with_capacity(48 + message.data_len() * 4 / 3);
    out.push('{');
    let mut first = true;
    let mut field = |out: &mut String, name: &str| {
        if !first {
            out.push(',');
        }
        first = false;
        let _ = write!(out, r#""{name}":"#);
    };
    if let Some(key) = message.key {
        field(&mut out, "key");
        out.push('"');
        B64.encode_string(key, &mut out);
        out.push('"');
    }
    if let Some(value) = message.value {
        field(&mut out, "value");
        out.push('"');
        B64.encode_string(value, &mut out);
        out.push('"');
    }
    if let Some(partition) = message.partition {
        field(&mut out, "partition");
        let _ = write!(out, "{partition}");
    }
    out.push('}');
    out.into_bytes()
}

/// Size of a v2 request holding records of these encoded sizes.
pub(crate) fn v2_body_len(sizes: impl Iterator<Item = usize>) -> usize {
    let (count, sum) = sizes.fold((0usize, 0usize), |(n, s), len| (n + 1, s + len));
    V2_FRAME + sum + count.saturating_sub(1)
}

/// Builds a v2 request body.
pub(crate) fn v2_body<'a>(records: impl Iterator<Item = &'a [u8]>) -> Vec<u8> {
    let mut body = Vec::from(&br#"{"records":["#[..]);
    for (i, record) in records.enumerate() {
        if i > 0 {
            body.push(b',');
        }
        body.extend_from_slice(record);
    }
    body.extend_from_slice(b"]}");
    body
}

fn push_json_string(out: &mut String, text: &str) {
    out.push('"');
    for c in text.chars() {
        match c {
            '"' => out.push_str("\\\""),
            '\\' => out.push_str("\\\\"),
            c if (c as u32) < 0x20 => {
                let _ = write!(out, "\\u{:04x}", c as u32);
            }
            c => out.push(c),
        }
    }
    out.push('"');
}

/// Milliseconds since the Unix epoch as `YYYY-MM-DDTHH:MM:SS.mmmZ`, or
/// `None` outside the years RFC 3339 can write.
pub(crate) fn rfc3339(millis: i64) -> Option<String> {
    let secs = millis.div_euclid(1000);
    let ms = millis.rem_euclid(1000);
    let days = secs.div_euclid(86_400);
    let of_day = secs.rem_euclid(86_400);
    let (year, month, day) = civil_from_days(days);
    if !(0..=9999).contains(&year) {
        return None;
    }
    Some(format!(
        "{year:04}-{month:02}-{day:02}T{:02}:{:02}:{:02}.{ms:03}Z",
        of_day / 3600,
        of_day / 60 % 60,
        of_day % 60
    ))
}

/// Proleptic Gregorian date of a day count from 1970-01-01 (the
/// era-based method: 400-year eras of 146 097 days).
fn civil_from_days(days: i64) -> (i64, i64, i64) {
    let z = days + 719_468;
    let era = z.div_euclid(146_097);
    let doe = z - era * 146_097;
    let yoe = (doe - doe / 1460 + doe / 36_524 - doe / 146_096) / 365;
    let doy = doe - (365 * yoe + yoe / 4 - yoe / 100);
    let mp = (5 * doy + 2) / 153;
    let day = doy - (153 * mp + 2) / 5 + 1;
    let month = if mp < 10 { mp + 3 } else { mp - 9 };
    let year = yoe + era * 400 + i64::from(month <= 2);
    (year, month, day)
}

/// A topic name as one URL path segment.
pub(crate) fn path_segment(text: &str) -> String {
    let mut out = String::with_capacity(text.len());
    for byte in text.bytes() {
        if byte.is_ascii_alphanumeric() || b"-._~".contains(&byte) {
            out.push(char::from(byte));
        } else {
            let _ = write!(out, "%{byte:02X}");
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use steadfast_core::{Message, MessageId};

    use super::*;

    fn record(message: Message<'_>) -> OutgoingRecord<'_> {
        OutgoingRecord {
            seq: 7,
            id: MessageId { journal: 1, seq: 7 },
            message,
        }
    }

    #[test]
    fn timestamps_are_rfc3339() {
        assert_eq!(rfc3339(0).as_deref(), Some("1970-01-01T00:00:00.000Z"));
        let stamp = rfc3339(1_612_552_482_000);
        assert_eq!(stamp.as_deref(), Some("2021-02-05T19:14:42.000Z"));
        assert_eq!(
            rfc3339(951_782_400_123).as_deref(),
            Some("2000-02-29T00:00:00.123Z")
        );
        assert_eq!(rfc3339(-1).as_deref(), Some("1969-12-31T23:59:59.999Z"));
        assert_eq!(rfc3339(i64::MAX), None);
    }

    #[test]
    fn v3_record_carries_id_headers_and_binary_data() {
        let mut message = Message::new("t", b"hello").with_key(b"foobar").with_partition(1);
        message.push_header("h\"1", b"Header-1").unwrap_or_default();
        let bytes = v3_record(&record(message.with_timestamp(0))).unwrap_or_default();
        let text = String::from_utf8(bytes).unwrap_or_default();
        assert_eq!(
            text,
            r#"{"partition_id":1,"headers":[{"name":"steadfast-id","value":"MDAwMDAwMDAwMDAwMDAwMS0wMDAwMDAwMDAwMDAwMDA3"},{"name":"h\"1","value":"SGVhZGVyLTE="}],"key":{"type":"BINARY","data":"Zm9vYmFy"},"value":{"type":"BINARY","data":"aGVsbG8="},"timestamp":"1970-01-01T00:00:00.000Z"}"#
        );
    }

    #[test]
    fn v2_record_leaves_out_what_is_missing() {
        let tombstone = v2_record(&record(Message::tombstone("t", b"k")));
        assert_eq!(tombstone, br#"{"key":"aw=="}"#);
        let sizes = [tombstone.len(), tombstone.len()];
        let body = v2_body(sizes.iter().map(|_| tombstone.as_slice()));
        assert_eq!(body.len(), v2_body_len(sizes.into_iter()));
        assert_eq!(path_segment("a b/é"), "a%20b%2F%C3%A9");
    }
}
