//! When the next random event of each kind happens in the fault phase.
//!
//! Every kind has its own stream, so a change to one kind's timing leaves
//! the others' untouched. Gaps are exponential around the swarm's mean.

use steadfast_core::Millis;

use super::rng::Rng;
use super::swarm::Params;

/// Exponential gap with `mean`, at least 1 ms.
pub fn exp_gap(r: &mut Rng, mean: Millis) -> Millis {
    (-(mean as f64) * (1.0 - r.unit()).ln()) as Millis + 1
}

/// The fault phase's timeline.
#[derive(Debug)]
pub struct Schedule {
    /// Next burst of sends.
    pub send: Option<Millis>,
    /// Next crash.
    pub crash: Option<Millis>,
    /// Next broker outage.
    pub outage: Option<Millis>,
    /// Next leader change.
    pub leader: Option<Millis>,
    /// Next disk-full window.
    pub full: Option<Millis>,
    /// End of the current disk-full window.
    pub full_until: Option<Millis>,
    /// Stream of the sends.
    pub r_send: Rng,
    /// Stream of the crashes.
    pub r_crash: Rng,
    /// Stream of the outages.
    pub r_outage: Rng,
    /// Stream of the leader changes.
    pub r_leader: Rng,
    /// Stream of the disk-full windows.
    pub r_full: Rng,
}

impl Schedule {
    /// The timeline of run `seed`; empty when `scripted`.
    pub fn new(seed: u64, p: &Params, scripted: bool) -> Self {
        let mut s = Schedule {
            send: None,
            crash: None,
            outage: None,
            leader: None,
            full: None,
            full_until: None,
            r_send: Rng::stream(seed, "sched/send"),
            r_crash: Rng::stream(seed, "sched/crash"),
            r_outage: Rng::stream(seed, "sched/outage"),
            r_leader: Rng::stream(seed, "sched/leader"),
            r_full: Rng::stream(seed, "sched/full"),
        };
        if scripted {
            return s;
        }
        s.send = Some(1);
        s.crash = p.crash_every.map(|m| exp_gap(&mut s.r_crash, m));
        s.outage = p.outage.map(|(m, _)| exp_gap(&mut s.r_outage, m));
        s.leader = p.leader.map(|(m, _)| exp_gap(&mut s.r_leader, m));
        s.full = p.full.map(|(m, _)| exp_gap(&mut s.r_full, m));
        s
    }

    /// The earliest pending event.
    pub fn next(&self) -> Option<Millis> {
        [
            self.send,
            self.crash,
            self.outage,
            self.leader,
            self.full,
            self.full_until,
        ]
        .into_iter()
        .flatten()
        .min()
    }

    /// Stops everything but the end of a disk-full window.
    pub fn stop(&mut self) {
        self.send = None;
        self.crash = None;
        self.outage = None;
        self.leader = None;
        self.full = None;
    }
}
