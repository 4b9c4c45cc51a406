//! The REST transport's reading of a proxy's answers, reachable without a
//! server (feature `fuzzing`), so that `fuzz/` can feed it arbitrary
//! answers. Not part of the stable API: it follows the transport.
//!
//! Both functions run exactly the code [`RestTransport`](super::RestTransport)
//! runs on an answer that arrived; only the HTTP exchange is left out.

use steadfast_core::{Failure, Outcome};

use super::ApiVersion;
use super::classify::retry_after_ms;
use super::http::Answer;
use super::transport::answer_outcomes;
use super::v3::{Discovery, discovered};

/// An answer as it comes off the wire.
#[derive(Clone, Copy, Debug)]
pub struct ProxyAnswer<'a> {
    /// HTTP status.
    pub status: u16,
    /// The `Content-Type` header, if any.
    pub content_type: Option<&'a str>,
    /// The `Retry-After` header, if any.
    pub retry_after: Option<&'a str>,
    /// The `Location` header, if any.
    pub location: Option<&'a str>,
    /// The body, as much of it as arrived.
    pub body: &'a [u8],
    /// Whether the body broke off (a reset or timeout while reading it).
    pub broke_off: bool,
}

impl ProxyAnswer<'_> {
    fn answer(&self) -> Answer {
        Answer {
            status: self.status,
            content_type: self.content_type.map(str::to_owned),
            retry_after_ms: self.retry_after.and_then(retry_after_ms),
            location: self.location.map(str::to_owned),
            body: self.body.to_vec(),
            body_error: self
                .broke_off
                .then(|| Failure::new(steadfast_core::FailureClass::Unknown, 0, "answer broke off")),
        }
    }
}

/// The outcome of each record of one produce request of
/// `partitions.len()` records (each with the partition it asked for), in
/// order, as the transport decides them from `answer`.
pub fn produce_outcomes(
    api: ApiVersion,
    answer: &ProxyAnswer<'_>,
    partitions: &[Option<i32>],
) -> Vec<Outcome> {
    answer_outcomes(api == ApiVersion::V3, &answer.answer(), partitions)
}

/// What the answer to `GET {base}/v3/clusters` tells the transport:
/// `Ok(Some(cluster))` for v3, `Ok(None)` for v2, `Err` when the records
/// of the submit fail with it.
pub fn discovery(answer: &ProxyAnswer<'_>, must_be_v3: bool) -> Result<Option<String>, Failure> {
    match discovered(&answer.answer(), "http://proxy/v3/clusters", must_be_v3) {
        Discovery::V3(cluster) => Ok(Some(cluster)),
        Discovery::V2 => Ok(None),
        Discovery::Failed(failure) => Err(failure),
    }
}
