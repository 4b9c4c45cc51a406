//! Which meta slot, and which journal id, recovery trusts.
//!
//! The 64-byte meta slots hold the high-water mark; the segments' headers
//! and chained frames hold the journal. When they disagree about the
//! journal id, the segments win: two copied meta slots must not make a
//! segment full of valid frames look foreign.

use super::error::{RecoverError, storage_err, version_error};
use crate::journal::format::{MetaSlot, SEGMENT_HEADER_LEN, SegmentHeader};
use crate::storage::{META_SLOT_LEN, SegmentId, Storage};

/// What the meta slots hold.
pub(super) struct MetaRead {
    /// The valid slot with the highest generation.
    pub(super) best: Option<MetaSlot>,
    /// Slots that were written but do not decode.
    pub(super) damaged: [bool; 2],
}

/// Reads the meta slots.
pub(super) fn read_meta<S: Storage>(storage: &mut S) -> Result<MetaRead, RecoverError<S::Error>> {
    let mut read = MetaRead {
        best: None,
        damaged: [false; 2],
    };
    for slot in 0..2 {
        let mut buf = [0u8; META_SLOT_LEN];
        if !storage.read_meta(slot, &mut buf).map_err(storage_err::<S>)? {
            continue;
        }
        match MetaSlot::decode(&buf) {
            Ok(m) if read.best.is_none_or(|b| m.generation > b.generation) => read.best = Some(m),
            Ok(_) => {}
            Err(e) => {
                if let Some(err) = version_error(e) {
                    return Err(err);
                }
                read.damaged[slot] = true;
            }
        }
    }
    Ok(read)
}

/// The journal the segments belong to: the id most intact headers carry
/// (each in a file of its own id); on a tie the meta's, else the newest
/// segment's. `None` if no header is intact.
pub(super) fn vote_journal<S: Storage, const SEGS: usize>(
    storage: &mut S,
    ids: &[SegmentId],
    meta: Option<u64>,
) -> Result<Option<u64>, RecoverError<S::Error>> {
    let mut votes: heapless::Vec<(u64, u32, SegmentId), SEGS> = heapless::Vec::new();
    for &id in ids {
        let mut head = [0u8; SEGMENT_HEADER_LEN];
        let n = storage.read(id, 0, &mut head).map_err(storage_err::<S>)?;
        let Ok(h) = SegmentHeader::decode(&head[..n]) else {
            continue;
        };
        if h.segment != id {
            continue;
        }
        match votes.iter_mut().find(|v| v.0 == h.journal) {
            Some(v) => {
                v.1 += 1;
                v.2 = id;
            }
            None => {
                let _ = votes.push((h.journal, 1, id));
            }
        }
    }
    let most = votes.iter().map(|v| v.1).max();
    let Some(most) = most else { return Ok(None) };
    if let Some(m) = meta
        && votes.iter().any(|v| v.1 == most && v.0 == m)
    {
        return Ok(Some(m));
    }
    Ok(votes
        .iter()
        .filter(|v| v.1 == most)
        .max_by_key(|v| v.2)
        .map(|v| v.0))
}
