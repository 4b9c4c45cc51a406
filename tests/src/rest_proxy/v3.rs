//! Confluent REST Proxy v3: the cluster list and the streamed produce.
//!
//! `POST /v3/clusters/{id}/topics/{t}/records` takes JSON objects back to
//! back, answers HTTP 200 at once and streams one result per record
//! (separated by `\r\n`, chunked), each with its own `error_code`. A
//! record that cannot be read (bad base64, invalid UTF-8 making the JSON
//! invalid) gets a 400 result; a JSON syntax error ends the stream, since
//! nothing after it can be framed.

use base64::Engine as _;
use serde_json::{Value, json};

use super::http::{Reply, Request, Response, accepts, error, media_type};
use super::produce::{self, Verdict};
use super::state::{Incoming, RecordError, Shared};

const JSON: &str = "application/json";
const B64: base64::engine::GeneralPurpose = base64::engine::general_purpose::STANDARD;

/// `GET /v3/clusters`.
pub(crate) fn clusters(shared: &Shared) -> Response {
    let id = &shared.config.cluster_id;
    let body = json!({
        "kind": "KafkaClusterList",
        "metadata": {"self": "http://localhost/v3/clusters", "next": null},
        "data": [{
            "kind": "KafkaCluster",
            "metadata": {"self": format!("http://localhost/v3/clusters/{id}"),
                         "resource_name": format!("crn:///kafka={id}")},
            "cluster_id": id,
            "controller": {"related": format!("http://localhost/v3/clusters/{id}/brokers/1")},
        }],
    });
    Response::new(200, JSON, body.to_string().into_bytes())
}

/// One entry of the request stream: a record, or why it is not one.
enum Entry {
    Record(Incoming),
    Bad(String),
}

/// `POST /v3/clusters/{cluster}/topics/{topic}/records`.
pub(crate) fn produce(shared: &Shared, request: &Request, cluster: &str, topic: &str) -> Reply {
    let (mime, has_params) = media_type(request.header("content-type"));
    if mime != JSON {
        return Reply::Send(error(415, 415, "HTTP 415 Unsupported Media Type", JSON));
    }
    if has_params {
        // Some versions refuse `application/json; charset=UTF-8`.
        return Reply::Send(error(
            400,
            400,
            "HTTP 400 Bad Request: unsupported media type parameter",
            JSON,
        ));
    }
    if !accepts(request.header("accept"), &[JSON]) {
        return Reply::Send(error(406, 406, "HTTP 406 Not Acceptable", JSON));
    }
    if shared.config.body_cap.is_some_and(|cap| request.body.len() > cap) {
        return Reply::Send(error(413, 413, "Request Entity Too Large", JSON));
    }
    if cluster != shared.config.cluster_id {
        return Reply::Send(error(
            404,
            404,
            &format!("Cluster {cluster} cannot be found."),
            JSON,
        ));
    }
    if shared.partitions(topic).is_none() || shared.topics_hidden() {
        let message = "This server does not host this topic-partition.";
        return Reply::Send(error(404, 404, message, JSON));
    }
    let entries = parse_stream(&request.body);
    let fault = shared.take_request_fault();
    if let Some(reply) = produce::before_write(fault.as_ref(), JSON) {
        return reply;
    }
    let records: Vec<Incoming> = entries
        .iter()
        .filter_map(|e| match e {
            Entry::Record(r) => Some(r.clone()),
            Entry::Bad(_) => None,
        })
        .collect();
    let mut verdicts = produce::write(shared, topic, &records, false).into_iter();
    let mut chunks = Vec::with_capacity(entries.len());
    for entry in &entries {
        let result = match entry {
            Entry::Bad(message) => json!({"error_code": 400, "message": message}),
            Entry::Record(record) => match verdicts.next() {
                Some(verdict) => result_json(shared, topic, record, verdict),
                None => json!({"error_code": 500, "message": "internal"}),
            },
        };
        chunks.push(format!("{result}\r\n").into_bytes());
    }
    if let Some(k) = produce::truncation(fault.as_ref()) {
        chunks.truncate(k);
    }
    produce::after_write(shared, fault, Response::streamed(200, JSON, chunks))
}

fn result_json(shared: &Shared, topic: &str, record: &Incoming, verdict: Verdict) -> Value {
    let size = |data: &Option<Vec<u8>>| match data {
        Some(bytes) => json!({"type": "BINARY", "size": bytes.len()}),
        None => Value::Null,
    };
    match verdict.result {
        Ok(offset) => json!({
            "error_code": 200,
            "cluster_id": shared.config.cluster_id,
            "topic_name": topic,
            "partition_id": verdict.partition,
            "offset": offset,
            "timestamp": record.timestamp.as_deref().unwrap_or("2023-03-09T14:07:23.592Z"),
            "key": size(&record.key),
            "value": size(&record.value),
        }),
        Err(why) => {
            let (code, message) = match why {
                RecordError::Retriable => (50003, "Retriable Kafka error: NOT_LEADER_OR_FOLLOWER"),
                RecordError::Terminal => (50002, "Kafka error: the record was rejected"),
                RecordError::Throttled => (429, "Request rate limit exceeded"),
                RecordError::NoSuchPartition => (404, "This server does not host this topic-partition."),
                RecordError::TooLarge => (413, "The record is larger than max.message.bytes"),
            };
            json!({"error_code": code, "message": message})
        }
    }
}

fn parse_stream(body: &[u8]) -> Vec<Entry> {
    let mut entries = Vec::new();
    let mut stream = serde_json::Deserializer::from_slice(body).into_iter::<Value>();
    loop {
        match stream.next() {
            None => return entries,
            Some(Ok(value)) => entries.push(match parse_record(&value) {
                Ok(record) => Entry::Record(record),
                Err(message) => Entry::Bad(format!("Bad Request: {message}")),
            }),
            Some(Err(e)) => {
                entries.push(Entry::Bad(format!("Bad Request: Unexpected character: {e}")));
                return entries;
            }
        }
    }
}

fn parse_record(value: &Value) -> Result<Incoming, String> {
    let object = value.as_object().ok_or("a record must be a JSON object")?;
    let partition = match object.get("partition_id") {
        None | Some(Value::Null) => None,
        Some(p) => Some(
            p.as_i64()
                .and_then(|p| i32::try_from(p).ok())
                .ok_or("partition_id must be an integer")?,
        ),
    };
    let mut headers = Vec::new();
    if let Some(list) = object.get("headers").filter(|v| !v.is_null()) {
        for header in list.as_array().ok_or("headers must be an array")? {
            let name = header
                .get("name")
                .and_then(Value::as_str)
                .ok_or("a header needs a string name")?;
            let value = match header.get("value") {
                None | Some(Value::Null) => None,
                Some(Value::String(b64)) => Some(
                    B64.decode(b64)
                        .map_err(|_| format!("header {name} value is not a base64 string."))?,
                ),
                Some(_) => return Err(format!("header {name} value must be base64 or null")),
            };
            headers.push((name.to_owned(), value));
        }
    }
    let timestamp = match object.get("timestamp") {
        None | Some(Value::Null) => None,
        Some(Value::String(t)) if looks_like_rfc3339(t) => Some(t.clone()),
        Some(other) => return Err(format!("timestamp={other} is not an RFC 3339 date-time")),
    };
    Ok(Incoming {
        partition,
        key: data(object.get("key"))?,
        value: data(object.get("value"))?,
        headers,
        timestamp,
    })
}

/// `{"type": "BINARY" | "STRING" | "JSON", "data": …}`; missing or null
/// data is a Kafka null.
fn data(field: Option<&Value>) -> Result<Option<Vec<u8>>, String> {
    let Some(field) = field.filter(|v| !v.is_null()) else {
        return Ok(None);
    };
    let kind = field.get("type").and_then(Value::as_str).unwrap_or("");
    let data = match field.get("data") {
        None | Some(Value::Null) => return Ok(None),
        Some(data) => data,
    };
    match (kind, data) {
        ("BINARY", Value::String(b64)) => B64
            .decode(b64)
            .map(Some)
            .map_err(|_| format!("data={data} is not a base64 string.")),
        ("STRING", Value::String(text)) => Ok(Some(text.clone().into_bytes())),
        ("JSON", any) => Ok(Some(any.to_string().into_bytes())),
        ("BINARY" | "STRING", _) => Err(format!("data={data} is not a string.")),
        _ => Err(format!("unsupported data type `{kind}`")),
    }
}

/// `YYYY-MM-DDTHH:MM:SS[.fff](Z|±HH:MM)`, checked by shape.
fn looks_like_rfc3339(text: &str) -> bool {
    let bytes = text.as_bytes();
    let digits =
        |range: core::ops::Range<usize>| bytes.get(range).is_some_and(|d| d.iter().all(u8::is_ascii_digit));
    let shape = digits(0..4)
        && bytes.get(4) == Some(&b'-')
        && digits(5..7)
        && bytes.get(7) == Some(&b'-')
        && digits(8..10)
        && matches!(bytes.get(10), Some(b'T' | b't'))
        && digits(11..13)
        && bytes.get(13) == Some(&b':')
        && digits(14..16)
        && bytes.get(16) == Some(&b':')
        && digits(17..19);
    let zone = text.get(19..).unwrap_or("");
    let zone = match zone.strip_prefix('.') {
        Some(rest) => rest.trim_start_matches(|c: char| c.is_ascii_digit()),
        None => zone,
    };
    shape && (zone == "Z" || zone == "z" || (zone.len() == 6 && zone.starts_with(['+', '-'])))
}
