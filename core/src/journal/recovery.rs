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
//!    on the next valid frame and reports what the skipped bytes held.
//! 5. The newest manifest: every segment it lists must be present unless a
//!    later entry says it was removed on purpose.
//! 6. The high-water mark, whatever is left on disk: a log that ends before
//!    it was truncated; a quarantined segment lost what lies between its
//!    neighbours; and with no segment left at all, everything up to it is
//!    lost (the journal never deletes its newest segment, so no segments
//!    with a nonzero high-water mark is never the result of deletion).

use core::fmt;

use super::entry::{
    DeadLetterEntry, Reader, decode_manifest, decode_resolve, decode_segment_removed, decode_watermarks,
};
use super::format::{EntryKind, HeaderError, MetaSlot, SEGMENT_HEADER_LEN, SegmentHeader};
use super::reader::{ChunkReader, Read};
use super::report::{Damage, RecoveryReport, SeqRange, TornTail};
use super::{Journal, JournalLimits, SegmentInfo};
use crate::message::Seq;
use crate::storage::{META_SLOT_LEN, SegmentId, Storage, StorageError};

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

/// Why recovery could not produce a journal.
#[derive(Debug)]
#[non_exhaustive]
pub enum RecoverError<E> {
    /// Storage failed while reading or repairing.
    Storage(E),
    /// The journal was written by a newer steadfast.
    NewerVersion {
        /// Version found on disk.
        found: u16,
        /// Highest version this build reads.
        supported: u16,
    },
    /// More segments than the configured capacity.
    TooManySegments {
        /// The capacity (the `SEGMENTS` parameter).
        capacity: usize,
    },
    /// The journal was created with a different number of lanes.
    LanesMismatch {
        /// Lanes in the journal.
        journal: u16,
        /// Lanes this producer was built with.
        configured: usize,
    },
    /// Strict mode found damage; nothing was changed.
    Damaged(RecoveryReport),
}

impl<E: StorageError> fmt::Display for RecoverError<E> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            RecoverError::Storage(e) => {
                write!(f, "storage error during recovery: {e} ({})", e.kind())
            }
            RecoverError::NewerVersion { found, supported } => write!(
                f,
                "journal format version {found} is newer than this build reads ({supported}); upgrade steadfast"
            ),
            RecoverError::TooManySegments { capacity } => write!(
                f,
                "journal has more than {capacity} segments; raise the SEGMENTS capacity or the segment size"
            ),
            RecoverError::LanesMismatch { journal, configured } => write!(
                f,
                "journal was created with {journal} lanes but this producer has {configured}; use the same LANES"
            ),
            RecoverError::Damaged(report) => {
                write!(f, "strict mode: journal is damaged, nothing changed:\n{report}")
            }
        }
    }
}

impl<E: StorageError> core::error::Error for RecoverError<E> {}

/// A repair recovery will make once the scan is accepted.
#[derive(Clone, Copy, Debug)]
enum Repair {
    Truncate(SegmentId, u64),
    Quarantine(SegmentId),
    Remove(SegmentId),
}

/// Corrupt bytes that ran to the end of a sealed segment.
#[derive(Clone, Copy)]
struct OpenLoss {
    segment: SegmentId,
    offset: u64,
    len: u64,
    from: Seq,
}

impl OpenLoss {
    fn damage(self, upto: Seq) -> Damage {
        Damage::CorruptRegion {
            segment: self.segment,
            offset: self.offset,
            len: self.len,
            lost: SeqRange::new(self.from, upto),
        }
    }
}

struct Scan<const LANES: usize, const SEGS: usize> {
    report: RecoveryReport,
    segments: heapless::Vec<SegmentInfo<LANES>, SEGS>,
    repairs: heapless::Vec<Repair, SEGS>,
    marks: [Seq; LANES],
    manifest: heapless::Vec<SegmentId, SEGS>,
    manifest_segment: Option<SegmentId>,
    removed: heapless::Vec<SegmentId, SEGS>,
    /// Segments quarantined for their header.
    set_aside: heapless::Vec<SetAside, SEGS>,
    /// Damage running off the end of a segment, closed by the next header.
    open_loss: Option<OpenLoss>,
    last_seq: Seq,
    last_crc: u32,
    lanes_on_disk: Option<u16>,
}

fn storage<E>(e: E) -> RecoverError<E> {
    RecoverError::Storage(e)
}

fn version_error<E>(e: HeaderError) -> Option<RecoverError<E>> {
    match e {
        HeaderError::Version(found) => Some(RecoverError::NewerVersion {
            found,
            supported: super::format::VERSION,
        }),
        _ => None,
    }
}

/// What the meta slots hold.
struct MetaRead {
    /// The valid slot with the highest generation.
    best: Option<MetaSlot>,
    /// Slots that were written but do not decode.
    damaged: [bool; 2],
}

/// Reads the meta slots.
fn read_meta<S: Storage>(storage: &mut S) -> Result<MetaRead, RecoverError<S::Error>> {
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
fn vote_journal<S: Storage, const SEGS: usize>(
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

fn storage_err<S: Storage>(e: S::Error) -> RecoverError<S::Error> {
    storage(e)
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

/// A segment recovery set aside, for the loss it leaves.
#[derive(Clone, Copy)]
struct SetAside {
    segment: SegmentId,
    /// The journal its header names, when it is intact but foreign.
    foreign: Option<u64>,
    /// The seqs of the intact, chained frames from its start (first,
    /// last), when there are any.
    first: Option<(Seq, Seq)>,
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

fn set_aside<const LANES: usize, const SEGS: usize>(
    s: &mut Scan<LANES, SEGS>,
    segment: SegmentId,
    foreign: Option<u64>,
    first: Option<(Seq, Seq)>,
) {
    let _ = s.repairs.push(Repair::Quarantine(segment));
    let _ = s.set_aside.push(SetAside {
        segment,
        foreign,
        first,
    });
}

/// The seq of the last frame of the unbroken run of frames from offset
/// 64 of segment `id` (each chained to the one before).
fn last_chained_seq<S: Storage>(
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
enum Salvage {
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
fn salvage<S: Storage, const LANES: usize, const SEGS: usize>(
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
    // The segment right before must not contradict it: an entry of the
    // same seq or later there, or the very next seq with another chain, is
    // another history. A gap (the end of that segment lost) is a loss,
    // reported when the segment is read; a damaged end checks nothing.
    if let Some(prev) = s.segments.last()
        && prev.id + 1 == id
        && s.open_loss.is_none()
        && (first.seq <= prev.last_seq || (first.seq == prev.last_seq + 1 && first.chain != prev.last_crc))
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

/// Step 6: what the high-water mark says was synced and is not here.
fn check_high_water_mark<const LANES: usize, const SEGS: usize>(
    s: &mut Scan<LANES, SEGS>,
    meta: Option<MetaSlot>,
) {
    let hwm = meta.map_or(0, |m| m.durable_seq);
    let newest_kept = s.segments.last().map(|g| g.id);
    // Segments set aside, each with the entries missing where it sits.
    let newest_aside = s.set_aside.iter().map(|a| a.segment).max();
    for i in 0..s.set_aside.len() {
        let SetAside {
            segment,
            foreign,
            first,
        } = s.set_aside[i];
        let before = s
            .segments
            .iter()
            .filter(|g| g.id < segment)
            .map(|g| g.last_seq)
            .max();
        let after = s
            .segments
            .iter()
            .filter(|g| g.id > segment)
            .map(|g| g.prev_seq)
            .min();
        let upto = after.unwrap_or(hwm);
        let lost = match before {
            Some(b) => SeqRange::new(b + 1, upto),
            // The oldest: it held entries only if the newest manifest still
            // listed it, or if nothing else is left (then the newest of
            // those set aside held the high-water mark).
            None if s.manifest.contains(&segment) => SeqRange::new(1, upto),
            None if s.segments.is_empty() && Some(segment) == newest_aside => SeqRange::new(1, upto),
            None => None,
        };
        // The oldest, with intact frames of its own: at least those are gone
        // (behind a segment it contradicts, they are another history).
        let lost = match (lost, first) {
            (None, Some((f, l))) if before.is_none() && foreign.is_none() => SeqRange::new(f, upto.max(l)),
            _ => lost,
        };
        s.report.push(match foreign {
            Some(journal) => Damage::ForeignSegment {
                segment,
                journal,
                lost,
            },
            None => Damage::BadSegmentHeader { segment, lost },
        });
    }
    let aside_after_kept = newest_aside.is_some_and(|a| newest_kept.is_none_or(|k| a > k));
    if aside_after_kept {
        return; // The range up to the high-water mark is reported above.
    }
    let Some(m) = meta else { return };
    if s.segments.is_empty() {
        if let Some(lost) = SeqRange::new(1, m.durable_seq) {
            s.report.push(Damage::SegmentsGone {
                segment: m.segment,
                lost,
            });
        }
    } else if let Some(lost) = SeqRange::new(s.last_seq + 1, m.durable_seq) {
        s.report.push(Damage::Truncated { lost });
    }
}

fn all_zero_or_empty(b: &[u8]) -> bool {
    b.iter().all(|x| *x == 0)
}

/// True if segment `id` holds only zero bytes from `offset` to its end.
fn zero_from<S: Storage>(
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

fn scan_segment<S: Storage, const LANES: usize, const SEGS: usize>(
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
    loop {
        match reader.frame(storage, cache, id, at).map_err(storage_err::<S>)? {
            Read::End => break,
            Read::Frame(f) => {
                let h = f.header;
                // A forward jump whose chain links it to its predecessor is
                // the writer skipping reserved ids after a restart that had
                // no segment slot to start: nothing is missing.
                let skipped = h.seq > expected && h.chain == chain;
                if (h.seq != expected || h.chain != chain) && !skipped {
                    if h.seq < expected && !first {
                        // An entry from the past: reordered or stale.
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
                        info.damaged = true;
                        s.open_loss = Some(OpenLoss {
                            segment: id,
                            offset: at,
                            len: reader.segment_len - at,
                            from: expected,
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

fn apply_entry<const LANES: usize, const SEGS: usize>(
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
    // Everything that survived recovery is treated as durable.
    let last_seq = s.last_seq;
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
    };
    Ok((journal, s.report))
}

/// Counts messages not yet done. Whole segments are counted from their
/// per-lane summary; only a segment that a lane's watermark falls inside
/// (at most one per lane) is read again, frame headers only.
fn count_pending<S: Storage, const LANES: usize, const SEGS: usize>(
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
            let f = match journal.reader.frame(&mut journal.storage, cache, id, at)? {
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
