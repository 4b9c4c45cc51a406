//! The journal's byte layout: segment header, entry frame and meta slot.
//!
//! This file and `docs/journal-format.md` specify the format twice, on
//! purpose; change both or neither. All integers are little-endian. Offsets
//! are derived from each other so a field cannot silently overlap another.
//! Every `crc32c` below is CRC-32C, computed by [`checksum`](super::checksum).
//!
//! Frames check themselves (their seq and the chain link them to their
//! predecessor), so recovery can read them behind a damaged segment header.
//! The newest segment is never deleted: with a nonzero durable seq in the
//! meta slot, a journal with no segment at all lost them (see recovery).
//!
//! ```text
//! Segment file
//! +--------------------+------------+------------+-----+
//! | SegmentHeader (64) | Entry      | Entry      | ... |
//! +--------------------+------------+------------+-----+
//!
//! SegmentHeader                      Entry frame (8-byte aligned)
//!  0  8  magic "STFSTSEG"             0  4  payload length L
//!  8  2  format version (1)           4  1  kind (see EntryKind)
//! 10  2  lanes                        5  1  reserved, 0
//! 12  4  reserved, 0                  6  2  lane (messages), else 0
//! 16  8  journal id                   8  8  sequence number
//! 24  8  segment id                  16  4  chain: crc of the previous entry
//! 32  8  prev seq (last seq before)  20  4  crc32c(bytes 0..20 ++ payload)
//! 40  4  prev chain (its crc)        24  L  payload
//! 44 16  reserved, 0                 24+L   zero padding to a multiple of 8
//! 60  4  crc32c(bytes 0..60)
//!
//! MetaSlot (two of them, written alternately)
//!  0  8  magic "STFSTHWM"            32  8  durable seq (high-water mark)
//!  8  2  format version (1)          40  8  segment holding it
//! 10  2  lanes                       48  4  chain (crc of that entry)
//! 12  4  reserved, 0                 52  8  reserved seq (ids up to it may
//! 16  8  journal id                          have left this machine)
//! 24  8  generation (higher wins)    60  4  crc32c(bytes 0..60)
//! ```

use super::checksum::{Crc32c, crc32c};
use crate::message::Seq;
use crate::storage::{META_SLOT_LEN, SegmentId};

/// Format version written by this build; a higher one on disk is refused.
pub const VERSION: u16 = 1;

/// Segment header magic.
pub const SEGMENT_MAGIC: [u8; 8] = *b"STFSTSEG";
/// Meta slot magic.
pub const META_MAGIC: [u8; 8] = *b"STFSTHWM";

// Segment header offsets.
const SH_MAGIC: usize = 0;
const SH_VERSION: usize = SH_MAGIC + 8;
const SH_LANES: usize = SH_VERSION + 2;
const SH_RESERVED0: usize = SH_LANES + 2;
const SH_JOURNAL: usize = SH_RESERVED0 + 4;
const SH_SEGMENT: usize = SH_JOURNAL + 8;
const SH_PREV_SEQ: usize = SH_SEGMENT + 8;
const SH_PREV_CHAIN: usize = SH_PREV_SEQ + 8;
const SH_RESERVED1: usize = SH_PREV_CHAIN + 4;
const SH_CRC: usize = SH_RESERVED1 + 16;
/// Bytes in a segment header.
pub const SEGMENT_HEADER_LEN: usize = SH_CRC + 4;

// Entry frame offsets.
const FR_LEN: usize = 0;
const FR_KIND: usize = FR_LEN + 4;
const FR_RESERVED: usize = FR_KIND + 1;
const FR_LANE: usize = FR_RESERVED + 1;
const FR_SEQ: usize = FR_LANE + 2;
const FR_CHAIN: usize = FR_SEQ + 8;
const FR_CRC: usize = FR_CHAIN + 4;
/// Bytes in an entry frame header.
pub const FRAME_HEADER_LEN: usize = FR_CRC + 4;
/// Frames start at multiples of this.
pub const FRAME_ALIGN: usize = 8;

// Meta slot offsets.
const MS_MAGIC: usize = 0;
const MS_VERSION: usize = MS_MAGIC + 8;
const MS_LANES: usize = MS_VERSION + 2;
const MS_RESERVED0: usize = MS_LANES + 2;
const MS_JOURNAL: usize = MS_RESERVED0 + 4;
const MS_GENERATION: usize = MS_JOURNAL + 8;
const MS_DURABLE_SEQ: usize = MS_GENERATION + 8;
const MS_SEGMENT: usize = MS_DURABLE_SEQ + 8;
const MS_CHAIN: usize = MS_SEGMENT + 8;
const MS_RESERVED_SEQ: usize = MS_CHAIN + 4;
const MS_CRC: usize = MS_RESERVED_SEQ + 8;
const _: () = assert!(SEGMENT_HEADER_LEN == 64);
const _: () = assert!(FRAME_HEADER_LEN == 24);
const _: () = assert!(MS_CRC + 4 == META_SLOT_LEN);

/// What an entry is.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
#[repr(u8)]
pub enum EntryKind {
    /// A postcard-encoded [`Record`](crate::Record).
    Message = 1,
    /// Lane watermarks advanced (confirmed or dead-lettered prefixes).
    Confirm = 2,
    /// A terminal failure: reason and a copy of the record.
    DeadLetter = 3,
    /// A dead letter was discarded or re-driven.
    Resolve = 4,
    /// A segment was deleted on purpose.
    SegmentRemoved = 5,
    /// First entry of every segment: live segments and lane watermarks.
    Manifest = 6,
}

impl EntryKind {
    /// Decodes a kind byte.
    pub fn from_u8(byte: u8) -> Option<EntryKind> {
        Some(match byte {
            1 => EntryKind::Message,
            2 => EntryKind::Confirm,
            3 => EntryKind::DeadLetter,
            4 => EntryKind::Resolve,
            5 => EntryKind::SegmentRemoved,
            6 => EntryKind::Manifest,
            _ => return None,
        })
    }
}

fn le_u16(b: &[u8], at: usize) -> u16 {
    u16::from_le_bytes([b[at], b[at + 1]])
}
fn le_u32(b: &[u8], at: usize) -> u32 {
    let mut a = [0; 4];
    a.copy_from_slice(&b[at..at + 4]);
    u32::from_le_bytes(a)
}
fn le_u64(b: &[u8], at: usize) -> u64 {
    let mut a = [0; 8];
    a.copy_from_slice(&b[at..at + 8]);
    u64::from_le_bytes(a)
}

/// The header at the start of every segment.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct SegmentHeader {
    /// Lanes the journal was created with.
    pub lanes: u16,
    /// The journal this segment belongs to.
    pub journal: u64,
    /// This segment's id (must match its name in storage).
    pub segment: SegmentId,
    /// Sequence number of the last entry written before this segment.
    pub prev_seq: Seq,
    /// Checksum of that entry, to which this segment's first entry chains.
    pub prev_chain: u32,
}

/// Why a segment header was rejected.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum HeaderError {
    /// Shorter than a header.
    Short,
    /// Not a steadfast segment (wrong magic).
    Magic,
    /// Checksum mismatch.
    Checksum,
    /// Written by a newer format version.
    Version(u16),
}

impl SegmentHeader {
    /// Encodes the header.
    pub fn encode(&self) -> [u8; SEGMENT_HEADER_LEN] {
        let mut b = [0u8; SEGMENT_HEADER_LEN];
        b[SH_MAGIC..SH_MAGIC + 8].copy_from_slice(&SEGMENT_MAGIC);
        b[SH_VERSION..SH_VERSION + 2].copy_from_slice(&VERSION.to_le_bytes());
        b[SH_LANES..SH_LANES + 2].copy_from_slice(&self.lanes.to_le_bytes());
        b[SH_JOURNAL..SH_JOURNAL + 8].copy_from_slice(&self.journal.to_le_bytes());
        b[SH_SEGMENT..SH_SEGMENT + 8].copy_from_slice(&self.segment.to_le_bytes());
        b[SH_PREV_SEQ..SH_PREV_SEQ + 8].copy_from_slice(&self.prev_seq.to_le_bytes());
        b[SH_PREV_CHAIN..SH_PREV_CHAIN + 4].copy_from_slice(&self.prev_chain.to_le_bytes());
        let crc = crc32c(&b[..SH_CRC]);
        b[SH_CRC..].copy_from_slice(&crc.to_le_bytes());
        b
    }

    /// Decodes and checks a header.
    pub fn decode(b: &[u8]) -> Result<SegmentHeader, HeaderError> {
        if b.len() < SEGMENT_HEADER_LEN {
            return Err(HeaderError::Short);
        }
        if b[SH_MAGIC..SH_MAGIC + 8] != SEGMENT_MAGIC {
            return Err(HeaderError::Magic);
        }
        if crc32c(&b[..SH_CRC]) != le_u32(b, SH_CRC) {
            return Err(HeaderError::Checksum);
        }
        let version = le_u16(b, SH_VERSION);
        if version > VERSION {
            return Err(HeaderError::Version(version));
        }
        Ok(SegmentHeader {
            lanes: le_u16(b, SH_LANES),
            journal: le_u64(b, SH_JOURNAL),
            segment: le_u64(b, SH_SEGMENT),
            prev_seq: le_u64(b, SH_PREV_SEQ),
            prev_chain: le_u32(b, SH_PREV_CHAIN),
        })
    }
}

/// The fixed part of an entry frame.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct FrameHeader {
    /// Payload length in bytes.
    pub len: u32,
    /// Raw kind byte (checked by [`EntryKind::from_u8`] after the crc).
    pub kind: u8,
    /// Lane of a message entry.
    pub lane: u16,
    /// Sequence number.
    pub seq: Seq,
    /// Checksum of the previous entry.
    pub chain: u32,
    /// Checksum of this entry.
    pub crc: u32,
}

impl FrameHeader {
    /// Parses the 24 header bytes (no checks: see [`FrameHeader::verify`]).
    pub fn parse(b: &[u8; FRAME_HEADER_LEN]) -> FrameHeader {
        FrameHeader {
            len: le_u32(b, FR_LEN),
            kind: b[FR_KIND],
            lane: le_u16(b, FR_LANE),
            seq: le_u64(b, FR_SEQ),
            chain: le_u32(b, FR_CHAIN),
            crc: le_u32(b, FR_CRC),
        }
    }

    /// Whether `payload` matches this header's checksum.
    pub fn verify(&self, header: &[u8; FRAME_HEADER_LEN], payload: &[u8]) -> bool {
        let mut digest = Crc32c::new();
        digest.update(&header[..FR_CRC]);
        digest.update(payload);
        digest.finalize() == self.crc && header[FR_RESERVED] == 0
    }

    /// Bytes the whole frame occupies, padding included.
    pub fn frame_len(&self) -> u64 {
        frame_len(self.len as usize) as u64
    }
}

/// Bytes a frame with a `payload_len` payload occupies, padding included.
pub const fn frame_len(payload_len: usize) -> usize {
    (FRAME_HEADER_LEN + payload_len).div_ceil(FRAME_ALIGN) * FRAME_ALIGN
}

/// Writes a frame header for `payload` (already in place at
/// `frame[FRAME_HEADER_LEN..]`), zeroes the padding, and returns the frame's
/// length and crc. `frame` must be at least `frame_len(payload_len)` long.
pub fn seal_frame(
    frame: &mut [u8],
    payload_len: usize,
    kind: EntryKind,
    lane: u16,
    seq: Seq,
    chain: u32,
) -> (usize, u32) {
    let total = frame_len(payload_len);
    frame[FR_LEN..FR_LEN + 4].copy_from_slice(&(payload_len as u32).to_le_bytes());
    frame[FR_KIND] = kind as u8;
    frame[FR_RESERVED] = 0;
    frame[FR_LANE..FR_LANE + 2].copy_from_slice(&lane.to_le_bytes());
    frame[FR_SEQ..FR_SEQ + 8].copy_from_slice(&seq.to_le_bytes());
    frame[FR_CHAIN..FR_CHAIN + 4].copy_from_slice(&chain.to_le_bytes());
    let mut digest = Crc32c::new();
    digest.update(&frame[..FR_CRC]);
    digest.update(&frame[FRAME_HEADER_LEN..FRAME_HEADER_LEN + payload_len]);
    let crc = digest.finalize();
    frame[FR_CRC..FR_CRC + 4].copy_from_slice(&crc.to_le_bytes());
    frame[FRAME_HEADER_LEN + payload_len..total].fill(0);
    (total, crc)
}

/// One of the two meta slots: the high-water mark and the seq reservation.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct MetaSlot {
    /// Lanes the journal was created with.
    pub lanes: u16,
    /// The journal's id.
    pub journal: u64,
    /// Higher generation wins between the two slots.
    pub generation: u64,
    /// Every entry up to this seq was synced when the slot was written.
    pub durable_seq: Seq,
    /// Segment holding `durable_seq`.
    pub segment: SegmentId,
    /// Checksum of the entry `durable_seq`.
    pub chain: u32,
    /// Message ids up to this seq may have been handed to a transport;
    /// a restarted journal continues above it so no id is ever reused.
    pub reserved_seq: Seq,
}

impl MetaSlot {
    /// Encodes the slot.
    pub fn encode(&self) -> [u8; META_SLOT_LEN] {
        let mut b = [0u8; META_SLOT_LEN];
        b[MS_MAGIC..MS_MAGIC + 8].copy_from_slice(&META_MAGIC);
        b[MS_VERSION..MS_VERSION + 2].copy_from_slice(&VERSION.to_le_bytes());
        b[MS_LANES..MS_LANES + 2].copy_from_slice(&self.lanes.to_le_bytes());
        b[MS_JOURNAL..MS_JOURNAL + 8].copy_from_slice(&self.journal.to_le_bytes());
        b[MS_GENERATION..MS_GENERATION + 8].copy_from_slice(&self.generation.to_le_bytes());
        b[MS_DURABLE_SEQ..MS_DURABLE_SEQ + 8].copy_from_slice(&self.durable_seq.to_le_bytes());
        b[MS_SEGMENT..MS_SEGMENT + 8].copy_from_slice(&self.segment.to_le_bytes());
        b[MS_CHAIN..MS_CHAIN + 4].copy_from_slice(&self.chain.to_le_bytes());
        b[MS_RESERVED_SEQ..MS_RESERVED_SEQ + 8].copy_from_slice(&self.reserved_seq.to_le_bytes());
        let crc = crc32c(&b[..MS_CRC]);
        b[MS_CRC..].copy_from_slice(&crc.to_le_bytes());
        b
    }

    /// Decodes a slot; `Err` carries the newer version when that is the problem.
    pub fn decode(b: &[u8; META_SLOT_LEN]) -> Result<MetaSlot, HeaderError> {
        if b[MS_MAGIC..MS_MAGIC + 8] != META_MAGIC {
            return Err(HeaderError::Magic);
        }
        if crc32c(&b[..MS_CRC]) != le_u32(b, MS_CRC) {
            return Err(HeaderError::Checksum);
        }
        let version = le_u16(b, MS_VERSION);
        if version > VERSION {
            return Err(HeaderError::Version(version));
        }
        Ok(MetaSlot {
            lanes: le_u16(b, MS_LANES),
            journal: le_u64(b, MS_JOURNAL),
            generation: le_u64(b, MS_GENERATION),
            durable_seq: le_u64(b, MS_DURABLE_SEQ),
            segment: le_u64(b, MS_SEGMENT),
            chain: le_u32(b, MS_CHAIN),
            reserved_seq: le_u64(b, MS_RESERVED_SEQ),
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn segment_header_round_trips_and_detects_damage() {
        let h = SegmentHeader {
            lanes: 8,
            journal: 0xdead_beef,
            segment: 3,
            prev_seq: 99,
            prev_chain: 0x1234_5678,
        };
        let mut b = h.encode();
        assert_eq!(SegmentHeader::decode(&b), Ok(h));
        b[20] ^= 1;
        assert_eq!(SegmentHeader::decode(&b), Err(HeaderError::Checksum));
        assert_eq!(SegmentHeader::decode(&b[..10]), Err(HeaderError::Short));
        assert_eq!(SegmentHeader::decode(&[0u8; 64]), Err(HeaderError::Magic));
    }

    #[test]
    fn frame_seals_and_verifies() {
        let mut frame = [0xffu8; 64];
        frame[FRAME_HEADER_LEN..FRAME_HEADER_LEN + 5].copy_from_slice(b"hello");
        let (len, crc) = seal_frame(&mut frame, 5, EntryKind::Message, 2, 7, 11);
        assert_eq!(len, 32);
        let header: [u8; FRAME_HEADER_LEN] = frame[..FRAME_HEADER_LEN].try_into().unwrap();
        let parsed = FrameHeader::parse(&header);
        assert_eq!(
            (parsed.len, parsed.lane, parsed.seq, parsed.chain, parsed.crc),
            (5, 2, 7, 11, crc)
        );
        assert!(parsed.verify(&header, b"hello"));
        assert!(!parsed.verify(&header, b"hellp"));
        assert_eq!(&frame[29..32], &[0, 0, 0]);
    }

    #[test]
    fn meta_slot_round_trips() {
        let m = MetaSlot {
            lanes: 4,
            journal: 1,
            generation: 2,
            durable_seq: 3,
            segment: 4,
            chain: 5,
            reserved_seq: 6,
        };
        let mut b = m.encode();
        assert_eq!(MetaSlot::decode(&b), Ok(m));
        b[33] ^= 0x80;
        assert_eq!(MetaSlot::decode(&b), Err(HeaderError::Checksum));
    }
}
