//! The workloads: the real `FileStorage` under the real core
//! (`steadfast::core::Producer`, the type the runner's producer wraps),
//! driven the way the runner drives it: every `send` flushed to the OS
//! before it returns, an fsync before it returns under `Always` (one per
//! send or batch: group commit of one), on the interval under
//! `Interval(d)`; the broker's outcomes fed back, timers run (confirmations
//! journaled, confirmed segments deleted, the high-water mark written).
//!
//! The runner's own threads (group-commit tickets, the syncer) are left
//! out: they decide *when* the same storage calls run, and the oracle
//! needs to know exactly when a `send` returned.

use std::path::Path;
use std::sync::Arc;

use steadfast::FileStorage;
use steadfast::core::{Config, Failure, FailureClass, Message, Outcome, Producer, SyncPolicy};

use super::recorder::{Ev, Recorder};

/// The core over the real file storage, with the runner's capacities.
pub type Core = Producer<FileStorage, Vec<u8>>;

/// When a `send` returns (see the crate docs' durability table).
#[derive(Clone, Copy, Debug)]
pub enum Policy {
    /// After the fsync that covers it.
    Always,
    /// At once; an fsync runs every this many milliseconds.
    Interval(u64),
}

/// A named workload.
pub struct Workload {
    pub name: &'static str,
    pub policy: Policy,
    pub config: Config,
    pub script: fn(&mut Driver, u32),
    /// A planted bug for the explorer's own test: `send` returns before
    /// the fsync instead of after it.
    pub acks_before_fsync: bool,
}

/// The configuration every workload starts from: small entries and (where
/// a workload rolls) small segments, so that a short run crosses segment
/// boundaries, and a fixed journal id.
pub fn base_config(segment_size: u64) -> Config {
    Config {
        journal_id: 0x5eed_c0de,
        segment_size,
        max_entry: 1024,
        max_batch_records: 64,
        max_batch_bytes: 64 << 10,
        confirm_interval: 0,
        meta_interval: 1_000_000,
        // The runner schedules every fsync itself (see `Driver::sync`).
        sync: SyncPolicy::Never,
        ..Config::default()
    }
}

/// Runs a workload against the real storage in `dir`, recording into `rec`.
pub struct Driver {
    core: Box<Core>,
    rec: Arc<Recorder>,
    policy: Policy,
    now: u64,
    last_sync: u64,
    out: Vec<u8>,
    sent: u64,
    acks_before_fsync: bool,
}

impl Driver {
    pub fn open(dir: &Path, rec: &Arc<Recorder>, workload: &Workload) -> Driver {
        let (policy, config) = (workload.policy, workload.config);
        let mut storage = FileStorage::open_observed(dir, Arc::clone(rec) as _).expect("open storage");
        // As `Builder` does.
        storage.preallocate_segments(config.segment_size);
        storage.keep_ballast();
        let buf = vec![0u8; Core::buffer_len(&config)];
        let now = 1_000;
        let core = match Core::open(storage, buf, config, now) {
            Ok((core, _)) => Box::new(core),
            Err(failed) => panic!("workload open failed: {:?}", failed.error),
        };
        Driver {
            core,
            rec: Arc::clone(rec),
            policy,
            now,
            last_sync: now,
            out: vec![0u8; config.max_batch_bytes.max(config.max_entry)],
            sent: 0,
            acks_before_fsync: workload.acks_before_fsync,
        }
    }

    /// The value of the workload's `n`th message: its number and a filler
    /// of varying length (20 to 900 bytes).
    fn value(n: u64) -> Vec<u8> {
        let mut v = format!("message {n:06} ").into_bytes();
        let fill = 20 + (n * 7919 % 880) as usize;
        v.extend((0..fill).map(|i| b'a' + ((n as usize + i) % 26) as u8));
        v
    }

    /// Sends `count` messages, each returning on its own (`batch` false:
    /// flush, and under `Always` fsync, after each) or together (one flush,
    /// and one fsync, after all: `send_batch`).
    pub fn send(&mut self, count: u32, batch: bool) {
        for i in 0..count {
            let value = Self::value(self.sent);
            self.sent += 1;
            let seq = self
                .core
                .send(self.now, Message::new("crash", &value))
                .unwrap_or_else(|e| panic!("send refused: {e:?}"));
            self.rec.mark(Ev::Sent {
                seq,
                value: value.into(),
            });
            if !batch || i + 1 == count {
                self.returned();
            }
        }
    }

    /// `groups` group commits of 1 to 25 sends each (as concurrent
    /// senders under `Always` share one fsync), sizes from a fixed cycle.
    pub fn groups(&mut self, groups: u32) {
        const SIZES: [u32; 8] = [1, 3, 8, 2, 25, 5, 1, 12];
        for g in 0..groups {
            self.send(SIZES[(self.sent as usize + g as usize) % SIZES.len()], true);
        }
    }

    /// What the runner does before a `send` returns.
    fn returned(&mut self) {
        self.core.storage_mut().flush().expect("flush");
        match self.policy {
            Policy::Always => self.sync(),
            Policy::Interval(_) => self.sync_if_due(),
        }
    }

    /// The one fsync the oracle counts: everything sent before it is
    /// durable once it returns.
    fn sync(&mut self) {
        if self.acks_before_fsync {
            self.rec.mark(Ev::SyncDone);
        }
        self.core.sync(self.now).expect("sync");
        self.last_sync = self.now;
        if !self.acks_before_fsync {
            self.rec.mark(Ev::SyncDone);
        }
    }

    fn sync_if_due(&mut self) {
        if let Policy::Interval(d) = self.policy
            && self.now >= self.last_sync + d
        {
            self.sync();
        }
    }

    /// Lets `ms` pass: timers run (confirmations journaled, segments
    /// deleted, the high-water mark written), the interval fsync if due.
    pub fn advance(&mut self, ms: u64) {
        self.now += ms;
        let _ = self.core.handle_timeout(self.now);
        self.core.storage_mut().flush().expect("flush");
        // Time moves only here, and the fsync follows when due: the last
        // one is never more than `d` old, so the sends after it are those
        // of the last `d` (what `Interval(d)` may lose).
        self.sync_if_due();
    }

    /// Hands every ready batch to the "broker" and feeds back its verdict:
    /// confirmed, or (every `fail_every`th record) a terminal failure that
    /// dead-letters it. Then the timers run.
    pub fn deliver(&mut self, fail_every: Option<u64>) {
        loop {
            let batch = match self.core.poll_transmit(self.now, &mut self.out) {
                Ok(Some(batch)) => batch,
                Ok(None) => break,
                Err(e) => panic!("poll_transmit: {e:?}"),
            };
            for seq in batch.seqs() {
                let outcome = if fail_every.is_some_and(|n| seq % n == 0) {
                    self.rec.mark(Ev::DeadLettered { seq });
                    Outcome::Failed(Failure::new(FailureClass::Terminal, 10, "record too large"))
                } else {
                    self.rec.mark(Ev::Confirmed { seq });
                    Outcome::Confirmed {
                        partition: 0,
                        offset: seq as i64,
                    }
                };
                self.core.handle_outcome(self.now, seq, outcome);
            }
            while self.core.poll_delivery(self.now).is_some() {}
        }
        self.advance(1);
    }
}

/// The workloads the explorer runs; `scale` multiplies their length.
pub fn all() -> Vec<Workload> {
    vec![
        Workload {
            name: "appends",
            policy: Policy::Always,
            config: base_config(256 << 10),
            acks_before_fsync: false,
            script: |d, scale| {
                for _ in 0..scale {
                    d.send(30, false);
                    d.send(30, true);
                    d.groups(30);
                }
            },
        },
        Workload {
            name: "segment roll",
            policy: Policy::Always,
            config: base_config(16 << 10),
            acks_before_fsync: false,
            script: |d, scale| {
                for _ in 0..scale {
                    d.send(40, false);
                    d.send(40, true);
                    d.groups(40);
                }
            },
        },
        Workload {
            name: "confirmed segment deleted",
            policy: Policy::Always,
            config: base_config(16 << 10),
            acks_before_fsync: false,
            script: |d, scale| {
                for _ in 0..scale {
                    d.groups(20);
                    d.deliver(None);
                    d.advance(5);
                    d.groups(10);
                    d.send(10, false);
                }
            },
        },
        Workload {
            name: "dead letters",
            policy: Policy::Always,
            config: base_config(16 << 10),
            acks_before_fsync: false,
            script: |d, scale| {
                for _ in 0..scale {
                    d.groups(15);
                    d.deliver(Some(3));
                    d.advance(5);
                    d.groups(10);
                    d.send(10, false);
                }
            },
        },
        Workload {
            name: "meta update",
            policy: Policy::Always,
            config: Config {
                meta_interval: 2,
                ..base_config(16 << 10)
            },
            acks_before_fsync: false,
            script: |d, scale| {
                for _ in 0..scale * 20 {
                    d.send(2, false);
                    d.groups(1);
                    d.advance(3);
                }
            },
        },
        Workload {
            name: "interval 20 ms",
            policy: Policy::Interval(20),
            config: Config {
                meta_interval: 10,
                ..base_config(16 << 10)
            },
            acks_before_fsync: false,
            script: |d, scale| {
                for round in 0..scale * 10 {
                    for _ in 0..8 {
                        d.send(2, false);
                        d.advance(1);
                    }
                    if round % 3 == 2 {
                        d.deliver(None);
                    }
                }
            },
        },
    ]
}

/// Runs `workload` in `dir` and returns its trace (the storage is closed:
/// the trace ends with what closing it did).
pub fn record(workload: &Workload, dir: &Path, scale: u32) -> Vec<Ev> {
    let rec = Recorder::new(dir);
    let mut driver = Driver::open(dir, &rec, workload);
    (workload.script)(&mut driver, scale);
    drop(driver);
    rec.take()
}
