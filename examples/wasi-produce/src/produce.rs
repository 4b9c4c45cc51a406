//! Produce mode: lines in, `sent LINE ID` out once each is journaled.
//!
//! ```text
//!  read up to --batch lines ─▶ send_batch (journal + one fsync) ─▶ print ids
//!          ▲                                                          │
//!          └──────────── poll(0): one driver round (one HTTP ◀────────┘
//!                        request per ready lane, outcomes fed back)
//!  end of input ─▶ poll until idle or --drain-timeout ─▶ close ─▶ summary
//! ```
//!
//! A line is printed only after `send_batch` returned its id, so every
//! printed id is durable: after a crash the next run on the same journal
//! delivers it. A line being journaled when the process died is not printed
//! and may or may not be in the journal; resending it (`--skip` the lines
//! printed) can make a duplicate, never a loss.

use std::fs::File;
use std::io::{BufRead, BufReader, Write};
use std::process::ExitCode;
use std::time::Duration;

use steadfast::{OwnedMessage, Producer, clock};

use crate::args::Produce;
use crate::open::{Notes, open};

/// Longest one `poll` waits while draining (retry backoffs are shorter or
/// end the wait early).
const DRAIN_STEP: Duration = Duration::from_millis(100);

/// Runs produce mode; the exit code says whether everything was confirmed.
pub fn run(args: &Produce) -> Result<ExitCode, String> {
    let started = clock::now();
    let (producer, counts) = open(&args.common, steadfast::Config::default(), |rest| rest)?;
    eprintln!("{}", producer.recovery_report());
    let mut notes = Notes::default();
    notes.report(&producer);

    let input: Box<dyn BufRead> = match &args.input {
        Some(path) => Box::new(BufReader::new(
            File::open(path).map_err(|e| format!("cannot open {}: {e}", path.display()))?,
        )),
        None => Box::new(std::io::stdin().lock()),
    };
    let topic = args.common.topic.clone();
    let mut out = std::io::stdout().lock();
    let mut batch: Vec<(u64, OwnedMessage)> = Vec::with_capacity(args.batch);
    let mut sent = 0u64;
    let mut line_no = 0u64;
    for line in input.split(b'\n') {
        let mut line = line.map_err(|e| format!("reading input: {e}"))?;
        line_no += 1;
        if line_no <= args.skip {
            continue;
        }
        if line.last() == Some(&b'\r') {
            line.pop();
        }
        batch.push((line_no, OwnedMessage::new(topic.clone(), line)));
        if batch.len() >= args.batch {
            sent += send(&producer, &mut batch, &mut out, args.quiet)?;
            producer.poll(Duration::ZERO);
            notes.report(&producer);
        }
    }
    sent += send(&producer, &mut batch, &mut out, args.quiet)?;

    // Deliver what is left, for at most the drain timeout.
    let deadline = clock::deadline_after(args.drain_timeout);
    let left = || deadline.map_or(Duration::MAX, clock::remaining);
    loop {
        let status = producer.poll(left().min(DRAIN_STEP));
        if status.idle || status.stopped || left().is_zero() {
            break;
        }
    }
    notes.report(&producer);
    let stats = producer.stats();
    let report = producer
        .close(left().min(Duration::from_secs(1)))
        .map_err(|e| e.to_string())?;
    let elapsed = clock::now().saturating_duration_since(started);
    writeln!(
        out,
        "summary: sent {sent} confirmed {} dead-lettered {} left-journaled {} retried {} in {:.3} s",
        counts.confirmed(),
        counts.dead_lettered(),
        report.pending,
        stats.retried,
        elapsed.as_secs_f64(),
    )
    .map_err(|e| format!("writing output: {e}"))?;
    if report.pending > 0 {
        eprintln!(
            "{} messages not confirmed within the drain timeout stay in the journal; \
             run again with the same --journal to deliver them",
            report.pending
        );
        return Ok(ExitCode::from(3));
    }
    Ok(ExitCode::SUCCESS)
}

/// Journals `batch` (one fsync), then prints `sent LINE ID` for each.
fn send(
    producer: &Producer,
    batch: &mut Vec<(u64, OwnedMessage)>,
    out: &mut impl Write,
    quiet: bool,
) -> Result<u64, String> {
    if batch.is_empty() {
        return Ok(0);
    }
    let (lines, messages): (Vec<u64>, Vec<OwnedMessage>) = batch.drain(..).unzip();
    let (ids, stopped) = match producer.send_batch(messages) {
        Ok(ids) => (ids, None),
        Err(e) => (e.accepted.clone(), Some(e)),
    };
    if !quiet {
        for (line, id) in lines.iter().zip(&ids) {
            writeln!(out, "sent {line} {id}").map_err(|e| format!("writing output: {e}"))?;
        }
        out.flush().map_err(|e| format!("writing output: {e}"))?;
    }
    match stopped {
        None => Ok(ids.len() as u64),
        Some(e) => {
            let first = lines.get(ids.len()).copied().unwrap_or_default();
            Err(format!("line {first} and later were not journaled: {e}"))
        }
    }
}
