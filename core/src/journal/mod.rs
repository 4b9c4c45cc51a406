//! The journal: segmented, append-only, checksummed, chained.
//!
//! Every message is an entry here before `send` reports it; the journal also
//! records which messages are done (per-lane watermarks), dead letters and
//! their resolution, and segment deletions. Recovery ([`recovery`]) rebuilds
//! the in-memory index from nothing but what storage returns.
//!
//! In memory the journal keeps only a compact index: one `SegmentInfo` per
//! live segment (its seq range, length, and the highest message seq of each
//! lane in it). A segment is deleted as soon as every lane's watermark has
//! passed all of its messages and it holds no live dead letter — under
//! continuous load, not only when the queue drains.
//!
//! Byte layout: [`format`] and `docs/journal-format.md`; its checksum,
//! CRC-32C: [`checksum`].

pub mod checksum;
pub mod entry;
pub mod format;
mod index;
pub(crate) mod reader;
pub mod recovery;
pub mod report;
mod segment_info;
mod skips;

use core::fmt;

use entry::{Writer, encode_manifest, encode_watermarks};
use format::{
    EntryKind, FRAME_HEADER_LEN, MetaSlot, SEGMENT_HEADER_LEN, SegmentHeader, frame_len, seal_frame,
};
use reader::{ChunkReader, Read};

pub(crate) use segment_info::SegmentInfo;
use skips::Skips;

use crate::message::Seq;
use crate::storage::{SegmentId, Storage, StorageError, StorageErrorKind, SyncRequest};

/// Where an entry sits.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Position {
    /// Segment.
    pub segment: SegmentId,
    /// Byte offset of the frame.
    pub offset: u64,
}

/// Failure of a journal write.
#[derive(Debug)]
pub(crate) enum WriteError<E> {
    /// Storage failed (and, for I/O errors, the journal failed closed).
    Storage(E),
    /// An earlier I/O error left the journal failed closed.
    FailedClosed(StorageErrorKind),
    /// Every segment slot is in use.
    NoSegmentSlot,
    /// The entry does not fit the buffers.
    TooLarge,
}

impl<E: StorageError> fmt::Display for WriteError<E> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            WriteError::Storage(e) => write!(f, "{e}"),
            WriteError::FailedClosed(kind) => write!(f, "journal failed closed after: {kind}"),
            WriteError::NoSegmentSlot => f.write_str("all segment slots are in use"),
            WriteError::TooLarge => f.write_str("entry too large for the journal's buffers"),
        }
    }
}

/// Sizes the journal works with.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct JournalLimits {
    /// A new segment is started when the current one would exceed this.
    pub segment_size: u64,
    /// Seqs reserved per meta write (ids above the last reservation are
    /// never handed to a transport).
    pub reserve_block: u64,
}

/// Bytes the largest manifest for these capacities needs (frame included).
pub const fn manifest_frame_len(lanes: usize, segments: usize) -> usize {
    frame_len(2 + 10 * lanes + 4 + 8 * segments)
}

/// The journal's write side and index. Owned by [`Producer`](crate::Producer).
///
/// Its fields are private to the journal (recovery builds it); the
/// delivery code goes through the methods below, so the journal keeps its
/// own invariants (a watermark never moves back, what is synced never
/// passes what is appended).
pub(crate) struct Journal<S, const LANES: usize, const SEGS: usize> {
    storage: S,
    id: u64,
    lanes_on_disk: u16,
    segments: heapless::Vec<SegmentInfo<LANES>, SEGS>,
    next_seq: Seq,
    last_crc: u32,
    /// Every entry up to here is durable: the one record of durability
    /// (raised by [`Journal::synced`], never by the storage).
    synced_seq: Seq,
    meta_generation: u64,
    meta_durable: Seq,
    reserved_seq: Seq,
    /// Per-lane watermark: every message of the lane up to it is done.
    marks: [Seq; LANES],
    marks_dirty: bool,
    bytes: u64,
    failed: Option<StorageErrorKind>,
    limits: JournalLimits,
    reader: ChunkReader,
    /// The current segment's manifest could not be written yet.
    manifest_owed: bool,
    /// Regions recovery did not take into the log: reads there see damage.
    skips: Skips,
}

impl<S: Storage, const LANES: usize, const SEGS: usize> Journal<S, LANES, SEGS> {
    /// Seq of the last entry appended.
    pub(crate) fn appended_seq(&self) -> Seq {
        self.next_seq - 1
    }

    fn check_open(&self) -> Result<(), WriteError<S::Error>> {
        match self.failed {
            Some(kind) => Err(WriteError::FailedClosed(kind)),
            None => Ok(()),
        }
    }

    fn fail(&mut self, e: S::Error) -> WriteError<S::Error> {
        if matches!(e.kind(), StorageErrorKind::Io | StorageErrorKind::FailedClosed) {
            self.failed = Some(e.kind());
        }
        WriteError::Storage(e)
    }

    /// Appends the entry prepared in `frame[FRAME_HEADER_LEN..][..payload_len]`,
    /// starting a new segment first if it would not fit (the manifest of the
    /// new segment is built in `spare`). Returns its seq and position.
    pub(crate) fn append(
        &mut self,
        frame: &mut [u8],
        spare: &mut [u8],
        payload_len: usize,
        kind: EntryKind,
        lane: u16,
    ) -> Result<(Seq, Position), WriteError<S::Error>> {
        self.check_open()?;
        let total = frame_len(payload_len);
        if total > frame.len()
            || SEGMENT_HEADER_LEN as u64 + total as u64 + spare.len() as u64 > self.limits.segment_size
        {
            return Err(WriteError::TooLarge);
        }
        let needs_roll = match self.segments.last() {
            None => true,
            Some(cur) => cur.len + total as u64 > self.limits.segment_size,
        };
        // The last segment slot is kept for the segment `open` starts:
        // bookkeeping entries (confirmations, deletions, dead letters) then
        // go over the segment size rather than fail, or nothing could ever
        // be freed again. Messages never get this far (`send` keeps two).
        let keep_slot = kind != EntryKind::Message && self.segments.len() + 1 >= SEGS;
        if needs_roll && (!keep_slot || self.segments.is_empty()) {
            self.roll(spare)?;
        } else if self.manifest_owed {
            self.append_manifest(spare)?;
        }
        self.append_raw(frame, payload_len, kind, lane)
    }

    fn append_raw(
        &mut self,
        frame: &mut [u8],
        payload_len: usize,
        kind: EntryKind,
        lane: u16,
    ) -> Result<(Seq, Position), WriteError<S::Error>> {
        let seq = self.next_seq;
        let (total, crc) = seal_frame(frame, payload_len, kind, lane, seq, self.last_crc);
        let Some(cur) = self.segments.last() else {
            return Err(WriteError::NoSegmentSlot);
        };
        let (id, offset) = (cur.id, cur.len);
        if let Err(e) = self.storage.append(id, &frame[..total]) {
            return Err(self.fail(e));
        }
        let cur = self.segments.last_mut().ok_or(WriteError::NoSegmentSlot)?;
        cur.len += total as u64;
        cur.last_seq = seq;
        cur.last_crc = crc;
        if kind == EntryKind::Message {
            cur.add_message(lane, seq);
        }
        self.bytes += total as u64;
        self.next_seq += 1;
        self.last_crc = crc;
        Ok((seq, Position { segment: id, offset }))
    }

    /// Seals the current segment (synced) and starts the next one with its
    /// header and manifest.
    pub(crate) fn roll(&mut self, spare: &mut [u8]) -> Result<(), WriteError<S::Error>> {
        self.check_open()?;
        if self.segments.is_full() {
            return Err(WriteError::NoSegmentSlot);
        }
        if self.segments.last().is_some() {
            self.sync()?;
        }
        let id = self.segments.last().map_or(1, |s| s.id + 1);
        let header = SegmentHeader {
            lanes: self.lanes_on_disk,
            journal: self.id,
            segment: id,
            prev_seq: self.next_seq - 1,
            prev_chain: self.last_crc,
        };
        if let Err(e) = self
            .storage
            .create(id)
            .and_then(|()| self.storage.append(id, &header.encode()))
        {
            return Err(self.fail(e));
        }
        let info = SegmentInfo::new(id, self.next_seq - 1, self.last_crc);
        // Cannot fail: checked `is_full` above.
        let _ = self.segments.push(info);
        self.bytes += SEGMENT_HEADER_LEN as u64;
        // Owed until written: if it fails (ENOSPC), the next append writes
        // it first; a segment without one would make recovery trust an
        // older manifest, listing segments deleted since as missing.
        self.manifest_owed = true;
        self.append_manifest(spare)
    }

    /// Writes the current segment's manifest: the older live segments and
    /// the watermarks.
    pub(crate) fn append_manifest(&mut self, spare: &mut [u8]) -> Result<(), WriteError<S::Error>> {
        let current = self.segments.last().map(|s| s.id);
        let live = self
            .segments
            .iter()
            .filter(|s| !s.removing && Some(s.id) != current)
            .map(|s| s.id);
        let marks = set_marks(&self.marks);
        let payload = spare.get_mut(FRAME_HEADER_LEN..).ok_or(WriteError::TooLarge)?;
        let n = encode_manifest(payload, marks, live).map_err(|_| WriteError::TooLarge)?;
        self.append_raw(spare, n, EntryKind::Manifest, 0)?;
        self.marks_dirty = false;
        self.manifest_owed = false;
        Ok(())
    }

    /// The sync that would make everything appended so far durable, or
    /// `None` if it is (or the journal failed closed). Only the newest
    /// segment can hold unsynced entries: [`roll`](Self::roll) syncs a
    /// segment before it starts the next one.
    pub(crate) fn sync_request(&self) -> Option<SyncRequest> {
        let appended = self.appended_seq();
        if self.failed.is_some() || appended <= self.synced_seq {
            return None;
        }
        let cur = self.segments.last()?;
        Some(SyncRequest::new(cur.id, cur.len, appended))
    }

    /// Records the result of the sync `request` asked for: its entries are
    /// durable, or (after an I/O error) the journal fails closed, as a
    /// failed fsync may have dropped dirty pages.
    pub(crate) fn synced(
        &mut self,
        request: SyncRequest,
        result: Result<(), S::Error>,
    ) -> Result<(), WriteError<S::Error>> {
        debug_assert!(request.seq() <= self.appended_seq(), "a sync past the log's end");
        if let Err(e) = result {
            self.failed = Some(StorageErrorKind::FailedClosed);
            return Err(WriteError::Storage(e));
        }
        self.check_open()?;
        // Requests may be answered out of order (a later one ran first).
        self.synced_seq = self.synced_seq.max(request.seq());
        Ok(())
    }

    /// Makes everything appended so far durable, with one `Storage::sync`.
    pub(crate) fn sync(&mut self) -> Result<(), WriteError<S::Error>> {
        self.check_open()?;
        let Some(request) = self.sync_request() else {
            return Ok(());
        };
        let result = self.storage.sync(request.segment());
        self.synced(request, result)
    }

    /// Writes the meta slot: the high-water mark (what is synced now) and
    /// the seq reservation.
    pub(crate) fn write_meta(&mut self) -> Result<(), WriteError<S::Error>> {
        self.check_open()?;
        let (segment, chain) = self
            .segments
            .iter()
            .rev()
            .find(|s| s.contains(self.synced_seq))
            .map_or((0, 0), |s| (s.id, chain_of(s, self.synced_seq)));
        let generation = self.meta_generation + 1;
        let slot = MetaSlot {
            lanes: self.lanes_on_disk,
            journal: self.id,
            generation,
            durable_seq: self.synced_seq,
            segment,
            chain,
            reserved_seq: self.reserved_seq,
        };
        if let Err(e) = self.storage.write_meta((generation % 2) as usize, &slot.encode()) {
            return Err(self.fail(e));
        }
        self.meta_generation = generation;
        self.meta_durable = self.synced_seq;
        Ok(())
    }

    /// Makes sure ids up to `seq` are covered by a durable reservation.
    pub(crate) fn reserve(&mut self, seq: Seq) -> Result<(), WriteError<S::Error>> {
        if seq <= self.reserved_seq {
            return Ok(());
        }
        let previous = self.reserved_seq;
        self.reserved_seq = seq + self.limits.reserve_block;
        self.write_meta().inspect_err(|_| self.reserved_seq = previous)
    }

    /// Journals the lane watermarks if they moved.
    pub(crate) fn flush_marks(
        &mut self,
        frame: &mut [u8],
        spare: &mut [u8],
    ) -> Result<(), WriteError<S::Error>> {
        if !self.marks_dirty {
            return Ok(());
        }
        let marks = set_marks(&self.marks);
        let payload = frame.get_mut(FRAME_HEADER_LEN..).ok_or(WriteError::TooLarge)?;
        let n = encode_watermarks(payload, marks).map_err(|_| WriteError::TooLarge)?;
        self.append(frame, spare, n, EntryKind::Confirm, 0)?;
        self.marks_dirty = false;
        Ok(())
    }

    /// True if nothing in this (sealed) segment is needed any more.
    fn removable(&self, index: usize) -> bool {
        let seg = &self.segments[index];
        if index + 1 == self.segments.len() || seg.dl_live > 0 {
            return false;
        }
        let messages_done = seg
            .lane_max
            .iter()
            .zip(self.marks.iter())
            .all(|(max, mark)| max <= mark);
        let unpinned = match seg.resolve_pin {
            None => true,
            Some(pin) => !self
                .segments
                .iter()
                .any(|s| s.id <= pin && s.dl_written > 0 && s.id != seg.id),
        };
        messages_done && unpinned
    }

    /// Deletes every sealed segment that is no longer needed: journals the
    /// watermarks and a `SegmentRemoved` entry for each, syncs, then removes
    /// the files (damaged ones go to quarantine). Returns how many went.
    pub(crate) fn collect(
        &mut self,
        frame: &mut [u8],
        spare: &mut [u8],
    ) -> Result<usize, WriteError<S::Error>> {
        let mut doomed: heapless::Vec<SegmentId, SEGS> = heapless::Vec::new();
        for i in 0..self.segments.len() {
            if self.removable(i) {
                let _ = doomed.push(self.segments[i].id);
            }
        }
        if doomed.is_empty() {
            return Ok(0);
        }
        self.flush_marks(frame, spare)?;
        for id in &doomed {
            let payload = frame.get_mut(FRAME_HEADER_LEN..).ok_or(WriteError::TooLarge)?;
            let n = {
                let mut w = Writer::new(payload);
                w.u64(*id).map_err(|_| WriteError::TooLarge)?;
                w.len()
            };
            self.append(frame, spare, n, EntryKind::SegmentRemoved, 0)?;
            if let Some(seg) = self.segments.iter_mut().find(|s| s.id == *id) {
                seg.removing = true;
            }
        }
        self.sync()?;
        for id in &doomed {
            let Some(index) = self.segments.iter().position(|s| s.id == *id) else {
                continue;
            };
            let damaged = self.segments[index].damaged;
            let result = if damaged {
                self.storage.quarantine(*id)
            } else {
                self.storage.remove(*id)
            };
            if let Err(e) = result {
                return Err(self.fail(e));
            }
            let seg = self.segments.remove(index);
            self.bytes = self.bytes.saturating_sub(seg.len);
            self.reader.invalidate();
        }
        Ok(doomed.len())
    }

    /// The storage.
    pub(crate) fn storage(&self) -> &S {
        &self.storage
    }

    /// The storage, mutably (reads that bypass the chunk cache, syncs).
    pub(crate) fn storage_mut(&mut self) -> &mut S {
        &mut self.storage
    }

    /// Gives the storage back (the journal is closed).
    pub(crate) fn into_storage(self) -> S {
        self.storage
    }

    /// The storage and the chunk reader, for reads outside the frame cache
    /// of [`read`](Self::read) (scans that resynchronise after damage).
    pub(crate) fn reader_parts(&mut self) -> (&mut ChunkReader, &mut S) {
        (&mut self.reader, &mut self.storage)
    }

    /// Reads the frame at `pos` into `cache` (through the chunk cache).
    /// A frame recovery did not take into the log (a stale copy, bytes of
    /// a region it skipped) reads as damage.
    pub(crate) fn read(&mut self, cache: &mut [u8], pos: Position) -> Result<Read, S::Error> {
        // Read even so: the reader learns the segment's length, which a
        // resync from here needs.
        let read = self
            .reader
            .frame(&mut self.storage, cache, pos.segment, pos.offset)?;
        if self.skips.contains(pos.segment, pos.offset) {
            return Ok(match read {
                Read::End => Read::End,
                _ => Read::Bad,
            });
        }
        Ok(read)
    }

    /// Copies the `out.len()` bytes at `pos` into `out`, unchecked: out of
    /// the chunk cache if it holds them, else with one read of exactly
    /// those bytes (see [`ChunkReader::copy`](reader::ChunkReader::copy)).
    /// Returns how many, fewer if the segment ends first.
    pub(crate) fn copy(&mut self, cache: &[u8], pos: Position, out: &mut [u8]) -> Result<usize, S::Error> {
        self.reader
            .copy(&mut self.storage, cache, pos.segment, pos.offset, out)
    }

    /// The header of the frame at `pos` and the offset after it, payload
    /// unchecked; `None` unless the next frame chains to it (see
    /// [`ChunkReader::skim`](reader::ChunkReader::skim)).
    pub(crate) fn skim(
        &mut self,
        cache: &mut [u8],
        pos: Position,
    ) -> Result<Option<(format::FrameHeader, u64)>, S::Error> {
        if self.skips.contains(pos.segment, pos.offset) {
            return Ok(None);
        }
        self.reader
            .skim(&mut self.storage, cache, pos.segment, pos.offset)
    }
}

/// The lanes whose watermark is set, as (lane, watermark).
fn set_marks(marks: &[Seq]) -> impl Iterator<Item = (u16, Seq)> + Clone + '_ {
    marks
        .iter()
        .enumerate()
        .filter(|(_, m)| **m > 0)
        .map(|(l, m)| (l as u16, *m))
}

/// The chain value recorded in the meta slot for `seq`: only the last
/// entry's checksum is kept in memory, so an older synced seq records 0.
fn chain_of<const LANES: usize>(seg: &SegmentInfo<LANES>, seq: Seq) -> u32 {
    if seg.last_seq == seq { seg.last_crc } else { 0 }
}
