//! The CLI's JSON-lines input ([`steadfast_cli::input::json_message`]):
//! never a panic, and a message it accepts survives being written back as
//! a JSON line (bytes as base64, headers in the list form) and read again.

use base64::Engine as _;
use base64::engine::general_purpose::STANDARD as BASE64;
use serde_json::{Value, json};
use steadfast_cli::input::{Defaults, json_message};

/// The defaults every line is read with (a key and a header, so lines that
/// override them are covered).
pub fn defaults() -> Defaults {
    Defaults {
        topic: "fuzz".into(),
        key: Some(b"default-key".to_vec()),
        partition: None,
        headers: vec![("origin".into(), Some(b"fuzz".to_vec()))],
    }
}

/// The fuzz target's check.
pub fn check(data: &[u8]) {
    let defaults = defaults();
    let Ok(Some(message)) = json_message(data, &defaults) else {
        return;
    };
    let b64 = |b: &Option<Vec<u8>>| {
        b.as_ref()
            .map_or(Value::Null, |b| Value::String(BASE64.encode(b)))
    };
    let headers: Vec<Value> = message
        .headers
        .iter()
        // The defaults' headers come back from the defaults.
        .skip(defaults.headers.len())
        .map(|(name, value)| match value {
            Some(v) => json!({"name": name, "value": String::from_utf8_lossy(v)}),
            None => json!({"name": name, "value": null}),
        })
        .collect();
    // Header values go through text: only round-trip them when they are.
    if message
        .headers
        .iter()
        .any(|(_, v)| v.as_ref().is_some_and(|v| std::str::from_utf8(v).is_err()))
    {
        return;
    }
    let mut line = json!({ "headers": headers });
    match &message.value {
        Some(_) => line["value_base64"] = b64(&message.value),
        None => line["value"] = Value::Null,
    }
    match &message.key {
        Some(_) => line["key_base64"] = b64(&message.key),
        None => line["key"] = Value::Null,
    }
    if let Some(p) = message.partition {
        line["partition"] = json!(p);
    }
    if let Some(t) = message.timestamp {
        line["timestamp"] = json!(t);
    }
    let text = line.to_string();
    let again = json_message(text.as_bytes(), &defaults)
        .unwrap_or_else(|e| panic!("written back as {text}, refused: {e}"))
        .unwrap_or_else(|| panic!("written back as {text}, read as blank"));
    assert_eq!(again.key, message.key, "{text}");
    assert_eq!(again.value, message.value, "{text}");
    assert_eq!(again.partition, message.partition, "{text}");
    assert_eq!(again.headers, message.headers, "{text}");
    assert_eq!(again.topic, message.topic, "{text}");
}
