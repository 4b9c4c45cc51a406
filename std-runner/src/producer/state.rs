//! The state every producer handle and the driver share, and group commit.
//!
//! One mutex guards the core. Senders append under it and leave; the slow
//! part of durability, the fsync, runs *outside* it, as the core's sync
//! step (`poll_sync`, a detached [`SyncJob`], `handle_synced`):
//!
//! ```text
//!  sender A: lock, append #1, unlock ─┐
//!  sender B: lock, append #2, unlock ─┤ A finds no fsync running: it becomes
//!                                     │ the leader, takes the core's sync
//!                                     │ request (up to #2) and a job for
//!                                     ▼ it, unlocks, runs the fsync.
//!  sender C: lock, append #3, unlock    B and C park.
//!  A: fsync done → lock, handle_synced, durable = 2, release B; C is still
//!     waiting, so A leads the next round too, after letting B append again
//!     (it leads a chain of rounds, at most `CHAIN_ROUNDS`, then hands the
//!     lead to a waiter).
//!  B: wakes, sees durable ≥ 2 without taking the lock, wakes two more
//!     released senders, returns.
//! ```
//!
//! Every fsync covers every append made before it started, so N senders
//! waiting share one fsync, and appends continue while the disk works.
//! What lets this scale with many senders on few CPUs:
//! - A released sender returns without touching the state lock: it parks
//!   on its own thread handle and checks an atomic copy of the durable seq,
//!   so dozens of woken senders do not queue on one mutex just to leave.
//! - The leader goes on to the next round itself, instead of handing the
//!   lead to a sleeping thread that must first be scheduled behind every
//!   sender just woken. Before it takes the next request it lets the
//!   senders it released append again (at most half an fsync), so one
//!   fsync covers them all.
//! - The leader wakes only two released senders; each woken sender wakes
//!   two more (a fan-out), so the wake-up system calls are spread over the
//!   senders instead of delaying the next fsync.
//!
//! The core's journal is the one record of what is durable: the atomic
//! `durable` below is a lock-free copy of it for parked senders, raised
//! only after the core accepted the sync's result.

use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::sync::{Condvar, Mutex, MutexGuard, PoisonError};
use std::thread::{self, Thread};
use std::time::Duration;

use steadfast_core::{Millis, Seq, SyncPolicy};

use super::error::Refusal;
use super::stats::{FsyncStats, TransportStats};
use super::transport_side::Driver;
use crate::clock;
use crate::storage::{RunnerStorage, SyncJob};

/// The core producer the runner drives, over storage `S`.
///
/// The window (slots each lane indexes, and so the most records one batch
/// of a lane can hold, since a lane has one batch in flight) is 1024, not
/// the core's default 128: a lane moves at most a window of records per
/// broker round trip, and 1024 lets batches reach
/// `Config::max_batch_records` (512), which a single-key stream against a
/// broker needs (see docs/benchmarks.md, "Kafka: steadfast vs plain
/// rdkafka"). It costs about 1 MiB of memory (16 lanes × 1024 slots × 64
/// bytes), whatever the backlog. On WebAssembly the core's default is
/// kept: there the journal may be opened on the caller's own (small)
/// stack, and `Core` is moved by value while it is opened.
#[cfg(not(target_family = "wasm"))]
pub(crate) type Core<S> = steadfast_core::Producer<S, Vec<u8>, 16, 1024>;
/// The core producer the runner drives (the core's default window on
/// WebAssembly; see the other target's definition).
#[cfg(target_family = "wasm")]
pub(crate) type Core<S> = steadfast_core::Producer<S, Vec<u8>>;

/// Most group-commit rounds one leader runs back to back before it hands
/// the lead to a waiting sender (its own send waits for its first round
/// only, but it returns only when it stops leading).
const CHAIN_ROUNDS: u32 = 8;

/// How long a parked sender sleeps before it looks at the state itself (a
/// safety net: every path that can release it also wakes it).
const PARK_LIMIT: Duration = Duration::from_millis(100);

/// How many released senders each woken sender wakes in turn.
const WAKE_FAN_OUT: usize = 2;

/// True where there is only one thread (WebAssembly without atomics):
/// nobody else can run a round, so nobody parks.
const SINGLE_THREADED: bool = cfg!(all(target_family = "wasm", not(target_feature = "atomics")));

/// A sender parked until a group-commit round makes its message durable.
pub(crate) struct Waiter {
    seq: Seq,
    thread: Thread,
}

/// Everything behind the state lock.
pub(crate) struct State<S> {
    /// `None` once closed.
    pub core: Option<Box<Core<S>>>,
    /// Highest message seq a sender appended.
    pub appended: Seq,
    /// A group-commit leader is running an fsync outside the lock.
    pub syncing: bool,
    /// Senders parked until a round covers their seq (registered only while
    /// a round runs or is gathered, so whoever ends a round sees every one
    /// of them).
    pub waiters: Vec<Waiter>,
    /// A leader is letting the senders it just released append again
    /// before it takes its next ticket (see [`Shared::gather`]).
    pub gathering: bool,
    /// Appends since the last round took its ticket.
    pub appends_since_ticket: u64,
    /// Senders the last round released: how many appends a leader gathers.
    pub last_released: u64,
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
    /// The transport's failures.
    pub transport: TransportStats,
    /// Deliveries taken from the core whose callback has not run yet.
    pub unreported: usize,
}

impl<S: RunnerStorage> State<S> {
    /// A fresh state over an opened core whose journal is durable up to `synced`.
    pub(crate) fn new(core: Box<Core<S>>, synced: Seq, now: Millis) -> Self {
        State {
            core: Some(core),
            appended: synced,
            syncing: false,
            waiters: Vec::new(),
            gathering: false,
            appends_since_ticket: 0,
            last_released: 0,
            failed: None,
            new_work: true,
            driver_waiting: false,
            stopping: false,
            last_sync: now,
            fsync: FsyncStats::default(),
            last_error: None,
            transport: TransportStats::default(),
            unreported: 0,
        }
    }

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
pub(crate) struct Shared<S> {
    pub state: Mutex<State<S>>,
    /// Signalled when durability, space or delivery progress was made.
    pub progress: Condvar,
    /// Signalled when a waiting driver has new work.
    pub work: Condvar,
    /// Signalled to a gathering leader when enough senders have appended.
    pub gathered: Condvar,
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
    /// Every sender seq up to here is durable (fsynced). Raised under the
    /// state lock ([`Shared::set_durable`]); an atomic so that parked
    /// senders can read it without the lock.
    pub durable: AtomicU64,
    /// A leader handed the lead on: the waiter it woke must take it.
    pub lead_wanted: AtomicBool,
    /// The journal failed closed: parked senders must look at the state.
    pub halted: AtomicBool,
    /// Released senders not woken yet (see the module docs: fan-out).
    pub wake_queue: Mutex<Vec<Thread>>,
}

/// Locks a mutex, taking over a poisoned one (a panicking user callback
/// must not make the journal unusable: its state is consistent between
/// calls).
pub(crate) fn lock<T>(m: &Mutex<T>) -> MutexGuard<'_, T> {
    m.lock().unwrap_or_else(PoisonError::into_inner)
}

impl<S: RunnerStorage> Shared<S> {
    /// The shared state around `state`, with no fsync run yet.
    pub(crate) fn new(
        state: State<S>,
        driver: Driver,
        threaded: bool,
        policy: SyncPolicy,
        poll_interval: Duration,
        linger: Duration,
    ) -> Self {
        // Everything appended before the state was handed over is durable.
        let durable = state.appended;
        Shared {
            state: Mutex::new(state),
            progress: Condvar::new(),
            work: Condvar::new(),
            gathered: Condvar::new(),
            driver: Mutex::new(driver),
            threaded,
            policy,
            poll_interval,
            linger,
            durable: AtomicU64::new(durable),
            lead_wanted: AtomicBool::new(false),
            halted: AtomicBool::new(false),
            wake_queue: Mutex::new(Vec::new()),
        }
    }

    pub(crate) fn lock(&self) -> MutexGuard<'_, State<S>> {
        lock(&self.state)
    }

    /// Waits (releasing the lock) until `progress` is signalled or `limit`
    /// passes. On platforms without threads there is no one to signal, so
    /// this returns at once.
    pub(crate) fn wait_progress<'a>(
        &'a self,
        g: MutexGuard<'a, State<S>>,
        limit: Duration,
    ) -> MutexGuard<'a, State<S>> {
        if SINGLE_THREADED {
            return g;
        }
        self.progress
            .wait_timeout(g, limit)
            .unwrap_or_else(PoisonError::into_inner)
            .0
    }

    /// Records that every sender seq up to `seq` is durable.
    fn set_durable(&self, seq: Seq) {
        self.durable.fetch_max(seq, Ordering::Release);
    }

    /// Every sender seq up to this one is durable.
    pub(crate) fn durable(&self) -> Seq {
        self.durable.load(Ordering::Acquire)
    }

    /// Returns once every sender seq up to `seq` is durable, leading
    /// group-commit rounds or parking until one covers it. Takes the lock
    /// and returns without it: a released sender leaves without touching it.
    pub(crate) fn wait_durable<'a>(
        &'a self,
        mut g: MutexGuard<'a, State<S>>,
        seq: Seq,
    ) -> Result<(), Refusal> {
        loop {
            if let Some(reason) = &g.failed {
                return Err(Refusal::FailedClosed {
                    reason: reason.clone(),
                });
            }
            if self.durable() >= seq {
                drop(g);
                self.wake_released();
                return Ok(());
            }
            let Some(core) = g.core.as_ref() else {
                return Err(Refusal::Closed);
            };
            if core.is_synced(seq) {
                self.set_durable(seq);
                continue;
            }
            if !g.syncing && !g.gathering {
                g = self.lead(g);
                continue;
            }
            // A round is running or being gathered: park until one covers `seq`.
            g.waiters.push(Waiter {
                seq,
                thread: thread::current(),
            });
            drop(g);
            if self.park_until_durable(seq) {
                self.wake_released();
                return Ok(());
            }
            g = self.lock();
            let me = thread::current().id();
            g.waiters.retain(|w| w.thread.id() != me);
        }
    }

    /// Parks until `seq` is durable (true), or until this sender must look
    /// at the state: it was handed the lead, the journal failed, or the
    /// safety-net timeout passed (false).
    fn park_until_durable(&self, seq: Seq) -> bool {
        let Some(deadline) = clock::deadline_after(PARK_LIMIT) else {
            return false;
        };
        loop {
            if self.durable() >= seq {
                return true;
            }
            if self.halted.load(Ordering::Acquire) || self.lead_wanted.swap(false, Ordering::AcqRel) {
                return false;
            }
            let left = clock::remaining(deadline);
            if left.is_zero() {
                return false;
            }
            thread::park_timeout(left);
        }
    }

    /// Wakes a few released senders (each woken one wakes a few more).
    fn wake_released(&self) {
        let mut woken: [Option<Thread>; WAKE_FAN_OUT] = Default::default();
        {
            let mut queue = lock(&self.wake_queue);
            for slot in &mut woken {
                *slot = queue.pop();
            }
        }
        for thread in woken.into_iter().flatten() {
            thread.unpark();
        }
    }

    /// Before a round takes its ticket, lets the senders the last round
    /// released append again, waiting at most half an fsync (and never
    /// more than 500 µs): the next fsync then covers them all, instead of
    /// the senders splitting into two halves that alternate between
    /// appending and waiting, each half getting every other fsync. A lone
    /// sender never waits.
    fn gather<'a>(&'a self, mut g: MutexGuard<'a, State<S>>) -> MutexGuard<'a, State<S>> {
        let goal = g.last_released;
        if goal == 0 || g.appends_since_ticket >= goal || SINGLE_THREADED {
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

    /// Leads group-commit rounds back to back while senders wait for one, at
    /// most [`CHAIN_ROUNDS`]; then hands the lead to a waiting sender. Call
    /// only when `!g.syncing`. The lock is held on return.
    fn lead<'a>(&'a self, mut g: MutexGuard<'a, State<S>>) -> MutexGuard<'a, State<S>> {
        for _ in 0..CHAIN_ROUNDS {
            g = self.gather(g);
            g = self.lead_sync(g);
            if g.syncing || g.failed.is_some() || g.waiters.is_empty() {
                return g;
            }
        }
        // Every remaining waiter needs a later round: wake one to lead it.
        if let Some(next) = g.waiters.last() {
            self.lead_wanted.store(true, Ordering::Release);
            next.thread.unpark();
        }
        g
    }

    /// Makes everything written so far durable: one group-commit round,
    /// the core's sync step with the fsync outside the lock. Releases the
    /// waiters it covers. Call only when `!g.syncing`. The lock is held on
    /// return.
    pub(crate) fn lead_sync<'a>(&'a self, mut g: MutexGuard<'a, State<S>>) -> MutexGuard<'a, State<S>> {
        let state = &mut *g;
        let Some(core) = state.core.as_mut() else {
            return g;
        };
        let now = clock::millis();
        let Some(request) = core.poll_sync(now) else {
            if core.failed().is_some() {
                let reason = failure_reason(core);
                state.failed.get_or_insert(reason);
                self.halt(state);
            } else {
                // Every entry is durable already (a segment roll synced it).
                self.set_durable(state.appended);
                self.release(state);
            }
            return g;
        };
        let job = match core.storage_mut().detach_sync(&request) {
            Ok(job) => job,
            Err(e) => {
                let reason = e.to_string();
                let _ = core.handle_synced(now, request, Err(e));
                state.failed.get_or_insert(reason);
                self.halt(state);
                return g;
            }
        };
        state.syncing = true;
        state.appends_since_ticket = 0;
        drop(g);

        let started = clock::now();
        let result = job.run();
        let took = clock::now().saturating_duration_since(started);

        let mut g = self.lock();
        let state = &mut *g;
        state.syncing = false;
        state.fsync.record(took);
        let now = clock::millis();
        state.last_sync = now;
        if let Some(core) = state.core.as_mut() {
            core.storage_mut().finish_sync(job, &result);
            let reason = result.as_ref().err().map(ToString::to_string);
            match core.handle_synced(now, request, result) {
                Ok(()) => self.set_durable(request.seq()),
                Err(e) => {
                    state
                        .failed
                        .get_or_insert(reason.unwrap_or_else(|| e.to_string()));
                }
            }
        }
        if state.failed.is_some() {
            self.halt(state);
        } else {
            self.release(state);
        }
        self.progress.notify_all();
        g
    }

    /// Hands the waiters the last round covered to the wake queue and wakes
    /// the first of them (they wake the rest).
    fn release(&self, g: &mut State<S>) {
        let durable = self.durable();
        if !g.waiters.iter().any(|w| w.seq <= durable) {
            return;
        }
        {
            let mut queue = lock(&self.wake_queue);
            let before = queue.len();
            g.waiters.retain(|w| {
                if w.seq <= durable {
                    queue.push(w.thread.clone());
                    false
                } else {
                    true
                }
            });
            g.last_released = (queue.len() - before) as u64;
        }
        self.wake_released();
    }

    /// The journal failed closed: wakes every parked sender to see it.
    fn halt(&self, g: &mut State<S>) {
        self.halted.store(true, Ordering::Release);
        for w in g.waiters.drain(..) {
            w.thread.unpark();
        }
        self.progress.notify_all();
    }

    /// Syncs until every byte written so far is durable (for operations
    /// that append entries of their own, like resolving a dead letter).
    pub(crate) fn sync_all<'a>(
        &'a self,
        g: MutexGuard<'a, State<S>>,
    ) -> (MutexGuard<'a, State<S>>, Result<(), Refusal>) {
        let seq = g.appended;
        if let Err(refusal) = self.wait_durable(g, seq) {
            return (self.lock(), Err(refusal));
        }
        let mut g = self.lock();
        loop {
            if let Some(reason) = &g.failed {
                let refusal = Refusal::FailedClosed {
                    reason: reason.clone(),
                };
                return (g, Err(refusal));
            }
            // (A failed core asks for no sync: `lead_sync` reports it.)
            let synced = g
                .core
                .as_ref()
                .is_none_or(|c| !c.needs_sync() && c.failed().is_none());
            if synced {
                return (g, Ok(()));
            }
            g = if g.syncing {
                // The running round may have started before our entries.
                self.wait_progress(g, PARK_LIMIT)
            } else {
                self.lead_sync(g)
            };
        }
    }

    /// Notes appended messages, waking a waiting driver.
    pub(crate) fn note_appended(&self, g: &mut State<S>, seq: Seq) {
        g.appended = g.appended.max(seq);
        g.new_work = true;
        g.appends_since_ticket += 1;
        if g.gathering && g.appends_since_ticket >= g.last_released {
            self.gathered.notify_one();
        }
        if g.driver_waiting {
            // Once: later senders see the driver awake.
            g.driver_waiting = false;
            self.work.notify_one();
        }
    }
}

/// Why the core's journal failed closed, in the storage's words if it has any.
pub(crate) fn failure_reason<S: RunnerStorage>(core: &Core<S>) -> String {
    core.storage().failure().map_or_else(
        || match core.failed() {
            Some(kind) => format!("journal failed closed after: {kind}"),
            None => "journal failed closed".to_string(),
        },
        str::to_string,
    )
}
