//! Bench mode: messages per second through the whole producer (journal,
//! fsync, REST transport, confirmations journaled) against records per
//! REST request, for each message size.
//!
//! One measurement: a fresh journal whose batches hold at most `B` records,
//! then for `--seconds` (or `--max-count` messages): journal `B` messages
//! with one `send_batch` (one fsync under `--sync always`), run one driver
//! round (one HTTP request of `B` records), and so on; then poll until
//! every message is confirmed. The rate is confirmed messages over the
//! whole time, drain included. Single-threaded, as under WASI: journaling
//! and HTTP take turns.
//!
//! With `--repeat N` each row is the median of N measurements (by rate).
//!
//! The table also gives the records per request actually achieved (the
//! transport is wrapped to count its submits: one submit of one topic is
//! one HTTP request below the body cap). A lane never has more than the
//! core's window (128 records) in flight, so no request carries more than
//! 128 records whatever the batch setting.

use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::Duration;

use steadfast::core::{Millis, Outcome, OutgoingRecord, Seq, Transport};
use steadfast::{Config, OwnedMessage, clock};

use crate::args::Bench;
use crate::open::open;

/// Longest the drain after a measurement may take.
const DRAIN_LIMIT: Duration = Duration::from_secs(120);

/// Where the program runs, for the table.
const PLATFORM: &str = if cfg!(target_os = "wasi") {
    "wasm32-wasip2 (wasmtime)"
} else {
    "native"
};

/// Runs every measurement and prints a Markdown table row for each.
pub fn run(args: &Bench) -> Result<(), String> {
    println!(
        "| platform | message bytes | batch | records/request | messages | seconds | messages/s | MB/s (payload) |"
    );
    println!("|---|---:|---:|---:|---:|---:|---:|---:|");
    for &size in &args.sizes {
        for &batch in &args.batches {
            // The median of `repeat` runs, by rate.
            let mut runs = (0..args.repeat.max(1))
                .map(|_| measure(args, size, batch))
                .collect::<Result<Vec<_>, _>>()?;
            runs.sort_by(|a, b| rate(a.0, a.1).total_cmp(&rate(b.0, b.1)));
            let (count, elapsed, requests) = runs[runs.len() / 2];
            let secs = elapsed.as_secs_f64().max(1e-9);
            let rate = rate(count, elapsed);
            println!(
                "| {PLATFORM} | {size} | {batch} | {:.1} | {count} | {secs:.2} | {rate:.0} | {:.2} |",
                count as f64 / requests.max(1) as f64,
                rate * size as f64 / 1e6
            );
        }
    }
    Ok(())
}

/// Messages per second.
fn rate(count: u64, elapsed: Duration) -> f64 {
    count as f64 / elapsed.as_secs_f64().max(1e-9)
}

/// One measurement; returns messages confirmed, the time taken and the
/// number of transport submits (HTTP requests).
fn measure(args: &Bench, size: usize, batch: usize) -> Result<(u64, Duration, u64), String> {
    let journal = args.common.journal.join(format!("bench-{size}-{batch}"));
    remove(&journal)?;
    let config = Config {
        max_batch_records: batch.min(steadfast::core::MAX_BATCH),
        ..Config::default()
    };
    let common = crate::args::Common {
        journal: journal.clone(),
        ..args.common.clone()
    };
    let submits = Arc::new(AtomicU64::new(0));
    let counted = Arc::clone(&submits);
    let (producer, counts) = open(&common, config, move |rest| Counting {
        inner: rest,
        submits: counted,
    })?;
    let topic = args.common.topic.clone();
    let payload = vec![b'x'; size];

    let started = clock::now();
    let mut sent = 0u64;
    while sent < args.max_count && clock::now().saturating_duration_since(started) < args.seconds {
        let n = (batch as u64).min(args.max_count - sent);
        let messages: Vec<OwnedMessage> = (0..n)
            .map(|_| OwnedMessage::new(topic.clone(), payload.clone()))
            .collect();
        producer.send_batch(messages).map_err(|e| e.to_string())?;
        sent += n;
        producer.poll(Duration::ZERO);
    }
    let deadline = clock::deadline_after(DRAIN_LIMIT);
    loop {
        let left = deadline.map_or(Duration::MAX, clock::remaining);
        let status = producer.poll(left.min(Duration::from_millis(100)));
        if status.idle || status.stopped || left.is_zero() {
            break;
        }
    }
    let elapsed = clock::now().saturating_duration_since(started);
    let report = producer
        .close(Duration::from_secs(1))
        .map_err(|e| e.to_string())?;
    remove(&journal)?;
    let confirmed = counts.confirmed();
    if confirmed != sent || report.pending > 0 {
        return Err(format!(
            "size {size}, batch {batch}: {sent} sent but {confirmed} confirmed, {} dead-lettered, {} pending",
            counts.dead_lettered(),
            report.pending
        ));
    }
    Ok((confirmed, elapsed, submits.load(Ordering::Relaxed)))
}

/// A transport that counts the submits it passes on.
struct Counting<T> {
    inner: T,
    submits: Arc<AtomicU64>,
}

impl<T: Transport> Transport for Counting<T> {
    fn submit(&mut self, now: Millis, records: &[OutgoingRecord<'_>]) {
        self.submits.fetch_add(1, Ordering::Relaxed);
        self.inner.submit(now, records);
    }

    fn poll(&mut self, now: Millis, timeout: Millis, report: &mut dyn FnMut(Seq, Outcome)) -> usize {
        self.inner.poll(now, timeout, report)
    }

    fn in_flight(&self) -> usize {
        self.inner.in_flight()
    }
}

fn remove(dir: &std::path::Path) -> Result<(), String> {
    match std::fs::remove_dir_all(dir) {
        Ok(()) => Ok(()),
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => Ok(()),
        Err(e) => Err(format!("cannot remove {}: {e}", dir.display())),
    }
}
