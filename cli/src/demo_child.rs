//! The producer process of `steadfast demo` (hidden `__demo-producer`).
//!
//! The parent paces it through stdin: each line `SEND N` makes it journal
//! the next N numbered messages with one `send_batch` (one fsync) and print
//! `ACK <id> <number>` for each once the batch is durable. When stdin
//! closes it waits until everything is confirmed, prints `DRAINED`, and
//! exits. The parent kills it with SIGKILL at chosen moments and starts a
//! new one on the same journal, which delivers what the dead one left.

use std::io::{BufRead, Write};
use std::path::PathBuf;
use std::time::Duration;

use steadfast::{OwnedMessage, Producer};
use steadfast_transports::kafka::{KafkaConfig, KafkaTransport};

use super::error::CliError;

/// Settings for the child, passed by the parent.
#[derive(Debug, clap::Args)]
pub struct ChildArgs {
    /// Journal directory.
    #[arg(long)]
    journal: PathBuf,
    /// Bootstrap servers.
    #[arg(long)]
    brokers: String,
    /// Topic.
    #[arg(long)]
    topic: String,
    /// First message number.
    #[arg(long)]
    start: u64,
}

/// librdkafka settings for a cluster that is broken on purpose: reconnect
/// fast, and give up on a message (outcome unknown: steadfast resends it)
/// sooner than the brokers stay down.
pub const KAFKA_PROPS: [(&str, &str); 6] = [
    ("reconnect.backoff.ms", "10"),
    ("reconnect.backoff.max.ms", "100"),
    ("retry.backoff.ms", "10"),
    ("retry.backoff.max.ms", "100"),
    ("message.timeout.ms", "2500"),
    ("linger.ms", "5"),
];

/// Runs the child.
pub fn run(args: ChildArgs) -> Result<(), CliError> {
    let mut config = KafkaConfig::new(&args.brokers);
    for (name, value) in KAFKA_PROPS {
        config.set(name, value);
    }
    let transport = KafkaTransport::new(config).map_err(|e| CliError::Destination(e.to_string()))?;
    let producer = Producer::builder(&args.journal)
        .spawn(transport)
        .map_err(|f| CliError::from(f.error))?;
    let mut out = std::io::stdout().lock();
    let say = |out: &mut std::io::StdoutLock<'_>, text: &str| {
        writeln!(out, "{text}")
            .and_then(|()| out.flush())
            .map_err(|e| CliError::Usage(format!("writing to the parent: {e}")))
    };
    say(
        &mut out,
        &format!("RECOVERED {}", producer.recovery_report().pending),
    )?;
    let mut next = args.start;
    let stdin = std::io::stdin();
    for line in stdin.lock().lines() {
        let line = line.map_err(|e| CliError::Input(e.to_string()))?;
        let Some(n) = line
            .strip_prefix("SEND ")
            .and_then(|n| n.trim().parse::<u64>().ok())
        else {
            continue;
        };
        let numbers: Vec<u64> = (next..next + n).collect();
        let messages = numbers
            .iter()
            .map(|k| {
                OwnedMessage::new(args.topic.clone(), format!("demo-{k}")).with_key(format!("key-{}", k % 16))
            })
            .collect();
        let ids = producer
            .send_batch(messages)
            .map_err(|e| CliError::Journal(e.to_string()))?;
        let mut text = String::with_capacity(ids.len() * 48);
        for (id, k) in ids.iter().zip(&numbers) {
            text.push_str(&format!("ACK {id} {k}\n"));
        }
        text.push_str(&format!("PENDING {}", producer.stats().pending));
        say(&mut out, &text)?;
        next += n;
    }
    producer
        .flush_timeout(Duration::from_secs(60))
        .map_err(|e| CliError::Undelivered(e.to_string()))?;
    let stats = producer.stats();
    producer
        .close(Duration::from_secs(5))
        .map_err(|e| CliError::Journal(e.to_string()))?;
    say(
        &mut out,
        &format!("DRAINED {} {}", stats.confirmed, stats.retried),
    )
}
