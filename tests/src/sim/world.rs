//! The world: one producer process (or none, while it is down), its disk,
//! the network and broker, the clock, and the driver loop between them.
//!
//! The loop follows the call order written in the `Producer` type doc:
//! send, sync (for `SyncPolicy::Always`, completing a send only once
//! `is_synced` says so), transmit every ready batch, feed every outcome,
//! run the timers. The clock then jumps to the earliest deadline of anyone
//! — the producer's `poll_timeout`, the wire, the fault schedule — so the
//! producer's `now` comes from nowhere else.

use std::cell::RefCell;
use std::collections::{BTreeMap, VecDeque};
use std::rc::Rc;

use steadfast_core::{
    Config, Damage, MessageId, Millis, Outcome, OutgoingRecord, Producer, SegmentId, SendErrorKind, Seq,
    Storage, SyncPolicy,
};

use super::broker::Broker;
use super::counts::Counts;
use super::disk::{Disk, DiskNote, SimStorage};
use super::ledger::{Ledger, SendState};
use super::net::SimNet;
use super::planted::{Bugged, Planted};
use super::report::Options;
use super::rng::Rng;
use super::sched::Schedule;
use super::swarm::{self, Params};
use super::trace::Trace;
use super::workload::Workload;

/// Ordering lanes of the simulated producer.
pub const LANES: usize = 4;
/// Lane window: small, so windows overflow and are refilled from the journal.
pub const WINDOW: usize = 8;
/// Segment slots.
pub const SEGMENTS: usize = 64;
/// The producer under test.
pub type SimProducer = Producer<SimStorage, Vec<u8>, LANES, WINDOW, SEGMENTS>;

/// Longest the calm phase may take to drain everything.
pub const CALM_LIMIT: Millis = 600_000;

/// How the process dies.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum CrashKind {
    /// The process dies; the page cache survives.
    Process,
    /// The machine loses power.
    Power,
}

/// Damage injected while the producer was down, not yet checked against a
/// recovery report.
#[derive(Clone, Debug)]
pub struct Injected {
    /// Segment damaged.
    pub segment: SegmentId,
    /// Byte offset of the damage.
    pub offset: usize,
    /// A truncation at an entry boundary (else a corruption).
    pub truncation: bool,
    /// The segment header was hit.
    pub header: bool,
    /// Entries destroyed.
    pub hits: Vec<Hit>,
    /// A truncation of a sealed segment whose successor was already deleted:
    /// no chain reaches across the gap, so nothing can detect it.
    pub unchained: bool,
    /// A recovery made repairs and then failed: its report never arrived.
    pub report_lost: bool,
}

/// One entry an injury destroyed.
#[derive(Clone, Copy, Debug)]
pub struct Hit {
    /// Its seq.
    pub seq: Seq,
    /// Its offset in the segment.
    pub offset: usize,
    /// The message it holds (a message or a dead letter).
    pub uid: Option<u64>,
    /// For a `SegmentRemoved` entry, the segment it removed.
    pub removed: Option<SegmentId>,
    /// It was a manifest (the list of live segments).
    pub manifest: bool,
}

/// The simulated world.
pub struct World {
    /// The run's seed.
    pub seed: u64,
    /// The clock.
    pub now: Millis,
    /// Producer configuration.
    pub config: Config,
    /// Faults and load.
    pub params: Params,
    /// The disk.
    pub disk: Rc<RefCell<Disk>>,
    /// Network and broker.
    pub net: SimNet,
    /// The producer, while its process is up.
    pub producer: Option<SimProducer>,
    /// Producers opened so far.
    pub incarnation: u64,
    /// Every message and promise.
    pub ledger: Ledger,
    /// The trace.
    pub trace: Trace,
    /// The fault table.
    pub counts: Counts,
    /// What the oracle found wrong (the run stops at the first).
    pub violations: Vec<String>,
    /// A planted bug, if any.
    pub planted: Option<Planted>,
    /// In the calm phase.
    pub calm: bool,
    /// Driven by explicit actions (proptest), not by the fault schedule.
    pub scripted: bool,
    pub(super) workload: Workload,
    pub(super) out: Vec<u8>,
    pub(super) restart_at: Option<Millis>,
    pub(super) armed: Option<CrashKind>,
    pub(super) injected: Vec<Injected>,
    pub(super) tear_floor: BTreeMap<SegmentId, usize>,
    pub(super) seen_damage: Vec<Damage>,
    pub(super) unclaimed: Vec<u64>,
    pub(super) fake: VecDeque<(Seq, Outcome)>,
    pub(super) rng_bug: Rng,
    pub(super) rng_crash: Rng,
    pub(super) rng_damage: Rng,
    pub(super) rng_ids: Rng,
    pub(super) sched: Schedule,
    pub(super) writes_seen: usize,
    pub(super) writes: Vec<u32>,
    pub(super) attempts: Vec<u32>,
    /// Messages confirmed or dead-lettered so far: a round that moves it
    /// is work, not a spin.
    pub(super) progress: u64,
    /// `progress` when the clock last moved or a round made progress.
    pub(super) progress_seen: u64,
}

impl World {
    /// A world for `opts.seed`, with its first producer opened.
    pub fn new(opts: &Options) -> World {
        let seed = opts.seed;
        let config = swarm::config(seed);
        let mut params = swarm::params(seed);
        if opts.scripted {
            params = Params {
                fault_ms: 0,
                restart_delay: (1, 100),
                ..Params::default()
            };
            params.net.latency = (1, 20);
            params.request_timeout = 500;
        }
        let disk = Disk::new(Rng::stream(seed, "disk"));
        disk.borrow_mut().faults = params.disk;
        disk.borrow_mut().lying_sync = opts.planted == Some(Planted::LyingSync);
        let mut broker = Broker::new(Rng::stream(seed, "broker"));
        broker.faults = params.broker;
        let mut net = SimNet::new(Rng::stream(seed, "net"), broker);
        net.faults = params.net;
        net.timeout = params.request_timeout;
        let workload = Workload::new(Rng::stream(seed, "workload"), params.poison);
        let sched = Schedule::new(seed, &params, opts.scripted);
        let mut w = World {
            seed,
            now: 0,
            config,
            params,
            disk,
            net,
            producer: None,
            incarnation: 0,
            ledger: Ledger::default(),
            trace: Trace::new(opts.verbose),
            counts: Counts::default(),
            violations: Vec::new(),
            planted: opts.planted,
            calm: false,
            scripted: opts.scripted,
            workload,
            out: vec![0u8; 1 << 16],
            restart_at: Some(0),
            armed: None,
            injected: Vec::new(),
            tear_floor: BTreeMap::new(),
            seen_damage: Vec::new(),
            unclaimed: Vec::new(),
            fake: VecDeque::new(),
            rng_bug: Rng::stream(seed, "planted"),
            rng_crash: Rng::stream(seed, "crash"),
            rng_damage: Rng::stream(seed, "damage"),
            rng_ids: Rng::stream(seed, "journal-ids"),
            sched,
            writes_seen: 0,
            writes: Vec::new(),
            attempts: Vec::new(),
            progress: 0,
            progress_seen: 0,
        };
        w.trace
            .ev(0, "start", &[seed, w.config.segment_size, w.config.budget]);
        w.restart();
        w
    }

    /// True once the oracle found something wrong.
    pub fn failed(&self) -> bool {
        !self.violations.is_empty()
    }

    /// Records a violation; the run stops.
    pub fn violation(&mut self, what: String) {
        self.trace
            .ev(self.now, "VIOLATION", &[self.violations.len() as u64]);
        if self.violations.is_empty() {
            self.violations.push(format!("t={} ms: {what}", self.now));
        }
    }

    /// Runs the world until the clock reaches `until`.
    pub fn run_until(&mut self, until: Millis) {
        let mut spins = 0u32;
        while self.now < until && !self.failed() {
            self.step();
            let next = self.next_time().unwrap_or(until).min(until);
            self.advance_clock(next, &mut spins, 10);
        }
    }

    /// Moves the clock to `next`. When the producer keeps asking to be
    /// called again right now without anything changing, a real driver
    /// would spin: that is a violation (a battery-powered device would burn
    /// its battery), and the clock is pushed on by up to `jump` ms, never
    /// past anyone else's next event, so the run can finish its report.
    pub(super) fn advance_clock(&mut self, next: Millis, spins: &mut u32, jump: Millis) {
        // A round that delivered something is a burst of work (a lane
        // draining one small batch per round over a zero-latency network),
        // not a spin.
        if self.progress != self.progress_seen {
            self.progress_seen = self.progress;
            *spins = 0;
        }
        if next > self.now {
            *spins = 0;
            self.now = next;
            return;
        }
        *spins += 1;
        if *spins > 64 {
            *spins = 0;
            self.counts.bump("busy loops (producer due now, 64 rounds)");
            let producer = self.producer.as_ref().and_then(|p| p.poll_timeout(self.now));
            self.violation(format!(
                "due now for 64 rounds in a row with no progress, so a driver would spin: producer's \
                 poll_timeout {producer:?}, network {:?}, restart {:?}, schedule {:?}",
                self.net.next_event(),
                self.restart_at,
                self.sched.next()
            ));

            let others = [self.net.next_event(), self.restart_at, self.sched.next()]
                .into_iter()
                .flatten()
                .filter(|t| *t > self.now)
                .min();
            self.now = others.map_or(self.now + jump, |t| t.min(self.now + jump));
        }
    }

    /// One round at the current time.
    pub fn step(&mut self) {
        if self.producer.is_none() && self.restart_at.is_some_and(|t| t <= self.now) {
            self.restart();
        }
        if self.sched.send.is_some_and(|t| t <= self.now) {
            let n = self.sched.r_send.between(1, self.params.burst.max(1));
            let (lo, hi) = self.params.send_gap;
            let gap = self.sched.r_send.between(lo, hi).max(1);
            self.sched.send = Some(self.now + gap);
            self.send_burst(n);
        }
        if self.producer.is_some() {
            self.pump();
        } else {
            // The process is down, the wire and the broker are not:
            // requests already sent arrive and are handled (their answers
            // go nowhere). Else their events would stay due, and the world
            // would spin on them until the restart.
            self.net.advance(self.now);
        }

        if !self.calm {
            self.faults_due();
            if !self.scripted && self.now >= self.params.fault_ms {
                self.go_calm();
            }
        }
    }

    /// When anything next needs the world.
    pub fn next_time(&self) -> Option<Millis> {
        let producer = self.producer.as_ref().and_then(|p| p.poll_timeout(self.now));
        let phase_end = (!self.calm && !self.scripted).then_some(self.params.fault_ms);
        [
            producer,
            self.net.next_event(),
            self.restart_at,
            self.sched.next(),
            phase_end,
        ]
        .into_iter()
        .flatten()
        .min()
    }

    /// Ends the fault phase: the network heals, the disk behaves, nothing crashes.
    pub fn go_calm(&mut self) {
        self.calm = true;
        self.trace.ev(self.now, "calm", &[]);
        self.sched.stop();
        self.sched.full_until = None;
        self.net.faults = super::net::NetFaults {
            latency: (1, 10),
            ..Default::default()
        };
        self.net.broker.faults = Default::default();
        self.net.broker.down_until = 0;
        self.net.broker.leader_moving.clear();
        let mut d = self.disk.borrow_mut();
        d.faults = Default::default();
        d.disarm();
        self.armed = None;
    }

    /// Sends `n` messages now (if the producer is up).
    pub fn send_burst(&mut self, n: u64) {
        for _ in 0..n {
            let now = self.now;
            let Some(p) = self.producer.as_mut() else {
                return;
            };
            let spec = self.workload.next_spec();
            let result = p.send(now, spec.message()).map_err(|e| e.kind);
            let journal = p.journal_id();
            let incarnation = self.incarnation;
            let sync = self.config.sync;
            let m = self.ledger.add(&spec, now, incarnation);
            match result {
                Ok(seq) => {
                    let id = MessageId { journal, seq };
                    m.id = Some(id);
                    m.state = match sync {
                        SyncPolicy::Always => SendState::Waiting,
                        _ => SendState::Completed,
                    };
                    if let SyncPolicy::Interval(d) = sync {
                        m.owed_at = Some(now + d);
                    }
                    self.counts.bump("messages accepted");
                    self.trace.ev(now, "send", &[spec.uid, seq]);
                    self.unclaimed.push(spec.uid);
                    if let Some(old) = self.ledger.by_id.insert(id, spec.uid)
                        && self.writes_of(old) > 0
                    {
                        self.violation(format!(
                            "id {id} was reused for message {} though message {old} was delivered under it",
                            spec.uid
                        ));
                    }
                }
                Err(kind) => {
                    let name = match kind {
                        SendErrorKind::Full { .. } => "sends refused: full",
                        SendErrorKind::NoSpace => "sends refused: no space",
                        SendErrorKind::FailedClosed(_) => "sends refused: failed closed",
                        _ => "sends refused: other",
                    };
                    self.counts.bump(name);
                    self.trace.ev(now, "refused", &[spec.uid]);
                }
            }
            if !self.after_call() {
                return;
            }
        }
    }

    /// Broker writes of message `uid` so far.
    pub fn writes_of(&mut self, uid: u64) -> u32 {
        let writes = &self.net.broker.writes;
        for w in &writes[self.writes_seen..] {
            if let Some(u) = w.uid {
                let i = u as usize;
                if self.writes.len() <= i {
                    self.writes.resize(i + 1, 0);
                }
                self.writes[i] += 1;
            }
        }
        self.writes_seen = writes.len();
        self.writes.get(uid as usize).copied().unwrap_or(0)
    }

    /// Drains the disk's notes; crashes the process if an armed crash
    /// struck. Returns false if the process is gone.
    pub(super) fn after_call(&mut self) -> bool {
        let notes = std::mem::take(&mut self.disk.borrow_mut().notes);
        for note in notes {
            match note {
                DiskNote::ReadError => self.counts.bump("disk: read errors"),
                DiskNote::NoSpace => self.counts.bump("disk: ENOSPC"),
                DiskNote::FsyncFailed {
                    segment,
                    synced,
                    dropped,
                    ..
                } => {
                    self.counts.bump("disk: fsync failures");
                    self.trace
                        .ev(self.now, "fsync-failed", &[segment, dropped as u64]);
                    let floor = self.tear_floor.entry(segment).or_insert(synced);
                    *floor = (*floor).min(synced);
                    for uid in &self.unclaimed {
                        if let Some(m) = self.ledger.get(*uid) {
                            m.exposed = true;
                        }
                    }
                }
            }
        }
        if self.disk.borrow().dead() {
            let kind = self.armed.take().unwrap_or(CrashKind::Process);
            self.counts.bump("crashes mid-call");
            self.crash(kind);
            return false;
        }
        true
    }

    /// Marks what the producer now says is synced.
    pub(super) fn claims(&mut self) {
        let Some(p) = &self.producer else { return };
        let (journal, synced) = (p.journal_id(), p.stats().synced_seq);
        let ledger = &mut self.ledger;
        self.unclaimed.retain(|uid| {
            let Some(m) = ledger.msgs.get_mut(*uid as usize - 1) else {
                return false;
            };
            let Some(id) = m.id else { return false };
            if ledger.by_id.get(&id) != Some(uid) || m.lost.is_some() {
                return false;
            }
            if id.journal == journal && id.seq <= synced {
                m.claimed = true;
                if m.state == SendState::Waiting {
                    m.state = SendState::Completed;
                }
                return false;
            }
            true
        });
    }

    /// One pass of the driver loop over the producer.
    pub(super) fn pump(&mut self) {
        let now = self.now;
        if self.config.sync == SyncPolicy::Always {
            let Some(p) = self.producer.as_mut() else { return };
            if let Some(request) = p.poll_sync(now) {
                // The sync step as a driver sees it: the core asks, the
                // driver runs it on the storage, the core learns the result.
                let result = p.storage_mut().sync(request.segment());
                let ok = p.handle_synced(now, request, result).is_ok();
                self.trace.ev(now, "sync", &[u64::from(ok)]);
                if !self.after_call() {
                    return;
                }
            }
        }
        self.claims();
        loop {
            let Some(p) = self.producer.as_mut() else { return };
            match p.poll_transmit(now, &mut self.out) {
                Ok(Some(batch)) => {
                    let mut records: Vec<OutgoingRecord<'_>> = Vec::with_capacity(batch.len());
                    let mut bad = false;
                    for r in batch.records(&self.out) {
                        match r {
                            Ok(r) => records.push(r),
                            Err(_) => bad = true,
                        }
                    }
                    for r in &records {
                        self.trace.ev(now, "submit", &[r.seq, u64::from(batch.lane())]);
                        let uid = self.ledger.by_id.get(&r.id).copied();
                        note_attempt(
                            &mut self.ledger,
                            &mut self.attempts,
                            &mut self.violations,
                            uid,
                            r.id,
                            now,
                        );
                    }
                    let mut t = Bugged {
                        net: &mut self.net,
                        bug: self.planted,
                        fake: &mut self.fake,
                        rng: &mut self.rng_bug,
                    };
                    steadfast_core::Transport::submit(&mut t, now, &records);
                    drop(records);
                    if bad {
                        self.violation("poll_transmit produced a record that does not decode".into());
                    }
                }
                Ok(None) => break,
                Err(_) => {
                    self.counts.bump("poll_transmit errors");
                    self.trace.ev(now, "transmit-error", &[]);
                    break;
                }
            }
            if !self.after_call() {
                return;
            }
        }
        let mut outcomes = Vec::new();
        {
            let mut t = Bugged {
                net: &mut self.net,
                bug: self.planted,
                fake: &mut self.fake,
                rng: &mut self.rng_bug,
            };
            steadfast_core::Transport::poll(&mut t, now, 0, &mut |seq, o| outcomes.push((seq, o)));
        }
        for (seq, outcome) in outcomes {
            let Some(p) = self.producer.as_mut() else { return };
            let journal = p.journal_id();
            let failed = matches!(outcome, Outcome::Failed(_));
            self.trace.ev(now, "outcome", &[seq, u64::from(failed)]);
            p.handle_outcome(now, seq, outcome);
            if failed {
                let id = MessageId { journal, seq };
                if let Some(m) = self
                    .ledger
                    .by_id
                    .get(&id)
                    .copied()
                    .and_then(|u| self.ledger.get(u))
                {
                    m.resend_ok = true;
                }
            }
            if !self.after_call() {
                return;
            }
        }
        loop {
            let Some(p) = self.producer.as_mut() else { return };
            let Some(delivery) = p.poll_delivery(now) else {
                break;
            };
            self.progress += 1;
            self.on_delivery(delivery);
            if !self.after_call() || self.failed() {
                return;
            }
        }
        let Some(p) = self.producer.as_mut() else { return };
        let ok = p.handle_timeout(now).is_ok();
        if !ok {
            self.counts.bump("handle_timeout errors");
        }
        if !self.after_call() {
            return;
        }
        self.claims();
        if self.producer.as_ref().is_some_and(|p| p.failed().is_some()) {
            self.counts.bump("restarts after fail-closed");
            self.trace.ev(now, "failed-closed", &[]);
            self.crash(CrashKind::Process);
        }
    }
}

/// Records a submission of `id`; a resubmission needs a reason.
fn note_attempt(
    ledger: &mut Ledger,
    attempts: &mut Vec<u32>,
    violations: &mut Vec<String>,
    uid: Option<u64>,
    id: MessageId,
    now: Millis,
) {
    let Some(uid) = uid else {
        violations.push(format!("t={now} ms: submitted {id}, which no send returned"));
        return;
    };
    if attempts.len() <= uid as usize {
        attempts.resize(uid as usize + 1, 0);
    }
    attempts[uid as usize] += 1;
    let resends = &mut ledger.resends;
    let Some(m) = ledger.msgs.get_mut(uid as usize - 1) else {
        return;
    };
    if m.attempts > 0 {
        if !m.resend_ok && violations.is_empty() {
            violations.push(format!(
                "t={now} ms: message {uid} ({id}) was sent again after its confirmation, with no failure or restart between"
            ));
        }
        if m.resend_after_restart {
            resends.after_restart += 1;
        } else {
            resends.after_failure += 1;
        }
    }
    m.attempts += 1;
    m.resend_ok = false;
    m.resend_after_restart = false;
}

#[cfg(test)]
mod tests {
    use super::World;
    use crate::sim::Options;

    #[test]
    fn a_world_due_now_round_after_round_is_a_violation() {
        let mut w = World::new(&Options {
            seed: 1,
            ..Options::default()
        });
        let mut spins = 0;
        for _ in 0..64 {
            w.advance_clock(w.now, &mut spins, 10);
        }
        assert!(!w.failed(), "64 rounds due now may be a burst of work");
        let before = w.now;
        w.advance_clock(w.now, &mut spins, 10);
        assert!(w.failed());
        assert!(
            w.violations[0].contains("a driver would spin"),
            "{:?}",
            w.violations
        );
        assert!(w.now > before, "the clock is pushed on so the run can end");
        assert_eq!(w.counts.get("busy loops (producer due now, 64 rounds)"), 1);
    }

    #[test]
    fn rounds_due_now_that_deliver_are_work_not_a_spin() {
        let mut w = World::new(&Options {
            seed: 1,
            ..Options::default()
        });
        let mut spins = 0;
        for _ in 0..500 {
            w.progress += 1; // a round that confirmed a message
            w.advance_clock(w.now, &mut spins, 10);
        }
        assert!(!w.failed(), "{:?}", w.violations);
        // Then rounds with nothing delivered: a spin again.
        for _ in 0..66 {
            w.advance_clock(w.now, &mut spins, 10);
        }
        assert!(w.failed());
    }
}
