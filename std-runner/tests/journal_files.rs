//! The file journal on real files: damage found at start-up (a flipped
//! byte, a torn tail, a cut at an entry boundary, stray files, a missing
//! segment), the exclusive lock, file permissions and bad paths.
#![allow(clippy::unwrap_used)]

mod common;

use std::collections::BTreeMap;
use std::path::Path;
use std::time::Duration;

use steadfast::core::{Damage, SeqRange};
use steadfast::storage::OpenStorageError;
use steadfast::transport::{HoldTransport, read_delivered};
use steadfast::{Config, FileStorage, FileTransport, OpenError, OwnedMessage, Producer};

fn config() -> Config {
    Config {
        max_entry: 4096,
        segment_size: 32 << 10,
        ..Config::default()
    }
}

/// Writes 300 unconfirmed messages (several segments); returns seq → value.
fn build_journal(journal: &Path) -> BTreeMap<u64, String> {
    let p = Producer::builder(journal)
        .config(config())
        .spawn(HoldTransport::default())
        .unwrap();
    let mut sent = BTreeMap::new();
    for i in 0..300 {
        let value = format!("m{i:04}-{}", "x".repeat(300));
        let id = p.send(OwnedMessage::new("t", value.clone())).unwrap();
        sent.insert(id.seq, value);
    }
    assert_eq!(p.close(Duration::ZERO).unwrap().pending, 300);
    assert!(common::segments(journal).len() >= 4);
    sent
}

/// Reopens the journal, delivers everything, returns the report and the
/// seqs delivered.
fn reopen_and_deliver(journal: &Path, out: &Path) -> (steadfast::RecoveryReport, Vec<u64>) {
    let p = Producer::builder(journal)
        .config(config())
        .spawn(FileTransport::open(out).unwrap())
        .unwrap();
    let report = p.recovery_report().clone();
    p.flush_timeout(Duration::from_secs(20)).unwrap();
    p.close(Duration::from_secs(1)).unwrap();
    let mut seqs: Vec<u64> = read_delivered(out)
        .unwrap()
        .records
        .iter()
        .map(|r| r.seq)
        .collect();
    seqs.sort_unstable();
    seqs.dedup();
    (report, seqs)
}

fn lost_ranges(report: &steadfast::RecoveryReport) -> Vec<SeqRange> {
    report
        .damage
        .iter()
        .filter_map(|d| match *d {
            Damage::CorruptRegion { lost, .. }
            | Damage::BrokenChain { lost, .. }
            | Damage::MissingSegment { lost, .. } => lost,
            Damage::Truncated { lost } => Some(lost),
            _ => None,
        })
        .collect()
}

/// Every sent message is delivered unless the report names it as lost.
fn check_accounting(sent: &BTreeMap<u64, String>, delivered: &[u64], lost: &[SeqRange]) {
    let is_lost = |seq: u64| lost.iter().any(|r| r.first <= seq && seq <= r.last);
    for seq in sent.keys() {
        assert!(
            delivered.contains(seq) || is_lost(*seq),
            "seq {seq} neither delivered nor reported lost ({lost:?})"
        );
    }
    assert!(
        delivered.iter().all(|s| sent.contains_key(s)),
        "delivered something never sent"
    );
}

#[test]
fn a_flipped_byte_mid_segment_is_skipped_and_reported() {
    let dir = common::tempdir();
    let journal = dir.path().join("journal");
    let sent = build_journal(&journal);
    let segments = common::segments(&journal);
    let (&id, path) = segments.iter().nth(1).unwrap();
    let frames = common::frame_offsets(path);
    let victim = frames[frames.len() / 2];
    let mut bytes = std::fs::read(path).unwrap();
    bytes[victim as usize + 40] ^= 0x5a;
    std::fs::write(path, &bytes).unwrap();

    let out = dir.path().join("out.jsonl");
    let (report, delivered) = reopen_and_deliver(&journal, &out);
    assert!(
        report.damage.iter().any(|d| matches!(
            d,
            Damage::CorruptRegion { segment, offset, lost: Some(_), .. }
                if *segment == id && *offset == victim
        )),
        "{report}"
    );
    let lost = lost_ranges(&report);
    assert_eq!(
        lost.iter().map(|r| r.last - r.first + 1).sum::<u64>(),
        1,
        "{report}"
    );
    assert_eq!(delivered.len(), sent.len() - 1);
    check_accounting(&sent, &delivered, &lost);
}

#[test]
fn a_torn_tail_is_cut_and_the_synced_loss_reported() {
    let dir = common::tempdir();
    let journal = dir.path().join("journal");
    let sent = build_journal(&journal);
    let segments = common::segments(&journal);
    let (&id, path) = segments.iter().next_back().unwrap();
    let frames = common::frame_offsets(path);
    let cut_at = frames[frames.len() - 3];
    let len = std::fs::metadata(path).unwrap().len();
    std::fs::OpenOptions::new()
        .write(true)
        .open(path)
        .unwrap()
        .set_len(cut_at + 13)
        .unwrap();

    let out = dir.path().join("out.jsonl");
    let (report, delivered) = reopen_and_deliver(&journal, &out);
    let torn = report.torn_tail.unwrap();
    assert_eq!(
        (torn.segment, torn.offset, torn.cut),
        (id, cut_at, 13),
        "{report}"
    );
    assert!(len > cut_at);
    let lost = lost_ranges(&report);
    assert!(
        report
            .damage
            .iter()
            .any(|d| matches!(d, Damage::Truncated { .. })),
        "synced entries were cut, so the high-water mark must catch it: {report}"
    );
    check_accounting(&sent, &delivered, &lost);
    assert!(delivered.len() >= sent.len() - 3);
}

#[test]
fn a_cut_at_an_entry_boundary_is_caught_by_the_high_water_mark() {
    let dir = common::tempdir();
    let journal = dir.path().join("journal");
    let sent = build_journal(&journal);
    let segments = common::segments(&journal);
    let path = segments.values().next_back().unwrap();
    let frames = common::frame_offsets(path);
    let cut_at = frames[frames.len() - 2];
    std::fs::OpenOptions::new()
        .write(true)
        .open(path)
        .unwrap()
        .set_len(cut_at)
        .unwrap();

    let out = dir.path().join("out.jsonl");
    let (report, delivered) = reopen_and_deliver(&journal, &out);
    assert!(report.torn_tail.is_none(), "{report}");
    assert!(
        report
            .damage
            .iter()
            .any(|d| matches!(d, Damage::Truncated { lost } if lost.first <= lost.last)),
        "{report}"
    );
    check_accounting(&sent, &delivered, &lost_ranges(&report));
}

#[test]
fn stray_files_are_ignored_and_a_bogus_segment_is_quarantined() {
    let dir = common::tempdir();
    let journal = dir.path().join("journal");
    let sent = build_journal(&journal);
    std::fs::write(journal.join("notes.txt"), "not a segment").unwrap();
    std::fs::create_dir(journal.join("backup")).unwrap();
    std::fs::write(journal.join("00000000000000000099.seg"), vec![7u8; 500]).unwrap();

    let out = dir.path().join("out.jsonl");
    let p = Producer::builder(&journal)
        .config(config())
        .spawn(FileTransport::open(&out).unwrap())
        .unwrap();
    let report = p.recovery_report().clone();
    let strays = p.stray_files().unwrap();
    p.flush_timeout(Duration::from_secs(20)).unwrap();
    p.close(Duration::from_secs(1)).unwrap();
    assert_eq!(report.quarantined, 1, "{report}");
    assert!(
        report.damage.iter().any(|d| matches!(
            d,
            Damage::BadSegmentHeader {
                segment: 99,
                lost: None
            }
        )),
        "{report}"
    );
    let names: Vec<_> = strays
        .iter()
        .map(|p| p.file_name().unwrap().to_str().unwrap().to_string())
        .collect();
    assert_eq!(names, ["backup", "notes.txt"]);
    assert!(journal.join("quarantine/00000000000000000099.seg").exists());
    let delivered = read_delivered(&out).unwrap().records.len();
    assert_eq!(delivered, sent.len());
}

#[test]
fn a_missing_segment_is_reported_with_what_it_held() {
    let dir = common::tempdir();
    let journal = dir.path().join("journal");
    let sent = build_journal(&journal);
    let segments = common::segments(&journal);
    let (&id, path) = segments.iter().nth(1).unwrap();
    std::fs::remove_file(path).unwrap();

    let out = dir.path().join("out.jsonl");
    let (report, delivered) = reopen_and_deliver(&journal, &out);
    assert!(
        report.damage.iter().any(|d| matches!(
            d,
            Damage::MissingSegment { segment, lost: Some(_) } if *segment == id
        )),
        "{report}"
    );
    let lost = lost_ranges(&report);
    check_accounting(&sent, &delivered, &lost);
    assert!(delivered.len() < sent.len());
}

#[test]
fn strict_mode_refuses_a_damaged_journal_and_changes_nothing() {
    let dir = common::tempdir();
    let journal = dir.path().join("journal");
    build_journal(&journal);
    let segments = common::segments(&journal);
    let path = segments.values().nth(1).unwrap();
    std::fs::remove_file(path).unwrap();
    let before = common::segments(&journal);
    let failed = Producer::builder(&journal)
        .config(config())
        .recovery(steadfast::RecoveryMode::Strict)
        .spawn(HoldTransport::default())
        .unwrap_err();
    let report = failed.error.damage_report().unwrap();
    assert!(!report.is_clean());
    assert!(failed.to_string().contains("strict mode"), "{failed}");
    assert_eq!(common::segments(&journal), before);
}

#[test]
fn a_second_opener_is_told_which_pid_holds_the_journal() {
    let dir = common::tempdir();
    let journal = dir.path().join("journal");
    let _held = FileStorage::open(&journal).unwrap();
    let err = FileStorage::open(&journal).unwrap_err();
    let pid = std::process::id();
    assert!(
        matches!(err, OpenStorageError::Locked { pid: Some(p), .. } if p == pid),
        "{err:?}"
    );
    assert!(
        err.to_string().contains(&format!("journal in use by pid {pid}")),
        "{err}"
    );
    let failed = Producer::builder(&journal)
        .spawn(HoldTransport::default())
        .unwrap_err();
    assert!(matches!(
        failed.error,
        OpenError::Storage(OpenStorageError::Locked { .. })
    ));
    // The transport is handed back.
    let _transport: Box<dyn steadfast::core::Transport + Send> = failed.into_transport();
}

#[cfg(unix)]
#[test]
fn journal_files_are_private() {
    use std::os::unix::fs::PermissionsExt;
    let dir = common::tempdir();
    let journal = dir.path().join("journal");
    build_journal(&journal);
    // Damage one segment so that recovery quarantines it.
    std::fs::write(journal.join("00000000000000000099.seg"), b"junk").unwrap();
    let p = Producer::builder(&journal)
        .config(config())
        .spawn(HoldTransport::default())
        .unwrap();
    p.close(Duration::ZERO).unwrap();
    let mode = |p: &Path| std::fs::metadata(p).unwrap().permissions().mode() & 0o777;
    assert_eq!(mode(&journal), 0o700);
    assert_eq!(mode(&journal.join("quarantine")), 0o700);
    let mut files = 0;
    for entry in std::fs::read_dir(&journal).unwrap() {
        let path = entry.unwrap().path();
        if path.is_file() {
            files += 1;
            assert_eq!(mode(&path), 0o600, "{}", path.display());
        }
    }
    assert!(files >= 6, "LOCK, two meta slots and segments");
    let out = dir.path().join("out.jsonl");
    drop(FileTransport::open(&out).unwrap());
    assert_eq!(mode(&out), 0o600);
}

#[test]
fn a_path_that_is_a_file_is_refused_clearly() {
    let dir = common::tempdir();
    let file = dir.path().join("plain");
    std::fs::write(&file, "x").unwrap();
    let err = FileStorage::open(&file).unwrap_err();
    assert!(matches!(err, OpenStorageError::NotADirectory { .. }));
    assert!(err.to_string().contains("is not a directory"), "{err}");
}
