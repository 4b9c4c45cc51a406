//! Payloads of the journal's bookkeeping entries (everything but messages).
//!
//! Fixed little-endian layouts, written and read through a bounds-checked
//! cursor so a damaged payload that passed its checksum by chance still
//! decodes to an error, never a panic. Byte maps are in
//! `docs/journal-format.md` under "Entry payloads".

use crate::message::Seq;
use crate::storage::SegmentId;

/// A payload did not have the layout its kind requires.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct PayloadError;

/// Bounds-checked little-endian writer.
pub(crate) struct Writer<'a> {
    buf: &'a mut [u8],
    at: usize,
}

impl<'a> Writer<'a> {
    pub(crate) fn new(buf: &'a mut [u8]) -> Self {
        Writer { buf, at: 0 }
    }
    pub(crate) fn bytes(&mut self, b: &[u8]) -> Result<(), PayloadError> {
        let end = self.at.checked_add(b.len()).ok_or(PayloadError)?;
        self.buf
            .get_mut(self.at..end)
            .ok_or(PayloadError)?
            .copy_from_slice(b);
        self.at = end;
        Ok(())
    }
    pub(crate) fn u8(&mut self, v: u8) -> Result<(), PayloadError> {
        self.bytes(&[v])
    }
    pub(crate) fn u16(&mut self, v: u16) -> Result<(), PayloadError> {
        self.bytes(&v.to_le_bytes())
    }
    pub(crate) fn u32(&mut self, v: u32) -> Result<(), PayloadError> {
        self.bytes(&v.to_le_bytes())
    }
    pub(crate) fn u64(&mut self, v: u64) -> Result<(), PayloadError> {
        self.bytes(&v.to_le_bytes())
    }
    pub(crate) fn len(&self) -> usize {
        self.at
    }
}

/// Bounds-checked little-endian reader over a payload.
pub struct Reader<'a> {
    buf: &'a [u8],
}

impl<'a> Reader<'a> {
    /// A reader over `buf`.
    pub fn new(buf: &'a [u8]) -> Self {
        Reader { buf }
    }
    pub(crate) fn bytes(&mut self, n: usize) -> Result<&'a [u8], PayloadError> {
        if n > self.buf.len() {
            return Err(PayloadError);
        }
        let (head, tail) = self.buf.split_at(n);
        self.buf = tail;
        Ok(head)
    }
    fn array<const N: usize>(&mut self) -> Result<[u8; N], PayloadError> {
        let mut a = [0; N];
        a.copy_from_slice(self.bytes(N)?);
        Ok(a)
    }
    pub(crate) fn u8(&mut self) -> Result<u8, PayloadError> {
        Ok(self.array::<1>()?[0])
    }
    pub(crate) fn u16(&mut self) -> Result<u16, PayloadError> {
        self.array().map(u16::from_le_bytes)
    }
    pub(crate) fn u32(&mut self) -> Result<u32, PayloadError> {
        self.array().map(u32::from_le_bytes)
    }
    pub(crate) fn u64(&mut self) -> Result<u64, PayloadError> {
        self.array().map(u64::from_le_bytes)
    }
    pub(crate) fn rest(self) -> &'a [u8] {
        self.buf
    }
    pub(crate) fn is_empty(&self) -> bool {
        self.buf.is_empty()
    }
}

/// `Confirm` payload: `count: u16`, then `count` × (`lane: u16`, `upto: u64`).
/// Every message of `lane` with a seq ≤ `upto` is done (confirmed or
/// dead-lettered).
pub fn encode_watermarks(
    out: &mut [u8],
    marks: impl Iterator<Item = (u16, Seq)> + Clone,
) -> Result<usize, PayloadError> {
    let count = marks.clone().count();
    let mut w = Writer::new(out);
    w.u16(u16::try_from(count).map_err(|_| PayloadError)?)?;
    for (lane, upto) in marks {
        w.u16(lane)?;
        w.u64(upto)?;
    }
    Ok(w.len())
}

/// Decodes watermarks written by [`encode_watermarks`], calling `each`.
pub fn decode_watermarks(r: &mut Reader<'_>, mut each: impl FnMut(u16, Seq)) -> Result<(), PayloadError> {
    let count = r.u16()?;
    for _ in 0..count {
        let lane = r.u16()?;
        let upto = r.u64()?;
        each(lane, upto);
    }
    Ok(())
}

/// `Manifest` payload: watermarks as in `Confirm`, then `count: u32` and
/// `count` × `segment id: u64` (the older segments live when this segment
/// was created).
pub fn encode_manifest(
    out: &mut [u8],
    marks: impl Iterator<Item = (u16, Seq)> + Clone,
    live: impl Iterator<Item = SegmentId> + Clone,
) -> Result<usize, PayloadError> {
    let n = encode_watermarks(out, marks)?;
    let mut w = Writer::new(&mut out[n..]);
    w.u32(u32::try_from(live.clone().count()).map_err(|_| PayloadError)?)?;
    for id in live {
        w.u64(id)?;
    }
    Ok(n + w.len())
}

/// Decodes a manifest: watermarks through `mark`, live segments through `segment`.
pub fn decode_manifest(
    payload: &[u8],
    mark: impl FnMut(u16, Seq),
    mut segment: impl FnMut(SegmentId),
) -> Result<(), PayloadError> {
    let mut r = Reader::new(payload);
    decode_watermarks(&mut r, mark)?;
    let count = r.u32()?;
    for _ in 0..count {
        segment(r.u64()?);
    }
    if r.is_empty() { Ok(()) } else { Err(PayloadError) }
}

/// A dead letter as stored: `seq: u64` (the message's own seq), `code: i32`,
/// `class: u8`, `reason_len: u16`, reason (UTF-8), then the encoded record.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct DeadLetterEntry<'a> {
    /// The dead message's original seq.
    pub message_seq: Seq,
    /// The transport's error code.
    pub code: i32,
    /// Why it was dead-lettered.
    pub reason: &'a str,
    /// The postcard-encoded [`Record`](crate::Record).
    pub record: &'a [u8],
}

impl<'a> DeadLetterEntry<'a> {
    /// Bytes the payload needs.
    pub fn encoded_len(reason_len: usize, record_len: usize) -> usize {
        8 + 4 + 2 + reason_len + record_len
    }

    /// Writes the fixed fields and the reason; the caller writes the record
    /// bytes right after (returned offset).
    pub fn encode_head(
        out: &mut [u8],
        message_seq: Seq,
        code: i32,
        reason: &str,
    ) -> Result<usize, PayloadError> {
        let mut w = Writer::new(out);
        w.u64(message_seq)?;
        w.u32(code as u32)?;
        w.u16(u16::try_from(reason.len()).map_err(|_| PayloadError)?)?;
        w.bytes(reason.as_bytes())?;
        Ok(w.len())
    }

    /// Decodes a payload.
    pub fn decode(payload: &'a [u8]) -> Result<Self, PayloadError> {
        let mut r = Reader::new(payload);
        let message_seq = r.u64()?;
        let code = r.u32()? as i32;
        let reason_len = r.u16()? as usize;
        let reason = core::str::from_utf8(r.bytes(reason_len)?).map_err(|_| PayloadError)?;
        Ok(DeadLetterEntry {
            message_seq,
            code,
            reason,
            record: r.rest(),
        })
    }
}

/// What happened to a dead letter.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
#[repr(u8)]
pub enum Resolution {
    /// Deleted by the user.
    Discarded = 1,
    /// Sent again as a new message.
    Redriven = 2,
}

/// `Resolve` payload: `dead_letter_seq: u64` (seq of the DeadLetter entry),
/// `resolution: u8`.
pub fn encode_resolve(out: &mut [u8], dead_letter_seq: Seq, how: Resolution) -> Result<usize, PayloadError> {
    let mut w = Writer::new(out);
    w.u64(dead_letter_seq)?;
    w.u8(how as u8)?;
    Ok(w.len())
}

/// Decodes a `Resolve` payload.
pub fn decode_resolve(payload: &[u8]) -> Result<(Seq, Resolution), PayloadError> {
    let mut r = Reader::new(payload);
    let seq = r.u64()?;
    let how = match r.u8()? {
        1 => Resolution::Discarded,
        2 => Resolution::Redriven,
        _ => return Err(PayloadError),
    };
    Ok((seq, how))
}

/// `SegmentRemoved` payload: `segment id: u64`.
pub fn decode_segment_removed(payload: &[u8]) -> Result<SegmentId, PayloadError> {
    Reader::new(payload).u64()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn manifest_round_trips() {
        let mut buf = [0u8; 128];
        let n = encode_manifest(
            &mut buf,
            [(1u16, 5u64), (3, 9)].into_iter(),
            [2u64, 4].into_iter(),
        )
        .unwrap();
        let mut marks = std::vec::Vec::new();
        let mut segs = std::vec::Vec::new();
        decode_manifest(&buf[..n], |l, s| marks.push((l, s)), |s| segs.push(s)).unwrap();
        assert_eq!(marks, [(1, 5), (3, 9)]);
        assert_eq!(segs, [2, 4]);
        assert_eq!(
            decode_manifest(&buf[..n - 1], |_, _| {}, |_| {}),
            Err(PayloadError)
        );
    }

    #[test]
    fn dead_letter_round_trips_and_rejects_short_input() {
        let mut buf = [0u8; 64];
        let n = DeadLetterEntry::encode_head(&mut buf, 7, -3, "too large").unwrap();
        buf[n..n + 3].copy_from_slice(b"rec");
        let d = DeadLetterEntry::decode(&buf[..n + 3]).unwrap();
        assert_eq!(
            (d.message_seq, d.code, d.reason, d.record),
            (7, -3, "too large", &b"rec"[..])
        );
        assert_eq!(DeadLetterEntry::decode(&buf[..5]), Err(PayloadError));
    }

    #[test]
    fn resolve_round_trips() {
        let mut buf = [0u8; 16];
        let n = encode_resolve(&mut buf, 42, Resolution::Redriven).unwrap();
        assert_eq!(decode_resolve(&buf[..n]), Ok((42, Resolution::Redriven)));
        buf[8] = 9;
        assert_eq!(decode_resolve(&buf[..n]), Err(PayloadError));
    }
}
