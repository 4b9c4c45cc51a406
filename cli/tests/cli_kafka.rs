//! `steadfast produce` over librdkafka: the embedded cluster (the README's
//! main command), a cluster in another process (`__mock-cluster`), the
//! `kafka://` URL form, unreachable brokers, an unknown topic, and
//! `steadfast demo`.
#![allow(clippy::unwrap_used)]

mod cli_util;

use std::io::{BufRead, BufReader};
use std::process::{Child, ChildStdin, Stdio};

use cli_util::{command, delivered_values, numbers, run_in, tempdir};

/// A mock cluster served by `steadfast __mock-cluster` in its own process;
/// it exits when its stdin closes (on drop).
struct Cluster {
    child: Child,
    _stdin: ChildStdin,
    bootstrap: String,
}

impl Cluster {
    fn start(topics: &[&str]) -> Cluster {
        let mut child = command()
            .arg("__mock-cluster")
            .args(topics)
            .stdin(Stdio::piped())
            .stdout(Stdio::piped())
            .spawn()
            .unwrap();
        let stdin = child.stdin.take().unwrap();
        let mut line = String::new();
        BufReader::new(child.stdout.take().unwrap())
            .read_line(&mut line)
            .unwrap();
        Cluster {
            child,
            _stdin: stdin,
            bootstrap: line.trim().to_owned(),
        }
    }

    /// Values (with their keys) in `topic`, read back with `__read-topic`.
    fn read(&self, topic: &str, expect: usize) -> Vec<serde_json::Value> {
        let dir = tempdir();
        let run = run_in(
            dir.path(),
            &[
                "__read-topic",
                "--brokers",
                &self.bootstrap,
                "--topic",
                topic,
                "--expect",
                &expect.to_string(),
            ],
            b"",
        )
        .expect(0);
        run.stdout
            .lines()
            .map(|l| serde_json::from_str(l).unwrap())
            .collect()
    }
}

impl Drop for Cluster {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

#[test]
fn the_readme_command_uses_an_embedded_cluster() {
    let dir = tempdir();
    run_in(dir.path(), &["produce", "--topic", "demo"], &numbers(1, 1000))
        .expect(0)
        .stderr_has(&[
            "no destination given",
            "starting an embedded Kafka mock cluster",
            "sent          1000 (1000 lines read)",
            "confirmed     1000",
            "still pending 0",
        ]);
    run_in(dir.path(), &["journal", "status"], b"")
        .expect(0)
        .stdout_has(&["pending        0 messages"]);
}

#[test]
fn the_embedded_cluster_never_takes_an_earlier_runs_messages_by_accident() {
    let dir = tempdir();
    {
        let p = steadfast::Producer::builder(dir.path().join("steadfast-journal"))
            .open(steadfast::transport::HoldTransport::default())
            .unwrap();
        p.send(steadfast::OwnedMessage::new("real", "important")).unwrap();
    }
    run_in(dir.path(), &["produce", "--topic", "demo"], b"x\n")
        .expect(1)
        .stderr_has(&["holds 1 undelivered messages from an earlier run", "--embedded"]);
    run_in(dir.path(), &["produce", "--topic", "demo", "--embedded"], b"x\n")
        .expect(0)
        .stderr_has(&["recovered     1", "confirmed     2"]);
}

#[test]
fn json_lines_to_brokers_in_another_process_and_back() {
    let cluster = Cluster::start(&["events:3"]);
    let dir = tempdir();
    let input: String = (0..300)
        .map(|n| {
            format!(
                "{{\"key\":\"k{}\",\"value\":\"v{n}\",\"headers\":{{\"n\":\"{n}\"}}}}\n",
                n % 7
            )
        })
        .collect();
    run_in(
        dir.path(),
        &[
            "produce",
            "--brokers",
            &cluster.bootstrap,
            "-t",
            "events",
            "-f",
            "json",
            "-X",
            "linger.ms=2",
        ],
        input.as_bytes(),
    )
    .expect(0)
    .stderr_has(&["confirmed     300"]);
    // The URL form, with the topic in the URL.
    let url = format!("kafka://{}/events", cluster.bootstrap);
    run_in(dir.path(), &["produce", "--to", &url, "-j", "j2"], b"via-url\n")
        .expect(0)
        .stderr_has(&["confirmed     1"]);
    let records = cluster.read("events", 301);
    assert_eq!(records.len(), 301, "{records:?}");
    let mut values: Vec<String> = records
        .iter()
        .map(|r| r["value"].as_str().unwrap().to_owned())
        .collect();
    values.sort();
    values.dedup();
    assert_eq!(values.len(), 301);
    assert!(
        records.iter().all(|r| r["id"].is_string()),
        "every record carries its steadfast-id"
    );
    // Order per key: v-numbers of one key increase along its partition.
    for key in 0..7 {
        let k = format!("k{key}");
        let seq: Vec<u64> = records
            .iter()
            .filter(|r| r["key"] == k.as_str())
            .map(|r| r["value"].as_str().unwrap()[1..].parse().unwrap())
            .collect();
        assert!(
            seq.windows(2).all(|w| w[0] < w[1]),
            "key {k} out of order: {seq:?}"
        );
    }
}

#[test]
fn unreachable_brokers_keep_messages_journaled_and_say_so() {
    let dir = tempdir();
    run_in(
        dir.path(),
        &[
            "produce",
            "--brokers",
            "127.0.0.1:1",
            "-t",
            "t",
            "--stall-warning",
            "1s",
            "--wait-timeout",
            "3s",
        ],
        &numbers(1, 20),
    )
    .expect(3)
    .stderr_has(&[
        "nothing delivered for",
        "20 messages",
        "cannot connect to 127.0.0.1:1",
        "the messages stay journaled",
        "20 messages (",
        "remain journaled in steadfast-journal, undelivered (--wait-timeout 3.0 s passed)",
    ]);
    run_in(dir.path(), &["journal", "status"], b"")
        .expect(0)
        .stdout_has(&["pending        20 messages"]);
    // Later, somewhere reachable: everything goes out.
    run_in(dir.path(), &["deliver", "--file", "out.jsonl"], b"")
        .expect(0)
        .stderr_has(&["recovered     20", "confirmed     20"]);
    let values = delivered_values(&dir.path().join("out.jsonl"));
    assert_eq!(values, (1..=20).map(|n| n.to_string()).collect::<Vec<_>>());
}

#[test]
fn an_unknown_topic_is_reported_and_dead_lettered() {
    let cluster = Cluster::start(&["known:1"]);
    let dir = tempdir();
    run_in(
        dir.path(),
        &[
            "produce",
            "--brokers",
            &cluster.bootstrap,
            "-t",
            "no-such-topic",
            "-X",
            "allow.auto.create.topics=false",
            "-X",
            "topic.metadata.propagation.max.ms=200",
            "--unknown-topic-wait",
            "1s",
        ],
        &numbers(1, 3),
    )
    .expect(6)
    .stderr_has(&[
        "topic `no-such-topic` does not exist",
        "3 message(s) were refused for good",
        "steadfast dead-letters list",
    ]);
    run_in(dir.path(), &["dead-letters", "list"], b"")
        .expect(0)
        .stdout_has(&["3 dead letter(s)", "nknown topic"]);
}

#[test]
fn demo_loses_nothing() {
    let dir = tempdir();
    let run = run_in(dir.path(), &["demo", "--phase", "1s", "--rate", "1000"], b"")
        .expect(0)
        .stdout_has(&[
            "killed with SIGKILL",
            "recovered the journal",
            "all brokers down",
            "partition leaders move",
            "missing                       0",
            "order per key                 kept",
        ]);
    let sent: u64 = run
        .stdout
        .lines()
        .find_map(|l| l.trim().strip_prefix("sent (acknowledged by send)"))
        .unwrap()
        .trim()
        .parse()
        .unwrap();
    assert!(sent > 1000, "{}", run.stdout);
}
