//! The producer's operations besides sending: driving (`poll`), flushing,
//! closing, statistics, dead letters and journal inspection.

use std::fmt;
use std::sync::Arc;
use std::time::{Duration, Instant};

use steadfast_core::{EntryView, JournalError, MessageId, Seq, SyncPolicy};

use super::dead_letters::{self, DeadLetter};
use super::driver::PollStatus;
use super::error::{DeadLetterError, FlushError, OpenError, OpenFailed};
use super::reentrancy;
use super::state::{Shared, State, lock};
use super::stats::Stats;
use super::{Producer, ROOM_POLL};
use crate::clock;
use crate::storage::{DurabilityNote, FileStorage, RunnerStorage};
use crate::transport::HoldTransport;

/// What [`Producer::close`] left behind.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
#[non_exhaustive]
pub struct CloseReport {
    /// True if everything sent was confirmed or dead-lettered, and the
    /// delivery callback had returned for all of it, before closing:
    /// `pending` and `callbacks_pending` are 0.
    pub flushed: bool,
    /// Messages still unconfirmed: they stay in the journal and are sent
    /// after the next start.
    pub pending: u64,
    /// Deliveries (confirmations, dead letters) of the driver's last round
    /// whose delivery callback had not all returned when the deadline came.
    /// Their messages are settled; `close` did not wait past its deadline
    /// for the callback, which finishes them on the driver thread (that
    /// thread then ends on its own).
    pub callbacks_pending: u64,
    /// Dead letters waiting for a decision.
    pub dead_letters: u64,
    /// Bytes the journal occupies.
    pub journal_bytes: u64,
}

/// Why [`Producer::close`] could not close cleanly.
#[derive(Clone, Debug, PartialEq, Eq)]
#[non_exhaustive]
pub enum CloseError {
    /// The journal had failed closed: the last confirmations may not be
    /// journaled (those messages are sent again after a restart; nothing
    /// unconfirmed is lost).
    FailedClosed {
        /// What failed.
        reason: String,
        /// What was left.
        report: CloseReport,
    },
    /// `close` (or `close_deadline`) was called from this producer's own
    /// delivery callback. The journal is closed, but without waiting for
    /// deliveries (they run after the callback returns): what is
    /// unconfirmed stays journaled for the next start. To wait for
    /// deliveries, close from another thread.
    InDeliveryCallback {
        /// What was left.
        report: CloseReport,
    },
}

impl fmt::Display for CloseError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            CloseError::FailedClosed { reason, report } => write!(
                f,
                "closed a journal that had failed ({reason}); {} messages stay journaled for the next start",
                report.pending
            ),
            CloseError::InDeliveryCallback { report } => write!(
                f,
                "close was called from the producer's own delivery callback, where it cannot wait for \
                 deliveries: the journal was closed without waiting and {} messages stay journaled for the \
                 next start; close from another thread to wait for them",
                report.pending
            ),
        }
    }
}

impl std::error::Error for CloseError {}

/// Why reading the journal failed.
#[derive(Clone, Debug, PartialEq, Eq)]
#[non_exhaustive]
pub enum InspectError {
    /// The producer was closed.
    Closed,
    /// The journal could not be read.
    Journal(JournalError),
}

impl fmt::Display for InspectError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            InspectError::Closed => f.write_str("the producer is closed"),
            InspectError::Journal(e) => write!(f, "{e}"),
        }
    }
}

impl std::error::Error for InspectError {}

impl<S: RunnerStorage> Producer<S> {
    /// Runs one round of the driver, waiting at most `timeout` for the
    /// transport or for work. This is how a program without threads (WASI
    /// preview 1) delivers: call it in your own loop, sleeping (or doing
    /// other work) for up to `PollStatus::next` between calls. With a
    /// background thread ([`Builder::spawn`](super::Builder::spawn)) it
    /// runs nothing and only reports; so it does when called from this
    /// producer's own delivery callback (the round that runs the callback
    /// is still going on).
    pub fn poll(&self, timeout: Duration) -> PollStatus {
        if self.shared.threaded || reentrancy::in_callback(&*self.shared) {
            let g = self.shared.lock();
            return match g.core.as_ref() {
                Some(core) => PollStatus {
                    idle: core.is_idle(),
                    stopped: g.failed.is_some(),
                    ..PollStatus::default()
                },
                None => PollStatus {
                    stopped: true,
                    ..PollStatus::default()
                },
            };
        }
        let mut d = lock(&self.shared.driver);
        self.shared.round(&mut d, timeout)
    }

    /// Waits, as long as it takes, until every message sent so far (and
    /// every one recovered at start-up) is confirmed or dead-lettered, and
    /// the delivery callback has seen it. From inside this producer's own
    /// delivery callback it fails at once with
    /// [`FlushError::InDeliveryCallback`] (it could never end there).
    pub fn flush(&self) -> Result<(), FlushError> {
        self.flush_until(None)
    }

    /// [`flush`](Self::flush) for at most `timeout`.
    pub fn flush_timeout(&self, timeout: Duration) -> Result<(), FlushError> {
        self.flush_until(clock::deadline_after(timeout))
    }

    /// [`flush`](Self::flush) until `deadline`.
    pub fn flush_deadline(&self, deadline: Instant) -> Result<(), FlushError> {
        self.flush_until(Some(deadline))
    }

    fn flush_until(&self, deadline: Option<Instant>) -> Result<(), FlushError> {
        if reentrancy::in_callback(&*self.shared) {
            return Err(FlushError::InDeliveryCallback);
        }
        let mut g = self.shared.lock();
        loop {
            if let Some(reason) = &g.failed {
                let reason = reason.clone();
                return Err(FlushError::FailedClosed { reason });
            }
            let Some(core) = g.core.as_ref() else {
                return Err(FlushError::Closed);
            };
            if core.is_idle() && g.unreported == 0 {
                return Ok(());
            }
            let limit = match deadline {
                Some(d) if clock::remaining(d).is_zero() => {
                    let pending = core.stats().pending;
                    return Err(FlushError::Timeout { pending });
                }
                Some(d) => clock::remaining(d).min(ROOM_POLL),
                None => ROOM_POLL,
            };
            g = self.make_progress(g, limit);
        }
    }

    /// Waits up to `timeout` for everything to be delivered, then stops the
    /// driver and closes the journal. Nothing unconfirmed is forgotten: it
    /// stays journaled and is sent after the next start.
    ///
    /// It returns about `timeout` after it was called at the latest (plus
    /// at most 50 ms for the driver thread to end, and the time to journal
    /// and fsync the last confirmations): a delivery
    /// callback or a transport call still running at the deadline is not
    /// waited for (the driver thread ends on its own once it returns, and
    /// [`CloseReport::callbacks_pending`] counts the deliveries its callback
    /// had not finished). `Ok` means the journal was closed cleanly;
    /// whether everything was delivered is [`CloseReport::flushed`].
    ///
    /// Called from this producer's own delivery callback, it closes the
    /// journal without waiting and returns
    /// [`CloseError::InDeliveryCallback`]; dropping the producer there is
    /// also safe (neither joins the thread it runs on).
    pub fn close(self, timeout: Duration) -> Result<CloseReport, CloseError> {
        self.close_until(clock::deadline_after(timeout))
    }

    /// [`close`](Self::close) with a deadline.
    pub fn close_deadline(self, deadline: Instant) -> Result<CloseReport, CloseError> {
        self.close_until(Some(deadline))
    }

    fn close_until(mut self, deadline: Option<Instant>) -> Result<CloseReport, CloseError> {
        let flush = self.flush_until(deadline);
        let (mut report, failed) = self.shutdown(deadline);
        report.flushed = flush.is_ok() && report.pending == 0 && report.callbacks_pending == 0;
        match (failed, flush) {
            (Some(reason), _) => Err(CloseError::FailedClosed { reason, report }),
            (None, Err(FlushError::InDeliveryCallback)) => Err(CloseError::InDeliveryCallback { report }),
            (None, _) => Ok(report),
        }
    }

    /// Stops the driver and closes the journal (what `close` and `Drop`
    /// share), waiting for the driver thread until `deadline` at most.
    fn shutdown(&mut self, deadline: Option<Instant>) -> (CloseReport, Option<String>) {
        {
            let mut g = self.shared.lock();
            g.stopping = true;
            self.shared.work.notify_all();
            self.shared.progress.notify_all();
            // Let a running group-commit fsync finish first.
            while g.syncing {
                g = self.shared.wait_progress(g, ROOM_POLL);
            }
        }
        if let Some(thread) = self.thread.take() {
            reentrancy::end_thread(thread, deadline);
        }
        let mut g = self.shared.lock();
        let mut report = CloseReport::default();
        let mut failed = g.failed.clone();
        if let Some(mut core) = g.core.take() {
            // Run the timers as if the confirmation interval had passed:
            // journals the last confirmations and deletes the segments they
            // free, so a restart on a nearly full disk finds room.
            if g.failed.is_none() {
                let _ = core.handle_timeout(clock::millis().saturating_add(self.confirm_interval));
                core.storage_mut().keep_reserve();
            }
            let stats = core.stats();
            report.pending = stats.pending;
            report.callbacks_pending = g.unreported as u64;
            report.dead_letters = stats.dead_letters;
            report.journal_bytes = stats.journal_bytes;
            // Journals the last confirmations, syncs, writes the high-water mark.
            let (storage, _buffer) = core.into_parts();
            if let Some(reason) = storage.failure() {
                failed.get_or_insert_with(|| reason.to_string());
            }
        }
        drop(g);
        self.shared.progress.notify_all();
        (report, failed)
    }

    /// Undoes a half-finished open, handing back the transport.
    pub(crate) fn unwind(shared: Arc<Shared<S>>, error: OpenError) -> OpenFailed {
        if let Some(core) = shared.lock().core.take() {
            drop(core.into_parts());
        }
        let transport = std::mem::replace(
            &mut lock(&shared.driver).transport,
            Box::new(HoldTransport::default()),
        );
        OpenFailed::new(transport, error)
    }

    /// Counters and gauges.
    pub fn stats(&self) -> Stats {
        let g = self.shared.lock();
        let mut stats = Stats {
            fsync: g.fsync,
            failed: g.failed.clone(),
            last_error: g.last_error.clone(),
            transport_failures: g.transport.failures,
            last_transport_error: g.transport.last.clone(),
            ..Stats::default()
        };
        if let Some(core) = g.core.as_ref() {
            let s = core.stats();
            let now = clock::millis();
            stats.pending = s.pending;
            stats.pending_bytes = s.journal_bytes;
            stats.oldest_pending = core
                .oldest_pending_since()
                .map(|t| Duration::from_millis(now.saturating_sub(t)));
            stats.sent = s.sent;
            stats.confirmed = s.confirmed;
            stats.retried = s.retried;
            stats.dead_lettered = s.dead_lettered;
            stats.dead_letters = s.dead_letters;
            stats.in_flight = core.in_flight() as u64;
            stats.segments = s.segments;
            stats.durable_seq = self.shared.durable().max(s.synced_seq);
        }
        stats
    }

    /// Durability notes about this platform (for example "directory fsync
    /// not supported"), each once.
    pub fn durability_notes(&self) -> Vec<DurabilityNote> {
        self.shared
            .lock()
            .core
            .as_ref()
            .map(|c| c.storage().notes().to_vec())
            .unwrap_or_default()
    }

    /// Calls `each` for every readable journal entry, oldest first (for
    /// `journal dump`). Holds the producer's lock throughout.
    pub fn for_each_entry(&self, each: impl FnMut(EntryView<'_>)) -> Result<(), InspectError> {
        let mut g = self.shared.lock();
        let core = g.core.as_mut().ok_or(InspectError::Closed)?;
        core.for_each_entry(each).map_err(InspectError::Journal)
    }

    /// Every dead letter not yet discarded or re-driven, oldest first. Reads
    /// the whole journal under the producer's lock.
    pub fn dead_letters(&self) -> Result<Vec<DeadLetter>, DeadLetterError> {
        let mut g = self.shared.lock();
        let core = g.core.as_mut().ok_or(DeadLetterError::Closed)?;
        Ok(dead_letters::list(core)?)
    }

    /// Sends dead letter `seq` (its entry seq, [`DeadLetter::seq`]) again as
    /// a new message with a new id; returns that id once durable.
    pub fn redrive_dead_letter(&self, seq: Seq) -> Result<MessageId, DeadLetterError> {
        let mut scratch = vec![0u8; self.max_entry];
        let mut g = self.shared.lock();
        let core = g.core.as_mut().ok_or(DeadLetterError::Closed)?;
        let new_seq = core
            .redrive_dead_letter(clock::millis(), seq, &mut scratch)
            .map_err(|e| dead_letter_error(e, seq))?;
        self.shared.note_appended(&mut g, new_seq);
        g.flush_storage().map_err(|_| {
            DeadLetterError::Journal(JournalError::FailedClosed(
                steadfast_core::StorageErrorKind::FailedClosed,
            ))
        })?;
        self.settle(g)?;
        Ok(self.id(new_seq))
    }

    /// Deletes dead letter `seq` (its entry seq, [`DeadLetter::seq`]) for good.
    pub fn discard_dead_letter(&self, seq: Seq) -> Result<(), DeadLetterError> {
        let mut g = self.shared.lock();
        let core = g.core.as_mut().ok_or(DeadLetterError::Closed)?;
        core.discard_dead_letter(seq)
            .map_err(|e| dead_letter_error(e, seq))?;
        g.flush_storage().map_err(|_| {
            DeadLetterError::Journal(JournalError::FailedClosed(
                steadfast_core::StorageErrorKind::FailedClosed,
            ))
        })?;
        self.settle(g)
    }

    /// Makes a dead-letter decision durable under `SyncPolicy::Always`.
    fn settle(&self, g: std::sync::MutexGuard<'_, State<S>>) -> Result<(), DeadLetterError> {
        if self.shared.policy != SyncPolicy::Always {
            return Ok(());
        }
        let (_g, result) = self.shared.sync_all(g);
        result.map_err(|_| {
            DeadLetterError::Journal(JournalError::FailedClosed(
                steadfast_core::StorageErrorKind::FailedClosed,
            ))
        })
    }
}

impl Producer<FileStorage> {
    /// Files in the journal directory that are not part of the journal.
    pub fn stray_files(&self) -> std::io::Result<Vec<std::path::PathBuf>> {
        match self.shared.lock().core.as_ref() {
            Some(core) => core.storage().stray_files(),
            None => Ok(Vec::new()),
        }
    }
}

fn dead_letter_error(e: JournalError, seq: Seq) -> DeadLetterError {
    match e {
        JournalError::NoSuchDeadLetter => DeadLetterError::NotFound { seq },
        e => DeadLetterError::Journal(e),
    }
}

impl<S: RunnerStorage> Drop for Producer<S> {
    /// Stops the driver and closes the journal without waiting for
    /// deliveries; everything unconfirmed stays journaled.
    fn drop(&mut self) {
        let open = self.thread.is_some() || self.shared.lock().core.is_some();
        if open {
            let _ = self.shutdown(None);
        }
    }
}
