//! Transports that ship with the runner: a file "broker" for tests, demos
//! and journal-only benchmarks, and two trivial ones for measuring the
//! journal alone. The REST and Kafka transports live in
//! `steadfast-transports`; any [`Transport`] + `Send` can be given to
//! [`Producer`](crate::Producer).

mod file;

pub use file::{DeliveredFile, DeliveredRecord, FileTransport, RejectFn, encode_line, read_delivered};
use steadfast_core::{Millis, Outcome, OutgoingRecord, Seq, Transport};

/// Accepts records and never answers: they stay in flight, so nothing is
/// ever confirmed. For building a backlog and for benchmarks of the journal
/// alone. (Each lane has one batch in flight, so after the first batch per
/// lane nothing more is read back.)
#[derive(Debug, Default)]
pub struct HoldTransport {
    held: usize,
}

impl Transport for HoldTransport {
    fn submit(&mut self, _now: Millis, records: &[OutgoingRecord<'_>]) {
        self.held += records.len();
    }
    fn poll(&mut self, _: Millis, _: Millis, _: &mut dyn FnMut(Seq, Outcome)) -> usize {
        0
    }
    fn in_flight(&self) -> usize {
        // Reported as idle so the driver does not poll it in a loop.
        0
    }
}

/// Confirms every record at once without sending it anywhere. For
/// measuring the journal's read-back and bookkeeping cost.
#[derive(Debug, Default)]
pub struct AckTransport {
    outcomes: Vec<Seq>,
}

impl Transport for AckTransport {
    fn submit(&mut self, _now: Millis, records: &[OutgoingRecord<'_>]) {
        self.outcomes.extend(records.iter().map(|r| r.seq));
    }
    fn poll(&mut self, _: Millis, _: Millis, report: &mut dyn FnMut(Seq, Outcome)) -> usize {
        let n = self.outcomes.len();
        for seq in self.outcomes.drain(..) {
            report(
                seq,
                Outcome::Confirmed {
                    partition: 0,
                    offset: -1,
                },
            );
        }
        n
    }
    fn in_flight(&self) -> usize {
        self.outcomes.len()
    }
}
