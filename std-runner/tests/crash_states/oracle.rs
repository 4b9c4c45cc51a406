//! Recovery of one crash state, and the oracle that judges it.
//!
//! - Recovery (the real `FileStorage` and the core's `Producer::open`, as
//!   the runner opens a journal) never panics and never refuses to start.
//! - Every message whose `send` had returned with an fsync behind it
//!   (under `Always` every returned send; under `Interval(d)` every send
//!   older than the last interval fsync, so only those of the last `d` may
//!   be missing) is delivered after recovery, or was confirmed or
//!   dead-lettered before the power cut (and may then be delivered again:
//!   at least once).
//! - What is delivered is what was sent (same seq, same bytes), each once,
//!   in seq order within a lane.
//! - A message lost from between delivered ones (a hole) is reported by
//!   recovery: loss is never silent.

use std::collections::{BTreeMap, BTreeSet, HashMap};
use std::panic::AssertUnwindSafe;
use std::path::Path;
use std::sync::Arc;

use steadfast::FileStorage;
use steadfast::core::journal::format::EntryKind;
use steadfast::core::{Config, Outcome, RecoveryReport};

use super::workload::Core;

/// What the workload had done at the crash point.
#[derive(Default)]
pub struct Expect {
    /// Every message appended, with its value.
    pub sent: BTreeMap<u64, Arc<[u8]>>,
    /// Messages that must survive.
    pub required: BTreeSet<u64>,
    /// Messages confirmed or dead-lettered before the cut.
    pub settled: BTreeSet<u64>,
}

/// What recovery and a full delivery of one state showed.
pub struct Recovered {
    pub report: RecoveryReport,
    /// (lane, seq, value) in delivery order.
    pub delivered: Vec<(u16, u64, Vec<u8>)>,
    /// Seqs of the messages in the dead-letter area.
    pub dead: BTreeSet<u64>,
}

/// Recovers the journal in `dir` and delivers everything it holds.
pub fn recover(dir: &Path, config: Config) -> Result<Recovered, String> {
    let run = || -> Result<Recovered, String> {
        let storage = FileStorage::open(dir).map_err(|e| format!("FileStorage::open: {e}"))?;
        let buf = vec![0u8; Core::buffer_len(&config)];
        let mut now = 10_000_000;
        let (core, report) = match Core::open(storage, buf, config, now) {
            Ok(ok) => ok,
            Err(failed) => return Err(format!("recovery refused to start: {:?}", failed.error)),
        };
        let mut core = Box::new(core);
        let mut dead = BTreeSet::new();
        core.for_each_entry(|e| {
            if e.kind == EntryKind::DeadLetter
                && let Some(dl) = e.dead_letter()
            {
                dead.insert(dl.message_seq);
            }
        })
        .map_err(|e| format!("reading the journal back: {e:?}"))?;
        let mut out = vec![0u8; config.max_batch_bytes.max(config.max_entry)];
        let mut delivered = Vec::new();
        let mut idle = 0;
        while idle < 3 {
            match core.poll_transmit(now, &mut out) {
                Ok(Some(batch)) => {
                    idle = 0;
                    let mut seqs = Vec::new();
                    for (seq, record) in batch.seqs().zip(batch.records(&out)) {
                        let record = record.map_err(|e| format!("seq {seq} does not decode: {e:?}"))?;
                        let value = record.message.value.unwrap_or_default().to_vec();
                        delivered.push((batch.lane(), seq, value));
                        seqs.push(seq);
                    }
                    for seq in seqs {
                        core.handle_outcome(
                            now,
                            seq,
                            Outcome::Confirmed {
                                partition: 0,
                                offset: 0,
                            },
                        );
                    }
                    while core.poll_delivery(now).is_some() {}
                }
                Ok(None) => {
                    idle += 1;
                    now += 1_000;
                    let _ = core.handle_timeout(now);
                    while core.poll_delivery(now).is_some() {}
                }
                Err(e) => return Err(format!("delivery after recovery failed: {e:?}")),
            }
        }
        Ok(Recovered {
            report,
            delivered,
            dead,
        })
    };
    match std::panic::catch_unwind(AssertUnwindSafe(run)) {
        Ok(result) => result,
        Err(panic) => {
            let what = panic
                .downcast_ref::<String>()
                .cloned()
                .or_else(|| panic.downcast_ref::<&str>().map(|s| s.to_string()))
                .unwrap_or_default();
            Err(format!("recovery panicked: {what}"))
        }
    }
}

/// Judges a recovered state; the first violation found, if any.
pub fn judge(expect: &Expect, got: &Recovered) -> Result<(), String> {
    let mut seen = BTreeSet::new();
    let mut last_in_lane: HashMap<u16, u64> = HashMap::new();
    for (lane, seq, value) in &got.delivered {
        let Some(sent) = expect.sent.get(seq) else {
            return Err(format!("seq {seq} delivered but never sent"));
        };
        if value[..] != sent[..] {
            return Err(format!("seq {seq} delivered with other bytes than were sent"));
        }
        if !seen.insert(*seq) {
            return Err(format!("seq {seq} delivered twice in one run"));
        }
        if let Some(prev) = last_in_lane.insert(*lane, *seq)
            && prev >= *seq
        {
            return Err(format!("lane {lane}: seq {seq} delivered after {prev}"));
        }
    }
    let present = |seq: &u64| seen.contains(seq) || got.dead.contains(seq) || expect.settled.contains(seq);
    if let Some(lost) = expect.required.iter().find(|s| !present(s)) {
        let reported = if got.report.is_clean() {
            "recovery reported nothing"
        } else {
            "recovery reported damage"
        };
        return Err(format!(
            "acknowledged seq {lost} lost ({reported}); report: {:?}",
            got.report
        ));
    }
    // A hole: a sent, unsettled message missing below a delivered one.
    if let Some(&top) = seen.iter().next_back() {
        let hole = expect
            .sent
            .range(..top)
            .map(|(s, _)| s)
            .find(|s| !present(s) && !expect.settled.contains(s));
        if let Some(hole) = hole
            && got.report.damage.is_empty()
            && got.report.more_damage == 0
        {
            return Err(format!(
                "seq {hole} missing below delivered seq {top}, and recovery reported no damage: {:?}",
                got.report
            ));
        }
    }
    Ok(())
}
