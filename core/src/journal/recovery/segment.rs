//! Reading one segment's entries: framing, checksums, the chain, and what
//! each entry means for the index (lane summaries, watermarks, manifests,
//! dead letters, deletions).

use super::error::{RecoverError, storage_err};
use super::state::{OpenLoss, Repair, Scan};
use crate::journal::SegmentInfo;
use crate::journal::entry::{
    DeadLetterEntry, Reader, decode_manifest, decode_resolve, decode_segment_removed, decode_watermarks,
};
use crate::journal::format::{EntryKind, SEGMENT_HEADER_LEN, SegmentHeader};
use crate::journal::reader::{ChunkReader, Read};
use crate::journal::report::{Damage, SeqRange, TornTail};
use crate::message::Seq;
use crate::storage::{SegmentId, Storage};

pub(super) fn scan_segment<S: Storage, const LANES: usize, const SEGS: usize>(
    storage: &mut S,
    cache: &mut [u8],
    reader: &mut ChunkReader,
    s: &mut Scan<LANES, SEGS>,
    header: SegmentHeader,
    is_last: bool,
) -> Result<(), RecoverError<S::Error>> {
    let id = header.segment;
    // Continuity with the segment before, when it is the one right before.
    let follows_previous = s.segments.last().is_some_and(|p| p.id + 1 == id);
    if let Some(open) = s.open_loss.take() {
        s.report.push(open.damage(header.prev_seq));
    } else if follows_previous && (header.prev_seq < s.last_seq || header.prev_chain != s.last_crc) {
        s.report.push(Damage::BrokenChain {
            segment: id,
            offset: 0,
            lost: SeqRange::new(s.last_seq + 1, header.prev_seq),
        });
    }
    let mut info = SegmentInfo::<LANES>::new(id, header.prev_seq, header.prev_chain);
    let mut expected = header.prev_seq + 1;
    let mut chain = header.prev_chain;
    let mut at = SEGMENT_HEADER_LEN as u64;
    let mut first = true;
    let floor = s.segments.last().map(|p| p.last_seq);
    loop {
        match reader.frame(storage, cache, id, at).map_err(storage_err::<S>)? {
            Read::End => break,
            Read::Frame(f) => {
                let h = f.header;
                // A forward jump whose chain links it to its predecessor is
                // the writer skipping reserved ids after a restart that had
                // no segment slot to start: nothing is missing.
                let skipped = h.seq > expected && h.chain == chain;
                // Seqs only grow across the journal: an entry at or below
                // the last one of the segments before is a stale copy too.
                let below = floor.is_some_and(|f| h.seq <= f);
                if (h.seq != expected || h.chain != chain) && !skipped || below {
                    if (h.seq < expected && !first) || below {
                        // An entry from the past: reordered or stale. Not
                        // part of the log, for later readers either.
                        if !s.skips.push(id, at, f.next) {
                            cut_rest(storage, cache, reader, s, &mut info, at, expected, is_last)?;
                            break;
                        }
                        // Appends go after it (the length is the file's).
                        info.len = f.next;
                        s.report.push(Damage::BrokenChain {
                            segment: id,
                            offset: at,
                            lost: None,
                        });
                        at = f.next;
                        continue;
                    }
                    s.report.push(Damage::BrokenChain {
                        segment: id,
                        offset: at,
                        lost: SeqRange::new(expected, h.seq.saturating_sub(1)),
                    });
                }
                first = false;
                let kind = EntryKind::from_u8(h.kind);
                apply_entry(s, &mut info, kind, h.lane, h.seq, &cache[f.payload.clone()]);
                info.len = f.next;
                info.last_seq = h.seq;
                info.last_crc = h.crc;
                expected = h.seq + 1;
                chain = h.crc;
                s.report.entries += 1;
                at = f.next;
            }
            Read::Bad => {
                // (The check reads into `cache`: the reader must forget it.)
                let zeros = is_last && zero_from(storage, cache, id, at).map_err(storage_err::<S>)?;
                if is_last {
                    reader.invalidate();
                }
                if zeros {
                    // Zeros to the end: space the writer reserved ahead of
                    // its appends (the std runner's mapped segments). A torn
                    // tail, found without a resync over every 8 bytes.
                    let len = storage.len(id).map_err(storage_err::<S>)?;
                    s.report.torn_tail = Some(TornTail {
                        segment: id,
                        offset: at,
                        cut: len.saturating_sub(at),
                        zeros: true,
                    });
                    let _ = s.repairs.push(Repair::Truncate(id, at));
                    break;
                }
                let resync = reader
                    .resync(storage, cache, id, at, expected.saturating_sub(1))
                    .map_err(storage_err::<S>)?;
                match resync {
                    Some(next) => {
                        if !s.skips.push(id, at, next) {
                            cut_rest(storage, cache, reader, s, &mut info, at, expected, is_last)?;
                            break;
                        }
                        // Peek the seq there to say what was lost.
                        let lost_upto =
                            match reader.frame(storage, cache, id, next).map_err(storage_err::<S>)? {
                                Read::Frame(f) => f.header.seq.saturating_sub(1),
                                _ => expected.saturating_sub(1),
                            };
                        s.report.push(Damage::CorruptRegion {
                            segment: id,
                            offset: at,
                            len: next - at,
                            lost: SeqRange::new(expected, lost_upto),
                        });
                        info.damaged = true;
                        // Accept the next frame's seq and chain as they are.
                        if let Read::Frame(f) =
                            reader.frame(storage, cache, id, next).map_err(storage_err::<S>)?
                        {
                            expected = f.header.seq;
                            chain = f.header.chain;
                        }
                        at = next;
                    }
                    None if is_last => {
                        let len = reader.segment_len;
                        s.report.torn_tail = Some(TornTail {
                            segment: id,
                            offset: at,
                            cut: len - at,
                            zeros: false,
                        });

                        let _ = s.repairs.push(Repair::Truncate(id, at));
                        break;
                    }
                    None => {
                        // Damage to the end of a sealed segment; how much was
                        // lost is known once the next header is read.
                        // Valid frames in them are stale (none follows the
                        // chain): not part of the log.
                        if !s.skips.push(id, at, u64::MAX) {
                            cut_rest(storage, cache, reader, s, &mut info, at, expected, is_last)?;
                            break;
                        }
                        info.damaged = true;
                        s.open_loss = Some(OpenLoss {
                            segment: id,
                            offset: at,
                            len: reader.segment_len - at,
                            from: expected,
                            seen: 0,
                        });
                        info.len = reader.segment_len;
                        break;
                    }
                }
            }
        }
    }
    s.report.bytes += info.len;
    s.last_seq = info.last_seq;
    s.last_crc = info.last_crc;
    if s.segments.push(info).is_err() {
        return Err(RecoverError::TooManySegments { capacity: SEGS });
    }
    Ok(())
}

/// Damage at `at` of segment `id` with no room left to record another
/// skipped region: the segment is cut there, and everything from `at` on is
/// reported lost (up to the highest seq of a valid frame there, or where the
/// next segment starts).
#[allow(clippy::too_many_arguments)]
fn cut_rest<S: Storage, const LANES: usize, const SEGS: usize>(
    storage: &mut S,
    cache: &mut [u8],
    reader: &mut ChunkReader,
    s: &mut Scan<LANES, SEGS>,
    info: &mut SegmentInfo<LANES>,
    at: u64,
    expected: Seq,
    is_last: bool,
) -> Result<(), RecoverError<S::Error>> {
    let mut seen = 0;
    let mut pos = at;
    loop {
        match reader
            .frame(storage, cache, info.id, pos)
            .map_err(storage_err::<S>)?
        {
            Read::Frame(f) => {
                seen = seen.max(f.header.seq);
                pos = f.next;
            }
            Read::End => break,
            Read::Bad => match reader
                .resync(storage, cache, info.id, pos, 0)
                .map_err(storage_err::<S>)?
            {
                Some(next) => pos = next,
                None => break,
            },
        }
    }
    if is_last {
        reader.invalidate();
    }
    let len = storage.len(info.id).map_err(storage_err::<S>)?;
    info.damaged = true;
    info.len = at;
    let _ = s.repairs.push(Repair::Truncate(info.id, at));
    s.open_loss = Some(OpenLoss {
        segment: info.id,
        offset: at,
        len: len.saturating_sub(at),
        from: expected,
        seen,
    });
    Ok(())
}

pub(super) fn apply_entry<const LANES: usize, const SEGS: usize>(
    s: &mut Scan<LANES, SEGS>,
    info: &mut SegmentInfo<LANES>,
    kind: Option<EntryKind>,
    lane: u16,
    seq: Seq,
    payload: &[u8],
) {
    let marks = &mut s.marks;
    let mut raise = |lane: u16, upto: Seq| {
        if let Some(m) = marks.get_mut(usize::from(lane)) {
            *m = (*m).max(upto);
        }
    };
    match kind {
        Some(EntryKind::Message) => info.add_message(lane, seq),
        Some(EntryKind::Confirm) => {
            let _ = decode_watermarks(&mut Reader::new(payload), raise);
        }
        Some(EntryKind::Manifest) => {
            let mut live: heapless::Vec<SegmentId, SEGS> = heapless::Vec::new();
            if decode_manifest(payload, &mut raise, |id| {
                let _ = live.push(id);
            })
            .is_ok()
            {
                s.manifest = live;
                s.manifest_segment = Some(info.id);
                s.removed.clear();
            }
        }
        Some(EntryKind::DeadLetter) if DeadLetterEntry::decode(payload).is_ok() => {
            info.dl_live += 1;
            info.dl_written += 1;
        }

        Some(EntryKind::Resolve) => {
            if let Ok((dl_seq, _)) = decode_resolve(payload) {
                let target = if info.contains(dl_seq) || dl_seq > info.last_seq {
                    Some(&mut *info)
                } else {
                    s.segments.iter_mut().find(|g| g.contains(dl_seq))
                };
                if let Some(target) = target {
                    target.dl_live = target.dl_live.saturating_sub(1);
                    let target_id = target.id;
                    info.resolve_pin = info.resolve_pin.max(Some(target_id));
                }
            }
        }
        Some(EntryKind::SegmentRemoved) => {
            // A deletion whose unlink failed is journaled again by the next
            // collection: one removal per segment.
            if let Ok(id) = decode_segment_removed(payload)
                && !s.removed.contains(&id)
            {
                let _ = s.removed.push(id);
            }
        }
        _ => {}
    }
}

pub(super) fn all_zero_or_empty(b: &[u8]) -> bool {
    b.iter().all(|x| *x == 0)
}

/// True if segment `id` holds only zero bytes from `offset` to its end.
pub(super) fn zero_from<S: Storage>(
    storage: &mut S,
    cache: &mut [u8],
    id: SegmentId,
    mut offset: u64,
) -> Result<bool, S::Error> {
    if cache.is_empty() {
        return Ok(false);
    }
    loop {
        let n = storage.read(id, offset, cache)?;
        if n == 0 {
            return Ok(true);
        }
        if !cache.get(..n).is_some_and(all_zero_or_empty) {
            return Ok(false);
        }
        offset += n as u64;
    }
}
