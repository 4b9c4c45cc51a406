//! Process crashes against a broker in another process.
//!
//! The `mock-cluster` binary serves a librdkafka mock cluster (3 brokers)
//! from its own process for the whole test. The `crash-producer` binary
//! (the steadfast `Producer` over `KafkaTransport`) sends numbered keyed
//! messages and prints `ACK <id> <n>` after each `send` returned; the test
//! kills it with SIGKILL at random moments — some during start-up and
//! journal recovery, some mid-stream — and restarts it on the same journal,
//! cycling through the three sync levels and through single and batch
//! sends. Finally a `--drain` run delivers what is left, the topic is read
//! back, and every acknowledged id must be in it, in order per key.
//! Duplicates (at-least-once) and ids that were journaled but never
//! acknowledged (killed between `send` and the print) are counted, not
//! failures.
//!
//! The seed is printed; `STEADFAST_CRASH_SEED=<n>` replays a schedule.
//! Run: `cargo test -p steadfast-sim --features kafka --test kafka_crash`.

#![allow(clippy::unwrap_used, clippy::disallowed_methods)]

use std::collections::HashSet;
use std::io::{BufRead, BufReader, Read};
use std::process::{Child, Command, Stdio};
use std::thread::JoinHandle;
use std::time::{Duration, Instant};

use steadfast::MessageId;
use steadfast_sim::brokers::{ScratchDir, check_ids, key_order_violations, read_topic};

const TOPIC: &str = "crash";
const KILLS: u64 = 32;

/// A child process killed (by its own handle) when dropped.
struct Proc(Child);

impl Drop for Proc {
    fn drop(&mut self) {
        let _ = self.0.kill();
        let _ = self.0.wait();
    }
}

/// SplitMix64: the kill schedule, replayable from the printed seed.
struct Rng(u64);

impl Rng {
    fn next(&mut self) -> u64 {
        self.0 = self.0.wrapping_add(0x9e37_79b9_7f4a_7c15);
        let mut z = self.0;
        z = (z ^ (z >> 30)).wrapping_mul(0xbf58_476d_1ce4_e5b9);
        z = (z ^ (z >> 27)).wrapping_mul(0x94d0_49bb_1331_11eb);
        z ^ (z >> 31)
    }

    fn below(&mut self, n: u64) -> u64 {
        self.next() % n
    }
}

fn seed() -> u64 {
    match std::env::var("STEADFAST_CRASH_SEED") {
        Ok(s) => s.parse().unwrap(),
        Err(_) => std::time::SystemTime::now()
            .duration_since(std::time::UNIX_EPOCH)
            .unwrap()
            .as_nanos() as u64,
    }
}

/// Starts the `mock-cluster` process and returns it with its bootstrap list.
fn start_cluster() -> (Proc, String) {
    let mut child = Command::new(env!("CARGO_BIN_EXE_mock-cluster"))
        .args(["--brokers", "3", &format!("{TOPIC}:4")])
        .stdin(Stdio::null())
        .stdout(Stdio::piped())
        .spawn()
        .unwrap();
    let mut line = String::new();
    BufReader::new(child.stdout.take().unwrap())
        .read_line(&mut line)
        .unwrap();
    let bootstrap = line.trim().to_owned();
    assert!(!bootstrap.is_empty(), "mock-cluster printed no bootstrap list");
    (Proc(child), bootstrap)
}

fn producer(bootstrap: &str, journal: &ScratchDir) -> Command {
    let mut command = Command::new(env!("CARGO_BIN_EXE_crash-producer"));
    command
        .args(["--brokers", bootstrap, "--topic", TOPIC, "--journal"])
        .arg(journal.path())
        .stdin(Stdio::null())
        .stdout(Stdio::piped());
    command
}

/// Collects every complete line the child prints (a line cut by the kill
/// has no newline and is dropped: its `send` may not have returned).
fn read_lines(mut out: impl Read + Send + 'static) -> JoinHandle<Vec<String>> {
    std::thread::spawn(move || {
        let mut text = Vec::new();
        let _ = out.read_to_end(&mut text);
        let text = String::from_utf8_lossy(&text);
        let complete = text.rfind('\n').map_or("", |end| &text[..end]);
        complete.lines().map(str::to_owned).collect()
    })
}

#[test]
fn sigkilled_producers_lose_no_acknowledged_message() {
    let started = Instant::now();
    let seed = seed();
    println!("seed {seed} (replay with STEADFAST_CRASH_SEED={seed})");
    let mut rng = Rng(seed);
    let (_cluster, bootstrap) = start_cluster();
    let journal = ScratchDir::new("kafka-crash").unwrap();

    let mut acked: Vec<MessageId> = Vec::new();
    let mut during_startup = 0;
    for run in 0..KILLS {
        let sync = ["always", "interval", "never"][(run % 3) as usize];
        let mut command = producer(&bootstrap, &journal);
        command.args(["--sync", sync, "--first", &(run * 1_000_000).to_string()]);
        if run % 2 == 1 {
            command.arg("--batch");
        }
        let mut child = Proc(command.spawn().unwrap());
        let lines = read_lines(child.0.stdout.take().unwrap());
        // One kill in four within the first 60 ms (opening, recovering,
        // connecting); the rest within 1.2 s of sending.
        let delay = if rng.below(4) == 0 {
            rng.below(60)
        } else {
            60 + rng.below(1_140)
        };
        std::thread::sleep(Duration::from_millis(delay));
        if let Ok(Some(status)) = child.0.try_wait() {
            panic!("run {run}: crash-producer exited on its own with {status}");
        }
        child.0.kill().unwrap();
        child.0.wait().unwrap();
        let lines = lines.join().unwrap();
        let before = acked.len();
        for line in &lines {
            let mut words = line.split(' ');
            if words.next() == Some("ACK") {
                acked.push(MessageId::parse(words.next().unwrap()).unwrap());
            }
        }
        if acked.len() == before {
            during_startup += 1;
        }
        println!(
            "run {run:2}: sync {sync:8} {:5} killed after {delay:4} ms, {:5} acks",
            if run % 2 == 1 { "batch" } else { "one" },
            acked.len() - before
        );
    }
    println!(
        "{KILLS} kills ({during_startup} before the first ack), {} acked, {:?}",
        acked.len(),
        started.elapsed()
    );
    assert!(!acked.is_empty());
    let journals: HashSet<u64> = acked.iter().map(|id| id.journal).collect();
    assert_eq!(journals.len(), 1, "one journal across restarts: {journals:?}");

    // Deliver what is left, then read the topic back.
    let drain = producer(&bootstrap, &journal)
        .arg("--drain")
        .stderr(Stdio::inherit())
        .output()
        .unwrap();
    print!("{}", String::from_utf8_lossy(&drain.stdout));
    assert!(drain.status.success(), "drain failed: {}", drain.status);

    let got = read_topic(&bootstrap, TOPIC, acked.len(), Duration::from_secs(30)).unwrap();
    let mut report = check_ids(&acked, &got);
    // Keys share partitions: order is checked per key below, not per partition.
    report.out_of_order.clear();
    println!("{report}");
    // Journaled but killed before the ACK line: delivered too, not acknowledged.
    println!(
        "{} ids delivered that were never acknowledged",
        report.unexpected.len()
    );
    assert!(report.missing.is_empty(), "acknowledged but lost: {report}");
    assert_eq!(report.without_id, 0);
    let violations = key_order_violations(&got);
    assert!(violations.is_empty(), "out of order per key: {violations:?}");
    println!("total {:?}", started.elapsed());
}
