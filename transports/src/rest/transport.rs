//! [`RestTransport`]: turns one `submit` into HTTP requests and queues one
//! outcome per record for `poll`.
//!
//! A submit goes through these steps, all before it returns:
//!
//! ```text
//! resolve API ──> encode each record ──> group by topic (first-seen order)
//!   (once)          (a record over the       │
//!                    body cap: terminal)     ▼
//!                                 pack into requests ≤ max_body_bytes
//!                                            │
//!                      ┌─────────────────────┴───────────────┐
//!                      ▼                                     ▼
//!             HTTP 413 on several records:          answer read, one outcome
//!             split in halves, send each            per record, queued in
//!                                                   submit order
//! ```
//!
//! Order within a topic is kept on the wire: requests for one topic go one
//! after another, and once one of them did not fully succeed (retriable or
//! unknown), the later ones for that topic are not sent but reported
//! retriable, so the core resends them behind the earlier records. When the
//! connection itself fails (refused, timed out, reset), nothing more is
//! sent in this submit: a dead proxy costs one deadline, not one per
//! request.

use std::collections::VecDeque;

use steadfast_core::{Failure, FailureClass, Millis, Outcome, OutgoingRecord, Seq, Transport};

use super::config::{ApiVersion, ProxyUrl, RestConfig, RestConfigError};
use super::encode::{self, path_segment};
use super::http::{Answer, Http};
use super::v3::{self, Discovery, error_body};
use super::{classify, v2};

const V3_CONTENT_TYPE: &str = "application/json";
const V3_ACCEPT: &str = "application/json";
const V2_CONTENT_TYPE: &str = "application/vnd.kafka.binary.v2+json";
const V2_ACCEPT: &str = "application/vnd.kafka.v2+json, application/json";

/// The API in use, once known.
#[derive(Clone, Debug, PartialEq, Eq)]
enum Api {
    /// Not asked yet (or the last attempt failed).
    Undecided,
    V2,
    V3 {
        cluster: String,
    },
}

/// A Kafka REST proxy transport. See the [module documentation](super).
///
/// Blocking: [`submit`](Transport::submit) performs the requests and waits
/// for their answers (each bounded by the request deadline), then queues one
/// [`Outcome`] per record; [`poll`](Transport::poll) hands them over and
/// never waits (with nothing queued it returns 0 at once, whatever the
/// timeout, since no outcome can arrive between two submits).
pub struct RestTransport {
    http: Http,
    url: ProxyUrl,
    forced: Option<ApiVersion>,
    api: Api,
    max_body: usize,
    queue: VecDeque<(Seq, Outcome)>,
}

impl core::fmt::Debug for RestTransport {
    fn fmt(&self, f: &mut core::fmt::Formatter<'_>) -> core::fmt::Result {
        f.debug_struct("RestTransport")
            .field("base", &self.url.base())
            .field("api", &self.api)
            .field("max_body", &self.max_body)
            .field("in_flight", &self.queue.len())
            .finish_non_exhaustive()
    }
}

/// What became of one request.
enum Sent {
    /// One outcome per record in the request.
    Results(Vec<Outcome>),
    /// The server refused the request as a whole.
    Refused { status: u16, failure: Failure },
    /// The connection failed (see `http`: retriable if nothing was sent).
    Broken(Failure),
}

impl RestTransport {
    /// Checks `config` and builds the transport. No request is made until
    /// the first submit (or [`resolve_api`](Self::resolve_api)).
    pub fn new(config: RestConfig) -> Result<RestTransport, RestConfigError> {
        let url = config.validate()?;
        let forced = config
            .api_version
            .or(config.cluster_id.as_ref().map(|_| ApiVersion::V3))
            .or(url.says_v3.then_some(ApiVersion::V3));
        let api = match (forced, &config.cluster_id) {
            (Some(ApiVersion::V2), _) => Api::V2,
            (Some(ApiVersion::V3), Some(cluster)) => Api::V3 {
                cluster: cluster.clone(),
            },
            _ => Api::Undecided,
        };
        Ok(RestTransport {
            http: Http::new(&config),
            url,
            forced,
            api,
            max_body: config.max_body_bytes,
            queue: VecDeque::new(),
        })
    }

    /// The proxy's base URL (`http://host:port/prefix`).
    pub fn base_url(&self) -> &str {
        self.url.base()
    }

    /// The API in use, if decided yet.
    pub fn api_version(&self) -> Option<ApiVersion> {
        match self.api {
            Api::Undecided => None,
            Api::V2 => Some(ApiVersion::V2),
            Api::V3 { .. } => Some(ApiVersion::V3),
        }
    }

    /// The v3 cluster id in use, if any.
    pub fn cluster_id(&self) -> Option<&str> {
        match &self.api {
            Api::V3 { cluster } => Some(cluster),
            _ => None,
        }
    }

    /// Decides the API now (asking `GET /v3/clusters` if it must) instead
    /// of on the first submit. A failure is not remembered: the next call
    /// asks again.
    pub fn resolve_api(&mut self) -> Result<ApiVersion, Failure> {
        if self.api == Api::Undecided {
            let must_be_v3 = self.forced == Some(ApiVersion::V3);
            self.api = match v3::discover(&self.http, self.url.base(), must_be_v3) {
                Discovery::V3(cluster) => Api::V3 { cluster },
                Discovery::V2 => Api::V2,
                Discovery::Failed(failure) => return Err(failure),
            };
        }
        self.api_version()
            .ok_or_else(|| Failure::new(FailureClass::Retriable, 0, "REST API version not decided"))
    }

    fn deliver(&mut self, records: &[OutgoingRecord<'_>]) -> Vec<Outcome> {
        let mut outcomes: Vec<Option<Outcome>> = vec![None; records.len()];
        if let Err(failure) = self.resolve_api() {
            return vec![Outcome::Failed(failure); records.len()];
        }
        let v3 = matches!(self.api, Api::V3 { .. });
        // Encode once; a record that can never fit is decided here.
        let mut encoded: Vec<Vec<u8>> = Vec::with_capacity(records.len());
        for (i, record) in records.iter().enumerate() {
            let bytes = if v3 {
                encode::v3_record(record)
            } else {
                Ok(encode::v2_record(record))
            };
            match bytes {
                Ok(bytes) => {
                    let body_len = self.body_len(v3, [bytes.len()].into_iter());
                    if body_len > self.max_body {
                        outcomes[i] = Some(Outcome::Failed(Failure::new(
                            FailureClass::Terminal,
                            413,
                            &format!(
                                "record too large: it encodes to a {body_len}-byte request, \
                                 over the {}-byte cap (max_body_bytes)",
                                self.max_body
                            ),
                        )));
                    }
                    encoded.push(bytes);
                }
                Err(failure) => {
                    outcomes[i] = Some(Outcome::Failed(failure));
                    encoded.push(Vec::new());
                }
            }
        }
        let mut halted: Option<Failure> = None;
        for (topic, members) in group_by_topic(records, &outcomes) {
            let mut chunks = self.pack(v3, &members, &encoded);
            let mut blocked = false;
            while let Some(chunk) = chunks.pop_front() {
                if let Some(cause) = &halted {
                    let why = format!("not sent: an earlier request failed ({})", cause.reason);
                    fill(&mut outcomes, &chunk, &not_sent(&why));
                    continue;
                }
                if blocked {
                    let why = format!("not sent: an earlier record of topic `{topic}` must go first");
                    fill(&mut outcomes, &chunk, &not_sent(&why));
                    continue;
                }
                match self.send(v3, topic, &chunk, records, &encoded) {
                    Sent::Refused { status: 413, .. } if chunk.len() > 1 => {
                        let (first, second) = chunk.split_at(chunk.len() / 2);
                        chunks.push_front(second.to_vec());
                        chunks.push_front(first.to_vec());
                    }
                    Sent::Refused { failure, .. } => {
                        blocked = failure.class != FailureClass::Terminal;
                        fill(&mut outcomes, &chunk, &Outcome::Failed(failure));
                    }
                    Sent::Broken(failure) => {
                        fill(&mut outcomes, &chunk, &Outcome::Failed(failure.clone()));
                        halted = Some(failure);
                    }
                    Sent::Results(results) => {
                        for (&i, outcome) in chunk.iter().zip(results) {
                            blocked |= matches!(
                                &outcome,
                                Outcome::Failed(f) if f.class != FailureClass::Terminal
                            );
                            outcomes[i] = Some(outcome);
                        }
                    }
                }
            }
        }
        outcomes
            .into_iter()
            .map(|o| o.unwrap_or_else(|| not_sent("internal: record was not planned")))
            .collect()
    }

    fn body_len(&self, v3: bool, sizes: impl Iterator<Item = usize>) -> usize {
        if v3 {
            sizes.sum()
        } else {
            encode::v2_body_len(sizes)
        }
    }

    /// Packs the records at `members` into requests of at most `max_body`
    /// bytes, in order.
    fn pack(&self, v3: bool, members: &[usize], encoded: &[Vec<u8>]) -> VecDeque<Vec<usize>> {
        let mut chunks = VecDeque::new();
        let mut current: Vec<usize> = Vec::new();
        let mut current_len = 0;
        for &i in members {
            let alone = self.body_len(v3, [encoded[i].len()].into_iter());
            // Adding a record to a v2 body costs its bytes and a comma.
            let with = match (current.is_empty(), v3) {
                (true, _) => alone,
                (false, true) => current_len + encoded[i].len(),
                (false, false) => current_len + encoded[i].len() + 1,
            };
            if with > self.max_body && !current.is_empty() {
                chunks.push_back(core::mem::take(&mut current));
                current_len = alone;
            } else {
                current_len = with;
            }
            current.push(i);
        }
        if !current.is_empty() {
            chunks.push_back(current);
        }
        chunks
    }

    fn send(
        &self,
        v3: bool,
        topic: &str,
        chunk: &[usize],
        records: &[OutgoingRecord<'_>],
        encoded: &[Vec<u8>],
    ) -> Sent {
        let partitions: Vec<Option<i32>> = chunk.iter().map(|&i| records[i].message.partition).collect();
        let topic = path_segment(topic);
        let reply = match &self.api {
            Api::V3 { cluster } => {
                let url = format!(
                    "{}/v3/clusters/{}/topics/{topic}/records",
                    self.url.base(),
                    path_segment(cluster)
                );
                let body: Vec<u8> = chunk.iter().flat_map(|&i| encoded[i].iter().copied()).collect();
                self.http.post(&url, V3_CONTENT_TYPE, V3_ACCEPT, &body)
            }
            _ => {
                let url = format!("{}/topics/{topic}", self.url.base());
                let body = encode::v2_body(chunk.iter().map(|&i| encoded[i].as_slice()));
                self.http.post(&url, V2_CONTENT_TYPE, V2_ACCEPT, &body)
            }
        };
        match reply {
            Ok(answer) => answered(v3, &answer, &partitions),
            Err(failure) => Sent::Broken(failure),
        }
    }
}

/// What the proxy's answer to a produce request of `partitions.len()`
/// records (each with the partition it asked for) says about them.
fn answered(v3: bool, answer: &Answer, partitions: &[Option<i32>]) -> Sent {
    if v3 {
        if (200..300).contains(&answer.status) {
            return Sent::Results(v3::results(answer, partitions));
        }
    } else if (200..300).contains(&answer.status) || v2::has_offsets(answer) {
        return Sent::Results(v2::results(answer, partitions));
    }
    refused(answer)
}

/// [`answered`], one outcome per record: what `deliver` makes of a single
/// request's answer (a refusal fails every record alike).
#[cfg(feature = "fuzzing")]
pub(super) fn answer_outcomes(v3: bool, answer: &Answer, partitions: &[Option<i32>]) -> Vec<Outcome> {
    match answered(v3, answer, partitions) {
        Sent::Results(outcomes) => outcomes,
        Sent::Refused { failure, .. } | Sent::Broken(failure) => {
            vec![Outcome::Failed(failure); partitions.len()]
        }
    }
}

fn refused(answer: &Answer) -> Sent {
    let (error_code, message) = error_body(answer);
    let failure = classify::http_failure(
        answer.status,
        error_code,
        &message,
        answer.retry_after_ms,
        answer.location.as_deref(),
    );
    Sent::Refused {
        status: answer.status,
        failure,
    }
}

fn not_sent(why: &str) -> Outcome {
    Outcome::Failed(Failure::new(FailureClass::Retriable, 0, why))
}

fn fill(outcomes: &mut [Option<Outcome>], chunk: &[usize], outcome: &Outcome) {
    for &i in chunk {
        outcomes[i] = Some(outcome.clone());
    }
}

/// Indexes of the still-undecided records, grouped by topic in the order
/// topics first appear.
fn group_by_topic<'r>(
    records: &'r [OutgoingRecord<'_>],
    decided: &[Option<Outcome>],
) -> Vec<(&'r str, Vec<usize>)> {
    let mut groups: Vec<(&'r str, Vec<usize>)> = Vec::new();
    for (i, record) in records.iter().enumerate() {
        if decided[i].is_some() {
            continue;
        }
        let topic = record.message.topic;
        match groups.iter_mut().find(|(t, _)| *t == topic) {
            Some((_, members)) => members.push(i),
            None => groups.push((topic, vec![i])),
        }
    }
    groups
}

impl Transport for RestTransport {
    fn submit(&mut self, _now: Millis, records: &[OutgoingRecord<'_>]) {
        if records.is_empty() {
            return;
        }
        let outcomes = self.deliver(records);
        for (record, outcome) in records.iter().zip(outcomes) {
            self.queue.push_back((record.seq, outcome));
        }
    }

    fn poll(&mut self, _now: Millis, _timeout: Millis, report: &mut dyn FnMut(Seq, Outcome)) -> usize {
        let mut reported = 0;
        while let Some((seq, outcome)) = self.queue.pop_front() {
            report(seq, outcome);
            reported += 1;
        }
        reported
    }

    fn in_flight(&self) -> usize {
        self.queue.len()
    }
}
