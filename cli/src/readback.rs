//! Reading a topic back from the beginning (feature `kafka`): what `demo`
//! checks its delivery against, and the hidden `__read-topic` command the
//! tests use.
//!
//! Every partition is assigned at the beginning (no consumer group
//! offsets). Reading stops once `expected` records arrived and nothing new
//! came for a short settle time (so late duplicates are counted too), or at
//! the deadline.

use std::time::Duration;

use rdkafka::consumer::{BaseConsumer, Consumer};
use rdkafka::message::Headers;
use rdkafka::{ClientConfig, Message, Offset, TopicPartitionList};
use serde_json::{Map, json};
use steadfast::MessageId;
use steadfast::core::MESSAGE_ID_HEADER;

use super::dump::put_bytes;
use super::error::CliError;
use super::parse;

/// Keep reading this long after the expected count was reached.
const SETTLE: Duration = Duration::from_millis(500);

/// One record read back.
#[derive(Clone, Debug)]
pub struct Consumed {
    /// Partition.
    pub partition: i32,
    /// Offset there.
    pub offset: i64,
    /// Key.
    pub key: Option<Vec<u8>>,
    /// Value.
    pub value: Option<Vec<u8>>,
    /// The `steadfast-id` header, parsed.
    pub id: Option<MessageId>,
}

/// Reads `topic` from the beginning of every partition.
pub fn read_topic(
    bootstrap: &str,
    topic: &str,
    expected: usize,
    deadline: Duration,
) -> Result<Vec<Consumed>, CliError> {
    let failed =
        |e: &dyn std::fmt::Display| CliError::Destination(format!("reading topic {topic} back: {e}"));
    let start = steadfast::clock::now();
    let consumer: BaseConsumer = ClientConfig::new()
        .set("bootstrap.servers", bootstrap)
        .set("group.id", "steadfast-readback")
        .set("enable.auto.commit", "false")
        .set("enable.partition.eof", "false")
        .set("reconnect.backoff.max.ms", "100")
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
        if let Some(Ok(m)) = consumer.poll(Duration::from_millis(50)) {
            let id = m.headers().and_then(|hs| {
                hs.iter()
                    .filter(|h| h.key == MESSAGE_ID_HEADER)
                    .filter_map(|h| {
                        h.value
                            .and_then(|v| std::str::from_utf8(v).ok())
                            .and_then(MessageId::parse)
                    })
                    .last()
            });
            records.push(Consumed {
                partition: m.partition(),
                offset: m.offset(),
                key: m.key().map(<[u8]>::to_vec),
                value: m.payload().map(<[u8]>::to_vec),
                id,
            });
            last_new = steadfast::clock::now();
        }
    }
    records.sort_by_key(|r| (r.partition, r.offset));
    Ok(records)
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
    /// Stop once this many records arrived (and nothing new for 0.5 s).
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
