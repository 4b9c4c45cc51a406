//! [`Builder`]: configuring and opening a [`Producer`], in either driver
//! mode, and the constructors on `Producer` that start one
//! ([`Producer::builder`], [`Producer::with_storage`]).

use std::hash::{BuildHasher, Hasher};
use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::time::Duration;

use steadfast_core::{Config, Delivery, RecoveryReport, SyncPolicy, Transport};

use super::Producer;
use super::error::{OpenError, OpenFailed};
use super::state::{Core, Shared, State};
use super::transport_side::{DeliveryFn, Driver};
use crate::clock;
use crate::storage::{FILES_OUTSIDE_SEGMENTS, FileError, FileStorage, OpenStorageError, RunnerStorage};

impl Producer {
    /// Starts configuring a producer whose journal lives in `dir` (created
    /// 0700 if missing).
    pub fn builder(dir: impl Into<std::path::PathBuf>) -> Builder {
        Builder::new(dir.into())
    }
}

impl<S: RunnerStorage> Producer<S> {
    /// Starts configuring a producer whose journal lives in `storage`, for
    /// example a [`FileStorage`] in a wrapper of your own (one that injects
    /// faults in tests). Before the journal is opened the builder calls
    /// [`RunnerStorage::prepare`] and [`RunnerStorage::keep_reserve`] on it,
    /// as on the `FileStorage` that [`Producer::builder`] opens itself.
    pub fn with_storage(storage: S) -> Builder<S> {
        Builder::with_storage(storage)
    }
}

/// Configures a [`Producer`]; start with [`Producer::builder`] (a journal
/// directory) or [`Producer::with_storage`] (a storage of your own).
///
/// The defaults are safe: `SyncPolicy::Always` (nothing acknowledged is
/// lost even to power loss), a 1 GiB journal budget, 64 MiB segments and
/// unlimited retries.
pub struct Builder<S = FileStorage> {
    storage: Source<S>,
    config: Config,
    poll_interval: Duration,
    linger: Duration,
    stamp: bool,
    on_delivery: Option<Box<DeliveryFn>>,
}

/// Where the builder's storage comes from.
#[derive(Debug)]
enum Source<S> {
    /// A storage to open on this directory (a [`FileStorage`]).
    Dir {
        dir: PathBuf,
        open: fn(&Path) -> Result<S, OpenStorageError>,
    },
    /// A storage the caller opened.
    Given(S),
}

impl<S> Source<S> {
    fn open(self) -> Result<S, OpenStorageError> {
        match self {
            Source::Dir { dir, open } => open(&dir),
            Source::Given(storage) => Ok(storage),
        }
    }
}

impl<S: std::fmt::Debug> std::fmt::Debug for Builder<S> {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Builder")
            .field("storage", &self.storage)
            .field("config", &self.config)
            .field("poll_interval", &self.poll_interval)
            .finish_non_exhaustive()
    }
}

impl Builder {
    /// The smallest [`budget`](Self::budget) that admits entries of up to
    /// `max_entry` bytes: four segments that each hold a header, a manifest
    /// and one such entry, the core's bookkeeping reserve, the
    /// [`BALLAST_LEN`](crate::storage::BALLAST_LEN) reserve file and the meta slots. About 100 KiB for
    /// entries of 4 KiB; about 4.1 MiB for the default 1 MiB.
    pub fn min_budget(max_entry: usize) -> u64 {
        Core::<FileStorage>::min_budget(max_entry).saturating_add(FILES_OUTSIDE_SEGMENTS)
    }

    /// The largest [`max_entry`](Self::max_entry) a budget admits (0 if
    /// the budget is too small for any; the core needs at least 256).
    pub fn max_entry_for_budget(budget: u64) -> usize {
        Core::<FileStorage>::max_entry_for_budget(budget.saturating_sub(FILES_OUTSIDE_SEGMENTS))
    }

    fn new(dir: PathBuf) -> Self {
        Builder::from_source(Source::Dir {
            dir,
            open: |dir| FileStorage::open(dir),
        })
    }
}

impl<S> Builder<S> {
    fn with_storage(storage: S) -> Self {
        Builder::from_source(Source::Given(storage))
    }

    fn from_source(storage: Source<S>) -> Self {
        Builder {
            storage,
            config: Config::default(),
            poll_interval: Duration::from_millis(10),
            linger: Duration::from_millis(1),
            stamp: true,
            on_delivery: None,
        }
    }

    /// Replaces the whole core configuration (retry policy, batch sizes,
    /// segment size, budget, sync level, recovery mode). A `journal_id`
    /// of 0 means "draw a random one" for a new journal.
    #[must_use]
    pub fn config(mut self, config: Config) -> Self {
        self.config = config;
        self
    }

    /// The durability level; see [`SyncPolicy`] and the crate docs for
    /// exactly what each survives. Default: `Always`.
    #[must_use]
    pub fn sync(mut self, policy: SyncPolicy) -> Self {
        self.config.sync = policy;
        self
    }

    /// The journal's byte budget: every file of the journal counts (its
    /// segments, the [`BALLAST_LEN`](crate::storage::BALLAST_LEN) reserve file and the two meta slots).
    /// When it is used up `send` waits and `try_send` fails with `Full`.
    ///
    /// It must be at least [`Builder::min_budget`] of the largest message
    /// ([`max_entry`](Self::max_entry), 1 MiB by default): opening fails
    /// below it. For a small budget, lower `max_entry` to
    /// [`Builder::max_entry_for_budget`].
    #[must_use]
    pub fn budget(mut self, bytes: u64) -> Self {
        self.config.budget = bytes;
        self
    }

    /// Bytes per segment file (a segment is deleted once everything in it
    /// is confirmed, so smaller segments free space sooner). Capped at a
    /// quarter of the budget, so that a full journal always has sealed
    /// segments that confirmations free (see `steadfast_core::delivery::budget`).
    #[must_use]
    pub fn segment_size(mut self, bytes: u64) -> Self {
        self.config.segment_size = bytes;
        self
    }

    /// The largest journal entry: a message, encoded, plus 24 bytes of
    /// framing (default 1 MiB). Larger messages are refused with
    /// `TooLarge`. A smaller limit allows a smaller budget.
    #[must_use]
    pub fn max_entry(mut self, bytes: usize) -> Self {
        self.config.max_entry = bytes;
        self
    }

    /// What recovery does about a damaged journal: [`RecoveryMode::Salvage`]
    /// (the default) keeps everything intact, sets the damage aside and
    /// reports exactly what was lost; [`RecoveryMode::Strict`] refuses to
    /// start, changing nothing.
    ///
    /// [`RecoveryMode::Salvage`]: steadfast_core::RecoveryMode::Salvage
    /// [`RecoveryMode::Strict`]: steadfast_core::RecoveryMode::Strict
    #[must_use]
    pub fn recovery(mut self, mode: steadfast_core::RecoveryMode) -> Self {
        self.config.recovery = mode;
        self
    }

    /// Longest the driver waits on the transport in one round while records
    /// are in flight (new messages for idle lanes wait at most this long).
    /// Default 10 ms. Values below 1 ms, zero included, are raised to
    /// 1 ms: a driver that never waits would keep a core busy while the
    /// producer is idle.
    #[must_use]
    pub fn poll_interval(mut self, interval: Duration) -> Self {
        self.poll_interval = interval.max(MIN_POLL_INTERVAL);
        self
    }

    /// Whether a message sent without a timestamp is stamped with the
    /// time `send` was called (wall clock, milliseconds since the Unix
    /// epoch). Default: on, so that a message sent during an outage
    /// carries when it happened, not when it reached the broker hours
    /// later. A message with its own timestamp always keeps it. Off, a
    /// message without one reaches the broker without one (the broker or
    /// the topic's `message.timestamp.type` decides).
    #[must_use]
    pub fn stamp_timestamps(mut self, stamp: bool) -> Self {
        self.stamp = stamp;
        self
    }

    /// How long the driver lets newly sent messages gather before handing
    /// them to an idle transport (default 1 ms; like librdkafka's
    /// `linger.ms`): larger batches, fewer wake-ups, a little latency.
    #[must_use]
    pub fn linger(mut self, linger: Duration) -> Self {
        self.linger = linger;
        self
    }

    /// Called with every confirmation and dead letter, including those of
    /// messages recovered from a previous run. It runs on the driver (the
    /// background thread, or inside `poll`) holding no producer lock, and
    /// delivery waits while it runs: keep it short.
    ///
    /// It may call the producer (through an `Arc` or a channel): `try_send`,
    /// `stats`, the dead-letter methods, and `send` while there is room. A
    /// call that would wait for deliveries cannot end there, and returns an
    /// error instead of waiting: `send` on a full journal
    /// ([`Refusal::InDeliveryCallback`](crate::Refusal::InDeliveryCallback)),
    /// `flush` ([`FlushError::InDeliveryCallback`](crate::FlushError::InDeliveryCallback)),
    /// `close` (closes without waiting,
    /// [`CloseError::InDeliveryCallback`](crate::CloseError::InDeliveryCallback)).
    /// `poll` there runs nothing. Dropping the producer there closes it
    /// without waiting. A panic in the callback is caught and noted in
    /// [`Stats::last_error`](crate::Stats::last_error).
    #[must_use]
    pub fn on_delivery(mut self, callback: impl FnMut(&Delivery) + Send + 'static) -> Self {
        self.on_delivery = Some(Box::new(callback));
        self
    }
}

impl<S: RunnerStorage> Builder<S> {
    /// Opens the journal and starts a background thread that drives
    /// delivery: what most programs want. On failure the transport is
    /// handed back ([`OpenFailed::into_transport`]).
    ///
    /// Compare [`open`](Self::open), which starts no thread and delivers
    /// only while the caller runs [`Producer::poll`].
    pub fn spawn(self, transport: impl Transport + Send + 'static) -> Result<Producer<S>, OpenFailed> {
        self.start(Box::new(transport), true)
    }

    /// Opens the journal for a **caller-driven** loop, starting no thread:
    /// **nothing is delivered unless the program calls [`Producer::poll`]**
    /// (or a blocking call, `flush` or a `send` waiting for room, drives
    /// it). Messages sent and never polled stay safe in the journal, and
    /// are delivered by a later `poll` or after the next start. For
    /// platforms without threads (WASI preview 1); everywhere else use
    /// [`spawn`](Self::spawn).
    ///
    /// On WebAssembly without threads the journal is opened on the calling
    /// thread's stack (see `OPEN_STACK`), and wasm-ld's default 1 MiB stack
    /// is too small: link the program with a larger one, e.g.
    /// `-C link-arg=-zstack-size=8388608` (examples/wasi-produce/build.rs).
    pub fn open(self, transport: impl Transport + Send + 'static) -> Result<Producer<S>, OpenFailed> {
        self.start(Box::new(transport), false)
    }

    fn start(self, transport: Box<dyn Transport + Send>, threaded: bool) -> Result<Producer<S>, OpenFailed> {
        let mut storage = match self.storage.open() {
            Ok(s) => s,
            Err(e) => {
                return Err(OpenFailed::new(transport, OpenError::Storage(e)));
            }
        };
        let policy = self.config.sync;
        let mut config = self.config;
        // The budget counts the ballast and meta files; the core's counts
        // segments only.
        let minimum = Builder::min_budget(config.max_entry);
        if config.budget < minimum {
            let error = steadfast_core::OpenError::BudgetTooSmall {
                budget: config.budget,
                minimum,
                max_entry: config.max_entry,
            };
            return Err(OpenFailed::new(transport, OpenError::Journal(Box::new(error))));
        }
        config.budget -= FILES_OUTSIDE_SEGMENTS;
        storage.prepare(&Config {
            segment_size: Core::<S>::segment_size(&config),
            ..config
        });
        storage.keep_reserve();
        if config.journal_id == 0 {
            config.journal_id = random_journal_id();
        }
        // The runner schedules every fsync itself, outside the core's lock
        // (group commit, interval timer); the core only syncs when it seals
        // or deletes a segment, which it always does.
        config.sync = SyncPolicy::Never;
        // The read area (what is left after the write and manifest areas)
        // is never smaller than the default entry limit: entries an
        // earlier run wrote under it stay readable when a small budget
        // lowers `max_entry` (recovery takes a frame longer than the read
        // area for damage).
        let read_floor = Config::default().max_entry.saturating_sub(config.max_entry);
        let buffer = vec![0u8; Core::<S>::buffer_len(&config) + read_floor];
        let now = clock::millis();
        let (core, report) = match open_core(storage, buffer, config, now) {
            Ok(ok) => ok,
            Err(error) => return Err(OpenFailed::new(transport, error)),
        };
        let synced = core.stats().synced_seq;
        let driver = Driver {
            transport,
            out: vec![0u8; config.max_batch_bytes.max(config.max_entry)],
            outcomes: Vec::new(),
            deliveries: Vec::new(),
            on_delivery: self.on_delivery,
        };
        let shared = Arc::new(Shared::new(
            State::new(core, synced, now),
            driver,
            threaded,
            policy,
            self.poll_interval,
            self.linger,
        ));
        let thread = if threaded {
            let driver = Arc::clone(&shared);
            let spawned = std::thread::Builder::new()
                .name("steadfast-driver".into())
                .spawn(move || driver.run());
            match spawned {
                Ok(handle) => Some(handle),
                Err(e) => return Err(Producer::unwind(shared, OpenError::Spawn(e))),
            }
        } else {
            None
        };
        Ok(Producer {
            shared,
            thread,
            report,
            max_entry: config.max_entry,
            confirm_interval: config.confirm_interval,
            stamp: self.stamp,
        })
    }
}

/// The shortest [`Builder::poll_interval`]: a round that never waits on
/// the transport would spin.
const MIN_POLL_INTERVAL: Duration = Duration::from_millis(1);

/// Stack for opening the core: the core keeps its indexes inline (no
/// allocator), so `Core` is about 240 KB and recovery moves several such
/// values; a debug build needs more than a default 2 MiB thread stack.
const OPEN_STACK: usize = 64 << 20;

/// Recovers and opens the core, on a helper thread with a large stack
/// where there are threads (the stack is reserved, not used, and freed when
/// the thread ends).
fn open_core<S: RunnerStorage>(
    storage: S,
    buffer: Vec<u8>,
    config: Config,
    now: u64,
) -> Result<(Box<Core<S>>, RecoveryReport), OpenError> {
    let open = move || {
        let failed = match Core::<S>::open(storage, buffer, config, now) {
            Ok((core, report)) => return Ok((Box::new(core), report)),
            Err(failed) => failed,
        };
        // A full disk: give up the ballast so the journal can start a
        // segment, deliver and free space (the ballast returns later).
        let mut storage = failed.storage;
        if !is_no_space(&failed.error) || !storage.release_reserve() {
            return Err(OpenError::Journal(Box::new(failed.error)));
        }
        match Core::<S>::open(storage, failed.buffer, config, now) {
            Ok((core, report)) => Ok((Box::new(core), report)),
            Err(failed) => Err(OpenError::Journal(Box::new(failed.error))),
        }
    };
    if cfg!(all(target_family = "wasm", not(target_feature = "atomics"))) {
        return open();
    }
    let handle = std::thread::Builder::new()
        .name("steadfast-open".into())
        .stack_size(OPEN_STACK)
        .spawn(open)
        .map_err(OpenError::Spawn)?;
    match handle.join() {
        Ok(result) => result,
        // The core does not panic on what it reads; if it ever does, the
        // panic belongs to the caller.
        Err(panic) => std::panic::resume_unwind(panic),
    }
}

fn is_no_space(e: &steadfast_core::OpenError<FileError>) -> bool {
    use steadfast_core::{RecoverError, StorageError, StorageErrorKind};
    match e {
        steadfast_core::OpenError::Storage(e)
        | steadfast_core::OpenError::Recover(RecoverError::Storage(e)) => {
            e.kind() == StorageErrorKind::NoSpace
        }
        _ => false,
    }
}

/// A new journal's id: random per process (std's hasher keys come from the
/// OS), mixed with the time and pid. Never 0.
fn random_journal_id() -> u64 {
    let mut h = std::collections::hash_map::RandomState::new().build_hasher();
    h.write_i64(clock::unix_millis());
    // WASI has no process ids (`std::process::id` panics there); the
    // hasher's keys still come from the host's random source.
    if !cfg!(target_os = "wasi") {
        h.write_u32(std::process::id());
    }
    h.finish().max(1)
}
