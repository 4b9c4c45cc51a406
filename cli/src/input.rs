//! Reading `produce`'s input: plain lines or JSON lines, from stdin or a
//! file, on a thread of its own so that a slow pipe never stalls delivery
//! or the progress display.
//!
//! Every line becomes an [`Item`] carrying its 1-based line number, so an
//! invalid line (or a message the journal refuses) is reported as
//! `line N: why`. In `abort` mode the reader stops at the first invalid
//! line: nothing after it is read, let alone accepted.
//!
//! JSON lines are objects with the fields `key`, `value`, `headers`
//! (`{"name": "value", …}`), `partition` and `timestamp` (milliseconds
//! since the epoch). `value: null` is a tombstone; a value that is not a
//! string (a number, an object) is stored as its compact JSON text;
//! `key_base64` / `value_base64` carry binary data. Unknown fields are
//! refused, so a typo never goes unnoticed.

use std::fs::File;
use std::io::{self, BufRead, BufReader};
use std::path::{Path, PathBuf};
use std::sync::mpsc::SyncSender;

use base64::Engine;
use base64::engine::general_purpose::STANDARD as BASE64;
use serde_json::Value;
use steadfast::{MAX_MESSAGE_HEADERS, OwnedMessage};

use super::error::CliError;

/// How input lines are read.
#[derive(Clone, Copy, Debug, PartialEq, Eq, clap::ValueEnum)]
pub enum Format {
    /// Each line is a message value (bytes, any encoding; the newline is
    /// removed; an empty line is an empty value).
    Lines,
    /// Each line is a JSON object: key, value, headers, partition,
    /// timestamp (blank lines are skipped).
    Json,
}

/// What to do with an invalid line.
#[derive(Clone, Copy, Debug, PartialEq, Eq, clap::ValueEnum)]
pub enum OnInvalid {
    /// Stop reading at the first invalid line (exit code 1); every line
    /// before it is journaled and delivered, nothing after it is read.
    Abort,
    /// Report the line on stderr, skip it, and go on.
    Skip,
}

/// What every message gets unless its JSON line says otherwise.
#[derive(Clone, Debug)]
pub struct Defaults {
    /// Destination topic.
    pub topic: String,
    /// Key for every message.
    pub key: Option<Vec<u8>>,
    /// Partition for every message.
    pub partition: Option<i32>,
    /// Headers added to every message.
    pub headers: Vec<(String, Option<Vec<u8>>)>,
}

/// One line of input, parsed.
#[derive(Debug)]
pub enum Item {
    /// A message to send.
    Message {
        /// 1-based line number.
        line: u64,
        /// The message.
        message: OwnedMessage,
    },
    /// A line that is not a valid message.
    Invalid {
        /// 1-based line number.
        line: u64,
        /// Why.
        reason: String,
    },
    /// Reading failed (the reader stops).
    ReadError {
        /// The line being read.
        line: u64,
        /// The OS error.
        error: io::Error,
    },
}

/// Where input comes from.
pub enum Source {
    /// Standard input.
    Stdin,
    /// A file, already opened.
    File(PathBuf, File),
}

impl Source {
    /// Opens `--input PATH` (`-` is stdin); an unreadable file is a usage
    /// error, reported before anything is started.
    pub fn open(path: Option<&Path>) -> Result<Source, CliError> {
        let Some(path) = path.filter(|p| *p != Path::new("-")) else {
            return Ok(Source::Stdin);
        };
        let unreadable = |e: &dyn std::fmt::Display| {
            CliError::Input(format!("cannot read input file {}: {e}", path.display()))
        };
        if std::fs::metadata(path).map_err(|e| unreadable(&e))?.is_dir() {
            return Err(unreadable(&"it is a directory"));
        }
        let file = File::open(path).map_err(|e| unreadable(&e))?;
        Ok(Source::File(path.to_path_buf(), file))
    }

    /// A short name for messages (`stdin` or the path).
    pub fn name(&self) -> String {
        match self {
            Source::Stdin => "stdin".into(),
            Source::File(path, _) => path.display().to_string(),
        }
    }
}

/// Reads `source` line by line on a new thread, sending one [`Item`] per
/// line; the channel closes at the end of input (or after the first
/// invalid line in [`OnInvalid::Abort`] mode).
pub fn spawn_reader(
    source: Source,
    format: Format,
    on_invalid: OnInvalid,
    defaults: Defaults,
    items: SyncSender<Item>,
) -> io::Result<()> {
    std::thread::Builder::new()
        .name("steadfast-input".into())
        .spawn(move || {
            let reader: Box<dyn BufRead> = match source {
                Source::Stdin => Box::new(BufReader::with_capacity(1 << 16, io::stdin())),
                Source::File(_, file) => Box::new(BufReader::with_capacity(1 << 16, file)),
            };
            read_all(reader, format, on_invalid, &defaults, &items);
        })
        .map(drop)
}

fn read_all(
    mut reader: Box<dyn BufRead>,
    format: Format,
    on_invalid: OnInvalid,
    defaults: &Defaults,
    items: &SyncSender<Item>,
) {
    let mut buf = Vec::with_capacity(256);
    let mut line = 0u64;
    loop {
        buf.clear();
        line += 1;
        match reader.read_until(b'\n', &mut buf) {
            Ok(0) => return,
            Ok(_) => {}
            Err(error) => {
                let _ = items.send(Item::ReadError { line, error });
                return;
            }
        }
        if buf.last() == Some(&b'\n') {
            buf.pop();
            if buf.last() == Some(&b'\r') {
                buf.pop();
            }
        }
        let parsed = match format {
            Format::Lines => Ok(Some(line_message(&buf, defaults))),
            Format::Json => json_message(&buf, defaults),
        };
        let item = match parsed {
            Ok(Some(message)) => Item::Message { line, message },
            Ok(None) => continue,
            Err(reason) => Item::Invalid { line, reason },
        };
        let stop = matches!(item, Item::Invalid { .. }) && on_invalid == OnInvalid::Abort;
        if items.send(item).is_err() || stop {
            return;
        }
    }
}

fn base(defaults: &Defaults) -> OwnedMessage {
    OwnedMessage {
        topic: defaults.topic.clone().into(),
        partition: defaults.partition,
        key: defaults.key.clone(),
        value: None,
        headers: defaults.headers.clone(),
        // When it was read: the time it happened, not when a link came back.
        timestamp: Some(steadfast::clock::unix_millis()),
    }
}

fn line_message(line: &[u8], defaults: &Defaults) -> OwnedMessage {
    let mut message = base(defaults);
    message.value = Some(line.to_vec());
    message
}

/// Parses one JSON line; `Ok(None)` for a blank line.
pub fn json_message(line: &[u8], defaults: &Defaults) -> Result<Option<OwnedMessage>, String> {
    if line.iter().all(u8::is_ascii_whitespace) {
        return Ok(None);
    }
    let text = std::str::from_utf8(line)
        .map_err(|e| format!("not valid UTF-8 (at byte {})", e.valid_up_to() + 1))?;
    let Strict(value) = serde_json::from_str(text).map_err(|e| format!("invalid JSON: {e}"))?;
    let fields = match value {
        Value::Object(fields) => fields,
        other => {
            return Err(format!(
                "expected a JSON object such as {{\"key\":\"k\",\"value\":\"v\"}}, found {}",
                kind_of(&other)
            ));
        }
    };
    let mut message = base(defaults);
    let mut has_value = false;
    for (name, field) in fields {
        match name.as_str() {
            "key" => message.key = text_or_json(&field),
            "key_base64" => message.key = Some(decode_base64(&name, &field)?),
            "value" | "value_base64" if has_value => {
                return Err("give either \"value\" or \"value_base64\", not both".into());
            }
            "value" => {
                message.value = text_or_json(&field);
                has_value = true;
            }
            "value_base64" => {
                message.value = Some(decode_base64(&name, &field)?);
                has_value = true;
            }
            "headers" => message.headers.extend(headers(&field)?),
            "partition" => {
                let p = field
                    .as_u64()
                    .and_then(|p| i32::try_from(p).ok())
                    .ok_or_else(|| format!("\"partition\" must be a non-negative integer, found {field}"))?;
                message.partition = Some(p);
            }
            "timestamp" => {
                let t = field.as_i64().ok_or_else(|| {
                    format!("\"timestamp\" must be an integer (milliseconds since the epoch), found {field}")
                })?;
                message.timestamp = Some(t);
            }
            other => {
                return Err(format!(
                    "unknown field \"{other}\" (known: key, value, headers, partition, timestamp, key_base64, value_base64)"
                ));
            }
        }
    }
    if !has_value {
        return Err("missing \"value\" (use \"value\": null for a tombstone)".into());
    }
    if message.headers.len() > MAX_MESSAGE_HEADERS {
        return Err(format!(
            "{} headers; a message may carry at most {MAX_MESSAGE_HEADERS}",
            message.headers.len()
        ));
    }
    Ok(Some(message))
}

/// A JSON value whose objects give each key once: serde_json's own `Value`
/// keeps the last of repeated keys silently, and a line that says two
/// things must not be half-believed.
struct Strict(Value);

impl<'de> serde::Deserialize<'de> for Strict {
    fn deserialize<D: serde::Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        d.deserialize_any(StrictVisitor).map(Strict)
    }
}

struct StrictVisitor;

impl<'de> serde::de::Visitor<'de> for StrictVisitor {
    type Value = Value;

    fn expecting(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("a JSON value")
    }

    fn visit_bool<E>(self, v: bool) -> Result<Value, E> {
        Ok(Value::Bool(v))
    }

    fn visit_i64<E>(self, v: i64) -> Result<Value, E> {
        Ok(Value::from(v))
    }

    fn visit_u64<E>(self, v: u64) -> Result<Value, E> {
        Ok(Value::from(v))
    }

    fn visit_f64<E>(self, v: f64) -> Result<Value, E> {
        Ok(serde_json::Number::from_f64(v).map_or(Value::Null, Value::Number))
    }

    fn visit_str<E>(self, v: &str) -> Result<Value, E> {
        Ok(Value::String(v.to_owned()))
    }

    fn visit_string<E>(self, v: String) -> Result<Value, E> {
        Ok(Value::String(v))
    }

    fn visit_unit<E>(self) -> Result<Value, E> {
        Ok(Value::Null)
    }

    fn visit_none<E>(self) -> Result<Value, E> {
        Ok(Value::Null)
    }

    fn visit_some<D: serde::Deserializer<'de>>(self, d: D) -> Result<Value, D::Error> {
        d.deserialize_any(StrictVisitor)
    }

    fn visit_seq<A: serde::de::SeqAccess<'de>>(self, mut seq: A) -> Result<Value, A::Error> {
        let mut items = Vec::new();
        while let Some(Strict(item)) = seq.next_element()? {
            items.push(item);
        }
        Ok(Value::Array(items))
    }

    fn visit_map<A: serde::de::MapAccess<'de>>(self, mut map: A) -> Result<Value, A::Error> {
        let mut fields = serde_json::Map::new();
        while let Some(key) = map.next_key::<String>()? {
            let Strict(value) = map.next_value()?;
            if fields.contains_key(&key) {
                return Err(serde::de::Error::custom(format!(
                    "duplicate key \"{key}\" (each key may appear once in an object)"
                )));
            }
            fields.insert(key, value);
        }
        Ok(Value::Object(fields))
    }
}

fn kind_of(v: &Value) -> &'static str {
    match v {
        Value::Null => "null",
        Value::Bool(_) => "a boolean",
        Value::Number(_) => "a number",
        Value::String(_) => "a string",
        Value::Array(_) => "an array",
        Value::Object(_) => "an object",
    }
}

/// A string's bytes; `null` is none; anything else its compact JSON text.
fn text_or_json(v: &Value) -> Option<Vec<u8>> {
    match v {
        Value::Null => None,
        Value::String(s) => Some(s.as_bytes().to_vec()),
        other => Some(other.to_string().into_bytes()),
    }
}

fn decode_base64(name: &str, v: &Value) -> Result<Vec<u8>, String> {
    let text = v
        .as_str()
        .ok_or_else(|| format!("\"{name}\" must be a base64 string, found {}", kind_of(v)))?;
    BASE64
        .decode(text)
        .map_err(|e| format!("\"{name}\" is not valid base64: {e}"))
}

/// A header: name and value (`None`: a null header).
type Header = (String, Option<Vec<u8>>);

/// `{"name": "value" | null, …}`, or `[{"name": …, "value": …}, …]` (the
/// file transport's own output form).
fn headers(v: &Value) -> Result<Vec<Header>, String> {
    let bad = || "\"headers\" must be an object {\"name\": \"value\", …}".to_string();
    match v {
        Value::Object(map) => map
            .iter()
            .map(|(name, value)| match value {
                Value::Null => Ok((name.clone(), None)),
                Value::String(s) => Ok((name.clone(), Some(s.as_bytes().to_vec()))),
                _ => Err(format!("header \"{name}\" must be a string or null")),
            })
            .collect(),
        Value::Array(list) => list
            .iter()
            .map(|h| {
                let name = h.get("name").and_then(Value::as_str).ok_or_else(bad)?;
                Ok((name.to_owned(), h.get("value").and_then(text_or_json)))
            })
            .collect(),
        _ => Err(bad()),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn defaults() -> Defaults {
        Defaults {
            topic: "t".into(),
            key: None,
            partition: None,
            headers: Vec::new(),
        }
    }

    fn parse(line: &str) -> Result<Option<OwnedMessage>, String> {
        json_message(line.as_bytes(), &defaults())
    }

    #[test]
    fn json_fields() {
        let m = parse(r#"{"key":"k","value":"v","headers":{"h":"1","n":null},"partition":2,"timestamp":5}"#)
            .unwrap()
            .unwrap();
        assert_eq!(m.key.as_deref(), Some(&b"k"[..]));
        assert_eq!(m.value.as_deref(), Some(&b"v"[..]));
        assert_eq!(m.partition, Some(2));
        assert_eq!(m.timestamp, Some(5));
        assert_eq!(m.headers.len(), 2);
        let m = parse(r#"{"value":{"temp":21}}"#).unwrap().unwrap();
        assert_eq!(m.value.as_deref(), Some(&br#"{"temp":21}"#[..]));
        let m = parse(r#"{"key":"k","value":null}"#).unwrap().unwrap();
        assert_eq!(m.value, None);
        assert_eq!(parse("   ").unwrap(), None);
    }

    #[test]
    fn json_errors_say_why() {
        assert!(parse("{").unwrap_err().contains("invalid JSON"));
        assert!(parse("3").unwrap_err().contains("found a number"));
        assert!(parse(r#"{"key":"k"}"#).unwrap_err().contains("missing \"value\""));
        assert!(
            parse(r#"{"value":"v","vaule":1}"#)
                .unwrap_err()
                .contains("unknown field \"vaule\"")
        );
        assert!(
            parse(r#"{"value":"v","partition":-1}"#)
                .unwrap_err()
                .contains("partition")
        );
        assert!(parse(r#"{"value_base64":"!!"}"#).unwrap_err().contains("base64"));
    }

    #[test]
    fn duplicate_keys_are_invalid_and_named() {
        let e = parse(r#"{"value":"a","value":"b"}"#).unwrap_err();
        assert!(e.contains("duplicate key \"value\""), "{e}");
        let e = parse(r#"{"key":"k","value":"v","key":"j"}"#).unwrap_err();
        assert!(e.contains("duplicate key \"key\""), "{e}");
        // Inside a JSON value or a headers object too: one of the two
        // would be dropped when the value is written out again.
        let e = parse(r#"{"value":{"t":1,"t":2}}"#).unwrap_err();
        assert!(e.contains("duplicate key \"t\""), "{e}");
        let e = parse(r#"{"value":"v","headers":{"h":"1","h":"2"}}"#).unwrap_err();
        assert!(e.contains("duplicate key \"h\""), "{e}");
        // Equal keys in different objects are fine, and numbers, arrays
        // and nesting survive as before.
        let m = parse(r#"{"value":{"a":{"a":1.5,"b":[1,-2,{"a":null}]}},"key":"a"}"#)
            .unwrap()
            .unwrap();
        assert_eq!(
            m.value.as_deref(),
            Some(&br#"{"a":{"a":1.5,"b":[1,-2,{"a":null}]}}"#[..])
        );
    }
}
