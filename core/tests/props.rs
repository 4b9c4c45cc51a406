//! Properties of the journal and the delivery machine (proptest).
#![allow(clippy::unwrap_used)]

use std::collections::{BTreeMap, HashSet};

use proptest::prelude::*;
use steadfast_core::testing::{MemStorage, ScriptedTransport, TestProducer, drive, open_mem};
use steadfast_core::{
    Config, Damage, Delivery, Failure, FailureClass, Header, Message, MessageId, Outcome, Record, SyncPolicy,
};

fn config(segment_size: u64) -> Config {
    Config {
        journal_id: 0x5eed,
        segment_size,
        budget: 64 << 20,
        max_entry: 2048,
        sync: SyncPolicy::Always,
        ..Config::default()
    }
}

/// Frame boundaries (offset, end, seq) of a segment's bytes, from the header on.
fn frames(bytes: &[u8]) -> Vec<(usize, usize, u64)> {
    let mut out = Vec::new();
    let mut at = 64;
    while at + 24 <= bytes.len() {
        let len = u32::from_le_bytes(bytes[at..at + 4].try_into().unwrap()) as usize;
        let end = at + (24 + len).div_ceil(8) * 8;
        if end > bytes.len() {
            break;
        }
        let seq = u64::from_le_bytes(bytes[at + 8..at + 16].try_into().unwrap());
        out.push((at, end, seq));
        at = end;
    }
    out
}

/// Sends `values` and returns the producer.
fn journal_with(values: &[Vec<u8>], segment_size: u64) -> TestProducer {
    let (mut p, _) = open_mem(MemStorage::new(), config(segment_size), 0);
    for v in values {
        p.send(0, Message::new("topic", v)).unwrap();
    }
    p.sync(0).unwrap();
    p
}

fn entries(p: &mut TestProducer) -> BTreeMap<u64, (u64, Vec<u8>)> {
    let mut map = BTreeMap::new();
    p.for_each_entry(|e| {
        map.insert(e.seq, (e.segment, e.payload.to_vec()));
    })
    .unwrap();
    map
}

fn values() -> impl Strategy<Value = Vec<Vec<u8>>> {
    prop::collection::vec(prop::collection::vec(any::<u8>(), 0..300), 1..40)
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(256))]

    #[test]
    fn any_message_round_trips(
        topic in "[a-z.]{1,20}",
        partition in proptest::option::of(any::<i32>()),
        key in proptest::option::of(prop::collection::vec(any::<u8>(), 0..64)),
        value in proptest::option::of(prop::collection::vec(any::<u8>(), 0..256)),
        headers in prop::collection::vec(("[a-z]{0,8}", proptest::option::of(prop::collection::vec(any::<u8>(), 0..16))), 0..16),
        timestamp in proptest::option::of(any::<i64>()),
        journal in any::<u64>(),
        seq in any::<u64>(),
    ) {
        let mut message = Message { topic: &topic, partition, key: key.as_deref(), value: value.as_deref(), headers: heapless::Vec::new(), timestamp };
        for (name, value) in &headers {
            message.headers.push(Header { name, value: value.as_deref() }).unwrap();
        }
        let record = Record { id: MessageId { journal, seq }, message };
        let mut buf = vec![0u8; 4096];
        let n = record.encode(&mut buf).unwrap();
        prop_assert_eq!(Record::decode(&buf[..n]).unwrap(), record);
    }

    #[test]
    fn a_cut_at_any_offset_keeps_exactly_the_complete_entries_before_it(values in values(), cut in any::<prop::sample::Index>()) {
        let p = journal_with(&values, 1 << 20);
        let mut storage = p.storage().crash(true);
        let bytes = storage.segment_bytes(1).unwrap().clone();
        // Past the segment's manifest: `open` synced it and wrote the meta
        // slots, so the high-water mark covers it (cutting it is damage,
        // not a torn tail).
        let start = frames(&bytes)[0].1;
        let cut = start + cut.index(bytes.len() - start + 1);
        storage.segment_bytes(1).unwrap().truncate(cut);
        // Messages (kind 1) whose frames end before the cut. (A segment left
        // with no message may be deleted at once: compare messages.)
        let kept: Vec<u64> = frames(&bytes)
            .into_iter()
            .filter(|(at, end, _)| *end <= cut && bytes[at + 4] == 1)
            .map(|(_, _, s)| s)
            .collect();

        let on_boundary = cut == start || frames(&bytes).iter().any(|(_, end, _)| *end == cut);
        let (mut p2, report) = open_mem(storage, config(1 << 20), 0);
        prop_assert!(report.is_clean(), "{}", report);
        prop_assert_eq!(report.torn_tail.is_some(), !on_boundary, "{}", report);
        let mut recovered = Vec::new();
        p2.for_each_entry(|e| {
            if e.segment == 1 && e.kind == steadfast_core::journal::format::EntryKind::Message {
                recovered.push(e.seq);
            }
        })
        .unwrap();

        prop_assert_eq!(recovered, kept);
    }

    #[test]
    fn a_cut_at_an_entry_boundary_before_the_high_water_mark_is_truncation(values in values(), pick in any::<prop::sample::Index>()) {
        let mut p = journal_with(&values, 1 << 20);
        // Write the high-water mark.
        p.handle_timeout(10_000).unwrap();
        let mut storage = p.storage().crash(false);
        let bytes = storage.segment_bytes(1).unwrap().clone();
        let f = frames(&bytes);
        let (at, _, first_lost) = f[1 + pick.index(f.len() - 1)];
        let last = f.last().unwrap().2;
        storage.segment_bytes(1).unwrap().truncate(at);
        let (_, report) = open_mem(storage, config(1 << 20), 0);
        prop_assert!(report.torn_tail.is_none());
        let truncated = report.damage.iter().any(|d| matches!(d, Damage::Truncated { lost } if lost.first == first_lost && lost.last >= last));
        prop_assert!(truncated, "{}", report);
    }

    #[test]
    fn any_single_flipped_bit_is_detected(values in values(), segment in any::<prop::sample::Index>(), bit in any::<prop::sample::Index>()) {
        let mut p = journal_with(&values, 4096);
        let original = entries(&mut p);
        let mut storage = p.storage().crash(true);
        let ids = storage.segment_ids();
        let id = ids[segment.index(ids.len())];
        let bytes = storage.segment_bytes(id).unwrap();
        let bit = bit.index(bytes.len() * 8);
        bytes[bit / 8] ^= 1 << (bit % 8);
        let (mut p2, report) = open_mem(storage, config(4096), 0);
        prop_assert!(!report.is_clean() || report.torn_tail.is_some() || report.quarantined > 0,
            "flip of bit {} in segment {} went unnoticed: {}", bit, id, report);
        // Nothing damaged is ever handed out as a message. (Entries of the
        // segment recovery starts may reuse seqs of a cut tail: those never
        // left the machine.)
        for (seq, (segment, payload)) in entries(&mut p2) {
            if let Some((before_segment, before)) = original.get(&seq)
                && *before_segment == segment
            {
                prop_assert_eq!(&payload, before);
            }

        }
    }
}

/// One scripted broker answer.
#[derive(Clone, Copy, Debug)]
enum Answer {
    Confirm,
    Retriable,
    /// Written, but the acknowledgement was lost.
    LostAck,
    /// Not written, and the answer was lost.
    LostRequest,
    Terminal,
}

fn answers() -> impl Strategy<Value = Vec<Answer>> {
    prop::collection::vec(
        prop_oneof![
            6 => Just(Answer::Confirm),
            2 => Just(Answer::Retriable),
            1 => Just(Answer::LostAck),
            1 => Just(Answer::LostRequest),
            1 => Just(Answer::Terminal),
        ],
        1..200,
    )
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(128))]

    #[test]
    fn random_interleavings_never_lose_and_never_confirm_out_of_order(
        answers in answers(),
        sends in prop::collection::vec((0i32..3, 1usize..5), 1..40),
    ) {
        let (mut p, _) = open_mem(MemStorage::new(), config(8192), 0);
        let mut next = 0usize;
        let mut t = ScriptedTransport::new(move |_| {
            // After the scripted answers: a calm phase in which all is well.
            let a = answers.get(next).copied().unwrap_or(Answer::Confirm);
            next += 1;

            let fail = |class, code, reason| Outcome::Failed(Failure::new(class, code, reason));
            match a {
                Answer::Confirm => (Outcome::Confirmed { partition: 0, offset: 0 }, true),
                Answer::Retriable => (fail(FailureClass::Retriable, 6, "not leader"), false),
                Answer::LostAck => (fail(FailureClass::Unknown, -1, "ack lost"), true),
                Answer::LostRequest => (fail(FailureClass::Unknown, -1, "request lost"), false),
                Answer::Terminal => (fail(FailureClass::Terminal, 10, "too large"), false),
            }
        });
        let mut now = 0;
        let mut sent: BTreeMap<u64, i32> = BTreeMap::new();
        let mut deliveries = Vec::new();
        for (i, (partition, burst)) in sends.iter().enumerate() {
            for b in 0..*burst {
                let value = format!("{i}-{b}");
                let seq = p.send(now, Message::new("t", value.as_bytes()).with_partition(*partition)).unwrap();
                sent.insert(seq, *partition);
            }
            let (d, t2) = drive(&mut p, &mut t, now, 3);
            deliveries.extend(d);
            now = t2;
        }
        let (d, _) = drive(&mut p, &mut t, now, 100_000);
        deliveries.extend(d);
        let delivered: HashSet<u64> = t.delivered.iter().map(|d| d.id.seq).collect();
        let mut dead = HashSet::new();
        let mut confirmed_order: BTreeMap<i32, Vec<u64>> = BTreeMap::new();
        for d in &deliveries {
            match d {
                Delivery::DeadLettered { id, .. } => { dead.insert(id.seq); }
                Delivery::Confirmed { id, .. } => confirmed_order.entry(sent[&id.seq]).or_default().push(id.seq),
            }
        }
        for seq in sent.keys() {
            prop_assert!(delivered.contains(seq) || dead.contains(seq), "message {} lost", seq);
        }
        for (partition, order) in confirmed_order {
            prop_assert!(order.windows(2).all(|w| w[0] < w[1]), "partition {} confirmed out of order: {:?}", partition, order);
        }
        prop_assert!(p.is_idle());
    }
}
