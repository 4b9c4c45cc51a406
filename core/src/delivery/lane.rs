//! Ordering lanes: the unit of ordering and of in-flight limits.
//!
//! A message's lane is a hash of its topic and its partition (or, without
//! one, its key), so every message of one partition — and of one key — is in
//! one lane. A lane has at most one batch in flight, and a later message of a
//! lane is never sent ahead of an earlier one that is waiting to be retried.
//!
//! Each lane holds a bounded window of the messages it is working on (their
//! journal positions, never their payloads). When the window is full the
//! lane remembers where its overflow starts and reads it back later.

use crate::journal::Position;
use crate::message::Message;
use crate::message::Seq;
use crate::transport::Millis;

/// Where one message of a window stands.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) enum SlotState {
    /// Waiting to be sent (first time, or again after a failure).
    Queued,
    /// Handed to the transport; no outcome yet.
    InFlight,
    /// Confirmed by the broker; waiting for earlier ones before the
    /// watermark moves past it.
    Confirmed,
    /// Moved to the dead-letter area.
    DeadLettered,
}

/// One message in a lane's window (64 bytes: 16 lanes of 1024 slots are
/// 1 MiB, whatever the backlog).
#[derive(Clone, Copy, Debug)]
pub(crate) struct Slot {
    pub seq: Seq,
    pub pos: Position,
    /// Bytes of its frame, padding included: a batch reads exactly these
    /// (see `build_batch`), not a chunk around them.
    pub len: u32,
    pub state: SlotState,
    /// When it first failed (for the delivery timeout); [`NOT_FAILING`]
    /// until then.
    pub failing_since: Millis,
    /// When it entered the window (for "oldest unconfirmed").
    pub queued_at: Millis,
    /// Where the broker put it, once confirmed.
    pub partition: i32,
    /// Offset there (-1 if unknown).
    pub offset: i64,
}

/// [`Slot::failing_since`] of a message that has not failed.
pub(crate) const NOT_FAILING: Millis = Millis::MAX;

const _: () = assert!(core::mem::size_of::<Slot>() <= 64);

impl Slot {
    /// A message just indexed: its frame of `len` bytes is at `pos`.
    pub(crate) fn queued(seq: Seq, pos: Position, len: u32, now: Millis) -> Slot {
        Slot {
            seq,
            pos,
            len,
            state: SlotState::Queued,
            failing_since: NOT_FAILING,
            queued_at: now,
            partition: -1,
            offset: -1,
        }
    }

    pub(crate) fn done(&self) -> bool {
        matches!(self.state, SlotState::Confirmed | SlotState::DeadLettered)
    }
}

/// One ordering lane.
#[derive(Debug)]
pub(crate) struct Lane<const WINDOW: usize> {
    pub window: heapless::Deque<Slot, WINDOW>,
    /// First journal position of this lane's messages not in the window.
    pub overflow: Option<Position>,
    /// Records of this lane the transport has not answered yet.
    pub in_flight: usize,
    /// No send before this time (backoff).
    pub not_before: Millis,
    /// Consecutive failed batches (drives the backoff).
    pub attempt: u32,
    /// A record of the current batch failed and must be sent again.
    pub batch_failed: bool,
    /// Largest wait a server asked for in the current batch.
    pub server_wait: Option<Millis>,
}

impl<const WINDOW: usize> Lane<WINDOW> {
    pub(crate) const fn new() -> Self {
        Lane {
            window: heapless::Deque::new(),
            overflow: None,
            in_flight: 0,
            not_before: 0,
            attempt: 0,
            batch_failed: false,
            server_wait: None,
        }
    }

    /// True if the lane could send now.
    pub(crate) fn ready(&self, now: Millis) -> bool {
        self.in_flight == 0
            && now >= self.not_before
            && self.window.iter().any(|s| s.state == SlotState::Queued)
    }

    /// The slot for `seq`, if it is in the window.
    ///
    /// A binary search: the window is sorted by seq (`index` only appends
    /// a seq above the last one). This runs for every outcome, on windows
    /// of hundreds of slots, where a linear scan is a measurable cost.
    pub(crate) fn slot_mut(&mut self, seq: Seq) -> Option<&mut Slot> {
        let (head, tail) = self.window.as_mut_slices();
        let half = if head.last().is_some_and(|last| seq <= last.seq) {
            head
        } else {
            tail
        };
        let i = half.binary_search_by_key(&seq, |s| s.seq).ok()?;
        half.get_mut(i)
    }

    /// The slot for `seq`, if it is in the window (see [`slot_mut`](Self::slot_mut)).
    pub(crate) fn slot(&self, seq: Seq) -> Option<&Slot> {
        let (head, tail) = self.window.as_slices();
        let half = if head.last().is_some_and(|last| seq <= last.seq) {
            head
        } else {
            tail
        };
        let i = half.binary_search_by_key(&seq, |s| s.seq).ok()?;
        half.get(i)
    }

    /// Checks the lane's invariants (debug builds only; a scan of the
    /// window): its slots are past the lane's watermark `mark`, in
    /// increasing seq and journal order, before its overflow; `in_flight`
    /// counts the slots in flight. Called where the lane changes, so the
    /// simulator stops at the step that broke one.
    pub(crate) fn debug_check(&self, lane: usize, mark: Seq) {
        if !cfg!(debug_assertions) {
            return;
        }
        let key = |p: Position| (p.segment, p.offset);
        let mut prev: Option<&Slot> = None;
        let mut flying = 0;
        for s in self.window.iter() {
            debug_assert!(
                s.seq > mark,
                "lane {lane}: slot {} at or below the watermark {mark}",
                s.seq
            );
            if let Some(p) = prev {
                debug_assert!(s.seq > p.seq, "lane {lane}: window out of seq order at {}", s.seq);
                debug_assert!(
                    key(s.pos) > key(p.pos),
                    "lane {lane}: window out of journal order at {}",
                    s.seq
                );
            }
            flying += usize::from(s.state == SlotState::InFlight);
            prev = Some(s);
        }
        debug_assert_eq!(
            flying, self.in_flight,
            "lane {lane}: in_flight does not count its slots"
        );
        if let (Some(o), Some(last)) = (self.overflow, prev) {
            debug_assert!(
                key(o) > key(last.pos),
                "lane {lane}: overflow before the window's end"
            );
        }
    }

    /// Seq of the last message the lane knows of.
    pub(crate) fn last_seq(&self) -> Option<Seq> {
        self.window.back().map(|s| s.seq)
    }
}

/// FNV-1a, so lanes are stable across builds and platforms.
fn fnv1a(mut hash: u64, bytes: &[u8]) -> u64 {
    for b in bytes {
        hash ^= u64::from(*b);
        hash = hash.wrapping_mul(0x0000_0100_0000_01b3);
    }
    hash
}

/// The lane of a message among `lanes`.
pub(crate) fn lane_of(message: &Message<'_>, lanes: usize) -> u16 {
    let mut h = fnv1a(0xcbf2_9ce4_8422_2325, message.topic.as_bytes());
    h = fnv1a(h, &[0xff]);
    match (message.partition, message.key) {
        (Some(p), _) => h = fnv1a(fnv1a(h, b"p"), &p.to_le_bytes()),
        (None, Some(key)) => h = fnv1a(fnv1a(h, b"k"), key),
        (None, None) => {}
    }
    // `h % lanes`, but without a 64-bit division (a third of this
    // function's time in send profiles) when `lanes` is a power of two,
    // where masking gives the same lane; no panic for zero lanes.
    let lanes = lanes as u64;
    let lane = if lanes.is_power_of_two() {
        h & (lanes - 1)
    } else {
        h.checked_rem(lanes).unwrap_or(0)
    };
    lane as u16
}
