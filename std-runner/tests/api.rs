//! The public API as a Rust user meets it: the break attempts of a review
//! (calls from inside the delivery callback, a zero poll interval, an
//! oversized message, what Kafka would refuse, timestamps, a transport
//! failing for good, errors through `?`, `close`'s deadline and report,
//! a batch cut short), each on real files in a temporary directory.
#![allow(clippy::unwrap_used, clippy::result_large_err)]

mod common;

use std::error::Error;
use std::sync::mpsc;
use std::sync::{Arc, Mutex};
use std::time::Duration;

use steadfast::core::{Message, MessageId, Millis, Outcome, OutgoingRecord, Seq, Transport};
use steadfast::transport::HoldTransport;
use steadfast::{
    BatchError, BatchStop, CloseError, Config, FailureClass, FileTransport, FlushError, InvalidMessage,
    OpenFailed, OwnedMessage, Producer, Refusal, RetryPolicy, SendError, SendTimeoutError, TrySendError,
    clock,
};

/// A producer shared with its own delivery callback.
type Slot = Arc<Mutex<Option<Producer>>>;

const WAIT: Duration = Duration::from_secs(20);

fn small_config() -> Config {
    Config {
        max_entry: 4096,
        segment_size: 32 << 10,
        ..Config::default()
    }
}

// ---------------------------------------------------------------- item 1

#[test]
fn close_inside_the_delivery_callback_closes_without_waiting_and_says_so() {
    let dir = common::tempdir();
    let journal = dir.path().join("journal");
    let slot: Slot = Arc::default();
    let (tx, rx) = mpsc::channel();
    let inner = Arc::clone(&slot);
    let p = Producer::builder(&journal)
        .on_delivery(move |_| {
            if let Some(p) = inner.lock().unwrap().take() {
                tx.send(p.close(Duration::from_secs(5))).unwrap();
            }
        })
        .spawn(FileTransport::open(dir.path().join("out.jsonl")).unwrap())
        .unwrap();
    p.send(OwnedMessage::new("t", "one")).unwrap();
    *slot.lock().unwrap() = Some(p);
    let result = rx.recv_timeout(WAIT).expect("close from the callback returned");
    match result {
        Err(CloseError::InDeliveryCallback { report }) => {
            assert!(!report.flushed, "{report:?}");
            let text = CloseError::InDeliveryCallback { report }.to_string();
            assert!(text.contains("another thread"), "{text}");
        }
        other => panic!("{other:?}"),
    }
    // The journal was closed: it opens again (its lock was released).
    let again = Producer::builder(&journal)
        .spawn(HoldTransport::default())
        .unwrap();
    again.close(Duration::ZERO).unwrap();
}

#[test]
fn dropping_the_last_handle_inside_the_delivery_callback_neither_panics_nor_hangs() {
    let dir = common::tempdir();
    let journal = dir.path().join("journal");
    let (tx, rx) = mpsc::channel();
    // The handle reaches the callback through a channel: the delivery may
    // come before the test has handed it over, and then waits for it.
    let (hand_over, handed) = mpsc::channel::<Producer>();
    let p = Producer::builder(&journal)
        .on_delivery(move |_| {
            if let Ok(p) = handed.recv_timeout(WAIT) {
                drop(p);
                tx.send(()).unwrap();
            }
        })
        .spawn(FileTransport::open(dir.path().join("out.jsonl")).unwrap())
        .unwrap();
    p.send(OwnedMessage::new("t", "one")).unwrap();
    hand_over.send(p).unwrap();
    rx.recv_timeout(WAIT).expect("drop inside the callback returned");
    let again = Producer::builder(&journal)
        .spawn(HoldTransport::default())
        .expect("the dropped producer released its journal");
    again.close(Duration::ZERO).unwrap();
}

/// What the callback's calls returned, on a full journal.
#[derive(Debug)]
struct Reentrant {
    send: Result<MessageId, SendError>,
    send_timeout: Result<MessageId, SendTimeoutError>,
    send_batch: Result<Vec<MessageId>, BatchError>,
    try_send: Result<MessageId, TrySendError>,
    flush: Result<(), FlushError>,
}

#[test]
fn waiting_calls_inside_the_delivery_callback_fail_instead_of_deadlocking() {
    let dir = common::tempdir();
    let slot: Slot = Arc::default();
    let (full_tx, full_rx) = mpsc::channel::<()>();
    let mut full_rx = Some(full_rx);
    let (tx, rx) = mpsc::channel();
    let inner = Arc::clone(&slot);
    let p = Producer::builder(dir.path().join("journal"))
        .config(Config {
            budget: 160 << 10,
            ..small_config()
        })
        .on_delivery(move |_| {
            // The first delivery: wait until the test has filled the journal.
            let Some(full_rx) = full_rx.take() else {
                return;
            };
            if full_rx.recv_timeout(WAIT).is_err() {
                return;
            }
            let guard = inner.lock().unwrap();
            let p = guard.as_ref().unwrap();
            let m = || OwnedMessage::new("t", vec![b'x'; 1000]);
            let calls = Reentrant {
                send_timeout: p.send_timeout(m(), Duration::from_millis(50)),
                send_batch: p.send_batch(vec![m(), m()]),
                try_send: p.try_send(m()),
                send: p.send(m()),
                flush: p.flush(),
            };
            // `poll` runs nothing here (the round is running) and returns.
            let _ = p.poll(Duration::from_millis(10));
            tx.send(calls).unwrap();
        })
        .spawn(FileTransport::open(dir.path().join("out.jsonl")).unwrap())
        .unwrap();
    p.send(OwnedMessage::new("t", "first")).unwrap();
    *slot.lock().unwrap() = Some(p);
    // The callback now holds the driver; fill the journal meanwhile.
    let mut filled = 0;
    loop {
        let guard = slot.lock().unwrap();
        match guard
            .as_ref()
            .unwrap()
            .try_send(OwnedMessage::new("t", vec![b'y'; 1000]))
        {
            Ok(_) => filled += 1,
            Err(TrySendError::Full { .. }) => break,
            Err(e) => panic!("{e}"),
        }
        assert!(filled < 10_000, "the budget never filled");
    }
    full_tx.send(()).unwrap();
    let calls = rx.recv_timeout(WAIT).expect("the callback's calls returned");
    match &calls.send {
        Err(SendError {
            refusal: Refusal::InDeliveryCallback,
            message,
        }) => assert_eq!(message.value.as_deref(), Some(&[b'x'; 1000][..])),
        other => panic!("{other:?}"),
    }
    assert!(
        calls.send.as_ref().unwrap_err().to_string().contains("try_send"),
        "{calls:?}"
    );
    assert!(
        matches!(
            calls.send_timeout,
            Err(SendTimeoutError::Refused {
                refusal: Refusal::InDeliveryCallback,
                ..
            })
        ),
        "{calls:?}"
    );
    match &calls.send_batch {
        Err(e) => {
            assert!(e.accepted.is_empty() && e.rest.len() == 2, "{e:?}");
            assert_eq!(e.stop, BatchStop::Refused(Refusal::InDeliveryCallback));
        }
        other => panic!("{other:?}"),
    }
    assert!(
        matches!(calls.try_send, Err(TrySendError::Full { .. })),
        "{calls:?}"
    );
    assert_eq!(calls.flush, Err(FlushError::InDeliveryCallback));
    // Once the callback returned, everything is delivered as usual.
    let p = slot.lock().unwrap().take().unwrap();
    p.flush_timeout(WAIT).unwrap();
    let report = p.close(WAIT).unwrap();
    assert!(report.flushed, "{report:?}");
    let delivered = common::delivered_values(&dir.path().join("out.jsonl"));
    assert_eq!(delivered["first"], 1);
    assert_eq!(delivered[&"y".repeat(1000)], filled);
    assert_eq!(delivered.len(), 2, "nothing the callback tried was journaled");
}

// ---------------------------------------------------------------- item 2

/// CPU time (user + system, in clock ticks) a thread of this process used.
#[cfg(target_os = "linux")]
fn thread_cpu_ticks(tid: &str) -> u64 {
    let stat = std::fs::read_to_string(format!("/proc/self/task/{tid}/stat")).unwrap();
    // Fields after the command name (which is in parentheses): state is
    // field 3, utime 14 and stime 15.
    let rest = &stat[stat.rfind(')').unwrap() + 2..];
    let fields: Vec<&str> = rest.split(' ').collect();
    fields[11].parse::<u64>().unwrap() + fields[12].parse::<u64>().unwrap()
}

#[cfg(target_os = "linux")]
#[test]
fn a_zero_poll_interval_does_not_make_an_idle_producer_spin() {
    let dir = common::tempdir();
    let (tx, rx) = mpsc::channel();
    let p = Producer::builder(dir.path().join("journal"))
        .poll_interval(Duration::ZERO)
        .on_delivery(move |_| {
            // The callback runs on the driver thread: report its id.
            let link = std::fs::read_link("/proc/thread-self").unwrap();
            let _ = tx.send(link.file_name().unwrap().to_string_lossy().into_owned());
        })
        .spawn(FileTransport::open(dir.path().join("out.jsonl")).unwrap())
        .unwrap();
    p.send(OwnedMessage::new("t", "wake up")).unwrap();
    let driver = rx.recv_timeout(WAIT).unwrap();
    p.flush_timeout(WAIT).unwrap();
    let before = thread_cpu_ticks(&driver);
    clock::sleep(Duration::from_secs(1));
    let used = thread_cpu_ticks(&driver) - before;
    // A spinning driver uses ~100 ticks a second; a sleeping one about 1.
    assert!(
        used < 15,
        "the idle driver used {used} ticks of CPU in one second"
    );
    p.close(Duration::from_secs(5)).unwrap();
}

// ---------------------------------------------------------------- item 3

#[test]
fn too_large_reports_the_real_entry_size() {
    let dir = common::tempdir();
    let p = Producer::builder(dir.path().join("journal"))
        .spawn(HoldTransport::default())
        .unwrap();
    let limit = Config::default().max_entry;
    let value = vec![7u8; 1_048_545];
    let m = OwnedMessage::new("t", value.clone());
    let err = p.send(m.clone()).unwrap_err();
    let Refusal::TooLarge { size, limit: said } = err.refusal else {
        panic!("{err}");
    };
    assert_eq!(said, limit);
    assert!(size > limit, "{err}");
    // Exactly the frame it would have taken: the encoded record (with the
    // send-time stamp) plus the 24-byte frame header, padded to 8.
    let mut view = Message::new("t", &value);
    view.timestamp = Some(clock::unix_millis());
    let id = MessageId {
        journal: p.journal_id(),
        seq: 1,
    };
    assert_eq!(size, (24 + view.encoded_len(id)).div_ceil(8) * 8, "{err}");
    assert!(err.to_string().contains(&format!("{size} bytes")), "{err}");
    // Under the limit by a little: accepted.
    let fits = OwnedMessage::new("t", vec![7u8; limit - 100]);
    p.send(fits).unwrap();
    p.close(Duration::ZERO).unwrap();
}

// ---------------------------------------------------------------- item 4

fn header(name: &str) -> OwnedMessage {
    OwnedMessage::new("t", "v").with_header(name, "x")
}

#[test]
fn what_kafka_would_refuse_is_refused_at_send_with_the_rule() {
    let dir = common::tempdir();
    let p = Producer::builder(dir.path().join("journal"))
        .spawn(HoldTransport::default())
        .unwrap();
    let cases: Vec<(OwnedMessage, InvalidMessage, &str)> = vec![
        (OwnedMessage::new("", "v"), InvalidMessage::EmptyTopic, "empty"),
        (
            OwnedMessage::new("a".repeat(250), "v"),
            InvalidMessage::TopicTooLong { len: 250 },
            "at most 249",
        ),
        (
            OwnedMessage::new("my topic", "v"),
            InvalidMessage::TopicCharacter { found: ' ', at: 2 },
            "ASCII letters, digits, '.', '_' and '-'",
        ),
        (
            OwnedMessage::new("logs/app", "v"),
            InvalidMessage::TopicCharacter { found: '/', at: 4 },
            "'/'",
        ),
        (OwnedMessage::new(".", "v"), InvalidMessage::TopicDots, "\"..\""),
        (OwnedMessage::new("..", "v"), InvalidMessage::TopicDots, "\"..\""),
        (
            OwnedMessage::new("t", "v").with_partition(-1),
            InvalidMessage::NegativePartition { partition: -1 },
            "no partition to let the partitioner choose",
        ),
        (
            header("steadfast-id"),
            InvalidMessage::ReservedHeader { index: 0 },
            "steadfast adds",
        ),
        (
            header("Steadfast-Id"),
            InvalidMessage::ReservedHeader { index: 0 },
            "rename",
        ),
        (
            header(""),
            InvalidMessage::EmptyHeaderName { index: 0 },
            "empty name",
        ),
        (
            header(&"h".repeat(10 << 10)),
            InvalidMessage::HeaderNameTooLong {
                index: 0,
                len: 10 << 10,
            },
            "at most 256",
        ),
    ];
    for (message, why, rule) in cases {
        let refused = Refusal::Invalid(why);
        let err = p.send(message.clone()).unwrap_err();
        assert_eq!((&err.message, &err.refusal), (&message, &refused));
        assert!(err.to_string().contains(rule), "{err} lacks {rule:?}");
        match p.try_send(message.clone()) {
            Err(TrySendError::Refused {
                message: back,
                refusal,
            }) => {
                assert_eq!((back, refusal), (message.clone(), refused.clone()));
            }
            other => panic!("{other:?}"),
        }
        match p.send_timeout(message.clone(), Duration::from_secs(1)) {
            Err(SendTimeoutError::Refused {
                message: back,
                refusal,
            }) => {
                assert_eq!((back, refusal), (message.clone(), refused.clone()));
            }
            other => panic!("{other:?}"),
        }
        for batch in [
            p.send_batch(vec![message.clone()]),
            p.try_send_batch(vec![message.clone()]),
            p.send_batch_timeout(vec![message.clone()], Duration::from_secs(1)),
        ] {
            let e = batch.unwrap_err();
            assert_eq!(e.rest, vec![message.clone()]);
            assert_eq!(e.stop, BatchStop::Refused(refused.clone()));
        }
    }
    // Nothing of it was journaled; the legal extremes are accepted.
    assert_eq!(p.stats().sent, 0);
    p.send(OwnedMessage::new("a".repeat(249), "v")).unwrap();
    p.send(OwnedMessage::new("Orders.v2_eu-west", "v").with_partition(0))
        .unwrap();
    p.send(header(&"h".repeat(256))).unwrap();
    assert_eq!(p.stats().sent, 3);
    p.close(Duration::ZERO).unwrap();
}

// ---------------------------------------------------------------- item 5

/// Confirms every record at once and remembers its timestamp.
#[derive(Default)]
struct Stamps {
    seen: Arc<Mutex<Vec<Option<i64>>>>,
    outcomes: Vec<Seq>,
}

impl Transport for Stamps {
    fn submit(&mut self, _now: Millis, records: &[OutgoingRecord<'_>]) {
        let mut seen = self.seen.lock().unwrap();
        for r in records {
            seen.push(r.message.timestamp);
            self.outcomes.push(r.seq);
        }
    }
    fn poll(&mut self, _: Millis, _: Millis, report: &mut dyn FnMut(Seq, Outcome)) -> usize {
        let n = self.outcomes.len();
        for seq in self.outcomes.drain(..) {
            report(
                seq,
                Outcome::Confirmed {
                    partition: 0,
                    offset: -1,
                },
            );
        }
        n
    }
    fn in_flight(&self) -> usize {
        self.outcomes.len()
    }
}

#[test]
fn messages_carry_their_send_time_unless_told_otherwise() {
    let dir = common::tempdir();
    let transport = Stamps::default();
    let seen = Arc::clone(&transport.seen);
    let p = Producer::builder(dir.path().join("journal"))
        .open(transport)
        .unwrap();
    let before = clock::unix_millis();
    let plain = OwnedMessage::new("t", "plain");
    p.send(plain).unwrap();
    p.send_batch(vec![OwnedMessage::new("t", "batched")]).unwrap();
    let after = clock::unix_millis();
    p.send(OwnedMessage::new("t", "own").with_timestamp(42)).unwrap();
    // Caller-driven: deliver later, as after an outage.
    clock::sleep(Duration::from_millis(30));
    p.flush_timeout(WAIT).unwrap();
    let stamps = seen.lock().unwrap().clone();
    assert_eq!(stamps.len(), 3);
    for stamp in &stamps[..2] {
        let t = stamp.expect("stamped");
        assert!((before..=after).contains(&t), "{t} not in {before}..={after}");
    }
    assert_eq!(stamps[2], Some(42));
    p.close(Duration::ZERO).unwrap();

    // Stamping off: no timestamp unless the message has one.
    let transport = Stamps::default();
    let seen = Arc::clone(&transport.seen);
    let p = Producer::builder(dir.path().join("journal2"))
        .stamp_timestamps(false)
        .open(transport)
        .unwrap();
    p.send(OwnedMessage::new("t", "plain")).unwrap();
    p.send(OwnedMessage::new("t", "own").with_timestamp(7)).unwrap();
    p.flush_timeout(WAIT).unwrap();
    assert_eq!(*seen.lock().unwrap(), vec![None, Some(7)]);
    p.close(Duration::ZERO).unwrap();
}

// ---------------------------------------------------------------- item 6

#[cfg(target_os = "linux")]
#[test]
fn a_transport_failing_for_good_shows_in_stats() {
    let dir = common::tempdir();
    let p = Producer::builder(dir.path().join("journal"))
        .config(Config {
            retry: RetryPolicy {
                initial: 1,
                max: 5,
                delivery_timeout: None,
            },
            ..Config::default()
        })
        .spawn(FileTransport::open("/dev/full").unwrap())
        .unwrap();
    p.send(OwnedMessage::new("t", "never arrives")).unwrap();
    let deadline = clock::deadline_after(WAIT).unwrap();
    let stats = loop {
        let stats = p.stats();
        if stats.retried >= 3 || clock::remaining(deadline).is_zero() {
            break stats;
        }
        clock::sleep(Duration::from_millis(10));
    };
    assert!(stats.retried >= 3, "{stats:?}");
    assert!(stats.transport_failures >= stats.retried, "{stats:?}");
    let failure = stats
        .last_transport_error
        .clone()
        .expect("the failure is visible");
    assert_eq!(failure.class, FailureClass::Unknown);
    assert!(failure.reason.contains("/dev/full"), "{failure}");
    let last = stats.last_error.clone().expect("last_error is set");
    assert!(
        last.starts_with("transport: ") && last.contains("/dev/full"),
        "{last}"
    );
    assert_eq!(stats.pending, 1);
    let report = p.close(Duration::ZERO).unwrap();
    assert_eq!((report.flushed, report.pending), (false, 1));
}

// ---------------------------------------------------------------- item 7

fn assert_send_sync<T: Send + Sync + 'static>() {}

/// What a newcomer writes: `?` into a boxed, thread-safe error.
fn open_with_question_mark(dir: &std::path::Path) -> Result<Producer, Box<dyn Error + Send + Sync>> {
    let producer = Producer::builder(dir).spawn(HoldTransport::default())?;
    Ok(producer)
}

#[test]
fn every_error_goes_through_question_mark_into_a_send_sync_box() {
    assert_send_sync::<OpenFailed>();
    assert_send_sync::<SendError>();
    assert_send_sync::<TrySendError>();
    assert_send_sync::<SendTimeoutError>();
    assert_send_sync::<BatchError>();
    assert_send_sync::<FlushError>();
    assert_send_sync::<CloseError>();
    assert_send_sync::<steadfast::DeadLetterError>();
    assert_send_sync::<steadfast::InspectError>();
    let dir = common::tempdir();
    let p = open_with_question_mark(dir.path()).unwrap();
    // A second producer on the same journal: refused, through `?`.
    let err = open_with_question_mark(dir.path()).unwrap_err();
    let failed = err.downcast::<OpenFailed>().unwrap();
    assert!(failed.to_string().contains("lock"), "{failed}");
    let _transport: Box<dyn Transport + Send> = failed.into_transport();
    p.close(Duration::ZERO).unwrap();
}

#[test]
fn close_honours_its_timeout_while_a_callback_runs_and_reports_it() {
    let dir = common::tempdir();
    let journal = dir.path().join("journal");
    let (tx, rx) = mpsc::channel();
    let p = Producer::builder(&journal)
        .on_delivery(move |_| {
            let _ = tx.send(());
            clock::sleep(Duration::from_secs(3));
        })
        .spawn(FileTransport::open(dir.path().join("out.jsonl")).unwrap())
        .unwrap();
    p.send(OwnedMessage::new("t", "slow to report")).unwrap();
    rx.recv_timeout(WAIT).unwrap();
    let started = clock::now();
    let report = p.close(Duration::from_millis(200)).unwrap();
    let took = clock::now() - started;
    assert!(took < Duration::from_millis(1500), "close(200 ms) took {took:?}");
    // Confirmed, but the callback had not finished with it.
    assert_eq!(report.pending, 0, "{report:?}");
    assert_eq!(report.callbacks_pending, 1, "{report:?}");
    assert!(!report.flushed, "{report:?}");
    // The journal is closed and released at once.
    let again = Producer::builder(&journal)
        .spawn(HoldTransport::default())
        .unwrap();
    assert_eq!(again.stats().pending, 0);
    again.close(Duration::ZERO).unwrap();
}

#[test]
fn close_reports_flushed_when_everything_was_delivered_and_seen() {
    let dir = common::tempdir();
    let p = Producer::builder(dir.path().join("journal"))
        .on_delivery(|_| {})
        .spawn(FileTransport::open(dir.path().join("out.jsonl")).unwrap())
        .unwrap();
    for i in 0..20 {
        p.send(OwnedMessage::new("t", format!("m{i}"))).unwrap();
    }
    let report = p.close(WAIT).unwrap();
    assert!(report.flushed, "{report:?}");
    assert_eq!((report.pending, report.callbacks_pending), (0, 0));
}

// ---------------------------------------------------------------- item 9

#[test]
fn a_batch_stopped_by_a_refusal_hands_back_the_rest_unjournaled() {
    let dir = common::tempdir();
    let journal = dir.path().join("journal");
    let out = dir.path().join("out.jsonl");
    let p = Producer::builder(&journal)
        .spawn(HoldTransport::default())
        .unwrap();
    let batch = vec![
        OwnedMessage::new("t", "a"),
        OwnedMessage::new("t", "b"),
        OwnedMessage::new("bad topic", "c"),
        OwnedMessage::new("t", "d"),
    ];
    let err = p.send_batch(batch.clone()).unwrap_err();
    assert_eq!(err.accepted.len(), 2);
    assert_eq!(err.rest, batch[2..].to_vec());
    assert!(matches!(
        err.stop,
        BatchStop::Refused(Refusal::Invalid(InvalidMessage::TopicCharacter { .. }))
    ));
    p.close(Duration::ZERO).unwrap();
    // Only the accepted ones were journaled: only they are delivered.
    let p = Producer::builder(&journal)
        .spawn(FileTransport::open(&out).unwrap())
        .unwrap();
    p.flush_timeout(WAIT).unwrap();
    p.close(WAIT).unwrap();
    let delivered = common::delivered_values(&out);
    assert_eq!(
        delivered.keys().map(String::as_str).collect::<Vec<_>>(),
        ["a", "b"]
    );
}
