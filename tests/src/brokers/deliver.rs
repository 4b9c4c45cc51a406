//! A small resend loop over any [`Transport`]: what the core does, minus the
//! journal.
//!
//! [`deliver_all`] submits every record, polls until each has an outcome,
//! and resends the Retriable and Unknown ones (in sequence order, after a
//! short backoff) until every record is Confirmed or Terminal, or the
//! deadline passes. Every outcome is kept in the [`DeliveryLog`] so a test
//! can assert on classes and reasons.

// Test infrastructure paces itself with a real clock: allowed here.
#![allow(clippy::disallowed_methods)]

use core::time::Duration;
use std::collections::{BTreeMap, HashMap};
use std::time::Instant;

use steadfast_core::{Failure, FailureClass, Outcome, OutgoingRecord, Seq, Transport};

/// Everything [`deliver_all`] saw.
#[derive(Clone, Debug, Default)]
pub struct DeliveryLog {
    /// Confirmed records: `(partition, offset)` of their last confirmation.
    pub confirmed: BTreeMap<Seq, (i32, i64)>,
    /// Records that failed Terminally (not resent).
    pub terminal: BTreeMap<Seq, Failure>,
    /// Every failure reported, in arrival order (Terminal ones included).
    pub failures: Vec<(Seq, Failure)>,
    /// Records neither confirmed nor terminal when the deadline passed.
    pub unresolved: Vec<Seq>,
    /// Submit rounds (1 when nothing had to be resent).
    pub rounds: usize,
    /// Wall time spent.
    pub elapsed: Duration,
}

impl DeliveryLog {
    /// How many failures of `class` were reported.
    pub fn count(&self, class: FailureClass) -> usize {
        self.failures.iter().filter(|(_, f)| f.class == class).count()
    }

    /// Whether some failure of `class` had `needle` in its reason.
    pub fn saw(&self, class: FailureClass, needle: &str) -> bool {
        self.failures
            .iter()
            .any(|(_, f)| f.class == class && f.reason.contains(needle))
    }

    /// Failures grouped by `(class, code)` with a sample reason, for printing.
    pub fn summary(&self) -> String {
        let mut groups: BTreeMap<(String, i32), (usize, String)> = BTreeMap::new();
        for (_, f) in &self.failures {
            let entry = groups
                .entry((format!("{:?}", f.class), f.code))
                .or_insert((0, f.reason.to_string()));
            entry.0 += 1;
        }
        let mut text = format!(
            "{} confirmed, {} terminal, {} unresolved, {} rounds, {:?}",
            self.confirmed.len(),
            self.terminal.len(),
            self.unresolved.len(),
            self.rounds,
            self.elapsed
        );
        for ((class, code), (n, reason)) in groups {
            text.push_str(&format!("\n  {n} x {class} code {code}: {reason}"));
        }
        text
    }
}

/// Delivers `records` through `transport`, resending until each is
/// Confirmed or Terminal or `deadline` passes. `hook` is called with the
/// elapsed time on every poll and backoff step (to inject faults on cue).
pub fn deliver_all<T: Transport + ?Sized>(
    transport: &mut T,
    records: &[OutgoingRecord<'_>],
    backoff: Duration,
    deadline: Duration,
    hook: &mut dyn FnMut(Duration),
) -> DeliveryLog {
    let start = Instant::now();
    let now = || u64::try_from(start.elapsed().as_millis()).unwrap_or(u64::MAX);
    let index: HashMap<Seq, usize> = records.iter().enumerate().map(|(i, r)| (r.seq, i)).collect();
    let mut log = DeliveryLog::default();
    let mut pending: Vec<usize> = (0..records.len()).collect();
    while !pending.is_empty() && start.elapsed() < deadline {
        log.rounds += 1;
        let batch: Vec<OutgoingRecord<'_>> = pending.iter().map(|&i| records[i].clone()).collect();
        transport.submit(now(), &batch);
        let mut retry = Vec::new();
        while transport.in_flight() > 0 && start.elapsed() < deadline {
            hook(start.elapsed());
            transport.poll(now(), 50, &mut |seq, outcome| {
                let Some(&i) = index.get(&seq) else {
                    return;
                };
                match outcome {
                    Outcome::Confirmed { partition, offset } => {
                        log.confirmed.insert(seq, (partition, offset));
                    }
                    Outcome::Failed(failure) => {
                        // The core retries an unknown topic for a while; here it ends the record.
                        if matches!(failure.class, FailureClass::Terminal | FailureClass::UnknownTopic) {
                            log.terminal.insert(seq, failure.clone());
                        } else {
                            retry.push(i);
                        }
                        log.failures.push((seq, failure));
                    }
                }
            });
        }
        retry.sort_unstable();
        retry.dedup();
        retry.retain(|i| !log.confirmed.contains_key(&records[*i].seq));
        pending = retry;
        if !pending.is_empty() {
            let wait = Instant::now();
            while wait.elapsed() < backoff {
                hook(start.elapsed());
                std::thread::sleep(Duration::from_millis(10));
            }
        }
    }
    log.unresolved = pending.iter().map(|&i| records[i].seq).collect();
    log.elapsed = start.elapsed();
    log
}
