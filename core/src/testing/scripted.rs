//! A transport whose answers come from a script.

extern crate alloc;

use alloc::boxed::Box;
use alloc::collections::VecDeque;
use alloc::string::{String, ToString};
use alloc::vec::Vec;

use crate::message::{MessageId, Seq};
use crate::transport::{Millis, Outcome, OutgoingRecord, Transport};

/// A record the scripted broker accepted.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Delivered {
    /// Its id.
    pub id: MessageId,
    /// Topic.
    pub topic: String,
    /// Partition it was sent to (`None`: partitioner's choice).
    pub partition: Option<i32>,
    /// Its value.
    pub value: Option<Vec<u8>>,
}

type Script = Box<dyn FnMut(&OutgoingRecord<'_>) -> (Outcome, bool)>;

/// Answers each submitted record with what the script returns: the outcome
/// to report and whether the broker really wrote the record (a lost
/// acknowledgement is "written, reported Unknown").
pub struct ScriptedTransport {
    script: Script,
    queue: VecDeque<(Seq, Outcome)>,
    /// Everything the broker wrote, in order, duplicates included.
    pub delivered: Vec<Delivered>,
    /// Batches submitted.
    pub batches: usize,
}

impl ScriptedTransport {
    /// A broker that accepts everything.
    pub fn accept_all() -> Self {
        Self::new(|_| {
            (
                Outcome::Confirmed {
                    partition: 0,
                    offset: -1,
                },
                true,
            )
        })
    }

    /// A transport driven by `script`.
    pub fn new(script: impl FnMut(&OutgoingRecord<'_>) -> (Outcome, bool) + 'static) -> Self {
        ScriptedTransport {
            script: Box::new(script),
            queue: VecDeque::new(),
            delivered: Vec::new(),
            batches: 0,
        }
    }
}

impl Transport for ScriptedTransport {
    fn submit(&mut self, _now: Millis, records: &[OutgoingRecord<'_>]) {
        self.batches += 1;
        for r in records {
            let (outcome, written) = (self.script)(r);
            if written {
                self.delivered.push(Delivered {
                    id: r.id,
                    topic: r.message.topic.to_string(),
                    partition: r.message.partition,
                    value: r.message.value.map(<[u8]>::to_vec),
                });
            }
            self.queue.push_back((r.seq, outcome));
        }
    }

    fn poll(&mut self, _now: Millis, _timeout: Millis, report: &mut dyn FnMut(Seq, Outcome)) -> usize {
        let n = self.queue.len();
        while let Some((seq, outcome)) = self.queue.pop_front() {
            report(seq, outcome);
        }
        n
    }

    fn in_flight(&self) -> usize {
        self.queue.len()
    }
}
