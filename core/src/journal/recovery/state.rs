//! What a recovery scan gathers before it is accepted: the segments read,
//! the repairs to make, the segments set aside, damage still open.

use crate::journal::SegmentInfo;
use crate::journal::report::{Damage, RecoveryReport, SeqRange};
use crate::journal::skips::Skips;
use crate::message::Seq;
use crate::storage::SegmentId;

/// A repair recovery will make once the scan is accepted.
#[derive(Clone, Copy, Debug)]
pub(super) enum Repair {
    Truncate(SegmentId, u64),
    Quarantine(SegmentId),
    Remove(SegmentId),
}

/// Corrupt bytes that ran to the end of a sealed segment.
#[derive(Clone, Copy)]
pub(super) struct OpenLoss {
    pub(super) segment: SegmentId,
    pub(super) offset: u64,
    pub(super) len: u64,
    pub(super) from: Seq,
    /// The highest seq among the valid frames in those bytes (0: none).
    pub(super) seen: Seq,
}

impl OpenLoss {
    pub(super) fn damage(self, upto: Seq) -> Damage {
        Damage::CorruptRegion {
            segment: self.segment,
            offset: self.offset,
            len: self.len,
            lost: SeqRange::new(self.from, upto.max(self.seen)),
        }
    }
}

pub(super) struct Scan<const LANES: usize, const SEGS: usize> {
    pub(super) report: RecoveryReport,
    pub(super) segments: heapless::Vec<SegmentInfo<LANES>, SEGS>,
    pub(super) repairs: heapless::Vec<Repair, SEGS>,
    pub(super) marks: [Seq; LANES],
    pub(super) manifest: heapless::Vec<SegmentId, SEGS>,
    pub(super) manifest_segment: Option<SegmentId>,
    pub(super) removed: heapless::Vec<SegmentId, SEGS>,
    /// Segments quarantined for their header.
    pub(super) set_aside: heapless::Vec<SetAside, SEGS>,
    /// Damage running off the end of a segment, closed by the next header.
    pub(super) open_loss: Option<OpenLoss>,
    pub(super) last_seq: Seq,
    pub(super) last_crc: u32,
    pub(super) lanes_on_disk: Option<u16>,
    /// Regions of the segments read that are not part of the log.
    pub(super) skips: Skips,
}

/// A segment recovery set aside, for the loss it leaves.
#[derive(Clone, Copy)]
pub(super) struct SetAside {
    pub(super) segment: SegmentId,
    /// The journal its header names, when it is intact but foreign.
    pub(super) foreign: Option<u64>,
    /// The seqs of the intact, chained frames from its start (first,
    /// last), when there are any.
    pub(super) first: Option<(Seq, Seq)>,
}
