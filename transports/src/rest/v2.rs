//! The v2 produce answer, as three server families write it.
//!
//! `{"offsets": [...]}` means different things depending on who wrote it:
//!
//! - Confluent: one entry per record, in order; success has
//!   `"error_code": null`, failure has `"partition": null` and a REST code
//!   (50003 retriable, 50002 not, 40101, 40301; very old: 2 / 1).
//! - Karapace: one entry per record, in order; success has no error fields,
//!   failure has no partition and code 2 (retriable) or 1 (not). When any
//!   record failed the status is 422 but the others were written: the
//!   entries are read whatever the status.
//! - Redpanda: one entry per *partition* (base offset), in no particular
//!   order, with a Kafka protocol code when that partition's batch failed.
//!   Every record sent to that partition shares its outcome.
//!
//! The two shapes are told apart from the entries themselves: a failed
//! entry that names its partition is Redpanda's (Confluent and Karapace
//! never name a partition on failure), an explicit `"error_code": null` or
//! a failed entry without a partition is per-record, and otherwise the
//! count decides (one entry per record, or one per distinct partition).
//!
//! A record whose result cannot be pinned down for certain (Redpanda chose
//! its partition and only some partitions failed; the answer is short) is
//! "outcome unknown": it is sent again, never confirmed on a guess.

use std::collections::HashMap;

use serde_json::Value;
use steadfast_core::{Failure, FailureClass, Outcome};

use super::classify::{kafka_failure, rest_record_failure};
use super::http::Answer;
use super::v3::unknown;

/// One `offsets[]` entry.
#[derive(Debug)]
struct Entry {
    partition: Option<i64>,
    offset: Option<i64>,
    code: Option<i64>,
    /// `"error_code": null` was written out (Confluent's success).
    null_code: bool,
    message: String,
}

impl Entry {
    fn parse(value: &Value) -> Entry {
        let code_field = value.get("error_code");
        Entry {
            partition: value.get("partition").and_then(Value::as_i64),
            offset: value.get("offset").and_then(Value::as_i64),
            code: code_field.and_then(Value::as_i64).filter(|&c| c != 0),
            null_code: code_field.is_some_and(Value::is_null),
            message: value
                .get("error")
                .or_else(|| value.get("message"))
                .and_then(Value::as_str)
                .unwrap_or("")
                .to_owned(),
        }
    }

    fn failed(&self) -> bool {
        self.code.is_some()
    }

    /// A success must say where the record went; `{}` says nothing.
    fn says_success(&self) -> bool {
        !self.failed() && (self.partition.is_some() || self.offset.is_some())
    }
}

/// True when this answer carries per-record (or per-partition) results
/// that must be read, whatever the HTTP status (Karapace's 422).
pub(crate) fn has_offsets(answer: &Answer) -> bool {
    answer.is_json()
        && serde_json::from_slice::<Value>(&answer.body)
            .ok()
            .is_some_and(|v| v.get("offsets").is_some_and(Value::is_array))
}

/// The answer to a v2 produce of `partitions.len()` records (each with the
/// partition it asked for, if any): one outcome per record, in order.
pub(crate) fn results(answer: &Answer, partitions: &[Option<i32>]) -> Vec<Outcome> {
    let count = partitions.len();
    if !answer.is_json() {
        let mime = answer.mime().unwrap_or_default();
        let why = format!("answer is not JSON (content type `{mime}`); records may be written");
        return vec![unknown(&why); count];
    }
    let parsed: Option<Value> = serde_json::from_slice(&answer.body).ok();
    let Some(entries) = parsed.as_ref().and_then(|v| v.get("offsets")?.as_array()) else {
        let why = match &answer.body_error {
            Some(broke) => broke.reason.to_string(),
            None => format!("answer has no offsets list: `{}`", answer.snippet()),
        };
        return vec![unknown(&why); count];
    };
    let entries: Vec<Entry> = entries.iter().map(Entry::parse).collect();
    let retry_after = answer.retry_after_ms;
    let per_partition_marker = entries.iter().any(|e| e.failed() && e.partition.is_some());
    let per_record_marker = entries
        .iter()
        .any(|e| e.null_code || (e.failed() && e.partition.is_none()));
    let per_record = if per_record_marker {
        true
    } else if per_partition_marker {
        false
    } else if entries.len() == count && lines_up(&entries, partitions) {
        true
    } else {
        !distinct_partitions(&entries)
    };
    if per_record {
        per_record_outcomes(&entries, partitions, retry_after)
    } else {
        per_partition_outcomes(&entries, partitions, retry_after)
    }
}

/// Entry `i` does not contradict the partition record `i` asked for.
fn lines_up(entries: &[Entry], partitions: &[Option<i32>]) -> bool {
    entries
        .iter()
        .zip(partitions)
        .all(|(e, asked)| match (e.partition, asked) {
            (Some(got), Some(asked)) => got == i64::from(*asked),
            _ => true,
        })
}

fn distinct_partitions(entries: &[Entry]) -> bool {
    let mut seen = HashMap::new();
    entries
        .iter()
        .all(|e| e.partition.is_some_and(|p| seen.insert(p, ()).is_none()))
}

fn per_record_outcomes(
    entries: &[Entry],
    partitions: &[Option<i32>],
    retry_after: Option<u64>,
) -> Vec<Outcome> {
    let count = partitions.len();
    if entries.len() > count {
        let why = format!("answer has {} results for {count} records", entries.len());
        return vec![unknown(&why); count];
    }
    let mut outcomes = Vec::with_capacity(count);
    for (entry, asked) in entries.iter().zip(partitions) {
        let outcome = if let Some(code) = entry.code {
            Outcome::Failed(with_wait(rest_record_failure(code, &entry.message), retry_after))
        } else if !entry.says_success() {
            unknown("result entry says neither success nor failure")
        } else {
            match (asked, entry.partition) {
                (Some(asked), Some(got)) if i64::from(*asked) != got => unknown(&format!(
                    "result is for partition {got}, record asked for {asked}"
                )),
                _ => Outcome::Confirmed {
                    partition: entry
                        .partition
                        .and_then(|p| i32::try_from(p).ok())
                        .or(*asked)
                        .unwrap_or(-1),
                    offset: entry.offset.unwrap_or(-1),
                },
            }
        };
        outcomes.push(outcome);
    }
    let why = format!("answer has {} results for {count} records", entries.len());
    outcomes.resize(count, unknown(&why));
    outcomes
}

fn per_partition_outcomes(
    entries: &[Entry],
    partitions: &[Option<i32>],
    retry_after: Option<u64>,
) -> Vec<Outcome> {
    let mut by_partition: HashMap<i64, &Entry> = HashMap::new();
    for entry in entries {
        if let Some(p) = entry.partition {
            by_partition.entry(p).or_insert(entry);
        }
    }
    // Offsets (base + position in the partition's batch) are exact only
    // when every record's partition is known.
    let exact_offsets = entries.len() == 1 || partitions.iter().all(Option::is_some);
    let mut position: HashMap<i64, i64> = HashMap::new();
    let mut outcomes = Vec::with_capacity(partitions.len());
    for asked in partitions {
        let entry = match asked {
            Some(p) => by_partition.get(&i64::from(*p)).copied(),
            None if entries.len() == 1 => entries.first(),
            None => None,
        };
        let outcome = match entry {
            Some(entry) => {
                let partition = entry.partition.unwrap_or(-1);
                let slot = position.entry(partition).or_insert(0);
                let offset = match entry.offset {
                    Some(base) if base >= 0 && exact_offsets => base + *slot,
                    _ => -1,
                };
                *slot += 1;
                partition_outcome(entry, offset, retry_after)
            }
            // Some Redpanda versions answer an unknown topic with one
            // entry, for partition 0, whatever partitions were asked for.
            None if topic_unknown(entries) => partition_outcome(&entries[0], -1, None),
            None => match asked {
                Some(p) => unknown(&format!("answer has no result for partition {p}")),
                None => unplaced_outcome(entries, retry_after),
            },
        };
        outcomes.push(outcome);
    }
    outcomes
}

fn partition_outcome(entry: &Entry, offset: i64, retry_after: Option<u64>) -> Outcome {
    match entry.code {
        Some(code) => Outcome::Failed(with_wait(kafka_failure(code, &entry.message), retry_after)),
        None => Outcome::Confirmed {
            partition: entry.partition.and_then(|p| i32::try_from(p).ok()).unwrap_or(-1),
            offset,
        },
    }
}

/// Every entry says "unknown topic or partition" (Kafka code 3).
fn topic_unknown(entries: &[Entry]) -> bool {
    !entries.is_empty() && entries.iter().all(|e| e.code == Some(3))
}

/// A record whose partition the proxy chose, with several partitions in
/// the answer: only a verdict shared by all of them applies to it.
fn unplaced_outcome(entries: &[Entry], retry_after: Option<u64>) -> Outcome {
    if entries.is_empty() {
        return unknown("answer has no results");
    }
    if entries.iter().all(Entry::says_success) {
        return Outcome::Confirmed {
            partition: -1,
            offset: -1,
        };
    }
    if entries.iter().all(Entry::failed) {
        let failures: Vec<Failure> = entries
            .iter()
            .filter_map(|e| Some(kafka_failure(e.code?, &e.message)))
            .collect();
        if failures.iter().any(|f| f.class == FailureClass::Unknown) {
            return unknown("a partition's write may have happened");
        }
        return match failures.iter().all(|f| f.class == failures[0].class) {
            true => Outcome::Failed(with_wait(failures[0].clone(), retry_after)),
            false => Outcome::Failed(Failure::new(
                FailureClass::Retriable,
                failures[0].code,
                "every partition failed, with different errors",
            )),
        };
    }
    unknown("some partitions failed and the proxy chose this record's partition")
}

fn with_wait(mut failure: Failure, retry_after: Option<u64>) -> Failure {
    if failure.class == FailureClass::Retriable && failure.retry_after.is_none() {
        failure.retry_after = retry_after;
    }
    failure
}

#[cfg(test)]
mod tests {
    use super::super::test_support::class;
    use super::*;

    fn answer(status: u16, body: &str) -> Answer {
        super::super::test_support::answer(status, "application/vnd.kafka.v2+json", body)
    }

    #[test]
    fn confluent_one_entry_per_record() {
        let body = r#"{"offsets":[{"partition":0,"offset":5,"error_code":null,"error":null},
            {"partition":null,"offset":null,"error_code":50003,"error":"retry"},
            {"partition":null,"offset":null,"error_code":50002,"error":"no"}]}"#;
        let out = results(&answer(200, body), &[None, None, None]);
        assert_eq!(
            out[0],
            Outcome::Confirmed {
                partition: 0,
                offset: 5
            }
        );
        assert_eq!(class(&out[1]), Some(FailureClass::Retriable));
        assert_eq!(class(&out[2]), Some(FailureClass::Terminal));
    }

    #[test]
    fn karapace_partial_failure_in_422() {
        let body = r#"{"offsets":[{"offset":3,"partition":1},{"error_code":2,"error":"x"},
            {"offset":4,"partition":1}],"key_schema_id":null,"value_schema_id":null}"#;
        let reply = answer(422, body);
        assert!(has_offsets(&reply));
        let out = results(&reply, &[None, None, None]);
        assert_eq!(
            out[0],
            Outcome::Confirmed {
                partition: 1,
                offset: 3
            }
        );
        assert_eq!(class(&out[1]), Some(FailureClass::Retriable));
        assert_eq!(
            out[2],
            Outcome::Confirmed {
                partition: 1,
                offset: 4
            }
        );
    }

    #[test]
    fn redpanda_one_entry_per_partition() {
        let body = r#"{"offsets":[{"partition":1,"error_code":6,"offset":-1},{"partition":0,"offset":10}]}"#;
        let out = results(&answer(200, body), &[Some(0), Some(1), Some(0)]);
        assert_eq!(
            out[0],
            Outcome::Confirmed {
                partition: 0,
                offset: 10
            }
        );
        assert_eq!(class(&out[1]), Some(FailureClass::Retriable));
        assert_eq!(
            out[2],
            Outcome::Confirmed {
                partition: 0,
                offset: 11
            }
        );
        // The proxy chose the partitions and only one failed: unknown.
        let out = results(&answer(200, body), &[None, None, None]);
        assert!(out.iter().all(|o| class(o) == Some(FailureClass::Unknown)));
        // Unknown topic: one entry for partition 0, code 3.
        let gone = r#"{"offsets":[{"partition":0,"error_code":3,"offset":-1}]}"#;
        let out = results(&answer(200, gone), &[None, Some(2)]);
        assert!(out.iter().all(|o| class(o) == Some(FailureClass::UnknownTopic)));
        // All partitions fine: every record confirmed.
        let ok = r#"{"offsets":[{"partition":2,"offset":7},{"partition":0,"offset":1}]}"#;
        let out = results(&answer(200, ok), &[None, None, None]);
        assert!(out.iter().all(|o| class(o).is_none()));
        // As many entries as records, but in partition order, not record order.
        let swapped = r#"{"offsets":[{"partition":0,"offset":4},{"partition":1,"offset":9}]}"#;
        let out = results(&answer(200, swapped), &[Some(1), Some(0)]);
        assert_eq!(
            out[0],
            Outcome::Confirmed {
                partition: 1,
                offset: 9
            }
        );
        assert_eq!(
            out[1],
            Outcome::Confirmed {
                partition: 0,
                offset: 4
            }
        );
    }

    #[test]
    fn short_or_odd_answers_are_unknown() {
        let short = r#"{"offsets":[{"partition":0,"offset":1,"error_code":null}]}"#;
        let out = results(&answer(200, short), &[None, None]);
        assert_eq!(class(&out[1]), Some(FailureClass::Unknown));
        for body in ["{}", "[]", "<html>", r#"{"offsets":[{}]}"#] {
            let out = results(&answer(200, body), &[None]);
            assert_eq!(class(&out[0]), Some(FailureClass::Unknown), "{body}");
        }
    }
}
