//! Recovery of journals that are garbage, empty, from a newer version, or
//! damaged: a clear report or error, never a panic.
#![allow(clippy::unwrap_used)]

use steadfast_core::testing::{MemStorage, TestProducer, open_mem};
use steadfast_core::{Config, Damage, Message, OpenError, RecoverError, SyncPolicy};

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
        matches!(report.damage[..], [Damage::BadSegmentHeader { segment: 1 }]),
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
        matches!(report.damage[..], [Damage::BadSegmentHeader { segment }] if segment == last + 1),
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
                journal: 77
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
