//! A producer process for the process-level crash test (`tests/kafka_crash.rs`).
//!
//! ```text
//! crash-producer --brokers HOST:PORT[,…] --topic T --journal DIR
//!                [--first N] [--sync always|interval|never] [--batch] [--pause-us U]
//! crash-producer --brokers HOST:PORT[,…] --topic T --journal DIR --drain
//! ```
//!
//! Opens the steadfast `Producer` on `DIR` with the librdkafka transport and
//! sends numbered messages (`value` = the number, key `k{n % 8}`) for ever,
//! printing `ACK <message id> <n>` on stdout once `send` (or `send_batch`)
//! has returned for it — a line the parent may rely on: that message must
//! reach the topic, whenever the process is killed. With `--drain` it sends
//! nothing: it recovers the journal, waits until everything is confirmed,
//! prints `DRAINED <stats>` and exits 0.

// A pause between sends keeps the message count (and the readback) small.
#![allow(clippy::disallowed_methods)]

use std::io::Write;
use std::process::ExitCode;
use std::time::Duration;

use steadfast::{Config, OwnedMessage, Producer, RetryPolicy, SyncPolicy};
use steadfast_transports::kafka::{KafkaConfig, KafkaTransport};

struct Args {
    brokers: String,
    topic: String,
    journal: String,
    first: u64,
    sync: SyncPolicy,
    batch: bool,
    pause: Duration,
    drain: bool,
}

fn parse() -> Result<Args, String> {
    let mut args = Args {
        brokers: String::new(),
        topic: String::new(),
        journal: String::new(),
        first: 0,
        sync: SyncPolicy::Always,
        batch: false,
        pause: Duration::from_millis(1),
        drain: false,
    };
    let mut it = std::env::args().skip(1);
    while let Some(flag) = it.next() {
        match flag.as_str() {
            "--batch" => args.batch = true,
            "--drain" => args.drain = true,
            _ => {
                let value = it.next().ok_or(format!("{flag} needs a value"))?;
                match flag.as_str() {
                    "--brokers" => args.brokers = value,
                    "--topic" => args.topic = value,
                    "--journal" => args.journal = value,
                    "--first" => args.first = value.parse().map_err(|e| format!("--first: {e}"))?,
                    "--pause-us" => {
                        let us = value.parse().map_err(|e| format!("--pause-us: {e}"))?;
                        args.pause = Duration::from_micros(us);
                    }
                    "--sync" => {
                        args.sync = match value.as_str() {
                            "always" => SyncPolicy::Always,
                            "interval" => SyncPolicy::Interval(20),
                            "never" => SyncPolicy::Never,
                            other => return Err(format!("unknown sync level {other:?}")),
                        }
                    }
                    other => return Err(format!("unknown option {other:?}")),
                }
            }
        }
    }
    if args.brokers.is_empty() || args.topic.is_empty() || args.journal.is_empty() {
        return Err("--brokers, --topic and --journal are required".into());
    }
    Ok(args)
}

fn main() -> ExitCode {
    match parse().and_then(run) {
        Ok(()) => ExitCode::SUCCESS,
        Err(message) => {
            eprintln!("crash-producer: {message}");
            ExitCode::FAILURE
        }
    }
}

fn run(args: Args) -> Result<(), String> {
    let transport = KafkaTransport::new(
        KafkaConfig::new(&args.brokers)
            .with("message.timeout.ms", "5000")
            .with("reconnect.backoff.ms", "10")
            .with("reconnect.backoff.max.ms", "100")
            .with("linger.ms", "1")
            .with_close_timeout(Duration::from_secs(1)),
    )
    .map_err(|e| e.to_string())?;
    let config = Config {
        retry: RetryPolicy {
            initial: 20,
            max: 500,
            delivery_timeout: None,
        },
        segment_size: 256 << 10,
        max_entry: 16 << 10,
        ..Config::default()
    };
    let producer = Producer::builder(&args.journal)
        .config(config)
        .sync(args.sync)
        .spawn(transport)
        .map_err(|e| e.to_string())?;
    if args.drain {
        println!("RECOVERED {}", producer.recovery_report());
        producer
            .flush_timeout(Duration::from_secs(60))
            .map_err(|e| format!("{e}; {:?}", producer.stats()))?;
        println!("DRAINED {:?}", producer.stats());
        producer
            .close(Duration::from_secs(5))
            .map_err(|e| e.to_string())?;
        return Ok(());
    }
    let topic = args.topic;
    let message = |n: u64| OwnedMessage::new(topic.clone(), n.to_string()).with_key(format!("k{}", n % 8));
    let mut stdout = std::io::stdout().lock();
    let mut n = args.first;
    loop {
        if args.batch {
            let numbers: Vec<u64> = (n..n + 16).collect();
            let ids = producer
                .send_batch(numbers.iter().map(|&i| message(i)).collect())
                .map_err(|e| e.to_string())?;
            for (id, i) in ids.iter().zip(&numbers) {
                writeln!(stdout, "ACK {id} {i}").map_err(|e| e.to_string())?;
            }
            n += 16;
            std::thread::sleep(args.pause * 16);
        } else {
            let id = producer.send(message(n)).map_err(|e| e.to_string())?;
            writeln!(stdout, "ACK {id} {n}").map_err(|e| e.to_string())?;
            n += 1;
            std::thread::sleep(args.pause);
        }
    }
}
