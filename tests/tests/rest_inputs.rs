//! Bad input on both sides of the REST transport: bodies and records over
//! the size cap, bytes that are not UTF-8, malformed URLs; and raw HTTP
//! checks that the test proxy keeps the quirks REST-PROXY.md describes (the
//! transport is judged against real proxies, so the stand-in must be
//! faithful).
#![allow(clippy::unwrap_used, reason = "tests")]
#![allow(clippy::disallowed_methods, reason = "tests measure a real server's clock")]

use core::time::Duration;
use std::io::{Read, Write};
use std::net::TcpStream;
use std::time::Instant;

use steadfast_core::{FailureClass, Message, MessageId, Outcome, OutgoingRecord, Seq, Transport};
use steadfast_sim::rest_proxy::{Flavor, ProxyConfig, RestProxy};
use steadfast_transports::rest::{RestConfig, RestConfigError, RestTransport};

fn record(seq: Seq, message: Message<'_>) -> OutgoingRecord<'_> {
    OutgoingRecord {
        seq,
        id: MessageId { journal: 9, seq },
        message,
    }
}

/// Submits once and returns the outcomes in seq order.
fn submit(transport: &mut RestTransport, records: &[OutgoingRecord<'_>]) -> Vec<Outcome> {
    transport.submit(0, records);
    let mut got: Vec<(Seq, Outcome)> = Vec::new();
    transport.poll(0, 0, &mut |seq, outcome| got.push((seq, outcome)));
    got.sort_by_key(|(seq, _)| *seq);
    assert_eq!(got.len(), records.len());
    got.into_iter().map(|(_, o)| o).collect()
}

fn transport(proxy: &RestProxy, max_body: usize) -> RestTransport {
    let config = RestConfig::new(proxy.base_url())
        .max_body_bytes(max_body)
        .request_deadline(Duration::from_secs(5));
    RestTransport::new(config).unwrap()
}

#[test]
fn batches_are_split_by_encoded_size_below_the_cap() {
    let proxy = RestProxy::start(ProxyConfig::new(Flavor::KarapaceV2).topic("big", 2)).unwrap();
    let values: Vec<Vec<u8>> = (0..40u8).map(|i| vec![i; 100 * 1024]).collect();
    let records: Vec<OutgoingRecord<'_>> = values
        .iter()
        .enumerate()
        .map(|(i, v)| record(i as Seq + 1, Message::new("big", v)))
        .collect();
    let outcomes = submit(&mut transport(&proxy, 1024 * 1024), &records);
    assert!(
        outcomes.iter().all(|o| matches!(o, Outcome::Confirmed { .. })),
        "{outcomes:?}"
    );
    let produces: Vec<_> = proxy
        .requests()
        .into_iter()
        .filter(|r| r.method == "POST")
        .collect();
    assert!(produces.len() >= 6, "40 × 133 KiB encoded needs several requests");
    assert!(
        produces
            .iter()
            .all(|r| r.body_len <= 1024 * 1024 && r.status == 200),
        "{produces:?}"
    );
    let stored: Vec<Vec<u8>> = proxy.records("big").into_iter().filter_map(|s| s.value).collect();
    assert_eq!(stored.len(), 40);
}

#[test]
fn a_body_the_server_finds_too_large_is_halved_until_it_fits() {
    let proxy = RestProxy::start(ProxyConfig::new(Flavor::KarapaceV2).topic("big", 1)).unwrap();
    let values: Vec<Vec<u8>> = (0..12u8).map(|i| vec![i; 200 * 1024]).collect();
    let records: Vec<OutgoingRecord<'_>> = values
        .iter()
        .enumerate()
        .map(|(i, v)| record(i as Seq + 1, Message::new("big", v)))
        .collect();
    // The client believes 8 MiB is fine; Karapace stops at 1 MiB.
    let outcomes = submit(&mut transport(&proxy, 8 * 1024 * 1024), &records);
    assert!(
        outcomes.iter().all(|o| matches!(o, Outcome::Confirmed { .. })),
        "{outcomes:?}"
    );
    let statuses: Vec<u16> = proxy.requests().iter().map(|r| r.status).collect();
    assert!(statuses.contains(&413), "{statuses:?}");
    // Order is kept: partition 0 holds the values in submit order.
    let stored: Vec<u8> = proxy
        .records("big")
        .iter()
        .map(|s| s.value.as_ref().unwrap()[0])
        .collect();
    assert_eq!(stored, (0..12).collect::<Vec<u8>>());
}

#[test]
fn a_record_over_the_cap_is_terminal_alone() {
    for flavor in Flavor::ALL {
        let proxy = RestProxy::start(ProxyConfig::new(flavor).topic("t", 1)).unwrap();
        let huge = vec![7u8; 100 * 1024];
        let records = [
            record(1, Message::new("t", b"small-1")),
            record(2, Message::new("t", &huge)),
            record(3, Message::new("t", b"small-3")),
        ];
        let outcomes = submit(&mut transport(&proxy, 64 * 1024), &records);
        assert!(
            matches!(outcomes[0], Outcome::Confirmed { .. }),
            "{flavor:?}: {outcomes:?}"
        );
        assert!(
            matches!(outcomes[2], Outcome::Confirmed { .. }),
            "{flavor:?}: {outcomes:?}"
        );
        let Outcome::Failed(failure) = &outcomes[1] else {
            panic!("{outcomes:?}")
        };
        assert_eq!(failure.class, FailureClass::Terminal);
        assert!(
            failure.reason.contains("too large") && failure.reason.contains("65536"),
            "{failure}"
        );
        let stored: Vec<Vec<u8>> = proxy.records("t").into_iter().filter_map(|s| s.value).collect();
        assert_eq!(
            stored,
            vec![b"small-1".to_vec(), b"small-3".to_vec()],
            "{flavor:?}"
        );
    }
}

#[test]
fn bytes_that_are_not_utf8_travel_unchanged() {
    for flavor in Flavor::ALL {
        let proxy = RestProxy::start(ProxyConfig::new(flavor).topic("t", 1)).unwrap();
        let value = b"\xff\xfe\x00 not \xc3\x28 utf-8";
        let mut message = Message::new("t", value).with_key(b"\xc3\x28");
        message.push_header("bin", b"\x80\x81").unwrap();
        let outcomes = submit(&mut transport(&proxy, 1024 * 1024), &[record(1, message)]);
        assert!(
            matches!(outcomes[0], Outcome::Confirmed { .. }),
            "{flavor:?}: {outcomes:?}"
        );
        let stored = &proxy.records("t")[0];
        assert_eq!(stored.value.as_deref(), Some(&value[..]));
        assert_eq!(stored.key.as_deref(), Some(&b"\xc3\x28"[..]));
        if flavor == Flavor::ConfluentV3 {
            assert_eq!(stored.header("bin"), Some(&b"\x80\x81"[..]));
        }
    }
}

#[test]
fn malformed_urls_fail_with_a_clear_error() {
    for url in [
        "localhost:8082",
        "http://",
        "http://proxy:port",
        "http://a b:1",
        "tcp://h:1",
    ] {
        let err = RestTransport::new(RestConfig::new(url)).unwrap_err();
        let text = err.to_string();
        assert!(
            matches!(err, RestConfigError::MalformedUrl { .. }),
            "{url}: {err:?}"
        );
        assert!(
            text.contains("expected http://host:port") && text.contains(url),
            "{text}"
        );
    }
    let err = RestTransport::new(RestConfig::new("http://me:pa55word@h:1")).unwrap_err();
    assert!(
        !err.to_string().contains("pa55word") && err.to_string().contains("basic_auth"),
        "{err}"
    );
}

#[test]
fn poll_never_waits_and_in_flight_counts() {
    let proxy = RestProxy::start(ProxyConfig::new(Flavor::ConfluentV3).topic("t", 1)).unwrap();
    let mut transport = transport(&proxy, 1024 * 1024);
    let started = Instant::now();
    assert_eq!(
        transport.poll(0, 5_000, &mut |_, _| panic!("nothing was sent")),
        0
    );
    assert!(started.elapsed() < Duration::from_millis(500));
    transport.submit(
        0,
        &[
            record(1, Message::new("t", b"a")),
            record(2, Message::tombstone("t", b"k")),
        ],
    );
    assert_eq!(transport.in_flight(), 2);
    assert_eq!(transport.poll(0, 0, &mut |_, _| {}), 2);
    assert_eq!(transport.in_flight(), 0);
}

/// A raw HTTP/1.1 exchange (`Connection: close`): status and body text.
fn raw(
    proxy: &RestProxy,
    method: &str,
    path: &str,
    headers: &[(&str, &str)],
    body: &[u8],
) -> (u16, String, String) {
    let mut stream = TcpStream::connect(proxy.addr()).unwrap();
    stream.set_read_timeout(Some(Duration::from_secs(5))).unwrap();
    let mut head = format!(
        "{method} {path} HTTP/1.1\r\nHost: x\r\nConnection: close\r\nContent-Length: {}\r\n",
        body.len()
    );
    for (name, value) in headers {
        head.push_str(&format!("{name}: {value}\r\n"));
    }
    head.push_str("\r\n");
    stream.write_all(head.as_bytes()).unwrap();
    stream.write_all(body).unwrap();
    let mut answer = Vec::new();
    stream.read_to_end(&mut answer).unwrap();
    let text = String::from_utf8_lossy(&answer).into_owned();
    let (head, body) = text.split_once("\r\n\r\n").unwrap_or((&text, ""));
    let status = head.split(' ').nth(1).and_then(|s| s.parse().ok()).unwrap_or(0);
    (status, head.to_owned(), body.to_owned())
}

const V3_RECORDS: &str = "/v3/clusters/xFhUvurESIeeCI87SXWR-Q/topics/t/records";
const JSON: (&str, &str) = ("Content-Type", "application/json");
const BINARY_V2: (&str, &str) = ("Content-Type", "application/vnd.kafka.binary.v2+json");

#[test]
fn v3_string_data_that_is_not_utf8_is_a_400() {
    let proxy = RestProxy::start(ProxyConfig::new(Flavor::ConfluentV3).topic("t", 1)).unwrap();
    let body = b"{\"value\":{\"type\":\"STRING\",\"data\":\"ok\"}}{\"value\":{\"type\":\"STRING\",\"data\":\"\xff\xfe\"}}";
    let (status, _, answer) = raw(&proxy, "POST", V3_RECORDS, &[JSON], body);
    assert_eq!(status, 200);
    assert!(
        answer.contains("\"error_code\":200") && answer.contains("\"error_code\":400"),
        "{answer}"
    );
    // And the server is still there.
    let (status, _, _) = raw(&proxy, "GET", "/v3/clusters", &[], b"");
    assert_eq!(status, 200);
}

#[test]
fn media_types_are_checked_as_the_proxies_do() {
    let v3 = RestProxy::start(ProxyConfig::new(Flavor::ConfluentV3).topic("t", 1)).unwrap();
    let record = br#"{"value":{"type":"BINARY","data":"aGk="}}"#;
    let charset = ("Content-Type", "application/json; charset=UTF-8");
    assert_eq!(raw(&v3, "POST", V3_RECORDS, &[charset], record).0, 400);
    assert_eq!(
        raw(&v3, "POST", V3_RECORDS, &[("Content-Type", "text/plain")], record).0,
        415
    );
    assert_eq!(
        raw(&v3, "POST", V3_RECORDS, &[JSON, ("Accept", "text/html")], record).0,
        406
    );
    assert_eq!(
        raw(
            &v3,
            "POST",
            V3_RECORDS,
            &[JSON, ("Accept", "application/json")],
            record
        )
        .0,
        200
    );
    let records = br#"{"records":[{"value":"aGk="}]}"#;
    for flavor in [Flavor::ConfluentV2, Flavor::KarapaceV2, Flavor::RedpandaV2] {
        let proxy = RestProxy::start(ProxyConfig::new(flavor).topic("t", 1)).unwrap();
        assert_eq!(
            raw(&proxy, "POST", "/topics/t", &[JSON], records).0,
            415,
            "{flavor:?}"
        );
        let accept = ("Accept", "text/html");
        assert_eq!(
            raw(&proxy, "POST", "/topics/t", &[BINARY_V2, accept], records).0,
            406,
            "{flavor:?}"
        );
        let accept = ("Accept", "application/vnd.kafka.v2+json");
        let (status, head, _) = raw(&proxy, "POST", "/topics/t", &[BINARY_V2, accept], records);
        assert_eq!(status, 200, "{flavor:?}");
        assert!(head.contains("application/vnd.kafka.v2+json"), "{head}");
        assert_eq!(
            raw(&proxy, "GET", "/v3/clusters", &[], b"").0,
            404,
            "{flavor:?}: v2 only"
        );
    }
}

#[test]
fn v2_dialects_differ_as_documented() {
    let headers = br#"{"records":[{"value":"aGk=","headers":[{"name":"h","value":"aGk="}]}]}"#;
    let nulls = br#"{"records":[{"key":"aw==","value":null}]}"#;
    let expect = [
        // flavor, status for a `headers` field, unknown topic status and answer
        (Flavor::ConfluentV2, 200, 404, "40401"),
        (Flavor::KarapaceV2, 422, 404, "40401"),
        (Flavor::RedpandaV2, 400, 200, "\"error_code\":3"),
    ];
    for (flavor, headers_status, unknown_status, unknown_text) in expect {
        let proxy = RestProxy::start(ProxyConfig::new(flavor).topic("t", 1)).unwrap();
        assert_eq!(
            raw(&proxy, "POST", "/topics/t", &[BINARY_V2], headers).0,
            headers_status,
            "{flavor:?}"
        );
        let (status, _, answer) = raw(&proxy, "POST", "/topics/nope", &[BINARY_V2], nulls);
        assert_eq!(status, unknown_status, "{flavor:?}");
        assert!(answer.contains(unknown_text), "{flavor:?}: {answer}");
        let (_, _, answer) = raw(&proxy, "POST", "/topics/t", &[BINARY_V2], nulls);
        let stored = proxy.records("t").pop().unwrap();
        match flavor {
            Flavor::KarapaceV2 => {
                assert_eq!(stored.value, Some(Vec::new()));
                assert!(answer.contains("\"offset\":-1"), "{answer}");
            }
            _ => assert_eq!(stored.value, None, "{flavor:?}"),
        }
    }
    let karapace = RestProxy::start(ProxyConfig::new(Flavor::KarapaceV2).topic("t", 1)).unwrap();
    let big = format!(r#"{{"records":[{{"value":"{}"}}]}}"#, "A".repeat(1024 * 1024 + 4));
    assert_eq!(
        raw(&karapace, "POST", "/topics/t", &[BINARY_V2], big.as_bytes()).0,
        413
    );
}

#[test]
fn basic_auth_challenges_then_refuses() {
    let config = ProxyConfig::new(Flavor::ConfluentV3)
        .topic("t", 1)
        .basic_auth("u", "p");
    let proxy = RestProxy::start(config).unwrap();
    let (status, head, _) = raw(&proxy, "GET", "/v3/clusters", &[], b"");
    assert_eq!(status, 401);
    assert!(head.contains("WWW-Authenticate: Basic"), "{head}");
    let wrong = ("Authorization", "Basic dTp4"); // u:x
    assert_eq!(raw(&proxy, "GET", "/v3/clusters", &[wrong], b"").0, 403);
    let right = ("Authorization", "Basic dTpw"); // u:p
    assert_eq!(raw(&proxy, "GET", "/v3/clusters", &[right], b"").0, 200);
}
