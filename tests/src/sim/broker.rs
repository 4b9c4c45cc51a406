//! The simulated Kafka broker: partitions, leaders, and every way it says no.
//!
//! It keeps the ground truth the oracle judges by: every record it wrote, in
//! order, with the request that carried it, and every terminal refusal it
//! issued (so a dead letter can be checked against a refusal that really
//! happened). Refusals come per record, so one request can be partly written
//! — the REST proxy's per-record `error_code`.

use std::collections::BTreeMap;

use steadfast_core::{Failure, FailureClass, MessageId, Millis, Outcome, Seq};

use super::rng::Rng;
use super::workload::{BROKER_MAX_VALUE, FORBIDDEN_TOPIC, PARTITIONS, uid_of, value_intact};

/// A record as it travels to the broker (owned).
#[derive(Clone, Debug)]
pub struct Rec {
    /// Seq the outcome is reported under.
    pub seq: Seq,
    /// The producer's id for it.
    pub id: MessageId,
    /// Topic.
    pub topic: String,
    /// Explicit partition.
    pub partition: Option<i32>,
    /// Key.
    pub key: Option<Vec<u8>>,
    /// Value.
    pub value: Option<Vec<u8>>,
}

/// One record the broker wrote.
#[derive(Clone, Debug)]
pub struct Write {
    /// The simulation's id of the message (from its value).
    pub uid: Option<u64>,
    /// The producer's id.
    pub id: MessageId,
    /// Topic.
    pub topic: String,
    /// Partition written to.
    pub partition: i32,
    /// Whether the value is byte for byte what was sent.
    pub intact: bool,
    /// Request that carried it.
    pub request: u64,
}

/// Per-record fault rates.
#[derive(Clone, Copy, Debug, Default)]
pub struct BrokerFaults {
    /// A record refused, retriable (NOT_ENOUGH_REPLICAS).
    pub retriable: f64,
    /// A record refused for good (INVALID_RECORD).
    pub terminal: f64,
    /// A record timed out inside the broker: maybe written.
    pub unknown: f64,
    /// A whole request throttled (429 with Retry-After).
    pub throttle: f64,
}

/// Counts of what the broker did.
#[derive(Clone, Copy, Debug, Default)]
pub struct BrokerCounters {
    /// Records written.
    pub written: u64,
    /// Retriable refusals.
    pub retriable: u64,
    /// Terminal refusals.
    pub terminal: u64,
    /// Unknown outcomes.
    pub unknown: u64,
    /// Throttled requests.
    pub throttled: u64,
    /// NOT_LEADER refusals.
    pub not_leader: u64,
}

/// The broker.
#[derive(Debug)]
pub struct Broker {
    /// Every record written, in order.
    pub writes: Vec<Write>,
    /// For each request: (uid, written) per record, in request order.
    pub requests: BTreeMap<u64, Vec<(Option<u64>, bool)>>,
    /// Terminal refusals issued, by uid: the codes.
    pub terminal_issued: BTreeMap<u64, Vec<i32>>,
    /// Down (refusing connections or hanging) until this time.
    pub down_until: Millis,
    /// Partitions whose leader is moving, until when.
    pub leader_moving: BTreeMap<(String, i32), Millis>,
    /// Fault rates.
    pub faults: BrokerFaults,
    /// Counters.
    pub counters: BrokerCounters,
    rng: Rng,
    round_robin: i32,
}

fn fail(class: FailureClass, code: i32, reason: &str) -> Outcome {
    Outcome::Failed(Failure::new(class, code, reason))
}

impl Broker {
    /// A healthy broker drawing from `rng`.
    pub fn new(rng: Rng) -> Self {
        Broker {
            writes: Vec::new(),
            requests: BTreeMap::new(),
            terminal_issued: BTreeMap::new(),
            down_until: 0,
            leader_moving: BTreeMap::new(),
            faults: BrokerFaults::default(),
            counters: BrokerCounters::default(),
            rng,
            round_robin: 0,
        }
    }

    /// True if the broker is down at `now`.
    pub fn is_down(&self, now: Millis) -> bool {
        now < self.down_until
    }

    /// Handles request `req` arriving at `now`: writes what it accepts and
    /// answers every record.
    pub fn handle(&mut self, now: Millis, req: u64, recs: &[Rec]) -> Vec<(Seq, Outcome)> {
        let mut log = Vec::with_capacity(recs.len());
        let mut answers = Vec::with_capacity(recs.len());
        if self.rng.chance(self.faults.throttle) {
            self.counters.throttled += 1;
            let wait = self.rng.between(10, 300);
            for r in recs {
                let f = Failure::new(FailureClass::Retriable, 429, "throttled").with_retry_after(wait);
                answers.push((r.seq, Outcome::Failed(f)));
                log.push((r.value.as_deref().and_then(uid_of), false));
            }
            self.requests.insert(req, log);
            return answers;
        }
        for r in recs {
            let uid = r.value.as_deref().and_then(uid_of);
            let (outcome, written) = self.one(now, req, r, uid);
            if let (Outcome::Failed(f), Some(uid)) = (&outcome, uid)
                && matches!(f.class, FailureClass::Terminal | FailureClass::UnknownTopic)
            {
                self.terminal_issued.entry(uid).or_default().push(f.code);
            }
            log.push((uid, written));
            answers.push((r.seq, outcome));
        }
        self.requests.insert(req, log);
        answers
    }

    fn one(&mut self, now: Millis, req: u64, r: &Rec, uid: Option<u64>) -> (Outcome, bool) {
        if r.topic == FORBIDDEN_TOPIC {
            self.counters.terminal += 1;
            return (
                fail(FailureClass::Terminal, 29, "TOPIC_AUTHORIZATION_FAILED"),
                false,
            );
        }
        let partition = match (r.partition, &r.key) {
            (Some(p), _) => p,
            (None, Some(k)) => i32::from(k.first().copied().unwrap_or(0)) % PARTITIONS,
            (None, None) => {
                self.round_robin = (self.round_robin + 1) % PARTITIONS;
                self.round_robin
            }
        };
        if !(0..PARTITIONS).contains(&partition) {
            // Retried until the configured wait, then dead-lettered.
            self.counters.terminal += 1;
            return (
                fail(FailureClass::UnknownTopic, 3, "UNKNOWN_TOPIC_OR_PARTITION"),
                false,
            );
        }
        if r.value.as_ref().is_some_and(|v| v.len() > BROKER_MAX_VALUE) {
            self.counters.terminal += 1;
            return (fail(FailureClass::Terminal, 10, "MESSAGE_TOO_LARGE"), false);
        }
        let key = (r.topic.clone(), partition);
        if self.leader_moving.get(&key).is_some_and(|until| now < *until) {
            self.counters.not_leader += 1;
            return (fail(FailureClass::Retriable, 6, "NOT_LEADER_OR_FOLLOWER"), false);
        }
        let faults = self.faults;
        if self.rng.chance(faults.retriable) {
            self.counters.retriable += 1;
            return (fail(FailureClass::Retriable, 19, "NOT_ENOUGH_REPLICAS"), false);
        }
        // A record the broker refuses for good is refused every time.
        let mut poisoned = Rng::new(uid.unwrap_or(0) ^ 0x05ee_d0f1_e7a1);
        if poisoned.chance(faults.terminal) {
            self.counters.terminal += 1;
            return (fail(FailureClass::Terminal, 87, "INVALID_RECORD"), false);
        }
        let unknown = self.rng.chance(faults.unknown);
        let written = !unknown || self.rng.chance(0.5);
        let mut offset = -1;
        if written {
            offset = self.writes.len() as i64;
            self.counters.written += 1;
            self.writes.push(Write {
                uid,
                id: r.id,
                topic: r.topic.clone(),
                partition,
                intact: r.value.as_deref().is_some_and(value_intact),
                request: req,
            });
        }
        if unknown {
            self.counters.unknown += 1;
            return (fail(FailureClass::Unknown, 7, "REQUEST_TIMED_OUT"), written);
        }
        (Outcome::Confirmed { partition, offset }, true)
    }
}
