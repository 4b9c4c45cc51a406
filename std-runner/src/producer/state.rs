//! The state every producer handle and the driver share, and group commit.
//!
//! One mutex guards the core. Senders append under it and leave; the slow
//! part of durability, the fsync, runs *outside* it:
//!
//! ```text
//!  sender A: lock, append #1, unlock ─┐
//!  sender B: lock, append #2, unlock ─┤ A finds no fsync running: it becomes
//!                                     │ the leader, takes a ticket (the file
//!                                     ▼ and its length), unlocks, fsyncs.
//!  sender C: lock, append #3, unlock    B and C wait.
//!  A: fsync done → lock, durable = 2, notify_all
//!  B: done (2 ≤ durable). C: 3 > durable, no fsync running → leads the next.
//! ```
//!
//! Every fsync covers every append made before it started, so N senders
//! waiting share one fsync, and appends continue while the disk works.
//! Waiters sleep on one of two condition variables by the parity of the
//! round they need: when round `r` ends only its own waiters wake (plus one
//! waiter of round `r + 1`, to lead it), not every sender. The
//! core's own `sync` is then free (the storage knows the bytes are
//! durable) and is called only to let the core's high-water mark catch up.

use std::sync::{Condvar, Mutex, MutexGuard, PoisonError};
use std::time::Duration;

use steadfast_core::{Millis, Seq, SyncPolicy};

use super::driver::Driver;
use super::error::Refusal;
use super::stats::FsyncStats;
use crate::clock;
use crate::storage::FileStorage;

/// The core producer the runner drives.
///
/// The window (slots each lane indexes, and so the most records one batch
/// of a lane can hold, since a lane has one batch in flight) is 1024, not
/// the core's default 128: with 128, a lane moved at most 128 records per
/// broker round trip, which capped a single-key stream at about 17,000
/// msg/s against librdkafka's mock cluster (see docs/benchmarks.md, "Kafka:
/// steadfast vs plain rdkafka"); 1024 lets batches reach
/// `Config::max_batch_records` (512). It costs about 1 MiB of memory (16
/// lanes × 1024 slots × 64 bytes), whatever the backlog. On WebAssembly the
/// core's default is kept: there the journal may be opened on the caller's
/// own (small) stack, and `Core` is moved by value while it is opened.
#[cfg(not(target_family = "wasm"))]
pub(crate) type Core = steadfast_core::Producer<FileStorage, Vec<u8>, 16, 1024>;
/// The core producer the runner drives (the core's default window on
/// WebAssembly; see the other target's definition).
#[cfg(target_family = "wasm")]
pub(crate) type Core = steadfast_core::Producer<FileStorage, Vec<u8>>;

/// Everything behind the state lock.
pub(crate) struct State {
    /// `None` once closed.
    pub core: Option<Box<Core>>,
    /// Highest message seq a sender appended.
    pub appended: Seq,
    /// Every sender seq up to here is durable (fsynced).
    pub durable: Seq,
    /// A group-commit leader is running an fsync outside the lock.
    pub syncing: bool,
    /// Group-commit rounds started.
    pub sync_round: u64,
    /// The highest sender seq the running round covers.
    pub sync_target: Seq,
    /// A would-be leader is letting other senders append first.
    pub gathering: bool,
    /// Appends since the last round took its ticket.
    pub appends_since_ticket: u64,
    /// Appends the last round covered.
    pub last_round_appends: u64,
    /// Why the journal failed closed, once it has.
    pub failed: Option<String>,
    /// Messages were appended since the driver last looked.
    pub new_work: bool,
    /// The driver is waiting on `work`.
    pub driver_waiting: bool,
    /// The background driver must stop.
    pub stopping: bool,
    /// When the last fsync finished (core milliseconds).
    pub last_sync: Millis,
    /// Fsync latency figures.
    pub fsync: FsyncStats,
    /// The last error the driver met that did not close the journal.
    pub last_error: Option<String>,
    /// Deliveries taken from the core whose callback has not run yet.
    pub unreported: usize,
}

impl State {
    /// Writes the storage's buffered appends to the OS, so that they
    /// survive the process being killed; a failure fails the journal closed.
    pub(crate) fn flush_storage(&mut self) -> Result<(), Refusal> {
        if let Some(reason) = &self.failed {
            return Err(Refusal::FailedClosed {
                reason: reason.clone(),
            });
        }
        let Some(core) = self.core.as_mut() else {
            return Err(Refusal::Closed);
        };
        core.storage_mut().flush().map_err(|e| {
            let reason = e.to_string();
            self.failed = Some(reason.clone());
            Refusal::FailedClosed { reason }
        })
    }
}

/// Shared between the handle(s) and the driver thread.
pub(crate) struct Shared {
    pub state: Mutex<State>,
    /// Signalled when durability, space or delivery progress was made.
    pub progress: Condvar,
    /// Group-commit waiters, by the parity of the round they wait for.
    pub synced: [Condvar; 2],
    /// Signalled to a gathering leader when enough senders have appended.
    pub gathered: Condvar,
    /// Signalled when a waiting driver has new work.
    pub work: Condvar,
    /// The transport side; whoever holds it runs driver rounds.
    pub driver: Mutex<Driver>,
    /// A background thread runs the driver (else the caller's `poll`).
    pub threaded: bool,
    /// The configured durability level.
    pub policy: SyncPolicy,
    /// Longest a round waits on the transport.
    pub poll_interval: Duration,
    /// How long the driver lets new messages gather before sending them.
    pub linger: Duration,
}

/// Locks a mutex, taking over a poisoned one (a panicking user callback
/// must not make the journal unusable: its state is consistent between
/// calls).
pub(crate) fn lock<T>(m: &Mutex<T>) -> MutexGuard<'_, T> {
    m.lock().unwrap_or_else(PoisonError::into_inner)
}

impl Shared {
    pub(crate) fn lock(&self) -> MutexGuard<'_, State> {
        lock(&self.state)
    }

    /// Waits (releasing the lock) until `progress` is signalled or `limit`
    /// passes. On platforms without threads there is no one to signal, so
    /// this returns at once.
    pub(crate) fn wait_progress<'a>(
        &'a self,
        g: MutexGuard<'a, State>,
        limit: Duration,
    ) -> MutexGuard<'a, State> {
        if cfg!(all(target_family = "wasm", not(target_feature = "atomics"))) {
            return g;
        }
        self.progress
            .wait_timeout(g, limit)
            .unwrap_or_else(PoisonError::into_inner)
            .0
    }

    /// Returns once every sender seq up to `seq` is durable, leading an
    /// fsync or waiting for the running one. The lock is held on return.
    pub(crate) fn wait_durable<'a>(
        &'a self,
        mut g: MutexGuard<'a, State>,
        seq: Seq,
    ) -> (MutexGuard<'a, State>, Result<(), Refusal>) {
        loop {
            if let Some(reason) = &g.failed {
                let refusal = Refusal::FailedClosed {
                    reason: reason.clone(),
                };
                return (g, Err(refusal));
            }
            if g.durable >= seq {
                return (g, Ok(()));
            }
            let Some(core) = g.core.as_ref() else {
                return (g, Err(Refusal::Closed));
            };
            if core.is_synced(seq) {
                g.durable = g.durable.max(seq);
                return (g, Ok(()));
            }
            if g.syncing || g.gathering {
                let round = if g.syncing && seq <= g.sync_target {
                    g.sync_round
                } else {
                    g.sync_round + 1
                };
                g = self.wait_round(g, round);
            } else {
                g = self.gather(g);
                g = self.lead_sync(g);
            }
        }
    }

    /// Sleeps until group-commit round `round` ends (or a leader is wanted).
    fn wait_round<'a>(&'a self, g: MutexGuard<'a, State>, round: u64) -> MutexGuard<'a, State> {
        if cfg!(all(target_family = "wasm", not(target_feature = "atomics"))) {
            return g;
        }
        self.synced[(round % 2) as usize]
            .wait_timeout(g, Duration::from_millis(100))
            .unwrap_or_else(PoisonError::into_inner)
            .0
    }

    /// Before leading a round, lets as many senders append as the last round
    /// covered, waiting at most half an fsync: with many concurrent
    /// senders each fsync then covers about all of them (the woken senders
    /// of the last round are on their way back with their next message).
    /// A lone sender never waits.
    fn gather<'a>(&'a self, mut g: MutexGuard<'a, State>) -> MutexGuard<'a, State> {
        let goal = g.last_round_appends;
        if goal <= 1 || cfg!(all(target_family = "wasm", not(target_feature = "atomics"))) {
            return g;
        }
        let delay = (g.fsync.mean() / 2).min(Duration::from_micros(500));
        let Some(deadline) = clock::deadline_after(delay) else {
            return g;
        };
        g.gathering = true;
        while g.appends_since_ticket < goal && g.failed.is_none() {
            let left = clock::remaining(deadline);
            if left.is_zero() {
                break;
            }
            g = self
                .gathered
                .wait_timeout(g, left)
                .unwrap_or_else(PoisonError::into_inner)
                .0;
        }
        g.gathering = false;
        g
    }

    /// Makes everything written so far durable: one group-commit round as
    /// the leader. Call only when `!g.syncing`. The lock is held on return.
    pub(crate) fn lead_sync<'a>(&'a self, mut g: MutexGuard<'a, State>) -> MutexGuard<'a, State> {
        let target = g.appended;
        let state = &mut *g;
        let Some(core) = state.core.as_mut() else {
            return g;
        };
        let tickets = match core.storage_mut().sync_tickets() {
            Ok(t) => t,
            Err(e) => {
                state.failed.get_or_insert_with(|| e.to_string());
                self.progress.notify_all();
                return g;
            }
        };
        if tickets.is_empty() {
            // Every byte written is durable already (a segment roll synced it).
            state.durable = state.durable.max(target);
            let _ = core.sync(clock::millis());
            return g;
        }
        state.syncing = true;
        state.sync_round += 1;
        state.sync_target = target;
        state.last_round_appends = state.appends_since_ticket;
        state.appends_since_ticket = 0;
        let round = state.sync_round;
        drop(g);

        let started = clock::now();
        let result = tickets.iter().try_for_each(|t| t.run());
        let took = clock::now().saturating_duration_since(started);

        let mut g = self.lock();
        let state = &mut *g;
        state.syncing = false;
        state.fsync.record(took);
        let now = clock::millis();
        state.last_sync = now;
        if let Some(core) = state.core.as_mut() {
            for ticket in &tickets {
                core.storage_mut().finish_sync(ticket, &result);
            }
            match &result {
                Ok(()) => {
                    state.durable = state.durable.max(target);
                    if core.storage().is_synced() {
                        // Free now: lets the core's high-water mark move.
                        let _ = core.sync(now);
                    }
                }
                Err(e) => {
                    // The storage is failed closed; let the core see it too.
                    let _ = core.sync(now);
                    state.failed.get_or_insert_with(|| e.to_string());
                }
            }
        }
        // This round's waiters are done; one waiter of the next round
        // leads it. A failure wakes everyone.
        self.synced[(round % 2) as usize].notify_all();
        if state.failed.is_some() {
            self.synced[((round + 1) % 2) as usize].notify_all();
        } else {
            self.synced[((round + 1) % 2) as usize].notify_one();
        }
        self.progress.notify_all();
        g
    }

    /// Syncs until every byte written so far is durable (for operations
    /// that append entries of their own, like resolving a dead letter).
    pub(crate) fn sync_all<'a>(
        &'a self,
        g: MutexGuard<'a, State>,
    ) -> (MutexGuard<'a, State>, Result<(), Refusal>) {
        let seq = g.appended;
        let (mut g, result) = self.wait_durable(g, seq);
        if result.is_err() {
            return (g, result);
        }
        while !g.syncing
            && g.core
                .as_ref()
                .is_some_and(|c| !c.storage().is_synced() && g.failed.is_none())
        {
            g = self.lead_sync(g);
        }
        let result = match &g.failed {
            Some(reason) => Err(Refusal::FailedClosed {
                reason: reason.clone(),
            }),
            None => Ok(()),
        };
        (g, result)
    }

    /// Notes appended messages, waking a waiting driver.
    pub(crate) fn note_appended(&self, g: &mut State, seq: Seq) {
        g.appended = g.appended.max(seq);
        g.new_work = true;
        g.appends_since_ticket += 1;
        if g.gathering && g.appends_since_ticket >= g.last_round_appends {
            self.gathered.notify_one();
        }
        if g.driver_waiting {
            // Once: later senders see the driver awake.
            g.driver_waiting = false;
            self.work.notify_one();
        }
    }
}
