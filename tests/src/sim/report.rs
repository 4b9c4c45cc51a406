//! What one simulated run is asked to do ([`Options`]) and what it found
//! ([`RunReport`]).
//!
//! Its own file so that the world, the phases and the action driver share
//! them without depending on the module that runs them.

use super::counts::Counts;
use super::planted::Planted;

/// How to run one seed.
#[derive(Clone, Copy, Debug, Default)]
pub struct Options {
    /// The seed.
    pub seed: u64,
    /// Keep the trace's text.
    pub verbose: bool,
    /// Plant a bug.
    pub planted: Option<Planted>,
    /// No fault schedule: the caller drives (see [`actions`](super::actions)).
    pub scripted: bool,
}

/// What one run found.
#[derive(Clone, Debug)]
pub struct RunReport {
    /// The seed.
    pub seed: u64,
    /// Hash of the whole trace.
    pub hash: u64,
    /// Events in the trace.
    pub events: u64,
    /// Simulated time at the end.
    pub end: u64,
    /// The fault table.
    pub counts: Counts,
    /// Violations (the first one stops the run).
    pub violations: Vec<String>,
    /// The trace's text, when verbose.
    pub trace: Vec<String>,
}

impl RunReport {
    /// True if the oracle found nothing wrong.
    pub fn ok(&self) -> bool {
        self.violations.is_empty()
    }
}
