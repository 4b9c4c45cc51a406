//! One test per state and transition of the delivery machine (see the state
//! graph in `steadfast_core::delivery`).
#![allow(clippy::unwrap_used)]

use steadfast_core::testing::{MemStorage, TestProducer, open_mem};
use steadfast_core::{
    Config, Delivery, Failure, FailureClass, Message, OpenError, Outcome, RetryPolicy, SendErrorKind,
    Storage, StorageErrorKind, SyncPolicy,
};

fn config() -> Config {
    Config {
        journal_id: 1,
        segment_size: 16 << 10,
        budget: 1 << 20,
        max_entry: 1024,
        sync: SyncPolicy::Always,
        retry: RetryPolicy {
            initial: 100,
            max: 1000,
            delivery_timeout: None,
        },
        ..Config::default()
    }
}

fn producer() -> TestProducer {
    open_mem(MemStorage::new(), config(), 0).0
}

/// Sends the next ready batch; returns its seqs.
fn transmit(p: &mut TestProducer, now: u64) -> Vec<u64> {
    let mut out = vec![0u8; 1 << 16];
    match p.poll_transmit(now, &mut out).unwrap() {
        Some(batch) => batch.records(&out).map(|r| r.unwrap().seq).collect(),
        None => Vec::new(),
    }
}

/// Advances time from `now` as a driver would (timer by timer) until a batch
/// goes out; returns when and what.
fn next_transmit(p: &mut TestProducer, mut now: u64) -> (u64, Vec<u64>) {
    for _ in 0..100 {
        let batch = transmit(p, now);
        if !batch.is_empty() {
            return (now, batch);
        }
        p.handle_timeout(now).unwrap();
        now = p.poll_timeout(now).unwrap().max(now + 1);
    }
    panic!("nothing was transmitted");
}

fn fail(class: FailureClass) -> Outcome {
    Outcome::Failed(Failure::new(class, 7, "scripted"))
}

fn confirmed() -> Outcome {
    Outcome::Confirmed {
        partition: 0,
        offset: 5,
    }
}

fn deliveries(p: &mut TestProducer, now: u64) -> Vec<Delivery> {
    core::iter::from_fn(|| p.poll_delivery(now)).collect()
}

/// Transmits and confirms everything ready, without running any timer.
fn confirm_all(p: &mut TestProducer, now: u64) {
    loop {
        let seqs = transmit(p, now);
        if seqs.is_empty() {
            break;
        }
        for seq in seqs {
            p.handle_outcome(now, seq, confirmed());
            deliveries(p, now);
        }
    }
}

#[test]
fn queued_messages_go_out_as_one_batch_per_lane() {
    let mut p = producer();
    let a = p.send(0, Message::new("t", b"a").with_partition(0)).unwrap();
    let b = p.send(0, Message::new("t", b"b").with_partition(0)).unwrap();
    assert_eq!(transmit(&mut p, 0), [a, b]);
    // In flight: the lane sends nothing more until it hears back.
    p.send(0, Message::new("t", b"c").with_partition(0)).unwrap();
    assert_eq!(transmit(&mut p, 0), Vec::<u64>::new());
    assert_eq!(p.in_flight(), 2);
}

#[test]
fn confirmed_messages_are_reported_and_forgotten() {
    let mut p = producer();
    let a = p.send(0, Message::new("t", b"a")).unwrap();
    transmit(&mut p, 0);
    p.handle_outcome(1, a, confirmed());
    let d = deliveries(&mut p, 1);
    assert!(matches!(&d[..], [Delivery::Confirmed { id, offset: 5, .. }] if id.seq == a));
    assert_eq!(p.stats().pending, 0);
    assert!(p.is_idle());
}

#[test]
fn a_retriable_failure_waits_for_its_backoff() {
    let mut p = producer();
    let a = p.send(0, Message::new("t", b"a")).unwrap();
    transmit(&mut p, 0);
    p.handle_outcome(10, a, fail(FailureClass::Retriable));
    assert_eq!(p.stats().retried, 1);
    let (due, batch) = next_transmit(&mut p, 10);
    assert!((10..=110).contains(&due), "backoff ends at {due}");
    assert_eq!(batch, [a]);
    // Full jitter: over many first retries the wait spreads over 0..=100.
    let waits: Vec<u64> = (0..50)
        .map(|_| {
            let (at, batch) = (due, [a]);
            p.handle_outcome(at, batch[0], fail(FailureClass::Retriable));
            let (next, _) = next_transmit(&mut p, at);
            next - at
        })
        .collect();
    assert!(waits.iter().any(|w| *w > 0), "backoff never waited: {waits:?}");
}

#[test]
fn a_server_requested_wait_is_honoured() {
    let mut p = producer();
    let a = p.send(0, Message::new("t", b"a")).unwrap();
    transmit(&mut p, 0);
    let throttled = Failure::new(FailureClass::Retriable, 429, "slow down").with_retry_after(5_000);
    p.handle_outcome(0, a, Outcome::Failed(throttled));
    assert_eq!(transmit(&mut p, 4_999), Vec::<u64>::new());
    assert_eq!(transmit(&mut p, 5_000), [a]);
}

#[test]
fn an_unknown_outcome_is_sent_again_never_dropped() {
    let mut p = producer();
    let a = p.send(0, Message::new("t", b"a")).unwrap();
    transmit(&mut p, 0);
    p.handle_outcome(0, a, fail(FailureClass::Unknown));
    assert!(deliveries(&mut p, 0).is_empty());
    assert_eq!(next_transmit(&mut p, 0).1, [a]);
}

#[test]
fn a_terminal_failure_is_dead_lettered_with_its_reason() {
    let mut p = producer();
    let a = p.send(0, Message::new("t", b"a")).unwrap();
    transmit(&mut p, 0);
    p.handle_outcome(0, a, fail(FailureClass::Terminal));
    let d = deliveries(&mut p, 0);
    assert!(
        matches!(&d[..], [Delivery::DeadLettered { id, failure }] if id.seq == a && failure.reason == "scripted")
    );
    assert_eq!(p.stats().dead_letters, 1);
    assert!(p.is_idle());
}

#[test]
fn a_delivery_timeout_turns_retries_into_a_dead_letter() {
    let mut cfg = config();
    cfg.retry.delivery_timeout = Some(1_000);
    let mut p = open_mem(MemStorage::new(), cfg, 0).0;
    let a = p.send(0, Message::new("t", b"a")).unwrap();
    transmit(&mut p, 0);
    p.handle_outcome(0, a, fail(FailureClass::Retriable));
    assert!(deliveries(&mut p, 0).is_empty());
    next_transmit(&mut p, 0);
    p.handle_outcome(1_500, a, fail(FailureClass::Retriable));
    let d = deliveries(&mut p, 1_500);
    assert!(
        matches!(&d[..], [Delivery::DeadLettered { failure, .. }] if failure.reason.starts_with("delivery timeout"))
    );
}

#[test]
fn a_later_message_is_never_confirmed_ahead_of_an_earlier_one_being_retried() {
    let mut p = producer();
    let a = p.send(0, Message::new("t", b"a").with_partition(1)).unwrap();
    let b = p.send(0, Message::new("t", b"b").with_partition(1)).unwrap();
    assert_eq!(transmit(&mut p, 0), [a, b]);
    p.handle_outcome(0, a, fail(FailureClass::Retriable));
    p.handle_outcome(0, b, confirmed());
    assert!(deliveries(&mut p, 0).is_empty(), "b must wait for a");
    let (due, batch) = next_transmit(&mut p, 0);
    assert_eq!(batch, [a], "only a is sent again");
    p.handle_outcome(due, a, confirmed());
    let order: Vec<u64> = deliveries(&mut p, due)
        .iter()
        .map(|d| match d {
            Delivery::Confirmed { id, .. } => id.seq,
            Delivery::DeadLettered { id, .. } => id.seq,
        })
        .collect();
    assert_eq!(order, [a, b]);
}

#[test]
fn a_lane_window_overflow_is_read_back_in_order() {
    // TestProducer windows hold 16 messages.
    let mut p = producer();
    let seqs: Vec<u64> = (0..100u32)
        .map(|i| {
            p.send(0, Message::new("t", &i.to_le_bytes()).with_partition(0))
                .unwrap()
        })
        .collect();
    let mut sent = Vec::new();
    for now in 0..1000 {
        let batch = transmit(&mut p, now);
        for s in &batch {
            p.handle_outcome(now, *s, confirmed());
        }
        sent.extend(batch);
        deliveries(&mut p, now);
        if sent.len() == seqs.len() {
            break;
        }
    }
    assert_eq!(sent, seqs);
}

/// Several lanes overflow at once, interleaved in the journal: one refill
/// pass serves every lane with room. Each partition's messages are still
/// confirmed once each and in order, with retried batches in between.
#[test]
fn overflowing_lanes_are_read_back_together_in_order() {
    let mut p = producer();
    let mut sent: Vec<Vec<u64>> = vec![Vec::new(); 4];
    let mut partition_of = std::collections::HashMap::new();
    for i in 0..400u32 {
        let partition = (i % 4) as usize;
        let value = i.to_le_bytes();
        let message = Message::new("t", &value).with_partition(partition as i32);
        let seq = p.send(0, message).unwrap();
        sent[partition].push(seq);
        partition_of.insert(seq, partition);
    }
    let mut got: Vec<Vec<u64>> = vec![Vec::new(); 4];
    let mut batches = 0;
    for now in 0..20_000 {
        loop {
            let batch = transmit(&mut p, now);
            if batch.is_empty() {
                break;
            }
            batches += 1;
            // Every third batch fails and is sent again after its backoff.
            let outcome = || {
                if batches % 3 == 0 {
                    fail(FailureClass::Retriable)
                } else {
                    confirmed()
                }
            };
            for seq in &batch {
                p.handle_outcome(now, *seq, outcome());
            }
        }
        for d in deliveries(&mut p, now) {
            if let Delivery::Confirmed { id, .. } = d {
                got[partition_of[&id.seq]].push(id.seq);
            }
        }
        p.handle_timeout(now).unwrap();
        if got.iter().map(Vec::len).sum::<usize>() == 400 {
            break;
        }
    }
    assert_eq!(got, sent);
    assert!(p.is_idle());
}

/// The lane a message of `partition` (topic "t") goes to.
fn lane_of_partition(partition: i32) -> u16 {
    let mut p = producer();
    p.send(0, Message::new("t", b"x").with_partition(partition))
        .unwrap();
    let mut out = vec![0u8; 1 << 16];
    p.poll_transmit(0, &mut out).unwrap().unwrap().lane()
}

/// A frame whose length is damaged after start-up, in the part of the
/// journal a refill pass steps over for another lane: the pass must not
/// trust that length (it would land mid-frame and skip the messages after
/// it). Only the damaged message is lost; every other one of both lanes is
/// confirmed, in order.
#[test]
fn a_refill_pass_over_a_damaged_frame_loses_only_that_frame() {
    let a = 0;
    let b = (1..16)
        .find(|&b| lane_of_partition(b) != lane_of_partition(a))
        .unwrap();
    let mut p = producer();
    let mut sent: Vec<Vec<u64>> = vec![Vec::new(), Vec::new()];
    for i in 0..80u32 {
        let (k, partition) = if i % 2 == 0 { (0, a) } else { (1, b) };
        let value = i.to_le_bytes();
        sent[k].push(
            p.send(0, Message::new("t", &value).with_partition(partition))
                .unwrap(),
        );
    }
    // Windows hold 16: the 21st message of `b` is in its lane's overflow.
    // Make its frame's length 8 bytes longer.
    let victim = sent[1][20];
    let storage = p.storage_mut();
    let mut damaged = false;
    for id in storage.segment_ids() {
        let bytes = storage.segment_bytes(id).unwrap();
        for at in (0..bytes.len().saturating_sub(24)).step_by(8) {
            let lane = u16::from_le_bytes([bytes[at + 6], bytes[at + 7]]);
            if bytes[at + 8..at + 16] == victim.to_le_bytes() && lane == lane_of_partition(b) {
                bytes[at] = bytes[at].wrapping_add(8);
                damaged = true;
                break;
            }
        }
    }
    assert!(damaged, "frame of {victim} not found");

    let mut got: Vec<Vec<u64>> = vec![Vec::new(), Vec::new()];
    for now in 0..1000 {
        loop {
            let batch = transmit(&mut p, now);
            if batch.is_empty() {
                break;
            }
            for seq in &batch {
                p.handle_outcome(now, *seq, confirmed());
            }
        }
        for d in deliveries(&mut p, now) {
            if let Delivery::Confirmed { id, .. } = d {
                got[usize::from(sent[1].contains(&id.seq))].push(id.seq);
            }
        }
        p.handle_timeout(now).unwrap();
        if p.is_idle() {
            break;
        }
    }
    sent[1].retain(|s| *s != victim);
    assert_eq!(got, sent);
}

#[test]
fn a_full_journal_hands_the_message_back() {
    let mut cfg = config();
    cfg.budget = 20 << 10;
    let mut p = open_mem(MemStorage::new(), cfg, 0).0;
    let value = [7u8; 500];
    let err = loop {
        if let Err(e) = p.send(0, Message::new("t", &value)) {
            break e;
        }
    };
    assert!(
        matches!(err.kind, SendErrorKind::Full { budget, .. } if budget == 20 << 10),
        "{err}"
    );
    assert_eq!(err.message.value, Some(&value[..]));
}

#[test]
fn a_message_larger_than_an_entry_is_refused_with_the_limit() {
    let mut p = producer();
    let big = vec![0u8; 5000];
    let err = p.send(0, Message::new("t", &big)).unwrap_err();
    assert!(
        matches!(err.kind, SendErrorKind::TooLarge { limit: 1024, .. }),
        "{err}"
    );
    assert!(err.to_string().contains("limit is 1024"), "{err}");
}

#[test]
fn a_full_disk_is_refused_and_harms_nothing_journaled() {
    let mut storage = MemStorage::new();
    storage.capacity = Some(6_000);
    let mut p = open_mem(storage, config(), 0).0;
    let value = [1u8; 400];
    let mut accepted = 0;
    let err = loop {
        match p.send(0, Message::new("t", &value)) {
            Ok(_) => accepted += 1,
            Err(e) => break e,
        }
    };
    assert_eq!(err.kind, SendErrorKind::NoSpace, "{err}");
    p.sync(0).unwrap();
    let (_, report) = open_mem(p.storage().crash(false), config(), 0);
    assert_eq!(report.pending, accepted, "{report}");
}

/// Issue 12: a disk that stays full must not stop delivery. Ids go out only
/// under a durable reservation (a meta slot write every 65,536 seqs); if
/// that write needed new room (a meta slot never written before), a disk
/// full of pending messages would keep every one of them from being sent,
/// and nothing would ever free the disk. Here the disk is full whenever a
/// batch is built, and no timer writes the meta slots (time stands still):
/// only the reservation writes them.
#[test]
fn a_disk_full_of_pending_messages_still_delivers_past_a_reservation() {
    let mut storage = MemStorage::new();
    storage.capacity = Some(48 << 10);
    let config = Config {
        confirm_interval: 0,
        ..config()
    };
    let mut p = open_mem(storage, config, 0).0;
    let mut out = vec![0u8; 1 << 16];
    let mut delivered = 0u64;
    while delivered < 70_000 {
        // Fill the disk.
        let mut accepted = 0;
        let err = loop {
            match p.send(0, Message::new("t", b"twelve bytes")) {
                Ok(_) => accepted += 1,
                Err(e) => break e,
            }
        };
        assert_eq!(err.kind, SendErrorKind::NoSpace, "{err}");
        assert!(accepted > 0, "nothing fits after {delivered} delivered");
        p.sync(0).unwrap();
        // Deliver everything on the full disk.
        loop {
            let batch = match p.poll_transmit(0, &mut out) {
                Ok(Some(batch)) => batch,
                Ok(None) => break,
                Err(e) => panic!("no batch on a full disk after {delivered} delivered: {e}"),
            };
            let seqs: Vec<u64> = batch.records(&out).map(|r| r.unwrap().seq).collect();
            for seq in seqs {
                p.handle_outcome(0, seq, confirmed());
                delivered += deliveries(&mut p, 0).len() as u64;
            }
        }
        assert_eq!(p.stats().pending, 0, "after {delivered} delivered");
        // Journal the confirmations and delete what they free, with room
        // given back for it (as a runner gives up its ballast file).
        p.storage_mut().capacity = Some(52 << 10);
        p.handle_timeout(0).unwrap();
        p.storage_mut().capacity = Some(48 << 10);
    }
    // Past the first reservation (65,536 seqs): the second one was
    // written on a full disk too.
    assert!(p.stats().confirmed >= 70_000, "{:?}", p.stats());
}

#[test]
fn a_failed_sync_closes_the_journal() {
    let mut p = producer();
    p.send(0, Message::new("t", b"a")).unwrap();
    p.storage_mut().fail_syncs = true;
    assert!(p.sync(0).is_err());
    assert!(p.failed().is_some());
    let err = p.send(0, Message::new("t", b"b")).unwrap_err();
    assert!(matches!(err.kind, SendErrorKind::FailedClosed(_)), "{err}");
    assert!(!matches!(p.failed(), Some(StorageErrorKind::NoSpace)));
}

#[test]
fn the_sync_step_makes_durable_what_was_appended_when_it_was_asked_for() {
    let mut p = producer();
    assert!(p.poll_sync(0).is_none(), "open leaves everything synced");
    let a = p.send(0, Message::new("t", b"a")).unwrap();
    let first = p.poll_sync(0).expect("a sync is needed");
    assert_eq!(first.seq(), a);
    // Sends go on while the sync runs (a driver runs it outside its lock).
    let b = p.send(0, Message::new("t", b"b")).unwrap();
    let result = p.storage_mut().sync(first.segment());
    p.handle_synced(1, first, result).unwrap();
    assert!(p.is_synced(a));
    assert!(!p.is_synced(b), "b was appended after the request was made");
    assert!(p.needs_sync());
    let second = p.poll_sync(1).expect("b still needs a sync");
    assert_eq!(second.seq(), b);
    assert!(second.end() > first.end());
    let result = p.storage_mut().sync(second.segment());
    p.handle_synced(2, second, result).unwrap();
    // A late answer to an older request does not move durability back.
    p.handle_synced(3, first, Ok(())).unwrap();
    assert!(p.is_synced(b));
    assert_eq!(p.stats().synced_seq, b);
    assert!(p.poll_sync(3).is_none());
    // What the journal counts as synced survives a crash that loses the rest.
    let (_, report) = open_mem(p.storage().crash(false), config(), 0);
    assert_eq!(report.pending, 2, "{report}");
}

#[test]
fn a_failed_sync_step_fails_the_journal_closed() {
    let mut p = producer();
    let a = p.send(0, Message::new("t", b"a")).unwrap();
    let request = p.poll_sync(0).unwrap();
    p.storage_mut().fail_syncs = true;
    let result = p.storage_mut().sync(request.segment());
    assert!(result.is_err());
    assert!(p.handle_synced(1, request, result).is_err());
    assert!(!p.is_synced(a), "a failed sync makes nothing durable");
    assert!(p.failed().is_some());
    assert!(
        p.poll_sync(1).is_none(),
        "a failed journal asks for no more syncs"
    );
    assert!(p.sync(1).is_err());
    let err = p.send(1, Message::new("t", b"b")).unwrap_err();
    assert!(matches!(err.kind, SendErrorKind::FailedClosed(_)), "{err}");
}

#[test]
fn outcomes_for_unknown_records_are_ignored() {
    let mut p = producer();
    p.handle_outcome(0, 12345, confirmed());
    assert!(deliveries(&mut p, 0).is_empty());
    assert_eq!(p.stats().confirmed, 0);
}

#[test]
fn a_budget_below_the_minimum_is_refused_naming_it() {
    let minimum = TestProducer::min_budget(1024);
    assert_eq!(TestProducer::max_entry_for_budget(minimum), 1024);
    let mut cfg = config();
    cfg.budget = minimum - 1;
    let Err(failed) = TestProducer::open(MemStorage::new(), vec![0; 8192], cfg, 0) else {
        panic!("a budget below the minimum was accepted");
    };
    assert!(
        matches!(failed.error, OpenError::BudgetTooSmall { minimum: m, max_entry: 1024, .. } if m == minimum),
        "{}",
        failed.error
    );
    assert!(
        failed
            .error
            .to_string()
            .contains(&format!("minimum of {minimum} bytes"))
    );
    cfg.budget = minimum;
    let mut p = open_mem(MemStorage::new(), cfg, 0).0;
    // At the minimum a segment holds one message of the largest size.
    let value = [0u8; 900];
    p.send(0, Message::new("t", &value)).unwrap();
}

#[test]
fn a_full_budget_frees_space_as_deliveries_confirm() {
    // Segments are a quarter of the budget, however large the configured
    // segment size: confirmed messages in sealed segments are deleted and
    // the journal keeps taking messages, far more than it can hold.
    let mut cfg = config();
    cfg.segment_size = 64 << 20;
    cfg.budget = TestProducer::min_budget(1024) * 2;
    assert!(TestProducer::segment_size(&cfg) * 4 < cfg.budget);
    let mut p = open_mem(MemStorage::new(), cfg, 0).0;
    let value = [3u8; 300];
    let mut now = 0;
    let mut sent = 0;
    while sent < 2_000 {
        match p.send(now, Message::new("t", &value)) {
            Ok(_) => sent += 1,
            Err(e) => {
                assert!(matches!(e.kind, SendErrorKind::Full { .. }), "{e}");
                // Deliver everything, journal the confirmations.
                p.sync(now).unwrap();
                confirm_all(&mut p, now);
                now += 1_000;
                p.handle_timeout(now).unwrap();
            }
        }
        assert!(p.stats().journal_bytes <= cfg.budget, "{:?}", p.stats());
    }
}

#[test]
fn a_full_budget_seals_and_deletes_a_done_current_segment() {
    // One segment as large as the whole budget would never be deleted
    // (it is the current one): `send` seals it once all of it is done.
    let mut cfg = config();
    cfg.budget = TestProducer::min_budget(1024);
    cfg.segment_size = TestProducer::segment_size(&cfg);
    let mut p = open_mem(MemStorage::new(), cfg, 0).0;
    let value = [4u8; 200];
    let mut now = 1;
    for round in 0..50 {
        let mut accepted = 0;
        let full = loop {
            match p.send(now, Message::new("t", &value)) {
                Ok(_) => accepted += 1,
                Err(e) => break e,
            }
        };
        assert!(
            matches!(full.kind, SendErrorKind::Full { .. }),
            "round {round}: {full}"
        );
        assert!(
            accepted > 0 || round == 0 || p.stats().pending > 0,
            "round {round}: nothing accepted"
        );
        p.sync(now).unwrap();
        confirm_all(&mut p, now);
        now += 1;
        assert_eq!(p.stats().pending, 0, "round {round}: {:?}", p.stats());
        // No timer ran: `send` itself must free the space.
        p.send(now, Message::new("t", &value)).unwrap();
    }
}

#[test]
fn an_unknown_topic_is_retried_for_the_configured_wait_then_dead_lettered() {
    let mut cfg = config();
    cfg.unknown_topic_wait = 2_000;
    let mut p = open_mem(MemStorage::new(), cfg, 0).0;
    let a = p.send(0, Message::new("later", b"a")).unwrap();
    let (mut now, _) = next_transmit(&mut p, 0);
    let unknown = || Outcome::Failed(Failure::new(FailureClass::UnknownTopic, 3, "unknown topic"));
    p.handle_outcome(now, a, unknown());
    assert!(deliveries(&mut p, now).is_empty(), "retried, not dead-lettered");
    (now, _) = next_transmit(&mut p, now);
    now = now.max(2_000);
    p.handle_outcome(now, a, unknown());
    let d = deliveries(&mut p, now);
    assert!(
        matches!(&d[..], [Delivery::DeadLettered { failure, .. }] if failure.reason.contains("still unknown after")),
        "{d:?}"
    );
}

#[test]
fn failing_timer_work_backs_off_instead_of_spinning() {
    let mut p = producer();
    p.send(0, Message::new("t", b"a")).unwrap();
    p.storage_mut().fail_syncs = true;
    assert!(p.handle_timeout(10).is_err());
    let next = p.poll_timeout(10).unwrap();
    assert!(
        next >= 10 + steadfast_core::delivery::TIMER_RETRY,
        "due at {next}: the driver would spin"
    );
}
