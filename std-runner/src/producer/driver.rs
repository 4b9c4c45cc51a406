//! The driver: one round of the loop that runs the core.
//!
//! ```text
//!  ┌─▶ 1. poll_transmit → transport.submit     (state lock per batch; submit
//!  │                                            runs outside it)
//!  │   2. wait for outcomes, at most until the core's next deadline
//!  │      (transport.poll if records are in flight, else the `work`
//!  │       condvar that `send` signals)
//!  │   3. handle_outcome for each, handle_timeout (state lock), and in
//!  │      `poll()` the interval fsync when it is due
//!  └── 4. the user's delivery callback (no lock held)
//! ```
//!
//! The same round runs on the background thread (`Producer::spawn`) and in
//! the caller's own `poll()` (platforms without threads, WASI preview 1).
//! The background driver runs the `Sync::Interval` fsyncs on a second
//! thread (`run_syncer`): an fsync of the megabytes an interval dirties
//! takes tens of milliseconds, which neither the driver (batches, outcomes)
//! nor a sender should wait for. Every fsync, wherever it runs, is the
//! core's sync step (`Shared::lead_sync` in `state.rs`).

use std::time::Duration;

use steadfast_core::{Failure, FailureClass, JournalError, Millis, Outcome, OutgoingRecord, SyncPolicy};

use super::reentrancy;
use super::state::{Shared, State};
use super::stats::note_outcomes;
use super::transport_side::Driver;
use crate::clock;
use crate::storage::RunnerStorage;

/// What one round did, for [`Producer::poll`](crate::Producer::poll).
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
#[non_exhaustive]
pub struct PollStatus {
    /// Deliveries (confirmations and dead letters) reported in this round.
    pub deliveries: usize,
    /// Nothing is pending or in flight: everything sent is confirmed or
    /// dead-lettered.
    pub idle: bool,
    /// When the core next needs a round, from now (`None`: only when
    /// something is sent).
    pub next: Option<Duration>,
    /// The producer is closed or its journal failed closed.
    pub stopped: bool,
}

/// Who runs the `Sync::Interval` fsyncs.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum IntervalSyncs {
    /// The round, when one is due (`Producer::poll`, no thread of its own).
    InRound,
    /// The syncer thread of the background driver.
    Syncer,
}

/// How long before it is due the syncer thread starts an interval fsync
/// (at most a quarter of the interval), so that a syncer scheduled late
/// still keeps appends within the interval of an fsync.
const SYNC_EARLY: Millis = 20;

/// Waits at least this long after an error, so a persistent one cannot
/// make the driver spin.
const ERROR_BACKOFF: Duration = Duration::from_millis(20);

impl<S: RunnerStorage> Shared<S> {
    /// Runs one round, waiting at most `max_wait` for outcomes or work.
    pub(crate) fn round(&self, d: &mut Driver, max_wait: Duration) -> PollStatus {
        self.round_with(d, max_wait, IntervalSyncs::InRound)
    }

    fn round_with(&self, d: &mut Driver, max_wait: Duration, syncs: IntervalSyncs) -> PollStatus {
        let mut errored = false;
        // 1. Hand every ready batch to the transport.
        let deadline = loop {
            let mut g = self.lock();
            g.new_work = false;
            let state = &mut *g;
            let Some(core) = state.core.as_mut() else {
                return stopped();
            };
            if state.failed.is_some() {
                return stopped();
            }
            let now = clock::millis();
            match core.poll_transmit(now, &mut d.out) {
                Ok(Some(batch)) => {
                    drop(g);
                    let mut records: Vec<OutgoingRecord<'_>> = Vec::with_capacity(batch.len());
                    for (seq, record) in batch.seqs().zip(batch.records(&d.out)) {
                        match record {
                            Ok(r) => records.push(r),
                            // Checksummed but undecodable: it can never be
                            // sent, so it goes to the dead-letter area.
                            Err(e) => d.outcomes.push((
                                seq,
                                Outcome::Failed(Failure::new(
                                    FailureClass::Terminal,
                                    -1,
                                    &format!("journal entry cannot be decoded: {e}"),
                                )),
                            )),
                        }
                    }
                    if !records.is_empty() {
                        d.transport.submit(now, &records);
                    }
                }
                Ok(None) => break self.next_deadline(state, now, syncs),
                Err(e) => {
                    note_error(state, e);
                    errored = true;
                    break self.next_deadline(state, now, syncs);
                }
            }
        };

        // 2. Wait for outcomes, or for new messages, until the next deadline.
        let mut wait = match deadline {
            Some(at) => Duration::from_millis(at.saturating_sub(clock::millis())).min(max_wait),
            None => max_wait,
        };
        if errored {
            wait = wait.max(ERROR_BACKOFF.min(max_wait));
        }
        if d.transport.in_flight() > 0 {
            let ms = u64::try_from(wait.as_millis()).unwrap_or(u64::MAX);
            let outcomes = &mut d.outcomes;
            d.transport
                .poll(clock::millis(), ms, &mut |seq, o| outcomes.push((seq, o)));
        } else if d.outcomes.is_empty() && !wait.is_zero() {
            self.wait_for_work(wait);
        }

        // 3. Feed outcomes and run the core's timers.
        let mut g = self.lock();
        let now = clock::millis();
        let state = &mut *g;
        let Some(core) = state.core.as_mut() else {
            return stopped();
        };
        note_outcomes(&mut state.transport, &mut state.last_error, &d.outcomes);
        for (seq, outcome) in d.outcomes.drain(..) {
            core.handle_outcome(now, seq, outcome);
        }
        while let Some(delivery) = core.poll_delivery(now) {
            d.deliveries.push(delivery);
        }
        // `flush` waits until the callback has seen these too.
        state.unreported += d.deliveries.len();
        let bytes_before = core.stats().journal_bytes;
        let timers = core.handle_timeout(now);
        let freed = core.stats().journal_bytes < bytes_before;
        let dirty = core.needs_sync();
        if let Err(e) = timers {
            note_error(state, e);
        }
        if let (SyncPolicy::Interval(every), IntervalSyncs::InRound) = (self.policy, syncs) {
            let due = now >= state.last_sync.saturating_add(every);
            if due && dirty && !state.syncing && state.failed.is_none() {
                g = self.lead_sync(g);
            }
        }
        let now = clock::millis();
        let (idle, next) = match g.core.as_ref() {
            Some(core) => (
                core.is_idle() && d.transport.in_flight() == 0,
                core.poll_timeout(now)
                    .map(|at| Duration::from_millis(at.saturating_sub(now))),
            ),
            None => (false, None),
        };
        if g.failed.is_none() {
            let _ = g.flush_storage();
            if freed && let Some(core) = g.core.as_mut() {
                // Space was freed: take back the ballast a full disk used.
                core.storage_mut().keep_reserve();
            }
        }
        let stopped = g.failed.is_some();
        drop(g);

        // 4. Tell the user, holding no lock.
        let deliveries = d.deliveries.len();
        if deliveries > 0 {
            let mut panicked = false;
            let in_callback = reentrancy::enter(self);
            if let Some(callback) = d.on_delivery.as_mut() {
                for delivery in &d.deliveries {
                    // A panicking callback must not stop delivery for good.
                    let call = std::panic::AssertUnwindSafe(|| callback(delivery));
                    panicked |= std::panic::catch_unwind(call).is_err();
                }
            }
            d.deliveries.clear();
            drop(in_callback);
            let mut g = self.lock();
            g.unreported = g.unreported.saturating_sub(deliveries);
            if panicked {
                g.last_error = Some("the delivery callback panicked".into());
            }
        }
        if deliveries > 0 || freed {
            self.progress.notify_all();
        }
        PollStatus {
            deliveries,
            idle,
            next,
            stopped,
        }
    }

    /// The core's next deadline, and the interval fsync's if the round
    /// runs it.
    fn next_deadline(&self, state: &State<S>, now: u64, syncs: IntervalSyncs) -> Option<u64> {
        let core = state.core.as_ref()?;
        let mut next = core.poll_timeout(now);
        if let (SyncPolicy::Interval(every), IntervalSyncs::InRound) = (self.policy, syncs)
            && core.needs_sync()
        {
            // While another thread's fsync runs, the next one is due
            // `every` after it ends: waking `every` from now is early
            // enough (waking when the last one was due would make the
            // driver spin until it ends).
            let at = if state.syncing {
                now.saturating_add(every)
            } else {
                state.last_sync.saturating_add(every)
            };
            next = Some(next.map_or(at, |n| n.min(at)));
        }
        next
    }

    /// Waits until `send` signals new work or `limit` passes.
    fn wait_for_work(&self, limit: Duration) {
        if cfg!(all(target_family = "wasm", not(target_feature = "atomics"))) {
            // No other thread can send while this one sleeps.
            clock::sleep(limit);
            return;
        }
        let mut g = self.lock();
        if g.new_work || g.stopping || g.core.is_none() {
            return;
        }
        g.driver_waiting = true;
        let started = clock::now();
        let (mut g, waited) = self
            .work
            .wait_timeout(g, limit)
            .unwrap_or_else(std::sync::PoisonError::into_inner);
        g.driver_waiting = false;
        let left = limit.saturating_sub(clock::now().saturating_duration_since(started));
        if !waited.timed_out() && g.new_work && !g.stopping && !self.linger.is_zero() {
            // Linger, so that messages sent meanwhile go out in one batch
            // and senders need not wake the driver once each.
            drop(
                self.work
                    .wait_timeout(g, self.linger.min(left))
                    .unwrap_or_else(std::sync::PoisonError::into_inner),
            );
        }
    }

    /// The background driver: rounds until the producer stops.
    pub(crate) fn run(&self) {
        std::thread::scope(|scope| {
            let syncs = match self.policy {
                SyncPolicy::Interval(every) => {
                    let syncer = std::thread::Builder::new()
                        .name("steadfast-sync".into())
                        .spawn_scoped(scope, move || self.run_syncer(every));
                    match syncer {
                        Ok(_) => IntervalSyncs::Syncer,
                        Err(_) => IntervalSyncs::InRound,
                    }
                }
                _ => IntervalSyncs::InRound,
            };
            loop {
                if self.lock().stopping {
                    return;
                }
                let mut d = super::state::lock(&self.driver);
                let status = self.round_with(&mut d, self.poll_interval, syncs);
                drop(d);
                if status.stopped {
                    // Closed or failed closed: wait for `close` to end the thread.
                    let g = self.lock();
                    if !g.stopping {
                        drop(self.wait_progress(g, self.poll_interval));
                    }
                }
            }
        });
    }

    /// The background driver's `Sync::Interval` fsyncs, on a thread of
    /// their own: the fsync waits for the disk (tens of milliseconds with
    /// megabytes dirty), and whoever runs it waits too — a driver would
    /// stop handing batches over, a sender would not return from `send`.
    /// Each starts [`SYNC_EARLY`] before it is due. Senders never lead one
    /// when this thread runs (see `Producer::interval_sync`).
    fn run_syncer(&self, every: Millis) {
        let early = SYNC_EARLY.min(every / 4);
        let mut g = self.lock();
        while !g.stopping {
            let now = clock::millis();
            let dirty = g.core.as_ref().is_some_and(|c| c.needs_sync());
            let start_at = g.last_sync.saturating_add(every - early);
            // Clean, or another thread's fsync is running (it signals
            // `progress` when it ends): look again an interval from now.
            let mut wait = every - early;
            if dirty && !g.syncing && g.failed.is_none() {
                if now < start_at {
                    wait = start_at - now;
                } else {
                    let before = g.last_sync;
                    g = self.lead_sync(g);
                    if g.last_sync != before {
                        continue;
                    }
                    // No fsync ran (a segment roll had synced everything,
                    // or the storage failed): wait as if clean.
                }
            }
            g = self.wait_progress(g, Duration::from_millis(wait.max(1)));
        }
    }
}

fn stopped() -> PollStatus {
    PollStatus {
        stopped: true,
        ..PollStatus::default()
    }
}

fn note_error<S: RunnerStorage>(state: &mut State<S>, e: JournalError) {
    match e {
        JournalError::FailedClosed(_) => {
            let reason = state
                .core
                .as_ref()
                .and_then(|c| c.storage().failure().map(str::to_string))
                .unwrap_or_else(|| e.to_string());
            state.failed.get_or_insert(reason);
        }
        _ => state.last_error = Some(e.to_string()),
    }
}
