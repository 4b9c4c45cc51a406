//! Writes the seed corpora of the fuzz targets into `seeds/<target>/`:
//! journals the core writes itself (fresh, with pending messages, rolled
//! over several segments with some confirmed and deleted, with dead
//! letters, cut mid-frame), encoded records, real proxy answers (Confluent
//! v2 and v3, Karapace, Redpanda, error bodies, a cluster list) and the
//! JSON lines of docs/cli.md.
//!
//! `cargo run --manifest-path fuzz/Cargo.toml --example seeds` (from the
//! repository root); the output is deterministic and committed.

use std::fs;
use std::path::Path;

use steadfast_core::testing::{MemStorage, TestProducer};
use steadfast_core::{Failure, FailureClass, Header, Message, MessageId, Outcome, Record};
use steadfast_fuzz::recovery::{self, Journal};
use steadfast_fuzz::rest_answer::{self, Input};
use steadfast_transports::rest::fuzzing::ProxyAnswer;

fn main() {
    let root = Path::new(env!("CARGO_MANIFEST_DIR")).join("seeds");
    let write = |target: &str, name: &str, bytes: &[u8]| {
        let dir = root.join(target);
        fs::create_dir_all(&dir).expect("create the seed directory");
        fs::write(dir.join(name), bytes).expect("write a seed");
    };
    for (name, journal) in journals() {
        write("recovery", &name, &recovery::pack(&journal));
    }
    for (name, bytes) in records() {
        write("codec", &name, &bytes);
    }
    for (name, bytes) in answers() {
        write("rest_answer", &name, &bytes);
    }
    for (i, line) in json_lines().iter().enumerate() {
        write("json_line", &format!("line-{i}"), line.as_bytes());
    }
}

/// Opens `storage` with the fuzz configuration.
fn open(storage: MemStorage) -> TestProducer {
    let config = recovery::config();
    let buf = vec![0u8; TestProducer::buffer_len(&config)];
    match TestProducer::open(storage, buf, config, 0) {
        Ok((producer, _)) => producer,
        Err(failed) => panic!("seed journal refused: {}", failed.error),
    }
}

fn send(p: &mut TestProducer, now: u64, i: usize) {
    let value = vec![b'a' + (i % 26) as u8; 40 + i % 120];
    let key = format!("key-{i}");
    let mut message = Message::new("events", &value).with_key(key.as_bytes());
    if i.is_multiple_of(3) {
        message = message
            .with_partition((i % 4) as i32)
            .with_timestamp(1_700_000_000_000 + i as i64);
    }
    if i.is_multiple_of(5) {
        message.push_header("trace", b"abc").expect("room for a header");
    }
    if i.is_multiple_of(7) {
        message = Message::tombstone("events", key.as_bytes());
    }
    p.send(now, message).expect("the seed journal has room");
}

/// Transmits what is ready and answers each record with `answer(seq)`.
fn deliver(p: &mut TestProducer, now: u64, answer: impl Fn(u64) -> Option<Outcome>) {
    let mut out = vec![0u8; 1 << 16];
    let mut seqs = Vec::new();
    while let Ok(Some(batch)) = p.poll_transmit(now, &mut out) {
        seqs.extend(batch.seqs());
    }
    for seq in seqs {
        if let Some(outcome) = answer(seq) {
            p.handle_outcome(now, seq, outcome);
        }
    }
    while p.poll_delivery(now).is_some() {}
    p.handle_timeout(now).expect("in-memory maintenance");
}

fn confirmed() -> Outcome {
    Outcome::Confirmed {
        partition: 0,
        offset: 1,
    }
}

fn journals() -> Vec<(String, Journal)> {
    let mut out = Vec::new();
    let snapshot = |out: &mut Vec<(String, Journal)>, name: &str, p: &TestProducer, keep_unsynced: bool| {
        let mut storage = p.storage().crash(keep_unsynced);
        out.push((name.to_owned(), recovery::journal_of(&mut storage)));
    };

    let fresh = open(MemStorage::new());
    snapshot(&mut out, "fresh", &fresh, false);

    let mut p = open(MemStorage::new());
    for i in 0..20 {
        send(&mut p, 0, i);
    }
    p.sync(0).expect("in-memory sync");
    snapshot(&mut out, "pending", &p, false);
    // A process killed mid-write: the unsynced tail kept, then cut mid-frame.
    for i in 20..23 {
        send(&mut p, 1, i);
    }
    let mut torn = p.storage().crash(true);
    let last = *torn.segment_ids().last().expect("a segment");
    if let Some(bytes) = torn.segment_bytes(last) {
        let len = bytes.len();
        bytes.truncate(len - 30);
    }
    out.push(("torn-tail".into(), recovery::journal_of(&mut torn)));

    // Several segments; the first ones confirmed and deleted.
    let mut p = open(MemStorage::new());
    for round in 0..6u64 {
        for i in 0..25 {
            send(&mut p, round * 1000, round as usize * 25 + i);
        }
        p.sync(round * 1000).expect("in-memory sync");
        let upto = round * 20;
        deliver(&mut p, round * 1000 + 10, |seq| (seq <= upto).then(confirmed));
    }
    p.handle_timeout(10_000).expect("in-memory maintenance");
    p.sync(10_000).expect("in-memory sync");
    snapshot(&mut out, "rolled", &p, false);

    // Dead letters next to pending messages.
    let mut p = open(MemStorage::new());
    for i in 0..12 {
        send(&mut p, 0, i);
    }
    p.sync(0).expect("in-memory sync");
    deliver(&mut p, 5, |seq| {
        Some(if seq % 4 == 0 {
            Outcome::Failed(Failure::new(FailureClass::Terminal, 10, "record too large"))
        } else if seq % 4 == 1 {
            confirmed()
        } else {
            return None;
        })
    });
    p.handle_timeout(5_000).expect("in-memory maintenance");
    p.sync(5_000).expect("in-memory sync");
    snapshot(&mut out, "dead-letters", &p, false);
    out
}

fn records() -> Vec<(String, Vec<u8>)> {
    let mut message = Message::new("events", b"hello")
        .with_key(b"k")
        .with_partition(-3)
        .with_timestamp(-1);
    message.push_header("trace", b"abc").expect("room for a header");
    message
        .headers
        .push(Header {
            name: "null",
            value: None,
        })
        .expect("room for a header");
    let records = [
        Record {
            id: MessageId { journal: 7, seq: 1 },
            message: Message::new("t", b""),
        },
        Record {
            id: MessageId {
                journal: u64::MAX,
                seq: 1 << 40,
            },
            message,
        },
        Record {
            id: MessageId { journal: 1, seq: 300 },
            message: Message::tombstone("compacted", b"key"),
        },
    ];
    let mut out = Vec::new();
    for (i, record) in records.iter().enumerate() {
        let mut buf = vec![0u8; 256];
        let n = record.encode(&mut buf).expect("a seed record fits");
        let mut seed = vec![0u8];
        seed.extend_from_slice(&buf[..n]);
        out.push((format!("decode-{i}"), seed));
    }
    // Build mode: flags with every option set and two headers.
    let mut build = vec![1u8];
    build.extend_from_slice(&[7; 32]);
    build.extend_from_slice(&[0x0f, 2, 0, 0]);
    build.extend_from_slice(b"topic\xffkey\xffvalue\xffh1\xffv1\xffh2\xffv2");
    out.push(("build".into(), build));
    out
}

fn answers() -> Vec<(String, Vec<u8>)> {
    const V2: &str = "application/vnd.kafka.v2+json";
    const JSON: &str = "application/json";
    /// Name, v3, status, content type, partitions asked, body.
    type Case<'a> = (&'a str, bool, u16, &'a str, &'a [Option<i32>], &'a str);
    let cases: &[Case<'_>] = &[
        (
            "v2-confluent",
            false,
            200,
            V2,
            &[None, None, None],
            r#"{"offsets":[{"partition":0,"offset":5,"error_code":null,"error":null},{"partition":null,"offset":null,"error_code":50003,"error":"retry"},{"partition":null,"offset":null,"error_code":50002,"error":"no"}]}"#,
        ),
        (
            "v2-karapace-422",
            false,
            422,
            V2,
            &[None, None, None],
            r#"{"offsets":[{"offset":3,"partition":1},{"error_code":2,"error":"x"},{"offset":4,"partition":1}],"key_schema_id":null,"value_schema_id":null}"#,
        ),
        (
            "v2-redpanda-partitions",
            false,
            200,
            V2,
            &[Some(0), Some(1), Some(0)],
            r#"{"offsets":[{"partition":1,"error_code":6,"offset":-1},{"partition":0,"offset":10}]}"#,
        ),
        (
            "v2-unknown-topic",
            false,
            404,
            V2,
            &[None],
            r#"{"error_code":40401,"message":"Topic not found."}"#,
        ),
        (
            "v3-stream",
            true,
            200,
            JSON,
            &[None, None, Some(2)],
            "{\"error_code\":200,\"cluster_id\":\"c1\",\"topic_name\":\"t\",\"partition_id\":0,\"offset\":1,\"timestamp\":\"2024-01-01T00:00:00.000Z\"}\r\n{\"error_code\":50003,\"message\":\"Not leader\"}\r\n",
        ),
        (
            "v3-rate-limited",
            true,
            429,
            JSON,
            &[None],
            r#"{"error_code":42901,"message":"Request rate limit exceeded"}"#,
        ),
        (
            "v3-clusters",
            true,
            200,
            JSON,
            &[],
            r#"{"kind":"KafkaClusterList","metadata":{"self":"http://p/v3/clusters","next":null},"data":[{"kind":"KafkaCluster","cluster_id":"lkc-abc123"}]}"#,
        ),
        (
            "html-502",
            false,
            502,
            "text/html",
            &[None],
            "<html><body>Bad Gateway</body></html>",
        ),
    ];
    cases
        .iter()
        .map(|&(name, v3, status, content_type, partitions, body)| {
            let input = Input {
                v3,
                must_be_v3: false,
                partitions: partitions.to_vec(),
                answer: ProxyAnswer {
                    status,
                    content_type: Some(content_type),
                    retry_after: (status == 429).then_some("3"),
                    location: None,
                    body: body.as_bytes(),
                    broke_off: false,
                },
            };
            (name.to_owned(), rest_answer::pack(&input))
        })
        .collect()
}

fn json_lines() -> Vec<&'static str> {
    vec![
        r#"{"value":"hello"}"#,
        r#"{"key":"user-1","value":{"clicks":3},"partition":2,"timestamp":1700000000000}"#,
        r#"{"key":"gone","value":null}"#,
        r#"{"key_base64":"AAE=","value_base64":"aGVsbG8=","headers":{"trace":"abc","empty":null}}"#,
        r#"{"value":"x","headers":[{"name":"a","value":"1"},{"name":"b","value":null}]}"#,
        r#"{"value":[1,2.5,true,"s"],"key":42}"#,
        "   ",
    ]
}
