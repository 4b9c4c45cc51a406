//! Every error a REST proxy can answer, sorted into the three classes the
//! core understands.
//!
//! The proxies speak three dialects of error codes: REST codes (HTTP
//! statuses and their five-digit refinements such as 40403 or 50003, plus
//! Karapace's and old Confluent's `1` / `2`), and Kafka protocol codes
//! (Redpanda passes the broker's code through). One function per dialect,
//! so a reader can check each table against `REST-PROXY.md`:
//!
//! | answer | class |
//! |---|---|
//! | 404, 40401, 40402, 40403, Kafka 3 | unknown topic: the core retries for `Config::unknown_topic_wait`, then dead-letters |
//! | 400, 401, 403, 40101, 40301, 413, 415, 406, 422, 42206, other 4xx | terminal |
//! | 408, 429, 42901, 50003, 50302, other 5xx, Karapace/old Confluent `2` | retriable (`Retry-After` honoured) |
//! | 50002 per record | terminal (Kafka said it is not retriable) |
//! | Karapace `1` | terminal, except timeouts and cancellations: unknown |
//! | Kafka 7, 13, 20, -1 (timeout, network, after-append, unknown server error) | unknown |
//! | Kafka retriable codes (leader moves, not enough replicas, …) | retriable |
//! | a code in no table | unknown: the record may have been written |

use steadfast_core::{Failure, FailureClass};

use FailureClass::{Retriable, Terminal, Unknown};

/// Reason fragment every unknown-topic failure carries (the core and the
/// user look for it).
pub(crate) const UNKNOWN_TOPIC: &str = "unknown topic or partition";

fn failure(class: FailureClass, code: i64, what: &str, message: &str) -> Failure {
    let code32 = i32::try_from(code).unwrap_or(i32::MAX);
    let message = message.trim();
    if message.is_empty() {
        Failure::new(class, code32, &format!("{what} ({code})"))
    } else {
        Failure::new(class, code32, &format!("{what} ({code}): {message}"))
    }
}

/// A per-record REST error code (Confluent v3 stream entry, Confluent or
/// Karapace v2 `offsets[]` entry).
pub(crate) fn rest_record_failure(code: i64, message: &str) -> Failure {
    let (class, what) = match code {
        404 | 40401..=40403 => (FailureClass::UnknownTopic, UNKNOWN_TOPIC),
        400 => (Terminal, "bad request"),
        401 | 40101 => (Terminal, "authentication failed"),
        403 | 40301 => (Terminal, "not authorized"),
        408 => (Retriable, "proxy closed the stream"),
        413 => (Terminal, "record too large"),
        422 | 42200..=42299 => (Terminal, "invalid record"),
        429 | 42901 => (Retriable, "rate limited"),
        50002 => (Terminal, "Kafka error"),
        50003 => (Retriable, "retriable Kafka error"),
        50301 | 50302 => (Retriable, "broker not available"),
        // Karapace (and Confluent before 5.0): 1 = not retriable, 2 = retriable.
        // Karapace also answers 1 for a produce timeout or a cancelled send, which
        // may have reached the broker: resend rather than dead-letter those.
        1 if mentions_timeout(message) => (Unknown, "produce timed out"),
        1 => (Terminal, "produce failed"),
        2 => (Retriable, "retriable produce error"),
        500..=599 | 50000..=59999 => (Retriable, "server error"),
        400..=499 | 40000..=49999 => (Terminal, "rejected"),
        _ => (Unknown, "unrecognised error code"),
    };
    failure(class, code, what, message)
}

fn mentions_timeout(message: &str) -> bool {
    let lower = message.to_ascii_lowercase();
    lower.contains("timed out") || lower.contains("timeout") || lower.contains("cancel")
}

/// A Kafka protocol error code (Redpanda's per-partition entries).
pub(crate) fn kafka_failure(code: i64, message: &str) -> Failure {
    let (class, what) = match code {
        3 => (FailureClass::UnknownTopic, UNKNOWN_TOPIC),
        10 => (Terminal, "record too large"),
        18 => (Terminal, "record batch too large"),
        17 => (Terminal, "invalid topic"),
        29 => (Terminal, "topic not authorized"),
        87 => (Terminal, "invalid record"),
        // The write may have happened.
        -1 => (Unknown, "unknown server error"),
        7 => (Unknown, "request timed out"),
        13 => (Unknown, "network error"),
        20 => (Unknown, "not enough replicas after append"),
        2 | 5 | 6 | 8 | 9 | 14..=16 | 19 | 41 | 51 | 56 | 74 | 75 | 78 | 80 | 89 => {
            (Retriable, "retriable Kafka error")
        }
        _ => (Terminal, "Kafka error"),
    };
    failure(class, code, what, message)
}

/// A request the server refused as a whole: `status` is the HTTP status,
/// `error_code` / `message` come from a JSON error body if there was one.
pub(crate) fn http_failure(
    status: u16,
    error_code: Option<i64>,
    message: &str,
    retry_after_ms: Option<u64>,
    location: Option<&str>,
) -> Failure {
    let code = error_code.unwrap_or(i64::from(status));
    let (class, what) = match status {
        429 => (Retriable, "rate limited"),
        408 => (Retriable, "request timeout"),
        500..=599 => (Retriable, "server error"),
        404 => (FailureClass::UnknownTopic, UNKNOWN_TOPIC),
        401 => (Terminal, "authentication required: check the credentials"),
        403 => (Terminal, "forbidden: credentials refused"),
        413 => (Terminal, "request too large"),
        415 | 406 => (Terminal, "media type not accepted"),
        400..=499 => (Terminal, "rejected"),
        300..=399 => (Terminal, "redirected: point the base URL at the new address"),
        _ => (Unknown, "unexpected HTTP status"),
    };
    let what = format!("HTTP {status} {what}");
    let mut fail = match location {
        Some(to) if (300..400).contains(&status) => failure(class, code, &what, to),
        _ => failure(class, code, &what, message),
    };
    if class == Retriable
        && let Some(wait) = retry_after_ms
    {
        fail = fail.with_retry_after(wait);
    }
    fail
}

/// Parses a `Retry-After` value given in seconds (the HTTP-date form is
/// ignored: no clock here).
pub(crate) fn retry_after_ms(value: &str) -> Option<u64> {
    let secs: u64 = value.trim().parse().ok()?;
    Some(secs.saturating_mul(1000))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn rest_codes_follow_the_contract() {
        assert_eq!(rest_record_failure(50003, "x").class, Retriable);
        assert_eq!(rest_record_failure(50002, "x").class, Terminal);
        assert_eq!(rest_record_failure(429, "").class, Retriable);
        assert_eq!(rest_record_failure(2, "").class, Retriable);
        assert_eq!(rest_record_failure(1, "bad").class, Terminal);
        let timeout = "timed out waiting to publish message";
        assert_eq!(rest_record_failure(1, timeout).class, Unknown);
        let gone = rest_record_failure(40403, "This server does not host this topic-partition.");
        assert_eq!(gone.class, FailureClass::UnknownTopic);
        assert!(gone.reason.contains("unknown topic"), "{gone}");
        assert_eq!(rest_record_failure(77_777, "").class, Unknown);
    }

    #[test]
    fn kafka_codes_follow_the_protocol() {
        assert!(kafka_failure(3, "").reason.contains("unknown topic"));
        assert_eq!(kafka_failure(6, "").class, Retriable);
        assert_eq!(kafka_failure(7, "").class, Unknown);
        assert_eq!(kafka_failure(10, "").class, Terminal);
    }

    #[test]
    fn http_statuses_and_retry_after() {
        let throttled = http_failure(429, Some(42901), "slow down", retry_after_ms("3"), None);
        assert_eq!((throttled.class, throttled.code), (Retriable, 42901));
        assert_eq!(throttled.retry_after, Some(3000));
        assert_eq!(http_failure(503, None, "", None, None).class, Retriable);
        assert_eq!(http_failure(401, None, "", None, None).class, Terminal);
        let moved = http_failure(301, None, "", None, Some("https://elsewhere"));
        assert!(moved.reason.contains("https://elsewhere"), "{moved}");
        assert_eq!(retry_after_ms("Wed, 21 Oct 2015 07:28:00 GMT"), None);
    }
}
