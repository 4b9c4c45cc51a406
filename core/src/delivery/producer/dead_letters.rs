//! Reading the journal back, and deciding about dead letters.
//!
//! Dead letters stay in the journal (each holds a copy of its record) until
//! the user discards them or re-drives them; a re-driven dead letter is sent
//! as a new message with a new id.

use super::{Producer, areas, journal_error};
use crate::delivery::error::JournalError;
use crate::journal::Position;
use crate::journal::entry::{DeadLetterEntry, Resolution, decode_resolve, encode_resolve};
use crate::journal::format::{EntryKind, FRAME_HEADER_LEN, SEGMENT_HEADER_LEN};
use crate::journal::reader::Read;
use crate::message::{Record, Seq};
use crate::storage::Storage;
use crate::transport::Millis;

/// One journal entry, as [`Producer::for_each_entry`] shows it.
#[derive(Clone, Copy, Debug)]
pub struct EntryView<'b> {
    /// Its seq.
    pub seq: Seq,
    /// What it is.
    pub kind: EntryKind,
    /// Lane (messages only).
    pub lane: u16,
    /// Segment holding it.
    pub segment: u64,
    /// Its payload bytes.
    pub payload: &'b [u8],
}

impl EntryView<'_> {
    /// The record, for a `Message` entry.
    pub fn record(&self) -> Option<Record<'_>> {
        (self.kind == EntryKind::Message)
            .then(|| Record::decode(self.payload).ok())
            .flatten()
    }

    /// The dead letter, for a `DeadLetter` entry.
    pub fn dead_letter(&self) -> Option<DeadLetterEntry<'_>> {
        (self.kind == EntryKind::DeadLetter)
            .then(|| DeadLetterEntry::decode(self.payload).ok())
            .flatten()
    }

    /// The dead-letter seq and resolution, for a `Resolve` entry.
    pub fn resolution(&self) -> Option<(Seq, Resolution)> {
        (self.kind == EntryKind::Resolve)
            .then(|| decode_resolve(self.payload).ok())
            .flatten()
    }
}

impl<S: Storage, B: AsMut<[u8]>, const LANES: usize, const WINDOW: usize, const SEGMENTS: usize>
    Producer<S, B, LANES, WINDOW, SEGMENTS>
{
    /// Calls `each` for every readable entry of the journal, oldest first.
    pub fn for_each_entry(&mut self, mut each: impl FnMut(EntryView<'_>)) -> Result<(), JournalError> {
        let ids: heapless::Vec<u64, SEGMENTS> = self.journal.segment_ids().collect();
        let (_, _, cache) = areas(self.buf.as_mut(), self.config.max_entry, self.manifest_len);
        for id in ids {
            let mut at = SEGMENT_HEADER_LEN as u64;
            loop {
                let read = self.journal.read(
                    cache,
                    Position {
                        segment: id,
                        offset: at,
                    },
                );
                let Ok(Read::Frame(f)) = read else { break };
                if let Some(kind) = EntryKind::from_u8(f.header.kind) {
                    each(EntryView {
                        seq: f.header.seq,
                        kind,
                        lane: f.header.lane,
                        segment: id,
                        payload: &cache[f.payload.clone()],
                    });
                }
                at = f.next;
            }
        }
        Ok(())
    }

    /// Finds the pending dead-letter entry `dl_seq`; copies its record
    /// into `into` (when given) and returns the record's length.
    fn load_dead_letter(&mut self, dl_seq: Seq, into: Option<&mut [u8]>) -> Result<usize, JournalError> {
        // A dead letter resolved before is not pending, even while its
        // segment holds other live ones: look for its Resolve entry (it can
        // only be later in the journal). Rare, user-driven: a scan is fine.
        let mut resolved = false;
        self.for_each_entry(|e| {
            if e.seq > dl_seq && e.resolution().is_some_and(|(seq, _)| seq == dl_seq) {
                resolved = true;
            }
        })?;
        if resolved {
            return Err(JournalError::NoSuchDeadLetter);
        }
        let seg = self
            .journal
            .dead_letter_segment(dl_seq)
            .ok_or(JournalError::NoSuchDeadLetter)?;
        let (_, _, cache) = areas(self.buf.as_mut(), self.config.max_entry, self.manifest_len);
        let mut at = SEGMENT_HEADER_LEN as u64;
        loop {
            match self.journal.read(
                cache,
                Position {
                    segment: seg,
                    offset: at,
                },
            ) {
                Ok(Read::Frame(f)) if f.header.seq == dl_seq => {
                    if f.header.kind != EntryKind::DeadLetter as u8 {
                        return Err(JournalError::NoSuchDeadLetter);
                    }
                    let dl = DeadLetterEntry::decode(&cache[f.payload.clone()])
                        .map_err(|_| JournalError::Unreadable)?;
                    if let Some(into) = into {
                        let dest = into
                            .get_mut(..dl.record.len())
                            .ok_or(JournalError::BufferTooSmall)?;
                        dest.copy_from_slice(dl.record);
                    }
                    return Ok(dl.record.len());
                }
                Ok(Read::Frame(f)) if f.header.seq < dl_seq => at = f.next,
                _ => return Err(JournalError::NoSuchDeadLetter),
            }
        }
    }

    fn resolve(&mut self, dl_seq: Seq, how: Resolution) -> Result<(), JournalError> {
        let (write, spare, _) = areas(self.buf.as_mut(), self.config.max_entry, self.manifest_len);
        let n = encode_resolve(&mut write[FRAME_HEADER_LEN..], dl_seq, how)
            .map_err(|_| JournalError::Unreadable)?;
        let (_, at) = self
            .journal
            .append(write, spare, n, EntryKind::Resolve, 0)
            .map_err(journal_error)?;
        self.journal.note_resolved(dl_seq, at.segment);
        self.stats.dead_letters = self.stats.dead_letters.saturating_sub(1);
        // Let the next `handle_timeout` delete segments this freed.
        self.journal.touch_marks();
        self.marks_changed_at.get_or_insert(0);
        Ok(())
    }

    /// Deletes the pending dead letter whose entry has seq `dl_seq` (as
    /// listed by [`for_each_entry`](Self::for_each_entry); the caller skips
    /// ones already resolved there).
    pub fn discard_dead_letter(&mut self, dl_seq: Seq) -> Result<(), JournalError> {
        self.load_dead_letter(dl_seq, None)?;
        self.resolve(dl_seq, Resolution::Discarded)
    }

    /// Sends the pending dead letter `dl_seq` again as a new message (with a
    /// new id); returns the new message's seq. `scratch` holds the record
    /// while it is re-journaled: at least the record's size.
    pub fn redrive_dead_letter(
        &mut self,
        now: Millis,
        dl_seq: Seq,
        scratch: &mut [u8],
    ) -> Result<Seq, JournalError> {
        let len = self.load_dead_letter(dl_seq, Some(scratch))?;
        let record = Record::decode(&scratch[..len]).map_err(|_| JournalError::Unreadable)?;
        let seq = self.send(now, record.message).map_err(|e| match e.kind {
            crate::delivery::SendErrorKind::FailedClosed(k) => JournalError::FailedClosed(k),
            crate::delivery::SendErrorKind::Storage(k) => JournalError::Storage(k),
            crate::delivery::SendErrorKind::NoSpace => {
                JournalError::Storage(crate::StorageErrorKind::NoSpace)
            }
            _ => JournalError::Full,
        })?;
        self.resolve(dl_seq, Resolution::Redriven)?;
        Ok(seq)
    }
}
