//! The steps every flavor's produce shares: faults that strike before
//! anything is written, writing (record by record, or a whole partition at
//! a time as Redpanda does), and faults that strike once it is written.

use super::config::Fault;
use super::http::{Reply, Response, error};
use super::state::{Incoming, RecordError, Shared};

/// What became of one record of a request.
#[derive(Clone, Copy, Debug)]
pub(crate) struct Verdict {
    /// The partition chosen (or asked for).
    pub partition: i32,
    /// Its offset, or why it was not written.
    pub result: Result<i64, RecordError>,
}

/// Faults that end the request before anything is written.
pub(crate) fn before_write(fault: Option<&Fault>, content_type: &str) -> Option<Reply> {
    match fault? {
        Fault::Hang => Some(Reply::Hang),
        Fault::Status(status) => {
            let (code, message) = match status {
                500 => (50003, "Retriable Kafka error: the leader is not available"),
                503 => (50302, "Broker not available"),
                _ => (i64::from(*status), "Server error"),
            };
            Some(Reply::Send(error(*status, code, message, content_type)))
        }
        Fault::Throttle { retry_after_secs } => Some(Reply::Send(
            error(429, 42901, "Too many requests", content_type)
                .with_header("Retry-After", &retry_after_secs.to_string()),
        )),
        _ => None,
    }
}

/// Writes `records` to `topic`; with `whole_partition`, a record that
/// fails fails every record of its partition in this request (Redpanda
/// produces one batch per partition).
pub(crate) fn write(
    shared: &Shared,
    topic: &str,
    records: &[Incoming],
    whole_partition: bool,
) -> Vec<Verdict> {
    let mut plan = shared.plan(topic, records);
    if whole_partition {
        let failed: Vec<(i32, RecordError)> = plan.iter().filter_map(|(p, e)| Some((*p, (*e)?))).collect();
        for (partition, error) in &mut plan {
            if error.is_none() {
                *error = failed.iter().find(|(p, _)| p == partition).map(|(_, e)| *e);
            }
        }
    }
    records
        .iter()
        .zip(plan)
        .map(|(record, (partition, error))| Verdict {
            partition,
            result: match error {
                Some(error) => Err(error),
                None => Ok(shared.append(topic, partition, record)),
            },
        })
        .collect()
}

/// How many results a `Truncate` fault lets through.
pub(crate) fn truncation(fault: Option<&Fault>) -> Option<usize> {
    match fault {
        Some(Fault::Truncate(k)) => Some(*k),
        _ => None,
    }
}

/// Faults that strike after the records are written.
pub(crate) fn after_write(shared: &Shared, fault: Option<Fault>, response: Response) -> Reply {
    match fault {
        Some(Fault::HangAfterWrite) => Reply::Hang,
        Some(Fault::ResetMidResponse) => Reply::ResetMidway(response),
        Some(Fault::Slow(delay)) => {
            shared.pause(delay);
            Reply::Send(response)
        }
        Some(Fault::Html) => Reply::Send(Response::new(
            200,
            "text/html; charset=utf-8",
            b"<!DOCTYPE html><html><head><title>Proxy</title></head>\
              <body><h1>It works!</h1></body></html>"
                .to_vec(),
        )),
        Some(Fault::Garbage) => {
            let content_type = response
                .headers
                .iter()
                .find(|(n, _)| n == "Content-Type")
                .map_or("application/json".to_owned(), |(_, v)| v.clone());
            Reply::Send(Response::new(
                200,
                &content_type,
                b"\xff\xfe{\"error_code\":2\x00\x80 not json".to_vec(),
            ))
        }
        Some(Fault::WrongContentType) => {
            let mut response = response;
            for (name, value) in &mut response.headers {
                if name == "Content-Type" {
                    *value = "text/plain".into();
                }
            }
            Reply::Send(response)
        }
        _ => Reply::Send(response),
    }
}
