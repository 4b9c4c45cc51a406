//! Recovery of journals that are garbage, empty, from a newer version, or
//! damaged: a clear report or error, never a panic.
#![allow(clippy::unwrap_used)]

use steadfast_core::journal::format::MetaSlot;
use steadfast_core::testing::ScriptedTransport;
use steadfast_core::testing::{MemStorage, TestProducer, open_mem};
use steadfast_core::{Config, Damage, Message, OpenError, RecoverError, SeqRange, SyncPolicy};

fn config() -> Config {
    Config {
        journal_id: 9,
        segment_size: 4096,
        max_entry: 1024,
        sync: SyncPolicy::Always,
        ..Config::default()
    }
}

fn open_err(storage: MemStorage, config: Config) -> OpenError<steadfast_core::testing::MemError> {
    let buf = vec![0u8; TestProducer::buffer_len(&config)];
    match TestProducer::open(storage, buf, config, 0) {
        Ok(_) => panic!("open should fail"),
        Err(f) => f.error,
    }
}

fn with_messages(n: u32) -> MemStorage {
    let (mut p, _) = open_mem(MemStorage::new(), config(), 0);
    for i in 0..n {
        p.send(0, Message::new("t", &[i as u8; 100])).unwrap();
    }
    p.sync(0).unwrap();
    p.handle_timeout(5_000).unwrap();
    p.storage().crash(false)
}

#[test]
fn garbage_segments_are_quarantined_and_reported() {
    let mut s = MemStorage::new();
    s.put_segment(1, (0..5000u32).map(|i| (i * 7919 % 251) as u8).collect());
    let (_, report) = open_mem(s, config(), 0);
    assert!(
        matches!(report.damage[..], [Damage::BadSegmentHeader { segment: 1, .. }]),
        "{report}"
    );
    assert_eq!(report.quarantined, 1);
    assert!(report.to_string().contains("quarantined"));
}

#[test]
fn an_empty_or_zero_length_journal_starts_fresh() {
    let (_, report) = open_mem(MemStorage::new(), config(), 0);
    assert!(report.created && report.is_clean());
    let mut s = MemStorage::new();
    s.put_segment(1, Vec::new());
    let (_, report) = open_mem(s, config(), 0);
    assert!(report.is_clean(), "{report}");
}

#[test]
fn an_all_zero_last_segment_is_removed_but_zeros_before_data_are_damage() {
    // A file grown ahead of its appends (the std runner maps segments and
    // grows them in 1 MiB steps) whose bytes never reached the disk.
    let mut s = with_messages(30);
    let last = *s.segment_ids().last().unwrap();
    s.put_segment(last + 1, vec![0u8; 100_000]);
    let strict = Config {
        recovery: steadfast_core::RecoveryMode::Strict,
        ..config()
    };
    let (_, report) = open_mem(s.clone(), strict, 0);
    assert!(report.is_clean() && report.quarantined == 0, "{report}");
    assert_eq!(report.pending, 30, "{report}");
    // Something after the zeros: not blank, so a bad header.
    s.segment_bytes(last + 1).unwrap()[70_000] = 1;
    let (_, report) = open_mem(s, config(), 0);
    assert!(
        matches!(report.damage[..], [Damage::BadSegmentHeader { segment, lost: None }] if segment == last + 1),
        "{report}"
    );
}

#[test]
fn zeros_after_the_last_entry_are_cut_as_a_torn_tail() {
    for torn_frame in [false, true] {
        let mut s = with_messages(30);
        let last = *s.segment_ids().last().unwrap();
        let bytes = s.segment_bytes(last).unwrap();
        let end = bytes.len() as u64;
        if torn_frame {
            // A process killed while copying a frame: its start, then zeros.
            bytes.extend_from_slice(&[100, 0, 0, 0, 1, 0, 0, 0, 31]);
        }
        bytes.resize(bytes.len() + 100_000, 0);
        let len = bytes.len() as u64;
        let (_, report) = open_mem(s, config(), 0);
        assert!(report.is_clean(), "{report}");
        let torn = report.torn_tail.unwrap();
        assert_eq!((torn.segment, torn.offset, torn.cut), (last, end, len - end));
        // Only zeros: reserved space, reported as such; a partial frame is a torn write.
        assert_eq!(torn.zeros, !torn_frame, "{report}");
        let said = report.to_string();
        assert_eq!(said.contains("unused reserved space cut"), !torn_frame, "{said}");
        assert_eq!(said.contains("torn tail cut"), torn_frame, "{said}");
        assert_eq!(report.pending, 30, "{report}");
    }
}

#[test]
fn a_journal_from_a_newer_version_is_refused_with_a_clear_error() {
    let mut s = with_messages(3);
    let bytes = s.segment_bytes(s.segment_ids()[0]).unwrap();
    bytes[8] = 99; // version
    let crc = crc::Crc::<u32>::new(&crc::CRC_32_ISCSI).checksum(&bytes[..60]);
    bytes[60..64].copy_from_slice(&crc.to_le_bytes());
    let err = open_err(s, config());
    assert!(matches!(
        err,
        OpenError::Recover(RecoverError::NewerVersion { found: 99, .. })
    ));
    assert!(err.to_string().contains("upgrade steadfast"), "{err}");
}

#[test]
fn a_segment_from_another_journal_is_quarantined() {
    let mut s = with_messages(3);
    let (other, _) = open_mem(
        MemStorage::new(),
        Config {
            journal_id: 77,
            ..config()
        },
        0,
    );
    let mut other = other.storage().clone();
    let foreign = other.segment_bytes(1).unwrap().clone();
    s.put_segment(50, {
        let mut b = foreign;
        b[24..32].copy_from_slice(&50u64.to_le_bytes());
        let crc = crc::Crc::<u32>::new(&crc::CRC_32_ISCSI).checksum(&b[..60]);
        b[60..64].copy_from_slice(&crc.to_le_bytes());
        b
    });
    let (_, report) = open_mem(s, config(), 0);
    assert!(
        report.damage.iter().any(|d| matches!(
            d,
            Damage::ForeignSegment {
                segment: 50,
                journal: 77,
                lost: None
            }
        )),
        "{report}"
    );
}

#[test]
fn a_missing_segment_is_reported_with_what_it_held() {
    let mut s = with_messages(100);
    let ids = s.segment_ids();
    assert!(ids.len() >= 3, "{ids:?}");
    s.delete_segment(ids[1]);
    let (_, report) = open_mem(s, config(), 0);
    assert!(
        report
            .damage
            .iter()
            .any(|d| matches!(d, Damage::MissingSegment { segment, lost: Some(_) } if *segment == ids[1])),
        "{report}"
    );
}

#[test]
fn corruption_mid_segment_keeps_the_entries_after_it() {
    let mut s = with_messages(100);
    let first = s.segment_ids()[0];
    let bytes = s.segment_bytes(first).unwrap();
    bytes[300] ^= 0xff;
    let (_, report) = open_mem(s, config(), 0);
    let lost = report.damage.iter().find_map(|d| match d {
        Damage::CorruptRegion { lost, .. } => Some(*lost),
        _ => None,
    });
    let lost = lost.flatten().unwrap_or_else(|| panic!("{report}"));
    assert_eq!(lost.first, lost.last, "exactly one entry lost: {report}");
    assert_eq!(report.pending, 99, "{report}");
}

#[test]
fn strict_mode_refuses_a_damaged_journal_and_changes_nothing() {
    let mut s = with_messages(10);
    let first = s.segment_ids()[0];
    s.segment_bytes(first).unwrap()[200] ^= 1;
    let before = s.clone();
    let err = open_err(
        s,
        Config {
            recovery: steadfast_core::RecoveryMode::Strict,
            ..config()
        },
    );
    assert!(
        matches!(err, OpenError::Recover(RecoverError::Damaged(_))),
        "{err}"
    );
    let _ = before;
}

#[test]
fn a_restart_never_reuses_an_id_that_left_the_machine() {
    let (mut p, _) = open_mem(MemStorage::new(), config(), 0);
    let a = p.send(0, Message::new("t", b"a")).unwrap();
    let mut out = vec![0u8; 4096];
    let batch = p.poll_transmit(0, &mut out).unwrap().unwrap();
    assert_eq!(batch.len(), 1);
    // Power loss before the entry was synced: the journal loses it, but the
    // broker may have it.
    let crashed = p.storage().crash(false);
    let (mut p2, _) = open_mem(crashed, config(), 0);
    let b = p2.send(0, Message::new("t", b"b")).unwrap();
    assert!(b > a, "id {a} could be reused as {b}");
}

/// The high-water mark the meta slots hold.
fn durable_seq(s: &mut MemStorage) -> u64 {
    (0..2)
        .filter_map(|i| s.meta_slot(i).and_then(|b| MetaSlot::decode(&b).ok()))
        .max_by_key(|m| m.generation)
        .map(|m| m.durable_seq)
        .unwrap()
}

#[test]
fn losing_every_segment_is_reported_against_the_high_water_mark() {
    // One segment emptied, one segment deleted, several deleted.
    for (n, how) in [(20, "truncate"), (20, "delete"), (100, "delete")] {
        let mut s = with_messages(n);
        let hwm = durable_seq(&mut s);
        assert!(hwm >= u64::from(n), "{hwm}");
        let ids = s.segment_ids();
        assert_eq!(ids.len() == 1, n == 20, "{ids:?}");
        for id in ids {
            match how {
                "truncate" => s.segment_bytes(id).unwrap().clear(),
                _ => s.delete_segment(id),
            }
        }
        let (_, report) = open_mem(s, config(), 0);
        assert!(report.lost_entries(), "{how} {n}: {report}");
        assert!(
            report.damage.iter().any(|d| matches!(
                d,
                Damage::SegmentsGone { lost, .. } if *lost == SeqRange { first: 1, last: hwm }
            )),
            "{how} {n}: {report}"
        );
        assert!(!report.created, "{report}");
        assert!(report.to_string().contains("no segment is left"), "{report}");
    }
}

#[test]
fn segments_deleted_after_delivery_are_not_a_loss() {
    let (mut p, _) = open_mem(MemStorage::new(), config(), 0);
    for i in 0..100u32 {
        p.send(0, Message::new("t", &[i as u8; 100])).unwrap();
    }
    p.sync(0).unwrap();
    let mut t = ScriptedTransport::accept_all();
    steadfast_core::testing::drive(&mut p, &mut t, 0, 2_000);
    assert_eq!(p.stats().pending, 0);
    let s = p.storage().crash(false);
    assert!(s.segment_ids().len() < 3, "{:?}", s.segment_ids());
    let (_, report) = open_mem(s, config(), 0);
    assert!(report.is_clean() && !report.lost_entries(), "{report}");
    assert_eq!(report.pending, 0);
}

#[test]
fn a_flipped_header_byte_keeps_every_chained_frame() {
    let base = with_messages(100);
    let ids = base.segment_ids();
    assert!(ids.len() >= 3, "{ids:?}");
    let (_, clean) = open_mem(base.clone(), config(), 0);
    assert_eq!(clean.pending, 100);
    // The first, a middle and the last segment; every header byte.
    for &id in &[ids[0], ids[1], *ids.last().unwrap()] {
        for at in 0..64 {
            let mut s = base.clone();
            s.segment_bytes(id).unwrap()[at] ^= 0x10;
            let (_, report) = open_mem(s, config(), 0);
            assert!(
                matches!(report.damage[..], [Damage::HeaderSalvaged { segment }] if segment == id),
                "segment {id} byte {at}: {report}"
            );
            assert!(!report.lost_entries(), "segment {id} byte {at}: {report}");
            assert_eq!(report.pending, 100, "segment {id} byte {at}: {report}");
            assert_eq!(report.quarantined, 0, "segment {id} byte {at}: {report}");
        }
    }
}

#[test]
fn a_damaged_header_and_first_frame_keep_the_frames_after_them() {
    let mut s = with_messages(100);
    let ids = s.segment_ids();
    let bytes = s.segment_bytes(ids[1]).unwrap();
    bytes[0] ^= 1; // header
    bytes[64 + 8] ^= 1; // the first frame (the segment's manifest)
    let (_, report) = open_mem(s, config(), 0);
    assert!(
        matches!(report.damage[..], [
            Damage::HeaderSalvaged { segment },
            Damage::CorruptRegion { segment: c, offset: 64, lost: Some(l), .. },
        ] if segment == ids[1] && c == ids[1] && l.first == l.last),
        "{report}"
    );
    assert_eq!(report.pending, 100, "only the manifest was lost: {report}");
}

#[test]
fn a_damaged_header_with_nothing_behind_it_reports_what_it_held() {
    let mut s = with_messages(100);
    let ids = s.segment_ids();
    let bytes = s.segment_bytes(ids[1]).unwrap();
    bytes[0] ^= 1; // header
    for b in &mut bytes[64..] {
        *b ^= 0x5a; // every frame
    }
    let (_, report) = open_mem(s, config(), 0);
    let lost = report.damage.iter().find_map(|d| match d {
        Damage::BadSegmentHeader { segment, lost } if *segment == ids[1] => Some(*lost),
        _ => None,
    });
    let lost = lost.flatten().unwrap_or_else(|| panic!("{report}"));
    assert!(report.lost_entries());
    assert_eq!(report.quarantined, 1);
    // Exactly the segment's entries: its manifest and its messages.
    let kept = 100 - report.pending;
    assert_eq!(lost.last - lost.first + 1, kept + 1, "{report}");
}

#[test]
fn meta_slots_of_another_journal_do_not_outvote_the_segments() {
    let mut s = with_messages(100);
    let mut other = with_messages_in(77, 5);
    for slot in 0..2 {
        *s.meta_slot(slot) = *other.meta_slot(slot);
    }
    let (mut p, report) = open_mem(s, config(), 0);
    assert_eq!(report.journal, 9, "{report}");
    assert_eq!(report.quarantined, 0, "{report}");
    assert_eq!(report.pending, 100, "{report}");
    assert!(
        report
            .damage
            .iter()
            .any(|d| matches!(d, Damage::MetaMismatch { meta: 77, journal: 9 })),
        "{report}"
    );
    assert!(!report.lost_entries(), "{report}");
    // The next meta write names the right journal again.
    p.send(0, Message::new("t", b"after")).unwrap();
    p.sync(0).unwrap();
    p.handle_timeout(10_000).unwrap();
    let (_, again) = open_mem(p.storage().crash(false), config(), 0);
    assert!(again.is_clean(), "{again}");
    assert_eq!(again.pending, 101, "{again}");
}

#[test]
fn one_damaged_meta_slot_is_reported() {
    // Two meta writes: both slots hold a high-water mark.
    let (mut p, _) = open_mem(MemStorage::new(), config(), 0);
    for (i, now) in [(0u8, 0), (1, 5_000)] {
        p.send(now, Message::new("t", &[i; 100])).unwrap();
        p.sync(now).unwrap();
        p.handle_timeout(now + 4_000).unwrap();
    }
    let mut base = p.storage().crash(false);
    assert!(base.meta_slot(0).is_some() && base.meta_slot(1).is_some());
    for slot in 0..2 {
        let mut s = base.clone();
        let bytes = s.meta_slot(slot).as_mut().unwrap();
        bytes[33] ^= 4;
        let (_, report) = open_mem(s.clone(), config(), 0);
        assert!(
            matches!(report.damage[..], [Damage::MetaSlotDamaged { slot: x }] if usize::from(x) == slot),
            "{report}"
        );
        assert!(!report.lost_entries(), "{report}");
        assert_eq!(report.pending, 2);
        assert!(
            report.to_string().contains(&format!("meta-{slot} is damaged")),
            "{report}"
        );
    }
}

#[test]
fn recovery_never_panics_on_random_header_and_meta_bytes() {
    let base = with_messages(100);
    let mut x = 0x9e37_79b9_7f4a_7c15u64;
    let mut next = || {
        x ^= x << 13;
        x ^= x >> 7;
        x ^= x << 17;
        x
    };
    for _ in 0..300 {
        let mut s = base.clone();
        let ids = s.segment_ids();
        for _ in 0..(next() % 6 + 1) {
            let id = ids[(next() % ids.len() as u64) as usize];
            let bytes = s.segment_bytes(id).unwrap();
            let at = (next() % 200) as usize % bytes.len();
            bytes[at] = next() as u8;
        }
        if next() % 3 == 0 {
            let slot = (next() % 2) as usize;
            if let Some(b) = s.meta_slot(slot).as_mut() {
                b[(next() % 64) as usize] = next() as u8;
            }
        }
        let buf = vec![0u8; TestProducer::buffer_len(&config())];
        let _ = TestProducer::open(s, buf, config(), 0);
    }
}

fn with_messages_in(journal_id: u64, n: u32) -> MemStorage {
    let config = Config {
        journal_id,
        ..config()
    };
    let (mut p, _) = open_mem(MemStorage::new(), config, 0);
    for i in 0..n {
        p.send(0, Message::new("t", &[i as u8; 100])).unwrap();
    }
    p.sync(0).unwrap();
    p.handle_timeout(5_000).unwrap();
    p.storage().crash(false)
}

#[test]
fn a_damaged_header_with_no_other_source_of_the_journal_id_is_set_aside_as_loss() {
    // Messages synced, but no meta slot written yet and one segment: the
    // damaged header's own id field is all that names the journal.
    let (mut p, _) = open_mem(MemStorage::new(), config(), 0);
    for i in 0..5u8 {
        p.send(0, Message::new("t", &[i; 10])).unwrap();
    }
    p.sync(0).unwrap();
    let mut s = p.storage().crash(false);
    *s.meta_slot(0) = None;
    *s.meta_slot(1) = None;
    s.segment_bytes(1).unwrap()[20] ^= 1; // the journal id
    let (_, report) = open_mem(s, config(), 0);
    let lost = report.damage.iter().find_map(|d| match d {
        Damage::BadSegmentHeader { segment: 1, lost } => Some(*lost),
        _ => None,
    });
    let lost = lost.flatten().unwrap_or_else(|| panic!("{report}"));
    // The manifest and the five messages.
    assert_eq!(lost, SeqRange { first: 1, last: 6 }, "{report}");
    assert!(report.lost_entries(), "{report}");
}

/// The frames of segment `bytes`, from offset 64 up to the first that is
/// not whole: (seq, offset, length with padding).
fn frames(bytes: &[u8]) -> Vec<(u64, usize, usize)> {
    let mut out = Vec::new();
    let mut at = 64;
    while at + 24 <= bytes.len() {
        let len = u32::from_le_bytes(bytes[at..at + 4].try_into().unwrap()) as usize;
        let total = (24 + len).div_ceil(8) * 8;
        if len == 0 || at + total > bytes.len() {
            break;
        }
        let seq = u64::from_le_bytes(bytes[at + 8..at + 16].try_into().unwrap());
        out.push((seq, at, total));
        at += total;
    }
    out
}

/// Valid frames that recovery does not take into the log (here intact,
/// stale copies of earlier entries behind the last one, one of them of an
/// entry that is damaged where it belongs) are not part of the journal for
/// any later reader: the damaged entry is reported lost and its stale copy
/// is neither counted pending nor sent; exactly the pending records go out.
#[test]
fn stale_copies_recovery_rejected_are_neither_counted_nor_sent() {
    let (mut p, _) = open_mem(MemStorage::new(), config(), 0);
    p.send(0, Message::new("t", &[0; 100])).unwrap();
    // On a lane of its own: nothing else of its lane is indexed before its
    // stale copy is read.
    let lost = p.send(0, Message::new("u", &[1; 100]).with_partition(1)).unwrap();
    for i in 0..10u8 {
        p.send(0, Message::new("t", &[i; 100])).unwrap();
    }
    p.sync(0).unwrap();
    p.handle_timeout(5_000).unwrap();
    let mut s = p.storage().crash(false);
    let id = s.segment_ids()[0];
    let bytes = s.segment_bytes(id).unwrap();
    let all = frames(bytes);
    let (_, from, _) = *all.iter().find(|f| f.0 == lost - 1).unwrap();
    let (_, at, len) = *all.iter().find(|f| f.0 == lost).unwrap();
    let copies = bytes[from..at + len].to_vec();
    bytes[at + 30] ^= 0xff;
    bytes.extend_from_slice(&copies);

    let (mut p, report) = open_mem(s, config(), 0);
    assert!(
        report.damage.iter().any(|d| matches!(
            d,
            Damage::CorruptRegion { lost: Some(r), .. } if *r == SeqRange { first: lost, last: lost }
        )),
        "{report}"
    );
    assert_eq!(report.pending, 11, "{report}");
    let mut t = ScriptedTransport::accept_all();
    let (deliveries, _) = steadfast_core::testing::drive(&mut p, &mut t, 0, 2_000);
    let seqs: Vec<u64> = deliveries
        .iter()
        .map(|d| match d {
            steadfast_core::Delivery::Confirmed { id, .. }
            | steadfast_core::Delivery::DeadLettered { id, .. } => id.seq,
        })
        .collect();
    assert!(
        !seqs.contains(&lost),
        "seq {lost} was reported lost and sent: {seqs:?}"
    );
    assert_eq!(seqs.len() as u64, report.pending, "{seqs:?}; {report}");
}

/// The meta slots' lane count is checked like a segment header's: a
/// journal of 8 lanes whose segments are all garbage is refused by a
/// producer of 4 on the first open, with nothing set aside or written,
/// rather than started with a new segment of 8 lanes no later open takes.
#[test]
fn a_meta_slot_of_another_lane_count_is_refused_on_the_first_open() {
    let mut s = with_messages(5);
    for slot in 0..2 {
        if let Some(bytes) = s.meta_slot(slot).as_mut() {
            let mut meta = MetaSlot::decode(bytes).unwrap();
            meta.lanes = 8;
            *bytes = meta.encode();
        }
    }
    // Nothing in the segments to salvage or to check the lanes against.
    for id in s.segment_ids() {
        for b in s.segment_bytes(id).unwrap().iter_mut() {
            *b ^= 0x5a;
        }
    }
    let ids = s.segment_ids();
    let buf = vec![0u8; TestProducer::buffer_len(&config())];
    let Err(failed) = TestProducer::open(s, buf, config(), 0) else {
        panic!("a journal of 8 lanes opened with 4");
    };
    assert!(
        matches!(
            failed.error,
            OpenError::Recover(RecoverError::LanesMismatch {
                journal: 8,
                configured: 4
            })
        ),
        "{}",
        failed.error
    );
    assert_eq!(failed.storage.segment_ids(), ids, "nothing set aside or started");
}
