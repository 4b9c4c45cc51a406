//! [`Producer`]: the journal and the delivery state machine, sans-IO.

use core::ops::Range;

use super::budget;
use super::config::{Config, MAX_BATCH};
use super::error::{JournalError, OpenError, OpenFailed, SendError, SendErrorKind};
use super::lane::{Lane, Slot, lane_of};
use crate::journal::format::{EntryKind, FRAME_HEADER_LEN, SEGMENT_HEADER_LEN};
use crate::journal::recovery::{RecoverOptions, recover};
use crate::journal::report::RecoveryReport;
use crate::journal::{Journal, JournalLimits, Position, WriteError, manifest_frame_len};
use crate::message::{CodecError, Message, MessageId, Record, Seq};
use crate::retry::Jitter;
use crate::storage::{Storage, StorageError, StorageErrorKind, SyncRequest};
use crate::transport::{Failure, Millis, OutgoingRecord};

/// Counters and gauges for `stats()`.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct Stats {
    /// Messages accepted by `send` since start.
    pub sent: u64,
    /// Messages confirmed by the broker since start.
    pub confirmed: u64,
    /// Failed attempts that will be retried, since start.
    pub retried: u64,
    /// Messages moved to the dead-letter area since start.
    pub dead_lettered: u64,
    /// Messages not yet done (including those recovered at start).
    pub pending: u64,
    /// Bytes the journal occupies.
    pub journal_bytes: u64,
    /// Segments in the journal.
    pub segments: u64,
    /// Dead letters waiting for a decision.
    pub dead_letters: u64,
    /// Highest seq known durable.
    pub synced_seq: Seq,
}

/// What the user learns about a message.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Delivery {
    /// The broker has it.
    Confirmed {
        /// Its id.
        id: MessageId,
        /// Partition it landed in.
        partition: i32,
        /// Offset there (-1 if unknown).
        offset: i64,
    },
    /// It was moved to the dead-letter area.
    DeadLettered {
        /// Its id.
        id: MessageId,
        /// Why.
        failure: Failure,
    },
}

/// A batch to hand to the transport: records of one lane, in order, whose
/// encoded bytes are in the buffer given to [`Producer::poll_transmit`].
#[derive(Clone, Debug)]
pub struct Transmit {
    lane: u16,
    records: heapless::Vec<(Seq, Range<usize>), MAX_BATCH>,
}

impl Transmit {
    /// Number of records.
    pub fn len(&self) -> usize {
        self.records.len()
    }

    /// True if there are no records (never returned by `poll_transmit`).
    pub fn is_empty(&self) -> bool {
        self.records.is_empty()
    }

    /// The lane the batch belongs to.
    pub fn lane(&self) -> u16 {
        self.lane
    }

    /// Bytes of `buf` the batch uses.
    pub fn bytes(&self) -> usize {
        self.records.last().map_or(0, |(_, r)| r.end)
    }

    /// The records' sequence numbers, in batch order: pair them with
    /// [`records`](Self::records) to report an outcome for a record that
    /// fails to decode (it would otherwise stay in flight for ever).
    pub fn seqs(&self) -> impl Iterator<Item = Seq> + '_ {
        self.records.iter().map(|(seq, _)| *seq)
    }

    /// Decodes the records out of the buffer `poll_transmit` filled.
    pub fn records<'b>(
        &'b self,
        buf: &'b [u8],
    ) -> impl Iterator<Item = Result<OutgoingRecord<'b>, CodecError>> + 'b {
        self.records.iter().map(move |(seq, range)| {
            let bytes = buf.get(range.clone()).ok_or(CodecError::Malformed)?;
            let record = Record::decode(bytes)?;
            Ok(OutgoingRecord {
                seq: *seq,
                id: record.id,
                message: record.message,
            })
        })
    }
}

/// The producer's core: a journal plus the delivery state machine, with no
/// I/O of its own beyond the [`Storage`] it is given, no clock and no threads.
///
/// # Driving it
///
/// Every input takes `now`, milliseconds on the caller's monotonic clock.
/// A driver repeats, in this order:
///
/// 1. [`send`](Self::send) new messages (each returns its seq once appended).
///    With [`SyncPolicy::Always`](crate::SyncPolicy::Always), report a send complete only when
///    [`is_synced`](Self::is_synced) says so.
/// 2. Durability: take the sync the journal needs from
///    [`poll_sync`](Self::poll_sync) (a [`SyncRequest`]: a segment, up to
///    which byte, up to which seq), run it, and feed the result to
///    [`handle_synced`](Self::handle_synced). One sync covers every send
///    before it (group commit), and it may run without the producer, for
///    example an fsync outside the lock that guards it while other threads
///    go on sending; a failed one fails the journal closed.
///    [`sync`](Self::sync) does both steps with [`Storage::sync`], for a
///    driver that holds the producer throughout.
/// 3. While [`poll_transmit`](Self::poll_transmit) returns a batch, hand its
///    records to the transport.
/// 4. Wait for the transport no longer than [`poll_timeout`](Self::poll_timeout),
///    and feed every outcome to [`handle_outcome`](Self::handle_outcome);
///    then pass each [`Delivery`] from [`poll_delivery`](Self::poll_delivery)
///    to the user. Confirmations come out in send order within a lane.
/// 5. Call [`handle_timeout`](Self::handle_timeout) (spurious calls are fine):
///    it journals confirmations, syncs on the interval, writes the
///    high-water mark and deletes segments nobody needs.
///
/// The crate documentation shows this loop in full.
pub struct Producer<S, B, const LANES: usize = 16, const WINDOW: usize = 128, const SEGMENTS: usize = 256> {
    journal: Journal<S, LANES, SEGMENTS>,
    buf: B,
    config: Config,
    lanes: [Lane<WINDOW>; LANES],
    /// Next entry to index into lane windows; `None` once caught up with
    /// the end of the log (new messages then go straight to their lane).
    cursor: Option<Position>,
    next_lane: usize,
    /// Lane of the last outcome (where the next one most likely belongs).
    outcome_lane: usize,
    jitter: Jitter,
    stats: Stats,
    last_sync: Millis,
    last_meta: Millis,
    marks_changed_at: Option<Millis>,
    manifest_len: usize,
    /// Deliveries waiting for `poll_delivery`.
    deliveries: heapless::Deque<Delivery, DELIVERY_QUEUE>,
    /// Timer work failed: `poll_timeout` asks for no call before this.
    timers_retry_at: Millis,
}

/// Deliveries the producer holds for [`Producer::poll_delivery`]. When the
/// queue is full, confirmations wait in their lane and a terminal failure is
/// treated as retriable (it fails again, and is dead-lettered, later).
pub const DELIVERY_QUEUE: usize = 64;

/// Splits the producer buffer into (write area, manifest area, read cache).
fn areas(buf: &mut [u8], max_entry: usize, manifest: usize) -> (&mut [u8], &mut [u8], &mut [u8]) {
    let (write, rest) = buf.split_at_mut(max_entry);
    let (spare, cache) = rest.split_at_mut(manifest);
    (write, spare, cache)
}

fn kind_of<E: StorageError>(
    e: WriteError<E>,
    budget: u64,
    used: u64,
    size: usize,
    limit: usize,
) -> SendErrorKind {
    match e {
        WriteError::Storage(e) if e.kind() == StorageErrorKind::NoSpace => SendErrorKind::NoSpace,
        WriteError::Storage(e) => SendErrorKind::Storage(e.kind()),
        WriteError::FailedClosed(k) => SendErrorKind::FailedClosed(k),
        WriteError::NoSegmentSlot => SendErrorKind::Full { budget, used },
        WriteError::TooLarge => SendErrorKind::TooLarge { size, limit },
    }
}

fn journal_error<E: StorageError>(e: WriteError<E>) -> JournalError {
    match e {
        WriteError::Storage(e) => JournalError::Storage(e.kind()),
        WriteError::FailedClosed(k) => JournalError::FailedClosed(k),
        WriteError::NoSegmentSlot => JournalError::NoSegmentSlot,
        WriteError::TooLarge => JournalError::Unreadable,
    }
}

impl<S: Storage, B: AsMut<[u8]>, const LANES: usize, const WINDOW: usize, const SEGMENTS: usize>
    Producer<S, B, LANES, WINDOW, SEGMENTS>
{
    /// Bytes of buffer [`open`](Self::open) needs for `config`.
    pub fn buffer_len(config: &Config) -> usize {
        2 * config.max_entry + manifest_frame_len(LANES, SEGMENTS)
    }

    /// The segment size the journal uses for `config`: `segment_size`,
    /// capped so that the budget holds several segments (see
    /// [`budget`](crate::delivery::budget)). Storage that preallocates
    /// segments should reserve this much.
    pub fn segment_size(config: &Config) -> u64 {
        budget::segment_size(
            config.segment_size,
            config.budget,
            manifest_frame_len(LANES, SEGMENTS),
        )
    }

    /// The smallest budget [`open`](Self::open) accepts with entries of up
    /// to `max_entry` bytes: four segments that each hold a header, a
    /// manifest and one such entry, plus the bookkeeping reserve.
    pub fn min_budget(max_entry: usize) -> u64 {
        budget::min_budget(max_entry, manifest_frame_len(LANES, SEGMENTS))
    }

    /// The largest `max_entry` a budget of `budget` bytes admits (the
    /// inverse of [`min_budget`](Self::min_budget); 0 below any minimum).
    pub fn max_entry_for_budget(budget: u64) -> usize {
        budget::max_entry_for(budget, manifest_frame_len(LANES, SEGMENTS))
    }

    /// Recovers the journal in `storage` (or starts one) and opens a new
    /// segment for appends. `buf` must be at least [`buffer_len`](Self::buffer_len).
    #[allow(clippy::type_complexity)]
    pub fn open(
        storage: S,
        mut buf: B,
        config: Config,
        now: Millis,
    ) -> Result<(Self, RecoveryReport), OpenFailed<S, B, S::Error>> {
        let manifest_len = manifest_frame_len(LANES, SEGMENTS);
        let needed = Self::buffer_len(&config);
        let check = if LANES == 0 || LANES > usize::from(u16::MAX) {
            Some(OpenError::Config("LANES must be between 1 and 65535"))
        } else if config.max_batch_records == 0 || config.max_batch_records > MAX_BATCH {
            Some(OpenError::Config(
                "max_batch_records must be between 1 and MAX_BATCH",
            ))
        } else if config.max_entry < 256 {
            Some(OpenError::Config("max_entry must be at least 256 bytes"))
        } else if config.budget < Self::min_budget(config.max_entry) {
            Some(OpenError::BudgetTooSmall {
                budget: config.budget,
                minimum: Self::min_budget(config.max_entry),
                max_entry: config.max_entry,
            })
        } else if config.segment_size < budget::min_segment(config.max_entry, manifest_len) {
            Some(OpenError::Config(
                "segment_size must hold a header, a manifest and a max_entry frame",
            ))
        } else if buf.as_mut().len() < needed {
            Some(OpenError::BufferTooSmall {
                needed,
                got: buf.as_mut().len(),
            })
        } else {
            None
        };
        if let Some(error) = check {
            return Err(OpenFailed {
                storage,
                buffer: buf,
                error,
            });
        }
        let limits = JournalLimits {
            segment_size: Self::segment_size(&config),
            reserve_block: 1 << 16,
        };
        let options = RecoverOptions {
            new_journal_id: config.journal_id,
            mode: config.recovery,
        };
        let (write, spare, cache) = areas(buf.as_mut(), config.max_entry, manifest_len);
        let (mut journal, report) = match recover::<S, LANES, SEGMENTS>(storage, cache, options, limits) {
            Ok(ok) => ok,
            Err((storage, e)) => {
                return Err(OpenFailed {
                    storage,
                    buffer: buf,
                    error: OpenError::Recover(e),
                });
            }
        };
        // Recovery may have read the last segment's tail from the page cache
        // (after a process crash) and now counts it as synced: make that
        // true before anything is built on it.
        if let Some(id) = journal.current_segment()
            && let Err(e) = journal.storage_mut().sync(id)
        {
            return Err(OpenFailed {
                storage: journal.into_storage(),
                buffer: buf,
                error: OpenError::Storage(e),
            });
        }
        // With every segment slot in use, carry on in the last segment: a
        // manifest there takes the first seq past the reserved ones (recovery
        // accepts the jump: its chain is intact), so what is synced next is
        // an entry that exists.
        let rolled = match journal.roll(spare) {
            Err(WriteError::NoSegmentSlot) if journal.segment_count() > 0 => journal.append_manifest(spare),
            other => other,
        };
        if let Err(e) = rolled.and_then(|()| journal.sync()) {
            let error = match e {
                WriteError::Storage(e) => OpenError::Storage(e),
                _ => OpenError::Config("could not start a new segment"),
            };
            return Err(OpenFailed {
                storage: journal.into_storage(),
                buffer: buf,
                error,
            });
        }
        // Delete what nobody needs right away (best effort): a process that
        // crash-loops while the broker is away would otherwise add a segment
        // per start until every segment slot is used and `open` fails.
        let _ = journal.collect(write, spare);
        // Write both meta slots now, while there is room: from then on a
        // meta write (the seq reservation every batch may need) overwrites
        // a slot in place and needs no new room. A slot first written when
        // the disk is full of pending messages would stop every send, and
        // with it everything that frees the disk. Best effort: a slot not
        // written here is written by the timers (`meta_interval`).
        for _ in 0..2 {
            if journal.write_meta().is_err() {
                break;
            }
        }
        let cursor = journal.first_segment().map(|segment| Position {
            segment,
            offset: SEGMENT_HEADER_LEN as u64,
        });
        let stats = Stats {
            pending: report.pending,
            dead_letters: report.dead_letters,
            ..Stats::default()
        };
        let producer = Producer {
            journal,
            buf,
            config,
            lanes: [const { Lane::new() }; LANES],
            cursor,
            next_lane: 0,
            outcome_lane: 0,
            jitter: Jitter::new(config.jitter_seed),
            stats,
            last_sync: now,
            last_meta: now,
            marks_changed_at: None,
            manifest_len,
            deliveries: heapless::Deque::new(),
            timers_retry_at: 0,
        };
        Ok((producer, report))
    }

    /// Journals `message`. Returns its seq once appended; with
    /// [`SyncPolicy::Always`](crate::SyncPolicy::Always) it is durable only once [`is_synced`](Self::is_synced).
    /// A refused message is handed back in the error: among others one that
    /// breaks a rule the broker would refuse it for
    /// ([`Message::validate`], [`SendErrorKind::Invalid`]).
    ///
    /// When the budget or the disk is full and every message of the
    /// current segment is done, that segment is sealed and deleted first
    /// (a full journal frees space without waiting for it to fill).
    pub fn send<'a>(&mut self, now: Millis, message: Message<'a>) -> Result<Seq, SendError<'a>> {
        match self.append_message(now, message) {
            Err(e)
                if matches!(e.kind, SendErrorKind::Full { .. } | SendErrorKind::NoSpace)
                    && self.reclaim_current() =>
            {
                self.append_message(now, e.message)
            }
            other => other,
        }
    }

    /// [`send`](Self::send) without reclaiming the current segment.
    fn append_message<'a>(&mut self, now: Millis, message: Message<'a>) -> Result<Seq, SendError<'a>> {
        let _ = now;
        if let Err(why) = message.validate() {
            return Err(SendError {
                kind: SendErrorKind::Invalid(why),
                message,
            });
        }
        let lane = lane_of(&message, LANES);
        let max_entry = self.config.max_entry;
        let (write, spare, _) = areas(self.buf.as_mut(), max_entry, self.manifest_len);
        let budget = self.config.budget;
        let used = self.journal.bytes();
        // The message is encoded where it lies (a by-value argument is the
        // caller's copy): building a `Record` around it would move its
        // ~600 bytes (inline headers) once more per send. It is moved only
        // into an error, to hand it back.
        let mut id = MessageId {
            journal: self.journal.id(),
            seq: self.journal.next_seq(),
        };
        let encode = |id: MessageId, message: &Message<'_>, write: &mut [u8]| {
            let payload = write
                .get_mut(FRAME_HEADER_LEN..)
                .ok_or(CodecError::BufferTooSmall)?;
            crate::message::encode_record(id, message, payload)
        };
        let Ok(mut n) = encode(id, &message, write) else {
            let size = crate::journal::format::frame_len(message.encoded_len(id));
            return Err(SendError {
                kind: SendErrorKind::TooLarge {
                    size,
                    limit: max_entry,
                },
                message,
            });
        };
        let frame = crate::journal::format::frame_len(n);
        // Keep room for bookkeeping (confirmations, manifests), so a full
        // journal can always record progress and shrink.
        let reserve = budget::reserve(self.manifest_len);
        if frame as u64 + reserve > budget {
            let limit = budget.saturating_sub(reserve) as usize;
            return Err(SendError {
                kind: SendErrorKind::TooLarge { size: frame, limit },
                message,
            });
        }
        if used + frame as u64 + reserve > budget {
            return Err(SendError {
                kind: SendErrorKind::Full { budget, used },
                message,
            });
        }
        // A new segment consumes a seq for its manifest: encode again with
        // the seq the message will really get.
        let rolls = self
            .journal
            .current_len()
            .is_none_or(|len| len + frame as u64 > self.journal.limits().segment_size);
        // Keep the last two segment slots for bookkeeping (confirmations and
        // deletions must always be journaled, or nothing is ever freed) and
        // for the segment the next `open` starts.
        if rolls && SEGMENTS > 3 && self.journal.segment_count() + 3 > SEGMENTS {
            return Err(SendError {
                kind: SendErrorKind::Full { budget, used },
                message,
            });
        }
        // A manifest still owed (its write failed) also takes a seq first.
        if rolls || self.journal.manifest_owed() {
            let made_room = if rolls {
                self.journal.roll(spare)
            } else {
                self.journal.append_manifest(spare)
            };
            if let Err(e) = made_room {
                let kind = kind_of(e, budget, used, frame, max_entry);
                return Err(SendError { kind, message });
            }
            id.seq = self.journal.next_seq();
            n = match encode(id, &message, write) {
                Ok(n) => n,
                Err(_) => {
                    let kind = SendErrorKind::TooLarge {
                        size: frame,
                        limit: max_entry,
                    };
                    return Err(SendError { kind, message });
                }
            };
        }
        match self.journal.append(write, spare, n, EntryKind::Message, lane) {
            Ok((seq, pos)) => {
                self.stats.sent += 1;
                self.stats.pending += 1;
                if self.cursor.is_none() {
                    // `append` refuses frames longer than `max_entry`.
                    let len = u32::try_from(crate::journal::format::frame_len(n)).unwrap_or(u32::MAX);
                    self.index(lane, seq, pos, len, now);
                }
                Ok(seq)
            }
            Err(e) => {
                let kind = kind_of(e, budget, used, frame, max_entry);
                Err(SendError { kind, message })
            }
        }
    }

    /// True if the current segment holds messages and every one of them
    /// is done: sealing it ([`reclaim_current`](Self::reclaim_current))
    /// would free its space. (A segment of bookkeeping only is not worth
    /// a new one: the new one would start with as much.)
    pub fn current_reclaimable(&self) -> bool {
        self.journal.current_done()
    }

    /// Seals the current segment and deletes it if it is
    /// [reclaimable](Self::current_reclaimable): a journal whose budget or
    /// disk is full gets that space back without waiting for the segment
    /// to fill. [`send`](Self::send) does this by itself; a driver calls it
    /// after making room on a full disk (giving up a ballast file) so that
    /// the new segment can be started. Returns whether a segment was
    /// deleted.
    pub fn reclaim_current(&mut self) -> bool {
        if !self.current_reclaimable() {
            return false;
        }
        let (write, spare, _) = areas(self.buf.as_mut(), self.config.max_entry, self.manifest_len);
        if self.journal.roll(spare).is_err() {
            return false;
        }
        matches!(self.journal.collect(write, spare), Ok(n) if n > 0)
    }

    /// Puts a message (its frame of `len` bytes at `pos`) into its lane's
    /// window, or marks the lane's overflow.
    fn index(&mut self, lane: u16, seq: Seq, pos: Position, len: u32, now: Millis) {
        let Some(l) = self.lanes.get_mut(usize::from(lane)) else {
            return;
        };
        if seq <= self.journal.mark(usize::from(lane)) || l.last_seq().is_some_and(|last| seq <= last) {
            return;
        }
        if l.overflow.is_some() {
            return;
        }
        if l.window.push_back(Slot::queued(seq, pos, len, now)).is_err() {
            l.overflow = Some(pos);
        }
    }

    /// True if entry `seq` is durable (synced).
    pub fn is_synced(&self, seq: Seq) -> bool {
        seq <= self.journal.synced_seq()
    }

    /// True if entries were appended since the last sync (then
    /// [`poll_sync`](Self::poll_sync) has a request).
    pub fn needs_sync(&self) -> bool {
        self.journal.sync_request().is_some()
    }

    /// The sync that would make every entry appended so far durable, or
    /// `None` if they are (or the journal failed closed).
    ///
    /// Run it (with [`Storage::sync`] of [`SyncRequest::segment`], or any
    /// means with the same effect, for example an fsync of the same file on
    /// another thread, outside the lock that guards the producer), then hand
    /// the request and the result to [`handle_synced`](Self::handle_synced).
    /// Sends may go on meanwhile; they need the next sync. Calling it again
    /// before `handle_synced` hands out a request covering at least as much,
    /// and running both is harmless. Whether a sync is *due* is the
    /// driver's call under [`SyncPolicy::Never`](crate::SyncPolicy::Never) and `Interval`;
    /// [`poll_timeout`](Self::poll_timeout) and
    /// [`handle_timeout`](Self::handle_timeout) follow the configured policy.
    pub fn poll_sync(&self, now: Millis) -> Option<SyncRequest> {
        let _ = now;
        self.journal.sync_request()
    }

    /// Feeds the result of the sync `request` asked for. On success every
    /// entry up to [`SyncRequest::seq`] counts as durable
    /// ([`is_synced`](Self::is_synced)); on failure the journal fails
    /// closed (a failed fsync may have dropped the data: nothing appended
    /// is reported durable again, every later call fails, and the next
    /// [`open`](Self::open) recovers from what is really stored).
    pub fn handle_synced(
        &mut self,
        now: Millis,
        request: SyncRequest,
        result: Result<(), S::Error>,
    ) -> Result<(), JournalError> {
        self.last_sync = now;
        self.journal.synced(request, result).map_err(journal_error)
    }

    /// Syncs everything appended so far with [`Storage::sync`], as one
    /// [`poll_sync`](Self::poll_sync) and
    /// [`handle_synced`](Self::handle_synced) (one sync for every waiting
    /// sender): for drivers that sync where they hold the producer.
    pub fn sync(&mut self, now: Millis) -> Result<(), JournalError> {
        if let Some(kind) = self.journal.failed() {
            return Err(JournalError::FailedClosed(kind));
        }
        let Some(request) = self.poll_sync(now) else {
            self.last_sync = now;
            return Ok(());
        };
        let result = self.journal.storage_mut().sync(request.segment());
        self.handle_synced(now, request, result)
    }

    /// Failure that closed the journal, if any.
    pub fn failed(&self) -> Option<StorageErrorKind> {
        self.journal.failed()
    }

    /// The journal's id (first half of every [`MessageId`]).
    pub fn journal_id(&self) -> u64 {
        self.journal.id()
    }

    /// Counters and gauges.
    pub fn stats(&self) -> Stats {
        Stats {
            journal_bytes: self.journal.bytes(),
            segments: self.journal.segment_count() as u64,
            synced_seq: self.journal.synced_seq(),
            ..self.stats
        }
    }

    /// When the oldest message still in a lane window entered it.
    pub fn oldest_pending_since(&self) -> Option<Millis> {
        self.lanes
            .iter()
            .filter_map(|l| l.window.front().map(|s| s.queued_at))
            .min()
    }

    /// The storage (for inspection; do not write to it).
    pub fn storage(&self) -> &S {
        self.journal.storage()
    }

    /// Mutable access to the storage, for drivers that need it (for example
    /// to sync outside a lock). Writing journal data through it corrupts the journal.
    pub fn storage_mut(&mut self) -> &mut S {
        self.journal.storage_mut()
    }

    /// Closes the producer, returning the storage and buffer. Everything
    /// not confirmed stays in the journal for the next start.
    pub fn into_parts(mut self) -> (S, B) {
        let max_entry = self.config.max_entry;
        let (write, spare, _) = areas(self.buf.as_mut(), max_entry, self.manifest_len);
        if self.journal.failed().is_none() {
            let _ = self.journal.flush_marks(write, spare);
            let _ = self.journal.sync();
            let _ = self.journal.write_meta();
        }
        (self.journal.into_storage(), self.buf)
    }
}

mod dead_letters;
pub use dead_letters::EntryView;
pub use driving::TIMER_RETRY;
mod driving;
