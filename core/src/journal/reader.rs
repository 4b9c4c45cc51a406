//! Reading frames back from a segment.
//!
//! Passes that read the journal in order — recovery (it must reach at
//! least 1 GB/s), indexing, refilling lane windows — parse frames out of one
//! large chunk filled by few big `read` calls rather than two small reads
//! per entry ([`ChunkReader`]).
//!
//! A batch reads the frames of one lane, which are spread over every other
//! lane's: a chunk read at each of them copied about as many bytes as there
//! are busy lanes times those it used. A batch knows each frame's position
//! and length from its lane window, so it reads exactly those bytes
//! ([`ChunkReader::copy`]) and checks them where they land ([`check_frame`]),
//! with the same checks as a chunked read.

use core::ops::Range;

use super::format::{FRAME_ALIGN, FRAME_HEADER_LEN, FrameHeader, frame_len};
use crate::storage::{SegmentId, Storage};

/// A frame found at a position.
#[derive(Clone, Debug)]
pub(crate) struct Frame {
    /// The parsed header.
    pub header: FrameHeader,
    /// Where the payload sits in the chunk buffer.
    pub payload: Range<usize>,
    /// Offset of the next frame in the segment.
    pub next: u64,
}

/// What is at a position in a segment.
#[derive(Clone, Debug)]
pub(crate) enum Read {
    /// A frame whose checksum is good.
    Frame(Frame),
    /// The segment ends exactly here.
    End,
    /// Bytes that are not a valid frame (torn, corrupt, or garbage).
    Bad,
}

/// Checks the frame at the start of `bytes`: all of it is there, its
/// header and payload match the header's checksum, its reserved byte and
/// its padding are zero. Returns its header and where its payload is in
/// `bytes`; `None` if these bytes are not a valid frame (torn, damaged, or
/// not a frame at all). The caller checks that it is the frame it expects
/// (its seq, its length).
pub(crate) fn check_frame(bytes: &[u8]) -> Option<(FrameHeader, Range<usize>)> {
    let header_bytes = bytes.first_chunk::<FRAME_HEADER_LEN>()?;
    let header = FrameHeader::parse(header_bytes);
    let len = header.len as usize;
    if len > bytes.len() {
        return None;
    }
    let payload = FRAME_HEADER_LEN..FRAME_HEADER_LEN + len;
    let frame = bytes.get(..frame_len(len))?;
    // Padding is not checksummed, so it must be zero: a flipped bit
    // anywhere in a frame is then detected.
    let padding = &frame[payload.end..];
    if !header.verify(header_bytes, &frame[payload.clone()]) || padding.iter().any(|b| *b != 0) {
        return None;
    }
    Some((header, payload))
}

/// Caches one window of one segment in a caller-provided buffer.
pub(crate) struct ChunkReader {
    segment: Option<SegmentId>,
    start: u64,
    len: usize,
    /// Length of the segment when the chunk was read.
    pub segment_len: u64,
}

impl ChunkReader {
    pub(crate) fn new() -> Self {
        ChunkReader {
            segment: None,
            start: 0,
            len: 0,
            segment_len: 0,
        }
    }

    /// Forgets the cached chunk (after the segment changed underneath).
    pub(crate) fn invalidate(&mut self) {
        self.segment = None;
        self.len = 0;
    }

    /// Makes `[at, at + want)` of `segment` available in `buf`, reading a
    /// chunk as large as `buf` starting at `at` if it is not cached.
    /// Returns the range in `buf`, shorter if the segment ends first.
    fn ensure<S: Storage>(
        &mut self,
        storage: &mut S,
        buf: &mut [u8],
        segment: SegmentId,
        at: u64,
        want: usize,
    ) -> Result<Range<usize>, S::Error> {
        let cached = self.segment == Some(segment)
            && at >= self.start
            && at + want as u64 <= self.start + self.len as u64;
        if !cached {
            self.segment_len = storage.len(segment)?;
            let n = storage.read(segment, at, buf)?;
            self.segment = Some(segment);
            self.start = at;
            self.len = n;
        }
        let from = (at - self.start) as usize;
        let to = (from + want).min(self.len);
        Ok(from..to.max(from))
    }

    /// Reads the frame at `at` in `segment` and checks its checksum.
    /// A frame longer than `buf` is `Bad`: no valid frame can be, since the
    /// writer refuses entries that do not fit the same buffer.
    pub(crate) fn frame<S: Storage>(
        &mut self,
        storage: &mut S,
        buf: &mut [u8],
        segment: SegmentId,
        at: u64,
    ) -> Result<Read, S::Error> {
        let head = self.ensure(storage, buf, segment, at, FRAME_HEADER_LEN)?;
        if head.is_empty() && at >= self.segment_len {
            return Ok(Read::End);
        }
        if head.len() < FRAME_HEADER_LEN {
            return Ok(Read::Bad);
        }
        let mut header_bytes = [0u8; FRAME_HEADER_LEN];
        header_bytes.copy_from_slice(&buf[head.clone()]);
        let len = FrameHeader::parse(&header_bytes).len as usize;
        if len > buf.len() || frame_len(len) > buf.len() {
            return Ok(Read::Bad);
        }
        let total = frame_len(len);
        let whole = self.ensure(storage, buf, segment, at, total)?;
        let Some((header, payload)) = check_frame(&buf[whole.clone()]) else {
            return Ok(Read::Bad);
        };
        Ok(Read::Frame(Frame {
            header,
            payload: whole.start + payload.start..whole.start + payload.end,
            next: at + total as u64,
        }))
    }

    /// Copies `out.len()` bytes at `at` in `segment` into `out`: out of the
    /// cached chunk if it holds them all, else with one `read` of exactly
    /// those bytes, which leaves the cached chunk as it was (a refill pass
    /// goes on using it). Returns how many were copied, fewer if the
    /// segment ends first. Nothing is checked: see [`check_frame`].
    pub(crate) fn copy<S: Storage>(
        &mut self,
        storage: &mut S,
        buf: &[u8],
        segment: SegmentId,
        at: u64,
        out: &mut [u8],
    ) -> Result<usize, S::Error> {
        let end = at.saturating_add(out.len() as u64);
        if self.segment == Some(segment) && at >= self.start && end <= self.start + self.len as u64 {
            let from = (at - self.start) as usize;
            out.copy_from_slice(&buf[from..from + out.len()]);
            return Ok(out.len());
        }
        storage.read(segment, at, out)
    }

    /// The header of the frame at `at` and the offset of the frame after
    /// it, *without* checking this frame's payload checksum — for passes
    /// that only step over frames they do not use. The length that leads
    /// to the next frame is trusted only if that frame's header names this
    /// frame's checksum as its chain (every entry chains to the one before
    /// it), so a damaged length is noticed here, where a full [`frame`]
    /// read would notice it. `None` when that cannot be shown (the last
    /// frame written so far, a chain mismatch, a frame longer than `buf`):
    /// read it with [`frame`] then.
    ///
    /// [`frame`]: Self::frame
    pub(crate) fn skim<S: Storage>(
        &mut self,
        storage: &mut S,
        buf: &mut [u8],
        segment: SegmentId,
        at: u64,
    ) -> Result<Option<(FrameHeader, u64)>, S::Error> {
        let Some(header) = self.header(storage, buf, segment, at)? else {
            return Ok(None);
        };
        let len = header.len as usize;
        if len > buf.len() || frame_len(len) > buf.len() {
            return Ok(None);
        }
        let total = frame_len(len);
        let next = at + total as u64;
        match self.header(storage, buf, segment, next)? {
            Some(after) if after.chain == header.crc => Ok(Some((header, next))),
            _ => Ok(None),
        }
    }

    /// The parsed header at `at`, if 24 bytes are there.
    fn header<S: Storage>(
        &mut self,
        storage: &mut S,
        buf: &mut [u8],
        segment: SegmentId,
        at: u64,
    ) -> Result<Option<FrameHeader>, S::Error> {
        let head = self.ensure(storage, buf, segment, at, FRAME_HEADER_LEN)?;
        let Some(bytes) = buf
            .get(head)
            .and_then(|b| <&[u8; FRAME_HEADER_LEN]>::try_from(b).ok())
        else {
            return Ok(None);
        };
        Ok(Some(FrameHeader::parse(bytes)))
    }

    /// Searches forward from `from` (exclusive) for the next valid frame
    /// whose seq is above `after`, returning its offset.
    pub(crate) fn resync<S: Storage>(
        &mut self,
        storage: &mut S,
        buf: &mut [u8],
        segment: SegmentId,
        from: u64,
        after: u64,
    ) -> Result<Option<u64>, S::Error> {
        let mut at = from + FRAME_ALIGN as u64;
        loop {
            if at + FRAME_HEADER_LEN as u64 > self.segment_len {
                return Ok(None);
            }
            match self.frame(storage, buf, segment, at)? {
                Read::Frame(f) if f.header.seq > after => return Ok(Some(at)),
                Read::End => return Ok(None),
                _ => at += FRAME_ALIGN as u64,
            }
        }
    }
}
