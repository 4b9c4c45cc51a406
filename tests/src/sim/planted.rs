//! Deliberately broken adapters, to prove the oracle has teeth.
//!
//! Each bug lives in the simulator's own adapters — a storage whose sync
//! lies, transports that drop, reorder or guess — selected by
//! [`Options::planted`](super::Options), so no broken code ships in the
//! core. The `sim_planted` tests assert that every one of them is caught
//! within [`CATCH_WITHIN`] consecutive seeds, wherever the run of seeds
//! starts.

use std::collections::VecDeque;

use steadfast_core::{FailureClass, Millis, Outcome, OutgoingRecord, Seq, Transport};

use super::net::SimNet;
use super::rng::Rng;

/// How many consecutive seeds may pass before a planted bug must have been
/// caught. The rarest catch, [`Planted::LyingSync`], fails 35–53 % of the
/// seeds (measured over 100-seed windows at 0, 10,000 and 2^40), so 50
/// seeds all missing it has a chance below 10^-9: a window that misses is
/// an oracle that lost its teeth, not bad luck.
pub const CATCH_WITHIN: u64 = 50;

/// A bug to plant.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Planted {
    /// The disk says `sync` succeeded but keeps nothing (a lying write cache):
    /// sends "complete" before they are durable.
    LyingSync,
    /// The transport drops a record on the floor and reports it confirmed.
    ConfirmDropped,
    /// The transport writes a batch to the wire in reverse order.
    Reorder,
    /// The transport treats "outcome unknown" as success: the retry is skipped.
    UnknownIsConfirmed,
}

impl Planted {
    /// Every planted bug.
    pub const ALL: [Planted; 4] = [
        Planted::LyingSync,
        Planted::ConfirmDropped,
        Planted::Reorder,
        Planted::UnknownIsConfirmed,
    ];

    /// Parses a name as printed by `Debug`.
    pub fn parse(name: &str) -> Option<Planted> {
        Planted::ALL.into_iter().find(|p| format!("{p:?}") == name)
    }
}

/// A transport adapter around [`SimNet`] carrying a planted bug.
pub struct Bugged<'a> {
    /// The honest network.
    pub net: &'a mut SimNet,
    /// The bug (transport bugs only; others pass through).
    pub bug: Option<Planted>,
    /// Outcomes the adapter made up.
    pub fake: &'a mut VecDeque<(Seq, Outcome)>,
    /// Its randomness.
    pub rng: &'a mut Rng,
}

impl Transport for Bugged<'_> {
    fn submit(&mut self, now: Millis, records: &[OutgoingRecord<'_>]) {
        match self.bug {
            Some(Planted::ConfirmDropped) => {
                let mut kept = Vec::with_capacity(records.len());
                for r in records {
                    if self.rng.chance(0.03) {
                        let ok = Outcome::Confirmed {
                            partition: 0,
                            offset: -1,
                        };
                        self.fake.push_back((r.seq, ok));
                    } else {
                        kept.push(r.clone());
                    }
                }
                if !kept.is_empty() {
                    self.net.submit(now, &kept);
                }
            }
            Some(Planted::Reorder) => {
                let reversed: Vec<OutgoingRecord<'_>> = records.iter().rev().cloned().collect();
                self.net.submit(now, &reversed);
            }
            _ => self.net.submit(now, records),
        }
    }

    fn poll(&mut self, now: Millis, timeout: Millis, report: &mut dyn FnMut(Seq, Outcome)) -> usize {
        let mut n = 0;
        while let Some((seq, outcome)) = self.fake.pop_front() {
            report(seq, outcome);
            n += 1;
        }
        let guess = self.bug == Some(Planted::UnknownIsConfirmed);
        n + self.net.poll(now, timeout, &mut |seq, outcome| match outcome {
            Outcome::Failed(f) if guess && f.class == FailureClass::Unknown => report(
                seq,
                Outcome::Confirmed {
                    partition: 0,
                    offset: -1,
                },
            ),
            other => report(seq, other),
        })
    }

    fn in_flight(&self) -> usize {
        self.net.in_flight() + self.fake.len()
    }
}
