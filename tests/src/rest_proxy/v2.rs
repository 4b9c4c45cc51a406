//! v2 produce, `POST /topics/{t}` (or `/topics/{t}/partitions/{p}`), as
//! Confluent, Karapace and Redpanda each answer it.
//!
//! | | Confluent | Karapace | Redpanda |
//! |---|---|---|---|
//! | unknown field (`headers`) | ignored | 422 | 400 |
//! | unknown topic | 404 / 40401 | 404 / 40401 | 200, partition 0 error 3 |
//! | missing partition | 404 / 40402 | per record, code 1 | partition error 3 |
//! | `offsets[]` | per record | per record | per partition |
//! | success entry | `error_code: null` | no error fields | no error fields |
//! | failed entry | 50003 / 50002 | 2 / 1, HTTP 422 | Kafka code, whole partition |
//! | null or empty value | Kafka null | empty bytes, offset -1 | Kafka null |

use base64::Engine as _;
use serde_json::{Map, Value, json};

use super::config::Flavor;
use super::http::{Reply, Request, Response, accepts, error, media_type};
use super::produce::{self, Verdict};
use super::state::{Incoming, RecordError, Shared};

const V2_JSON: &str = "application/vnd.kafka.v2+json";
const BINARY_V2: &str = "application/vnd.kafka.binary.v2+json";
const ACCEPTED: [&str; 3] = [V2_JSON, "application/vnd.kafka+json", "application/json"];
const B64: base64::engine::GeneralPurpose = base64::engine::general_purpose::STANDARD;

/// `POST /topics/{topic}[/partitions/{partition}]`.
pub(crate) fn produce(shared: &Shared, request: &Request, topic: &str, path_partition: Option<i32>) -> Reply {
    let flavor = shared.config.flavor;
    let (mime, _) = media_type(request.header("content-type"));
    if mime != BINARY_V2 {
        return Reply::Send(error(415, 415, "HTTP 415 Unsupported Media Type", V2_JSON));
    }
    if !accepts(request.header("accept"), &ACCEPTED) {
        return Reply::Send(error(406, 406, "HTTP 406 Not Acceptable", V2_JSON));
    }
    if shared.config.body_cap.is_some_and(|cap| request.body.len() > cap) {
        return Reply::Send(error(413, 413, "Request Entity Too Large", V2_JSON));
    }
    let hidden = shared.topics_hidden();
    let known = shared.partitions(topic).filter(|_| !hidden);
    if known.is_none() && flavor != Flavor::RedpandaV2 {
        return Reply::Send(unknown_topic(flavor, topic));
    }
    let mut records = match parse(flavor, &request.body) {
        Ok(records) => records,
        Err(refusal) => return Reply::Send(refusal),
    };
    for record in &mut records {
        record.partition = record.partition.or(path_partition);
    }
    let Some(partitions) = known else {
        return Reply::Send(redpanda_unknown_topic(&records));
    };
    if flavor == Flavor::ConfluentV2 || flavor == Flavor::ConfluentV3 {
        let missing = records
            .iter()
            .any(|r| r.partition.is_some_and(|p| !(0..partitions).contains(&p)));
        if missing {
            return Reply::Send(error(404, 40402, "Partition not found.", V2_JSON));
        }
    }
    let fault = shared.take_request_fault();
    if let Some(reply) = produce::before_write(fault.as_ref(), V2_JSON) {
        return reply;
    }
    let karapace_empty: Vec<bool> = records
        .iter()
        .map(|r| r.value.as_ref().is_none_or(Vec::is_empty))
        .collect();
    if flavor == Flavor::KarapaceV2 {
        // Karapace serializes a falsy value as empty bytes: no tombstones.
        for record in &mut records {
            record.value.get_or_insert_with(Vec::new);
        }
    }
    let verdicts = produce::write(shared, topic, &records, flavor == Flavor::RedpandaV2);
    let (status, mut offsets) = match flavor {
        Flavor::KarapaceV2 => karapace_offsets(&verdicts, &karapace_empty),
        Flavor::RedpandaV2 => (200, redpanda_offsets(&verdicts)),
        Flavor::ConfluentV2 | Flavor::ConfluentV3 => (200, confluent_offsets(&verdicts)),
    };
    if let Some(k) = produce::truncation(fault.as_ref()) {
        offsets.truncate(k);
    }
    let body = match flavor {
        Flavor::RedpandaV2 => json!({ "offsets": offsets }),
        _ => json!({ "offsets": offsets, "key_schema_id": null, "value_schema_id": null }),
    };
    let response = Response::new(status, V2_JSON, body.to_string().into_bytes());
    produce::after_write(shared, fault, response)
}

fn unknown_topic(flavor: Flavor, topic: &str) -> Response {
    match flavor {
        Flavor::KarapaceV2 => error(404, 40401, &format!("Topic {topic} not found"), V2_JSON),
        _ => error(404, 40401, &format!("Topic {topic} not found."), V2_JSON),
    }
}

/// Redpanda answers an unknown topic with HTTP 200 and Kafka error 3 for
/// each partition asked for (records without one go to partition 0).
fn redpanda_unknown_topic(records: &[Incoming]) -> Response {
    let mut partitions: Vec<i32> = records.iter().map(|r| r.partition.unwrap_or(0)).collect();
    partitions.sort_unstable();
    partitions.dedup();
    let offsets: Vec<Value> = partitions
        .into_iter()
        .map(|p| json!({"partition": p, "error_code": 3, "offset": -1}))
        .collect();
    let body = json!({ "offsets": offsets });
    Response::new(200, V2_JSON, body.to_string().into_bytes())
}

fn parse(flavor: Flavor, body: &[u8]) -> Result<Vec<Incoming>, Response> {
    let bad = |status: u16, code: i64, message: &str| error(status, code, message, V2_JSON);
    let document: Value =
        serde_json::from_slice(body).map_err(|e| bad(400, 400, &format!("Unexpected character: {e}")))?;
    let Some(top) = document.as_object() else {
        return Err(bad(400, 400, "request must be a JSON object"));
    };
    let strict_top: &[&str] = match flavor {
        Flavor::KarapaceV2 => &[
            "records",
            "key_schema",
            "value_schema",
            "key_schema_id",
            "value_schema_id",
        ],
        Flavor::RedpandaV2 => &["records"],
        _ => &[],
    };
    let unknown_key = |object: &Map<String, Value>, allowed: &[&str]| {
        !allowed.is_empty() && object.keys().any(|k| !allowed.contains(&k.as_str()))
    };
    let invalid_format = || match flavor {
        Flavor::RedpandaV2 => bad(400, 400, "Invalid JSON: unexpected field"),
        _ => bad(422, 422, "Invalid request format"),
    };
    if unknown_key(top, strict_top) {
        return Err(invalid_format());
    }
    let Some(list) = top
        .get("records")
        .and_then(Value::as_array)
        .filter(|l| !l.is_empty())
    else {
        return Err(match flavor {
            Flavor::RedpandaV2 => bad(400, 400, "records must be a non-empty array"),
            _ => bad(422, 422, "records may not be empty"),
        });
    };
    let strict_record: &[&str] = match flavor {
        Flavor::KarapaceV2 | Flavor::RedpandaV2 => &["key", "value", "partition"],
        _ => &[],
    };
    let mut records = Vec::with_capacity(list.len());
    for entry in list {
        let Some(object) = entry.as_object() else {
            return Err(bad(400, 400, "Produce record must be an object"));
        };
        if unknown_key(object, strict_record) {
            return Err(invalid_format());
        }
        let partition = match object.get("partition") {
            None | Some(Value::Null) => None,
            Some(p) => Some(
                p.as_i64()
                    .and_then(|p| i32::try_from(p).ok())
                    .ok_or_else(|| bad(422, 422, "partition must be an integer"))?,
            ),
        };
        records.push(Incoming {
            partition,
            key: binary(object.get("key")).map_err(|m| bad(400, 400, &m))?,
            value: binary(object.get("value")).map_err(|m| bad(400, 400, &m))?,
            headers: Vec::new(),
            timestamp: None,
        });
    }
    Ok(records)
}

fn binary(field: Option<&Value>) -> Result<Option<Vec<u8>>, String> {
    match field {
        None | Some(Value::Null) => Ok(None),
        Some(Value::String(b64)) => B64
            .decode(b64)
            .map(Some)
            .map_err(|_| format!("data=\"{b64}\" is not a base64 string.")),
        Some(other) => Err(format!("data={other} is not a base64 string.")),
    }
}

fn confluent_offsets(verdicts: &[Verdict]) -> Vec<Value> {
    verdicts
        .iter()
        .map(|v| match v.result {
            Ok(offset) => {
                json!({"partition": v.partition, "offset": offset, "error_code": null, "error": null})
            }
            Err(why) => {
                let (code, text) = match why {
                    RecordError::Retriable | RecordError::Throttled => {
                        (50003, "Retriable Kafka error: NOT_LEADER_OR_FOLLOWER")
                    }
                    RecordError::Terminal => (50002, "Kafka error: the record was rejected"),
                    RecordError::TooLarge => (50002, "Kafka error: RecordTooLargeException"),
                    RecordError::NoSuchPartition => (40402, "Partition not found."),
                };
                json!({"partition": null, "offset": null, "error_code": code, "error": text})
            }
        })
        .collect()
}

fn karapace_offsets(verdicts: &[Verdict], empty_value: &[bool]) -> (u16, Vec<Value>) {
    let mut status = 200;
    let offsets = verdicts
        .iter()
        .zip(empty_value)
        .map(|(v, &empty)| match v.result {
            Ok(offset) => {
                let offset = if empty { -1 } else { offset };
                json!({"offset": offset, "partition": v.partition})
            }
            Err(why) => {
                status = 422;
                let (code, text) = match why {
                    RecordError::Retriable | RecordError::Throttled => (2, "NotLeaderForPartitionError"),
                    RecordError::Terminal => (1, "InvalidRecordError"),
                    RecordError::TooLarge => (1, "MessageSizeTooLargeError"),
                    RecordError::NoSuchPartition => (1, "Unrecognized partition"),
                };
                json!({"error_code": code, "error": text})
            }
        })
        .collect();
    (status, offsets)
}

/// One entry per partition touched, in no particular (here: descending)
/// order, base offset or the partition's Kafka error.
fn redpanda_offsets(verdicts: &[Verdict]) -> Vec<Value> {
    let mut partitions: Vec<i32> = verdicts.iter().map(|v| v.partition).collect();
    partitions.sort_unstable_by(|a, b| b.cmp(a));
    partitions.dedup();
    partitions
        .into_iter()
        .map(|p| {
            let mine = verdicts.iter().filter(|v| v.partition == p);
            let failure = mine.clone().find_map(|v| v.result.err());
            match failure {
                Some(why) => {
                    let code = match why {
                        RecordError::Retriable => 6,
                        RecordError::Throttled => 89,
                        RecordError::Terminal => 87,
                        RecordError::TooLarge => 10,
                        RecordError::NoSuchPartition => 3,
                    };
                    json!({"partition": p, "error_code": code, "offset": -1})
                }
                None => {
                    let base = mine.filter_map(|v| v.result.ok()).min().unwrap_or(-1);
                    json!({"partition": p, "offset": base})
                }
            }
        })
        .collect()
}
