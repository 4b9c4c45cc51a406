//! Inputs the fuzz target `recovery` (fuzz/, docs/fuzzing.md) found, kept
//! as journals in `tests/data/fuzz/` in the target's input format: one
//! flags byte (bit 0 and 1: meta slot 0 and 1 present), the present 64-byte
//! meta slots, then segments as (id gap: u8, length: u16 LE, bytes).
//!
//! Each is recovered and driven against a broker that accepts everything.
//! Recovery must not panic and the producer must go idle (checked for
//! all); exactly the records reported pending are sent, and a journal the
//! producer wrote reopens (or the first open refuses, changing nothing).
#![allow(clippy::unwrap_used)]

use std::collections::BTreeSet;

use steadfast_core::testing::{MemStorage, TestProducer};
use steadfast_core::{
    Config, OpenError, Outcome, RecoverError, RecoveryReport, SegmentId, Storage, SyncPolicy,
};

/// The configuration of the fuzz target (fuzz/src/recovery.rs).
fn config() -> Config {
    Config {
        journal_id: 9,
        segment_size: 4096,
        max_entry: 1024,
        max_batch_bytes: 16 << 10,
        sync: SyncPolicy::Always,
        ..Config::default()
    }
}

/// The fuzz target's input format, as in the module docs.
fn storage(data: &[u8]) -> MemStorage {
    let mut rest = data;
    let mut take = |n: usize| {
        let (head, tail) = rest.split_at(n.min(rest.len()));
        rest = tail;
        head
    };
    let flags = take(1).first().copied().unwrap_or(0);
    let mut storage = MemStorage::new();
    for slot in 0..2 {
        if flags & (1 << slot) != 0 {
            let mut meta = [0u8; 64];
            let bytes = take(64);
            meta[..bytes.len()].copy_from_slice(bytes);
            storage.write_meta(slot, &meta).unwrap();
        }
    }
    let mut previous: Option<SegmentId> = None;
    while let Some(&gap) = take(1).first() {
        let len = take(2);
        let len = usize::from(u16::from_le_bytes([
            len.first().copied().unwrap_or(0),
            len.get(1).copied().unwrap_or(0),
        ]));
        let id = previous.map_or(SegmentId::from(gap), |p| p + 1 + SegmentId::from(gap));
        storage.put_segment(id, take(len).to_vec());
        previous = Some(id);
    }
    storage
}

/// Recovers `file` and confirms everything sent until idle: the report and
/// the seqs transmitted.
fn recover_and_drain(file: &str) -> (RecoveryReport, BTreeSet<u64>) {
    let (report, sent, _) = recover_drain_and_keep(file);
    (report, sent)
}

/// [`recover_and_drain`], also handing back what a crash after it (losing
/// nothing synced) leaves.
fn recover_drain_and_keep(file: &str) -> (RecoveryReport, BTreeSet<u64>, MemStorage) {
    let path = format!("{}/tests/data/fuzz/{file}", env!("CARGO_MANIFEST_DIR"));
    let data = std::fs::read(&path).unwrap();
    let config = config();
    let buf = vec![0u8; TestProducer::buffer_len(&config)];
    let (mut producer, report) = TestProducer::open(storage(&data), buf, config, 0)
        .map_err(|f| f.error)
        .unwrap();
    let mut out = vec![0u8; 32 << 10];
    let mut sent = BTreeSet::new();
    let mut now = 0;
    for _ in 0..10_000 {
        while let Some(batch) = producer.poll_transmit(now, &mut out).unwrap() {
            for seq in batch.seqs().collect::<Vec<_>>() {
                assert!(sent.insert(seq), "seq {seq} sent twice");
                let confirmed = Outcome::Confirmed {
                    partition: 0,
                    offset: 0,
                };
                producer.handle_outcome(now, seq, confirmed);
            }
        }
        while producer.poll_delivery(now).is_some() {}
        producer.handle_timeout(now).unwrap();
        match producer.poll_timeout(now) {
            None if producer.is_idle() => {
                producer.sync(now).unwrap();
                let (storage, _) = producer.into_parts();
                return (report, sent, storage.crash(false));
            }
            Some(t) if t > now => now = t,
            _ => now += 1,
        }
    }
    panic!("not idle after 10 000 rounds; report: {report}");
}

#[test]
fn damaged_segments_recover_and_drain() {
    for file in ["recovery-lost-then-sent.bin", "recovery-pending-not-sent.bin"] {
        let (report, _) = recover_and_drain(file);
        assert!(!report.is_clean(), "{file}: {report}");
    }
}

/// Segment 1 holds the manifest (seq 1), a damaged region from offset 96
/// (seqs 2..=10), message 11, then at offset 1320 stale copies of the
/// segment's first frames (seqs 1..=4: intact, chained to seq 1, out of
/// order). Recovery reports seqs 2..=10 lost and does not take the stale
/// copies into the log; no later reader may either (delivery once sent the
/// copies of 2 and 3).
#[test]
fn records_reported_lost_are_not_sent() {
    let (report, sent) = recover_and_drain("recovery-lost-then-sent.bin");
    assert_eq!(
        sent.len() as u64,
        report.pending,
        "sent {sent:?}; report: {report}"
    );
}

/// Segment 1 holds messages 2..=13 on lanes 0-3, a damaged region from
/// offset 1184 (seqs 14..=16), stale copies of messages 11 and 12, then a
/// Confirm entry (lane 1 up to 12, lane 2 up to 4). 8 messages are pending
/// and 8 are sent; the pending count once counted the stale copy of 11
/// again (9).
#[test]
fn every_pending_record_is_sent() {
    let (report, sent) = recover_and_drain("recovery-pending-not-sent.bin");
    assert_eq!(
        sent.len() as u64,
        report.pending,
        "sent {sent:?}; report: {report}"
    );
}

/// A valid meta slot (generation 1, its checksum right: libFuzzer found it)
/// saying journal 0x900 with 1085 lanes, and one segment, 0, with a damaged
/// header. The meta's lane count is checked like a segment header's: the
/// first open (LANES = 4) refuses, and changes nothing, rather than
/// quarantining the segment and starting a journal of 1085 lanes that no
/// later open accepts.
#[test]
fn a_meta_slot_of_other_lanes_is_refused_on_the_first_open() {
    let path = format!(
        "{}/tests/data/fuzz/recovery-lanes-refused-on-reopen.bin",
        env!("CARGO_MANIFEST_DIR")
    );
    let data = std::fs::read(&path).unwrap();
    let config = config();
    let buf = vec![0u8; TestProducer::buffer_len(&config)];
    let before = storage(&data);
    let segments = before.segment_ids();
    match TestProducer::open(before, buf, config, 0) {
        Ok((_, report)) => panic!("opened a journal of 1085 lanes with 4: {report}"),
        Err(failed) => {
            assert!(
                matches!(
                    failed.error,
                    OpenError::Recover(RecoverError::LanesMismatch {
                        journal: 1085,
                        configured: 4
                    })
                ),
                "{}",
                failed.error
            );
            assert_eq!(failed.storage.segment_ids(), segments, "nothing set aside");
        }
    }
}

/// Segment 83 alone: a damaged header, 64 bytes of garbage behind it, the
/// journal's frames from seq 1 (manifest) to 14 (messages 2..=13, a dead
/// letter), a damaged region, then two dead letters (15, 16). The header is
/// salvaged and 12 messages reported pending: all 12 must go out.
#[test]
fn messages_behind_a_salvaged_header_are_sent() {
    let (report, sent) = recover_and_drain("recovery-salvaged-nothing-sent.bin");
    assert_eq!(
        sent.len() as u64,
        report.pending,
        "sent {sent:?}; report: {report}"
    );
}

/// Segment 1 (a damaged header, salvaged) holds seqs 1..=11 with two
/// damaged regions; segment 102, its header damaged too, holds garbage and
/// then stale copies of 9, 10 and 11. Seqs only grow across the journal, so
/// segment 102 cannot be salvaged from them (it is set aside): they were
/// counted pending a second time (11 pending, 8 sent).
#[test]
fn stale_copies_behind_a_damaged_header_are_not_salvaged() {
    let (report, sent) = recover_and_drain("recovery-pending-over-two-salvaged.bin");
    assert_eq!(
        sent.len() as u64,
        report.pending,
        "sent {sent:?}; report: {report}"
    );
}

/// Segment 1 holds seqs 1..=10, then (after damage) spliced copies of
/// 49..=64 and 34..=38; segment 2 (intact header, prev seq 39) holds
/// 40..=69. Seqs only grow across the journal: segment 2's entries at or
/// below 64 are stale copies, skipped like those inside a segment. They
/// were counted pending twice (51 reported, 29 sent).
#[test]
fn entries_at_or_below_an_earlier_segment_are_not_counted_twice() {
    let (report, sent) = recover_and_drain("recovery-segments-overlap.bin");
    assert_eq!(
        sent.len() as u64,
        report.pending,
        "sent {sent:?}; report: {report}"
    );
}

/// Segment 1 keeps entries up to seq 47; segment 2 (prev seq 39) holds
/// only stale copies at or below it, so its last seq stays 39. The journal
/// continued from 40, below messages it was about to deliver: confirming
/// seq 47 moved a watermark past the log's end (a debug assertion). New
/// entries go above the highest seq kept in any segment.
#[test]
fn the_log_continues_above_the_highest_seq_kept() {
    let (report, sent) = recover_and_drain("recovery-mark-past-log-end.bin");
    assert_eq!(
        sent.len() as u64,
        report.pending,
        "sent {sent:?}; report: {report}"
    );
}
