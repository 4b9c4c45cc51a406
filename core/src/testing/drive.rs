//! The driver loop of the crate docs, as a function tests can call.

extern crate alloc;

use alloc::vec;
use alloc::vec::Vec;

use super::MemStorage;
use crate::delivery::{Config, Delivery, Producer};
use crate::journal::report::RecoveryReport;
use crate::transport::{Millis, OutgoingRecord, Transport};

/// A producer over [`MemStorage`] with small capacities.
pub type TestProducer = Producer<MemStorage, Vec<u8>, 4, 16, 64>;

/// Opens a [`TestProducer`] on `storage`, panicking on failure (tests only).
pub fn open_mem(storage: MemStorage, config: Config, now: Millis) -> (TestProducer, RecoveryReport) {
    let buf = vec![0u8; TestProducer::buffer_len(&config)];
    match TestProducer::open(storage, buf, config, now) {
        Ok(ok) => ok,
        Err(failed) => panic!("open failed: {:?}", failed.error),
    }
}

/// Runs `rounds` iterations of the driver loop: sync if needed, transmit
/// every ready batch, collect outcomes, run timers. Time advances to the
/// next deadline each round. Returns the deliveries and the final time.
pub fn drive<S, T, const L: usize, const W: usize, const G: usize>(
    producer: &mut Producer<S, Vec<u8>, L, W, G>,
    transport: &mut T,
    mut now: Millis,
    rounds: usize,
) -> (Vec<Delivery>, Millis)
where
    S: crate::storage::Storage,
    T: Transport,
{
    let mut out = vec![0u8; 1 << 20];
    let mut deliveries = Vec::new();
    for _ in 0..rounds {
        if let Some(request) = producer.poll_sync(now) {
            let result = producer.storage_mut().sync(request.segment());
            let _ = producer.handle_synced(now, request, result);
        }
        while let Ok(Some(batch)) = producer.poll_transmit(now, &mut out) {
            let records: Vec<OutgoingRecord<'_>> = batch.records(&out).filter_map(Result::ok).collect();
            transport.submit(now, &records);
        }
        let mut outcomes = Vec::new();
        transport.poll(now, 0, &mut |seq, outcome| outcomes.push((seq, outcome)));
        for (seq, outcome) in outcomes {
            producer.handle_outcome(now, seq, outcome);
        }
        while let Some(d) = producer.poll_delivery(now) {
            deliveries.push(d);
        }
        let _ = producer.handle_timeout(now);
        let next = producer.poll_timeout(now);
        if next.is_none() && producer.is_idle() && transport.in_flight() == 0 {
            break;
        }
        now = match next {
            Some(t) if t > now => t,
            _ => now + 1,
        };
    }
    (deliveries, now)
}
