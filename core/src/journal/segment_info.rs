//! The in-memory summary of one segment ([`SegmentInfo`]): its seq range,
//! length, and per-lane message counts. Recovery builds one per segment it
//! reads, the journal keeps them as its index, and the index's questions
//! (`index.rs`) read them: a file of its own so that neither of those
//! depends on the other for it.

use super::format::SEGMENT_HEADER_LEN;
use crate::message::Seq;
use crate::storage::SegmentId;

/// The compact in-memory index of one segment.
#[derive(Clone, Debug)]
pub(crate) struct SegmentInfo<const LANES: usize> {
    pub(super) id: SegmentId,
    /// Seq of the entry before this segment.
    pub(super) prev_seq: Seq,
    /// Seq of its last entry (`prev_seq` while empty).
    pub(super) last_seq: Seq,
    /// Checksum of its last entry.
    pub(super) last_crc: u32,
    /// Bytes, header included.
    pub(super) len: u64,
    /// Highest message seq of each lane in this segment (0: none).
    pub(super) lane_max: [Seq; LANES],
    /// Lowest message seq of each lane in this segment (0: none).
    pub(super) lane_min: [Seq; LANES],
    /// Messages of each lane in this segment.
    pub(super) lane_count: [u32; LANES],
    /// Dead letters in it not yet discarded or re-driven.
    pub(super) dl_live: u32,
    /// Dead letters ever written into it.
    pub(super) dl_written: u32,
    /// Highest segment holding a dead letter resolved by an entry in this
    /// one: this segment must outlive it, or the dead letter would come back.
    pub(super) resolve_pin: Option<SegmentId>,
    /// Recovery found damage in it: quarantine it instead of deleting it.
    pub(super) damaged: bool,
    /// Its `SegmentRemoved` entry is written: a manifest written from now on
    /// must not list it (that entry may be in a segment deleted before the
    /// manifest's, and recovery would then report it missing).
    pub(super) removing: bool,
}

impl<const LANES: usize> SegmentInfo<LANES> {
    pub(crate) fn new(id: SegmentId, prev_seq: Seq, prev_crc: u32) -> Self {
        SegmentInfo {
            id,
            prev_seq,
            last_seq: prev_seq,
            last_crc: prev_crc,
            len: SEGMENT_HEADER_LEN as u64,
            lane_max: [0; LANES],
            lane_min: [0; LANES],
            lane_count: [0; LANES],
            dl_live: 0,
            dl_written: 0,
            resolve_pin: None,
            damaged: false,
            removing: false,
        }
    }

    /// Counts a message of `lane` in this segment's summary.
    pub(crate) fn add_message(&mut self, lane: u16, seq: Seq) {
        let lane = usize::from(lane);
        if lane < LANES {
            self.lane_max[lane] = seq;
            if self.lane_count[lane] == 0 {
                self.lane_min[lane] = seq;
            }
            self.lane_count[lane] += 1;
        }
    }

    pub(crate) fn contains(&self, seq: Seq) -> bool {
        seq > self.prev_seq && seq <= self.last_seq
    }
}
