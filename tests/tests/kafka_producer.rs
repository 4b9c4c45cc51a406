//! The delivery contract end to end: the std runner's `Producer` (journal in
//! a scratch directory, background driver) over `KafkaTransport`, against
//! real Kafka-protocol brokers — librdkafka's mock cluster with fault
//! injection, and tansu.
//!
//! Every test sends through `Producer::send`, waits with `flush`, then reads
//! the topic back from the beginning and checks the set of message ids: none
//! missing, none unexpected, order per partition kept (messages name their
//! partition) or per key (the partitioner placed them); duplicates are
//! counted and printed (at-least-once allows them). Every sent id must also
//! have reached the delivery callback as `Confirmed`, at a partition and
//! offset that holds it.
//!
//! Run: `cargo test -p steadfast-sim --features kafka --test kafka_producer`.

#![allow(clippy::unwrap_used, clippy::disallowed_methods)]

use std::collections::{HashMap, HashSet};
use std::path::Path;
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use rdkafka::types::{RDKafkaApiKey, RDKafkaRespErr};
use steadfast::{Config, Delivery, MessageId, OwnedMessage, Producer, RetryPolicy, SyncPolicy};
use steadfast_sim::brokers::{
    ConsumedRecord, IdReport, MockKafka, ScratchDir, Tansu, check_ids, errors, key_order_violations,
    read_topic, start_mock_cluster,
};
use steadfast_transports::kafka::{KafkaConfig, KafkaTransport};

/// Longest a test waits for everything to be confirmed or dead-lettered.
const FLUSH: Duration = Duration::from_secs(40);

/// librdkafka's own give-up time in these tests: short, so that outages
/// outlast it and the core's resend (not librdkafka's) is what delivers.
const MESSAGE_TIMEOUT_MS: &str = "1000";

/// Transport settings: short timeouts, fast reconnects (see TEST-INFRA.md).
fn kafka(bootstrap: &str, extra: &[(&str, &str)]) -> KafkaTransport {
    let mut config = KafkaConfig::new(bootstrap)
        .with("message.timeout.ms", MESSAGE_TIMEOUT_MS)
        .with("reconnect.backoff.ms", "10")
        .with("reconnect.backoff.max.ms", "100")
        .with("retry.backoff.ms", "10")
        .with("retry.backoff.max.ms", "100")
        .with("linger.ms", "1")
        .with_close_timeout(Duration::from_millis(200));
    for (name, value) in extra {
        config.set(*name, *value);
    }
    KafkaTransport::new(config).unwrap()
}

/// Core settings: quick retries, small segments, a short unknown-topic wait.
fn config() -> Config {
    Config {
        retry: RetryPolicy {
            initial: 20,
            max: 400,
            delivery_timeout: None,
        },
        segment_size: 1 << 20,
        max_entry: 64 << 10,
        unknown_topic_wait: 1_000,
        ..Config::default()
    }
}

/// Every delivery the callback saw.
type Deliveries = Arc<Mutex<Vec<Delivery>>>;

/// Opens a producer on `dir` whose callback records into `seen`.
fn open(
    dir: &Path,
    transport: KafkaTransport,
    sync: SyncPolicy,
    config: Config,
    seen: &Deliveries,
) -> Producer {
    let seen = Arc::clone(seen);
    Producer::builder(dir)
        .config(config)
        .sync(sync)
        .on_delivery(move |d| seen.lock().unwrap().push(d.clone()))
        .spawn(transport)
        .unwrap()
}

/// A message that names its partition (order per partition is checked).
fn numbered(topic: &'static str, n: u64, partitions: u64) -> OwnedMessage {
    OwnedMessage::new(topic, format!("value-{n}"))
        .with_key(format!("key-{}", n % 8))
        .with_partition((n % partitions) as i32)
}

/// A keyed message the partitioner places (order per key is checked).
fn keyed(topic: &'static str, n: u64) -> OwnedMessage {
    OwnedMessage::new(topic, format!("value-{n}")).with_key(format!("key-{}", n % 16))
}

fn send_all(producer: &Producer, messages: impl IntoIterator<Item = OwnedMessage>) -> Vec<MessageId> {
    messages.into_iter().map(|m| producer.send(m).unwrap()).collect()
}

fn flush(producer: &Producer) {
    let start = Instant::now();
    producer.flush_timeout(FLUSH).unwrap_or_else(|e| {
        panic!("flush: {e}; stats {:?}", producer.stats());
    });
    println!("flushed in {:?}; {:?}", start.elapsed(), producer.stats());
}

/// Reads `topic` back and checks it against `sent` (see the module doc).
/// `by_key`: order is checked per key instead of per partition.
fn verify(
    bootstrap: &str,
    topic: &str,
    sent: &[MessageId],
    seen: &Deliveries,
    by_key: bool,
) -> (IdReport, Vec<ConsumedRecord>) {
    let got = read_topic(bootstrap, topic, sent.len(), Duration::from_secs(20)).unwrap();
    let mut report = check_ids(sent, &got);
    if by_key {
        let violations = key_order_violations(&got);
        assert!(
            violations.is_empty(),
            "{topic}: out of order per key: {violations:?}"
        );
        // Two keys of one partition are independent lanes: their relative
        // order is not promised, so only order per key is checked.
        report.out_of_order.clear();
    }
    let order = if by_key { "per key" } else { "per partition" };
    println!("{topic}: {report} (order checked {order})");
    assert!(report.is_ok(), "{topic}: {report}");

    let held: HashSet<(i32, i64, MessageId)> = got
        .iter()
        .filter_map(|r| r.id.map(|id| (r.partition, r.offset, id)))
        .collect();
    let confirmed: HashMap<MessageId, (i32, i64)> = seen
        .lock()
        .unwrap()
        .iter()
        .filter_map(|d| match d {
            Delivery::Confirmed {
                id,
                partition,
                offset,
            } => Some((*id, (*partition, *offset))),
            Delivery::DeadLettered { .. } => None,
        })
        .collect();
    for id in sent {
        let (partition, offset) = confirmed
            .get(id)
            .unwrap_or_else(|| panic!("{topic}: {id} never reached the callback as confirmed"));
        assert!(
            held.contains(&(*partition, *offset, *id)),
            "{topic}: {id} confirmed at {partition}/{offset}, which does not hold it"
        );
    }
    (report, got)
}

fn mock(topics: &[(&str, i32)]) -> MockKafka {
    start_mock_cluster(3, topics).unwrap()
}

#[test]
fn round_trip_with_group_commit_keeps_every_id_and_confirms_each() {
    let cluster = mock(&[("rt", 3)]);
    let bootstrap = cluster.bootstrap_servers();
    let dir = ScratchDir::new("kp-rt").unwrap();
    let seen = Deliveries::default();
    let producer = open(
        dir.path(),
        kafka(&bootstrap, &[]),
        SyncPolicy::Always,
        config(),
        &seen,
    );
    // Group commit from four threads, plus batches.
    let mut sent: Vec<MessageId> = std::thread::scope(|s| {
        let handles: Vec<_> = (0..4u64)
            .map(|t| {
                let producer = &producer;
                s.spawn(move || send_all(producer, (0..100).map(|i| keyed("rt", t * 1000 + i))))
            })
            .collect();
        handles.into_iter().flat_map(|h| h.join().unwrap()).collect()
    });
    for wave in 0..5u64 {
        let batch = (0..100).map(|i| keyed("rt", 10_000 + wave * 100 + i)).collect();
        sent.extend(producer.send_batch(batch).unwrap());
    }
    // Ids are handed out in journal order; the readback checks in that order.
    sent.sort();
    flush(&producer);
    let stats = producer.stats();
    assert_eq!(stats.confirmed, 900);
    assert!(stats.fsync.count > 0);
    let (report, _) = verify(&bootstrap, "rt", &sent, &seen, true);
    assert!(report.duplicates.is_empty(), "no fault, no duplicate: {report}");
    let report = producer.close(Duration::from_secs(5)).unwrap();
    assert!(report.flushed && report.pending == 0, "{report:?}");
}

#[test]
fn every_retriable_produce_error_is_retried_without_loss_or_reordering() {
    let cluster = mock(&[("retriable", 3)]);
    let bootstrap = cluster.bootstrap_servers();
    let dir = ScratchDir::new("kp-retriable").unwrap();
    let seen = Deliveries::default();
    // One librdkafka retry only, so the errors reach the core (librdkafka
    // would otherwise absorb most of them itself).
    let transport = kafka(&bootstrap, &[("retries", "1")]);
    let config = Config {
        // An injected UNKNOWN_TOPIC_OR_PART is retried for this long
        // (errors::UNKNOWN_TOPIC), longer than the test.
        unknown_topic_wait: 30_000,
        ..config()
    };
    let producer = open(dir.path(), transport, SyncPolicy::Interval(50), config, &seen);
    let mut sent = Vec::new();
    let mut n = 0;
    for error in errors::retried_by_the_producer() {
        let before = producer.stats().retried;
        cluster.request_errors(RDKafkaApiKey::Produce, &[error; 4]);
        sent.extend(send_all(
            &producer,
            (n..n + 30).map(|i| numbered("retriable", i, 3)),
        ));
        n += 30;
        flush(&producer);
        cluster.clear_request_errors(RDKafkaApiKey::Produce);
        println!(
            "{error:?}: {} retries in the core",
            producer.stats().retried - before
        );
    }
    let stats = producer.stats();
    assert_eq!(stats.dead_lettered, 0, "{stats:?}");
    assert!(stats.retried > 0, "no error reached the core: {stats:?}");
    let (report, _) = verify(&bootstrap, "retriable", &sent, &seen, false);
    println!("duplicates: {}", report.duplicates.len());
}

#[test]
fn brokers_down_longer_than_librdkafkas_timeout_and_a_restart_meanwhile() {
    let cluster = mock(&[("outage", 3)]);
    let bootstrap = cluster.bootstrap_servers();
    let dir = ScratchDir::new("kp-outage").unwrap();
    let seen = Deliveries::default();
    let producer = open(
        dir.path(),
        kafka(&bootstrap, &[]),
        SyncPolicy::Interval(50),
        config(),
        &seen,
    );
    let mut sent = send_all(&producer, (0..100).map(|i| numbered("outage", i, 3)));
    flush(&producer);

    // Every broker down for 3 × message.timeout.ms: librdkafka gives up on
    // each record ("outcome unknown"), the core keeps them and resends.
    cluster.broker_down(-1).unwrap();
    let down = Instant::now();
    sent.extend(send_all(&producer, (100..300).map(|i| numbered("outage", i, 3))));
    // At least 3 × message.timeout.ms, and until every record has been
    // given up by librdkafka at least once (longer on a loaded machine).
    while down.elapsed() < Duration::from_millis(3_000)
        || (producer.stats().retried < 200 && down.elapsed() < Duration::from_secs(20))
    {
        std::thread::sleep(Duration::from_millis(100));
    }
    let stats = producer.stats();
    println!("after {:?} down: {stats:?}", down.elapsed());
    assert_eq!(stats.pending, 200, "{stats:?}");
    assert!(
        stats.retried >= 200,
        "librdkafka's timeouts must reach the core: {stats:?}"
    );

    // Restart while the brokers are still down: nothing is forgotten.
    let closed = producer.close(Duration::from_millis(100)).unwrap();
    println!("closed during the outage: {closed:?}");
    assert_eq!(closed.pending, 200);
    cluster.broker_up(-1).unwrap();
    let producer = open(
        dir.path(),
        kafka(&bootstrap, &[]),
        SyncPolicy::Interval(50),
        config(),
        &seen,
    );
    println!("recovered: {}", producer.recovery_report());
    flush(&producer);
    let (report, _) = verify(&bootstrap, "outage", &sent, &seen, false);
    println!("duplicates: {}", report.duplicates.len());
}

#[test]
fn leader_moves_while_sending_lose_nothing() {
    let cluster = mock(&[("moves", 3)]);
    let bootstrap = cluster.bootstrap_servers();
    cluster
        .broker_round_trip_time(-1, Duration::from_millis(10))
        .unwrap();
    let dir = ScratchDir::new("kp-moves").unwrap();
    let seen = Deliveries::default();
    let producer = open(
        dir.path(),
        kafka(&bootstrap, &[]),
        SyncPolicy::Interval(50),
        config(),
        &seen,
    );
    let mut sent = Vec::new();
    for wave in 0..12u64 {
        sent.extend(send_all(
            &producer,
            (wave * 50..wave * 50 + 50).map(|i| numbered("moves", i, 3)),
        ));
        for partition in 0..3 {
            let leader = 1 + (partition + wave as i32 + 1) % 3;
            cluster
                .partition_leader("moves", partition, Some(leader))
                .unwrap();
        }
        std::thread::sleep(Duration::from_millis(25));
    }
    flush(&producer);
    assert_eq!(producer.stats().dead_lettered, 0);
    let (report, _) = verify(&bootstrap, "moves", &sent, &seen, false);
    println!("duplicates: {}", report.duplicates.len());
}

#[test]
fn terminal_errors_are_dead_lettered_with_their_reason_and_reach_the_callback() {
    let cluster = mock(&[("good", 3), ("auth", 1), ("big", 1), ("local-big", 1)]);
    let bootstrap = cluster.bootstrap_servers();
    let dir = ScratchDir::new("kp-terminal").unwrap();
    let seen = Deliveries::default();
    let transport = || {
        kafka(
            &bootstrap,
            &[
                ("message.max.bytes", "10000"),
                ("topic.metadata.propagation.max.ms", "200"),
            ],
        )
    };
    let producer = open(dir.path(), transport(), SyncPolicy::Always, config(), &seen);
    let mut good = send_all(&producer, (0..20).map(|i| numbered("good", i, 3)));
    flush(&producer);

    // (topic, injected produce error or none, value size, expected reason, code)
    let cases: [(&'static str, Option<RDKafkaRespErr>, usize, &str); 4] = [
        (
            "auth",
            Some(RDKafkaRespErr::RD_KAFKA_RESP_ERR_TOPIC_AUTHORIZATION_FAILED),
            10,
            errors::terminal_reason(RDKafkaRespErr::RD_KAFKA_RESP_ERR_TOPIC_AUTHORIZATION_FAILED),
        ),
        (
            "big",
            Some(RDKafkaRespErr::RD_KAFKA_RESP_ERR_MSG_SIZE_TOO_LARGE),
            10,
            errors::terminal_reason(RDKafkaRespErr::RD_KAFKA_RESP_ERR_MSG_SIZE_TOO_LARGE),
        ),
        // Over the client's message.max.bytes: refused before it is sent.
        ("local-big", None, 20_000, "message too large"),
        // The cluster says the topic does not exist: retried for
        // `unknown_topic_wait`, then dead-lettered.
        ("ghost", None, 10, "unknown topic"),
    ];
    cluster.topic_error("ghost", errors::UNKNOWN_TOPIC).unwrap();
    let mut refused = Vec::new();
    for (topic, error, size, reason) in cases {
        if let Some(error) = error {
            cluster.request_errors(RDKafkaApiKey::Produce, &[error]);
        }
        let id = producer
            .send(OwnedMessage::new(topic, vec![b'x'; size]).with_key("k"))
            .unwrap();
        flush(&producer);
        cluster.clear_request_errors(RDKafkaApiKey::Produce);
        refused.push((id, topic, reason));
        // Good messages after each refusal still go through.
        good.extend(send_all(
            &producer,
            (0..5).map(|i| numbered("good", 100 + 10 * refused.len() as u64 + i, 3)),
        ));
        // Settled before the next injection, which must hit the next refused record.
        flush(&producer);
    }
    let stats = producer.stats();
    assert_eq!(stats.dead_lettered, 4, "{stats:?}");

    let check_letters = |producer: &Producer| {
        let letters = producer.dead_letters().unwrap();
        let listed: Vec<String> = letters
            .iter()
            .map(|l| {
                format!(
                    "{:?} {}: {}",
                    l.id,
                    l.message.as_ref().map_or("?", |m| &m.topic),
                    l.reason
                )
            })
            .collect();
        assert_eq!(letters.len(), refused.len(), "{listed:#?}");
        for (id, topic, reason) in &refused {
            let letter = letters
                .iter()
                .find(|l| l.id == Some(*id))
                .unwrap_or_else(|| panic!("{topic}: {id} not in the dead-letter area: {listed:#?}"));
            println!("dead letter {topic}: code {} {}", letter.code, letter.reason);
            assert!(letter.reason.contains(reason), "{topic}: {}", letter.reason);
            assert_eq!(letter.message.as_ref().unwrap().topic, *topic);
        }
    };
    check_letters(&producer);
    {
        let seen = seen.lock().unwrap();
        for (id, topic, reason) in &refused {
            let failure = seen
                .iter()
                .find_map(|d| match d {
                    Delivery::DeadLettered { id: i, failure } if i == id => Some(failure),
                    _ => None,
                })
                .unwrap_or_else(|| panic!("{topic}: {id} never reached the callback"));
            assert!(failure.reason.contains(reason), "{topic}: {failure}");
        }
    }
    verify(&bootstrap, "good", &good, &seen, false);
    for topic in ["auth", "big"] {
        let got = read_topic(&bootstrap, topic, 0, Duration::from_secs(5)).unwrap();
        assert!(got.is_empty(), "{topic}: {got:?}");
    }

    // The dead letters are journaled: a restart still lists them.
    producer.close(Duration::from_secs(5)).unwrap();
    let producer = open(dir.path(), transport(), SyncPolicy::Always, config(), &seen);
    check_letters(&producer);
    producer.close(Duration::from_secs(5)).unwrap();
}

#[test]
fn round_trip_on_tansu() {
    let Some(tansu) = Tansu::start_or_skip() else {
        return;
    };
    let bootstrap = tansu.bootstrap_servers();
    let dir = ScratchDir::new("kp-tansu").unwrap();
    let seen = Deliveries::default();
    let producer = open(
        dir.path(),
        kafka(&bootstrap, &[]),
        SyncPolicy::Interval(100),
        config(),
        &seen,
    );
    let sent = send_all(&producer, (0..2_000).map(|i| keyed("steadfast-tansu", i)));
    flush(&producer);
    let (report, got) = verify(&bootstrap, "steadfast-tansu", &sent, &seen, true);
    assert!(got.iter().all(|r| r.key.is_some() && r.value.is_some()));
    println!("tansu duplicates: {}", report.duplicates.len());
    producer.close(Duration::from_secs(5)).unwrap();
}
