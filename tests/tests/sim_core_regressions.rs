//! Regression tests for the core bugs the simulator found, each cut down to
//! the few calls that showed it, on the simulator's disk. The seeds that
//! found them are in `sim_seeds.rs`'s `REGRESSIONS`.
#![allow(clippy::unwrap_used)]

use std::cell::RefCell;
use std::rc::Rc;

use steadfast_core::{
    Config, FailureClass, Millis, Outcome, OutgoingRecord, Producer, RecoveryReport, SendErrorKind,
    SyncPolicy,
};
use steadfast_sim::sim::disk::{Disk, SimStorage};
use steadfast_sim::sim::rng::Rng;

type P<const L: usize, const W: usize, const G: usize> = Producer<SimStorage, Vec<u8>, L, W, G>;

fn config(sync: SyncPolicy, segment_size: u64) -> Config {
    Config {
        journal_id: 0x5eed,
        segment_size,
        budget: 1 << 30,
        sync,
        max_entry: 256,
        max_batch_records: 64,
        confirm_interval: 0,
        meta_interval: 0,
        ..Config::default()
    }
}

fn open<const L: usize, const W: usize, const G: usize>(
    disk: &Rc<RefCell<Disk>>,
    config: Config,
) -> (P<L, W, G>, RecoveryReport) {
    let buf = vec![0u8; P::<L, W, G>::buffer_len(&config)];
    match P::<L, W, G>::open(Disk::handle(disk), buf, config, 0) {
        Ok(ok) => ok,
        Err(f) => panic!("open failed: {}", f.error),
    }
}

/// Sends every ready batch and confirms it (or fails it Retriable).
fn round<const L: usize, const W: usize, const G: usize>(
    p: &mut P<L, W, G>,
    now: Millis,
    accept: bool,
    sent: &mut Vec<u64>,
) {
    let mut out = vec![0u8; 1 << 16];
    let mut answers = Vec::new();
    while let Ok(Some(batch)) = p.poll_transmit(now, &mut out) {
        for r in batch.records(&out) {
            let r: OutgoingRecord<'_> = r.unwrap();
            sent.push(u64::from_le_bytes(
                r.message.value.unwrap()[..8].try_into().unwrap(),
            ));
            answers.push(r.seq);
        }
    }
    for seq in answers {
        let outcome = if accept {
            Outcome::Confirmed {
                partition: 0,
                offset: -1,
            }
        } else {
            Outcome::Failed(steadfast_core::Failure::new(FailureClass::Retriable, -1, "down"))
        };
        p.handle_outcome(now, seq, outcome);
    }
    while p.poll_delivery(now).is_some() {}
    let _ = p.handle_timeout(now);
}

fn value(uid: u64) -> [u8; 40] {
    let mut v = [7u8; 40];
    v[..8].copy_from_slice(&uid.to_le_bytes());
    v
}

/// A read error while a lane refilled its window from the journal made the
/// lane forget where its overflow started: those messages were never sent,
/// and once a later message was confirmed the watermark passed over them.
#[test]
fn a_read_error_while_refilling_a_lane_loses_nothing() {
    let disk = Disk::new(Rng::new(1));
    let (mut p, _) = open::<1, 2, 16>(&disk, config(SyncPolicy::Always, 4096));
    let mut sent = Vec::new();
    // Index the (empty) journal first, so new messages go straight to the
    // lane and its overflow is read back by the refill.
    round(&mut p, 0, true, &mut sent);
    for uid in 1..=5 {
        p.send(0, steadfast_core::Message::new("t", &value(uid))).unwrap();
    }
    p.sync(0).unwrap();
    round(&mut p, 1, true, &mut sent); // 1 and 2 fill the window
    disk.borrow_mut().faults.read_error = 1.0;
    round(&mut p, 2, true, &mut sent); // the refill fails
    disk.borrow_mut().faults.read_error = 0.0;
    p.send(3, steadfast_core::Message::new("t", &value(6))).unwrap();
    p.sync(3).unwrap();
    for now in 4..20 {
        round(&mut p, now, true, &mut sent);
    }
    sent.sort_unstable();
    sent.dedup();
    assert_eq!(sent, [1, 2, 3, 4, 5, 6]);
    assert_eq!(p.stats().pending, 0);
}

/// After a process crash, recovery read the last segment's unsynced tail
/// from the page cache and counted it as synced, but nothing ever synced
/// it: a later power loss tore it, and the next recovery reported damage
/// (and lost messages `SyncPolicy::Never` had kept across the crash).
#[test]
fn a_recovered_tail_is_made_durable_before_it_is_counted_synced() {
    let disk = Disk::new(Rng::new(2));
    let cfg = config(SyncPolicy::Never, 4096);
    let (mut p, _) = open::<2, 8, 16>(&disk, cfg);
    for uid in 1..=3 {
        p.send(0, steadfast_core::Message::new("t", &value(uid))).unwrap();
    }
    drop(p);
    disk.borrow_mut().process_crash();
    let (p, report) = open::<2, 8, 16>(&disk, cfg);
    assert_eq!(report.pending, 3);
    assert!(p.stats().synced_seq >= 4, "recovered entries count as synced");
    drop(p);
    disk.borrow_mut().power_loss(&mut Rng::new(3));
    let (_, report) = open::<2, 8, 16>(&disk, cfg);
    assert!(report.is_clean(), "{report}");
    assert_eq!(report.pending, 3, "{report}");
}

/// With every segment slot full of undelivered messages (the budget allowed
/// more bytes than the slots hold), `open` could not start a segment and
/// the producer could never start again; and confirmations could not be
/// journaled, so nothing was ever freed.
#[test]
fn a_journal_with_every_segment_slot_used_still_opens_and_drains() {
    let disk = Disk::new(Rng::new(4));
    let cfg = config(SyncPolicy::Always, 1024);
    let (mut p, _) = open::<1, 4, 6>(&disk, cfg);
    let mut uid = 0;
    let mut full = false;
    while !full && uid < 200 {
        uid += 1;
        match p.send(0, steadfast_core::Message::new("t", &value(uid))) {
            Ok(_) => p.sync(0).unwrap(),
            Err(e) => {
                assert!(matches!(e.kind, SendErrorKind::Full { .. }), "{}", e.kind);
                full = true;
            }
        }
    }
    assert!(full, "the slots never filled");
    let accepted = uid - 1;
    let mut sent = Vec::new();
    // The broker is away; the process crashes and restarts a few times.
    for _ in 0..4 {
        round(&mut p, 1, false, &mut sent);
        drop(p);
        disk.borrow_mut().process_crash();
        p = open::<1, 4, 6>(&disk, cfg).0;
    }
    for now in 2..400 {
        round(&mut p, now * 1_000, true, &mut sent);
    }
    sent.sort_unstable();
    sent.dedup();
    assert_eq!(sent.len() as u64, accepted);
    assert_eq!(p.stats().pending, 0);
    assert!(p.stats().segments <= 2, "segments left: {}", p.stats().segments);
    drop(p);
    let (_, report) = open::<1, 4, 6>(&disk, cfg);
    assert!(report.is_clean(), "{report}");
}

/// A deletion journals a `SegmentRemoved` entry per segment; when the
/// current segment filled up among them, the new segment's manifest still
/// listed the segments already journaled as removed, and once the segment
/// holding those entries was deleted too, every later recovery reported
/// them missing ("lost seqs 1..=N").
#[test]
fn a_segment_started_during_a_deletion_does_not_list_the_deleted() {
    for seed in 0..40u64 {
        let disk = Disk::new(Rng::new(seed));
        let cfg = config(SyncPolicy::Always, 900 + 8 * seed);
        let (mut p, _) = open::<2, 64, 64>(&disk, cfg);
        let mut sent = Vec::new();
        for batch in 0..6u64 {
            for uid in 0..40 {
                let v = value(batch * 100 + uid);
                p.send(0, steadfast_core::Message::new("t", &v).with_key(&v[..1]))
                    .unwrap();
            }
            p.sync(0).unwrap();
            for now in 0..4 {
                round(&mut p, batch * 10 + now, true, &mut sent);
            }
        }
        drop(p);
        disk.borrow_mut().process_crash();
        let (_, report) = open::<2, 64, 64>(&disk, cfg);
        assert!(report.is_clean(), "seed {seed}: {report}");
    }
}

/// Recovery counted the ids of every recovered entry as reserved without
/// writing that down, so sending them again wrote no meta slot. When the
/// segments holding them were later lost (delivered and deleted, then the
/// newer segment quarantined), a restart handed a delivered id out again:
/// a consumer de-duplicating by id would drop the new message.
#[test]
fn recovered_ids_are_reserved_durably_before_they_leave_again() {
    use steadfast_sim::sim::actions::{Action::*, run_actions};
    let actions = [
        Outage(1),
        Send(1),
        Heal,
        Corrupt,
        Advance(38),
        CrashMidCall {
            after: 1,
            power: false,
        },
        Send(1),
        Advance(331),
        Corrupt,
        Advance(49),
        Send(2),
    ];
    let report = run_actions(977582, &actions, None);
    assert!(report.ok(), "{:?}", report.violations);
}

/// `SyncPolicy::Interval(d)` promises a sync `d` after a send; when
/// journaling confirmations failed first (ENOSPC), `handle_timeout` returned
/// before its sync, for as long as the disk stayed full.
#[test]
fn a_failing_confirmation_does_not_skip_the_interval_sync() {
    let disk = Disk::new(Rng::new(5));
    let cfg = config(SyncPolicy::Interval(50), 4096);
    let (mut p, _) = open::<2, 8, 16>(&disk, cfg);
    let mut sent = Vec::new();
    p.send(0, steadfast_core::Message::new("t", &value(1))).unwrap();
    let mut out = vec![0u8; 1 << 16];
    let mut seqs = Vec::new();
    while let Ok(Some(batch)) = p.poll_transmit(1, &mut out) {
        seqs.extend(batch.seqs());
    }
    for seq in seqs {
        let ok = Outcome::Confirmed {
            partition: 0,
            offset: -1,
        };
        p.handle_outcome(1, seq, ok);
    }
    while p.poll_delivery(1).is_some() {}
    // A confirmation is waiting to be journaled; a second message waits
    // for its interval sync; the disk fills up.
    let seq = p.send(2, steadfast_core::Message::new("t", &value(2))).unwrap();
    disk.borrow_mut().faults.full = true;
    assert!(
        p.handle_timeout(100).is_err(),
        "the confirmation cannot be journaled"
    );
    assert!(p.is_synced(seq), "the interval sync was skipped");
    drop(p);
    disk.borrow_mut().faults.full = false;
    disk.borrow_mut().power_loss(&mut Rng::new(6));
    let (mut p, report) = open::<2, 8, 16>(&disk, cfg);
    assert!(report.pending >= 1, "{report}");
    for now in 200..210 {
        round(&mut p, now, true, &mut sent);
    }
    assert!(sent.contains(&2), "message 2 was lost: {sent:?}");
}
