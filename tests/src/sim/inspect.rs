//! Reading the simulated disk the way an investigator would: independently
//! of the core's reader, with only the published byte layout.
//!
//! The oracle needs ground truth the producer cannot fake: which entries are
//! physically on the disk, where each one sits (so an injected corruption can
//! be mapped to the sequence numbers it destroyed), and the durable
//! high-water mark in the meta slots.

use std::collections::BTreeMap;

use steadfast_core::journal::entry::{DeadLetterEntry, Reader, decode_manifest, decode_watermarks};
use steadfast_core::journal::format::{
    EntryKind, FRAME_ALIGN, FRAME_HEADER_LEN, FrameHeader, MetaSlot, SEGMENT_HEADER_LEN, SegmentHeader,
};
use steadfast_core::{Record, SegmentId, Seq};

use super::disk::Disk;
use super::workload::uid_of;

/// One valid frame found in a segment.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct FrameLoc {
    /// Byte offset of the frame.
    pub offset: usize,
    /// End of the bytes its checksum covers (header and payload).
    pub checked_end: usize,
    /// End of the frame, padding included.
    pub end: usize,
    /// Its seq.
    pub seq: Seq,
    /// Raw kind byte.
    pub kind: u8,
    /// The simulated message it holds (messages and dead letters).
    pub uid: Option<u64>,
    /// For a dead letter: the code it carries and whether its reason says
    /// "delivery timeout".
    pub dead_letter: Option<(i32, bool)>,
    /// For a `SegmentRemoved` entry: the segment it removed.
    pub removed: Option<u64>,
    /// Its lane (messages).
    pub lane: u16,
    /// For `Confirm` and `Manifest` entries: the watermarks they record.
    pub marks: Vec<(u16, Seq)>,
}

/// What a segment holds, read from its bytes.
#[derive(Clone, Debug, Default)]
pub struct SegView {
    /// The header, if it decodes.
    pub header: Option<SegmentHeader>,
    /// Valid frames from the start, up to the first bad one.
    pub frames: Vec<FrameLoc>,
}

impl SegView {
    /// Whether recovery reads this segment: its header is intact, or the
    /// frame right behind it is (a salvageable header).
    pub fn readable(&self) -> bool {
        self.header.is_some()
            || self
                .frames
                .first()
                .is_some_and(|f| f.offset == SEGMENT_HEADER_LEN)
    }

    /// The frame containing byte `at`, if any.
    pub fn frame_at(&self, at: usize) -> Option<&FrameLoc> {
        self.frames.iter().find(|f| f.offset <= at && at < f.end)
    }
}

/// The valid frame at `at`, if there is one.
fn frame_at(data: &[u8], at: usize) -> Option<FrameLoc> {
    let hb: [u8; FRAME_HEADER_LEN] = data.get(at..at + FRAME_HEADER_LEN)?.try_into().ok()?;
    let h = FrameHeader::parse(&hb);
    let total = h.frame_len() as usize;
    let checked_end = at + FRAME_HEADER_LEN + h.len as usize;
    if total > MAX_FRAME || at + total > data.len() {
        return None;
    }
    let payload = &data[at + FRAME_HEADER_LEN..checked_end];
    // Padding is not checksummed but must be zero (as the core's reader demands).
    if !h.verify(&hb, payload) || data[checked_end..at + total].iter().any(|b| *b != 0) {
        return None;
    }
    let mut dead_letter = None;
    let uid = match EntryKind::from_u8(h.kind) {
        Some(EntryKind::Message) => Record::decode(payload)
            .ok()
            .and_then(|r| r.message.value.and_then(uid_of)),
        Some(EntryKind::DeadLetter) => DeadLetterEntry::decode(payload).ok().and_then(|d| {
            dead_letter = Some((d.code, d.reason.starts_with("delivery timeout")));
            Record::decode(d.record)
                .ok()
                .and_then(|r| r.message.value.and_then(uid_of))
        }),
        _ => None,
    };
    let mut marks = Vec::new();
    match EntryKind::from_u8(h.kind) {
        Some(EntryKind::Confirm) => {
            let _ = decode_watermarks(&mut Reader::new(payload), |l, m| marks.push((l, m)));
        }
        Some(EntryKind::Manifest) => {
            let _ = decode_manifest(payload, |l, m| marks.push((l, m)), |_| {});
        }
        _ => {}
    }
    let removed = (EntryKind::from_u8(h.kind) == Some(EntryKind::SegmentRemoved))
        .then(|| {
            payload
                .get(..8)
                .and_then(|b| b.try_into().ok())
                .map(u64::from_le_bytes)
        })
        .flatten();
    Some(FrameLoc {
        offset: at,
        checked_end,
        end: at + total,
        seq: h.seq,
        kind: h.kind,
        uid,
        dead_letter,
        removed,
        lane: h.lane,
        marks,
    })
}

/// Largest frame the simulated producer can write (its `max_entry`).
pub const MAX_FRAME: usize = 1024;

/// Parses a segment's bytes. Like recovery, a bad frame is skipped by
/// searching forward (8-byte steps) for the next valid frame with a higher
/// seq: this is what any recovery could keep. Frames check themselves, so
/// they are read behind a damaged header too (recovery salvages them).
pub fn parse_segment(data: &[u8]) -> SegView {
    let header = data
        .get(..SEGMENT_HEADER_LEN)
        .and_then(|h| SegmentHeader::decode(h).ok());
    let mut frames: Vec<FrameLoc> = Vec::new();
    let mut at = SEGMENT_HEADER_LEN;
    while at + FRAME_HEADER_LEN <= data.len() {
        let last = frames.last().map_or(0, |f| f.seq);
        match frame_at(data, at) {
            Some(f) if f.seq > last => {
                at = f.end;
                frames.push(f);
            }
            _ => at += FRAME_ALIGN,
        }
    }
    SegView { header, frames }
}

/// Every live segment of the disk, parsed.
pub fn parse_disk(disk: &Disk) -> BTreeMap<SegmentId, SegView> {
    disk.files
        .iter()
        .map(|(id, f)| (*id, parse_segment(&f.data)))
        .collect()
}

/// The meta slot recovery would trust (valid, highest generation).
pub fn meta(disk: &Disk) -> Option<MetaSlot> {
    disk.meta
        .iter()
        .flatten()
        .filter_map(|b| MetaSlot::decode(b).ok())
        .max_by_key(|m| m.generation)
}

/// What the journal on disk still owes: the uids of messages past their
/// lane's watermark (to be sent) and of dead letters (kept for the user).
pub fn owed(views: &BTreeMap<SegmentId, SegView>) -> std::collections::BTreeSet<u64> {
    let mut marks: BTreeMap<u16, Seq> = BTreeMap::new();
    for f in views.values().flat_map(|v| v.frames.iter()) {
        for (lane, m) in &f.marks {
            let e = marks.entry(*lane).or_default();
            *e = (*e).max(*m);
        }
    }
    views
        .values()
        .flat_map(|v| v.frames.iter())
        .filter(|f| {
            f.dead_letter.is_some()
                || (f.kind == EntryKind::Message as u8 && f.seq > marks.get(&f.lane).copied().unwrap_or(0))
        })
        .filter_map(|f| f.uid)
        .collect()
}
