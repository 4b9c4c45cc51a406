//! [`Builder`]: configuring and opening a [`Producer`], in either driver
//! mode.

use std::hash::{BuildHasher, Hasher};
use std::path::PathBuf;
use std::sync::Arc;
use std::time::Duration;

use steadfast_core::{Config, Delivery, RecoveryReport, SyncPolicy, Transport};

use super::Producer;
use super::driver::Driver;
use super::error::{OpenError, OpenFailed};
use super::state::{Core, Shared, State};
use crate::clock;
use crate::storage::{FileError, FileStorage};

/// Configures a [`Producer`]; start with [`Producer::builder`].
///
/// The defaults are safe: `SyncPolicy::Always` (nothing acknowledged is
/// lost even to power loss), a 1 GiB journal budget, 64 MiB segments and
/// unlimited retries.
pub struct Builder {
    dir: PathBuf,
    config: Config,
    poll_interval: Duration,
    linger: Duration,
    on_delivery: Option<Box<super::driver::DeliveryFn>>,
}

impl std::fmt::Debug for Builder {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Builder")
            .field("dir", &self.dir)
            .field("config", &self.config)
            .field("poll_interval", &self.poll_interval)
            .finish_non_exhaustive()
    }
}

impl Builder {
    pub(crate) fn new(dir: PathBuf) -> Self {
        Builder {
            dir,
            config: Config::default(),
            poll_interval: Duration::from_millis(10),
            linger: Duration::from_millis(1),
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

    /// The journal's byte budget. When it is used up `send` waits and
    /// `try_send` fails with `Full`.
    #[must_use]
    pub fn budget(mut self, bytes: u64) -> Self {
        self.config.budget = bytes;
        self
    }

    /// Bytes per segment file (a segment is deleted once everything in it
    /// is confirmed, so smaller segments free space sooner).
    #[must_use]
    pub fn segment_size(mut self, bytes: u64) -> Self {
        self.config.segment_size = bytes;
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
    #[must_use]
    pub fn poll_interval(mut self, interval: Duration) -> Self {
        self.poll_interval = interval;
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
    /// background thread, or inside `poll`) holding no producer lock; it
    /// must not call blocking producer methods.
    #[must_use]
    pub fn on_delivery(mut self, callback: impl FnMut(&Delivery) + Send + 'static) -> Self {
        self.on_delivery = Some(Box::new(callback));
        self
    }

    /// Opens the journal and starts a background thread that drives
    /// delivery. On failure the transport is handed back.
    pub fn spawn(self, transport: impl Transport + Send + 'static) -> Result<Producer, OpenFailed> {
        self.start(Box::new(transport), true)
    }

    /// Opens the journal for a caller-driven loop: nothing is delivered
    /// unless [`Producer::poll`] is called (or a blocking call drives it).
    /// For platforms without threads (WASI preview 1).
    ///
    /// On WebAssembly without threads the journal is opened on the calling
    /// thread's stack (see `OPEN_STACK`), and wasm-ld's default 1 MiB stack
    /// is too small: link the program with a larger one, e.g.
    /// `-C link-arg=-zstack-size=8388608` (examples/wasi-produce/build.rs).
    pub fn open(self, transport: impl Transport + Send + 'static) -> Result<Producer, OpenFailed> {
        self.start(Box::new(transport), false)
    }

    fn start(self, transport: Box<dyn Transport + Send>, threaded: bool) -> Result<Producer, OpenFailed> {
        let mut storage = match FileStorage::open(&self.dir) {
            Ok(s) => s,
            Err(e) => {
                return Err(OpenFailed {
                    transport,
                    error: OpenError::Storage(e),
                });
            }
        };
        storage.preallocate_segments(self.config.segment_size);
        storage.keep_ballast();
        let policy = self.config.sync;
        let mut config = self.config;
        if config.journal_id == 0 {
            config.journal_id = random_journal_id();
        }
        // The runner schedules every fsync itself, outside the core's lock
        // (group commit, interval timer); the core only syncs when it seals
        // or deletes a segment, which it always does.
        config.sync = SyncPolicy::Never;
        let buffer = vec![0u8; Core::buffer_len(&config)];
        let now = clock::millis();
        let (core, report) = match open_core(storage, buffer, config, now) {
            Ok(ok) => ok,
            Err(error) => return Err(OpenFailed { transport, error }),
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
        })
    }
}

/// Stack for opening the core: the core keeps its indexes inline (no
/// allocator), so `Core` is about 240 KB and recovery moves several such
/// values; a debug build needs more than a default 2 MiB thread stack.
const OPEN_STACK: usize = 64 << 20;

/// Recovers and opens the core, on a helper thread with a large stack
/// where there are threads (the stack is reserved, not used, and freed when
/// the thread ends).
fn open_core(
    storage: FileStorage,
    buffer: Vec<u8>,
    config: Config,
    now: u64,
) -> Result<(Box<Core>, RecoveryReport), OpenError> {
    let open = move || {
        let failed = match Core::open(storage, buffer, config, now) {
            Ok((core, report)) => return Ok((Box::new(core), report)),
            Err(failed) => failed,
        };
        // A full disk: give up the ballast so the journal can start a
        // segment, deliver and free space (the ballast returns later).
        let mut storage = failed.storage;
        if !is_no_space(&failed.error) || !storage.release_ballast() {
            return Err(OpenError::Journal(Box::new(failed.error)));
        }
        match Core::open(storage, failed.buffer, config, now) {
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
