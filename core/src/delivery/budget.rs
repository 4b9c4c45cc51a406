//! How a journal's byte budget is divided, and the smallest budget that
//! works.
//!
//! A segment is deleted only once it is sealed (a newer segment is the
//! current one) and every message in it is done. If the current segment
//! could grow to the whole budget, a full journal whose messages were all
//! confirmed could free nothing, and would stay full for ever. So the
//! budget is split: after the [`reserve`] kept for bookkeeping, a segment
//! is at most a [`SEGMENTS_PER_BUDGET`]th of it. When the budget is full,
//! the current segment holds at most that share and the rest sits in sealed
//! segments, each deleted as soon as its messages are confirmed.
//!
//! ```text
//!  budget ├──────────────────────────────────────────────────────────────┤
//!         │ segment │ segment │ segment │ segment (current) │  reserve   │
//!         ├─ share ─┤                                       ├ 2 manifests┤
//!                                                              + 4 KiB
//! ```
//!
//! A segment must hold its header, a manifest and the largest entry, so a
//! largest entry (`max_entry`) needs a budget of at least
//! [`min_budget`]`(max_entry)`; [`max_entry_for`] is the inverse.

use crate::journal::format::SEGMENT_HEADER_LEN;

/// Segments a budget is split into, at least.
pub const SEGMENTS_PER_BUDGET: u64 = 4;

/// Bytes of the budget kept for bookkeeping (confirmations, manifests of
/// new segments, `SegmentRemoved` entries), so that a full journal can
/// always record progress and shrink. `manifest_len` is the producer's
/// largest manifest frame.
pub const fn reserve(manifest_len: usize) -> u64 {
    2 * manifest_len as u64 + 4096
}

/// Bytes of a segment that holds one entry of `max_entry` bytes: its
/// header, its manifest and the entry.
pub const fn min_segment(max_entry: usize, manifest_len: usize) -> u64 {
    (SEGMENT_HEADER_LEN + manifest_len + max_entry) as u64
}

/// The segment size a journal with this budget uses: the configured one,
/// capped at a [`SEGMENTS_PER_BUDGET`]th of what the reserve leaves.
pub const fn segment_size(configured: u64, budget: u64, manifest_len: usize) -> u64 {
    let share = budget.saturating_sub(reserve(manifest_len)) / SEGMENTS_PER_BUDGET;
    if configured < share { configured } else { share }
}

/// The smallest budget that admits entries of up to `max_entry` bytes.
pub const fn min_budget(max_entry: usize, manifest_len: usize) -> u64 {
    SEGMENTS_PER_BUDGET * min_segment(max_entry, manifest_len) + reserve(manifest_len)
}

/// The largest `max_entry` a budget admits (0 if none: it is below the
/// minimum for any entry).
pub const fn max_entry_for(budget: u64, manifest_len: usize) -> usize {
    let share = budget.saturating_sub(reserve(manifest_len)) / SEGMENTS_PER_BUDGET;
    let fixed = (SEGMENT_HEADER_LEN + manifest_len) as u64;
    let entry = share.saturating_sub(fixed);
    if entry > usize::MAX as u64 {
        usize::MAX
    } else {
        entry as usize
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const MANIFEST: usize = 2_238;

    #[test]
    fn min_budget_and_max_entry_are_inverse() {
        for max_entry in [256, 4096, 65_536, 1 << 20] {
            let min = min_budget(max_entry, MANIFEST);
            assert_eq!(max_entry_for(min, MANIFEST), max_entry);
            assert!(max_entry_for(min - 1, MANIFEST) < max_entry);
            // At the minimum, a segment holds exactly the largest entry.
            let seg = segment_size(u64::MAX, min, MANIFEST);
            assert_eq!(seg, min_segment(max_entry, MANIFEST));
        }
    }

    #[test]
    fn segments_are_a_share_of_the_budget() {
        let budget = 1 << 20;
        let seg = segment_size(64 << 20, budget, MANIFEST);
        assert!(seg * SEGMENTS_PER_BUDGET + reserve(MANIFEST) <= budget);
        assert!(seg > (budget - reserve(MANIFEST)) / SEGMENTS_PER_BUDGET - SEGMENTS_PER_BUDGET);
        // A configured size below the share is kept.
        assert_eq!(segment_size(4096, budget, MANIFEST), 4096);
        // A large budget keeps the configured size.
        assert_eq!(segment_size(64 << 20, 1 << 30, MANIFEST), 64 << 20);
    }

    #[test]
    fn tiny_budgets_admit_nothing() {
        assert_eq!(max_entry_for(0, MANIFEST), 0);
        assert_eq!(max_entry_for(reserve(MANIFEST), MANIFEST), 0);
        assert_eq!(segment_size(64 << 20, 0, MANIFEST), 0);
    }
}
