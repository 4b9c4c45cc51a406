//! `steadfast journal status | verify | dump` and `steadfast dead-letters`
//! on real journal directories: clean, damaged, torn, locked; and proof
//! that the read-only commands change nothing.
#![allow(clippy::unwrap_used)]

mod cli_util;

use std::path::{Path, PathBuf};
use std::time::Duration;

use cli_util::{delivered_values, numbers, run_in, snapshot, tempdir};
use steadfast::core::{Failure, FailureClass};
use steadfast::{FileTransport, OwnedMessage, Producer};

const SEGMENT_1: &str = "00000000000000000001.seg";

/// A journal with 100 delivered messages (to `out.jsonl`) in `dir/j`.
fn delivered_journal(dir: &Path) {
    run_in(
        dir,
        &["produce", "-q", "-t", "t", "-j", "j", "--file", "out.jsonl"],
        &numbers(1, 100),
    )
    .expect(0);
}

/// A delivered journal in `dir/j` whose first segment `edit` changed;
/// the segment's path and its bytes after the edit.
fn edited_journal(dir: &Path, edit: impl FnOnce(&mut Vec<u8>)) -> (PathBuf, Vec<u8>) {
    delivered_journal(dir);
    let seg = dir.join("j").join(SEGMENT_1);
    let mut bytes = std::fs::read(&seg).unwrap();
    edit(&mut bytes);
    std::fs::write(&seg, &bytes).unwrap();
    (seg, bytes)
}

#[test]
fn verify_passes_a_clean_journal_and_changes_nothing() {
    let dir = tempdir();
    delivered_journal(dir.path());
    let before = snapshot(&dir.path().join("j"));
    run_in(dir.path(), &["journal", "verify", "-j", "j"], b"")
        .expect(0)
        .stdout_has(&["journal j is intact", "102 entries"]);
    assert_eq!(
        snapshot(&dir.path().join("j")),
        before,
        "verify changed the journal"
    );
}

#[test]
fn verify_reports_a_flipped_byte_with_segment_offset_and_seqs_and_changes_nothing() {
    let dir = tempdir();
    edited_journal(dir.path(), |bytes| bytes[2000] ^= 0x55);
    let before = snapshot(&dir.path().join("j"));
    let run = run_in(dir.path(), &["journal", "verify", "-j", "j"], b"")
        .expect(2)
        .stderr_has(&[
            "journal j is DAMAGED",
            "segment 1:",
            "corrupt bytes at offset",
            "lost seq",
        ]);
    assert!(run.stdout.is_empty(), "{}", run.stdout);
    assert_eq!(
        snapshot(&dir.path().join("j")),
        before,
        "verify changed a damaged journal"
    );
    // status and dump are read-only too, and show the damage.
    run_in(dir.path(), &["journal", "status", "-j", "j"], b"")
        .expect(0)
        .stdout_has(&["damage         segment 1:", "next start     would"]);
    let dump = run_in(dir.path(), &["journal", "dump", "-j", "j"], b"").expect(0);
    assert!(dump.stdout.contains(r#""kind":"damaged""#), "{}", dump.stdout);
    assert_eq!(
        snapshot(&dir.path().join("j")),
        before,
        "status or dump changed the journal"
    );
}

#[test]
fn verify_reports_a_truncation_at_an_entry_boundary() {
    let dir = tempdir();
    edited_journal(dir.path(), |bytes| bytes.truncate(bytes.len() - 40));
    run_in(dir.path(), &["journal", "verify", "-j", "j"], b"")
        .expect(2)
        .stderr_has(&["high-water mark", "lost seq"]);
}

#[test]
fn verify_accepts_a_torn_tail_and_explains_it() {
    let dir = tempdir();
    let (seg, bytes) = edited_journal(dir.path(), |bytes| {
        bytes.extend_from_slice(b"half-written entry!!")
    });
    run_in(dir.path(), &["journal", "verify", "-j", "j"], b"")
        .expect(0)
        .stdout_has(&["intact", "torn tail of 20 bytes at segment 1"]);
    assert_eq!(std::fs::read(&seg).unwrap(), bytes, "verify cut the tail");
}

#[test]
fn verify_tells_reserved_zeros_from_a_torn_tail() {
    // What a SIGKILL leaves in a mapped segment: the entries, then the
    // zeros of the space reserved ahead of them.
    let dir = tempdir();
    let (seg, bytes) = edited_journal(dir.path(), |bytes| bytes.resize(bytes.len() + 4096, 0));
    run_in(dir.path(), &["journal", "verify", "-j", "j"], b"")
        .expect(0)
        .stdout_has(&[
            "intact",
            "4096 bytes of zeros after the last entry of segment 1",
            "no entry was torn",
        ]);
    assert_eq!(std::fs::read(&seg).unwrap(), bytes, "verify changed the segment");
}

#[test]
fn dump_prints_every_entry_as_json() {
    let dir = tempdir();
    delivered_journal(dir.path());
    let run = run_in(dir.path(), &["journal", "dump", "-j", "j"], b"").expect(0);
    let lines: Vec<serde_json::Value> = run
        .stdout
        .lines()
        .map(|l| serde_json::from_str(l).unwrap())
        .collect();
    let messages: Vec<&serde_json::Value> = lines.iter().filter(|v| v["kind"] == "message").collect();
    assert_eq!(messages.len(), 100);
    let first = messages[0];
    assert_eq!(first["value"], "1");
    assert_eq!(first["topic"], "t");
    assert_eq!(first["segment"], 1);
    assert!(first["seq"].as_u64().unwrap() > 0);
    assert!(first["id"].as_str().unwrap().contains('-'));
    assert!(lines.iter().any(|v| v["kind"] == "confirm"));
}

#[test]
fn inspection_of_a_journal_in_use_is_refused_with_exit_code_4() {
    let dir = tempdir();
    let journal = dir.path().join("busy");
    let producer = Producer::builder(&journal)
        .spawn(FileTransport::open(dir.path().join("out.jsonl")).unwrap())
        .unwrap();
    let pid = std::process::id().to_string();
    for args in [
        &["journal", "verify", "-j", "busy"][..],
        &["journal", "status", "-j", "busy"],
        &["dead-letters", "list", "-j", "busy"],
    ] {
        run_in(dir.path(), args, b"")
            .expect(4)
            .stderr_has(&["in use by pid", &pid]);
    }
    run_in(
        dir.path(),
        &["produce", "-t", "t", "-j", "busy", "--file", "o"],
        b"x\n",
    )
    .expect(4)
    .stderr_has(&["journal in use by pid"]);
    producer.close(Duration::from_secs(5)).unwrap();
    run_in(dir.path(), &["journal", "verify", "-j", "busy"], b"").expect(0);
}

#[test]
fn verify_of_a_missing_directory_is_a_usage_error() {
    let dir = tempdir();
    run_in(dir.path(), &["journal", "verify", "-j", "nowhere"], b"")
        .expect(1)
        .stderr_has(&["no journal at nowhere"]);
    assert!(
        !dir.path().join("nowhere").exists(),
        "verify created the directory"
    );
}

/// A journal with dead letters: values `bad…` are refused for good.
fn journal_with_dead_letters(dir: &Path) {
    let transport = FileTransport::open(dir.join("first.jsonl"))
        .unwrap()
        .with_reject(|r| {
            r.message
                .value
                .is_some_and(|v| v.starts_with(b"bad"))
                .then(|| Failure::new(FailureClass::Terminal, 42, "refused by the test broker"))
        });
    let producer = Producer::builder(dir.join("j")).spawn(transport).unwrap();
    for v in ["ok-1", "bad-1", "ok-2", "bad-2"] {
        producer.send(OwnedMessage::new("dl", v).with_key("k")).unwrap();
    }
    producer.flush_timeout(Duration::from_secs(10)).unwrap();
    assert_eq!(producer.stats().dead_letters, 2);
    producer.close(Duration::from_secs(5)).unwrap();
}

#[test]
fn dead_letters_list_redrive_and_discard() {
    let dir = tempdir();
    journal_with_dead_letters(dir.path());
    let before = snapshot(&dir.path().join("j"));
    let text = run_in(dir.path(), &["dead-letters", "list", "-j", "j"], b"")
        .expect(0)
        .stdout_has(&[
            "2 dead letter(s)",
            "refused by the test broker (code 42)",
            "\"bad-1\"",
            "\"bad-2\"",
        ]);
    assert!(text.stdout.contains("topic dl"), "{}", text.stdout);
    assert_eq!(
        snapshot(&dir.path().join("j")),
        before,
        "list changed the journal"
    );
    let json = run_in(dir.path(), &["dead-letters", "list", "-j", "j", "--json"], b"").expect(0);
    let letters: Vec<serde_json::Value> = json
        .stdout
        .lines()
        .map(|l| serde_json::from_str(l).unwrap())
        .collect();
    assert_eq!(letters.len(), 2);
    assert_eq!(letters[0]["message"]["value"], "bad-1");
    assert_eq!(letters[0]["code"], 42);
    let first = letters[0]["seq"].as_u64().unwrap().to_string();
    let second = letters[1]["seq"].as_u64().unwrap().to_string();

    run_in(
        dir.path(),
        &["dead-letters", "redrive", "-j", "j", "--seq", &first],
        b"",
    )
    .expect(0)
    .stdout_has(&[&format!("dead letter seq {first}: journaled again as")]);
    run_in(
        dir.path(),
        &["dead-letters", "redrive", "-j", "j", "--seq", &first],
        b"",
    )
    .expect(1)
    .stderr_has(&[&format!("no pending dead letter with seq {first}")]);
    run_in(dir.path(), &["dead-letters", "discard", "-j", "j", "--all"], b"")
        .expect(0)
        .stdout_has(&[&format!("dead letter seq {second}: discarded")]);
    run_in(dir.path(), &["dead-letters", "list", "-j", "j"], b"")
        .expect(0)
        .stdout_has(&["no dead letters"]);
    run_in(dir.path(), &["dead-letters", "discard", "-j", "j"], b"")
        .expect(1)
        .stderr_has(&["--seq", "--all"]);
    // The re-driven message goes out with the next delivery.
    run_in(dir.path(), &["deliver", "-j", "j", "--file", "second.jsonl"], b"")
        .expect(0)
        .stderr_has(&["confirmed     1"]);
    assert_eq!(delivered_values(&dir.path().join("second.jsonl")), ["bad-1"]);
}
