//! Crashes, damage and restarts — and the check of every recovery report
//! against the damage that was really injected.
//!
//! A crash drops the producer without `into_parts` (nothing gets to flush),
//! kills the transport's pending answers, and applies the crash to the disk.
//! While the process is down the disk may rot: a synced block is silently
//! corrupted, or the filesystem loses a segment's tail at an entry boundary.
//! The simulator knows exactly which entries each injury destroyed (it reads
//! the bytes before and after), so when the next producer opens, its
//! recovery report is held to the truth: every injury must be mentioned,
//! nothing uninjured may be reported as damaged, and a torn tail may only be
//! cut where a tear could have happened.

use steadfast_core::journal::format::{MetaSlot, SEGMENT_HEADER_LEN};
use steadfast_core::{
    Damage, OpenError, RecoverError, RecoveryReport, SeqRange, StorageError, StorageErrorKind,
};

use super::disk::Disk;
use super::inspect;
use super::ledger::{Excuse, SendState};
use super::world::{CrashKind, Hit, Injected, SimProducer, World};

fn hit(f: &inspect::FrameLoc) -> Hit {
    Hit {
        seq: f.seq,
        offset: f.offset,
        uid: f.uid,
        removed: f.removed,
        manifest: f.kind == steadfast_core::journal::format::EntryKind::Manifest as u8,
    }
}

fn contains(range: &Option<SeqRange>, seq: u64) -> bool {
    range.is_some_and(|r| r.first <= seq && seq <= r.last)
}

/// True if damage item `d` is about injury `e`.
fn touches(d: &Damage, e: &Injected) -> bool {
    let any_lost = |r: &Option<SeqRange>| e.hits.iter().any(|h| contains(r, h.seq));
    match d {
        Damage::CorruptRegion {
            segment,
            offset,
            len,
            lost,
        } => {
            (*segment == e.segment
                && e.hits
                    .iter()
                    .any(|h| (h.offset as u64) >= *offset && (h.offset as u64) < offset + len))
                || any_lost(lost)
        }
        Damage::BrokenChain { segment, lost, .. } => *segment == e.segment || any_lost(lost),
        // The log now ends early because the injury destroyed its end (the
        // high-water mark may point into a segment deleted since, whose
        // deletion the injury also destroyed).
        Damage::Truncated { lost } => e.hits.iter().any(|h| h.seq >= lost.first),
        // A missing segment whose removal was journaled in an entry the
        // injury destroyed, or listed by an older manifest that is in force
        // again because the injury destroyed a newer one.
        Damage::MissingSegment { segment, lost } => {
            *segment == e.segment
                || any_lost(lost)
                || e.hits.iter().any(|h| h.removed == Some(*segment) || h.manifest)
        }
        Damage::ForeignSegment { segment, lost, .. } | Damage::BadSegmentHeader { segment, lost } => {
            *segment == e.segment || any_lost(lost)
        }
        Damage::HeaderSalvaged { segment } => *segment == e.segment && e.header,
        Damage::SegmentsGone { lost, .. } => any_lost(&Some(*lost)),
        _ => false,
    }
}

/// True if two damage items are about the same bytes (a damaged region is
/// reported again at every start until its segment goes; what it is said
/// to have lost can change as the segments after it are deleted).
pub(super) fn same_place(a: &Damage, b: &Damage) -> bool {
    match (a, b) {
        (
            Damage::CorruptRegion { segment, offset, .. },
            Damage::CorruptRegion {
                segment: s,
                offset: o,
                ..
            },
        )
        | (
            Damage::BrokenChain { segment, offset, .. },
            Damage::BrokenChain {
                segment: s,
                offset: o,
                ..
            },
        ) => segment == s && offset == o,
        // A segment quarantined (or found missing) before is missing again
        // when the manifest that no longer listed it is destroyed.
        (
            Damage::BadSegmentHeader { segment, .. }
            | Damage::ForeignSegment { segment, .. }
            | Damage::MissingSegment { segment, .. },
            Damage::MissingSegment { segment: s, .. },
        ) => segment == s,
        _ => a == b,
    }
}

/// True if damage item `d` names entry `seq` of segment `segment` as lost.
fn names(d: &Damage, seq: u64, segment: u64) -> bool {
    match d {
        Damage::CorruptRegion { lost, .. } | Damage::BrokenChain { lost, .. } => contains(lost, seq),
        Damage::Truncated { lost } => contains(&Some(*lost), seq),
        Damage::MissingSegment { segment: s, lost } => *s == segment || contains(lost, seq),
        Damage::ForeignSegment { segment: s, lost, .. } | Damage::BadSegmentHeader { segment: s, lost } => {
            *s == segment || contains(lost, seq)
        }
        Damage::SegmentsGone { lost, .. } => contains(&Some(*lost), seq),
        _ => false,
    }
}

impl World {
    /// The process dies (or the machine loses power) now.
    pub fn crash(&mut self, kind: CrashKind) {
        let was_up = self.producer.take().is_some();
        self.net.crash();
        self.fake.clear();
        self.armed = None;
        let now = self.now;
        self.trace
            .ev(now, "crash", &[u64::from(kind == CrashKind::Power)]);
        for m in &mut self.ledger.msgs {
            if m.state == SendState::Waiting {
                m.state = SendState::Ambiguous;
            }
            if !m.resend_ok {
                m.resend_ok = true;
                m.resend_after_restart = true;
            }
        }
        match kind {
            CrashKind::Process => {
                self.counts.bump("process crashes");
                self.disk.borrow_mut().process_crash();
            }
            CrashKind::Power => {
                self.counts.bump("power losses");
                for uid in &self.unclaimed {
                    let incarnation = self.incarnation;
                    let Some(m) = self.ledger.get(*uid) else { continue };
                    // `Interval(d)` owes durability `d` after the send, to an
                    // incarnation that lived that long.
                    let owed = was_up && m.incarnation == incarnation && m.owed_at.is_some_and(|t| t < now);
                    if !owed {
                        m.exposed = true;
                    }
                }
                let mut d = self.disk.borrow_mut();
                for (id, f) in &d.files {
                    let floor = self.tear_floor.entry(*id).or_insert(f.synced);
                    *floor = (*floor).min(f.synced);
                }
                let torn = d.power_loss(&mut self.rng_crash);
                drop(d);
                self.counts.add("segments torn by power loss", torn.len() as u64);
            }
        }
        if !self.calm {
            let (pc, pt) = (self.params.corrupt, self.params.truncate);
            if self.rng_damage.chance(pc) {
                self.inject_corruption();
            }
            if self.rng_damage.chance(pt) {
                self.inject_truncation();
            }
        }
        let (lo, hi) = self.params.restart_delay;
        let delay = self.rng_crash.between(lo, hi.max(lo));
        self.restart_at = Some(now + delay);
    }

    /// Silently flips bytes in a synced block of some segment.
    pub fn inject_corruption(&mut self) {
        let mut d = self.disk.borrow_mut();
        let ids: Vec<u64> = d
            .files
            .iter()
            .filter(|(_, f)| f.synced > 0)
            .map(|(id, _)| *id)
            .collect();
        if ids.is_empty() {
            return;
        }
        let id = self.rng_damage.pick(&ids);
        let view = inspect::parse_segment(&d.files[&id].data);
        let Some((at, len)) = d.corrupt(id, &mut self.rng_damage) else {
            return;
        };
        drop(d);
        let header = at < SEGMENT_HEADER_LEN;
        let hits: Vec<Hit> = view
            .frames
            .iter()
            .filter(|f| header || (at < f.end && f.offset < at + len))
            .map(hit)
            .collect();
        self.trace.ev(self.now, "corrupt", &[id, at as u64, len as u64]);
        if header || !hits.is_empty() {
            self.counts.bump("disk: corruptions (checked bytes)");
            self.injected.push(Injected {
                segment: id,
                offset: at,
                truncation: false,
                header,
                hits,
                unchained: false,
                report_lost: false,
            });
        } else {
            self.counts.bump("disk: corruptions (padding, harmless)");
        }
    }

    /// The filesystem loses a segment's synced tail at an entry boundary.
    pub fn inject_truncation(&mut self) {
        let mut d = self.disk.borrow_mut();
        let mut choices = Vec::new();
        for (id, f) in &d.files {
            for fr in inspect::parse_segment(&f.data).frames {
                if fr.end <= f.synced {
                    choices.push((*id, fr.offset));
                }
            }
        }
        if choices.is_empty() {
            return;
        }
        let (id, at) = self.rng_damage.pick(&choices);
        let view = inspect::parse_segment(&d.files[&id].data);
        d.cut(id, at);
        drop(d);
        let mut hits: Vec<Hit> = view.frames.iter().filter(|f| f.offset >= at).map(hit).collect();
        // Injuries past the cut went with it: what they destroyed is now
        // this cut's doing.
        let (gone, kept): (Vec<Injected>, Vec<Injected>) = std::mem::take(&mut self.injected)
            .into_iter()
            .partition(|e| e.segment == id && e.offset >= at);
        self.injected = kept;
        hits.extend(gone.into_iter().flat_map(|e| e.hits));
        self.counts.bump("disk: truncations at entry boundary");
        self.trace.ev(self.now, "truncate", &[id, at as u64]);
        self.injected.push(Injected {
            segment: id,
            offset: at,
            truncation: true,
            header: false,
            hits,
            unchained: false,
            report_lost: false,
        });
    }

    /// Starts a new producer process on the disk.
    pub(super) fn restart(&mut self) {
        let storage = Disk::handle(&self.disk);
        if !self.calm && self.rng_crash.chance(self.params.in_recovery) {
            let n = self.rng_crash.below(6);
            let kind = if self.rng_crash.chance(self.params.power_loss) {
                CrashKind::Power
            } else {
                CrashKind::Process
            };
            self.disk.borrow_mut().arm_crash(n);
            self.armed = Some(kind);
        }
        let (meta, before, last_before) = {
            let d = self.disk.borrow();
            let before: Vec<(u64, usize)> = d.files.iter().map(|(id, f)| (*id, f.data.len())).collect();
            // The segment recovery will treat as the last: the highest one whose
            // header is intact (a damaged one is quarantined).
            let last = d
                .files
                .iter()
                .rev()
                .find(|(_, f)| inspect::parse_segment(&f.data).readable())
                .map(|(id, _)| *id);
            // A truncated segment whose next scanned segment is not the one
            // right after it (deleted on purpose, or quarantined now) has
            // no chain reaching across the gap.
            let valid: Vec<u64> = d
                .files
                .iter()
                .filter(|(_, f)| inspect::parse_segment(&f.data).readable())
                .map(|(id, _)| *id)
                .collect();
            for e in &mut self.injected {
                let next = valid.iter().find(|id| **id > e.segment);
                e.unchained = e.truncation && next.is_some_and(|n| *n != e.segment + 1);
            }
            (inspect::meta(&d), before, last)
        };
        if let Some(m) = meta {
            self.trace
                .ev(self.now, "meta", &[m.generation, m.durable_seq, m.reserved_seq]);
        }
        let quarantined_before = self.disk.borrow().quarantined.len();
        let meta_before = self.disk.borrow().meta;
        {
            let d = self.disk.borrow();
            for (id, f) in &d.files {
                let v = inspect::parse_segment(&f.data);
                let first = v.frames.first().map_or(0, |f| f.seq);
                let last = v.frames.last().map_or(0, |f| f.seq);
                let fields = [*id, f.data.len() as u64, f.synced as u64, first, last];
                self.trace.ev(self.now, "disk", &fields);
            }
        }
        // A driver draws a new journal id at every start (it is only used if
        // recovery finds no journal): ids must never repeat across journals.
        self.config.journal_id = self.rng_ids.next_u64() | 1;
        let buf = vec![0u8; SimProducer::buffer_len(&self.config)];
        let result = SimProducer::open(storage, buf, self.config, self.now);
        let dead = self.disk.borrow().dead();
        // Did that attempt repair anything (so its report is now lost)?
        // Did that attempt write anything (repairs, a new segment, a meta
        // slot)? If it then failed, its report never reached anyone, and
        // what it wrote may hide the evidence from the next recovery.
        let wrote = {
            let d = self.disk.borrow();
            d.quarantined.len() != quarantined_before
                || d.files.len() != before.len()
                || d.meta != meta_before
                || before
                    .iter()
                    .any(|(id, len)| d.files.get(id).is_none_or(|f| f.data.len() != *len))
        };
        match result {
            Ok((p, report)) if !dead => {
                self.producer = Some(p);
                self.incarnation += 1;
                self.restart_at = None;
                self.trace
                    .ev(self.now, "open", &[report.pending, report.damage.len() as u64]);
                self.check_recovery(&report, meta, &before, last_before);
                self.claims();
                self.unclaimed.clear();
                self.injected.clear();
                self.tear_floor.clear();
                self.seen_damage.extend(report.damage.iter().copied());
                let _ = self.after_call();
                return;
            }
            Ok(_) => {}
            Err(failed) if !dead => {
                let retry = match &failed.error {
                    OpenError::Recover(RecoverError::Storage(e)) | OpenError::Storage(e) => matches!(
                        e.kind(),
                        StorageErrorKind::Io | StorageErrorKind::NoSpace | StorageErrorKind::FailedClosed
                    ),
                    _ => false,
                };
                if !retry {
                    let segments = self.disk.borrow().files.len();
                    self.violation(format!(
                        "recovery refused to start ({segments} segments on disk): {}",
                        failed.error
                    ));
                    return;
                }
            }
            Err(_) => {}
        }
        if wrote {
            for e in &mut self.injected {
                e.report_lost = true;
            }
        }
        if dead {
            self.counts.bump("crashes during recovery");
            let _ = self.after_call();
        } else {
            self.counts.bump("open retries");
            let _ = self.after_call();
            self.disk.borrow_mut().process_crash();
            let wait = self.rng_crash.between(10, 300);
            self.restart_at = Some(self.now + wait);
        }
    }

    /// Holds a recovery report to the damage that was injected since the
    /// last open, and finds the messages it did not keep.
    fn check_recovery(
        &mut self,
        report: &RecoveryReport,
        meta: Option<MetaSlot>,
        before: &[(u64, usize)],
        last_before: Option<u64>,
    ) {
        let hwm = meta.map_or(0, |m| m.durable_seq);
        self.counts.bump("recoveries");
        if report.torn_tail.is_some() {
            self.counts.bump("recovery: torn tails cut");
        }
        self.counts
            .add("recovery: damage items", report.damage.len() as u64);
        self.counts
            .add("recovery: segments quarantined", u64::from(report.quarantined));
        // The report lists at most MAX_DAMAGE items and counts the rest:
        // past that, an injury cannot be matched to an item.
        let full = report.more_damage > 0;
        let lenient = full || self.injected.iter().any(|e| e.report_lost);
        // Nothing reported that nothing explains.
        for d in &report.damage {
            let known = self.seen_damage.iter().any(|s| same_place(s, d))
                || self.injected.iter().any(|e| touches(d, e));
            if !known && !lenient {
                return self.violation(format!(
                    "recovery reported damage that was never injected: {d}\n{report}"
                ));
            }
        }
        // Every injury reported (past the high-water mark at the end of the
        // log — in the last segment, or in one after it that a power loss
        // erased since — only a torn tail can show it; across a deleted
        // successor, nothing can).
        let past_hwm = |e: &Injected, seq: u64| last_before.is_none_or(|l| e.segment >= l) && seq > hwm;
        for e in &self.injected {
            if e.report_lost || full || report.damage.iter().any(|d| touches(d, e)) {
                continue;
            }
            if e.hits.iter().all(|h| past_hwm(e, h.seq)) {
                continue;
            }
            if e.unchained {
                self.counts.bump("disk: truncations nothing can detect");
                continue;
            }
            let what = if e.truncation { "truncation" } else { "corruption" };
            let seqs: Vec<u64> = e.hits.iter().map(|h| h.seq).collect();
            return self.violation(format!(
                "injected {what} of segment {} at offset {} (entries {seqs:?}) is not in the recovery report; meta {meta:?}, segments before recovery (id, len) {before:?}:\n{report}",
                e.segment, e.offset
            ));
        }
        // A torn tail only where a tear (or an injury) could have made one.
        if let Some(t) = report.torn_tail {
            let tear = self
                .tear_floor
                .get(&t.segment)
                .is_some_and(|floor| t.offset as usize >= *floor);
            let injury = self
                .injected
                .iter()
                .any(|e| e.segment == t.segment && e.hits.iter().any(|h| h.offset as u64 >= t.offset));
            if !tear && !injury && !lenient {
                return self.violation(format!(
                    "recovery cut {} bytes of synced, intact data from segment {} at offset {}\n{report}",
                    t.cut, t.segment, t.offset
                ));
            }
        }
        // What is still on disk, and what vanished.
        let views = inspect::parse_disk(&self.disk.borrow());
        let present_uids = inspect::owed(&views);
        for i in 0..self.ledger.msgs.len() {
            let m = &self.ledger.msgs[i];
            if m.state == SendState::Refused || m.lost.is_some() || present_uids.contains(&m.uid) {
                continue;
            }
            let (uid, claimed, exposed) = (m.uid, m.claimed, m.exposed);
            let Some(id) = m.id else { continue };
            if self.writes_of(uid) > 0 {
                continue;
            }
            // The injury that destroyed it (its message entry or its dead letter).
            let injury = self.injected.iter().find_map(|e| {
                e.hits
                    .iter()
                    .find(|h| h.uid == Some(uid) || (h.uid.is_none() && h.seq == id.seq))
                    .map(|h| (e, h.seq))
            });
            let excuse = if !claimed && exposed {
                Some(Excuse::Unsynced)
            } else if let Some((e, seq)) = injury {
                if report.damage.iter().any(|d| names(d, seq, e.segment)) {
                    Some(Excuse::Damage)
                } else if past_hwm(e, seq) {
                    Some(Excuse::HwmLag)
                } else if e.report_lost || full {
                    Some(Excuse::Interrupted)
                } else if e.unchained {
                    Some(Excuse::Undetectable)
                } else {
                    None
                }
            } else {
                None
            };
            let name = match excuse {
                Some(Excuse::Unsynced) => "lost, allowed: unsynced at power loss",
                Some(Excuse::Damage) => "lost, allowed: damage named by report",
                Some(Excuse::HwmLag) => "lost, allowed: damage past high-water mark",
                Some(Excuse::Interrupted) => "lost, allowed: damage, report lost or full",
                Some(Excuse::Undetectable) => "lost, allowed: truncation nothing can detect",
                None => "lost, NOT allowed",
            };
            self.counts.bump(name);
            self.trace.ev(self.now, "lost", &[uid, id.seq]);
            let state = self.ledger.msgs[i].state;
            self.ledger.msgs[i].lost = Some(excuse);
            if excuse.is_none() {
                let injuries: Vec<(u64, usize, bool, Vec<u64>)> = self
                    .injected
                    .iter()
                    .map(|e| {
                        (
                            e.segment,
                            e.offset,
                            e.truncation,
                            e.hits.iter().map(|h| h.seq).collect(),
                        )
                    })
                    .collect();
                return self.violation(format!(
                    "message {uid} ({id}, send {state:?}, said synced: {claimed}, exposed to power loss: {exposed}) vanished from the journal at recovery {} without an excuse; injuries (segment, offset, truncation, seqs) {injuries:?}:\n{report}",
                    self.incarnation
                ));
            }
        }
    }
}
