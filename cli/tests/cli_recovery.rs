//! Loss is always reported, and never wider than the damage: real journals
//! damaged on disk, then `steadfast journal verify` (exit 2) and
//! `steadfast deliver` (exit 8 when messages were lost, 0 when everything
//! intact was kept) with the real binary.
#![allow(clippy::unwrap_used)]

mod cli_util;

use std::path::{Path, PathBuf};
use std::time::Duration;

use cli_util::{delivered_values, numbers, run_in, tempdir};
use steadfast::transport::HoldTransport;
use steadfast::{Config, OwnedMessage, Producer};

const SEGMENT_1: &str = "00000000000000000001.seg";

/// 300 lines produced to an unreachable REST proxy: they stay journaled
/// in `dir/j`, one segment, high-water mark 301 (a manifest and 300 messages).
#[cfg(feature = "rest")]
fn undelivered_journal(dir: &Path) {
    run_in(
        dir,
        &[
            "produce",
            "-q",
            "-t",
            "t",
            "-j",
            "j",
            "--rest",
            "http://127.0.0.1:1",
            "--wait-timeout",
            "1s",
        ],
        &numbers(1, 300),
    )
    .expect(3);
    assert_eq!(segments(&dir.join("j")).len(), 1);
}

/// A journal in `dir/j` of 300 undelivered messages over several segments
/// (built with the library: small segments, a transport that never answers).
fn undelivered_segments(dir: &Path) -> usize {
    let config = Config {
        max_entry: 4096,
        segment_size: 32 << 10,
        ..Config::default()
    };
    let p = Producer::builder(dir.join("j"))
        .config(config)
        .spawn(HoldTransport::default())
        .unwrap();
    for i in 0..300 {
        p.send(OwnedMessage::new("t", format!("m{i:04}-{}", "x".repeat(300))))
            .unwrap();
    }
    p.close(Duration::ZERO).unwrap();
    let n = segments(&dir.join("j")).len();
    assert!(n >= 3, "{n} segments");
    n
}

fn segments(journal: &Path) -> Vec<PathBuf> {
    let mut v: Vec<PathBuf> = std::fs::read_dir(journal)
        .unwrap()
        .map(|e| e.unwrap().path())
        .filter(|p| p.extension().is_some_and(|e| e == "seg"))
        .collect();
    v.sort();
    v
}

/// The meta slot files that were written (non-empty).
fn meta_files(journal: &Path) -> Vec<PathBuf> {
    ["meta-0", "meta-1"]
        .iter()
        .map(|m| journal.join(m))
        .filter(|p| std::fs::metadata(p).is_ok_and(|m| m.len() == 64))
        .collect()
}

fn deliver(dir: &Path) -> cli_util::Run {
    run_in(dir, &["deliver", "-j", "j", "--file", "out.jsonl"], b"")
}

#[cfg(feature = "rest")]
#[test]
fn emptying_or_deleting_the_only_segment_is_loss_not_intact() {
    for delete in [false, true] {
        let dir = tempdir();
        undelivered_journal(dir.path());
        let seg = dir.path().join("j").join(SEGMENT_1);
        if delete {
            std::fs::remove_file(&seg).unwrap();
        } else {
            std::fs::write(&seg, b"").unwrap();
        }
        run_in(dir.path(), &["journal", "verify", "-j", "j"], b"")
            .expect(2)
            .stderr_has(&["no segment is left", "seqs 1..=301", "DAMAGED"]);
        deliver(dir.path())
            .expect(8)
            .stderr_has(&["lost journaled messages", "seqs 1..=301"]);
    }
}

#[test]
fn deleting_every_segment_of_a_journal_is_loss() {
    let dir = tempdir();
    undelivered_segments(dir.path());
    for seg in segments(&dir.path().join("j")) {
        std::fs::remove_file(seg).unwrap();
    }
    let verify = run_in(dir.path(), &["journal", "verify", "-j", "j"], b"")
        .expect(2)
        .stderr_has(&["no segment is left", "seqs 1..="]);
    assert!(!verify.stdout.contains("intact"), "{}", verify.stdout);
    deliver(dir.path()).expect(8).stderr_has(&["no segment is left"]);
}

#[test]
fn segments_deleted_after_delivery_are_not_loss() {
    let dir = tempdir();
    run_in(
        dir.path(),
        &["produce", "-q", "-t", "t", "-j", "j", "--file", "first.jsonl"],
        &numbers(1, 300),
    )
    .expect(0);
    run_in(dir.path(), &["journal", "verify", "-j", "j"], b"").expect(0);
    deliver(dir.path()).expect(0);
}

#[test]
fn any_flipped_header_byte_keeps_every_frame_and_is_reported() {
    let dir = tempdir();
    let n = undelivered_segments(dir.path());
    let journal = dir.path().join("j");
    let pristine = dir.path().join("pristine");
    copy_dir(&journal, &pristine);
    let middle = segments(&journal)[n / 2].file_name().unwrap().to_owned();
    // Every one of the 64 header bytes, through `journal verify`; a few
    // through a real delivery.
    for at in 0..64 {
        let _ = std::fs::remove_dir_all(&journal);
        copy_dir(&pristine, &journal);
        let seg = journal.join(&middle);
        let mut bytes = std::fs::read(&seg).unwrap();
        bytes[at] ^= 0x20;
        std::fs::write(&seg, &bytes).unwrap();
        let verify = run_in(dir.path(), &["journal", "verify", "-j", "j"], b"")
            .expect(2)
            .stderr_has(&[
                "has a damaged header; its frames are intact",
                "No journaled message was lost",
            ]);
        assert!(
            !verify.stderr.contains("lost seq"),
            "byte {at}: {}",
            verify.stderr
        );
        if at % 16 == 3 {
            let _ = std::fs::remove_file(dir.path().join("out.jsonl"));
            deliver(dir.path())
                .expect(0)
                .stderr_has(&["damaged header", "confirmed     300"]);
            assert_eq!(delivered_values(&dir.path().join("out.jsonl")).len(), 300);
        }
    }
}

#[test]
fn meta_slots_copied_from_another_journal_do_not_condemn_the_segments() {
    let dir = tempdir();
    undelivered_segments(dir.path());
    // Another journal, with its own meta slots.
    let other = dir.path().join("other");
    std::fs::create_dir(&other).unwrap();
    undelivered_segments(&other);
    for m in meta_files(&other.join("j")) {
        std::fs::copy(&m, dir.path().join("j").join(m.file_name().unwrap())).unwrap();
    }
    run_in(dir.path(), &["journal", "verify", "-j", "j"], b"")
        .expect(2)
        .stderr_has(&[
            "the high-water-mark slots belong to journal",
            "the segments were trusted",
        ]);
    let run = deliver(dir.path()).expect(0).stderr_has(&["confirmed     300"]);
    assert!(!run.stderr.contains("quarantined"), "{}", run.stderr);
    assert_eq!(delivered_values(&dir.path().join("out.jsonl")).len(), 300);
    assert!(!dir.path().join("j/quarantine").exists());
}

#[test]
fn a_single_damaged_meta_slot_is_reported_by_verify() {
    let dir = tempdir();
    undelivered_segments(dir.path());
    let metas = meta_files(&dir.path().join("j"));
    assert_eq!(metas.len(), 2, "{metas:?}");
    let mut bytes = std::fs::read(&metas[0]).unwrap();
    bytes[40] ^= 1;
    std::fs::write(&metas[0], &bytes).unwrap();
    run_in(dir.path(), &["journal", "verify", "-j", "j"], b"")
        .expect(2)
        .stderr_has(&["high-water-mark slot meta-0 is damaged"]);
    // Nothing was lost: delivery keeps everything and exits 0.
    deliver(dir.path()).expect(0).stderr_has(&["meta-0 is damaged"]);
    assert_eq!(delivered_values(&dir.path().join("out.jsonl")).len(), 300);
}

#[test]
fn a_segment_lost_in_the_middle_ends_deliver_with_exit_code_8() {
    let dir = tempdir();
    undelivered_segments(dir.path());
    let segs = segments(&dir.path().join("j"));
    std::fs::remove_file(&segs[1]).unwrap();
    let run = deliver(dir.path())
        .expect(8)
        .stderr_has(&["lost journaled messages", "is missing; lost seqs"]);
    let delivered = delivered_values(&dir.path().join("out.jsonl")).len();
    assert!(delivered > 0 && delivered < 300, "{delivered}\n{}", run.stderr);
}

fn copy_dir(from: &Path, to: &Path) {
    std::fs::create_dir_all(to).unwrap();
    for e in std::fs::read_dir(from).unwrap() {
        let p = e.unwrap().path();
        if p.is_file() {
            std::fs::copy(&p, to.join(p.file_name().unwrap())).unwrap();
        }
    }
}

#[cfg(feature = "rest")]
#[test]
fn any_flipped_header_byte_of_the_only_segment_keeps_all_300_lines() {
    let dir = tempdir();
    undelivered_journal(dir.path());
    let journal = dir.path().join("j");
    let pristine = dir.path().join("pristine");
    copy_dir(&journal, &pristine);
    for at in 0..64 {
        let _ = std::fs::remove_dir_all(&journal);
        copy_dir(&pristine, &journal);
        let seg = journal.join(SEGMENT_1);
        let mut bytes = std::fs::read(&seg).unwrap();
        bytes[at] ^= 0x01;
        std::fs::write(&seg, &bytes).unwrap();
        run_in(dir.path(), &["journal", "verify", "-j", "j"], b"")
            .expect(2)
            .stderr_has(&["segment 1 has a damaged header; its frames are intact"]);
        if at == 20 {
            // The dump reads the frames behind the damaged header too.
            run_in(dir.path(), &["journal", "dump", "-j", "j"], b"")
                .expect(0)
                .stdout_has(&["bad segment header", "\"value\":\"1\"", "\"value\":\"300\""]);
            deliver(dir.path()).expect(0).stderr_has(&["confirmed     300"]);
            let values = delivered_values(&dir.path().join("out.jsonl"));
            assert_eq!(values.first().map(String::as_str), Some("1"));
            assert_eq!(values.len(), 300);
        }
    }
}
