//! Recovery: rebuild the journal's index from what storage returns.
//!
//! A named mode ([`RecoveryMode`], after fjall's journal recovery), and a
//! pure function of the bytes storage returns plus the options; the only
//! writes it makes are the repairs it reports (cutting a torn tail,
//! quarantining a segment, finishing a deletion a crash interrupted). In
//! strict mode it makes none and refuses.
//!
//! What it checks, in order:
//! 1. The meta slots: the valid one with the higher generation gives the
//!    high-water mark and the seq reservation. A damaged slot is reported,
//!    even when the other one is good.
//! 2. The journal id, by the segments' headers (the id most intact headers
//!    carry); 64 bytes of meta never outvote them. Meta slots that name
//!    another journal are reported and their high-water mark ignored.
//! 3. Each segment's header: magic, checksum, version, journal id, own id,
//!    and that it chains to the end of the segment before it. A last
//!    segment that is empty or all zeros holds nothing and is removed. A
//!    damaged header does not condemn the frames behind it: each frame
//!    carries its seq and its predecessor's checksum, so the first intact
//!    frame (past damage right behind the header, if any) anchors a header
//!    rebuilt in memory, provided the journal id is known from elsewhere
//!    and the frame does not contradict the segment before; the segment is
//!    then read as usual (reported, kept).
//! 4. Each entry: framing and CRC-32C, then that its seq and chain follow its
//!    predecessor. A bad frame with nothing valid after it in the last
//!    segment is a torn tail (cut); anything else is damage: the scan resyncs
//!    on the next valid frame and reports what the skipped bytes held. What
//!    it does not take into the log (skipped bytes, stale entries) is handed
//!    to the journal (`skips.rs`): no later reader takes it either.
//! 5. The newest manifest: every segment it lists must be present unless a
//!    later entry says it was removed on purpose.
//! 6. The high-water mark, whatever is left on disk: a log that ends before
//!    it was truncated; a quarantined segment lost what lies between its
//!    neighbours; and with no segment left at all, everything up to it is
//!    lost (the journal never deletes its newest segment, so no segments
//!    with a nonzero high-water mark is never the result of deletion).

mod error;
mod loss;
mod meta;
mod pending;
mod salvage;
mod segment;
mod state;

pub use error::RecoverError;
use error::{storage_err, version_error};
use loss::{check_high_water_mark, set_aside};
use meta::{read_meta, vote_journal};
use pending::count_pending;
use salvage::{Salvage, salvage};
use segment::{all_zero_or_empty, scan_segment, zero_from};
use state::{Repair, Scan};

use super::format::{HeaderError, MetaSlot, SEGMENT_HEADER_LEN, SegmentHeader};
use super::reader::ChunkReader;
use super::report::{Damage, RecoveryReport, SeqRange};
use super::skips::Skips;
use super::{Journal, JournalLimits};
use crate::message::Seq;
use crate::storage::{SegmentId, Storage};

/// How recovery treats damage.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
#[non_exhaustive]
pub enum RecoveryMode {
    /// Keep every intact entry, set damage aside (cut a torn tail, skip
    /// corrupt bytes, quarantine what cannot be read) and report exactly
    /// which sequence numbers were lost. A producer keeps running on what
    /// survived; the report (and the tool's exit code) says what did not.
    #[default]
    Salvage,
    /// Refuse to start if anything is damaged, changing nothing:
    /// [`RecoverError::Damaged`] carries the report. A torn tail is not
    /// damage (it is the normal trace of a crash) and is cut in both modes.
    Strict,
}

/// How to recover.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct RecoverOptions {
    /// Id for a new journal, if there is none yet (from the caller's random
    /// source: the core has none).
    pub new_journal_id: u64,
    /// What to do about damage.
    pub mode: RecoveryMode,
}

/// Recovers the journal in `storage` (or starts a new one), using `cache`
/// as the read buffer. On failure the storage is handed back.
#[allow(clippy::type_complexity)]
pub(crate) fn recover<S: Storage, const LANES: usize, const SEGS: usize>(
    mut storage: S,
    cache: &mut [u8],
    options: RecoverOptions,
    limits: JournalLimits,
) -> Result<(Journal<S, LANES, SEGS>, RecoveryReport), (S, RecoverError<S::Error>)> {
    match scan::<S, LANES, SEGS>(&mut storage, cache, options) {
        Ok(scan) => {
            let (mut journal, mut report) = finish(storage, scan, options, limits)?;
            match count_pending(&mut journal, cache) {
                Ok(pending) => report.pending = pending,
                Err(e) => return Err((journal.storage, RecoverError::Storage(e))),
            }
            Ok((journal, report))
        }
        Err(e) => Err((storage, e)),
    }
}

/// The meta slot recovery trusts, and the newest one it read (whose
/// generation the next write must exceed, whichever journal it names).
#[derive(Clone, Copy)]
struct MetaFound {
    trusted: Option<MetaSlot>,
    newest: Option<MetaSlot>,
}

fn scan<S: Storage, const LANES: usize, const SEGS: usize>(
    storage: &mut S,
    cache: &mut [u8],
    options: RecoverOptions,
) -> Result<(Scan<LANES, SEGS>, MetaFound), RecoverError<S::Error>> {
    let read = read_meta(storage)?;
    let mut ids: heapless::Vec<SegmentId, SEGS> = heapless::Vec::new();
    let mut overflow = false;
    storage
        .list(&mut |id| {
            if ids.push(id).is_err() {
                overflow = true;
            }
        })
        .map_err(storage_err::<S>)?;
    if overflow {
        return Err(RecoverError::TooManySegments { capacity: SEGS });
    }
    ids.sort_unstable();

    let mut report = RecoveryReport::default();
    match read.damaged {
        [true, true] => report.push(Damage::MetaDamaged),
        [true, false] | [false, true] if read.best.is_none() => report.push(Damage::MetaDamaged),
        [true, false] => report.push(Damage::MetaSlotDamaged { slot: 0 }),
        [false, true] => report.push(Damage::MetaSlotDamaged { slot: 1 }),
        [false, false] => {}
    }
    // The journal id: the segments' headers outvote the meta.
    let voted = vote_journal::<S, SEGS>(storage, &ids, read.best.map(|m| m.journal))?;
    let mut meta = read.best;
    if let (Some(m), Some(j)) = (meta, voted)
        && m.journal != j
    {
        report.push(Damage::MetaMismatch {
            meta: m.journal,
            journal: j,
        });
        meta = None;
    }
    // The lanes the journal was created with, as a segment header's: a
    // journal of another lane count is refused now, before anything is
    // written with it (a new segment would carry the meta's count).
    if let Some(m) = meta
        && usize::from(m.lanes) != LANES
    {
        return Err(RecoverError::LanesMismatch {
            journal: m.lanes,
            configured: LANES,
        });
    }
    let mut s = Scan::<LANES, SEGS> {
        report,
        segments: heapless::Vec::new(),
        repairs: heapless::Vec::new(),
        marks: [0; LANES],
        manifest: heapless::Vec::new(),
        manifest_segment: None,
        removed: heapless::Vec::new(),
        set_aside: heapless::Vec::new(),
        open_loss: None,
        last_seq: 0,
        last_crc: 0,
        lanes_on_disk: meta.map(|m| m.lanes),
        skips: Skips::default(),
    };
    let mut journal = voted.or(meta.map(|m| m.journal));
    let mut reader = ChunkReader::new();
    let last_index = ids.len().saturating_sub(1);
    for (index, &id) in ids.iter().enumerate() {
        let mut head = [0u8; SEGMENT_HEADER_LEN];
        let n = storage.read(id, 0, &mut head).map_err(storage_err::<S>)?;
        if index == last_index && all_zero_or_empty(&head[..n]) {
            // Zeros after the header too: created by a crash that
            // interrupted `roll`, or its bytes never reached the disk
            // before power loss (a file grown ahead of its appends). It
            // holds nothing.
            let blank = zero_from(storage, cache, id, n as u64).map_err(storage_err::<S>)?;
            reader.invalidate();
            if blank {
                let _ = s.repairs.push(Repair::Remove(id));
                continue;
            }
        }
        let decoded = match SegmentHeader::decode(&head[..n]) {
            Ok(h) if h.segment == id => Ok(h),
            Ok(_) => Err(HeaderError::Checksum),
            Err(e) => Err(e),
        };
        let header = match decoded {
            Ok(h) => h,
            Err(e) => {
                if let Some(err) = version_error(e) {
                    return Err(err);
                }
                let lanes = s.lanes_on_disk.unwrap_or(LANES as u16);
                match salvage(storage, cache, &mut reader, &s, id, lanes, journal)? {
                    Salvage::Header(h) => {
                        s.report.push(Damage::HeaderSalvaged { segment: id });
                        h
                    }
                    Salvage::Refused { first } => {
                        set_aside(&mut s, id, None, first);
                        continue;
                    }
                }
            }
        };
        let journal_id = *journal.get_or_insert(header.journal);
        if header.journal != journal_id {
            set_aside(&mut s, id, Some(header.journal), None);
            continue;
        }
        let lanes = *s.lanes_on_disk.get_or_insert(header.lanes);
        if lanes != header.lanes || usize::from(lanes) != LANES {
            return Err(RecoverError::LanesMismatch {
                journal: header.lanes,
                configured: LANES,
            });
        }
        let salvaged =
            matches!(s.report.damage.last(), Some(Damage::HeaderSalvaged { segment }) if *segment == id);
        scan_segment(storage, cache, &mut reader, &mut s, header, index == last_index)?;
        if salvaged && let Some(info) = s.segments.last_mut() {
            // Quarantined, not deleted, once done with: the evidence stays.
            info.damaged = true;
        }
        s.report.segments += 1;
    }

    let journal_id = match journal {
        Some(j) => j,
        None => {
            s.report.created = true;
            options.new_journal_id
        }
    };
    s.report.journal = journal_id;
    let hwm = meta.map_or(0, |m| m.durable_seq);
    if let Some(open) = s.open_loss.take() {
        s.report.push(open.damage(hwm.max(open.from)));
    }
    check_manifest(&mut s);
    check_high_water_mark(&mut s, meta);
    Ok((
        s,
        MetaFound {
            trusted: meta,
            newest: read.best,
        },
    ))
}

/// Step 4: segments the newest manifest expects must be there.
fn check_manifest<const LANES: usize, const SEGS: usize>(s: &mut Scan<LANES, SEGS>) {
    for i in 0..s.manifest.len() {
        let id = s.manifest[i];
        if s.segments.iter().any(|g| g.id == id) || s.removed.contains(&id) {
            continue;
        }
        if s.repairs
            .iter()
            .any(|r| matches!(r, Repair::Quarantine(q) if *q == id))
        {
            continue; // Already reported as foreign or bad.
        }
        let before = s.segments.iter().filter(|g| g.id < id).map(|g| g.last_seq).max();
        let after = s.segments.iter().filter(|g| g.id > id).map(|g| g.prev_seq).min();
        let lost = match (before, after) {
            (Some(b), Some(a)) => SeqRange::new(b + 1, a),
            (None, Some(a)) => SeqRange::new(1, a),
            _ => None,
        };
        s.report.push(Damage::MissingSegment { segment: id, lost });
    }
    // Removals a crash interrupted after journaling them.
    for i in 0..s.removed.len() {
        let id = s.removed[i];
        if s.segments.iter().any(|g| g.id == id) {
            let _ = s.repairs.push(Repair::Remove(id));
        }
    }
    let removed = s.removed.clone();
    s.segments.retain(|g| !removed.contains(&g.id));
}

#[allow(clippy::type_complexity)]
fn finish<S: Storage, const LANES: usize, const SEGS: usize>(
    mut storage: S,
    (mut s, meta): (Scan<LANES, SEGS>, MetaFound),
    options: RecoverOptions,
    limits: JournalLimits,
) -> Result<(Journal<S, LANES, SEGS>, RecoveryReport), (S, RecoverError<S::Error>)> {
    if options.mode == RecoveryMode::Strict && !s.report.is_clean() {
        return Err((storage, RecoverError::Damaged(s.report)));
    }
    // Finishing a deletion relies on its `SegmentRemoved` entry, which may
    // have been read from the page cache after a process crash: make it
    // durable first, or a power loss could take the entry and leave the
    // segment gone (reported missing by every later recovery).
    if s.repairs.iter().any(|r| matches!(r, Repair::Remove(_)))
        && let Some(last) = s.segments.last()
        && let Err(e) = storage.sync(last.id)
    {
        return Err((storage, RecoverError::Storage(e)));
    }
    for repair in s.repairs.iter() {
        let result = match *repair {
            Repair::Truncate(id, len) => storage.truncate(id, len),
            Repair::Quarantine(id) => {
                s.report.quarantined += 1;
                storage.quarantine(id)
            }
            Repair::Remove(id) => storage.remove(id),
        };
        if let Err(e) = result {
            return Err((storage, RecoverError::Storage(e)));
        }
    }
    // Everything that survived recovery is treated as durable. The highest
    // seq kept (a later segment may hold only stale copies below an
    // earlier one's last entry): new entries and watermarks go above it.
    let last_seq = s.segments.iter().map(|g| g.last_seq).fold(s.last_seq, Seq::max);
    // Meta slots of another journal reserve nothing for this one: skip a
    // reservation block, as ids above the last entry may have left.
    let reserved = match (meta.trusted, meta.newest) {
        (Some(m), _) => m.reserved_seq.max(m.durable_seq),
        (None, Some(_)) => last_seq.saturating_add(limits.reserve_block),
        (None, None) => 0,
    };
    let next_seq = last_seq.max(reserved) + 1;
    for g in s.segments.iter() {
        s.report.dead_letters += u64::from(g.dl_live);
    }
    let bytes = s.segments.iter().map(|g| g.len).sum();
    let lanes_on_disk = s.lanes_on_disk.unwrap_or(LANES as u16);
    let journal = Journal {
        storage,
        id: s.report.journal,
        lanes_on_disk,
        segments: s.segments,
        next_seq,
        last_crc: s.last_crc,
        synced_seq: last_seq,
        meta_generation: meta.newest.map_or(0, |m| m.generation),
        meta_durable: last_seq,
        // Only what the meta slot holds is reserved: ids of recovered
        // entries must be reserved durably (by the next meta write) before
        // they leave again, or losing the segments that hold them (damage,
        // quarantine) would let a restart hand the same ids out again.
        reserved_seq: reserved,
        marks: s.marks,
        marks_dirty: false,
        bytes,
        failed: None,
        limits,
        reader: ChunkReader::new(),
        manifest_owed: false,
        skips: s.skips,
    };
    Ok((journal, s.report))
}
