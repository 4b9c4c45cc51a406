//! Counts of everything a run injected and observed: the fault table.
//!
//! Swarm testing is only as good as its coverage, so every fault kind is
//! counted, per run and summed over a sweep, and printed as a table.

use std::collections::BTreeMap;
use std::fmt;

/// The order rows are printed in (unknown names follow).
const ORDER: &[&str] = &[
    "messages accepted",
    "sends refused: full",
    "sends refused: no space",
    "sends refused: failed closed",
    "sends refused: other",
    "process crashes",
    "power losses",
    "crashes mid-call",
    "crashes during recovery",
    "segments torn by power loss",
    "restarts after fail-closed",
    "open retries",
    "disk: read errors",
    "disk: ENOSPC",
    "disk: fsync failures",
    "disk: full windows",
    "disk: corruptions (checked bytes)",
    "disk: corruptions (padding, harmless)",
    "disk: truncations at entry boundary",
    "net: requests",
    "net: requests lost",
    "net: acks lost",
    "net: acks duplicated",
    "net: stale acks after deadline",
    "net: latency spikes",
    "net: request deadlines (unknown)",
    "net: refused (broker down)",
    "net: hung (broker down)",
    "broker: outages",
    "broker: leader changes",
    "broker: records written",
    "broker: retriable refusals",
    "broker: not leader",
    "broker: terminal refusals",
    "broker: unknown (maybe written)",
    "broker: throttled requests",
    "delivered: confirmed to user",
    "delivered: dead-lettered",
    "duplicates on broker",
    "resends after failure",
    "resends after restart",
    "recoveries",
    "recovery: torn tails cut",
    "recovery: damage items",
    "recovery: segments quarantined",
    "lost, allowed: unsynced at power loss",
    "lost, allowed: damage named by report",
    "lost, allowed: damage past high-water mark",
    "lost, allowed: damage, report lost or full",
    "lost, allowed: truncation nothing can detect",
    "disk: truncations nothing can detect",
];

/// Named counters.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct Counts(pub BTreeMap<&'static str, u64>);

impl Counts {
    /// Adds `n` to `name`.
    pub fn add(&mut self, name: &'static str, n: u64) {
        if n > 0 {
            *self.0.entry(name).or_default() += n;
        }
    }

    /// Adds one to `name`.
    pub fn bump(&mut self, name: &'static str) {
        self.add(name, 1);
    }

    /// The value of `name`.
    pub fn get(&self, name: &str) -> u64 {
        self.0.get(name).copied().unwrap_or(0)
    }

    /// Adds every counter of `other`.
    pub fn merge(&mut self, other: &Counts) {
        for (k, v) in &other.0 {
            self.add(k, *v);
        }
    }
}

impl fmt::Display for Counts {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let known = ORDER.iter().map(|n| (*n, self.get(n)));
        let rest = self
            .0
            .iter()
            .filter(|(k, _)| !ORDER.contains(k))
            .map(|(k, v)| (*k, *v));
        for (name, value) in known.chain(rest) {
            writeln!(f, "  {name:<42} {value:>10}")?;
        }
        Ok(())
    }
}
