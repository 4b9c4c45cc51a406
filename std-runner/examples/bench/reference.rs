//! What group commit can reach on this machine with no producer at all.
//!
//! `bench group` compares 64 `Sync::Always` senders with one. Whether a
//! shortfall there is the producer's or the machine's is a question this
//! module answers by measurement: it runs the cheapest group commit found
//! while tuning (see docs/benchmarks.md, "The group-commit ceiling"), with
//! none of the producer's work, on the same disk and in the same run:
//!
//! - an append is a short mutex section: take an offset and a seq, write
//!   128 bytes (about a framed 100 B message) with `pwrite` into a file
//!   whose space was reserved with `fallocate`, as the journal's are;
//! - a dedicated syncer thread polls for appends (yielding the CPU when
//!   there are none), runs `fdatasync`, publishes the durable seq and wakes
//!   every waiting sender with one `FUTEX_WAKE` (a broadcast: the cheapest
//!   wake-up Linux has);
//! - a sender waits on that futex word alone, never on a lock.
//!
//! It is not a design the producer could ship (a polling syncer spends a
//! CPU on an idle journal, and nothing here survives a failed fsync), which
//! makes it a fair upper bound: if it cannot reach a ratio, the producer's
//! design is not what stands in the way.
//!
//! The second measurement shows why the ratio is bounded on a small VM:
//! `fdatasync` latency alone, with the CPUs idle and then with as many
//! busy-looping threads as CPUs. An fsync's own wake-ups (the data write,
//! the journal commit, the flush) wait for a CPU like any thread, so the
//! senders an fsync just released make the next fsync slower.

use std::fs::{File, OpenOptions};
use std::os::unix::fs::FileExt as _;
use std::path::Path;
use std::sync::Mutex;
use std::sync::atomic::{AtomicBool, AtomicU32, AtomicU64, Ordering};
use std::time::Duration;

use rustix::thread::futex;
use steadfast::clock;

/// Bytes one reference append writes (a 100 B message with its frame and
/// record header is about this size in the journal).
const RECORD: u64 = 128;

/// What one group-commit run did (the reference's or steadfast's).
#[derive(Clone, Copy, Default)]
pub struct Run {
    pub msgs: u64,
    pub secs: f64,
    pub fsyncs: u64,
    pub fsync_total: Duration,
}

impl Run {
    /// Adds `other`'s figures to these (slices of one measurement).
    pub fn add(&mut self, other: Run) {
        self.msgs += other.msgs;
        self.secs += other.secs;
        self.fsyncs += other.fsyncs;
        self.fsync_total += other.fsync_total;
    }

    pub fn rate(&self) -> f64 {
        self.msgs as f64 / self.secs
    }

    pub fn msgs_per_fsync(&self) -> f64 {
        self.msgs as f64 / self.fsyncs.max(1) as f64
    }

    pub fn mean_fsync(&self) -> Duration {
        self.fsync_total / u32::try_from(self.fsyncs.max(1)).unwrap_or(u32::MAX)
    }
}

/// Where senders append: the next offset and seq, under one mutex.
struct Tail {
    offset: u64,
    seq: u64,
}

/// Shared by the syncer and the senders.
struct Shared {
    file: File,
    capacity: u64,
    tail: Mutex<Tail>,
    /// Highest seq whose bytes are written.
    appended: AtomicU64,
    /// Highest seq an fsync covered.
    durable: AtomicU64,
    /// Bumped after `durable` moves; senders wait on it.
    epoch: AtomicU32,
    stop: AtomicBool,
}

/// A file with `bytes` reserved (not zeroed: zero-filled blocks make every
/// `fdatasync` an overwrite, which this disk flushes much more slowly).
fn reserved_file(path: &Path, bytes: u64) -> File {
    let file = OpenOptions::new()
        .read(true)
        .write(true)
        .create(true)
        .truncate(true)
        .open(path)
        .unwrap();
    rustix::fs::fallocate(&file, rustix::fs::FallocateFlags::KEEP_SIZE, 0, bytes).unwrap();
    file.sync_all().unwrap();
    file
}

/// `senders` threads append and wait for an fsync to cover them, for
/// `secs`, through the reference group commit described in the module docs.
pub fn group_commit(dir: &Path, senders: usize, secs: f64) -> Run {
    let path = dir.join("reference-group-commit");
    // Enough for 400 000 appends/s; senders stop early if it fills.
    let capacity = ((secs * 400_000.0) as u64 * RECORD).max(64 << 20);
    let shared = Shared {
        file: reserved_file(&path, capacity),
        capacity,
        tail: Mutex::new(Tail { offset: 0, seq: 0 }),
        appended: AtomicU64::new(0),
        durable: AtomicU64::new(0),
        epoch: AtomicU32::new(0),
        stop: AtomicBool::new(false),
    };
    let started = clock::now();
    let (msgs, (fsyncs, fsync_total)) = std::thread::scope(|s| {
        let shared = &shared;
        let syncer = s.spawn(move || syncer(shared));
        let handles: Vec<_> = (0..senders)
            .map(|_| s.spawn(move || sender(shared, started, secs)))
            .collect();
        let msgs: u64 = handles.into_iter().map(|h| h.join().unwrap()).sum();
        shared.stop.store(true, Ordering::Release);
        (msgs, syncer.join().unwrap())
    });
    let took = started.elapsed().as_secs_f64();
    drop(shared);
    let _ = std::fs::remove_file(&path);
    Run {
        msgs,
        secs: took,
        fsyncs,
        fsync_total,
    }
}

/// Runs fsyncs while appends are waiting; returns (fsyncs, time in them).
fn syncer(shared: &Shared) -> (u64, Duration) {
    let (mut fsyncs, mut total) = (0u64, Duration::ZERO);
    while !shared.stop.load(Ordering::Acquire) {
        let target = shared.appended.load(Ordering::Acquire);
        if target <= shared.durable.load(Ordering::Relaxed) {
            std::thread::yield_now();
            continue;
        }
        let t = clock::now();
        shared.file.sync_data().unwrap();
        total += t.elapsed();
        fsyncs += 1;
        shared.durable.store(target, Ordering::Release);
        shared.epoch.fetch_add(1, Ordering::Release);
        // Every waiter (the kernel reads the count as an `int`: `u32::MAX`
        // would be -1, which wakes one).
        let _ = futex::wake(&shared.epoch, futex::Flags::PRIVATE, i32::MAX as u32);
    }
    (fsyncs, total)
}

/// Appends and waits until durable, until `secs` have passed; returns how
/// many appends were made durable.
fn sender(shared: &Shared, started: std::time::Instant, secs: f64) -> u64 {
    let record = [b'v'; RECORD as usize];
    let mut n = 0;
    while started.elapsed().as_secs_f64() < secs {
        let seq = {
            let mut tail = shared.tail.lock().unwrap();
            if tail.offset + RECORD > shared.capacity {
                break;
            }
            shared.file.write_at(&record, tail.offset).unwrap();
            tail.offset += RECORD;
            tail.seq += 1;
            shared.appended.store(tail.seq, Ordering::Release);
            tail.seq
        };
        loop {
            let epoch = shared.epoch.load(Ordering::Acquire);
            if shared.durable.load(Ordering::Acquire) >= seq {
                break;
            }
            let _ = futex::wait(&shared.epoch, futex::Flags::PRIVATE, epoch, None);
        }
        n += 1;
    }
    n
}

/// Mean `fdatasync` latency of 100 B appends over `secs`, while `busy`
/// threads spin on the CPUs (0: an idle machine).
pub fn fsync_latency(dir: &Path, busy: usize, secs: f64) -> Duration {
    let path = dir.join("reference-fsync");
    let file = reserved_file(&path, 64 << 20);
    let stop = AtomicBool::new(false);
    let (n, total) = std::thread::scope(|s| {
        for _ in 0..busy {
            s.spawn(|| {
                while !stop.load(Ordering::Relaxed) {
                    std::hint::spin_loop();
                }
            });
        }
        let started = clock::now();
        let (mut n, mut total, mut offset) = (0u32, Duration::ZERO, 0u64);
        while started.elapsed().as_secs_f64() < secs && offset < (64 << 20) {
            file.write_at(&[b'r'; 100], offset).unwrap();
            offset += 100;
            let t = clock::now();
            file.sync_data().unwrap();
            total += t.elapsed();
            n += 1;
        }
        stop.store(true, Ordering::Relaxed);
        (n, total)
    });
    drop(file);
    let _ = std::fs::remove_file(&path);
    total / n.max(1)
}
