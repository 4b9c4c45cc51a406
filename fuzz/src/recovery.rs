//! Recovery of a journal made of arbitrary bytes: a few segments and the
//! two meta slots, in memory ([`MemStorage`]), opened by the core's
//! [`Producer`](steadfast_core::Producer) as a program would open it.
//!
//! Input format (what [`pack`] writes and [`unpack`] reads; short input is
//! padded with zeros where a fixed width is due):
//!
//! ```text
//! flags: u8                  bit 0: meta slot 0 present, bit 1: slot 1
//! [meta slot 0: 64 bytes]    if bit 0
//! [meta slot 1: 64 bytes]    if bit 1
//! then, until the input ends, segments:
//!   gap: u8                  id = gap for the first, previous id + 1 + gap after
//!   len: u16 LE              clamped to what is left
//!   bytes: len
//! ```
//!
//! Recovery must never panic, and an `Ok` must be self-consistent: driven
//! against a broker that accepts everything, the producer transmits each
//! record at most once, delivers each one, goes idle, and a second
//! recovery of what it left (after a crash that loses nothing synced) finds
//! nothing pending. Exactly `report.pending` records go out, and the second
//! recovery does not refuse the journal the producer wrote (findings kept
//! as regression tests in `core/tests/fuzz_regressions.rs`).

use std::collections::BTreeSet;

use steadfast_core::testing::{MemStorage, TestProducer};
use steadfast_core::{Config, Outcome, SegmentId, Storage, SyncPolicy};

/// Bytes of a meta slot.
pub const META: usize = steadfast_core::META_SLOT_LEN;

/// The configuration every fuzz input is opened with (small segments, so a
/// few KiB of input hold several; the seeds were written with it).
pub fn config() -> Config {
    Config {
        journal_id: 9,
        segment_size: 4096,
        max_entry: 1024,
        // Small batches: the transmit buffer is allocated per input.
        max_batch_bytes: 16 << 10,
        sync: SyncPolicy::Always,
        ..Config::default()
    }
}

/// The journal an input describes.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct Journal {
    /// The two meta slots.
    pub meta: [Option<[u8; META]>; 2],
    /// Segments by id, ascending.
    pub segments: Vec<(SegmentId, Vec<u8>)>,
}

/// Reads the input format of the module docs.
pub fn unpack(data: &[u8]) -> Journal {
    let mut rest = data;
    let mut take = |n: usize| {
        let (head, tail) = rest.split_at(n.min(rest.len()));
        rest = tail;
        head
    };
    let flags = take(1).first().copied().unwrap_or(0);
    let mut journal = Journal::default();
    for slot in 0..2 {
        if flags & (1 << slot) != 0 {
            let mut meta = [0u8; META];
            let bytes = take(META);
            meta[..bytes.len()].copy_from_slice(bytes);
            journal.meta[slot] = Some(meta);
        }
    }
    let mut previous: Option<SegmentId> = None;
    while let Some(&gap) = take(1).first() {
        let len = take(2);
        let len = usize::from(u16::from_le_bytes([
            len.first().copied().unwrap_or(0),
            len.get(1).copied().unwrap_or(0),
        ]));
        let id = match previous {
            None => SegmentId::from(gap),
            Some(p) => p + 1 + SegmentId::from(gap),
        };
        journal.segments.push((id, take(len).to_vec()));
        previous = Some(id);
    }
    journal
}

/// Writes the input format of the module docs; segments longer than
/// `u16::MAX` bytes are cut there (the format cannot say more).
pub fn pack(journal: &Journal) -> Vec<u8> {
    let flags = u8::from(journal.meta[0].is_some()) | u8::from(journal.meta[1].is_some()) << 1;
    let mut out = vec![flags];
    for meta in journal.meta.iter().flatten() {
        out.extend_from_slice(meta);
    }
    let mut previous: Option<SegmentId> = None;
    for (id, bytes) in &journal.segments {
        let gap = match previous {
            None => *id,
            Some(p) => id - p - 1,
        };
        out.push(u8::try_from(gap).expect("segment ids of a seed are close together"));
        let len = bytes.len().min(usize::from(u16::MAX));
        out.extend_from_slice(&(len as u16).to_le_bytes());
        out.extend_from_slice(&bytes[..len]);
        previous = Some(*id);
    }
    out
}

/// The storage a journal is recovered from.
pub fn storage(journal: &Journal) -> MemStorage {
    let mut storage = MemStorage::new();
    for (slot, meta) in journal.meta.iter().enumerate() {
        if let Some(meta) = meta {
            storage
                .write_meta(slot, meta)
                .expect("an in-memory meta write succeeds");
        }
    }
    for (id, bytes) in &journal.segments {
        storage.put_segment(*id, bytes.clone());
    }
    storage
}

/// What a storage holds, in the input format's terms.
pub fn journal_of(storage: &mut MemStorage) -> Journal {
    let mut journal = Journal::default();
    for slot in 0..2 {
        let mut meta = [0u8; META];
        if storage.read_meta(slot, &mut meta).unwrap_or(false) {
            journal.meta[slot] = Some(meta);
        }
    }
    for id in storage.segment_ids() {
        let bytes = storage.segment_bytes(id).map(|b| b.clone()).unwrap_or_default();
        journal.segments.push((id, bytes));
    }
    journal
}

/// Rounds of the driver loop before an un-idle producer is a hang.
const ROUNDS: usize = 10_000;

/// The fuzz target's check.
pub fn check(data: &[u8]) {
    let journal = unpack(data);
    let config = config();
    let buf = vec![0u8; TestProducer::buffer_len(&config)];
    let (mut producer, report) = match TestProducer::open(storage(&journal), buf, config, 0) {
        Ok(opened) => opened,
        Err(failed) => {
            // Refusing is fine; the reason must still print.
            let _ = failed.error.to_string();
            return;
        }
    };
    let _ = report.to_string();

    let mut out = vec![0u8; config.max_batch_bytes.max(config.max_entry) + 64];
    let mut transmitted = BTreeSet::new();
    let mut deliveries = 0u64;
    let mut now = 0;
    let mut idle = false;
    for _ in 0..ROUNDS {
        if producer.needs_sync() && producer.sync(now).is_err() {
            return; // MemStorage never fails on its own; nothing to check.
        }
        loop {
            let batch = match producer.poll_transmit(now, &mut out) {
                Ok(Some(batch)) => batch,
                Ok(None) => break,
                Err(_) => return,
            };
            let seqs: Vec<_> = batch.seqs().collect();
            // Decoding may fail (a checksummed frame can still hold a bad
            // payload): it must not panic, and the seq is answered anyway.
            for record in batch.records(&out) {
                let _ = record;
            }
            for seq in seqs {
                assert!(
                    transmitted.insert(seq),
                    "seq {seq} transmitted twice (report: {report})"
                );
                producer.handle_outcome(
                    now,
                    seq,
                    Outcome::Confirmed {
                        partition: 0,
                        offset: 0,
                    },
                );
            }
        }
        while producer.poll_delivery(now).is_some() {
            deliveries += 1;
        }
        if producer.handle_timeout(now).is_err() {
            return;
        }
        let next = producer.poll_timeout(now);
        if next.is_none() && producer.is_idle() {
            idle = true;
            break;
        }
        now = match next {
            Some(t) if t > now => t,
            _ => now + 1,
        };
    }
    assert!(idle, "producer not idle after {ROUNDS} rounds (report: {report})");
    // Exactly the pending records go out: a record reported lost is not
    // sent, and a record reported pending is.
    assert_eq!(
        transmitted.len() as u64,
        report.pending,
        "records transmitted ({transmitted:?}) against records reported pending (report: {report})"
    );
    assert_eq!(
        deliveries,
        transmitted.len() as u64,
        "a delivery per record sent (report: {report})"
    );

    // Everything is confirmed: what a crash leaves must recover with
    // nothing pending.
    if producer.sync(now).is_err() {
        return;
    }
    let (storage, _) = producer.into_parts();
    let after = storage.crash(false);
    let buf = vec![0u8; TestProducer::buffer_len(&config)];
    match TestProducer::open(after, buf, config, now) {
        Ok((_, again)) => assert_eq!(
            again.pending, 0,
            "pending after every record was confirmed (first report: {report}; second: {again})"
        ),
        Err(failed) => panic!(
            "a journal the producer wrote itself is refused: {} (first report: {report})",
            failed.error
        ),
    }
}
