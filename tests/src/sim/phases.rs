//! The two phases of a run: the fault phase's random schedule (crashes,
//! outages, leader changes, disk-full windows), then the calm phase, in
//! which the network heals and everything must drain before the oracle
//! judges the run.

use super::report::RunReport;
use super::sched::exp_gap;
use super::workload::PARTITIONS;
use super::world::{CALM_LIMIT, CrashKind, World};

impl World {
    /// Applies the fault schedule's due events.
    pub(super) fn faults_due(&mut self) {
        let now = self.now;
        let s = &mut self.sched;
        if s.crash.is_some_and(|t| t <= now) {
            let p = &self.params;
            let kind = if s.r_crash.chance(p.power_loss) {
                CrashKind::Power
            } else {
                CrashKind::Process
            };
            let mid = s.r_crash.chance(p.mid_call);
            let n = s.r_crash.below(8);
            s.crash = p.crash_every.map(|m| now + exp_gap(&mut s.r_crash, m));
            if self.producer.is_none() {
                if kind == CrashKind::Power {
                    self.crash(kind);
                }
            } else if mid {
                self.disk.borrow_mut().arm_crash(n);
                self.armed = Some(kind);
            } else {
                self.crash(kind);
            }
        }
        let s = &mut self.sched;
        if s.outage.is_some_and(|t| t <= now)
            && let Some((every, len)) = self.params.outage
        {
            self.net.broker.down_until = now + exp_gap(&mut s.r_outage, len);
            s.outage = Some(now + exp_gap(&mut s.r_outage, every));
            self.counts.bump("broker: outages");
            self.trace.ev(now, "outage", &[self.net.broker.down_until]);
        }
        if s.leader.is_some_and(|t| t <= now)
            && let Some((every, len)) = self.params.leader
        {
            let topic = s.r_leader.pick(&["orders", "events", "logs"]);
            let part = s.r_leader.below(PARTITIONS as u64) as i32;
            let until = now + s.r_leader.between(1, len);
            self.net
                .broker
                .leader_moving
                .insert((topic.to_string(), part), until);
            s.leader = Some(now + exp_gap(&mut s.r_leader, every));
            self.counts.bump("broker: leader changes");
        }
        if s.full.is_some_and(|t| t <= now)
            && let Some((every, len)) = self.params.full
        {
            self.disk.borrow_mut().faults.full = true;
            s.full_until = Some(now + s.r_full.between(1, len));
            s.full = Some(now + exp_gap(&mut s.r_full, every));
            self.counts.bump("disk: full windows");
        }
        if s.full_until.is_some_and(|t| t <= now) {
            s.full_until = None;
            self.disk.borrow_mut().faults.full = false;
        }
    }

    /// Runs the calm phase until everything drained, then the oracle.
    pub fn finish(mut self) -> RunReport {
        if !self.calm {
            self.go_calm();
        }
        // A message to a partition that does not exist is retried for
        // `unknown_topic_wait` before it is dead-lettered, one after another
        // in its lane (head-of-line): allow for each of them.
        let unknown = self
            .ledger
            .accepted()
            .filter(|m| m.partition.is_some_and(|p| p >= PARTITIONS) && !m.dead_lettered)
            .count() as u64;
        let start = self.now;
        let limit = start + CALM_LIMIT + unknown * self.config.unknown_topic_wait;
        let mut spins = 0u32;
        while !self.failed() {
            self.step();
            if self.quiescent() {
                break;
            }
            if self.now >= limit {
                let pending = self.producer.as_ref().map(|p| p.stats().pending);
                self.violation(format!(
                    "did not drain within {} ms of calm (producer up: {}, pending: {pending:?}, in flight: {})",
                    limit - start,
                    self.producer.is_some(),
                    steadfast_core::Transport::in_flight(&self.net)
                ));
                break;
            }
            let next = self.next_time().unwrap_or(self.now + 1_000).min(limit);
            self.advance_clock(next, &mut spins, 100);
        }
        if !self.failed() {
            self.final_checks();
        }
        self.report()
    }

    fn quiescent(&self) -> bool {
        let Some(p) = &self.producer else { return false };
        self.restart_at.is_none()
            && p.is_idle()
            && steadfast_core::Transport::in_flight(&self.net) == 0
            && self.fake.is_empty()
            && p.poll_timeout(self.now).is_none()
            && self.net.next_event().is_none()
    }

    /// The run's report.
    pub fn report(mut self) -> RunReport {
        let c = self.net.counters;
        let b = self.net.broker.counters;
        let rows = [
            ("net: requests", c.requests),
            ("net: requests lost", c.requests_lost),
            ("net: acks lost", c.acks_lost),
            ("net: acks duplicated", c.acks_duplicated),
            ("net: stale acks after deadline", c.stale_acks),
            ("net: latency spikes", c.slow),
            ("net: request deadlines (unknown)", c.timeouts),
            ("net: refused (broker down)", c.refused),
            ("net: hung (broker down)", c.hung),
            ("broker: records written", b.written),
            ("broker: retriable refusals", b.retriable),
            ("broker: not leader", b.not_leader),
            ("broker: terminal refusals", b.terminal),
            ("broker: unknown (maybe written)", b.unknown),
            ("broker: throttled requests", b.throttled),
            ("resends after failure", self.ledger.resends.after_failure),
            ("resends after restart", self.ledger.resends.after_restart),
        ];
        for (name, n) in rows {
            self.counts.add(name, n);
        }
        self.trace.ev(self.now, "end", &[self.violations.len() as u64]);
        RunReport {
            seed: self.seed,
            hash: self.trace.hash(),
            events: self.trace.events(),
            end: self.now,
            counts: self.counts,
            violations: self.violations,
            trace: self.trace.lines().to_vec(),
        }
    }
}
