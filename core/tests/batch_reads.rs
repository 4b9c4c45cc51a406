//! Batches read back from the journal: each record's frame is read exactly
//! (alone, or with the frames of its lane that follow it), straight into
//! the caller's buffer and checked there; damage done after a message was
//! indexed is refused, never sent.
#![allow(clippy::unwrap_used)]

use steadfast_core::journal::format::{
    EntryKind, FRAME_HEADER_LEN, FrameHeader, SEGMENT_HEADER_LEN, frame_len, seal_frame,
};
use steadfast_core::testing::{MemStorage, TestProducer, open_mem};
use steadfast_core::{Config, JournalError, Message, SyncPolicy};

fn config() -> Config {
    Config {
        journal_id: 3,
        segment_size: 8 << 10,
        budget: 1 << 20,
        max_entry: 1024,
        sync: SyncPolicy::Always,
        ..Config::default()
    }
}

/// A producer on a new journal, caught up with it: from now on `send`
/// indexes each message into its lane's window as it appends it, so a
/// batch is the first to read it back.
fn producer(config: Config) -> TestProducer {
    let mut p = open_mem(MemStorage::new(), config, 0).0;
    assert_eq!(transmit(&mut p, 1 << 16).unwrap(), []);
    p
}

/// The value of message `i`: `len` bytes, distinct per message.
fn value(i: usize, len: usize) -> Vec<u8> {
    (0..len).map(|j| (i * 31 + j) as u8).collect()
}

/// Where message `seq`'s frame is: (segment, offset, header).
fn locate(p: &mut TestProducer, seq: u64) -> (u64, usize, FrameHeader) {
    let storage = p.storage_mut();
    for id in storage.segment_ids() {
        let bytes = storage.segment_bytes(id).unwrap();
        let mut at = SEGMENT_HEADER_LEN;
        while at + FRAME_HEADER_LEN <= bytes.len() {
            let header = FrameHeader::parse(bytes[at..at + FRAME_HEADER_LEN].try_into().unwrap());
            if header.seq == seq && header.kind == EntryKind::Message as u8 {
                return (id, at, header);
            }
            at += frame_len(header.len as usize);
        }
    }
    panic!("message {seq} not found");
}

/// One `poll_transmit` into a buffer of `out_len` bytes: its records as
/// (seq, value), or the error.
fn transmit(p: &mut TestProducer, out_len: usize) -> Result<Vec<(u64, Vec<u8>)>, JournalError> {
    let mut out = vec![0u8; out_len];
    let Some(batch) = p.poll_transmit(0, &mut out)? else {
        return Ok(Vec::new());
    };
    Ok(batch
        .records(&out)
        .map(|r| {
            let r = r.unwrap();
            (r.seq, r.message.value.unwrap().to_vec())
        })
        .collect())
}

#[test]
fn a_lane_sent_in_a_row_comes_back_whole_across_segment_ends() {
    let mut p = producer(config());
    // 16 messages (a window) of 700 bytes: about 11 a segment, so the
    // lane's frames follow each other except where a segment ends.
    let sent: Vec<(u64, Vec<u8>)> = (0..16)
        .map(|i| {
            let v = value(i, 700);
            (p.send(0, Message::new("t", &v).with_partition(0)).unwrap(), v)
        })
        .collect();
    let segments: std::collections::BTreeSet<u64> =
        sent.iter().map(|(seq, _)| locate(&mut p, *seq).0).collect();
    assert!(segments.len() >= 2, "the batch should span segments");
    assert_eq!(transmit(&mut p, 1 << 16).unwrap(), sent);
}

#[test]
fn interleaved_lanes_each_get_their_own_records_in_order() {
    let partitions = [0, 1, 2, 3, 4, 5];
    let mut p = producer(config());
    let mut sent: Vec<(i32, u64, Vec<u8>)> = Vec::new();
    for i in 0..36 {
        let partition = partitions[i % partitions.len()];
        let v = value(i, 40 + i * 7);
        let seq = p
            .send(0, Message::new("t", &v).with_partition(partition))
            .unwrap();
        sent.push((partition, seq, v));
    }
    let mut got: Vec<(u64, Vec<u8>)> = Vec::new();
    loop {
        let batch = transmit(&mut p, 1 << 16).unwrap();
        if batch.is_empty() {
            break;
        }
        // A batch is one lane's, in send order.
        assert!(batch.windows(2).all(|w| w[0].0 < w[1].0));
        got.extend(batch);
    }
    got.sort();
    let want: Vec<(u64, Vec<u8>)> = sent.into_iter().map(|(_, seq, v)| (seq, v)).collect();
    assert_eq!(got, want);
}

#[test]
fn bytes_damaged_after_indexing_are_refused() {
    // 22 bytes of value, 33 encoded: the frame has padding, so each kind
    // of damage has somewhere to go: header, payload, padding.
    let damage: [fn(&mut [u8]); 3] = [
        |frame| frame[10] ^= 0x01,                   // the seq, in the header
        |frame| frame[FRAME_HEADER_LEN + 5] ^= 0x80, // the payload
        |frame| *frame.last_mut().unwrap() = 1,      // the padding
    ];
    for (kind, damage) in damage.iter().enumerate() {
        let mut p = producer(config());
        let seqs: Vec<u64> = (0..3)
            .map(|i| {
                p.send(0, Message::new("t", &value(i, 22)).with_partition(0))
                    .unwrap()
            })
            .collect();
        let (segment, at, header) = locate(&mut p, seqs[1]);
        let len = frame_len(header.len as usize);
        assert!(len > FRAME_HEADER_LEN + header.len as usize, "no padding");
        let bytes = p.storage_mut().segment_bytes(segment).unwrap();
        damage(&mut bytes[at..at + len]);
        assert_eq!(
            transmit(&mut p, 1 << 16),
            Err(JournalError::Unreadable),
            "damage {kind}"
        );
        assert_eq!(p.in_flight(), 0, "damage {kind}: nothing may leave");
    }
}

#[test]
fn a_valid_frame_that_is_not_the_indexed_one_is_refused() {
    // Frames that pass their checksum but are not what the window expects:
    // another message's frame, or one with the right seq and the wrong length.
    for case in ["other message", "other length"] {
        let mut p = producer(config());
        let seqs: Vec<u64> = (0..3)
            .map(|i| {
                p.send(0, Message::new("t", &value(i, 64)).with_partition(0))
                    .unwrap()
            })
            .collect();
        let (segment, at, header) = locate(&mut p, seqs[1]);
        let (_, next_at, _) = locate(&mut p, seqs[2]);
        let bytes = p.storage_mut().segment_bytes(segment).unwrap();
        let len = frame_len(header.len as usize);
        let replacement = match case {
            "other message" => bytes[next_at..next_at + len].to_vec(),
            _ => {
                // The same payload less 8 bytes, sealed with the same seq.
                let mut frame = bytes[at..at + len].to_vec();
                let short = header.len as usize - 8;
                let lane = u16::from_le_bytes([frame[6], frame[7]]);
                seal_frame(
                    &mut frame,
                    short,
                    EntryKind::Message,
                    lane,
                    header.seq,
                    header.chain,
                );
                frame
            }
        };
        bytes[at..at + len].copy_from_slice(&replacement);
        assert_eq!(transmit(&mut p, 1 << 16), Err(JournalError::Unreadable), "{case}");
    }
}

#[test]
fn an_output_buffer_shorter_than_a_frame_still_gets_its_payload() {
    let mut p = producer(config());
    let v = value(1, 900);
    let seq = p.send(0, Message::new("t", &v)).unwrap();
    let (_, _, header) = locate(&mut p, seq);
    // Room for the encoded record, not for its frame header.
    assert_eq!(transmit(&mut p, header.len as usize).unwrap(), [(seq, v)]);
}

#[test]
fn a_batch_keeps_to_its_byte_limit_and_sends_a_larger_record_alone() {
    let mut cfg = config();
    cfg.max_batch_bytes = 1000;
    let mut p = producer(cfg);
    let seqs: Vec<u64> = (0..6)
        .map(|i| {
            let len = if i == 0 { 1000 - 24 } else { 300 };
            p.send(0, Message::new("t", &value(i, len)).with_partition(0))
                .unwrap()
        })
        .collect();
    let mut batches = Vec::new();
    loop {
        let batch = transmit(&mut p, 1 << 16).unwrap();
        if batch.is_empty() {
            break;
        }
        for (seq, _) in &batch {
            p.handle_outcome(
                0,
                *seq,
                steadfast_core::Outcome::Confirmed {
                    partition: 0,
                    offset: 0,
                },
            );
        }
        batches.push(batch.iter().map(|(seq, _)| *seq).collect::<Vec<_>>());
    }
    // The first record is over the limit once encoded: alone. Then three
    // of about 320 encoded bytes fit in 1000, and the last two.
    assert_eq!(batches, [vec![seqs[0]], seqs[1..4].to_vec(), seqs[4..].to_vec()]);
}
