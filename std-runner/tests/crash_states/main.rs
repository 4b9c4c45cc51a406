//! The crash-state explorer: power loss on the real file storage.
//!
//! In the spirit of ALICE (OSDI 2014) and CrashMonkey: each workload runs
//! against the real `FileStorage` (real files, `pwrite`, stores into the
//! shared mapping, `fallocate`, `ftruncate`, `rename`, `unlink`, fsync of
//! files and directories) while its `FileObserver` records every change it
//! makes, in order, below the storage, where the calls are made
//! (`storage/fs.rs`). A model of the file system (`model.rs`) replays the
//! trace; before every sync, and at the end, it builds the states a power
//! cut at that moment may leave (pending writes dropped, reordered or torn
//! at 512-byte sectors for `pwrite` and 4 KiB pages for stores into the
//! mapping; pending length changes and directory entries lost), writes
//! each as real files, runs the real recovery on it and judges the result
//! (`oracle.rs`). See docs/crash-states.md.
//!
//! `STEADFAST_CRASH_SEED` (default 1) seeds the sampling and
//! `STEADFAST_CRASH_SCALE` (default 3) lengthens the workloads and draws
//! more states per crash point: `scripts/crash-states.sh` runs a larger
//! exploration.
#![allow(clippy::unwrap_used)]

mod model;
mod oracle;
mod recorder;
mod rng;
mod workload;

use std::collections::HashSet;
use std::path::{Path, PathBuf};

use model::{Model, Sampling};
use oracle::Expect;
use recorder::Ev;
use rng::Rng;
use workload::Workload;

fn env_u64(name: &str, default: u64) -> u64 {
    std::env::var(name)
        .ok()
        .and_then(|v| v.parse().ok())
        .unwrap_or(default)
}

/// Where crash states are written: a RAM file system if there is one (the
/// recovery of tens of thousands of states fsyncs each), else the temp dir.
fn scratch() -> tempfile::TempDir {
    let shm = Path::new("/dev/shm");
    let builder = {
        let mut b = tempfile::Builder::new();
        b.prefix("steadfast-crash-");
        b
    };
    if shm.is_dir()
        && let Ok(dir) = builder.tempdir_in(shm)
    {
        return dir;
    }
    builder.tempdir().unwrap()
}

/// The figures of one workload.
#[derive(Debug, Default)]
struct Figures {
    events: usize,
    crash_points: usize,
    generated: usize,
    explored: usize,
    violations: usize,
    first: Vec<String>,
    /// Seconds spent writing states and recovering them.
    recovery_secs: f64,
    /// Writes in the trace by `pwrite` and by stores into the mapping;
    /// directory entries created, renamed or removed.
    pwrites: usize,
    stores: usize,
    entries: usize,
}

/// Explores `workload`; `keep` filters the recorded trace (the planted
/// bugs drop calls the storage makes, as a storage without them would).
fn explore(workload: &Workload, seed: u64, scale: u32, scratch: &Path, keep: fn(&Ev) -> bool) -> Figures {
    let work = tempfile::Builder::new()
        .prefix("steadfast-crash-workload-")
        .tempdir()
        .unwrap();
    let journal = work.path().join("journal");
    let trace: Vec<Ev> = workload::record(workload, &journal, scale)
        .into_iter()
        .filter(keep)
        .collect();
    let sampling = Sampling {
        prefixes: 32 * scale as usize,
        random: 12 * scale as usize,
    };
    let mut rng = Rng::new(seed ^ (workload.name.len() as u64 * 0x9e37_79b9));
    let mut model = Model::new();
    let mut expect = Expect::default();
    let mut seen = HashSet::new();
    let mut figures = Figures {
        events: trace.len(),
        ..Figures::default()
    };
    for ev in &trace {
        match ev {
            Ev::Write { gran, .. } if *gran == recorder::PAGE => figures.stores += 1,
            Ev::Write { .. } => figures.pwrites += 1,
            Ev::Open { existed: false, .. }
            | Ev::Rename { .. }
            | Ev::Remove { .. }
            | Ev::CreateDir { .. } => figures.entries += 1,
            _ => {}
        }
    }
    let mut state_no = 0usize;
    let mut crash_point =
        |at: usize, model: &Model, expect: &Expect, figures: &mut Figures, rng: &mut Rng| {
            figures.crash_points += 1;
            model.crash_states(rng, sampling, &mut |image| {
                figures.generated += 1;
                // The oracle depends on the crash point: judge each image
                // afresh there, but only once per crash point's expectations.
                if !seen.insert((image.fingerprint(), expect.required.len(), expect.settled.len())) {
                    return;
                }
                figures.explored += 1;
                state_no += 1;
                let dir: PathBuf = scratch.join(format!("s{state_no}"));
                let t = steadfast::clock::now();
                image.materialise(&dir).unwrap();
                let verdict =
                    oracle::recover(&dir, workload.config).and_then(|got| oracle::judge(expect, &got));
                figures.recovery_secs += t.elapsed().as_secs_f64();
                if let Err(why) = verdict {
                    figures.violations += 1;
                    if figures.first.len() < 5 {
                        let files: Vec<String> = image
                            .files
                            .iter()
                            .map(|(n, b)| format!("{n} ({} B)", b.len()))
                            .collect();
                        figures.first.push(format!(
                            "crash before trace event {at}: {why}\n      files: {}",
                            files.join(", ")
                        ));
                    }
                }
                let _ = std::fs::remove_dir_all(&dir);
            });
        };
    for (at, ev) in trace.iter().enumerate() {
        if Model::is_sync(ev) {
            crash_point(at, &model, &expect, &mut figures, &mut rng);
        }
        match ev {
            Ev::Sent { seq, value } => {
                expect.sent.insert(*seq, value.clone());
            }
            Ev::SyncDone => {
                let sent: Vec<u64> = expect.sent.keys().copied().collect();
                expect.required.extend(sent);
            }
            Ev::Confirmed { seq } | Ev::DeadLettered { seq } => {
                expect.settled.insert(*seq);
            }
            _ => {}
        }
        model.apply(at, ev);
    }
    crash_point(trace.len(), &model, &expect, &mut figures, &mut rng);
    figures
}

/// The explorer catches a planted bug: a `send` that returns before its
/// fsync (the oracle and the model can fail).
#[test]
fn a_send_acknowledged_before_its_fsync_is_caught() {
    let mut planted = workload::all().remove(0);
    planted.acks_before_fsync = true;
    let scratch = scratch();
    let f = std::thread::Builder::new()
        .stack_size(256 << 20)
        .spawn(move || explore(&planted, 1, 1, scratch.path(), |_| true))
        .unwrap()
        .join()
        .unwrap();
    println!(
        "planted bug: {} of {} states violate the contract",
        f.violations, f.explored
    );
    for v in &f.first {
        println!("    {v}");
    }
    assert!(
        f.violations > 0,
        "the explorer missed a send acknowledged before its fsync"
    );
    assert!(
        f.first.iter().all(|v| v.contains("acknowledged seq")),
        "the planted bug shows as lost acknowledged messages: {:?}",
        f.first
    );
}

/// The explorer catches a storage that creates segments without syncing
/// the directory (the new segment's name may vanish with the messages
/// acknowledged in it): the trace of the segment-roll workload without its
/// directory fsyncs.
#[test]
fn segments_created_without_a_directory_fsync_are_caught() {
    let rolls = workload::all().remove(1);
    assert_eq!(rolls.name, "segment roll");
    let scratch = scratch();
    let f = std::thread::Builder::new()
        .stack_size(256 << 20)
        .spawn(move || {
            explore(&rolls, 1, 1, scratch.path(), |ev| {
                !matches!(ev, Ev::SyncDir { .. })
            })
        })
        .unwrap()
        .join()
        .unwrap();
    println!(
        "no directory fsync: {} of {} states violate the contract",
        f.violations, f.explored
    );
    for v in &f.first {
        println!("    {v}");
    }
    assert!(
        f.violations > 0,
        "the explorer missed segments created without a directory fsync"
    );
}

/// Every workload, every crash point: zero violations.
#[test]
fn power_loss_at_every_sync_point_loses_no_acknowledged_message() {
    let seed = env_u64("STEADFAST_CRASH_SEED", 1);
    let scale = env_u64("STEADFAST_CRASH_SCALE", 3).max(1) as u32;
    // The core is large and recovery keeps a few on the stack: a debug
    // build needs more than a test thread's 2 MiB.
    let handle = std::thread::Builder::new()
        .stack_size(256 << 20)
        .spawn(move || {
            let scratch = scratch();
            let start = steadfast::clock::now();
            let mut total = Figures::default();
            println!(
                "crash-state explorer: seed {seed}, scale {scale}, states in {}",
                scratch.path().display()
            );
            println!(
                "{:<28} {:>7} {:>7} {:>9} {:>9} {:>10} {:>7}",
                "workload", "events", "points", "generated", "explored", "violations", "secs"
            );
            for w in workload::all() {
                let t = steadfast::clock::now();
                let f = explore(&w, seed, scale, scratch.path(), |_| true);
                println!(
                    "{:<28} {:>7} {:>7} {:>9} {:>9} {:>10} {:>7.1}",
                    w.name,
                    f.events,
                    f.crash_points,
                    f.generated,
                    f.explored,
                    f.violations,
                    t.elapsed().as_secs_f64()
                );
                println!(
                    "    (trace: {} pwrites, {} stores into the mapping, {} directory entries)",
                    f.pwrites, f.stores, f.entries
                );
                for v in &f.first {
                    println!("    {v}");
                }
                total.events += f.events;
                total.pwrites += f.pwrites;
                total.stores += f.stores;
                total.crash_points += f.crash_points;
                total.generated += f.generated;
                total.explored += f.explored;
                total.violations += f.violations;
                total.recovery_secs += f.recovery_secs;
            }
            println!(
                "(of which writing and recovering states: {:.1} s)",
                total.recovery_secs
            );
            println!(
                "{:<28} {:>7} {:>7} {:>9} {:>9} {:>10} {:>7.1}",
                "total",
                total.events,
                total.crash_points,
                total.generated,
                total.explored,
                total.violations,
                start.elapsed().as_secs_f64()
            );
            total
        })
        .unwrap();
    let total = handle.join().unwrap();
    assert!(total.explored > 0, "no crash state was explored");
    assert!(total.pwrites > 0, "no pwrite was recorded");
    let probe = tempfile::tempdir().unwrap();
    if steadfast::storage::segments_mappable_in(probe.path()) {
        assert!(
            total.stores > 0,
            "segments are mapped here, yet no store into a mapping was recorded"
        );
    }
    assert_eq!(
        total.violations, 0,
        "crash states violated the durability contract (see above)"
    );
}
