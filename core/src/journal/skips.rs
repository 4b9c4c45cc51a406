//! Bytes of a segment that recovery did not take into the log.
//!
//! Recovery reads each segment in order and accepts a frame only if its
//! seq follows the frames before it; valid frames it does not accept
//! (inside a corrupt region it skipped, stale copies of earlier entries)
//! are reported as lost or as entries from the past. Every later reader of
//! the journal (the pending count, delivery, dead letters) reads frames by
//! position and has no predecessor to compare with: the journal answers
//! for them, from the regions recorded here, so that a frame recovery
//! rejected is never sent (its loss was reported) and never counted.

use crate::storage::SegmentId;

/// How many skipped regions a recovery can hand on. Past this, recovery
/// cuts the segment at the region instead (and reports what the cut held).
pub(crate) const SKIPS: usize = 16;

/// One region: `from..to` of `segment` (`to` is `u64::MAX` for the rest of
/// a sealed segment).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
struct Skip {
    segment: SegmentId,
    from: u64,
    to: u64,
}

/// The regions of every segment that are not part of the log.
#[derive(Clone, Debug, Default)]
pub(crate) struct Skips {
    list: heapless::Vec<Skip, SKIPS>,
}

impl Skips {
    /// Records `from..to` of `segment`; joins it to the region before when
    /// they touch. False if there is no room left.
    pub(crate) fn push(&mut self, segment: SegmentId, from: u64, to: u64) -> bool {
        if let Some(last) = self.list.last_mut()
            && last.segment == segment
            && last.to >= from
            && last.from <= from
        {
            last.to = last.to.max(to);
            return true;
        }
        self.list.push(Skip { segment, from, to }).is_ok()
    }

    /// True if the frame at `offset` of `segment` lies in a skipped region.
    pub(crate) fn contains(&self, segment: SegmentId, offset: u64) -> bool {
        self.list
            .iter()
            .any(|s| s.segment == segment && s.from <= offset && offset < s.to)
    }
}
