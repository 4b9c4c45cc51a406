//! Segment files of a journal whose appends go into a shared mapping (Linux,
//! see `storage/mod.rs`): the file runs ahead of the entries by zeros while
//! the segment is the newest, a SIGKILL loses nothing and recovery cuts only
//! zeros, and a sealed segment or a closed journal has exact files.
//!
//! Where segments are not mapped (another OS or file system) the same tests
//! check that the `pwrite` path leaves the same files.
#![allow(clippy::unwrap_used)]

mod common;

use std::path::Path;
use std::time::Duration;

use steadfast::transport::HoldTransport;
use steadfast::{Config, OwnedMessage, Producer, SyncPolicy};

const CHILD_ENV: &str = "STEADFAST_MAPPED_CHILD";

fn config(segment_size: u64) -> Config {
    Config {
        max_entry: 4096,
        segment_size,
        ..Config::default()
    }
}

fn value(i: usize) -> String {
    format!("m{i:06}-{}", "v".repeat(1000))
}

/// Where the entries of a segment's bytes end: frames are walked by their
/// lengths until the bytes end or a frame with kind 0 (zeros) begins.
fn entries_end(bytes: &[u8]) -> u64 {
    let mut at = 64usize;
    while at + 24 <= bytes.len() && bytes[at + 4] != 0 {
        let len = u32::from_le_bytes(bytes[at..at + 4].try_into().unwrap()) as usize;
        at += (24 + len).div_ceil(8) * 8;
    }
    at.min(bytes.len()) as u64
}

/// The child: `journal|count` in the environment. Sends `count` messages
/// (sync level Never), reports, and waits to be killed.
#[test]
fn mapped_child() {
    let Ok(spec) = std::env::var(CHILD_ENV) else {
        return;
    };
    let (journal, count) = spec.split_once('|').unwrap();
    let producer = Producer::builder(journal)
        .config(config(4 << 20))
        .sync(SyncPolicy::Never)
        .spawn(HoldTransport::default())
        .unwrap();
    for i in 0..count.parse().unwrap() {
        producer.send(OwnedMessage::new("t", value(i))).unwrap();
    }
    println!("MAPPED {}", steadfast::storage::segments_mapped());
    println!("DONE");
    loop {
        steadfast::clock::sleep(Duration::from_secs(1));
    }
}

#[cfg(unix)]
#[test]
fn after_a_sigkill_recovery_cuts_only_the_zero_tail_and_keeps_every_message() {
    use std::io::{BufRead, BufReader};
    use std::process::{Command, Stdio};

    use steadfast::FileTransport;

    if std::env::var(CHILD_ENV).is_ok() {
        return;
    }
    let dir = common::tempdir();
    let journal = dir.path().join("journal");
    let count = 1500; // About 1.6 MB: past the first 1 MiB growth step.
    let mut child = Command::new(std::env::current_exe().unwrap())
        .args(["--exact", "mapped_child", "--nocapture", "--test-threads=1"])
        .env(CHILD_ENV, format!("{}|{count}", journal.display()))
        .stdout(Stdio::piped())
        .stderr(Stdio::inherit())
        .spawn()
        .unwrap();
    let mut mapped = 0;
    for line in BufReader::new(child.stdout.take().unwrap()).lines() {
        let line = line.unwrap();
        // (The first line follows the test harness's "test mapped_child ... ".)
        if let Some((_, n)) = line.split_once("MAPPED ") {
            mapped = n.parse().unwrap();
        }
        if line == "DONE" {
            break;
        }
    }
    child.kill().unwrap(); // SIGKILL, after every send returned
    child.wait().unwrap();

    let segments = common::segments(&journal);
    assert_eq!(segments.len(), 1, "one 4 MiB segment");
    let path = segments.values().next().unwrap();
    let before = std::fs::read(path).unwrap();
    let end = entries_end(&before);
    if steadfast::storage::segments_mappable_in(&journal) {
        assert_eq!(mapped, 1, "the child mapped its segment");
        assert!(
            (before.len() as u64).is_multiple_of(1 << 20),
            "grown in 1 MiB steps"
        );
        assert!(before.len() as u64 > end, "a zero tail after the entries");
    } else {
        assert_eq!(before.len() as u64, end);
    }
    assert!(before[end as usize..].iter().all(|b| *b == 0));

    let started = steadfast::clock::now();
    let p = Producer::builder(&journal)
        .config(config(4 << 20))
        .spawn(HoldTransport::default())
        .unwrap();
    let took = started.elapsed();
    let report = p.recovery_report().clone();
    println!(
        "recovery over {} bytes of entries and {} of zeros took {took:.1?}: {report}",
        end,
        before.len() as u64 - end
    );
    assert!(report.is_clean(), "{report}");
    assert_eq!(report.pending, count as u64, "{report}");
    match report.torn_tail {
        Some(t) => assert_eq!(
            (t.offset, t.cut, t.zeros),
            (end, before.len() as u64 - end, true),
            "{report}"
        ),

        None => assert_eq!(before.len() as u64, end, "{report}"),
    }
    assert_eq!(std::fs::metadata(path).unwrap().len(), end, "cut to the entries");
    assert_eq!(&std::fs::read(path).unwrap()[..], &before[..end as usize]);
    p.close(Duration::ZERO).unwrap();

    // Every message comes out, once.
    let out = dir.path().join("out.jsonl");
    let p = Producer::builder(&journal)
        .config(config(4 << 20))
        .spawn(FileTransport::open(&out).unwrap())
        .unwrap();
    p.flush_timeout(Duration::from_secs(30)).unwrap();
    p.close(Duration::from_secs(1)).unwrap();
    let delivered = common::delivered_values(&out);
    assert_eq!(delivered.len(), count);
    assert!((0..count).all(|i| delivered.get(&value(i)) == Some(&1)));
}

/// Segment file lengths against where their entries end.
fn lengths(journal: &Path) -> Vec<(u64, u64, u64)> {
    common::segments(journal)
        .into_iter()
        .map(|(id, path)| {
            let bytes = std::fs::read(&path).unwrap();
            (id, bytes.len() as u64, entries_end(&bytes))
        })
        .collect()
}

#[test]
fn sealed_segments_and_a_closed_journal_have_exact_files() {
    let dir = common::tempdir();
    let journal = dir.path().join("journal");
    let p = Producer::builder(&journal)
        .config(config(64 << 10))
        .sync(SyncPolicy::Never)
        .spawn(HoldTransport::default())
        .unwrap();
    for i in 0..300 {
        p.send(OwnedMessage::new("t", value(i))).unwrap();
    }
    let open = lengths(&journal);
    assert!(open.len() >= 4, "several segments: {open:?}");
    // Every sealed segment was cut to its entries when the next one began.
    let (newest, sealed) = open.split_last().unwrap();
    for (id, len, end) in sealed {
        assert_eq!(len, end, "sealed segment {id}");
    }
    if steadfast::storage::segments_mappable_in(&journal) {
        assert!(newest.1 > newest.2, "the newest runs ahead: {newest:?}");
    }
    assert_eq!(p.close(Duration::ZERO).unwrap().pending, 300);
    let closed = lengths(&journal);
    for (id, len, end) in &closed {
        assert_eq!(len, end, "segment {id} after close");
    }

    // Reopening finds exactly those bytes: nothing to cut.
    let p = Producer::builder(&journal)
        .config(config(64 << 10))
        .spawn(HoldTransport::default())
        .unwrap();
    let report = p.recovery_report().clone();
    assert!(report.is_clean() && report.torn_tail.is_none(), "{report}");
    assert_eq!(report.bytes, closed.iter().map(|s| s.1).sum::<u64>(), "{report}");
    assert_eq!(report.pending, 300);
    p.close(Duration::ZERO).unwrap();
}
