//! Kafka through a REST proxy: Confluent REST Proxy (v2 and v3, Confluent
//! Cloud), Karapace and Redpanda (v2), over plain blocking HTTP.
//!
//! This is the transport for programs that cannot link librdkafka, such as
//! WASI programs: it needs nothing but TCP sockets (ureq without default
//! features builds for `wasm32-wasip2`; TLS for native builds comes with the
//! `tls` feature).
//!
//! ```no_run
//! use core::time::Duration;
//! use steadfast_core::{Message, MessageId, OutgoingRecord, Transport};
//! use steadfast_transports::rest::{RestConfig, RestTransport};
//!
//! let config = RestConfig::new("http://127.0.0.1:8082")
//!     .request_deadline(Duration::from_secs(10));
//! let mut transport = RestTransport::new(config)?;
//! let record = OutgoingRecord {
//!     seq: 1,
//!     id: MessageId { journal: 7, seq: 1 },
//!     message: Message::new("events", b"hello"),
//! };
//! transport.submit(0, &[record]); // blocks until the proxy answered
//! transport.poll(0, 0, &mut |seq, outcome| println!("{seq}: {outcome:?}"));
//! # Ok::<(), steadfast_transports::rest::RestConfigError>(())
//! ```
//!
//! # Which API
//!
//! Left to itself the transport asks `GET {base}/v3/clusters` once: a
//! cluster list means v3 with the first cluster, any other answer means v2.
//! [`RestConfig::api_version`] and [`RestConfig::cluster_id`] skip the
//! question. A failed question (proxy down, 5xx) is asked again on the next
//! submit and the records are reported retriable; 401/403 are terminal.
//!
//! - **v3** carries record headers: every record gets the
//!   [`MESSAGE_ID_HEADER`](steadfast_core::MESSAGE_ID_HEADER) header (the
//!   id's text form, base64 as v3 wants header values) ahead of the
//!   message's own headers, so consumers can drop duplicates.
//! - **v2 cannot carry record headers**: neither the message id nor the
//!   message's headers travel (Karapace even rejects a `headers` field).
//!   Consumers that must de-duplicate over v2 need the id inside the value
//!   or key, put there by the application. Karapace also writes a null
//!   value as empty bytes: tombstones do not survive it.
//!
//! # Outcomes
//!
//! Every record gets exactly one outcome, decided from its own result entry
//! whenever there is one (errors hide inside HTTP 200, and batches fail
//! partially). The rules, in `classify`, `http`, `v2` and `v3`:
//!
//! - confirmed only on a per-record (or, for Redpanda, per-partition)
//!   success that can be tied to that record;
//! - retriable when the proxy did not write it: connection refused or DNS
//!   failure before sending, 5xx, 429 / 42901 (with `Retry-After`), 50003,
//!   50302, Kafka's retriable codes;
//! - terminal when it never will: 400, 401, 403, 413, 415, 422, other 4xx,
//!   50002, a record too large for the body cap;
//! - unknown topic for 404, 40401–40403 and Kafka code 3: the core retries
//!   for `Config::unknown_topic_wait`, then dead-letters (topics are often
//!   created moments after producers start);
//! - unknown when it may have been written: a timeout or reset after the
//!   request left, an answer that is HTML, garbage or of the wrong content
//!   type, an answer with fewer results than records, or a result that
//!   cannot be tied to its record.
//!
//! The transport never panics on anything a server sends.

#![allow(
    clippy::result_large_err,
    reason = "core's frozen `Failure` is ~150 bytes; these results are made once per HTTP request"
)]

mod classify;
#[cfg(target_os = "wasi")]
mod coalesce;
mod config;
mod encode;
#[cfg(feature = "fuzzing")]
pub mod fuzzing;
mod http;
mod transport;
mod v2;
mod v3;

pub use config::{
    ApiVersion, DEFAULT_CONNECT_TIMEOUT, DEFAULT_MAX_BODY_BYTES, DEFAULT_REQUEST_DEADLINE, MIN_BODY_BYTES,
    ProxyUrl, RestConfig, RestConfigError, Secret,
};
pub use transport::RestTransport;

/// Fixtures shared by the v2 and v3 unit tests.
#[cfg(test)]
mod test_support {
    use steadfast_core::{FailureClass, Outcome};

    use super::http::Answer;

    /// A proxy answer with `status`, `content_type` and `body`.
    pub(super) fn answer(status: u16, content_type: &str, body: &str) -> Answer {
        Answer {
            status,
            content_type: Some(content_type.into()),
            retry_after_ms: None,
            location: None,
            body: body.as_bytes().to_vec(),
            body_error: None,
        }
    }

    /// `None` for a confirmation, else the failure's class.
    pub(super) fn class(outcome: &Outcome) -> Option<FailureClass> {
        match outcome {
            Outcome::Confirmed { .. } => None,
            Outcome::Failed(f) => Some(f.class),
        }
    }
}
