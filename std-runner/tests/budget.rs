//! The journal's budget on real files: the smallest budget for a message
//! limit is refused one byte below and works at it, and a budget far
//! smaller than the stream keeps taking messages while deliveries confirm,
//! its files never larger than the budget.
#![allow(clippy::unwrap_used)]

mod common;

use std::path::Path;
use std::time::Duration;

use steadfast::{Builder, FileTransport, OwnedMessage, Producer, SyncPolicy};

/// Bytes of every file in `dir`.
fn bytes_in(dir: &Path) -> u64 {
    std::fs::read_dir(dir)
        .unwrap()
        .filter_map(|e| e.unwrap().metadata().ok())
        .filter(|m| m.is_file())
        .map(|m| m.len())
        .sum()
}

#[test]
fn a_budget_below_the_minimum_is_refused_naming_it() {
    let dir = common::tempdir();
    let minimum = Builder::min_budget(4096);
    assert_eq!(Builder::max_entry_for_budget(minimum), 4096);
    assert!(Builder::max_entry_for_budget(minimum - 1) < 4096);
    let out = dir.path().join("out.jsonl");
    let failed = Producer::builder(dir.path().join("journal"))
        .max_entry(4096)
        .budget(minimum - 1)
        .spawn(FileTransport::open(&out).unwrap())
        .unwrap_err();
    let text = failed.to_string();
    assert!(text.contains(&format!("minimum of {minimum} bytes")), "{text}");
    assert!(text.contains("4096"), "{text}");
    // The default limit (1 MiB) needs about 4 MiB.
    assert!((4 << 20..5 << 20).contains(&Builder::min_budget(1 << 20)));
    // Refused before anything was written: the directory holds no segment.
    assert_eq!(common::segments(&dir.path().join("journal")).len(), 0);
}

#[test]
fn the_minimum_budget_carries_a_stream_far_larger_than_itself() {
    let dir = common::tempdir();
    let journal = dir.path().join("journal");
    let out = dir.path().join("out.jsonl");
    let budget = Builder::min_budget(4096);
    let p = Producer::builder(&journal)
        .max_entry(4096)
        .budget(budget)
        .sync(SyncPolicy::Never)
        .spawn(FileTransport::open(&out).unwrap())
        .unwrap();
    // 1,500 messages of 1,000 bytes: 15 times the budget.
    let mut peak = 0;
    for n in 0..1_500u32 {
        let mut value = format!("{n:08}").into_bytes();
        value.resize(1_000, b'.');
        p.send_timeout(OwnedMessage::new("t", value), Duration::from_secs(30))
            .unwrap_or_else(|e| panic!("message {n}: {e}"));
        if n % 100 == 0 {
            peak = peak.max(bytes_in(&journal));
        }
    }
    p.flush_timeout(Duration::from_secs(30)).unwrap();
    p.close(Duration::from_secs(5)).unwrap();
    assert!(
        peak <= budget,
        "the journal's files reached {peak} bytes, budget {budget}"
    );
    let delivered = steadfast::transport::read_delivered(&out).unwrap();
    let got: Vec<u32> = delivered
        .records
        .iter()
        .map(|r| {
            std::str::from_utf8(&r.value.as_ref().unwrap()[..8])
                .unwrap()
                .parse()
                .unwrap()
        })
        .collect();
    assert_eq!(got, (0..1_500).collect::<Vec<_>>());
}
