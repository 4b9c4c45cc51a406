//! Reading a topic back from the beginning (feature `kafka`): what `demo`
//! checks its delivery against, the hidden `__read-topic` command, and the
//! one read-back consumer of the integration suites (`steadfast-sim`
//! re-exports [`read_topic`] and [`ConsumedRecord`]).
//!
//! Every partition is assigned at the beginning (`BaseConsumer`, no
//! consumer group offsets). Reading stops once `expected` records arrived
//! and nothing new came for [`SETTLE`] (so late duplicates are counted too),
//! or at the deadline.

use std::time::Duration;

use rdkafka::consumer::{BaseConsumer, Consumer};
use rdkafka::message::{BorrowedMessage, Headers};
use rdkafka::{ClientConfig, Message, Offset, TopicPartitionList};
use serde_json::{Map, json};
use steadfast::MessageId;
use steadfast::core::MESSAGE_ID_HEADER;

use super::dump::put_bytes;
use super::error::CliError;
use super::parse;

/// How long a broker may hold a fetch that has nothing to return
/// (`fetch.wait.max.ms`; librdkafka's default is 500 ms).
pub const FETCH_WAIT: Duration = Duration::from_millis(100);

/// Keep reading this long after the expected count was reached and nothing
/// new arrived: three [`FETCH_WAIT`] rounds, so a duplicate appended just
/// after a fetch was answered is still returned by a later one, even when
/// one round is slow on a loaded machine.
pub const SETTLE: Duration = FETCH_WAIT.saturating_mul(3);

/// One record read back.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct ConsumedRecord {
    /// Partition it was read from.
    pub partition: i32,
    /// Its offset there.
    pub offset: i64,
    /// Record key.
    pub key: Option<Vec<u8>>,
    /// Record value (`None` for a tombstone).
    pub value: Option<Vec<u8>>,
    /// Record timestamp (milliseconds since the epoch), if any.
    pub timestamp: Option<i64>,
    /// Every header, in order.
    pub headers: Vec<(String, Option<Vec<u8>>)>,
    /// The parsed value of the last `steadfast-id` header, if any.
    pub id: Option<MessageId>,
}

/// Reads `topic` from the beginning of every partition, sorted by
/// partition and offset; see the module doc for when it stops.
///
/// # Errors
///
/// [`CliError::Destination`] when the consumer cannot be created, the
/// topic's metadata does not arrive within `deadline`, or the assignment
/// fails. Fetch errors while reading (a broker restarting) are waited out.
pub fn read_topic(
    bootstrap: &str,
    topic: &str,
    expected: usize,
    deadline: Duration,
) -> Result<Vec<ConsumedRecord>, CliError> {
    let failed =
        |e: &dyn std::fmt::Display| CliError::Destination(format!("reading topic {topic} back: {e}"));
    let start = steadfast::clock::now();
    let consumer: BaseConsumer = ClientConfig::new()
        .set("bootstrap.servers", bootstrap)
        .set("group.id", "steadfast-readback")
        .set("enable.auto.commit", "false")
        .set("enable.partition.eof", "false")
        .set("reconnect.backoff.max.ms", "100")
        .set("fetch.wait.max.ms", FETCH_WAIT.as_millis().to_string())
        .create()
        .map_err(|e| failed(&e))?;
    let metadata = consumer
        .fetch_metadata(Some(topic), deadline)
        .map_err(|e| failed(&e))?;
    let mut assignment = TopicPartitionList::new();
    for meta in metadata.topics().iter().filter(|t| t.name() == topic) {
        for partition in meta.partitions() {
            assignment
                .add_partition_offset(topic, partition.id(), Offset::Beginning)
                .map_err(|e| failed(&e))?;
        }
    }
    consumer.assign(&assignment).map_err(|e| failed(&e))?;
    let mut records = Vec::new();
    let mut last_new = steadfast::clock::now();
    while steadfast::clock::now().saturating_duration_since(start) < deadline {
        if records.len() >= expected && steadfast::clock::now().saturating_duration_since(last_new) >= SETTLE
        {
            break;
        }
        // Transient fetch errors (a broker restarting): keep polling.
        if let Some(Ok(message)) = consumer.poll(Duration::from_millis(50)) {
            records.push(consumed(&message));
            last_new = steadfast::clock::now();
        }
    }
    records.sort_by_key(|r| (r.partition, r.offset));
    Ok(records)
}

fn consumed(message: &BorrowedMessage<'_>) -> ConsumedRecord {
    let mut headers = Vec::new();
    let mut id = None;
    if let Some(borrowed) = message.headers() {
        for header in borrowed.iter() {
            if header.key == MESSAGE_ID_HEADER {
                id = header
                    .value
                    .and_then(|v| std::str::from_utf8(v).ok())
                    .and_then(MessageId::parse);
            }
            headers.push((header.key.to_owned(), header.value.map(<[u8]>::to_vec)));
        }
    }
    ConsumedRecord {
        partition: message.partition(),
        offset: message.offset(),
        key: message.key().map(<[u8]>::to_vec),
        value: message.payload().map(<[u8]>::to_vec),
        timestamp: message.timestamp().to_millis(),
        headers,
        id,
    }
}

/// `steadfast __read-topic`.
#[derive(Debug, clap::Args)]
pub struct ReadArgs {
    /// Bootstrap servers.
    #[arg(long)]
    brokers: String,
    /// Topic.
    #[arg(long)]
    topic: String,
    /// Stop once this many records arrived (and nothing new for 0.3 s).
    #[arg(long, default_value_t = 0)]
    expect: usize,
    /// Give up after this long.
    #[arg(long, value_parser = parse::duration, default_value = "10s")]
    timeout: Duration,
}

/// Prints every record as a JSON line: partition, offset, id, key, value.
pub fn run(args: ReadArgs) -> Result<(), CliError> {
    for r in read_topic(&args.brokers, &args.topic, args.expect, args.timeout)? {
        let mut m = Map::new();
        m.insert("partition".into(), json!(r.partition));
        m.insert("offset".into(), json!(r.offset));
        m.insert("id".into(), json!(r.id.map(|id| id.to_string())));
        put_bytes(&mut m, "key", r.key.as_deref());
        put_bytes(&mut m, "value", r.value.as_deref());
        println!("{}", serde_json::Value::Object(m));
    }
    Ok(())
}
