//! The producer driven end to end over in-memory storage and a scripted broker.
#![allow(clippy::unwrap_used)]

use steadfast_core::testing::{MemStorage, ScriptedTransport, drive, open_mem};
use steadfast_core::{Config, Delivery, Failure, FailureClass, Message, Outcome, SyncPolicy};

fn small_config() -> Config {
    Config {
        journal_id: 0xabc,
        segment_size: 16 << 10,
        budget: 1 << 20,
        max_entry: 1024,
        sync: SyncPolicy::Always,
        ..Config::default()
    }
}

/// A broker that rejects a record for good ("message too large") when
/// `reject` says so for its value, and confirms every other one.
fn broker_rejecting(mut reject: impl FnMut(&[u8]) -> bool + 'static) -> ScriptedTransport {
    ScriptedTransport::new(move |r| {
        if reject(r.message.value.unwrap_or_default()) {
            let failure = Failure::new(FailureClass::Terminal, 10, "message too large");
            (Outcome::Failed(failure), false)
        } else {
            (
                Outcome::Confirmed {
                    partition: 0,
                    offset: 1,
                },
                true,
            )
        }
    })
}

#[test]
fn every_message_is_delivered_and_the_journal_shrinks() {
    let (mut p, report) = open_mem(MemStorage::new(), small_config(), 0);
    assert!(report.created);
    let mut t = ScriptedTransport::accept_all();
    let mut now = 0;
    for i in 0..2000u32 {
        let value = i.to_le_bytes();
        let key = [(i % 7) as u8];
        p.send(now, Message::new("t", &value).with_key(&key)).unwrap();
        if i % 100 == 99 {
            now = drive(&mut p, &mut t, now, 50).1;
        }
    }
    let (_, _) = drive(&mut p, &mut t, now, 10_000);
    assert!(p.is_idle());
    let mut ids: Vec<u64> = t.delivered.iter().map(|d| d.id.seq).collect();
    ids.sort_unstable();
    ids.dedup();
    assert_eq!(ids.len(), 2000);
    assert_eq!(p.stats().pending, 0);
    assert!(p.stats().segments <= 2, "segments left: {}", p.stats().segments);
}

#[test]
fn a_restart_resends_only_what_was_not_confirmed() {
    let (mut p, _) = open_mem(MemStorage::new(), small_config(), 0);
    let mut t = ScriptedTransport::accept_all();
    for i in 0..50u32 {
        p.send(0, Message::new("t", &i.to_le_bytes())).unwrap();
    }
    let (_, now) = drive(&mut p, &mut t, 0, 1000);
    for i in 50..80u32 {
        p.send(now, Message::new("t", &i.to_le_bytes())).unwrap();
    }
    p.sync(now).unwrap();
    let storage = p.storage().crash(false);
    let (mut p2, report) = open_mem(storage, small_config(), now);
    assert!(report.is_clean(), "{report}");
    assert_eq!(report.pending, 30, "{report}");
    let mut t2 = ScriptedTransport::accept_all();
    drive(&mut p2, &mut t2, now, 1000);
    assert_eq!(t2.delivered.len(), 30);
}

#[test]
fn terminal_failures_are_dead_lettered_and_can_be_redriven() {
    let (mut p, _) = open_mem(MemStorage::new(), small_config(), 0);
    // Rejects the first "bad" only: its re-drive is accepted.
    let mut fail = true;
    let mut t = broker_rejecting(move |value| {
        let reject = value == b"bad" && fail;
        fail &= !reject;
        reject
    });
    p.send(0, Message::new("t", b"ok")).unwrap();
    p.send(0, Message::new("t", b"bad")).unwrap();
    let (deliveries, now) = drive(&mut p, &mut t, 0, 1000);
    assert!(deliveries.iter().any(
        |d| matches!(d, Delivery::DeadLettered { failure, .. } if failure.reason == "message too large")
    ));
    assert_eq!(p.stats().dead_letters, 1);
    let mut dl = None;
    p.for_each_entry(|e| {
        if let Some(d) = e.dead_letter() {
            dl = Some((e.seq, d.reason.to_string()));
        }
    })
    .unwrap();
    let (dl_seq, reason) = dl.unwrap();
    assert_eq!(reason, "message too large");
    let mut scratch = vec![0u8; 1024];
    p.redrive_dead_letter(now, dl_seq, &mut scratch).unwrap();
    drive(&mut p, &mut t, now, 1000);
    assert_eq!(p.stats().dead_letters, 0);
    assert_eq!(
        t.delivered
            .iter()
            .filter(|d| d.value.as_deref() == Some(b"bad"))
            .count(),
        1
    );
}

#[test]
fn a_resolved_dead_letter_cannot_be_resolved_again() {
    let (mut p, _) = open_mem(MemStorage::new(), small_config(), 0);
    let mut t = broker_rejecting(|value| value.starts_with(b"bad"));
    p.send(0, Message::new("t", b"bad-1")).unwrap();
    p.send(0, Message::new("t", b"bad-2")).unwrap();
    let (_, now) = drive(&mut p, &mut t, 0, 1000);
    let mut dls = Vec::new();
    p.for_each_entry(|e| {
        if e.dead_letter().is_some() {
            dls.push(e.seq);
        }
    })
    .unwrap();
    assert_eq!(dls.len(), 2, "both share a segment");
    p.discard_dead_letter(dls[0]).unwrap();
    assert_eq!(
        p.discard_dead_letter(dls[0]),
        Err(steadfast_core::JournalError::NoSuchDeadLetter)
    );
    let mut scratch = vec![0u8; 1024];
    assert!(p.redrive_dead_letter(now, dls[0], &mut scratch).is_err());
    assert_eq!(p.stats().dead_letters, 1);
}
