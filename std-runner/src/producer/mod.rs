//! [`Producer`]: the blocking, thread-safe API over the core.
//!
//! The handle is `Send + Sync`; share it (`&Producer`, `Arc<Producer>`)
//! between threads that send. Sends come as `try_` (never waits for room), plain
//! (waits for room as long as it takes), `_timeout` and `_deadline` (waits
//! for room until then), for one message or a batch. Every successful send
//! returns only once the message is durable at the configured
//! [`SyncPolicy`](steadfast_core::SyncPolicy): with `Always`, after the
//! fsync that covers it, shared with every other sender waiting at the
//! time (group commit, see `state.rs`).

mod builder;
mod control;
mod dead_letters;
mod driver;
mod error;
mod message;
mod reentrancy;
mod state;
mod stats;
mod transport_side;

use std::sync::{Arc, MutexGuard};
use std::thread::JoinHandle;
use std::time::{Duration, Instant};

pub use builder::Builder;
pub use control::{CloseError, CloseReport, InspectError};
pub use dead_letters::DeadLetter;
pub use driver::PollStatus;
pub use error::{
    BatchError, BatchStop, DeadLetterError, FlushError, FullCause, OpenError, OpenFailed, Refusal, SendError,
    SendTimeoutError, TrySendError,
};
pub use message::{MAX_MESSAGE_HEADERS, OwnedMessage};
pub use stats::{FsyncStats, Stats};
use steadfast_core::{Message, MessageId, Millis, RecoveryReport, SendErrorKind, Seq, SyncPolicy};
pub use transport_side::DeliveryFn;

use state::{Shared, State};

use crate::clock;
use crate::storage::{FILES_OUTSIDE_SEGMENTS, FileStorage, RunnerStorage};

/// How long a blocked call waits between re-checks for room.
const ROOM_POLL: Duration = Duration::from_millis(20);

/// How long a call may wait for room.
#[derive(Clone, Copy)]
enum Wait {
    /// Not at all (`try_`).
    No,
    /// Until this instant (`None`: for ever).
    Until(Option<Instant>),
}

/// A Kafka producer that does not lose messages. See the crate docs.
///
/// Its journal lives in a [`FileStorage`] unless it is opened over another
/// [`RunnerStorage`] (for example a wrapper around one), with
/// [`Producer::with_storage`].
pub struct Producer<S: RunnerStorage = FileStorage> {
    shared: Arc<Shared<S>>,
    thread: Option<JoinHandle<()>>,
    report: RecoveryReport,
    max_entry: usize,
    /// The core's `confirm_interval` (close runs the timers it waits for).
    confirm_interval: Millis,
    /// Messages without a timestamp get the send time.
    stamp: bool,
}

impl<S: RunnerStorage> std::fmt::Debug for Producer<S> {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Producer")
            .field("threaded", &self.shared.threaded)
            .field("policy", &self.shared.policy)
            .finish_non_exhaustive()
    }
}

impl<S: RunnerStorage> Producer<S> {
    /// Journals `message`, waiting for room as long as it takes; returns its
    /// id once it is durable at the configured level.
    ///
    /// A message that breaks a rule the broker would refuse it for (topic
    /// name, partition, header names: [`Refusal::Invalid`]), that is too
    /// large, or that has more than [`MAX_MESSAGE_HEADERS`] headers is
    /// handed back at once. A message without a timestamp is stamped with
    /// the time of this call (see [`Builder::stamp_timestamps`]); the
    /// message handed back in an error is untouched.
    ///
    /// From inside this producer's own delivery callback it cannot wait
    /// for room: a full journal there is [`Refusal::InDeliveryCallback`].
    pub fn send(&self, message: OwnedMessage) -> Result<MessageId, SendError> {
        self.send_one(message, Wait::Until(None))
            .map_err(|(message, stop)| match stop {
                BatchStop::Refused(refusal) => SendError { message, refusal },
                // Waiting for room ends only inside the delivery callback.
                BatchStop::Full(_) if reentrancy::in_callback(&*self.shared) => SendError {
                    message,
                    refusal: Refusal::InDeliveryCallback,
                },
                // Unreachable otherwise; reported as a refusal rather than
                // a panic.
                BatchStop::Full(cause) => SendError {
                    message,
                    refusal: Refusal::Storage(match cause {
                        FullCause::NoSpace => steadfast_core::StorageErrorKind::NoSpace,
                        _ => steadfast_core::StorageErrorKind::Other,
                    }),
                },
            })
    }

    /// Journals `message` if there is room right now; otherwise hands it
    /// back in [`TrySendError::Full`]. "Try" is about room only: like every
    /// send it returns once the message is durable at the configured
    /// level, so under `SyncPolicy::Always` (the default) it still waits
    /// for the fsync that covers it (shared with other senders; typically
    /// a millisecond or a few on an SSD). A sender that must never wait for
    /// the disk uses `SyncPolicy::Interval` or `Never`, and accepts what
    /// those levels may lose to a power cut (see the crate docs).
    ///
    /// It is the send to use inside the delivery callback: it never waits
    /// for deliveries.
    pub fn try_send(&self, message: OwnedMessage) -> Result<MessageId, TrySendError> {
        self.send_one(message, Wait::No)
            .map_err(|(message, stop)| match stop {
                BatchStop::Full(cause) => TrySendError::Full { message, cause },
                BatchStop::Refused(refusal) => TrySendError::Refused { message, refusal },
            })
    }

    /// Like [`send`](Self::send), but waits for room at most `timeout`
    /// (inside the delivery callback: not at all, see
    /// [`Refusal::InDeliveryCallback`]).
    pub fn send_timeout(
        &self,
        message: OwnedMessage,
        timeout: Duration,
    ) -> Result<MessageId, SendTimeoutError> {
        self.send_until(message, clock::deadline_after(timeout))
    }

    /// Like [`send`](Self::send), but waits for room until `deadline`.
    pub fn send_deadline(
        &self,
        message: OwnedMessage,
        deadline: Instant,
    ) -> Result<MessageId, SendTimeoutError> {
        self.send_until(message, Some(deadline))
    }

    fn send_until(
        &self,
        message: OwnedMessage,
        deadline: Option<Instant>,
    ) -> Result<MessageId, SendTimeoutError> {
        self.send_one(message, Wait::Until(deadline))
            .map_err(|(message, stop)| match stop {
                BatchStop::Full(_) if reentrancy::in_callback(&*self.shared) => SendTimeoutError::Refused {
                    message,
                    refusal: Refusal::InDeliveryCallback,
                },
                BatchStop::Full(cause) => SendTimeoutError::Timeout { message, cause },
                BatchStop::Refused(refusal) => SendTimeoutError::Refused { message, refusal },
            })
    }

    /// Journals every message, in order, and makes them all durable with
    /// one fsync; waits for room as long as it takes. Each message is
    /// checked as [`send`](Self::send) checks it. On a refusal the accepted
    /// ones stay accepted and the rest are handed back, not journaled (if
    /// the journal fails closed meanwhile, see [`BatchError`]). Messages
    /// without a timestamp all get the time of this call.
    pub fn send_batch(&self, messages: Vec<OwnedMessage>) -> Result<Vec<MessageId>, BatchError> {
        self.send_many(messages, Wait::Until(None))
    }

    /// [`send_batch`](Self::send_batch) that stops at the first message
    /// there is no room for.
    pub fn try_send_batch(&self, messages: Vec<OwnedMessage>) -> Result<Vec<MessageId>, BatchError> {
        self.send_many(messages, Wait::No)
    }

    /// [`send_batch`](Self::send_batch) that waits for room at most `timeout`.
    pub fn send_batch_timeout(
        &self,
        messages: Vec<OwnedMessage>,
        timeout: Duration,
    ) -> Result<Vec<MessageId>, BatchError> {
        self.send_many(messages, Wait::Until(clock::deadline_after(timeout)))
    }

    /// [`send_batch`](Self::send_batch) that waits for room until `deadline`.
    pub fn send_batch_deadline(
        &self,
        messages: Vec<OwnedMessage>,
        deadline: Instant,
    ) -> Result<Vec<MessageId>, BatchError> {
        self.send_many(messages, Wait::Until(Some(deadline)))
    }

    /// The recovery report from start-up: what was found, cut, quarantined.
    pub fn recovery_report(&self) -> &RecoveryReport {
        &self.report
    }

    /// The journal's id (first half of every [`MessageId`]).
    pub fn journal_id(&self) -> u64 {
        self.report.journal
    }

    fn id(&self, seq: Seq) -> MessageId {
        MessageId {
            journal: self.report.journal,
            seq,
        }
    }

    fn send_one(&self, message: OwnedMessage, wait: Wait) -> Result<MessageId, (OwnedMessage, BatchStop)> {
        let Some(mut view) = message.as_message() else {
            let refusal = too_many_headers(&message);
            return Err((message, BatchStop::Refused(refusal)));
        };
        message::stamp(&mut view, self.stamp.then(clock::unix_millis));
        let mut g = self.shared.lock();
        let seq = loop {
            let (back, stop) = match self.append(&mut g, clock::millis(), view) {
                Ok(seq) => break seq,
                Err(e) => e,
            };
            let waited = match stop {
                BatchStop::Full(_) => self.wait_for_room(g, wait),
                BatchStop::Refused(_) => None,
            };
            match waited {
                Some(guard) => {
                    g = guard;
                    view = back;
                }
                None => {
                    drop(back);
                    return Err((message, stop));
                }
            }
        };
        if let Err(refusal) = g.flush_storage() {
            drop(g);
            return Err((message, BatchStop::Refused(refusal)));
        }
        if self.shared.policy == SyncPolicy::Always {
            if let Err(refusal) = self.shared.wait_durable(g, seq) {
                return Err((message, BatchStop::Refused(refusal)));
            }
        } else {
            self.interval_sync(g);
        }
        Ok(self.id(seq))
    }

    fn send_many(&self, mut messages: Vec<OwnedMessage>, wait: Wait) -> Result<Vec<MessageId>, BatchError> {
        let mut ids = Vec::with_capacity(messages.len());
        let mut stop = None;
        let mut g = self.shared.lock();
        // One clock read per chunk: `now` only stamps lane-window entries.
        let mut now = clock::millis();
        let stamp = self.stamp.then(clock::unix_millis);
        'messages: for (i, message) in messages.iter().enumerate() {
            let Some(mut view) = message.as_message() else {
                stop = Some((i, BatchStop::Refused(too_many_headers(message))));
                break;
            };
            message::stamp(&mut view, stamp);
            loop {
                match self.append(&mut g, now, view) {
                    Ok(seq) => {
                        ids.push(self.id(seq));
                        break;
                    }
                    Err((back, BatchStop::Full(cause))) => match self.wait_for_room(g, wait) {
                        Some(guard) => {
                            g = guard;
                            now = clock::millis();
                            view = back;
                        }
                        None => {
                            g = self.shared.lock();
                            let full = match wait {
                                Wait::Until(_) if reentrancy::in_callback(&*self.shared) => {
                                    BatchStop::Refused(Refusal::InDeliveryCallback)
                                }
                                _ => BatchStop::Full(cause),
                            };
                            stop = Some((i, full));
                            break 'messages;
                        }
                    },
                    Err((_, s)) => {
                        stop = Some((i, s));
                        break 'messages;
                    }
                }
            }
            if i % 1024 == 1023 {
                // Let the driver and other senders in.
                if g.flush_storage().is_err() {
                    break;
                }
                drop(g);
                g = self.shared.lock();
                now = clock::millis();
            }
        }
        if let Err(refusal) = g.flush_storage() {
            // What was accepted may not have reached the OS: nothing counts.
            return Err(BatchError {
                accepted: Vec::new(),
                rest: messages,
                stop: BatchStop::Refused(refusal),
            });
        }
        if let (Some(last), SyncPolicy::Always) = (ids.last(), self.shared.policy) {
            if let Err(refusal) = self.shared.wait_durable(g, last.seq) {
                return Err(BatchError {
                    accepted: Vec::new(),
                    rest: messages,
                    stop: BatchStop::Refused(refusal),
                });
            }
        } else {
            self.interval_sync(g);
        }
        match stop {
            None => Ok(ids),
            Some((i, stop)) => Err(BatchError {
                accepted: ids,
                rest: messages.split_off(i),
                stop,
            }),
        }
    }

    /// Under `SyncPolicy::Interval` without a background thread, a sender
    /// that finds the interval's fsync overdue runs it: the interval bounds
    /// what power loss can take, and `poll` may not be called for a while.
    /// With a background thread its syncer runs them, so no `send` waits
    /// for the disk.
    fn interval_sync(&self, g: MutexGuard<'_, State<S>>) {
        if let SyncPolicy::Interval(every) = self.shared.policy
            && !self.shared.threaded
            && !g.syncing
            && g.failed.is_none()
            && clock::millis() >= g.last_sync.saturating_add(every)
            && g.core.as_ref().is_some_and(|c| c.needs_sync())
        {
            drop(self.shared.lead_sync(g));
        }
    }

    /// Appends one message under the lock.
    fn append<'m>(
        &self,
        g: &mut State<S>,
        now: Millis,
        view: Message<'m>,
    ) -> Result<Seq, (Message<'m>, BatchStop)> {
        if let Some(reason) = &g.failed {
            let refusal = Refusal::FailedClosed {
                reason: reason.clone(),
            };
            return Err((view, BatchStop::Refused(refusal)));
        }
        let Some(core) = g.core.as_mut() else {
            return Err((view, BatchStop::Refused(Refusal::Closed)));
        };
        let sent = match core.send(now, view) {
            // A full disk and a current segment nobody needs: give up the
            // ballast so that the core can start a new segment and delete
            // that one, then take the ballast back out of the space freed.
            Err(e) if e.kind == SendErrorKind::NoSpace && core.current_reclaimable() => {
                core.storage_mut().release_reserve();
                if core.reclaim_current() {
                    core.storage_mut().keep_reserve();
                }
                core.send(now, e.message)
            }
            other => other,
        };
        match sent {
            Ok(seq) => {
                self.shared.note_appended(g, seq);
                Ok(seq)
            }
            Err(e) => {
                let stop = match e.kind {
                    // In the builder's terms: the budget counts the files
                    // that are not segments too.
                    SendErrorKind::Full { budget, used } => BatchStop::Full(FullCause::Budget {
                        budget: budget + FILES_OUTSIDE_SEGMENTS,
                        used: used + FILES_OUTSIDE_SEGMENTS,
                    }),
                    SendErrorKind::NoSpace => BatchStop::Full(FullCause::NoSpace),
                    SendErrorKind::TooLarge { size, limit } => {
                        BatchStop::Refused(Refusal::TooLarge { size, limit })
                    }
                    SendErrorKind::Invalid(why) => BatchStop::Refused(Refusal::Invalid(why)),
                    SendErrorKind::FailedClosed(_) | SendErrorKind::Storage(_) if core.failed().is_some() => {
                        let reason = state::failure_reason(core);
                        g.failed.get_or_insert(reason.clone());
                        self.shared.progress.notify_all();
                        BatchStop::Refused(Refusal::FailedClosed { reason })
                    }
                    SendErrorKind::FailedClosed(kind) | SendErrorKind::Storage(kind) => {
                        BatchStop::Refused(Refusal::Storage(kind))
                    }
                    _ => BatchStop::Refused(Refusal::Storage(steadfast_core::StorageErrorKind::Other)),
                };
                Err((e.message, stop))
            }
        }
    }

    /// Waits a little for room (the driver frees space as deliveries are
    /// confirmed); `None` once `wait` says to give up.
    fn wait_for_room<'a>(
        &'a self,
        g: MutexGuard<'a, State<S>>,
        wait: Wait,
    ) -> Option<MutexGuard<'a, State<S>>> {
        let deadline = match wait {
            Wait::No => return None,
            // Room comes from deliveries, which wait for the callback.
            Wait::Until(_) if reentrancy::in_callback(&*self.shared) => return None,
            Wait::Until(deadline) => deadline,
        };
        let limit = match deadline {
            Some(d) if clock::remaining(d).is_zero() => return None,
            Some(d) => clock::remaining(d).min(ROOM_POLL),
            None => ROOM_POLL,
        };
        Some(self.make_progress(g, limit))
    }

    /// Lets delivery make progress for up to `limit`: waits for the
    /// background driver, or runs a round of it in caller-driven mode.
    fn make_progress<'a>(&'a self, g: MutexGuard<'a, State<S>>, limit: Duration) -> MutexGuard<'a, State<S>> {
        if self.shared.threaded {
            return self.shared.wait_progress(g, limit);
        }
        drop(g);
        match self.shared.driver.try_lock() {
            Ok(mut d) => {
                self.shared.round(&mut d, limit);
            }
            Err(std::sync::TryLockError::Poisoned(p)) => {
                self.shared.round(&mut p.into_inner(), limit);
            }
            Err(std::sync::TryLockError::WouldBlock) => {
                // Another thread is running a round; wait for its news.
                let g = self.shared.lock();
                return self.shared.wait_progress(g, limit);
            }
        }
        self.shared.lock()
    }
}

fn too_many_headers(message: &OwnedMessage) -> Refusal {
    Refusal::TooManyHeaders {
        count: message.headers.len(),
        limit: MAX_MESSAGE_HEADERS,
    }
}
