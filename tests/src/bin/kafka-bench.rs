//! steadfast vs a plain rdkafka producer, to an embedded librdkafka mock
//! cluster, in one run; figures go to `docs/benchmarks.md` ("Kafka:
//! steadfast vs plain rdkafka").
//!
//! ```text
//! cargo run --release -p steadfast-sim --features kafka --bin kafka-bench -- \
//!     [--messages N] [--sizes 1024,100] [--keys K] [--reps R] [--dir D]
//!     [--only plain|interval|interval-batch|always-batch|always-threads]
//! ```
//!
//! For each message size, each contender sends the same workload — N
//! messages of that size, keyed `key-{i % K}` (K = 0: no key), to a topic of
//! 6 partitions on a fresh 3-broker mock cluster — and the clock stops when
//! the broker has confirmed the last one:
//!
//! - **plain**: rdkafka's `ThreadedProducer`, no journal: `send` in a loop
//!   (waiting on a full queue), then `flush`.
//! - **interval**: steadfast, `Sync::Interval(100 ms)`: `Producer::send` in a
//!   loop (each message journaled and written to the OS before `send`
//!   returns), then `flush`.
//! - **interval-batch**: the same in `send_batch` calls of 1000 messages
//!   (one lock and one write per call).
//! - **always-batch**: `Sync::Always`, `send_batch` of 1000: each call
//!   returns after the fsync that covers it.
//! - **always-threads**: `Sync::Always`, `send` from 16 threads: each `send`
//!   waits for an fsync, shared by the threads waiting at the time (group
//!   commit).
//!
//! Every contender uses `enable.idempotence=true`, `acks=all` and the same
//! librdkafka batching settings (`linger.ms`, `batch.size`,
//! `batch.num.messages`). Each runs R times, interleaved; the median is
//! shown, with the ratio plain time / contender time (1.0 = as fast as the
//! plain producer). Progress goes to stderr.

// A benchmark reads the clock; the workspace lint is for the library crates.
#![allow(clippy::disallowed_methods)]

use std::path::PathBuf;
use std::process::ExitCode;
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::{Duration, Instant};

use rdkafka::ClientConfig;
use rdkafka::ClientContext;
use rdkafka::error::{KafkaError, RDKafkaErrorCode};
use rdkafka::producer::{BaseRecord, DeliveryResult, Producer as _, ProducerContext, ThreadedProducer};
use steadfast::{Config, OwnedMessage, Producer, SyncPolicy};
use steadfast_sim::brokers::{MockKafka, ScratchDir, start_mock_cluster};
use steadfast_transports::kafka::{KafkaConfig, KafkaTransport};

const TOPIC: &str = "bench";
const PARTITIONS: i32 = 6;
/// Messages per `send_batch` call in the batch variants.
const BATCH: usize = 1000;
/// Sending threads of `always-threads`.
const THREADS: u64 = 16;

/// librdkafka settings every contender uses (besides idempotence and acks,
/// which the transport always sets and the plain producer sets below).
const BATCHING: [(&str, &str); 4] = [
    ("linger.ms", "5"),
    ("batch.size", "1000000"),
    ("batch.num.messages", "10000"),
    ("reconnect.backoff.max.ms", "100"),
];

struct Args {
    messages: u64,
    sizes: Vec<usize>,
    keys: u64,
    reps: usize,
    dir: Option<PathBuf>,
    only: Option<String>,
}

fn parse() -> Result<Args, String> {
    let mut args = Args {
        messages: 200_000,
        sizes: vec![1024, 100],
        keys: 64,
        reps: 3,
        dir: None,
        only: None,
    };
    let mut it = std::env::args().skip(1);
    while let Some(flag) = it.next() {
        let value = it.next().ok_or(format!("{flag} needs a value"))?;
        let number = |v: &str| v.parse::<u64>().map_err(|e| format!("{flag}: {e}"));
        match flag.as_str() {
            "--messages" => args.messages = number(&value)?,
            "--keys" => args.keys = number(&value)?,
            "--reps" => args.reps = number(&value)?.max(1) as usize,
            "--dir" => args.dir = Some(PathBuf::from(value)),
            "--only" => args.only = Some(value),
            "--sizes" => {
                args.sizes = value
                    .split(',')
                    .map(|s| s.trim().parse().map_err(|e| format!("--sizes: {e}")))
                    .collect::<Result<_, _>>()?;
            }
            other => return Err(format!("unknown option {other:?}")),
        }
    }
    Ok(args)
}

fn main() -> ExitCode {
    match parse().and_then(|args| run(&args)) {
        Ok(()) => ExitCode::SUCCESS,
        Err(message) => {
            eprintln!("kafka-bench: {message}");
            ExitCode::FAILURE
        }
    }
}

/// Who sends.
#[derive(Clone, Copy, PartialEq, Eq)]
enum Contender {
    Plain,
    Interval,
    IntervalBatch,
    AlwaysBatch,
    AlwaysThreads,
}

impl Contender {
    const ALL: [Contender; 5] = [
        Contender::Plain,
        Contender::Interval,
        Contender::IntervalBatch,
        Contender::AlwaysBatch,
        Contender::AlwaysThreads,
    ];

    fn flag(self) -> &'static str {
        match self {
            Contender::Plain => "plain",
            Contender::Interval => "interval",
            Contender::IntervalBatch => "interval-batch",
            Contender::AlwaysBatch => "always-batch",
            Contender::AlwaysThreads => "always-threads",
        }
    }

    fn name(self) -> &'static str {
        match self {
            Contender::Plain => "plain rdkafka, send (no journal)",
            Contender::Interval => "steadfast Interval(100ms), send",
            Contender::IntervalBatch => "steadfast Interval(100ms), send_batch",
            Contender::AlwaysBatch => "steadfast Always, send_batch",
            Contender::AlwaysThreads => "steadfast Always, send x16 threads",
        }
    }
}

fn run(args: &Args) -> Result<(), String> {
    let keys = match args.keys {
        0 => "no key".to_string(),
        k => format!("{k} keys"),
    };
    println!(
        "kafka-bench: {} messages per run, {keys}, topic of {PARTITIONS} partitions on a fresh \
         3-broker librdkafka mock cluster per run, median of {} runs",
        args.messages, args.reps,
    );
    let chosen: Vec<Contender> = Contender::ALL
        .into_iter()
        .filter(|c| args.only.as_deref().is_none_or(|o| o == c.flag()))
        .collect();
    for &size in &args.sizes {
        let mut times: Vec<Vec<Duration>> = vec![Vec::new(); chosen.len()];
        for _ in 0..args.reps {
            for (i, contender) in chosen.iter().enumerate() {
                times[i].push(measure(*contender, size, args)?);
            }
        }
        let medians: Vec<Duration> = times
            .iter_mut()
            .map(|t| {
                t.sort();
                t[t.len() / 2]
            })
            .collect();
        let plain = chosen
            .iter()
            .position(|c| *c == Contender::Plain)
            .map(|i| medians[i]);
        println!("\n{} messages of {size} B:", args.messages);
        println!(
            "  {:38} {:>8} {:>10} {:>8}  {:>5}  runs (s)",
            "", "time", "msg/s", "MiB/s", "ratio"
        );
        for (i, contender) in chosen.iter().enumerate() {
            let t = medians[i];
            let rate = args.messages as f64 / t.as_secs_f64();
            let mib = rate * size as f64 / f64::from(1 << 20);
            let ratio = plain.map_or("-".to_string(), |p| {
                format!("{:.2}", p.as_secs_f64() / t.as_secs_f64())
            });
            let runs: Vec<String> = times[i]
                .iter()
                .map(|d| format!("{:.2}", d.as_secs_f64()))
                .collect();
            println!(
                "  {:38} {:>7.3}s {:>10.0} {:>8.1}  {:>5}  {}",
                contender.name(),
                t.as_secs_f64(),
                rate,
                mib,
                ratio,
                runs.join(" ")
            );
        }
    }
    Ok(())
}

/// One timed run of `contender` on a fresh cluster.
fn measure(contender: Contender, size: usize, args: &Args) -> Result<Duration, String> {
    let cluster = start_mock_cluster(3, &[(TOPIC, PARTITIONS)]).map_err(|e| e.to_string())?;
    let payload: Vec<u8> = (0..size).map(|i| b'a' + (i % 26) as u8).collect();
    let key = |i: u64| (args.keys > 0).then(|| format!("key-{}", i % args.keys));
    warm_up(&cluster)?;
    let (took, sent) = match contender {
        Contender::Plain => plain(&cluster, &payload, args.messages, &key)?,
        _ => steadfast(contender, &cluster, &payload, args, &key)?,
    };
    eprintln!(
        "  {} / {size} B: sends returned after {:.3} s, all confirmed after {:.3} s",
        contender.name(),
        sent.as_secs_f64(),
        took.as_secs_f64()
    );
    Ok(took)
}

/// Returns (all confirmed, all sends returned), from the first send.
fn steadfast(
    contender: Contender,
    cluster: &MockKafka,
    payload: &[u8],
    args: &Args,
    key: &(dyn Fn(u64) -> Option<String> + Sync),
) -> Result<(Duration, Duration), String> {
    let dir = match &args.dir {
        Some(d) => ScratchDir::new_in(d, "kafka-bench"),
        None => ScratchDir::new("kafka-bench"),
    }
    .map_err(|e| e.to_string())?;
    let mut config = KafkaConfig::new(cluster.bootstrap_servers());
    for (name, value) in BATCHING {
        config.set(name, value);
    }
    let transport = KafkaTransport::new(config).map_err(|e| e.to_string())?;
    let (sync, threads, batch) = match contender {
        Contender::Interval => (SyncPolicy::Interval(100), 1, 1),
        Contender::IntervalBatch => (SyncPolicy::Interval(100), 1, BATCH),
        Contender::AlwaysBatch => (SyncPolicy::Always, 1, BATCH),
        _ => (SyncPolicy::Always, THREADS, 1),
    };
    let config = Config {
        // Room for the whole run: the budget is not what is measured.
        budget: 4 << 30,
        ..Config::default()
    };
    let producer = Producer::builder(dir.path())
        .config(config)
        .sync(sync)
        .spawn(transport)
        .map_err(|e| e.to_string())?;
    let message = |i: u64| {
        let mut m = OwnedMessage::new(TOPIC, payload.to_vec());
        m.key = key(i).map(String::into_bytes);
        m
    };
    let per_thread = args.messages / threads;
    let start = Instant::now();
    let failed = std::thread::scope(|s| {
        let handles: Vec<_> = (0..threads)
            .map(|t| {
                let (producer, message) = (&producer, &message);
                s.spawn(move || -> Result<(), String> {
                    let range = t * per_thread..(t + 1) * per_thread;
                    if batch == 1 {
                        for i in range {
                            producer.send(message(i)).map_err(|e| e.to_string())?;
                        }
                        return Ok(());
                    }
                    let all: Vec<u64> = range.collect();
                    for chunk in all.chunks(batch) {
                        let messages = chunk.iter().map(|&i| message(i)).collect();
                        producer.send_batch(messages).map_err(|e| e.to_string())?;
                    }
                    Ok(())
                })
            })
            .collect();
        handles.into_iter().find_map(|h| {
            h.join()
                .map_or(Some("a sender panicked".to_string()), Result::err)
        })
    });
    if let Some(e) = failed {
        return Err(format!("{}: {e}", contender.name()));
    }
    let sent = start.elapsed();
    producer
        .flush_timeout(Duration::from_secs(300))
        .map_err(|e| e.to_string())?;
    let took = start.elapsed();
    let stats = producer.stats();
    if stats.confirmed != per_thread * threads || stats.retried != 0 {
        return Err(format!("unexpected steadfast stats: {stats:?}"));
    }
    producer
        .close(Duration::from_secs(10))
        .map_err(|e| e.to_string())?;
    Ok((took, sent))
}

/// Connects once and produces one record, so that no contender pays for
/// the cluster's start-up.
fn warm_up(cluster: &MockKafka) -> Result<(), String> {
    let producer: ThreadedProducer<Counter> = plain_config(cluster)
        .create_with_context(Counter::default())
        .map_err(|e| e.to_string())?;
    producer
        .send(BaseRecord::<[u8], [u8]>::to("warm-up").payload(b"x"))
        .map_err(|(e, _)| e.to_string())?;
    producer.flush(Duration::from_secs(10)).map_err(|e| e.to_string())
}

fn plain_config(cluster: &MockKafka) -> ClientConfig {
    let mut config = ClientConfig::new();
    config
        .set("bootstrap.servers", cluster.bootstrap_servers())
        .set("enable.idempotence", "true")
        .set("acks", "all");
    for (name, value) in BATCHING {
        config.set(name, value);
    }
    config
}

/// Counts delivery reports.
#[derive(Default)]
struct Counter {
    ok: AtomicU64,
    failed: AtomicU64,
}

impl ClientContext for Counter {}

impl ProducerContext for Counter {
    type DeliveryOpaque = ();

    fn delivery(&self, result: &DeliveryResult<'_>, (): ()) {
        match result {
            Ok(_) => self.ok.fetch_add(1, Ordering::Relaxed),
            Err(_) => self.failed.fetch_add(1, Ordering::Relaxed),
        };
    }
}

/// Returns (all confirmed, all sends returned), from the first send.
fn plain(
    cluster: &MockKafka,
    payload: &[u8],
    messages: u64,
    key: &dyn Fn(u64) -> Option<String>,
) -> Result<(Duration, Duration), String> {
    let producer: ThreadedProducer<Counter> = plain_config(cluster)
        .create_with_context(Counter::default())
        .map_err(|e| e.to_string())?;
    let start = Instant::now();
    for i in 0..messages {
        let k = key(i);
        let mut record = BaseRecord::<[u8], [u8]>::to(TOPIC).payload(payload);
        if let Some(k) = &k {
            record = record.key(k.as_bytes());
        }
        loop {
            match producer.send(record) {
                Ok(()) => break,
                Err((KafkaError::MessageProduction(RDKafkaErrorCode::QueueFull), back)) => {
                    record = back;
                    std::thread::sleep(Duration::from_micros(500));
                }
                Err((e, _)) => return Err(format!("plain send: {e}")),
            }
        }
    }
    let sent = start.elapsed();
    producer
        .flush(Duration::from_secs(300))
        .map_err(|e| e.to_string())?;
    let took = start.elapsed();
    let context = producer.context();
    let (ok, failed) = (
        context.ok.load(Ordering::Relaxed),
        context.failed.load(Ordering::Relaxed),
    );
    if ok != messages || failed != 0 {
        return Err(format!("plain: {ok} confirmed, {failed} failed of {messages}"));
    }
    Ok((took, sent))
}
