//! What was synced and is not here: segments set aside, and the
//! high-water mark checked against whatever is left on disk.
//!
//! Loss is always reported, by sequence number, and never wider than the
//! damage: a quarantined segment lost what lies between its neighbours, and
//! no segment at all under a nonzero high-water mark lost everything up to
//! it (the journal never deletes its newest segment).

use super::state::{Repair, Scan, SetAside};
use crate::journal::format::MetaSlot;
use crate::journal::report::{Damage, SeqRange};
use crate::message::Seq;
use crate::storage::SegmentId;

pub(super) fn set_aside<const LANES: usize, const SEGS: usize>(
    s: &mut Scan<LANES, SEGS>,
    segment: SegmentId,
    foreign: Option<u64>,
    first: Option<(Seq, Seq)>,
) {
    let _ = s.repairs.push(Repair::Quarantine(segment));
    let _ = s.set_aside.push(SetAside {
        segment,
        foreign,
        first,
    });
}

/// Step 6: what the high-water mark says was synced and is not here.
pub(super) fn check_high_water_mark<const LANES: usize, const SEGS: usize>(
    s: &mut Scan<LANES, SEGS>,
    meta: Option<MetaSlot>,
) {
    let hwm = meta.map_or(0, |m| m.durable_seq);
    let newest_kept = s.segments.last().map(|g| g.id);
    // Segments set aside, each with the entries missing where it sits.
    let newest_aside = s.set_aside.iter().map(|a| a.segment).max();
    for i in 0..s.set_aside.len() {
        let SetAside {
            segment,
            foreign,
            first,
        } = s.set_aside[i];
        let before = s
            .segments
            .iter()
            .filter(|g| g.id < segment)
            .map(|g| g.last_seq)
            .max();
        let after = s
            .segments
            .iter()
            .filter(|g| g.id > segment)
            .map(|g| g.prev_seq)
            .min();
        let upto = after.unwrap_or(hwm);
        let lost = match before {
            Some(b) => SeqRange::new(b + 1, upto),
            // The oldest: it held entries only if the newest manifest still
            // listed it, or if nothing else is left (then the newest of
            // those set aside held the high-water mark).
            None if s.manifest.contains(&segment) => SeqRange::new(1, upto),
            None if s.segments.is_empty() && Some(segment) == newest_aside => SeqRange::new(1, upto),
            None => None,
        };
        // The oldest, with intact frames of its own: at least those are gone
        // (behind a segment it contradicts, they are another history).
        let lost = match (lost, first) {
            (None, Some((f, l))) if before.is_none() && foreign.is_none() => SeqRange::new(f, upto.max(l)),
            _ => lost,
        };
        s.report.push(match foreign {
            Some(journal) => Damage::ForeignSegment {
                segment,
                journal,
                lost,
            },
            None => Damage::BadSegmentHeader { segment, lost },
        });
    }
    let aside_after_kept = newest_aside.is_some_and(|a| newest_kept.is_none_or(|k| a > k));
    if aside_after_kept {
        return; // The range up to the high-water mark is reported above.
    }
    let Some(m) = meta else { return };
    if s.segments.is_empty() {
        if let Some(lost) = SeqRange::new(1, m.durable_seq) {
            s.report.push(Damage::SegmentsGone {
                segment: m.segment,
                lost,
            });
        }
    } else if let Some(lost) = SeqRange::new(s.last_seq + 1, m.durable_seq) {
        s.report.push(Damage::Truncated { lost });
    }
}
