//! `RestTransport` against the test REST proxy, every flavor, every
//! misbehaviour.
//!
//! Each test drives the transport directly with a small resend loop (what
//! the core does: resend anything retriable or unknown until it is
//! confirmed or terminal) and then checks the promises against what the
//! server actually wrote:
//!
//! - nothing is reported confirmed that the server did not write (and a
//!   confirmed partition/offset holds that very record);
//! - every record ends confirmed or terminal, and a terminal one was not
//!   written (unless an earlier attempt was "unknown");
//! - a record is written twice only if it was once reported unknown;
//! - over v3 every record carries its message id header.
#![allow(clippy::unwrap_used, reason = "tests")]
#![allow(clippy::disallowed_methods, reason = "tests wait on a real server's clock")]

use core::time::Duration;
use std::collections::{BTreeMap, BTreeSet};
use std::time::Instant;

use steadfast_core::{
    Failure, FailureClass, Header, MESSAGE_ID_HEADER, MESSAGE_ID_LEN, Message, MessageId, Outcome,
    OutgoingRecord, Seq, Transport,
};
use steadfast_sim::rest_proxy::{Fault, Flavor, ProxyConfig, RestProxy, StoredRecord, Times};
use steadfast_transports::rest::{ApiVersion, RestConfig, RestTransport};

const JOURNAL: u64 = 0x5eed_f00d;
const DEADLINE: Duration = Duration::from_secs(2);
const SHORT_DEADLINE: Duration = Duration::from_millis(300);
const MAX_ROUNDS: usize = 30;

/// A message the test owns; `Message` borrows from it.
#[derive(Clone, Debug)]
struct Msg {
    topic: &'static str,
    key: Option<Vec<u8>>,
    value: Option<Vec<u8>>,
    partition: Option<i32>,
    headers: Vec<(&'static str, Vec<u8>)>,
    timestamp: Option<i64>,
}

/// Message `i` of `topic`: unique key and value.
fn msg(topic: &'static str, i: usize) -> Msg {
    Msg {
        topic,
        key: Some(format!("key-{i}").into_bytes()),
        value: Some(format!("value-{i}").into_bytes()),
        partition: None,
        headers: Vec::new(),
        timestamp: None,
    }
}

fn id_of(index: usize) -> MessageId {
    MessageId {
        journal: JOURNAL,
        seq: index as Seq + 1,
    }
}

fn outgoing(index: usize, m: &Msg) -> OutgoingRecord<'_> {
    let mut headers = heapless::Vec::new();
    for (name, value) in &m.headers {
        headers
            .push(Header {
                name,
                value: Some(value.as_slice()),
            })
            .unwrap();
    }
    OutgoingRecord {
        seq: index as Seq + 1,
        id: id_of(index),
        message: Message {
            topic: m.topic,
            partition: m.partition,
            key: m.key.as_deref(),
            value: m.value.as_deref(),
            headers,
            timestamp: m.timestamp,
        },
    }
}

/// What the resend loop saw.
#[derive(Debug, Default)]
struct Report {
    confirmed: BTreeMap<Seq, (i32, i64)>,
    terminal: BTreeMap<Seq, Failure>,
    ever_unknown: BTreeSet<Seq>,
    /// Every outcome of round 0, by seq.
    first: BTreeMap<Seq, Outcome>,
    rounds: usize,
}

impl Report {
    fn first_classes(&self) -> Vec<Option<FailureClass>> {
        self.first.values().map(class).collect()
    }
}

fn class(outcome: &Outcome) -> Option<FailureClass> {
    match outcome {
        Outcome::Confirmed { .. } => None,
        Outcome::Failed(f) => Some(f.class),
    }
}

/// Submits, polls, and resends retriable and unknown records until every
/// record is confirmed or terminal; `between(round)` runs after each round.
fn deliver(transport: &mut RestTransport, msgs: &[Msg], mut between: impl FnMut(usize)) -> Report {
    let mut report = Report::default();
    let mut pending: Vec<usize> = (0..msgs.len()).collect();
    for round in 0..MAX_ROUNDS {
        if pending.is_empty() {
            break;
        }
        report.rounds = round + 1;
        let records: Vec<OutgoingRecord<'_>> = pending.iter().map(|&i| outgoing(i, &msgs[i])).collect();
        transport.submit(0, &records);
        assert_eq!(transport.in_flight(), records.len());
        let mut got: Vec<(Seq, Outcome)> = Vec::new();
        let reported = transport.poll(0, 10, &mut |seq, outcome| got.push((seq, outcome)));
        assert_eq!(reported, records.len());
        assert_eq!(transport.in_flight(), 0);
        let seqs: BTreeSet<Seq> = got.iter().map(|(s, _)| *s).collect();
        assert_eq!(seqs.len(), records.len(), "one outcome per record: {got:?}");
        let mut still = Vec::new();
        for (seq, outcome) in got {
            if round == 0 {
                report.first.insert(seq, outcome.clone());
            }
            match outcome {
                Outcome::Confirmed { partition, offset } => {
                    report.confirmed.insert(seq, (partition, offset));
                }
                // The core would retry an unknown topic for a while; here it ends the record.
                Outcome::Failed(f)
                    if matches!(f.class, FailureClass::Terminal | FailureClass::UnknownTopic) =>
                {
                    report.terminal.insert(seq, f);
                }
                Outcome::Failed(f) => {
                    if f.class == FailureClass::Unknown {
                        report.ever_unknown.insert(seq);
                    }
                    still.push(seq as usize - 1);
                }
            }
        }
        still.sort_unstable();
        pending = still;
        between(round);
    }
    assert!(
        pending.is_empty(),
        "undelivered after {MAX_ROUNDS} rounds: {pending:?}: {report:?}"
    );
    report
}

/// Which message a stored record is (by id header over v3, else by its
/// unique value, or key when the value is empty).
fn identify(stored: &StoredRecord, msgs: &[Msg], v3: bool) -> Option<usize> {
    if v3 {
        let text = core::str::from_utf8(stored.header(MESSAGE_ID_HEADER)?).ok()?;
        let id = MessageId::parse(text)?;
        assert_eq!(id.journal, JOURNAL);
        return usize::try_from(id.seq).ok()?.checked_sub(1);
    }
    let value = stored.value.as_deref().filter(|v| !v.is_empty());
    msgs.iter().position(|m| match value {
        Some(v) => m.value.as_deref() == Some(v),
        None => m.value.as_deref().is_none_or(<[u8]>::is_empty) && m.key == stored.key,
    })
}

/// The promises (see the crate doc), checked against the server's log.
fn check(proxy: &RestProxy, msgs: &[Msg], report: &Report) {
    let v3 = proxy.flavor() == Flavor::ConfluentV3;
    let mut topics: Vec<&str> = msgs.iter().map(|m| m.topic).collect();
    topics.sort_unstable();
    topics.dedup();
    let mut copies: BTreeMap<usize, Vec<StoredRecord>> = BTreeMap::new();
    for topic in topics {
        for stored in proxy.records(topic) {
            let index = identify(&stored, msgs, v3).unwrap_or_else(|| panic!("stray record {stored:?}"));
            assert_eq!(msgs[index].topic, topic);
            copies.entry(index).or_default().push(stored);
        }
    }
    for (index, m) in msgs.iter().enumerate() {
        let seq = index as Seq + 1;
        let stored = copies.get(&index).map_or(&[][..], Vec::as_slice);
        match (report.confirmed.get(&seq), report.terminal.get(&seq)) {
            (Some(&(partition, offset)), None) => {
                assert!(!stored.is_empty(), "seq {seq} confirmed but never written");
                if partition >= 0 && offset >= 0 {
                    assert!(
                        stored
                            .iter()
                            .any(|s| s.partition == partition && s.offset == offset),
                        "seq {seq} confirmed at {partition}/{offset}, stored as {stored:?}"
                    );
                }
                if let Some(p) = m.partition {
                    assert!(
                        stored.iter().all(|s| s.partition == p),
                        "seq {seq} in wrong partition"
                    );
                }
            }
            (None, Some(failure)) => assert!(
                stored.is_empty() || report.ever_unknown.contains(&seq),
                "seq {seq} terminal ({failure}) but written"
            ),
            other => panic!("seq {seq}: neither confirmed nor terminal: {other:?}"),
        }
        if stored.len() > 1 {
            assert!(
                report.ever_unknown.contains(&seq),
                "seq {seq} written {} times without an unknown outcome",
                stored.len()
            );
        }
        for s in stored {
            assert_eq!(s.key, m.key, "seq {seq} key");
            if v3 {
                let mut buf = [0; MESSAGE_ID_LEN];
                let id = id_of(index).encode(&mut buf).as_bytes().to_vec();
                assert_eq!(s.headers.first(), Some(&(MESSAGE_ID_HEADER.to_owned(), Some(id))));
                let own: Vec<(String, Option<Vec<u8>>)> = m
                    .headers
                    .iter()
                    .map(|(n, v)| ((*n).to_owned(), Some(v.clone())))
                    .collect();
                assert_eq!(&s.headers[1..], own.as_slice(), "seq {seq} headers");
            } else {
                assert!(s.headers.is_empty(), "v2 cannot carry headers");
            }
        }
    }
}

fn proxy(flavor: Flavor) -> RestProxy {
    RestProxy::start(ProxyConfig::new(flavor).topic("alpha", 3).topic("beta", 1)).unwrap()
}

fn transport_with(proxy: &RestProxy, deadline: Duration) -> RestTransport {
    RestTransport::new(
        RestConfig::new(proxy.base_url())
            .request_deadline(deadline)
            .connect_timeout(Duration::from_secs(1)),
    )
    .unwrap()
}

fn transport(proxy: &RestProxy) -> RestTransport {
    transport_with(proxy, DEADLINE)
}

/// Ten messages over two topics, explicit partitions for some.
fn batch() -> Vec<Msg> {
    (0..10)
        .map(|i| {
            let mut m = msg(if i % 3 == 2 { "beta" } else { "alpha" }, i);
            if m.topic == "alpha" && i % 2 == 0 {
                m.partition = Some((i % 3) as i32);
            }
            m
        })
        .collect()
}

#[test]
fn every_flavor_delivers_a_mixed_batch() {
    for flavor in Flavor::ALL {
        let proxy = proxy(flavor);
        let mut transport = transport(&proxy);
        let mut msgs = batch();
        msgs[1].headers = vec![("trace", b"abc".to_vec()), ("empty", Vec::new())];
        msgs[3].timestamp = Some(1_612_552_482_000);
        msgs[4].value = None; // a tombstone
        msgs[5].key = None;
        let report = deliver(&mut transport, &msgs, |_| {});
        assert_eq!(report.rounds, 1, "{flavor:?}: {report:?}");
        assert!(
            report.terminal.is_empty() && report.ever_unknown.is_empty(),
            "{flavor:?}"
        );
        check(&proxy, &msgs, &report);
        let expected = if flavor == Flavor::ConfluentV3 {
            ApiVersion::V3
        } else {
            ApiVersion::V2
        };
        assert_eq!(transport.api_version(), Some(expected), "{flavor:?}");
        let alpha = proxy.records("alpha");
        let tombstone = alpha.iter().find(|s| s.key.as_deref() == Some(b"key-4")).unwrap();
        match flavor {
            Flavor::ConfluentV3 => {
                assert_eq!(transport.cluster_id(), Some(proxy.cluster_id()));
                assert_eq!(tombstone.value, None);
                let stamped = alpha.iter().find(|s| s.key.as_deref() == Some(b"key-3")).unwrap();
                assert_eq!(stamped.timestamp.as_deref(), Some("2021-02-05T19:14:42.000Z"));
            }
            // Karapace writes a null value as empty bytes (REST-PROXY.md, 6).
            Flavor::KarapaceV2 => assert_eq!(tombstone.value.as_deref(), Some(&b""[..])),
            _ => assert_eq!(tombstone.value, None),
        }
    }
}

#[test]
fn prefixes_and_explicit_versions() {
    let proxy = RestProxy::start(
        ProxyConfig::new(Flavor::ConfluentV3)
            .prefix("/kafka")
            .topic("alpha", 3)
            .topic("beta", 1),
    )
    .unwrap();
    assert!(proxy.base_url().ends_with("/kafka"));
    let msgs = batch();
    // Confluent Cloud style: a base URL with /kafka, detected as v3.
    let mut cloud = transport(&proxy);
    let report = deliver(&mut cloud, &msgs[..5], |_| {});
    assert_eq!(cloud.api_version(), Some(ApiVersion::V3));
    assert_eq!(report.confirmed.len(), 5);
    // A base URL ending in /v3 means v3.
    let config = RestConfig::new(format!("{}/v3/", proxy.base_url())).request_deadline(DEADLINE);
    let mut explicit = RestTransport::new(config).unwrap();
    assert_eq!(explicit.resolve_api().unwrap(), ApiVersion::V3);
    // v2 forced on a Confluent proxy that also speaks v3.
    let config = RestConfig::new(proxy.base_url()).api_version(ApiVersion::V2);
    let mut v2 = RestTransport::new(config).unwrap();
    let before = proxy.requests().len();
    let report = deliver(&mut v2, &msgs[5..6], |_| {});
    assert_eq!(report.confirmed.len(), 1);
    let paths: Vec<String> = proxy.requests()[before..]
        .iter()
        .map(|r| r.path.clone())
        .collect();
    assert_eq!(paths, vec!["/kafka/topics/beta".to_owned()]);
    // An explicit cluster id skips discovery.
    let config = RestConfig::new(proxy.base_url()).cluster_id(proxy.cluster_id());
    let mut pinned = RestTransport::new(config).unwrap();
    let before = proxy.requests().len();
    deliver(&mut pinned, &msgs[6..7], |_| {});
    assert_eq!(proxy.requests().len(), before + 1);
}

#[test]
fn a_hung_proxy_costs_one_deadline_and_nothing_is_lost() {
    for flavor in Flavor::ALL {
        for fault in [Fault::Hang, Fault::HangAfterWrite] {
            let proxy = proxy(flavor);
            let mut transport = transport_with(&proxy, SHORT_DEADLINE);
            transport.resolve_api().unwrap();
            proxy.arm(fault.clone(), Times::Next(1));
            let msgs = batch();
            let started = Instant::now();
            let before = proxy.requests().len();
            let report = deliver(&mut transport, &msgs, |round| {
                if round == 0 {
                    // Both topics were in the batch, yet only one request went out.
                    assert_eq!(proxy.requests().len(), before + 1, "{flavor:?}");
                    assert!(
                        started.elapsed() < Duration::from_secs(5),
                        "{:?}",
                        started.elapsed()
                    );
                }
            });
            let classes = report.first_classes();
            assert!(
                classes.contains(&Some(FailureClass::Unknown)),
                "{flavor:?} {fault:?}: {classes:?}"
            );
            assert!(
                !classes.contains(&None),
                "{flavor:?} {fault:?}: nothing can be confirmed"
            );
            check(&proxy, &msgs, &report);
        }
    }
}

#[test]
fn a_reset_mid_answer_is_unknown_and_resent() {
    for flavor in Flavor::ALL {
        let proxy = proxy(flavor);
        let mut transport = transport(&proxy);
        proxy.arm(Fault::ResetMidResponse, Times::Next(1));
        let msgs = batch();
        let report = deliver(&mut transport, &msgs, |_| {});
        assert!(!report.ever_unknown.is_empty(), "{flavor:?}");
        check(&proxy, &msgs, &report);
    }
}

#[test]
fn server_errors_and_throttling_are_retriable() {
    for flavor in Flavor::ALL {
        for (fault, wait) in [
            (Fault::Status(503), None),
            (Fault::Status(500), None),
            (Fault::Throttle { retry_after_secs: 2 }, Some(2000)),
        ] {
            let proxy = proxy(flavor);
            let mut transport = transport(&proxy);
            proxy.arm(fault.clone(), Times::Next(1));
            let msgs = batch();
            let report = deliver(&mut transport, &msgs, |_| {});
            // The first request (topic alpha) was refused; beta's went through.
            for (seq, outcome) in &report.first {
                let topic = msgs[*seq as usize - 1].topic;
                match outcome {
                    Outcome::Failed(f) => {
                        assert_eq!(f.class, FailureClass::Retriable, "{flavor:?} {fault:?}: {f}");
                    }
                    Outcome::Confirmed { .. } => assert_eq!(topic, "beta", "{flavor:?} {fault:?}"),
                }
            }
            // The refused request's records carry the server's wait.
            let waits: BTreeSet<Option<u64>> = report
                .first
                .values()
                .filter_map(|o| match o {
                    Outcome::Failed(f) if f.reason.starts_with("HTTP") => Some(f.retry_after),
                    _ => None,
                })
                .collect();
            assert_eq!(waits, BTreeSet::from([wait]), "{flavor:?} {fault:?}");
            assert!(report.ever_unknown.is_empty());
            check(&proxy, &msgs, &report);
        }
    }
}

#[test]
fn partial_failures_are_read_record_by_record() {
    for flavor in Flavor::ALL {
        for retriable in [true, false] {
            let proxy = proxy(flavor);
            let mut transport = transport(&proxy);
            proxy.arm(Fault::FailEveryNth { n: 3, retriable }, Times::Always);
            let msgs = batch();
            let report = deliver(&mut transport, &msgs, |_| proxy.clear_faults());
            let classes = report.first_classes();
            let failed = Some(if retriable {
                FailureClass::Retriable
            } else {
                FailureClass::Terminal
            });
            assert!(classes.contains(&failed), "{flavor:?}: {classes:?}");
            assert!(
                classes.contains(&None),
                "{flavor:?}: others are confirmed: {classes:?}"
            );
            if flavor == Flavor::RedpandaV2 {
                // One result per partition: a record whose partition Redpanda
                // chose cannot be told apart when only some partitions failed.
                let unplaced: BTreeSet<Seq> = (0..msgs.len())
                    .filter(|&i| msgs[i].partition.is_none() && msgs[i].topic == "alpha")
                    .map(|i| i as Seq + 1)
                    .collect();
                assert!(report.ever_unknown.is_subset(&unplaced), "{report:?}");
            } else {
                assert!(report.ever_unknown.is_empty(), "{flavor:?}: {report:?}");
                assert_eq!(report.terminal.is_empty(), retriable, "{flavor:?}");
            }
            check(&proxy, &msgs, &report);
        }
    }
}

#[test]
fn v3_per_record_throttling_is_retriable() {
    let proxy = proxy(Flavor::ConfluentV3);
    let mut transport = transport(&proxy);
    proxy.arm(Fault::ThrottleEveryNth(2), Times::Always);
    let msgs = batch();
    let report = deliver(&mut transport, &msgs, |_| proxy.clear_faults());
    let throttled = report.first.values().filter(|o| match o {
        Outcome::Failed(f) => f.class == FailureClass::Retriable && f.code == 429,
        Outcome::Confirmed { .. } => false,
    });
    assert!(throttled.count() >= 4, "{report:?}");
    check(&proxy, &msgs, &report);
}

#[test]
fn slow_answers_within_and_beyond_the_deadline() {
    for flavor in Flavor::ALL {
        let proxy = proxy(flavor);
        let mut transport = transport(&proxy);
        proxy.arm(Fault::Slow(Duration::from_millis(30)), Times::Always);
        let msgs = batch();
        let report = deliver(&mut transport, &msgs, |_| {});
        assert_eq!(report.rounds, 1, "{flavor:?}");
        check(&proxy, &msgs, &report);

        let proxy = self::proxy(flavor);
        let mut transport = transport_with(&proxy, SHORT_DEADLINE);
        proxy.arm(Fault::Slow(SHORT_DEADLINE * 2), Times::Next(1));
        let report = deliver(&mut transport, &msgs, |_| {});
        assert!(
            report.first_classes().contains(&Some(FailureClass::Unknown)),
            "{flavor:?}"
        );
        check(&proxy, &msgs, &report);
    }
}

#[test]
fn unknown_topics_are_terminal_until_they_appear() {
    for flavor in Flavor::ALL {
        let proxy = proxy(flavor);
        let mut transport = transport(&proxy);
        transport.resolve_api().unwrap();
        let wait = Duration::from_millis(300);
        proxy.arm(Fault::UnknownTopicFor(wait), Times::Always);
        let armed = Instant::now();
        let msgs = batch();
        let report = deliver(&mut transport, &msgs, |_| {});
        assert_eq!(report.terminal.len(), msgs.len(), "{flavor:?}: {report:?}");
        for failure in report.terminal.values() {
            assert!(failure.reason.contains("unknown topic"), "{flavor:?}: {failure}");
        }
        check(&proxy, &msgs, &report);
        // The core would wait; once the topic is there, the same records go through.
        std::thread::sleep(wait.saturating_sub(armed.elapsed()) + Duration::from_millis(20));
        let report = deliver(&mut transport, &msgs, |_| {});
        assert_eq!(report.confirmed.len(), msgs.len(), "{flavor:?}");
        check(&proxy, &msgs, &report);
        // A topic that never exists.
        let report = deliver(&mut transport, &[msg("nowhere", 0)], |_| {});
        let failure = report.terminal.values().next().unwrap();
        assert!(failure.reason.contains("unknown topic"), "{flavor:?}: {failure}");
    }
}

#[test]
fn garbage_html_and_wrong_content_types_are_unknown() {
    for flavor in Flavor::ALL {
        for fault in [Fault::Html, Fault::Garbage, Fault::WrongContentType] {
            let proxy = proxy(flavor);
            let mut transport = transport(&proxy);
            proxy.arm(fault.clone(), Times::Next(1));
            let msgs = batch();
            let report = deliver(&mut transport, &msgs, |_| {});
            let first_request: Vec<&Outcome> = report
                .first
                .values()
                .filter(|o| matches!(o, Outcome::Failed(f) if f.class == FailureClass::Unknown))
                .collect();
            assert!(!first_request.is_empty(), "{flavor:?} {fault:?}: {report:?}");
            if fault != Fault::Garbage {
                let Outcome::Failed(f) = first_request[0] else {
                    unreachable!()
                };
                assert!(f.reason.contains("not JSON"), "{flavor:?} {fault:?}: {f}");
            }
            check(&proxy, &msgs, &report);
        }
    }
}

#[test]
fn short_answers_leave_the_rest_unknown() {
    for flavor in Flavor::ALL {
        let proxy = proxy(flavor);
        let mut transport = transport(&proxy);
        proxy.arm(Fault::Truncate(2), Times::Next(1));
        // One topic, one record per partition (so even Redpanda's one entry
        // per partition is cut).
        let msgs: Vec<Msg> = (0..3)
            .map(|i| Msg {
                partition: Some(i as i32),
                ..msg("alpha", i)
            })
            .collect();
        let report = deliver(&mut transport, &msgs, |_| {});
        let classes = report.first_classes();
        assert_eq!(
            classes.iter().filter(|c| c.is_none()).count(),
            2,
            "{flavor:?}: {classes:?}"
        );
        assert!(classes.contains(&Some(FailureClass::Unknown)), "{flavor:?}");
        check(&proxy, &msgs, &report);
    }
}

#[test]
fn basic_auth_missing_refused_and_accepted() {
    for flavor in [Flavor::ConfluentV3, Flavor::KarapaceV2] {
        let config = ProxyConfig::new(flavor)
            .topic("alpha", 1)
            .basic_auth("app", "s3cret");
        let proxy = RestProxy::start(config).unwrap();
        let msgs = vec![msg("alpha", 0)];
        for (auth, code) in [(None, 401), (Some("wrong"), 403)] {
            let mut config = RestConfig::new(proxy.base_url());
            if let Some(password) = auth {
                config = config.basic_auth("app", password);
            }
            let mut transport = RestTransport::new(config).unwrap();
            let report = deliver(&mut transport, &msgs, |_| {});
            let failure = report.terminal.get(&1).unwrap();
            assert_eq!(failure.code, code, "{flavor:?}: {failure}");
        }
        let config = RestConfig::new(proxy.base_url()).basic_auth("app", "s3cret");
        let mut transport = RestTransport::new(config).unwrap();
        assert!(!format!("{transport:?}").contains("s3cret"));
        let report = deliver(&mut transport, &msgs, |_| {});
        assert_eq!(report.confirmed.len(), 1);
        check(&proxy, &msgs, &report);
    }
}

#[test]
fn a_refused_connection_is_retriable_and_nothing_is_sent() {
    let port = {
        let listener = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
        listener.local_addr().unwrap().port()
    };
    let url = format!("http://127.0.0.1:{port}");
    let msgs = batch();
    let records: Vec<OutgoingRecord<'_>> = msgs.iter().enumerate().map(|(i, m)| outgoing(i, m)).collect();
    let mut detecting = RestTransport::new(RestConfig::new(url.as_str())).unwrap();
    let mut pinned = RestTransport::new(RestConfig::new(url.as_str()).api_version(ApiVersion::V2)).unwrap();
    for transport in [&mut detecting, &mut pinned] {
        transport.submit(0, &records);
        let mut outcomes = Vec::new();
        transport.poll(0, 0, &mut |_, o| outcomes.push(o));
        assert_eq!(outcomes.len(), msgs.len());
        for outcome in outcomes {
            let Outcome::Failed(f) = outcome else {
                panic!("confirmed by nobody")
            };
            assert_eq!(f.class, FailureClass::Retriable, "{f}");
            assert!(f.reason.contains("nothing sent"), "{f}");
        }
    }
    assert_eq!(detecting.api_version(), None, "a failed detection is asked again");
    // A proxy appears on that port: the same transport now delivers.
    let config = ProxyConfig::new(Flavor::ConfluentV3)
        .topic("alpha", 3)
        .topic("beta", 1);
    if let Ok(proxy) = RestProxy::start_on(config, port) {
        let report = deliver(&mut detecting, &msgs, |_| {});
        assert_eq!(detecting.api_version(), Some(ApiVersion::V3));
        check(&proxy, &msgs, &report);
    }
}
