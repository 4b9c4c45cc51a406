//! Confluent REST Proxy v3: finding the cluster id, and reading the
//! answer to a streamed produce.
//!
//! A v3 produce answer is HTTP 200 as soon as the proxy starts reading,
//! then one JSON object per record, in request order, each with its own
//! `error_code` (200 for success). Errors hide inside that 200, and the
//! stream can stop early (the proxy closed it, the connection broke): every
//! record without its own result is reported "outcome unknown", never
//! confirmed and never dropped.

use serde_json::Value;
use steadfast_core::{Failure, FailureClass, Outcome};

use super::classify::{http_failure, rest_record_failure};
use super::http::{Answer, Http};

/// What `GET /v3/clusters` said.
#[derive(Debug)]
pub(crate) enum Discovery {
    /// A v3 proxy serving this cluster.
    V3(String),
    /// Not a v3 proxy.
    V2,
    /// Could not tell; the records of this submit get this failure.
    Failed(Failure),
}

/// Asks `{base}/v3/clusters`. With `must_be_v3`, an answer without a
/// cluster is a configuration error instead of "use v2".
pub(crate) fn discover(http: &Http, base: &str, must_be_v3: bool) -> Discovery {
    let url = format!("{base}/v3/clusters");
    let answer = match http.get(&url, "application/json") {
        Ok(answer) => answer,
        // A GET writes nothing, so any failure here can simply be retried.
        Err(failure) => {
            let mut retry = Failure::new(
                FailureClass::Retriable,
                failure.code,
                &format!("cluster discovery: {}", failure.reason),
            );
            retry.retry_after = failure.retry_after;
            return Discovery::Failed(retry);
        }
    };
    discovered(&answer, &url, must_be_v3)
}

/// What the answer to `GET {url}` (the cluster list) says about the proxy.
pub(crate) fn discovered(answer: &Answer, url: &str, must_be_v3: bool) -> Discovery {
    let status = answer.status;
    if (200..300).contains(&status)
        && let Some(id) = first_cluster_id(answer)
    {
        return Discovery::V3(id);
    }
    let (error_code, message) = error_body(answer);
    match status {
        401 | 403 | 408 | 429 | 500..=599 => Discovery::Failed(http_failure(
            status,
            error_code,
            &format!("cluster discovery: {message}"),
            answer.retry_after_ms,
            None,
        )),
        _ if must_be_v3 => Discovery::Failed(Failure::new(
            FailureClass::Terminal,
            i32::from(status),
            &format!("no v3 cluster list at {url} (HTTP {status}): check the base URL or use v2"),
        )),
        _ => Discovery::V2,
    }
}

fn first_cluster_id(answer: &Answer) -> Option<String> {
    if !answer.is_json() {
        return None;
    }
    let list: Value = serde_json::from_slice(&answer.body).ok()?;
    let id = list
        .get("data")?
        .as_array()?
        .first()?
        .get("cluster_id")?
        .as_str()?;
    (!id.is_empty()).then(|| id.to_owned())
}

/// `{"error_code": N, "message": "…"}`, leniently: whatever of it is there.
pub(crate) fn error_body(answer: &Answer) -> (Option<i64>, String) {
    let parsed: Option<Value> = if answer.is_json() {
        serde_json::from_slice(&answer.body).ok()
    } else {
        None
    };
    match parsed {
        Some(body) => {
            let code = body.get("error_code").and_then(Value::as_i64);
            let message = body
                .get("message")
                .or_else(|| body.get("error"))
                .and_then(Value::as_str)
                .unwrap_or("")
                .to_owned();
            (code, message)
        }
        None => (None, answer.snippet()),
    }
}

/// The answer to a v3 produce of `partitions.len()` records (each with the
/// partition it asked for, if any): one outcome per record, in order.
pub(crate) fn results(answer: &Answer, partitions: &[Option<i32>]) -> Vec<Outcome> {
    let count = partitions.len();
    if !answer.is_json() {
        let mime = answer.mime().unwrap_or_default();
        let why = format!("answer is not JSON (content type `{mime}`); records may be written");
        return vec![unknown(&why); count];
    }
    let mut outcomes = Vec::with_capacity(count);
    let mut stream = serde_json::Deserializer::from_slice(&answer.body).into_iter::<Value>();
    while outcomes.len() < count {
        match stream.next() {
            Some(Ok(entry)) => {
                let asked = partitions[outcomes.len()];
                outcomes.push(entry_outcome(&entry, asked, answer.retry_after_ms));
            }
            Some(Err(e)) => {
                let why = match &answer.body_error {
                    Some(broke) => broke.reason.to_string(),
                    None => format!("unreadable result after {} of {count}: {e}", outcomes.len()),
                };
                outcomes.resize(count, unknown(&why));
            }
            None => {
                let why = match &answer.body_error {
                    Some(broke) => broke.reason.to_string(),
                    None => format!(
                        "answer ended after {} results for {count} records",
                        outcomes.len()
                    ),
                };
                outcomes.resize(count, unknown(&why));
            }
        }
    }
    outcomes
}

fn entry_outcome(entry: &Value, asked: Option<i32>, retry_after_ms: Option<u64>) -> Outcome {
    let Some(code) = entry.get("error_code").and_then(Value::as_i64) else {
        return unknown("result without an error_code");
    };
    if code == 200 {
        let partition = entry
            .get("partition_id")
            .and_then(Value::as_i64)
            .and_then(|p| i32::try_from(p).ok());
        return match (asked, partition) {
            (Some(asked), Some(got)) if asked != got => unknown(&format!(
                "result is for partition {got}, record asked for {asked}"
            )),
            _ => Outcome::Confirmed {
                partition: partition.or(asked).unwrap_or(-1),
                offset: entry.get("offset").and_then(Value::as_i64).unwrap_or(-1),
            },
        };
    }
    let message = entry.get("message").and_then(Value::as_str).unwrap_or("");
    let mut failure = rest_record_failure(code, message);
    if failure.class == FailureClass::Retriable {
        failure.retry_after = retry_after_ms;
    }
    Outcome::Failed(failure)
}

pub(crate) fn unknown(why: &str) -> Outcome {
    Outcome::Failed(Failure::new(FailureClass::Unknown, 0, why))
}

#[cfg(test)]
mod tests {
    use super::super::test_support::class;
    use super::*;

    fn answer(body: &str) -> Answer {
        super::super::test_support::answer(200, "application/json", body)
    }

    #[test]
    fn reads_every_entry_and_marks_missing_ones_unknown() {
        let body = "{\"error_code\":200,\"partition_id\":0,\"offset\":1}\r\n\
                    {\"error_code\":50003,\"message\":\"Not leader\"}\r\n";
        let outcomes = results(&answer(body), &[None, None, Some(2)]);
        assert_eq!(
            outcomes[0],
            Outcome::Confirmed {
                partition: 0,
                offset: 1
            }
        );
        assert_eq!(class(&outcomes[1]), Some(FailureClass::Retriable));
        assert_eq!(class(&outcomes[2]), Some(FailureClass::Unknown));
    }

    #[test]
    fn garbage_is_unknown_never_confirmed() {
        for body in ["<html>oops</html>", "{\"error_code\":200", "[1,2]", "{}"] {
            let outcomes = results(&answer(body), &[None]);
            assert_eq!(class(&outcomes[0]), Some(FailureClass::Unknown), "{body}");
        }
        let mut html = answer("{\"error_code\":200}");
        html.content_type = Some("text/html".into());
        assert_eq!(class(&results(&html, &[None])[0]), Some(FailureClass::Unknown));
    }
}
