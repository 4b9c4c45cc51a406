//! The Producer API end to end on real files: sending, delivery, the
//! delivery callback (recovered messages included), flush and close, stats,
//! group commit, the budget and `Full`, dead letters, the caller-driven
//! mode, refusals and failing closed.
#![allow(clippy::unwrap_used, clippy::result_large_err)]

mod common;
mod faulty;

use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Mutex};
use std::time::Duration;

use faulty::{Faults, FaultyStorage};
use steadfast::transport::HoldTransport;
use steadfast::{
    BatchStop, Config, Delivery, Failure, FailureClass, FileStorage, FileTransport, FullCause, MessageId,
    OwnedMessage, Producer, Refusal, SendTimeoutError, SyncPolicy, TrySendError,
};

/// A producer over a [`FaultyStorage`] on `journal` (the runner's
/// `Producer` over a second storage), with its fault switches.
fn faulty_producer(journal: &std::path::Path) -> (Producer<FaultyStorage>, Faults) {
    let (storage, faults) = FaultyStorage::new(FileStorage::open(journal).unwrap());
    let p = Producer::with_storage(storage)
        .spawn(HoldTransport::default())
        .unwrap();
    (p, faults)
}

/// Opens `journal` again (a plain `FileStorage`), delivers everything to a
/// file and returns the ids delivered.
fn deliver_after_restart(journal: &std::path::Path, out: &std::path::Path) -> Vec<String> {
    let p = Producer::builder(journal)
        .spawn(FileTransport::open(out).unwrap())
        .unwrap();
    p.flush_timeout(Duration::from_secs(10)).unwrap();
    p.close(Duration::from_secs(1)).unwrap();
    let delivered = steadfast::transport::read_delivered(out).unwrap();
    delivered.records.iter().map(|r| r.id.clone()).collect()
}

fn small_config() -> Config {
    Config {
        max_entry: 4096,
        segment_size: 32 << 10,
        ..Config::default()
    }
}

#[test]
fn sends_are_delivered_and_confirmed() {
    let dir = common::tempdir();
    let out = dir.path().join("out.jsonl");
    let confirmed = Arc::new(Mutex::new(Vec::new()));
    let seen = Arc::clone(&confirmed);
    let p = Producer::builder(dir.path().join("journal"))
        .on_delivery(move |d| seen.lock().unwrap().push(d.clone()))
        .spawn(FileTransport::open(&out).unwrap())
        .unwrap();
    assert!(p.recovery_report().created);
    let mut ids = Vec::new();
    for i in 0..100 {
        let m = OwnedMessage::new("t", format!("m{i}")).with_key("k");
        ids.push(p.send(m).unwrap());
    }
    p.flush_timeout(Duration::from_secs(10)).unwrap();
    let stats = p.stats();
    assert_eq!((stats.sent, stats.confirmed, stats.pending), (100, 100, 0));
    assert!(stats.fsync.count >= 1);
    let report = p.close(Duration::from_secs(5)).unwrap();
    assert!(report.flushed);
    assert_eq!(common::delivered_values(&out).len(), 100);
    assert_eq!(confirmed.lock().unwrap().len(), 100);
    assert!(ids.windows(2).all(|w| w[0].seq < w[1].seq));
}

#[test]
fn concurrent_senders_share_fsyncs() {
    let dir = common::tempdir();
    let p = Producer::builder(dir.path().join("journal"))
        .spawn(HoldTransport::default())
        .unwrap();
    std::thread::scope(|s| {
        for t in 0..8 {
            let p = &p;
            s.spawn(move || {
                for i in 0..100 {
                    p.send(OwnedMessage::new("t", format!("{t}-{i}"))).unwrap();
                }
            });
        }
    });
    let stats = p.stats();
    assert_eq!(stats.sent, 800);
    // Every send waited for an fsync, but they were shared.
    assert!(
        stats.fsync.count < 700,
        "{} fsyncs for 800 sends",
        stats.fsync.count
    );
    p.close(Duration::ZERO).unwrap();
}

#[test]
fn under_always_every_send_returns_only_once_an_fsync_covered_it() {
    let dir = common::tempdir();
    let p = Producer::builder(dir.path().join("journal"))
        .spawn(HoldTransport::default())
        .unwrap();
    std::thread::scope(|s| {
        for t in 0..32 {
            let p = &p;
            s.spawn(move || {
                for i in 0..40 {
                    let id = p.send(OwnedMessage::new("t", format!("{t}-{i}"))).unwrap();
                    let durable = p.stats().durable_seq;
                    assert!(
                        durable >= id.seq,
                        "send of seq {} returned at durable {durable}",
                        id.seq
                    );
                }
            });
        }
    });
    let stats = p.stats();
    assert_eq!(stats.sent, 32 * 40);
    assert!(stats.fsync.count < 32 * 40, "{} fsyncs", stats.fsync.count);
    p.close(Duration::ZERO).unwrap();
}

#[test]
fn a_failed_fsync_refuses_every_parked_sender_and_loses_nothing_acknowledged() {
    let dir = common::tempdir();
    let journal = dir.path().join("journal");
    let (p, faults) = faulty_producer(&journal);
    let p = Arc::new(p);
    let (tx, rx) = std::sync::mpsc::channel();
    for t in 0..16 {
        let (p, tx) = (Arc::clone(&p), tx.clone());
        std::thread::spawn(move || {
            let mut acked: Vec<MessageId> = Vec::new();
            let refusal = loop {
                match p.send(OwnedMessage::new("t", format!("{t}-{}", acked.len()))) {
                    Ok(id) => acked.push(id),
                    Err(e) => break e.refusal,
                }
            };
            tx.send((acked, refusal)).unwrap();
        });
    }
    drop(tx);
    steadfast::clock::sleep(Duration::from_millis(200));
    let synced_before = faults.syncs();
    assert!(synced_before > 0, "group commit ran no fsync through the wrapper");
    faults.fail_syncs();
    let mut acked = Vec::new();
    for _ in 0..16 {
        // No sender hangs: each is refused within a few parking periods.
        let (ids, refusal) = rx.recv_timeout(Duration::from_secs(10)).expect("a sender hung");
        assert!(matches!(refusal, Refusal::FailedClosed { .. }), "{refusal}");
        acked.extend(ids);
    }
    assert!(p.stats().failed.is_some());
    let p = Arc::into_inner(p).unwrap();
    assert!(
        p.close(Duration::ZERO).is_err(),
        "closing a failed journal reports it"
    );
    // Every send acknowledged before the failure is delivered after a restart.
    assert!(!acked.is_empty());
    let delivered = deliver_after_restart(&journal, &dir.path().join("out.jsonl"));
    let lost: Vec<_> = acked
        .iter()
        .filter(|id| !delivered.contains(&id.to_string()))
        .collect();
    assert!(
        lost.is_empty(),
        "{} acknowledged messages lost: {lost:?}",
        lost.len()
    );
}

#[test]
fn a_batch_is_made_durable_with_one_fsync() {
    let dir = common::tempdir();
    let p = Producer::builder(dir.path().join("journal"))
        .spawn(HoldTransport::default())
        .unwrap();
    let before = p.stats().fsync.count;
    let batch = (0..500).map(|i| OwnedMessage::new("t", format!("{i}"))).collect();
    let ids = p.send_batch(batch).unwrap();
    assert_eq!(ids.len(), 500);
    assert_eq!(p.stats().fsync.count - before, 1);
    p.close(Duration::ZERO).unwrap();
}

#[test]
fn the_callback_reports_messages_recovered_from_a_previous_run() {
    let dir = common::tempdir();
    let journal = dir.path().join("journal");
    let out = dir.path().join("out.jsonl");
    let p = Producer::builder(&journal)
        .spawn(HoldTransport::default())
        .unwrap();
    let mut ids = Vec::new();
    for i in 0..20 {
        ids.push(p.send(OwnedMessage::new("t", format!("{i}"))).unwrap());
    }
    let report = p.close(Duration::ZERO).unwrap();
    assert_eq!(report.pending, 20);
    assert!(!report.flushed);

    let seen = Arc::new(Mutex::new(Vec::new()));
    let sink = Arc::clone(&seen);
    let p = Producer::builder(&journal)
        .on_delivery(move |d| sink.lock().unwrap().push(d.clone()))
        .spawn(FileTransport::open(&out).unwrap())
        .unwrap();
    assert_eq!(p.recovery_report().pending, 20);
    assert!(p.recovery_report().is_clean(), "{}", p.recovery_report());
    p.flush_timeout(Duration::from_secs(10)).unwrap();
    p.close(Duration::from_secs(1)).unwrap();
    let confirmed: Vec<_> = seen
        .lock()
        .unwrap()
        .iter()
        .filter_map(|d| match d {
            Delivery::Confirmed { id, .. } => Some(*id),
            _ => None,
        })
        .collect();
    assert_eq!(confirmed, ids);
}

#[test]
fn a_full_budget_blocks_send_and_fails_try_send_with_the_message() {
    let dir = common::tempdir();
    let out = dir.path().join("out.jsonl");
    let refuse = Arc::new(AtomicBool::new(true));
    let gate = Arc::clone(&refuse);
    // The "broker" is down (retriable) until `refuse` is cleared.
    let transport = FileTransport::open(&out).unwrap().with_reject(move |_| {
        gate.load(Ordering::SeqCst)
            .then(|| Failure::new(FailureClass::Retriable, 503, "broker down"))
    });
    let p = Producer::builder(dir.path().join("journal"))
        .config(small_config())
        .budget(128 << 10)
        .sync(SyncPolicy::Never)
        .spawn(transport)
        .unwrap();
    let mut accepted = 0;
    let full = loop {
        let m = OwnedMessage::new("t", vec![b'x'; 1000]).with_key(format!("{accepted}"));
        match p.try_send(m.clone()) {
            Ok(_) => accepted += 1,
            Err(TrySendError::Full { message, cause }) => {
                assert_eq!(message, m, "the message is handed back untouched");
                break cause;
            }
            Err(e) => panic!("{e}"),
        }
    };
    assert!(matches!(full, FullCause::Budget { .. }), "{full:?}");
    assert!(accepted > 50, "{accepted}");
    let started = steadfast::clock::now();
    let m = OwnedMessage::new("t", vec![b'l'; 1000]);
    match p.send_timeout(m, Duration::from_millis(100)) {
        Err(SendTimeoutError::Timeout { message, .. }) => assert_eq!(message.value.unwrap()[0], b'l'),
        other => panic!("{other:?}"),
    }
    assert!(started.elapsed() >= Duration::from_millis(100));
    // A blocked `send` completes once deliveries free space.
    std::thread::scope(|s| {
        let waiter = s.spawn(|| p.send(OwnedMessage::new("t", vec![b'a'; 1000])));
        steadfast::clock::sleep(Duration::from_millis(50));
        assert!(!waiter.is_finished());
        refuse.store(false, Ordering::SeqCst);
        waiter.join().unwrap().unwrap();
    });
    p.flush_timeout(Duration::from_secs(20)).unwrap();
    p.close(Duration::from_secs(1)).unwrap();
    let values = common::delivered_values(&out);
    assert_eq!(values.values().sum::<usize>(), accepted + 1);
    assert!(values.contains_key(&"a".repeat(1000)));
}

#[test]
fn dead_letters_are_listed_redriven_and_discarded() {
    let dir = common::tempdir();
    let journal = dir.path().join("journal");
    let out = dir.path().join("out.jsonl");
    let first_bad1 = Arc::new(AtomicBool::new(true));
    let flag = Arc::clone(&first_bad1);
    let transport = FileTransport::open(&out).unwrap().with_reject(move |r| {
        let value = r.message.value.unwrap_or_default();
        let refuse = value == b"bad2" || (value == b"bad1" && flag.swap(false, Ordering::SeqCst));
        refuse.then(|| Failure::new(FailureClass::Terminal, 10, "message too large"))
    });
    let dead = Arc::new(Mutex::new(Vec::new()));
    let sink = Arc::clone(&dead);
    let p = Producer::builder(&journal)
        .on_delivery(move |d| {
            if let Delivery::DeadLettered { id, failure } = d {
                sink.lock().unwrap().push((*id, failure.reason.to_string()));
            }
        })
        .spawn(transport)
        .unwrap();
    for v in ["ok", "bad1", "bad2"] {
        p.send(OwnedMessage::new("t", v).with_key(v)).unwrap();
    }
    p.flush_timeout(Duration::from_secs(10)).unwrap();
    assert_eq!(dead.lock().unwrap().len(), 2);
    let letters = p.dead_letters().unwrap();
    assert_eq!(letters.len(), 2);
    assert!(
        letters
            .iter()
            .all(|d| d.reason == "message too large" && d.code == 10)
    );
    let value = |d: &steadfast::DeadLetter| d.message.as_ref().unwrap().value.clone().unwrap();
    let bad1 = letters.iter().find(|d| value(d) == b"bad1").unwrap();
    let bad2 = letters.iter().find(|d| value(d) == b"bad2").unwrap();
    p.redrive_dead_letter(bad1.seq).unwrap();
    p.discard_dead_letter(bad2.seq).unwrap();
    assert!(matches!(
        p.discard_dead_letter(bad2.seq),
        Err(steadfast::DeadLetterError::NotFound { .. })
    ));
    p.flush_timeout(Duration::from_secs(10)).unwrap();
    assert!(p.dead_letters().unwrap().is_empty());
    p.close(Duration::from_secs(1)).unwrap();
    let values = common::delivered_values(&out);
    assert_eq!(values.get("bad1"), Some(&1));
    assert_eq!(values.get("bad2"), None);

    let p = Producer::builder(&journal)
        .spawn(HoldTransport::default())
        .unwrap();
    assert_eq!(p.recovery_report().dead_letters, 0);
    assert!(p.dead_letters().unwrap().is_empty());
    p.close(Duration::ZERO).unwrap();
}

/// Under `Sync::Interval` the background producer's syncer thread makes
/// the last sends durable though no sender comes along to find an fsync
/// due (and no send waits for one).
#[test]
fn an_interval_producer_makes_the_last_sends_durable_on_its_own() {
    let dir = common::tempdir();
    let p = Producer::builder(dir.path().join("journal"))
        .sync(SyncPolicy::Interval(20))
        .spawn(HoldTransport::default())
        .unwrap();
    // The first send may find an fsync due and run it; the ones right
    // after it do not.
    let mut last = 0;
    for i in 0..20 {
        last = p.send(OwnedMessage::new("t", format!("{i}"))).unwrap().seq;
    }
    let mut waited = 0;
    while p.stats().durable_seq < last {
        assert!(waited < 2000, "not durable after 10 s");
        std::thread::park_timeout(Duration::from_millis(5));
        waited += 1;
    }
    assert!(p.stats().fsync.count >= 1);
    p.close(Duration::ZERO).unwrap();
}

#[test]
fn a_caller_driven_producer_delivers_from_poll() {
    let dir = common::tempdir();
    let out = dir.path().join("out.jsonl");
    let p = Producer::builder(dir.path().join("journal"))
        .sync(SyncPolicy::Interval(5))
        .open(FileTransport::open(&out).unwrap())
        .unwrap();
    for i in 0..50 {
        p.send(OwnedMessage::new("t", format!("{i}"))).unwrap();
        p.poll(Duration::ZERO);
    }
    let mut rounds = 0;
    while !p.poll(Duration::from_millis(10)).idle {
        rounds += 1;
        assert!(rounds < 1000);
    }
    assert_eq!(p.stats().confirmed, 50);
    p.send(OwnedMessage::new("t", "last")).unwrap();
    p.flush_timeout(Duration::from_secs(5)).unwrap();
    p.close(Duration::from_secs(1)).unwrap();
    assert_eq!(common::delivered_values(&out).len(), 51);
}

#[test]
fn refused_messages_are_handed_back() {
    let dir = common::tempdir();
    let p = Producer::builder(dir.path().join("journal"))
        .config(small_config())
        .spawn(HoldTransport::default())
        .unwrap();
    let big = OwnedMessage::new("t", vec![0u8; 10_000]);
    let err = p.send(big.clone()).unwrap_err();
    assert_eq!(err.message, big);
    assert!(
        matches!(err.refusal, Refusal::TooLarge { limit: 4096, .. }),
        "{err}"
    );
    let mut many = OwnedMessage::new("t", "v");
    for i in 0..17 {
        many = many.with_header(format!("h{i}"), "x");
    }
    let err = p.try_send(many.clone()).unwrap_err();
    assert!(err.to_string().contains("17 headers"), "{err}");
    assert_eq!(err.into_message(), many);
    let batch = vec![
        OwnedMessage::new("t", "a"),
        big.clone(),
        OwnedMessage::new("t", "c"),
    ];
    let err = p.send_batch(batch).unwrap_err();
    assert_eq!(err.accepted.len(), 1);
    assert_eq!(err.rest, vec![big, OwnedMessage::new("t", "c")]);
    assert!(matches!(err.stop, BatchStop::Refused(Refusal::TooLarge { .. })));
    p.close(Duration::ZERO).unwrap();
}

#[test]
fn a_failed_fsync_fails_closed_and_a_restart_recovers() {
    let dir = common::tempdir();
    let journal = dir.path().join("journal");
    let (p, faults) = faulty_producer(&journal);
    let kept = p.send(OwnedMessage::new("t", "kept")).unwrap();
    faults.fail_syncs();
    let m = OwnedMessage::new("t", "unsure");
    let err = p.send(m.clone()).unwrap_err();
    assert_eq!(err.message, m);
    assert!(matches!(err.refusal, Refusal::FailedClosed { .. }), "{err}");
    assert!(err.to_string().contains("restart"), "{err}");
    // Every later call is refused, even one that needs no fsync.
    let err = p.try_send(OwnedMessage::new("t", "later")).unwrap_err();
    assert!(matches!(
        err,
        TrySendError::Refused {
            refusal: Refusal::FailedClosed { .. },
            ..
        }
    ));
    assert!(p.stats().failed.is_some());
    assert!(p.close(Duration::ZERO).is_err());

    let delivered = deliver_after_restart(&journal, &dir.path().join("out.jsonl"));
    assert!(delivered.contains(&kept.to_string()));
}
