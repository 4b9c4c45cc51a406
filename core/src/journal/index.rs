//! The journal's in-memory index: one `SegmentInfo` per live segment
//! (`segment_info.rs`), and the questions the delivery code asks of the journal (its ids and
//! sizes, the lane watermarks, where dead letters live). The journal's
//! fields are private to `journal`: the delivery code goes through these
//! methods, so the journal keeps its invariants (a watermark never moves
//! back, a segment's dead letters are counted where they are written).

use super::{Journal, JournalLimits};
use crate::message::Seq;
use crate::storage::{SegmentId, StorageErrorKind};

impl<S, const LANES: usize, const SEGS: usize> Journal<S, LANES, SEGS> {
    /// True if segment `id` is live.
    pub(crate) fn has_segment(&self, id: SegmentId) -> bool {
        self.segments.binary_search_by_key(&id, |s| s.id).is_ok()
    }

    /// The segment after `id`, if any.
    pub(crate) fn next_segment(&self, id: SegmentId) -> Option<SegmentId> {
        self.segments.iter().map(|s| s.id).find(|s| *s > id)
    }

    /// The journal's id.
    pub(crate) fn id(&self) -> u64 {
        self.id
    }

    /// The seq the next entry gets.
    pub(crate) fn next_seq(&self) -> Seq {
        self.next_seq
    }

    /// Every entry up to this seq is durable.
    pub(crate) fn synced_seq(&self) -> Seq {
        self.synced_seq
    }

    /// True if entries were synced since the meta slot was last written.
    pub(crate) fn meta_behind(&self) -> bool {
        self.synced_seq > self.meta_durable
    }

    /// Bytes the journal occupies.
    pub(crate) fn bytes(&self) -> u64 {
        self.bytes
    }

    /// Sizes the journal works with.
    pub(crate) fn limits(&self) -> JournalLimits {
        self.limits
    }

    /// Why the journal failed closed, if it did.
    pub(crate) fn failed(&self) -> Option<StorageErrorKind> {
        self.failed
    }

    /// The current segment's manifest is still to be written.
    pub(crate) fn manifest_owed(&self) -> bool {
        self.manifest_owed
    }

    /// Live segments.
    pub(crate) fn segment_count(&self) -> usize {
        self.segments.len()
    }

    /// The ids of the live segments, oldest first.
    pub(crate) fn segment_ids(&self) -> impl Iterator<Item = SegmentId> + '_ {
        self.segments.iter().map(|s| s.id)
    }

    /// The newest live segment (where entries are appended).
    pub(crate) fn current_segment(&self) -> Option<SegmentId> {
        self.segments.last().map(|s| s.id)
    }

    /// The oldest live segment.
    pub(crate) fn first_segment(&self) -> Option<SegmentId> {
        self.segments.first().map(|s| s.id)
    }

    /// The current segment's length in bytes (`None` before the first).
    pub(crate) fn current_len(&self) -> Option<u64> {
        self.segments.last().map(|s| s.len)
    }

    /// True if the current segment holds messages and every one of them
    /// is done (confirmed past its lane's watermark, no live dead letter):
    /// sealing and deleting it loses nothing.
    pub(crate) fn current_done(&self) -> bool {
        let Some(cur) = self.segments.last() else {
            return false;
        };
        let has_messages = cur.lane_count.iter().any(|n| *n > 0);
        let done = cur.dl_live == 0
            && cur
                .lane_max
                .iter()
                .zip(self.marks.iter())
                .all(|(max, mark)| max <= mark);
        has_messages && done
    }

    /// Lane `lane`'s watermark (0 for a lane out of range).
    pub(crate) fn mark(&self, lane: usize) -> Seq {
        self.marks.get(lane).copied().unwrap_or(0)
    }

    /// Moves lane `lane`'s watermark forward to `seq` (to be journaled by
    /// [`flush_marks`](Self::flush_marks)).
    pub(crate) fn advance_mark(&mut self, lane: usize, seq: Seq) {
        let Some(mark) = self.marks.get_mut(lane) else {
            return;
        };
        debug_assert!(
            seq >= *mark,
            "lane {lane}'s watermark moves back: {mark} to {seq}"
        );
        debug_assert!(
            seq < self.next_seq,
            "lane {lane}'s watermark passes the log's end"
        );
        *mark = seq;
        self.marks_dirty = true;
    }

    /// Asks for the watermarks to be journaled again (an entry that a
    /// `Confirm` entry keeps alive was written).
    pub(crate) fn touch_marks(&mut self) {
        self.marks_dirty = true;
    }

    /// The segment holding dead letter `dl_seq`, if it holds a live one.
    pub(crate) fn dead_letter_segment(&self, dl_seq: Seq) -> Option<SegmentId> {
        self.segments
            .iter()
            .find(|s| s.contains(dl_seq) && s.dl_live > 0)
            .map(|s| s.id)
    }

    /// Counts dead letter `dl_seq` resolved by the entry written into
    /// segment `at`: that segment must outlive the dead letter's.
    pub(crate) fn note_resolved(&mut self, dl_seq: Seq, at: SegmentId) {
        let target = self.segments.iter_mut().find(|s| s.contains(dl_seq)).map(|s| {
            s.dl_live = s.dl_live.saturating_sub(1);
            s.id
        });
        if let Some(seg) = self.segments.iter_mut().find(|s| s.id == at) {
            seg.resolve_pin = seg.resolve_pin.max(target);
        }
    }

    /// Counts a dead letter written into segment `segment`.
    pub(crate) fn note_dead_letter(&mut self, segment: SegmentId) {
        if let Some(seg) = self.segments.iter_mut().find(|s| s.id == segment) {
            seg.dl_live += 1;
            seg.dl_written += 1;
        }
    }
}
