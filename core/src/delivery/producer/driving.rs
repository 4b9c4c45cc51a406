//! The driver-facing half of [`Producer`]: batches out, outcomes in, timers.

use super::{Delivery, Producer, Transmit, areas, journal_error};
use crate::delivery::config::SyncPolicy;
use crate::delivery::error::JournalError;
use crate::delivery::lane::{NOT_FAILING, SlotState};
use crate::journal::Position;
use crate::journal::entry::DeadLetterEntry;
use crate::journal::format::{EntryKind, FRAME_HEADER_LEN, FrameHeader, SEGMENT_HEADER_LEN, frame_len};
use crate::journal::reader::{Read, check_frame};
use crate::message::{MessageId, Seq};
use crate::storage::Storage;
use crate::transport::{Failure, FailureClass, Millis, Outcome};

/// How long timer work waits after it failed before it is tried again.
pub const TIMER_RETRY: Millis = 100;

/// Frames read per call while indexing, so one call stays short.
const INDEX_STEP: usize = 4096;

/// Most frames a batch reads with one storage call (frames of its lane
/// that follow each other in the journal).
const RUN: usize = 64;

impl<S: Storage, B: AsMut<[u8]>, const LANES: usize, const WINDOW: usize, const SEGMENTS: usize>
    Producer<S, B, LANES, WINDOW, SEGMENTS>
{
    /// The next batch to send, its records encoded into `out`; `None` if
    /// nothing may be sent now. Call until it returns `None`.
    ///
    /// Records are read from the journal straight into `out`, each after
    /// its frame header, so `out` holds the batch's frames: give it at
    /// least `max_batch_bytes` and `max_entry` bytes (a frame larger than
    /// `out` is copied in without its header, alone in its batch).
    pub fn poll_transmit(&mut self, now: Millis, out: &mut [u8]) -> Result<Option<Transmit>, JournalError> {
        let result = self.next_batch(now, out);
        if result.is_err() {
            // The same work stays due: hold `poll_timeout` back (see
            // `handle_timeout`) so a driver does not spin on it.
            self.timers_retry_at = now + TIMER_RETRY;
        }
        result
    }

    fn next_batch(&mut self, now: Millis, out: &mut [u8]) -> Result<Option<Transmit>, JournalError> {
        self.fill_windows(now).map_err(|_| JournalError::Unreadable)?;

        for step in 0..LANES {
            let lane = (self.next_lane + step) % LANES;
            if !self.lanes[lane].ready(now) {
                continue;
            }
            let batch = self.build_batch(lane, now, out)?;
            if !batch.is_empty() {
                self.next_lane = (lane + 1) % LANES;
                return Ok(Some(batch));
            }
        }
        Ok(None)
    }

    /// Builds `lane`'s next batch into `out`: its queued messages in send
    /// order, up to the first one in flight, within the batch limits.
    ///
    /// Each frame is read back exactly — the lane slot holds its position
    /// and length — straight into `out`, and checked there as any frame
    /// read is (checksum of header and payload, zero padding, see
    /// [`check_frame`]), and against the slot (its seq and its length).
    /// Frames that follow each other in the journal (a lane's messages sent
    /// in a row) come in one read. A record's payload stays where it landed,
    /// after its frame header: the batch's ranges skip the headers.
    ///
    /// Why exact reads: the lane's frames are spread over every other
    /// lane's, so reading a whole chunk around each (as the indexing passes
    /// do) would copy about as many bytes per batch as there are busy lanes
    /// times the batch's.
    fn build_batch(&mut self, lane: usize, now: Millis, out: &mut [u8]) -> Result<Transmit, JournalError> {
        let mut batch = Transmit {
            lane: lane as u16,
            records: heapless::Vec::new(),
        };
        let max_bytes = self.config.max_batch_bytes.min(out.len());
        let (_, _, cache) = areas(self.buf.as_mut(), self.config.max_entry, self.manifest_len);
        let journal = &mut self.journal;
        let mut queued = self.lanes[lane]
            .window
            .iter()
            .filter(|s| !s.done())
            .take_while(|s| s.state == SlotState::Queued)
            .take(self.config.max_batch_records)
            .peekable();
        // Bytes of `out` holding frames; payload bytes in the batch.
        let (mut used, mut payload) = (0usize, 0usize);
        let mut highest = 0;
        'batch: while let Some(first) = queued.next() {
            let mut span = first.len as usize;
            if used + span > out.len() {
                if batch.records.is_empty() {
                    // `out` is shorter than this frame (but maybe not than
                    // its payload): the payload alone, through the cache.
                    let frame = match journal.read(cache, first.pos) {
                        Ok(Read::Frame(f)) if f.header.seq == first.seq => f,
                        _ => return Err(JournalError::Unreadable),
                    };
                    let len = frame.payload.len();
                    out.get_mut(..len)
                        .ok_or(JournalError::Unreadable)?
                        .copy_from_slice(&cache[frame.payload]);
                    let _ = batch.records.push((first.seq, 0..len));
                    highest = first.seq;
                }
                break;
            }
            // The run: `first` and the queued frames right after it.
            let mut run: heapless::Vec<(Seq, usize), RUN> = heapless::Vec::new();
            let _ = run.push((first.seq, span));
            while let Some(next) = queued.peek() {
                let len = next.len as usize;
                let adjacent = next.pos.segment == first.pos.segment
                    && next.pos.offset == first.pos.offset + span as u64;
                if !adjacent || used + span + len > out.len() || run.push((next.seq, len)).is_err() {
                    break;
                }
                span += len;
                queued.next();
            }
            let read = journal
                .copy(cache, first.pos, &mut out[used..used + span])
                .map_err(|_| JournalError::Unreadable)?;
            let end = used + read;
            for (seq, len) in run {
                let frame = out.get(used..used + len).filter(|_| used + len <= end);
                let body = match frame.and_then(check_frame) {
                    Some((h, body)) if h.seq == seq && frame_len(h.len as usize) == len => body,
                    _ => return Err(JournalError::Unreadable),
                };
                if payload + body.len() > max_bytes && !batch.records.is_empty() {
                    break 'batch;
                }
                payload += body.len();
                let _ = batch.records.push((seq, used + body.start..used + body.end));
                used += len;
                highest = seq;
            }
        }
        if batch.records.is_empty() {
            return Ok(batch);
        }
        // No id leaves this machine unless a restart can never reuse it.
        self.journal.reserve(highest).map_err(journal_error)?;
        let l = &mut self.lanes[lane];
        // One batch in flight per lane: a batch is built only when none is.
        debug_assert_eq!(l.in_flight, 0, "lane {lane}: a second batch in flight");
        for (seq, _) in &batch.records {
            if let Some(slot) = l.slot_mut(*seq) {
                debug_assert_eq!(slot.state, SlotState::Queued, "lane {lane}: sending {seq} twice");
                slot.state = SlotState::InFlight;
            }
        }
        l.in_flight = batch.records.len();
        l.batch_failed = false;
        l.server_wait = None;
        // Order: the batch is the lane's first records not done, so no
        // record goes out ahead of an earlier one still to be sent.
        debug_assert!(
            l.window
                .iter()
                .filter(|s| !s.done())
                .zip(batch.seqs())
                .all(|(s, seq)| s.seq == seq),
            "lane {lane}: a batch skips a record waiting to be sent"
        );
        l.debug_check(lane, self.journal.mark(lane));
        let _ = now;
        Ok(batch)
    }

    /// Feeds one outcome from the transport. What the user should learn
    /// (a confirmation, a dead letter) comes out of
    /// [`poll_delivery`](Self::poll_delivery). Outcomes for records that
    /// are not in flight are ignored.
    pub fn handle_outcome(&mut self, now: Millis, seq: Seq, outcome: Outcome) {
        let in_flight = |l: &super::Lane<WINDOW>| {
            l.in_flight > 0 && l.slot(seq).is_some_and(|s| s.state == SlotState::InFlight)
        };
        // Outcomes come batch by batch, and a batch is one lane's: try the
        // last outcome's lane before searching every lane's window.
        let hint = self.outcome_lane;
        let lane = if self.lanes.get(hint).is_some_and(in_flight) {
            hint
        } else {
            match self.lanes.iter().position(in_flight) {
                Some(lane) => lane,
                None => return,
            }
        };
        self.outcome_lane = lane;
        match outcome {
            Outcome::Confirmed { partition, offset } => {
                if let Some(slot) = self.lanes[lane].slot_mut(seq) {
                    slot.state = SlotState::Confirmed;
                    slot.partition = partition;
                    slot.offset = offset;
                }
                self.stats.confirmed += 1;
            }
            Outcome::Failed(failure) => self.handle_failure(now, lane, seq, failure),
        }
        let l = &mut self.lanes[lane];
        l.in_flight = l.in_flight.saturating_sub(1);
        if l.in_flight == 0 {
            if l.batch_failed {
                l.attempt = l.attempt.saturating_add(1);
                let wait = self
                    .config
                    .retry
                    .backoff(l.attempt, &mut self.jitter, l.server_wait);
                l.not_before = now + wait;
            } else {
                l.attempt = 0;
            }
        }
        self.advance(lane, now);
        if self.lanes[lane].in_flight == 0 {
            // Once per batch: the check scans the window.
            self.lanes[lane].debug_check(lane, self.journal.mark(lane));
        }
    }

    /// The next thing the user should learn: a confirmation (in send order
    /// within a lane) or a dead letter.
    pub fn poll_delivery(&mut self, now: Millis) -> Option<Delivery> {
        if self.deliveries.is_empty() {
            for lane in 0..LANES {
                self.advance(lane, now);
            }
        }
        self.deliveries.pop_front()
    }

    fn set_state(&mut self, lane: usize, seq: Seq, state: SlotState) {
        if let Some(slot) = self.lanes[lane].slot_mut(seq) {
            slot.state = state;
        }
    }

    fn handle_failure(&mut self, now: Millis, lane: usize, seq: Seq, failure: Failure) {
        let Some(slot) = self.lanes[lane].slot_mut(seq) else {
            return;
        };
        if slot.failing_since == NOT_FAILING {
            slot.failing_since = now;
        }
        let since = slot.failing_since;
        let timed_out = self
            .config
            .retry
            .delivery_timeout
            .is_some_and(|limit| now.saturating_sub(since) >= limit);
        let failing_for = now.saturating_sub(since);
        let terminal = match failure.class {
            FailureClass::Terminal => true,
            FailureClass::UnknownTopic => failing_for >= self.config.unknown_topic_wait,
            _ => false,
        } || timed_out;
        // With the delivery queue full, a terminal failure waits: the record
        // is sent again and dead-lettered when it fails again.
        if !terminal || self.deliveries.is_full() {
            self.retry_later(lane, seq, failure.retry_after);
            return;
        }
        let failure = if failure.class == FailureClass::Terminal {
            failure
        } else if failure.class == FailureClass::UnknownTopic && !timed_out {
            let mut reason: heapless::String<{ crate::transport::REASON_LEN }> = heapless::String::new();
            let _ = core::fmt::Write::write_fmt(
                &mut reason,
                format_args!("{} (still unknown after {failing_for} ms)", failure.reason),
            );
            Failure::new(FailureClass::Terminal, failure.code, &reason)
        } else {
            let mut reason: heapless::String<{ crate::transport::REASON_LEN }> = heapless::String::new();
            let _ = core::fmt::Write::write_fmt(
                &mut reason,
                format_args!(
                    "delivery timeout after {} ms; last: {}",
                    now - since,
                    failure.reason
                ),
            );
            Failure::new(FailureClass::Terminal, failure.code, &reason)
        };
        match self.dead_letter(lane, seq, &failure) {
            Ok(()) => {
                let id = MessageId {
                    journal: self.journal.id(),
                    seq,
                };
                // Cannot fail: checked `is_full` above.
                let _ = self.deliveries.push_back(Delivery::DeadLettered { id, failure });
            }
            // Could not journal the dead letter: keep the message and try
            // again later rather than lose it.
            Err(_) => self.retry_later(lane, seq, None),
        }
    }

    fn retry_later(&mut self, lane: usize, seq: Seq, server_wait: Option<Millis>) {
        self.set_state(lane, seq, SlotState::Queued);
        self.stats.retried += 1;
        let l = &mut self.lanes[lane];
        l.batch_failed = true;
        l.server_wait = l.server_wait.max(server_wait);
    }

    /// Writes a dead-letter entry holding a copy of the record.
    fn dead_letter(&mut self, lane: usize, seq: Seq, failure: &Failure) -> Result<(), JournalError> {
        let pos = self.lanes[lane]
            .slot_mut(seq)
            .ok_or(JournalError::Unreadable)?
            .pos;
        let (write, spare, cache) = areas(self.buf.as_mut(), self.config.max_entry, self.manifest_len);
        let frame = match self.journal.read(cache, pos) {
            Ok(Read::Frame(f)) if f.header.seq == seq => f,
            _ => return Err(JournalError::Unreadable),
        };
        let record = &cache[frame.payload.clone()];
        let payload = &mut write[FRAME_HEADER_LEN..];
        let head = DeadLetterEntry::encode_head(payload, seq, failure.code, &failure.reason)
            .map_err(|_| JournalError::Unreadable)?;
        let n = head + record.len();
        payload
            .get_mut(head..n)
            .ok_or(JournalError::Unreadable)?
            .copy_from_slice(record);
        let (_, at) = self
            .journal
            .append(write, spare, n, EntryKind::DeadLetter, 0)
            .map_err(journal_error)?;
        self.journal.note_dead_letter(at.segment);
        self.set_state(lane, seq, SlotState::DeadLettered);
        self.stats.dead_lettered += 1;
        self.stats.dead_letters += 1;
        Ok(())
    }

    /// Moves the lane's watermark over its done prefix, queueing the
    /// confirmations it passes (stopping while the queue is full).
    fn advance(&mut self, lane: usize, now: Millis) {
        let l = &mut self.lanes[lane];
        let mut moved = None;
        while l.window.front().is_some_and(|s| s.done()) && !self.deliveries.is_full() {
            if let Some(slot) = l.window.pop_front() {
                moved = Some(slot.seq);
                self.stats.pending = self.stats.pending.saturating_sub(1);
                if slot.state == SlotState::Confirmed {
                    let id = MessageId {
                        journal: self.journal.id(),
                        seq: slot.seq,
                    };
                    let (partition, offset) = (slot.partition, slot.offset);
                    let _ = self.deliveries.push_back(Delivery::Confirmed {
                        id,
                        partition,
                        offset,
                    });
                }
            }
        }
        if let Some(seq) = moved {
            // The watermark moves only over a done prefix of the window.
            debug_assert!(
                l.window
                    .front()
                    .is_none_or(|s| (s.seq > seq && !s.done()) || self.deliveries.is_full()),
                "lane {lane}: the watermark stops before a done record"
            );
            self.journal.advance_mark(lane, seq);
            self.marks_changed_at.get_or_insert(now);
        }
    }

    /// Indexes journal entries into lane windows: first lanes whose window
    /// overflowed, then the global cursor. Bounded work per call.
    fn fill_windows(&mut self, now: Millis) -> Result<(), S::Error> {
        self.refill_lanes(now)?;
        let mut steps = 0;
        while let Some(pos) = self.cursor {
            if steps == INDEX_STEP
                || self
                    .lanes
                    .iter()
                    .all(|l| l.window.is_full() || l.overflow.is_some())
            {
                break;
            }
            steps += 1;
            self.cursor = self.step(pos, None, now)?;
        }
        Ok(())
    }

    /// Reads the entry at `pos`; indexes it if it is a message (of a lane
    /// marked in `only`, when given). Returns the position after it, or
    /// `None` at the end of the log.
    fn step(
        &mut self,
        pos: Position,
        only: Option<&[bool; LANES]>,
        now: Millis,
    ) -> Result<Option<Position>, S::Error> {
        if !self.journal.has_segment(pos.segment) {
            // The segment was deleted after this position was saved (a
            // lane's overflow or the cursor can rest at a segment's end):
            // nothing in it was needed any more, so go on with the next.
            return Ok(self.journal.next_segment(pos.segment).map(|segment| Position {
                segment,
                offset: SEGMENT_HEADER_LEN as u64,
            }));
        }
        let (_, _, cache) = areas(self.buf.as_mut(), self.config.max_entry, self.manifest_len);
        let wanted = |h: &FrameHeader| {
            h.kind == EntryKind::Message as u8
                && only.is_none_or(|o| o.get(usize::from(h.lane)).copied().unwrap_or(false))
        };
        if only.is_some()
            && let Some((h, next)) = self.journal.skim(cache, pos)?
            && !wanted(&h)
        {
            // A refill pass steps over the other lanes' frames without
            // checksumming their payloads (each is checked when it is read
            // for its own lane): checking them would make every pass cost a
            // CRC of everything in between. A damaged frame is still found:
            // `skim` only trusts a length the next frame chains to.
            return Ok(Some(Position {
                segment: pos.segment,
                offset: next,
            }));
        }
        match self.journal.read(cache, pos)? {
            Read::Frame(f) => {
                let h = f.header;
                if wanted(&h) {
                    let len = u32::try_from(f.next - pos.offset).unwrap_or(u32::MAX);
                    self.index(h.lane, h.seq, pos, len, now);
                }
                Ok(Some(Position {
                    segment: pos.segment,
                    offset: f.next,
                }))
            }
            // Damaged bytes (recovery skipped and reported them): go on with
            // the next valid frame of this segment. Jumping to the next
            // segment would silently skip every intact message after the
            // damage, and the watermarks would then pass over them.
            Read::Bad => {
                let (reader, storage) = self.journal.reader_parts();
                let next = reader.resync(storage, cache, pos.segment, pos.offset, 0)?;
                Ok(match next {
                    Some(offset) => Some(Position {
                        segment: pos.segment,
                        offset,
                    }),
                    None => self.journal.next_segment(pos.segment).map(|segment| Position {
                        segment,
                        offset: SEGMENT_HEADER_LEN as u64,
                    }),
                })
            }
            // The end of a segment: go on with the next one.
            Read::End => Ok(self.journal.next_segment(pos.segment).map(|segment| Position {
                segment,
                offset: SEGMENT_HEADER_LEN as u64,
            })),
        }
    }

    /// Reads overflowed lanes back into their windows, in one forward pass
    /// shared by every lane that has room.
    ///
    /// A lane's overflow is interleaved with every other lane's messages, so
    /// reading it back means reading (and checksumming) the frames of all
    /// lanes in between. A pass per lane would read every frame once per
    /// lane (16 times with 16 busy lanes). One pass from the earliest
    /// overflow serves every lane with room: a frame is indexed into its
    /// lane once the pass has reached that lane's own overflow position.
    /// A lane whose window fills again keeps its overflow at the frame that
    /// did not fit (`index` sets it); one that reaches the global cursor or
    /// the end of the log has caught up.
    fn refill_lanes(&mut self, now: Millis) -> Result<(), S::Error> {
        let key = |p: Position| (p.segment, p.offset);
        // Taking part: every lane with an overflow and room. Each one's
        // overflow is taken; `from` holds where its own messages resume.
        let mut from: [Option<Position>; LANES] = [None; LANES];
        let mut start: Option<Position> = None;
        for (lane, l) in self.lanes.iter_mut().enumerate() {
            if l.window.is_full() {
                continue;
            }
            if let Some(o) = l.overflow.take() {
                from[lane] = Some(o);
                if start.is_none_or(|s| key(o) < key(s)) {
                    start = Some(o);
                }
            }
        }
        let Some(mut pos) = start else {
            return Ok(());
        };
        // Where a lane still taking part must resume if the pass stops at
        // `pos`: its own overflow if the pass has not reached it yet.
        let resume = |from: Position, pos: Position| if key(from) > key(pos) { from } else { pos };
        let mut steps = 0;
        loop {
            if from.iter().all(Option::is_none) {
                return Ok(());
            }
            if self.cursor.is_some_and(|c| key(c) <= key(pos)) {
                // Caught up: the global cursor indexes the rest.
                return Ok(());
            }
            if steps == INDEX_STEP {
                for (lane, f) in from.iter().enumerate() {
                    if let Some(f) = f {
                        self.lanes[lane].overflow = Some(resume(*f, pos));
                    }
                }
                return Ok(());
            }
            steps += 1;
            let mut only = [false; LANES];
            for (o, f) in only.iter_mut().zip(&from) {
                *o = f.is_some_and(|f| key(f) <= key(pos));
            }
            match self.step(pos, Some(&only), now) {
                Ok(Some(next)) => pos = next,
                // The end of the log: every lane still taking part caught up.
                Ok(None) => return Ok(()),
                Err(e) => {
                    // A failed read must not forget where an overflow
                    // starts, or those messages are never sent (and the
                    // watermark later passes over them).
                    for (lane, f) in from.iter().enumerate() {
                        if let Some(f) = f {
                            self.lanes[lane].overflow = Some(resume(*f, pos));
                        }
                    }
                    return Err(e);
                }
            }
            for (lane, f) in from.iter_mut().enumerate() {
                if self.lanes[lane].overflow.is_some() {
                    // Full again: `index` left its overflow at that frame.
                    *f = None;
                }
            }
        }
    }

    /// When the driver must call [`handle_timeout`](Self::handle_timeout)
    /// at the latest, or `None` if nothing is scheduled. `Some(now)` or
    /// earlier means there is work to do right away.
    pub fn poll_timeout(&self, now: Millis) -> Option<Millis> {
        let mut next: Option<Millis> = None;
        let mut at = |t: Millis| next = Some(next.map_or(t, |n| n.min(t)));
        for l in &self.lanes {
            if l.in_flight == 0 && l.window.iter().any(|s| s.state == SlotState::Queued) {
                at(l.not_before.max(now));
            }
            if l.overflow.is_some() && !l.window.is_full() {
                at(now);
            }
        }
        if self.cursor.is_some()
            && self
                .lanes
                .iter()
                .any(|l| !l.window.is_full() && l.overflow.is_none())
        {
            at(now);
        }
        if let Some(since) = self.marks_changed_at {
            at(since + self.config.confirm_interval);
        }
        if self.needs_sync() {
            match self.config.sync {
                SyncPolicy::Always => at(now),
                SyncPolicy::Interval(d) => at(self.last_sync + d),
                SyncPolicy::Never => {}
            }
        }
        if self.journal.meta_behind() {
            at(self.last_meta + self.config.meta_interval);
        }
        // After timer work failed (a full disk, a failed-closed journal),
        // the work is still due; without this the driver would spin.
        next.map(|n| n.max(self.timers_retry_at))
    }

    /// Does whatever timers are due: journals confirmations and deletes
    /// segments nobody needs, syncs on the interval, writes the high-water
    /// mark. Spurious calls are harmless. After a failure the work is
    /// retried, and [`poll_timeout`](Self::poll_timeout) is held back by
    /// [`TIMER_RETRY`] so a driver does not spin.
    pub fn handle_timeout(&mut self, now: Millis) -> Result<(), JournalError> {
        let result = self.run_timers(now);
        self.timers_retry_at = match result {
            Ok(()) => 0,
            Err(_) => now + TIMER_RETRY,
        };
        result
    }

    fn run_timers(&mut self, now: Millis) -> Result<(), JournalError> {
        if let Some(kind) = self.journal.failed() {
            return Err(JournalError::FailedClosed(kind));
        }
        let (write, spare, _) = areas(self.buf.as_mut(), self.config.max_entry, self.manifest_len);
        // A failure here (ENOSPC while journaling confirmations) must not
        // skip the sync below: `SyncPolicy::Interval` promises it.
        let mut bookkeeping = Ok(());
        if self
            .marks_changed_at
            .is_some_and(|t| now >= t + self.config.confirm_interval)
        {
            let done = self
                .journal
                .flush_marks(write, spare)
                .and_then(|()| self.journal.collect(write, spare));
            match done {
                Ok(_) => self.marks_changed_at = None,
                Err(e) => bookkeeping = Err(journal_error(e)),
            }
        }
        let sync_due = match self.config.sync {
            SyncPolicy::Always => true,
            SyncPolicy::Interval(d) => now >= self.last_sync + d,
            SyncPolicy::Never => false,
        };
        if sync_due && self.needs_sync() {
            self.sync(now)?;
        }
        if self.journal.meta_behind() && now >= self.last_meta + self.config.meta_interval {
            self.journal.write_meta().map_err(journal_error)?;
            self.last_meta = now;
        }
        bookkeeping
    }

    /// True when every message is done and nothing is in flight.
    pub fn is_idle(&self) -> bool {
        self.cursor.is_none()
            && self
                .lanes
                .iter()
                .all(|l| l.window.is_empty() && l.overflow.is_none() && l.in_flight == 0)
    }

    /// Records handed to the transport and not yet answered.
    pub fn in_flight(&self) -> usize {
        self.lanes.iter().map(|l| l.in_flight).sum()
    }
}
