//! Counting the messages a recovered journal still owes.

use crate::journal::format::{EntryKind, SEGMENT_HEADER_LEN};
use crate::journal::reader::Read;
use crate::journal::{Journal, Position};
use crate::storage::Storage;

/// Counts messages not yet done. Whole segments are counted from their
/// per-lane summary; only a segment that a lane's watermark falls inside
/// (at most one per lane) is read again, frame headers only.
pub(super) fn count_pending<S: Storage, const LANES: usize, const SEGS: usize>(
    journal: &mut Journal<S, LANES, SEGS>,
    cache: &mut [u8],
) -> Result<u64, S::Error> {
    let mut pending = 0u64;
    let marks = journal.marks;
    for i in 0..journal.segments.len() {
        let g = &journal.segments[i];
        let mut partial = false;
        for (lane, &mark) in marks.iter().enumerate() {
            if g.lane_count[lane] == 0 || mark >= g.lane_max[lane] {
                continue;
            }
            if mark < g.lane_min[lane] {
                pending += u64::from(g.lane_count[lane]);
            } else {
                partial = true;
            }
        }
        if !partial {
            continue;
        }
        let (id, end) = (g.id, g.len);
        let (lane_min, lane_max) = (g.lane_min, g.lane_max);
        let mut at = SEGMENT_HEADER_LEN as u64;
        while at < end {
            // Through the journal: frames recovery did not take into the
            // log (stale copies) read as damage, and are not counted.
            let f = match journal.read(
                cache,
                Position {
                    segment: id,
                    offset: at,
                },
            )? {
                Read::Frame(f) => f,
                // Damage recovery already reported: count what follows it.
                Read::Bad => match journal.reader.resync(&mut journal.storage, cache, id, at, 0)? {
                    Some(next) => {
                        at = next;
                        continue;
                    }
                    None => break,
                },
                Read::End => break,
            };

            let lane = usize::from(f.header.lane);
            if f.header.kind == EntryKind::Message as u8
                && lane < LANES
                && marks[lane] >= lane_min[lane]
                && marks[lane] < lane_max[lane]
                && f.header.seq > marks[lane]
            {
                pending += 1;
            }
            at = f.next;
        }
    }
    Ok(pending)
}
