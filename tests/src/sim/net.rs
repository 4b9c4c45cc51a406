//! The simulated network and the transport the producer talks through.
//!
//! A request travels to the broker with a latency, may be lost on the way,
//! and its answer may be lost, late, or delivered twice. The transport has
//! its own request deadline (as the REST transport does): when it passes
//! without an answer, every record of the request is reported
//! [`FailureClass::Unknown`], and the request may still reach the broker
//! afterwards. When the producer's process dies, requests already on the
//! wire still arrive; their answers go nowhere.

use std::collections::{BTreeMap, VecDeque};

use steadfast_core::{Failure, FailureClass, Millis, Outcome, OutgoingRecord, Seq, Transport};

use super::broker::{Broker, Rec};
use super::rng::Rng;

/// Fault rates of the network (per request).
#[derive(Clone, Copy, Debug, Default)]
pub struct NetFaults {
    /// Latency bounds, one way, in ms.
    pub latency: (Millis, Millis),
    /// A request never arrives.
    pub request_loss: f64,
    /// An answer never arrives.
    pub ack_loss: f64,
    /// An answer is delivered twice.
    pub dup_ack: f64,
    /// An answer arriving after the deadline is still reported.
    pub stale_ack: f64,
    /// A latency spike past the deadline.
    pub slow: f64,
    /// While the broker is down: connection refused (else the request hangs).
    pub refused: f64,
}

/// Counts of what the network did.
#[derive(Clone, Copy, Debug, Default)]
pub struct NetCounters {
    /// Requests submitted.
    pub requests: u64,
    /// Requests lost.
    pub requests_lost: u64,
    /// Answers lost.
    pub acks_lost: u64,
    /// Answers duplicated.
    pub acks_duplicated: u64,
    /// Late answers reported after the deadline.
    pub stale_acks: u64,
    /// Requests answered by the transport's deadline (Unknown).
    pub timeouts: u64,
    /// Requests refused because the broker was down.
    pub refused: u64,
    /// Requests that hung on a down broker.
    pub hung: u64,
    /// Latency spikes.
    pub slow: u64,
}

#[derive(Debug)]
enum Ev {
    Arrive(u64),
    Answer(u64, Vec<(Seq, Outcome)>, bool),
    Deadline(u64),
}

#[derive(Debug)]
struct Req {
    recs: Vec<Rec>,
    incarnation: u64,
    answered: bool,
}

/// The network plus the broker, seen through the [`Transport`] trait.
#[derive(Debug)]
pub struct SimNet {
    /// The broker.
    pub broker: Broker,
    /// Fault rates.
    pub faults: NetFaults,
    /// The transport's own request deadline.
    pub timeout: Millis,
    /// Counters.
    pub counters: NetCounters,
    rng: Rng,
    events: BTreeMap<(Millis, u64), Ev>,
    counter: u64,
    reqs: BTreeMap<u64, Req>,
    ready: VecDeque<(Seq, Outcome)>,
    in_flight: usize,
    incarnation: u64,
    now: Millis,
}

impl SimNet {
    /// A healthy network to `broker`.
    pub fn new(rng: Rng, broker: Broker) -> Self {
        SimNet {
            broker,
            faults: NetFaults {
                latency: (1, 5),
                ..NetFaults::default()
            },
            timeout: 1_000,
            counters: NetCounters::default(),
            rng,
            events: BTreeMap::new(),
            counter: 0,
            reqs: BTreeMap::new(),
            ready: VecDeque::new(),
            in_flight: 0,
            incarnation: 0,
            now: 0,
        }
    }

    fn at(&mut self, t: Millis, ev: Ev) {
        self.counter += 1;
        self.events.insert((t, self.counter), ev);
    }

    fn latency(&mut self) -> Millis {
        let (lo, hi) = self.faults.latency;
        if self.rng.chance(self.faults.slow) {
            self.counters.slow += 1;
            return self.timeout + self.rng.between(1, self.timeout);
        }
        self.rng.between(lo, hi)
    }

    /// When something next happens on the wire.
    pub fn next_event(&self) -> Option<Millis> {
        self.events.keys().next().map(|(t, _)| *t)
    }

    /// The producer's process died: answers on their way go nowhere.
    pub fn crash(&mut self) {
        self.incarnation += 1;
        self.ready.clear();
        self.in_flight = 0;
        for r in self.reqs.values_mut() {
            r.answered = true;
        }
    }

    /// Runs the wire up to `now`.
    pub fn advance(&mut self, now: Millis) {
        self.now = self.now.max(now);
        while let Some(entry) = self.events.first_entry() {
            if entry.key().0 > now {
                break;
            }
            let ((t, _), ev) = entry.remove_entry();
            match ev {
                Ev::Arrive(id) => self.arrive(t, id),
                Ev::Answer(id, outs, dup) => self.answer(id, outs, dup),
                Ev::Deadline(id) => {
                    let Some(r) = self.reqs.get_mut(&id) else { continue };
                    if r.answered {
                        continue;
                    }
                    r.answered = true;
                    self.counters.timeouts += 1;
                    self.in_flight -= r.recs.len();
                    for rec in &r.recs {
                        let f = Failure::new(FailureClass::Unknown, -2, "request timed out");
                        self.ready.push_back((rec.seq, Outcome::Failed(f)));
                    }
                }
            }
        }
    }

    fn arrive(&mut self, t: Millis, id: u64) {
        let Some(r) = self.reqs.get(&id) else { return };
        let outs = if self.broker.is_down(t) {
            if !self.rng.chance(self.faults.refused) {
                self.counters.hung += 1;
                return;
            }
            self.counters.refused += 1;
            r.recs
                .iter()
                .map(|rec| {
                    let f = Failure::new(FailureClass::Retriable, -1, "connection refused");
                    (rec.seq, Outcome::Failed(f))
                })
                .collect()
        } else {
            let recs = r.recs.clone();
            self.broker.handle(t, id, &recs)
        };
        if self.rng.chance(self.faults.ack_loss) {
            self.counters.acks_lost += 1;
            return;
        }
        let back = self.latency();
        if self.rng.chance(self.faults.dup_ack) {
            self.counters.acks_duplicated += 1;
            let again = back + self.rng.between(0, 50);
            self.at(t + again, Ev::Answer(id, outs.clone(), true));
        }
        self.at(t + back, Ev::Answer(id, outs, false));
    }

    fn answer(&mut self, id: u64, outs: Vec<(Seq, Outcome)>, dup: bool) {
        let Some(r) = self.reqs.get_mut(&id) else { return };
        if r.incarnation != self.incarnation {
            return;
        }
        if !r.answered {
            r.answered = true;
            self.in_flight -= r.recs.len();
            self.ready.extend(outs);
        } else if dup || self.rng.chance(self.faults.stale_ack) {
            if !dup {
                self.counters.stale_acks += 1;
            }
            self.ready.extend(outs);
        }
    }
}

impl Transport for SimNet {
    fn submit(&mut self, now: Millis, records: &[OutgoingRecord<'_>]) {
        self.counters.requests += 1;
        self.counter += 1;
        let id = self.counter;
        let recs: Vec<Rec> = records
            .iter()
            .map(|r| Rec {
                seq: r.seq,
                id: r.id,
                topic: r.message.topic.to_string(),
                partition: r.message.partition,
                key: r.message.key.map(<[u8]>::to_vec),
                value: r.message.value.map(<[u8]>::to_vec),
            })
            .collect();
        self.in_flight += recs.len();
        self.reqs.insert(
            id,
            Req {
                recs,
                incarnation: self.incarnation,
                answered: false,
            },
        );
        if self.rng.chance(self.faults.request_loss) {
            self.counters.requests_lost += 1;
        } else {
            let there = self.latency();
            self.at(now + there, Ev::Arrive(id));
        }
        self.at(now + self.timeout, Ev::Deadline(id));
    }

    fn poll(&mut self, now: Millis, _timeout: Millis, report: &mut dyn FnMut(Seq, Outcome)) -> usize {
        self.advance(now);
        let n = self.ready.len();
        while let Some((seq, outcome)) = self.ready.pop_front() {
            report(seq, outcome);
        }
        n
    }

    fn in_flight(&self) -> usize {
        self.in_flight
    }
}
