//! `KafkaTransport` against real Kafka-protocol brokers: librdkafka's mock
//! cluster with fault injection, and tansu.
//!
//! Every test drives the transport with the small resend loop of
//! `steadfast_sim::brokers::deliver_all` (Retriable and Unknown are resent
//! after a short backoff until Confirmed or Terminal), then reads the topic
//! back from the beginning and checks the set of message ids: none missing,
//! none unexpected, order per partition kept; duplicates are counted and
//! printed (at-least-once allows them).
//!
//! Run: `cargo test -p steadfast-sim --features kafka --test kafka_transport`.

#![allow(clippy::unwrap_used, clippy::disallowed_methods)]

use core::time::Duration;
use std::time::Instant;

use rdkafka::error::RDKafkaErrorCode;
use rdkafka::types::{RDKafkaApiKey, RDKafkaRespErr};
use steadfast_core::{
    FailureClass, MESSAGE_ID_HEADER, Message, MessageId, Outcome, OutgoingRecord, Seq, Transport,
};
use steadfast_sim::brokers::{
    ConsumedRecord, DeliveryLog, IdReport, MockKafka, Tansu, check_ids, deliver_all, errors, read_topic,
    start_mock_cluster,
};
use steadfast_transports::kafka::{KafkaConfig, KafkaTransport, classify};

const JOURNAL: u64 = 0x5eed_0000_0000_0001;
const BACKOFF: Duration = Duration::from_millis(100);
const DEADLINE: Duration = Duration::from_secs(30);

/// Owned record data that `OutgoingRecord`s borrow from.
struct Batch {
    topic: String,
    items: Vec<(Seq, Vec<u8>, Vec<u8>)>,
}

impl Batch {
    fn new(topic: &str, seqs: core::ops::Range<Seq>) -> Batch {
        let items = seqs
            .map(|seq| {
                let key = format!("key-{}", seq % 10).into_bytes();
                let value = format!("value-{seq}").into_bytes();
                (seq, key, value)
            })
            .collect();
        Batch {
            topic: topic.to_owned(),
            items,
        }
    }

    fn records(&self) -> Vec<OutgoingRecord<'_>> {
        self.items
            .iter()
            .map(|(seq, key, value)| OutgoingRecord {
                seq: *seq,
                id: id(*seq),
                message: Message::new(&self.topic, value).with_key(key),
            })
            .collect()
    }

    fn ids(&self) -> Vec<MessageId> {
        self.items.iter().map(|(seq, ..)| id(*seq)).collect()
    }
}

fn id(seq: Seq) -> MessageId {
    MessageId {
        journal: JOURNAL,
        seq,
    }
}

/// Test settings: short timeouts, fast reconnects (see TEST-INFRA.md).
fn transport(bootstrap: &str, extra: &[(&str, &str)]) -> KafkaTransport {
    let mut config = KafkaConfig::new(bootstrap)
        .with("message.timeout.ms", "5000")
        .with("reconnect.backoff.ms", "10")
        .with("reconnect.backoff.max.ms", "100")
        .with("retry.backoff.ms", "10")
        .with("retry.backoff.max.ms", "100")
        .with("linger.ms", "1")
        .with_close_timeout(Duration::from_millis(500));
    for (name, value) in extra {
        config.set(*name, *value);
    }
    KafkaTransport::new(config).unwrap()
}

fn mock(topics: &[(&str, i32)]) -> MockKafka {
    start_mock_cluster(3, topics).unwrap()
}

fn deliver(transport: &mut KafkaTransport, batch: &Batch, hook: &mut dyn FnMut(Duration)) -> DeliveryLog {
    let log = deliver_all(transport, &batch.records(), BACKOFF, DEADLINE, hook);
    println!("{}: {}", batch.topic, log.summary());
    assert!(log.unresolved.is_empty(), "unresolved: {:?}", log.unresolved);
    log
}

/// Reads `topic` back and asserts the id set; prints the report.
fn verify(bootstrap: &str, topic: &str, sent: &[MessageId]) -> (IdReport, Vec<ConsumedRecord>) {
    let got = read_topic(bootstrap, topic, sent.len(), Duration::from_secs(20)).unwrap();
    let report = check_ids(sent, &got);
    println!("{topic}: {report}");
    assert!(report.is_ok(), "{topic}: {report}");
    (report, got)
}

#[test]
fn round_trip_on_mock_cluster_keeps_every_field_and_id() {
    let cluster = mock(&[("rt", 3)]);
    let bootstrap = cluster.bootstrap_servers();
    let mut t = transport(&bootstrap, &[]);
    let batch = Batch::new("rt", 1..301);
    let mut records = batch.records();
    // Special records: explicit partition, headers (one null), timestamp; a tombstone.
    let mut special = Message::new("rt", b"special")
        .with_partition(2)
        .with_timestamp(1_700_000_000_000);
    special.push_header("trace", b"abc").unwrap();
    special
        .headers
        .push(steadfast_core::Header {
            name: "empty",
            value: None,
        })
        .unwrap();
    records.push(OutgoingRecord {
        seq: 301,
        id: id(301),
        message: special,
    });
    records.push(OutgoingRecord {
        seq: 302,
        id: id(302),
        message: Message::tombstone("rt", b"gone"),
    });

    let log = deliver_all(&mut t, &records, BACKOFF, DEADLINE, &mut |_| {});
    println!("rt: {}", log.summary());
    assert_eq!(log.confirmed.len(), 302);
    assert!(log.failures.is_empty());
    assert_eq!(t.in_flight(), 0);

    let sent: Vec<MessageId> = (1..=302).map(id).collect();
    let (report, got) = verify(&bootstrap, "rt", &sent);
    assert!(report.duplicates.is_empty());
    for record in &got {
        let seq = record.id.unwrap().seq;
        assert_eq!(
            log.confirmed[&seq],
            (record.partition, record.offset),
            "offset of {seq}"
        );
    }
    let special = got.iter().find(|r| r.id == Some(id(301))).unwrap();
    assert_eq!(special.partition, 2);
    assert_eq!(special.timestamp, Some(1_700_000_000_000));
    let names: Vec<&str> = special.headers.iter().map(|(n, _)| n.as_str()).collect();
    assert_eq!(names, ["trace", "empty", MESSAGE_ID_HEADER]);
    assert_eq!(special.headers[1].1, None);
    assert_eq!(
        special.headers[2].1.as_deref(),
        Some(id(301).to_string().as_bytes())
    );
    let tombstone = got.iter().find(|r| r.id == Some(id(302))).unwrap();
    assert_eq!(
        (tombstone.key.as_deref(), tombstone.value.as_deref()),
        (Some(&b"gone"[..]), None)
    );
}

#[test]
fn retriable_produce_errors_are_absorbed_without_loss() {
    let cluster = mock(&[("absorb", 3)]);
    let bootstrap = cluster.bootstrap_servers();
    let mut t = transport(&bootstrap, &[]);
    cluster.request_errors(RDKafkaApiKey::Produce, &errors::RETRIABLE);
    let batch = Batch::new("absorb", 1..201);
    let log = deliver(&mut t, &batch, &mut |_| {});
    assert_eq!(log.confirmed.len(), 200);
    assert!(log.terminal.is_empty());
    verify(&bootstrap, "absorb", &batch.ids());
}

#[test]
fn retriable_produce_errors_surface_as_retriable_or_unknown() {
    let cluster = mock(&[("surface", 1)]);
    let bootstrap = cluster.bootstrap_servers();
    // One retry only, so errors librdkafka does not absorb by itself (a
    // metadata refresh and a free re-send) reach the delivery report.
    let mut t = transport(&bootstrap, &[("retries", "1")]);
    let mut sent = Vec::new();
    let mut surfaced = 0;
    for (i, error) in errors::RETRIABLE.into_iter().enumerate() {
        let seq = i as Seq + 1;
        let batch = Batch::new("surface", seq..seq + 1);
        cluster.request_errors(RDKafkaApiKey::Produce, &[error; 4]);
        let log = deliver(&mut t, &batch, &mut |_| {});
        cluster.clear_request_errors(RDKafkaApiKey::Produce);
        assert!(log.terminal.is_empty(), "{error:?}: {}", log.summary());
        assert!(log.confirmed.contains_key(&seq), "{error:?}: never confirmed");
        sent.push(id(seq));
        let Some((_, first)) = log.failures.first() else {
            println!("{error:?}: absorbed inside librdkafka, never reported");
            continue;
        };
        println!("{error:?} -> {:?}: {}", first.class, first.reason);
        let code = RDKafkaErrorCode::from(error);
        if first.code != code as i32 {
            // librdkafka reported a consequence (a timeout, a purge): resendable.
            assert_eq!(first.class, FailureClass::Unknown, "{error:?}: {first}");
            continue;
        }
        surfaced += 1;
        match classify(code).0 {
            FailureClass::Retriable => assert!(
                first.class == FailureClass::Retriable
                    || (first.class == FailureClass::Unknown && first.reason.starts_with("maybe written")),
                "{error:?}: {first}"
            ),
            class => assert_eq!(first.class, class, "{error:?}: {first}"),
        }
    }
    println!(
        "{surfaced} of {} errors reached a delivery report",
        errors::RETRIABLE.len()
    );
    assert!(surfaced > 0);
    verify(&bootstrap, "surface", &sent);
}

/// Errors of the idempotent producer's own state, some of them fatal to a
/// librdkafka instance: the transport restarts its producer and the resend
/// loop still delivers everything.
#[test]
fn idempotence_errors_and_fatal_errors_recover() {
    let cluster = mock(&[("idem", 1)]);
    let bootstrap = cluster.bootstrap_servers();
    let mut t = transport(&bootstrap, &[]);
    let mut sent = Vec::new();
    let errors = [
        RDKafkaRespErr::RD_KAFKA_RESP_ERR_OUT_OF_ORDER_SEQUENCE_NUMBER,
        RDKafkaRespErr::RD_KAFKA_RESP_ERR_UNKNOWN_PRODUCER_ID,
        RDKafkaRespErr::RD_KAFKA_RESP_ERR_INVALID_PRODUCER_EPOCH,
    ];
    // Not DUPLICATE_SEQUENCE_NUMBER: librdkafka rightly takes it as "already
    // written" and confirms, but an injected one was never written by the mock.
    for (i, error) in errors.into_iter().enumerate() {
        let first = 100 * i as Seq + 1;
        let batch = Batch::new("idem", first..first + 20);
        cluster.request_errors(RDKafkaApiKey::Produce, &[error]);
        let log = deliver(&mut t, &batch, &mut |_| {});
        println!("{error:?}: {}", log.summary());
        assert!(log.terminal.is_empty(), "{error:?}");
        sent.extend(batch.ids());
    }
    let (report, _) = verify(&bootstrap, "idem", &sent);
    println!("duplicates: {:?}", report.duplicates);
}

#[test]
fn brokers_down_longer_than_message_timeout_then_up() {
    let cluster = mock(&[("outage", 3)]);
    let bootstrap = cluster.bootstrap_servers();
    let mut t = transport(&bootstrap, &[("message.timeout.ms", "1000")]);
    // Let the producer connect and get its producer id first.
    let warmup = Batch::new("outage", 1..11);
    deliver(&mut t, &warmup, &mut |_| {});
    cluster.broker_down(-1).unwrap();
    let batch = Batch::new("outage", 11..111);
    let mut up = false;
    let log = deliver(&mut t, &batch, &mut |elapsed| {
        if !up && elapsed > Duration::from_millis(2500) {
            cluster.broker_up(-1).unwrap();
            up = true;
        }
    });
    assert!(up);
    assert!(
        log.saw(FailureClass::Unknown, "message.timeout.ms"),
        "expected timeouts reported as outcome unknown"
    );
    assert!(log.terminal.is_empty());
    let mut sent = warmup.ids();
    sent.extend(batch.ids());
    verify(&bootstrap, "outage", &sent);
}

#[test]
fn leader_moves_during_delivery_lose_nothing() {
    let cluster = mock(&[("moves", 3)]);
    let bootstrap = cluster.bootstrap_servers();
    cluster
        .broker_round_trip_time(-1, Duration::from_millis(20))
        .unwrap();
    let mut t = transport(&bootstrap, &[]);
    let mut moves = 0;
    let mut sent = Vec::new();
    for wave in 0..3 {
        let batch = Batch::new("moves", wave * 100 + 1..wave * 100 + 101);
        deliver(&mut t, &batch, &mut |elapsed| {
            if moves < 6 && elapsed > Duration::from_millis(15 * (moves + 1)) {
                for partition in 0..3 {
                    let leader = 1 + (partition + moves as i32 + 1) % 3;
                    cluster
                        .partition_leader("moves", partition, Some(leader))
                        .unwrap();
                }
                moves += 1;
            }
        });
        sent.extend(batch.ids());
    }
    assert!(moves > 0);
    verify(&bootstrap, "moves", &sent);
}

#[test]
fn terminal_errors_are_reported_with_their_reason() {
    let cluster = mock(&[
        ("terminal", 1),
        ("t0", 1),
        ("t1", 1),
        ("t2", 1),
        ("t3", 1),
        ("t4", 1),
        ("t5", 1),
    ]);
    let bootstrap = cluster.bootstrap_servers();
    let mut t = transport(
        &bootstrap,
        &[
            ("message.max.bytes", "10000"),
            ("topic.metadata.propagation.max.ms", "200"),
        ],
    );
    // A record over message.max.bytes is refused locally.
    let big = vec![b'x'; 20_000];
    let record = OutgoingRecord {
        seq: 1,
        id: id(1),
        message: Message::new("terminal", &big),
    };
    let log = deliver_all(&mut t, &[record], BACKOFF, DEADLINE, &mut |_| {});
    println!("oversized: {}", log.summary());
    assert!(
        log.terminal[&1].reason.contains("message too large"),
        "{}",
        log.terminal[&1]
    );

    // Broker-side refusals, injected on the produce request.
    for (i, (error, reason)) in errors::TERMINAL.into_iter().enumerate() {
        let seq = 10 + i as Seq;
        cluster.request_errors(RDKafkaApiKey::Produce, &[error]);
        // A topic per case: librdkafka remembers some errors per topic.
        let batch = Batch::new(&format!("t{i}"), seq..seq + 1);
        let log = deliver(&mut t, &batch, &mut |_| {});
        let failure = log
            .terminal
            .get(&seq)
            .unwrap_or_else(|| panic!("{error:?}: {}", log.summary()));
        assert_eq!(failure.code, error as i32);
        assert!(failure.reason.contains(reason), "{error:?}: {failure}");
    }

    // A topic the cluster says does not exist.
    cluster
        .topic_error("no-such-topic", errors::UNKNOWN_TOPIC)
        .unwrap();
    let missing = Batch::new("no-such-topic", 50..51);
    let log = deliver(&mut t, &missing, &mut |_| {});
    assert!(
        log.terminal[&50].reason.contains("unknown topic"),
        "{}",
        log.terminal[&50]
    );

    // The refused records are absent; later good records still arrive.
    let good = Batch::new("terminal", 100..110);
    deliver(&mut t, &good, &mut |_| {});
    verify(&bootstrap, "terminal", &good.ids());
}

#[test]
fn queue_full_is_retriable_and_holds_back_the_rest_of_the_batch() {
    let cluster = mock(&[("full", 1)]);
    let bootstrap = cluster.bootstrap_servers();
    let mut t = transport(&bootstrap, &[("queue.buffering.max.messages", "10")]);
    cluster.broker_down(-1).unwrap();
    let batch = Batch::new("full", 1..31);
    t.submit(0, &batch.records());
    let mut refused = Vec::new();
    t.poll(0, 0, &mut |seq, outcome| refused.push((seq, outcome)));
    assert_eq!(refused.len(), 20, "{refused:?}");
    assert_eq!(refused[0].0, 11);
    for (seq, outcome) in &refused {
        let Outcome::Failed(failure) = outcome else {
            panic!("{seq}: {outcome:?}")
        };
        assert_eq!(failure.class, FailureClass::Retriable);
        assert!(failure.reason.contains("queue full"), "{failure}");
    }
    assert_eq!(t.in_flight(), 10);
    cluster.broker_up(-1).unwrap();
    // Let the first ten land, then deliver the whole batch again (duplicates allowed).
    let log = deliver(&mut t, &batch, &mut |_| {});
    assert_eq!(log.confirmed.len(), 30);
    let (report, _) = verify(&bootstrap, "full", &batch.ids());
    println!("duplicates: {:?}", report.duplicates);
}

#[test]
fn drop_is_bounded_and_a_resend_delivers_everything() {
    let cluster = mock(&[("dropped", 1)]);
    let bootstrap = cluster.bootstrap_servers();
    cluster.broker_down(-1).unwrap();
    let batch = Batch::new("dropped", 1..21);
    {
        let mut t = transport(&bootstrap, &[]);
        t.submit(0, &batch.records());
        assert_eq!(t.in_flight(), 20);
        let start = Instant::now();
        drop(t);
        println!("drop took {:?}", start.elapsed());
        assert!(
            start.elapsed() < Duration::from_secs(3),
            "drop took {:?}",
            start.elapsed()
        );
    }
    cluster.broker_up(-1).unwrap();
    // The journal would resend everything unconfirmed on the next start.
    let mut t = transport(&bootstrap, &[]);
    deliver(&mut t, &batch, &mut |_| {});
    verify(&bootstrap, "dropped", &batch.ids());
}

/// The `mock-cluster` binary serves a cluster to another process.
#[test]
fn mock_cluster_binary_serves_other_processes() {
    use std::io::BufRead;
    let mut child = std::process::Command::new(env!("CARGO_BIN_EXE_mock-cluster"))
        .args(["--brokers", "2", "served:2"])
        .stdout(std::process::Stdio::piped())
        .spawn()
        .unwrap();
    let mut line = String::new();
    let stdout = child.stdout.take().unwrap();
    std::io::BufReader::new(stdout).read_line(&mut line).unwrap();
    let bootstrap = line.trim().to_owned();
    assert_eq!(bootstrap.split(',').count(), 2, "{bootstrap}");
    let mut t = transport(&bootstrap, &[]);
    let batch = Batch::new("served", 1..51);
    deliver(&mut t, &batch, &mut |_| {});
    verify(&bootstrap, "served", &batch.ids());
    drop(t);
    child.kill().unwrap();
    child.wait().unwrap();
}

#[test]
fn round_trip_on_tansu() {
    let Some(tansu) = Tansu::start_or_skip() else {
        return;
    };
    let bootstrap = tansu.bootstrap_servers();
    let mut t = transport(&bootstrap, &[]);
    let batch = Batch::new("steadfast-tansu", 1..201);
    let log = deliver(&mut t, &batch, &mut |_| {});
    assert_eq!(log.confirmed.len(), 200);
    assert!(log.terminal.is_empty());
    let (report, got) = verify(&bootstrap, "steadfast-tansu", &batch.ids());
    assert!(got.iter().all(|r| r.value.is_some() && r.key.is_some()));
    println!("tansu duplicates: {:?}", report.duplicates);
}
