//! Process crashes: a child process sends numbered messages and prints each
//! number once `send` has returned; the parent kills it with SIGKILL at
//! random moments (some during start-up recovery), restarts it on the same
//! journal, and finally checks that every printed number reached the file
//! transport's output. Duplicates are counted (delivery is at-least-once);
//! a missing number fails the test.
//!
//! The child is this test binary run again with `STEADFAST_CRASH_CHILD` set.
//! Children cycle through the three sync levels and through single and
//! batch sends: a killed process loses nothing acknowledged at any level.
//! On Linux about half the kills hit a segment whose appends are copies into
//! a shared mapping (checked where the file system allows mapping; the rest
//! hit start-up or a segment recovered from the previous child).
//! The seed is printed; set `STEADFAST_CRASH_SEED` to replay one.
#![allow(clippy::unwrap_used, clippy::result_large_err)]

mod common;

use std::collections::BTreeMap;
use std::io::{BufRead, BufReader, Write};
use std::path::Path;
use std::process::{Command, Stdio};
use std::time::Duration;

use steadfast::transport::read_delivered;
use steadfast::{Config, FileTransport, OwnedMessage, Producer, SyncPolicy};

const CHILD_ENV: &str = "STEADFAST_CRASH_CHILD";
const KILLS: u64 = 60;

fn config() -> Config {
    Config {
        max_entry: 4096,
        segment_size: 64 << 10,
        ..Config::default()
    }
}

/// The child: `journal|out|first-number|sync|batch` in the environment.
#[test]
fn crash_child() {
    let Ok(spec) = std::env::var(CHILD_ENV) else {
        return;
    };
    let parts: Vec<&str> = spec.split('|').collect();
    let (journal, out) = (Path::new(parts[0]), Path::new(parts[1]));
    let mut next: u64 = parts[2].parse().unwrap();
    let sync = match parts[3] {
        "always" => SyncPolicy::Always,
        "interval" => SyncPolicy::Interval(20),
        _ => SyncPolicy::Never,
    };
    let producer = Producer::builder(journal)
        .config(config())
        .sync(sync)
        .spawn(FileTransport::open(out).unwrap())
        .unwrap();
    if parts[4] == "drain" {
        println!("DRAIN report {}", producer.recovery_report());
        let flushed = producer.flush_timeout(Duration::from_secs(60));
        println!("DRAIN stats {:?}", producer.stats());
        flushed.unwrap();
        producer.close(Duration::from_secs(5)).unwrap();
        return;
    }
    let batch = parts[4] == "batch";
    let mut stdout = std::io::stdout().lock();
    loop {
        let message = |n: u64| OwnedMessage::new("numbers", n.to_string()).with_key(format!("k{}", n % 8));
        if batch {
            let ns: Vec<u64> = (next..next + 16).collect();
            producer
                .send_batch(ns.iter().map(|n| message(*n)).collect())
                .unwrap();
            for n in ns {
                writeln!(stdout, "ACK {n}").unwrap();
            }
            next += 16;
        } else {
            producer.send(message(next)).unwrap();
            writeln!(stdout, "ACK {next}").unwrap();
            next += 1;
        }
        if next.is_multiple_of(64) {
            // Which append path this child's kill will hit (see the parent).
            writeln!(stdout, "MAPPED {}", steadfast::storage::segments_mapped()).unwrap();
        }
        stdout.flush().unwrap();
    }
}

/// xorshift64*: the parent's only randomness, from one printed seed.
struct Rng(u64);

impl Rng {
    fn next(&mut self) -> u64 {
        self.0 ^= self.0 >> 12;
        self.0 ^= self.0 << 25;
        self.0 ^= self.0 >> 27;
        self.0.wrapping_mul(0x2545_f491_4f6c_dd1d)
    }
    fn below(&mut self, n: u64) -> u64 {
        self.next() % n
    }
}

fn spawn_child(spec: &str) -> std::process::Child {
    Command::new(std::env::current_exe().unwrap())
        .args(["--exact", "crash_child", "--nocapture", "--test-threads=1"])
        .env(CHILD_ENV, spec)
        .stdout(Stdio::piped())
        .stderr(Stdio::null())
        .spawn()
        .unwrap()
}

#[cfg(unix)]
#[test]
fn sigkill_at_random_moments_loses_no_acknowledged_message() {
    if std::env::var(CHILD_ENV).is_ok() {
        return;
    }
    let seed = std::env::var("STEADFAST_CRASH_SEED")
        .ok()
        .and_then(|s| s.parse().ok())
        .unwrap_or_else(|| steadfast::clock::unix_millis().unsigned_abs() | 1);
    println!("crash test seed {seed} (STEADFAST_CRASH_SEED={seed} replays it)");
    let mut rng = Rng(seed);
    let dir = common::tempdir();
    let journal = dir.path().join("journal");
    let out = dir.path().join("delivered.jsonl");
    let started = steadfast::clock::now();
    let mut acked: Vec<u64> = Vec::new();
    // Children killed after they had mapped a segment (appends by memcpy).
    let mut children_mapping = 0;
    for kill in 0..KILLS {
        let sync = ["always", "interval", "never"][(kill % 3) as usize];
        let mode = if kill % 4 == 3 { "batch" } else { "single" };
        let first = kill * 1_000_000;
        let spec = format!("{}|{}|{first}|{sync}|{mode}", journal.display(), out.display());
        let mut child = spawn_child(&spec);
        let stdout = child.stdout.take().unwrap();
        let reader = std::thread::spawn(move || {
            let mut numbers: Vec<u64> = Vec::new();
            let mut mapped = 0usize;
            for line in BufReader::new(stdout).lines() {
                let Ok(line) = line else { break };
                if let Some(n) = line.strip_prefix("ACK ").and_then(|n| n.parse().ok()) {
                    numbers.push(n);
                } else if let Some(n) = line.strip_prefix("MAPPED ").and_then(|n| n.parse().ok()) {
                    mapped = n;
                }
            }
            (numbers, mapped)
        });
        // Mostly while sending; one in eight during start-up recovery.
        let delay = if rng.below(8) == 0 {
            rng.below(15)
        } else {
            20 + rng.below(130)
        };
        steadfast::clock::sleep(Duration::from_millis(delay));
        child.kill().unwrap(); // SIGKILL
        let status = child.wait().unwrap();
        assert!(!status.success(), "child {kill} exited on its own: {status}");
        let (numbers, mapped) = reader.join().unwrap();
        acked.extend(numbers);
        children_mapping += usize::from(mapped > 0);
    }
    // Deliver whatever the killed children left behind.
    let spec = format!("{}|{}|0|always|drain", journal.display(), out.display());
    let drain = Command::new(std::env::current_exe().unwrap())
        .args(["--exact", "crash_child", "--nocapture", "--test-threads=1"])
        .env(CHILD_ENV, &spec)
        .stdout(Stdio::piped())
        .stderr(Stdio::inherit())
        .spawn()
        .unwrap()
        .wait_with_output()
        .unwrap();
    for line in String::from_utf8_lossy(&drain.stdout).lines() {
        if line.contains("DRAIN") {
            println!("{line}");
        }
    }
    assert!(drain.status.success(), "the draining child failed");

    let delivered = read_delivered(&out).unwrap();
    let mut counts: BTreeMap<u64, usize> = BTreeMap::new();
    for r in &delivered.records {
        let n: u64 = String::from_utf8(r.value.clone().unwrap())
            .unwrap()
            .parse()
            .unwrap();
        *counts.entry(n).or_insert(0) += 1;
    }
    let missing: Vec<u64> = acked
        .iter()
        .copied()
        .filter(|n| !counts.contains_key(n))
        .collect();
    let duplicates: usize = counts.values().map(|c| c - 1).sum();
    println!(
        "{KILLS} kills in {:.1?}: {} acknowledged, {} delivered ({} distinct, {duplicates} duplicates, {} torn lines), {} missing",
        started.elapsed(),
        acked.len(),
        delivered.records.len(),
        counts.len(),
        delivered.bad_lines,
        missing.len()
    );
    assert!(acked.len() > 1000, "too few messages acknowledged to mean much");
    println!("{children_mapping} of {KILLS} children were killed while appending to mapped segments");
    if steadfast::storage::segments_mappable_in(dir.path()) {
        assert!(
            children_mapping >= KILLS as usize / 4,
            "too few kills hit a mapped segment: {children_mapping}"
        );
    }
    if !missing.is_empty() && std::env::var("STEADFAST_CRASH_KEEP").is_ok() {
        println!("kept {}", dir.keep().display());
    }
    assert!(
        missing.is_empty(),
        "{} acknowledged but never delivered, first: {:?} (seed {seed})",
        missing.len(),
        &missing[..missing.len().min(20)]
    );
}
