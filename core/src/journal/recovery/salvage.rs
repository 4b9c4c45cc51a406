//! Reading the frames behind a damaged segment header.
//!
//! Every frame carries its seq and the checksum of its predecessor, so the
//! frames of a segment check themselves: a flipped byte in the 64-byte
//! header must not set aside thousands of intact entries. The first intact
//! frame anchors a header rebuilt in memory.

use super::error::{RecoverError, storage_err};
use super::state::Scan;
use crate::journal::format::{SEGMENT_HEADER_LEN, SegmentHeader};
use crate::journal::reader::{ChunkReader, Read};
use crate::message::Seq;
use crate::storage::{SegmentId, Storage};

/// The seq of the last frame of the unbroken run of frames from offset
/// 64 of segment `id` (each chained to the one before).
pub(super) fn last_chained_seq<S: Storage>(
    storage: &mut S,
    cache: &mut [u8],
    reader: &mut ChunkReader,
    id: SegmentId,
) -> Result<Seq, RecoverError<S::Error>> {
    let mut at = SEGMENT_HEADER_LEN as u64;
    let mut last: Option<(Seq, u32)> = None;
    while let Read::Frame(f) = reader.frame(storage, cache, id, at).map_err(storage_err::<S>)? {
        if last.is_some_and(|(seq, crc)| f.header.seq <= seq || f.header.chain != crc) {
            break;
        }
        last = Some((f.header.seq, f.header.crc));
        at = f.next;
    }
    Ok(last.map_or(0, |(seq, _)| seq))
}

/// What salvaging a damaged header gave.
pub(super) enum Salvage {
    /// The header, rebuilt from the first frame.
    Header(SegmentHeader),
    /// Not salvaged; the seqs of the intact, chained frames from its
    /// start (first, last), if there were any.
    Refused { first: Option<(Seq, Seq)> },
}

/// A header for segment `id`, whose own header is damaged, rebuilt from
/// its first frame: that frame must be intact, not contradict the segment
/// right before, and the journal id must be known from elsewhere (the meta
/// or another segment's intact header: a damaged header's own id field
/// cannot be trusted).
pub(super) fn salvage<S: Storage, const LANES: usize, const SEGS: usize>(
    storage: &mut S,
    cache: &mut [u8],
    reader: &mut ChunkReader,
    s: &Scan<LANES, SEGS>,
    id: SegmentId,
    lanes: u16,
    journal: Option<u64>,
) -> Result<Salvage, RecoverError<S::Error>> {
    let at = SEGMENT_HEADER_LEN as u64;
    // The first intact frame: right behind the header, or past damage there.
    let (first, resynced) = match reader.frame(storage, cache, id, at).map_err(storage_err::<S>)? {
        Read::Frame(f) => (f.header, false),
        Read::End => return Ok(Salvage::Refused { first: None }),
        Read::Bad => {
            let next = reader
                .resync(storage, cache, id, at, 0)
                .map_err(storage_err::<S>)?;
            let found = match next {
                Some(next) => reader.frame(storage, cache, id, next).map_err(storage_err::<S>)?,
                None => Read::End,
            };
            match found {
                Read::Frame(f) => (f.header, true),
                _ => return Ok(Salvage::Refused { first: None }),
            }
        }
    };
    if usize::from(first.lane) >= LANES || first.seq == 0 {
        return Ok(Salvage::Refused { first: None });
    }
    let Some(journal) = journal else {
        let last = last_chained_seq(storage, cache, reader, id)?;
        return Ok(Salvage::Refused {
            first: Some((first.seq, last)),
        });
    };
    // The segments before must not contradict it: seqs only grow across
    // the journal, so an entry of the same seq or later in any of them
    // makes its frames stale copies; and the very next seq with another
    // chain than the segment right before is another history. A gap (the
    // end of that segment lost) is a loss, reported when the segment is
    // read; a damaged end checks no chain.
    if let Some(prev) = s.segments.last()
        && (first.seq <= prev.last_seq
            || (prev.id + 1 == id
                && s.open_loss.is_none()
                && first.seq == prev.last_seq + 1
                && first.chain != prev.last_crc))
    {
        let last = last_chained_seq(storage, cache, reader, id)?;
        return Ok(Salvage::Refused {
            first: Some((first.seq, last)),
        });
    }
    // Damage right behind the header too: the rebuilt header starts where
    // the segment before ended (the oldest segment: from seq 1, as nothing
    // says where it started), so the scan reports the skipped bytes with
    // the seqs they held.
    let (prev_seq, prev_chain) = match s.segments.last() {
        _ if !resynced => (first.seq - 1, first.chain),
        Some(prev) if prev.last_seq < first.seq => (prev.last_seq, prev.last_crc),
        Some(_) => (first.seq - 1, first.chain),
        None => (0, 0),
    };
    Ok(Salvage::Header(SegmentHeader {
        lanes,
        journal,
        segment: id,
        prev_seq,
        prev_chain,
    }))
}
