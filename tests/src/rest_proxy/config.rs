//! How a test server is set up ([`Flavor`], [`ProxyConfig`]) and the
//! misbehaviours a test arms on it ([`Fault`], [`Times`]).
//!
//! Its own file so that the server's state and handlers read their settings
//! without depending on the `RestProxy` handle that owns them.

use core::time::Duration;

/// Which server to imitate.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum Flavor {
    /// Confluent REST Proxy 6+: v3 (`/v3/clusters/...`) and v2 (`/topics/...`).
    ConfluentV3,
    /// Confluent REST Proxy before v3 existed: v2 only (`/v3` is 404).
    ConfluentV2,
    /// Aiven's Karapace: v2 only, 1 MiB body cap, 422 on partial failure.
    KarapaceV2,
    /// Redpanda's pandaproxy: v2 only, one result per partition, Kafka codes.
    RedpandaV2,
}

impl Flavor {
    /// Every flavor.
    pub const ALL: [Flavor; 4] = [
        Flavor::ConfluentV3,
        Flavor::ConfluentV2,
        Flavor::KarapaceV2,
        Flavor::RedpandaV2,
    ];

    /// Parses `confluent-v3`, `confluent-v2`, `karapace`, `redpanda`.
    pub fn parse(name: &str) -> Option<Flavor> {
        match name {
            "confluent-v3" | "confluent" => Some(Flavor::ConfluentV3),
            "confluent-v2" => Some(Flavor::ConfluentV2),
            "karapace" | "karapace-v2" => Some(Flavor::KarapaceV2),
            "redpanda" | "redpanda-v2" => Some(Flavor::RedpandaV2),
            _ => None,
        }
    }
}

/// How the server is set up when it starts.
#[derive(Clone, Debug)]
pub struct ProxyConfig {
    pub(crate) flavor: Flavor,
    pub(crate) prefix: String,
    pub(crate) auth: Option<(String, String)>,
    pub(crate) topics: Vec<(String, i32)>,
    pub(crate) cluster_id: String,
    pub(crate) body_cap: Option<usize>,
    pub(crate) max_record_bytes: usize,
    pub(crate) inspect: bool,
}

impl ProxyConfig {
    /// A `flavor` server without topics; Karapace gets its 1 MiB body cap.
    pub fn new(flavor: Flavor) -> ProxyConfig {
        ProxyConfig {
            flavor,
            prefix: String::new(),
            auth: None,
            topics: Vec::new(),
            cluster_id: "xFhUvurESIeeCI87SXWR-Q".into(),
            body_cap: (flavor == Flavor::KarapaceV2).then_some(1024 * 1024),
            max_record_bytes: 8 * 1024 * 1024,
            inspect: false,
        }
    }

    /// Serves under a path prefix (Confluent Cloud: `/kafka`).
    #[must_use]
    pub fn prefix(mut self, prefix: &str) -> ProxyConfig {
        self.prefix = prefix.trim_end_matches('/').to_owned();
        self
    }

    /// Requires HTTP basic auth with these credentials.
    #[must_use]
    pub fn basic_auth(mut self, user: &str, password: &str) -> ProxyConfig {
        self.auth = Some((user.to_owned(), password.to_owned()));
        self
    }

    /// Creates a topic with this many partitions.
    #[must_use]
    pub fn topic(mut self, name: &str, partitions: i32) -> ProxyConfig {
        self.topics.push((name.to_owned(), partitions));
        self
    }

    /// Refuses request bodies over `bytes` with 413 (`None`: no cap).
    #[must_use]
    pub fn body_cap(mut self, bytes: Option<usize>) -> ProxyConfig {
        self.body_cap = bytes;
        self
    }

    /// Refuses records whose key plus value exceed `bytes` (the broker's
    /// `max.message.bytes`), per record.
    #[must_use]
    pub fn max_record_bytes(mut self, bytes: usize) -> ProxyConfig {
        self.max_record_bytes = bytes;
        self
    }

    /// Serves `GET /_test/topics/{topic}/records` (what the server stored,
    /// as JSON lines; see `inspect.rs`) for tests that run the server in
    /// another process. Off by default: no real proxy has it.
    #[must_use]
    pub fn inspect_endpoint(mut self, on: bool) -> ProxyConfig {
        self.inspect = on;
        self
    }
}

/// A misbehaviour, armed with [`RestProxy::arm`](super::RestProxy::arm). Faults apply to produce
/// requests only (cluster discovery always works).
#[derive(Clone, Debug, PartialEq, Eq)]
#[non_exhaustive]
pub enum Fault {
    /// Read the request, write nothing, never answer.
    Hang,
    /// Write the records, then never answer.
    HangAfterWrite,
    /// Write the records, send half the answer, then reset the connection.
    ResetMidResponse,
    /// Answer this HTTP status (a 5xx, say) with an error body; write nothing.
    Status(u16),
    /// Answer 429 with `Retry-After: secs`; write nothing.
    Throttle {
        /// The `Retry-After` value in seconds.
        retry_after_secs: u32,
    },
    /// Fail every `n`th record the server looks at, in the flavor's own
    /// words (v3 50003/50002, Confluent v2 50003/50002, Karapace 2/1 with
    /// HTTP 422, Redpanda Kafka 6/87 for the record's whole partition).
    FailEveryNth {
        /// Period.
        n: usize,
        /// Retriable (true) or not.
        retriable: bool,
    },
    /// v3: drop every `n`th record with a per-record 429 inside the 200
    /// stream (other flavors: a retriable failure).
    ThrottleEveryNth(usize),
    /// Write the records, then wait this long before answering.
    Slow(Duration),
    /// Every topic is unknown until this long after the fault was armed.
    UnknownTopicFor(Duration),
    /// Write the records, then answer 200 with an HTML page.
    Html,
    /// Write the records, then answer 200 with bytes that are not JSON
    /// (nor UTF-8) under a JSON content type.
    Garbage,
    /// Write the records, then answer the right JSON as `text/plain`.
    WrongContentType,
    /// Write every record, but answer only the first `k` results.
    Truncate(usize),
}

impl Fault {
    /// Faults decided once per request (the others act per record or by
    /// time).
    pub(super) fn is_request_level(&self) -> bool {
        !matches!(
            self,
            Fault::FailEveryNth { .. } | Fault::ThrottleEveryNth(_) | Fault::UnknownTopicFor(_)
        )
    }
}

/// How many produce requests a request-level fault affects.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Times {
    /// Until [`RestProxy::clear_faults`](super::RestProxy::clear_faults).
    Always,
    /// The next `n` produce requests.
    Next(usize),
}
