//! The oracle's judgement: of each delivery the user is told about, as it
//! happens (a confirmation the broker never wrote, a dead letter without a
//! terminal refusal), and of the whole run once the calm phase has drained.
//!
//! - Every accepted message is on the broker at least once, or is in the
//!   dead-letter area with a terminal reason the broker really gave (or the
//!   delivery timeout), or vanished at a recovery with an excuse its
//!   durability level allows. None is silently missing.
//! - Nothing is on the broker that was never sent (or was refused), and
//!   every record there is byte for byte what was sent, under its own id.
//! - Within a partition (or key), first deliveries are in send order, except
//!   where the broker itself wrote a later record of a request while
//!   refusing an earlier one.
//! - Duplicates are counted; each resubmission was already checked to have
//!   a reason (a failure, an unknown outcome, or a restart).
//! - The producer is idle with nothing pending, its byte count matches the
//!   disk, disk use is back near zero, and a clean restart finds nothing to
//!   do and nothing damaged.

use std::collections::BTreeMap;

use steadfast_core::journal::format::EntryKind;
use steadfast_core::{Delivery, FailureClass};

use super::disk::Disk;
use super::inspect;
use super::ledger::SendState;
use super::world::{SimProducer, World};

impl World {
    pub(super) fn on_delivery(&mut self, delivery: Delivery) {
        match delivery {
            Delivery::Confirmed { id, .. } => {
                self.counts.bump("delivered: confirmed to user");
                let Some(uid) = self.ledger.by_id.get(&id).copied() else {
                    self.violation(format!("confirmed {id}, which no send returned"));
                    return;
                };
                if let Some(m) = self.ledger.get(uid) {
                    m.confirmed = true;
                }
                if self.writes_of(uid) == 0 {
                    self.violation(format!(
                        "message {uid} ({id}) was confirmed to the user but the broker never wrote it"
                    ));
                }
            }
            Delivery::DeadLettered { id, failure } => {
                self.counts.bump("delivered: dead-lettered");
                let Some(uid) = self.ledger.by_id.get(&id).copied() else {
                    self.violation(format!("dead-lettered {id}, which no send returned"));
                    return;
                };
                if let Some(m) = self.ledger.get(uid) {
                    m.dead_lettered = true;
                }
                let timeout = failure.reason.starts_with("delivery timeout");
                if failure.class != FailureClass::Terminal || !self.terminal_ok(uid, failure.code, timeout) {
                    self.violation(format!(
                        "message {uid} was dead-lettered without a terminal refusal: {failure}"
                    ));
                }
            }
        }
    }

    /// True if a dead letter of `uid` with `code` is justified: the broker
    /// refused it for good with that code, or the delivery timeout ran out.
    pub(super) fn terminal_ok(&self, uid: u64, code: i32, timeout: bool) -> bool {
        (timeout && self.config.retry.delivery_timeout.is_some())
            || self
                .net
                .broker
                .terminal_issued
                .get(&uid)
                .is_some_and(|codes| codes.contains(&code))
    }

    /// Runs every end-of-run check; stops at the first violation.
    pub(super) fn final_checks(&mut self) {
        self.check_producer();
        if !self.failed() {
            self.check_messages();
        }
        if !self.failed() {
            self.check_broker();
        }
        if !self.failed() {
            self.check_order();
        }
        if !self.failed() {
            self.check_clean_restart();
        }
    }

    fn check_producer(&mut self) {
        let Some(p) = &self.producer else {
            return self.violation("the producer is down at the end".into());
        };
        let stats = p.stats();
        let live = self.disk.borrow().live_bytes() as u64;
        if !p.is_idle() || stats.pending != 0 {
            let idle = p.is_idle();
            let open: Vec<String> = self
                .ledger
                .accepted()
                .filter(|m| !m.confirmed && !m.dead_lettered && m.lost.is_none())
                .take(5)
                .map(|m| format!("{} ({:?}, {} attempts)", m.uid, m.id.map(|i| i.seq), m.attempts))
                .collect();
            return self.violation(format!(
                "the producer is done but not drained: idle {idle}, {} pending; not reported to the user: {open:?}",
                stats.pending
            ));
        }
        if stats.journal_bytes != live {
            return self.violation(format!(
                "the producer counts {} journal bytes, the disk holds {live}",
                stats.journal_bytes
            ));
        }
        // Segments holding dead letters stay until the user decides; the
        // rest must be down to the current segment (and one being freed).
        let views = inspect::parse_disk(&self.disk.borrow());
        let d = self.disk.borrow();
        let (mut pinned, mut rest) = (0u64, 0u64);
        for (id, v) in &views {
            let len = d.files.get(id).map_or(0, |f| f.data.len() as u64);
            if v.frames.iter().any(|f| f.dead_letter.is_some()) {
                pinned += 1;
            } else {
                rest += len;
            }
        }
        drop(d);
        let allowed = 2 * self.config.segment_size + 4096;
        if rest > allowed {
            self.violation(format!(
                "disk use did not come back down: {rest} bytes in segments without dead letters ({} segments, {pinned} holding dead letters), at most {allowed} expected",
                views.len()
            ));
        }
    }

    fn check_messages(&mut self) {
        let views = inspect::parse_disk(&self.disk.borrow());
        let mut dead: BTreeMap<u64, Vec<(i32, bool)>> = BTreeMap::new();
        for v in views.values() {
            for f in &v.frames {
                if let (Some(uid), Some(dl)) = (f.uid, f.dead_letter) {
                    dead.entry(uid).or_default().push(dl);
                }
            }
        }
        for (uid, letters) in &dead {
            for (code, timeout) in letters {
                if !self.terminal_ok(*uid, *code, *timeout) {
                    return self.violation(format!(
                        "message {uid} is dead-lettered with code {code} but the broker never refused it for good"
                    ));
                }
            }
        }
        for i in 0..self.ledger.msgs.len() {
            let uid = self.ledger.msgs[i].uid;
            let writes = self.writes_of(uid);
            let m = &self.ledger.msgs[i];
            if m.state == SendState::Refused {
                if writes > 0 {
                    return self.violation(format!(
                        "message {uid} was refused by send, yet the broker has it"
                    ));
                }
                continue;
            }
            if writes > 0 || dead.contains_key(&uid) || matches!(m.lost, Some(Some(_))) {
                continue;
            }
            let m = m.clone();
            return self.violation(format!(
                "message {uid} ({:?}, send {:?}, said synced: {}, confirmed to user: {}, dead-lettered to user: {}, attempts: {}) is neither on the broker, nor dead-lettered, nor lost with an excuse",
                m.id, m.state, m.claimed, m.confirmed, m.dead_lettered, m.attempts
            ));
        }
    }

    fn check_broker(&mut self) {
        let _ = self.writes_of(0);
        let mut duplicates = 0u64;
        for (i, w) in self.net.broker.writes.iter().enumerate() {
            let Some(uid) = w.uid else {
                return self.violation(format!("broker record {i} carries no message of the simulation"));
            };
            let Some(m) = self.ledger.msgs.get(uid as usize - 1) else {
                return self.violation(format!("broker has message {uid}, which was never sent"));
            };
            if m.id != Some(w.id) {
                return self.violation(format!(
                    "message {uid} was delivered as {} but journaled as {:?}",
                    w.id, m.id
                ));
            }
            if !w.intact || w.topic != m.topic || m.partition.is_some_and(|p| p != w.partition) {
                return self.violation(format!(
                    "message {uid} reached the broker altered (topic {}, partition {}, bytes intact: {})",
                    w.topic, w.partition, w.intact
                ));
            }
        }
        for (uid, n) in self.writes.iter().enumerate() {
            if *n > 1 {
                duplicates += u64::from(*n - 1);
            }
            let tries = self.attempts.get(uid).copied().unwrap_or(0);
            if *n > tries {
                return self.violation(format!(
                    "the broker wrote message {uid} {n} times but it was submitted only {tries} times"
                ));
            }
        }
        self.counts.add("duplicates on broker", duplicates);
    }

    fn check_order(&mut self) {
        let broker = &self.net.broker;
        let mut first: BTreeMap<u64, usize> = BTreeMap::new();
        for (i, w) in broker.writes.iter().enumerate() {
            if let Some(uid) = w.uid {
                first.entry(uid).or_insert(i);
            }
        }
        let mut by_key: BTreeMap<String, Vec<(u64, usize)>> = BTreeMap::new();
        for m in &self.ledger.msgs {
            if let (Some(key), Some(at)) = (&m.order_key, first.get(&m.uid)) {
                by_key.entry(key.clone()).or_default().push((m.uid, *at));
            }
        }
        let mut broken = None;
        let mut late_forgotten = 0;
        let mut late_undone = 0;
        'keys: for (key, list) in by_key {
            for (a, (early, early_at)) in list.iter().enumerate() {
                for (late, late_at) in &list[a + 1..] {
                    if late_at > early_at {
                        continue;
                    }
                    // The broker wrote `late` in a request that refused `early`.
                    let req = broker.writes[*late_at].request;
                    let refused = broker
                        .requests
                        .get(&req)
                        .is_some_and(|log| log.contains(&(Some(*early), false)));
                    // `early` vanished from the journal in a way the oracle
                    // allows (power loss below its durability level, named
                    // damage) while a request carrying it was on the wire:
                    // nothing retried it, that old copy simply arrived late.
                    let m = &self.ledger.msgs[*early as usize - 1];
                    let forgotten = matches!(m.lost, Some(Some(_)));
                    // `early` was dead-lettered (so later ones went ahead);
                    // a crash undid the dead letter before it was durable and
                    // a later attempt got through.
                    let undone = m.dead_lettered;
                    if undone && !forgotten && !refused {
                        late_undone += 1;
                    }
                    if forgotten {
                        late_forgotten += 1;
                    }
                    if !refused && !forgotten && !undone {
                        broken = Some(format!(
                            "order broken in {key}: message {late} was first delivered (broker record {late_at}) before message {early}, sent earlier (record {early_at})"
                        ));
                        break 'keys;
                    }
                }
            }
        }
        self.counts
            .add("order: late copy of a message the journal lost", late_forgotten);
        self.counts
            .add("order: late delivery of an undone dead letter", late_undone);
        if let Some(msg) = broken {
            self.violation(msg);
        }
    }

    fn check_clean_restart(&mut self) {
        let Some(p) = self.producer.take() else { return };
        let (storage, _) = p.into_parts();
        drop(storage);
        let dead_letters = inspect::parse_disk(&self.disk.borrow())
            .values()
            .flat_map(|v| v.frames.iter())
            .filter(|f| f.kind == EntryKind::DeadLetter as u8)
            .count() as u64;
        {
            let d = self.disk.borrow();
            for (id, v) in inspect::parse_disk(&d) {
                for f in &v.frames {
                    let removed = f.removed.unwrap_or(0);
                    self.trace
                        .ev(self.now, "final-frame", &[id, f.seq, u64::from(f.kind), removed]);
                }
            }
        }
        let storage = Disk::handle(&self.disk);
        let buf = vec![0u8; SimProducer::buffer_len(&self.config)];
        let report = match SimProducer::open(storage, buf, self.config, self.now) {
            Ok((_, report)) => report,
            Err(f) => return self.violation(format!("clean restart failed: {}", f.error)),
        };
        let fresh = report
            .damage
            .iter()
            .any(|d| !self.seen_damage.iter().any(|s| super::life::same_place(s, d)));
        if fresh || report.torn_tail.is_some() || report.pending != 0 || report.dead_letters != dead_letters {
            self.violation(format!(
                "a clean restart after draining is not clean ({dead_letters} dead letters on disk; new damage: {fresh}; torn tail {:?}):\n{report}",
                report.torn_tail
            ));
        }
    }
}
