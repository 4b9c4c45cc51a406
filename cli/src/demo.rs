//! `steadfast demo`: what the project is for, in one command (feature
//! `kafka`).
//!
//! The cluster (librdkafka's mock, 3 brokers) lives in this process; the
//! producer is a child process (this binary's hidden `__demo-producer`),
//! so it can be killed with SIGKILL while the cluster keeps running:
//!
//! ```text
//!  phase 0   produce at --rate msg/s
//!  phase 1   produce requests fail (not leader, not enough replicas,
//!            timeouts, dropped connections)
//!  phase 2   partition leaders move between brokers
//!  phase 3   all brokers down (longer than librdkafka's message timeout);
//!            the producer is SIGKILLed with a backlog and restarted
//!  phase 4.5 brokers up; the producer is SIGKILLed again while it drains
//!  phase 6   input ends; the producer drains and exits
//! ```
//!
//! Then the topic is read back and every id acknowledged by `send` is
//! looked for: sent / delivered / missing / duplicates / order per key /
//! throughput. Missing must be 0 (exit code 7 otherwise).

use std::collections::{HashMap, HashSet};
use std::io::{BufRead, BufReader, Write};
use std::path::PathBuf;
use std::process::{Child, ChildStdin, Command, Stdio};
use std::sync::mpsc::{self, Receiver, RecvTimeoutError, Sender};
use std::time::{Duration, Instant};

use rdkafka::types::{RDKafkaApiKey, RDKafkaRespErr};
use steadfast::MessageId;

use super::embedded::Embedded;
use super::error::CliError;
use super::parse::{self, human_duration, human_rate};
use super::readback::read_topic;

const TOPIC: &str = "steadfast-demo";
const PARTITIONS: i32 = 6;

/// `steadfast demo` flags.
#[derive(Debug, clap::Args)]
pub struct DemoArgs {
    /// Messages per second asked of the producer.
    #[arg(long, default_value_t = 2000)]
    rate: u64,
    /// Length of one phase of the fault schedule (the demo takes about 7
    /// phases, plus the read-back).
    #[arg(long, value_parser = parse::duration, default_value = "3s")]
    phase: Duration,
    /// Keep the journal in DIR (default: a temporary directory, removed).
    #[arg(long, value_name = "DIR")]
    journal: Option<PathBuf>,
}

/// What the producer children say, tagged with their generation.
enum Event {
    Ack(MessageId, u64),
    Recovered(u32, u64),
    Pending(u64),
    Drained,
    Exited(u32),
}

/// One producer child.
struct Producer {
    child: Child,
    stdin: Option<ChildStdin>,
    generation: u32,
}

impl Producer {
    fn start(
        dir: &std::path::Path,
        bootstrap: &str,
        next: u64,
        generation: u32,
        events: Sender<Event>,
    ) -> Result<Self, CliError> {
        let exe =
            std::env::current_exe().map_err(|e| CliError::Demo(format!("cannot find this program: {e}")))?;
        let mut child = Command::new(exe)
            .arg("__demo-producer")
            .arg("--journal")
            .arg(dir)
            .args([
                "--brokers",
                bootstrap,
                "--topic",
                TOPIC,
                "--start",
                &next.to_string(),
            ])
            .stdin(Stdio::piped())
            .stdout(Stdio::piped())
            .stderr(Stdio::inherit())
            .spawn()
            .map_err(|e| CliError::Demo(format!("cannot start the producer process: {e}")))?;
        let stdout = child.stdout.take();
        std::thread::spawn(move || {
            if let Some(out) = stdout {
                for line in BufReader::new(out).lines().map_while(Result::ok) {
                    let mut words = line.split(' ');
                    let event = match (words.next(), words.next(), words.next()) {
                        (Some("ACK"), Some(id), Some(n)) => match (MessageId::parse(id), n.parse()) {
                            (Some(id), Ok(n)) => Event::Ack(id, n),
                            _ => continue,
                        },
                        (Some("RECOVERED"), Some(n), _) => {
                            Event::Recovered(generation, n.parse().unwrap_or(0))
                        }
                        (Some("PENDING"), Some(n), _) => Event::Pending(n.parse().unwrap_or(0)),
                        (Some("DRAINED"), _, _) => Event::Drained,
                        _ => continue,
                    };
                    if events.send(event).is_err() {
                        return;
                    }
                }
            }
            let _ = events.send(Event::Exited(generation));
        });
        let stdin = child.stdin.take();
        Ok(Producer {
            child,
            stdin,
            generation,
        })
    }

    fn ask(&mut self, n: u64) {
        if let Some(stdin) = self.stdin.as_mut()
            && writeln!(stdin, "SEND {n}").and_then(|()| stdin.flush()).is_err()
        {
            self.stdin = None;
        }
    }

    /// SIGKILL (no chance to flush or close anything), then reap.
    fn kill(&mut self) -> u32 {
        let pid = self.child.id();
        let _ = self.child.kill();
        let _ = self.child.wait();
        pid
    }
}

impl Drop for Producer {
    fn drop(&mut self) {
        self.stdin = None;
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

/// A temporary journal directory, removed when dropped.
struct TempDir(PathBuf);

impl Drop for TempDir {
    fn drop(&mut self) {
        let _ = std::fs::remove_dir_all(&self.0);
    }
}

/// What the run saw.
#[derive(Default)]
struct Tally {
    acked: Vec<(MessageId, u64)>,
    pending: u64,
    kills: u32,
    drained: bool,
}

struct Demo {
    t0: Instant,
    events: Receiver<Event>,
    tally: Tally,
}

impl Demo {
    fn say(&self, text: &str) {
        let at = steadfast::clock::now().saturating_duration_since(self.t0);
        println!("[{:>5.1}s] {text}", at.as_secs_f64());
    }

    /// Handles events until `until`.
    fn pump(&mut self, until: Instant) {
        loop {
            let left = until.saturating_duration_since(steadfast::clock::now());
            match self.events.recv_timeout(left) {
                Ok(e) => self.take(e),
                Err(RecvTimeoutError::Timeout | RecvTimeoutError::Disconnected) => return,
            }
        }
    }

    fn take(&mut self, e: Event) {
        match e {
            Event::Ack(id, n) => self.tally.acked.push((id, n)),
            Event::Pending(p) => self.tally.pending = p,
            Event::Recovered(g, n) if g > 1 => self.say(&format!(
                "producer #{g} recovered the journal: {n} messages pending, delivering them first"
            )),
            Event::Drained => self.tally.drained = true,
            Event::Recovered(..) | Event::Exited(_) => {}
        }
    }

    fn next_number(&self) -> u64 {
        self.tally.acked.iter().map(|(_, n)| n + 1).max().unwrap_or(0)
    }
}

/// Runs the demo.
pub fn run(args: DemoArgs) -> Result<(), CliError> {
    let (tx, rx) = mpsc::channel();
    let mut demo = Demo {
        t0: steadfast::clock::now(),
        events: rx,
        tally: Tally::default(),
    };
    let cluster = Embedded::start(3, &[(TOPIC, PARTITIONS)])?;
    let bootstrap = cluster.bootstrap();
    let (dir, _cleanup) = match &args.journal {
        Some(d) => (d.clone(), None),
        None => {
            let d = std::env::temp_dir().join(format!("steadfast-demo-{}", std::process::id()));
            (d.clone(), Some(TempDir(d)))
        }
    };
    println!("steadfast demo: every message acknowledged by send() must reach Kafka, whatever breaks");
    println!(
        "  Kafka:    embedded mock cluster, 3 brokers at {bootstrap}; topic {TOPIC}, {PARTITIONS} partitions, replication 3"
    );
    println!(
        "  producer: a child process journaling to {} (fsync per batch), ~{} msg/s, librdkafka message.timeout.ms=2500",
        dir.display(),
        args.rate
    );
    let (t0, phase) = (demo.t0, args.phase);
    let at = move |k: f64| t0 + phase.mul_f64(k);
    let schedule = [at(1.0), at(2.0), at(3.0), at(3.6), at(4.5), at(4.8), at(6.0)];
    let mut producer = Producer::start(&dir, &bootstrap, 0, 1, tx.clone())?;
    let mut generation = 1;
    demo.say("producing");
    let tick = Duration::from_millis(50);
    let per_tick = (args.rate / 20).max(1);
    let mut step = 0;
    let mut errors_pushed = 0usize;
    let c = cluster.cluster();
    let mut next_tick = demo.t0;
    while step < schedule.len() {
        let now = steadfast::clock::now();
        if now >= next_tick {
            producer.ask(per_tick);
            next_tick += tick;
        }
        if (1..2).contains(&step) && now >= at(1.0) {
            // Keep the error stack topped up during phase 1.
            let errs = [
                RDKafkaRespErr::RD_KAFKA_RESP_ERR_NOT_LEADER_FOR_PARTITION,
                RDKafkaRespErr::RD_KAFKA_RESP_ERR_NOT_ENOUGH_REPLICAS,
                RDKafkaRespErr::RD_KAFKA_RESP_ERR_REQUEST_TIMED_OUT,
                RDKafkaRespErr::RD_KAFKA_RESP_ERR__TRANSPORT,
                RDKafkaRespErr::RD_KAFKA_RESP_ERR_LEADER_NOT_AVAILABLE,
                RDKafkaRespErr::RD_KAFKA_RESP_ERR_NOT_ENOUGH_REPLICAS_AFTER_APPEND,
            ];
            c.request_errors(RDKafkaApiKey::Produce, &errs);
            errors_pushed += errs.len();
        }
        if now >= schedule[step] {
            match step {
                0 => demo.say(
                    "fault: produce requests fail (NOT_LEADER, NOT_ENOUGH_REPLICAS, REQUEST_TIMED_OUT, dropped connections)",
                ),
                1 => {
                    c.clear_request_errors(RDKafkaApiKey::Produce);
                    demo.say(&format!("fault: {errors_pushed} produce errors injected; now partition leaders move"));
                    for p in 0..PARTITIONS {
                        let _ = c.partition_leader(TOPIC, p, Some((p + 1) % 3 + 1));
                    }
                }
                2 => {
                    for p in 0..PARTITIONS {
                        let _ = c.partition_leader(TOPIC, p, Some(p % 3 + 1));
                    }
                    let _ = c.broker_down(-1);
                    demo.say("fault: all brokers down (longer than librdkafka's own message timeout)");
                }
                3 | 5 => {
                    let acked = demo.tally.acked.len();
                    let pid = producer.kill();
                    demo.tally.kills += 1;
                    demo.say(&format!(
                        "crash: producer #{generation} (pid {pid}) killed with SIGKILL: {acked} messages acknowledged so far, \
                         ~{} of them not yet confirmed by Kafka",
                        demo.tally.pending
                    ));
                    // Its last ACK lines may still be in the pipe.
                    demo.pump(steadfast::clock::now() + Duration::from_millis(100));
                    generation += 1;
                    producer = Producer::start(&dir, &bootstrap, demo.next_number(), generation, tx.clone())?;
                    demo.say(&format!("restart: producer #{generation} on the same journal"));
                }
                4 => {
                    let _ = c.broker_up(-1);
                    demo.say("brokers up");
                }
                _ => {
                    producer.stdin = None;
                    demo.say(&format!(
                        "input ends ({} messages acknowledged so far); producer #{generation} drains its backlog",
                        demo.tally.acked.len()
                    ));
                }
            }
            step += 1;
        }
        demo.pump(next_tick.min(schedule.get(step).copied().unwrap_or(next_tick)));
    }
    let produced_for = steadfast::clock::now().saturating_duration_since(demo.t0);
    let drain_deadline = steadfast::clock::now() + Duration::from_secs(60);
    while !demo.tally.drained && steadfast::clock::now() < drain_deadline {
        match demo.events.recv_timeout(Duration::from_millis(200)) {
            Ok(Event::Exited(g)) if g == producer.generation => break,
            Ok(e) => demo.take(e),
            Err(_) => {}
        }
    }
    drop(tx);
    let elapsed = steadfast::clock::now().saturating_duration_since(demo.t0);
    if demo.tally.drained {
        demo.say("producer drained: everything confirmed; reading the topic back");
    } else {
        demo.say("producer did not drain within 60 s; reading the topic back anyway");
    }
    let acked = &demo.tally.acked;
    let records = read_topic(&bootstrap, TOPIC, acked.len(), Duration::from_secs(30))?;
    drop(producer);
    report(&demo, &records, produced_for, elapsed)
}

fn report(
    demo: &Demo,
    records: &[super::readback::ConsumedRecord],
    produced_for: Duration,
    elapsed: Duration,
) -> Result<(), CliError> {
    let acked = &demo.tally.acked;
    let rank: HashMap<MessageId, usize> = acked.iter().enumerate().map(|(i, (id, _))| (*id, i)).collect();
    let mut seen: HashMap<MessageId, usize> = HashMap::new();
    let mut unacked = 0usize;
    let mut no_id = 0usize;
    // Order per key: first arrivals of acknowledged ids follow send order.
    let mut last_by_key: HashMap<Vec<u8>, usize> = HashMap::new();
    let mut disorder = 0usize;
    for r in records {
        let Some(id) = r.id else {
            no_id += 1;
            continue;
        };
        let count = seen.entry(id).or_default();
        *count += 1;
        let Some(&k) = rank.get(&id) else {
            if *count == 1 {
                unacked += 1;
            }
            continue;
        };
        if *count > 1 {
            continue;
        }
        let key = r.key.clone().unwrap_or_default();
        if last_by_key.get(&key).is_some_and(|&prev| k < prev) {
            disorder += 1;
        }
        last_by_key.insert(key, k);
    }
    let missing: Vec<&MessageId> = acked
        .iter()
        .map(|(id, _)| id)
        .filter(|id| !seen.contains_key(id))
        .collect();
    let delivered = acked.len() - missing.len();
    let duplicates: usize = seen.values().map(|n| n.saturating_sub(1)).sum();
    let distinct: HashSet<&MessageId> = seen.keys().collect();
    println!("result");
    let row = |name: &str, value: String| println!("  {name:<30}{value}");
    row("sent (acknowledged by send)", acked.len().to_string());
    row("delivered (distinct ids)", delivered.to_string());
    row("missing", missing.len().to_string());
    row(
        "duplicates",
        format!(
            "{duplicates} (at-least-once: resent after a crash or an unknown outcome; same steadfast-id)"
        ),
    );
    row(
        "journaled, unacknowledged",
        format!("{unacked} delivered although the producer was killed before acknowledging them"),
    );
    row(
        "order per key",
        if disorder == 0 {
            "kept".into()
        } else {
            format!("{disorder} violations")
        },
    );
    row(
        "records read back",
        format!("{} ({} ids, {no_id} without id)", records.len(), distinct.len()),
    );
    row("producer kills (SIGKILL)", demo.tally.kills.to_string());
    row(
        "throughput",
        format!(
            "{} msg/s produced over {}; everything delivered {} after the start",
            human_rate(acked.len() as f64, produced_for.as_secs_f64()),
            human_duration(produced_for),
            human_duration(elapsed)
        ),
    );
    if !missing.is_empty() || disorder > 0 || no_id > 0 {
        let shown: Vec<String> = missing.iter().take(10).map(ToString::to_string).collect();
        return Err(CliError::Demo(format!(
            "{} acknowledged message(s) missing, {disorder} out of order, {no_id} without id; first missing: {}",
            missing.len(),
            shown.join(", ")
        )));
    }
    println!("missing 0: every acknowledged message arrived, in order per key");
    Ok(())
}
