//! A transport wrapper that lets the tool see what the broker says.
//!
//! The producer retries retriable failures on its own and only tells the
//! user about confirmations and dead letters; a person watching a backlog
//! that does not drain wants to know *why*. [`Observed`] passes every call
//! through unchanged and records each failure: counts per class, the last
//! one, and a notice the first time each kind (class and code) is seen.

use std::collections::HashSet;
use std::sync::{Arc, Mutex, MutexGuard, PoisonError};

use steadfast::core::{Millis, OutgoingRecord, Seq, Transport};
use steadfast::{FailureClass, core::Outcome};

/// What the transport reported so far.
#[derive(Debug, Default)]
pub struct News {
    /// Records confirmed.
    pub confirmed: u64,
    /// Failures whose outcome is unknown (the record may be in the topic
    /// and is sent again: a possible duplicate).
    pub unknown: u64,
    /// Retriable failures.
    pub retriable: u64,
    /// Unknown-topic failures.
    pub unknown_topic: u64,
    /// Terminal failures.
    pub terminal: u64,
    /// The last failure: class, code, reason.
    pub last: Option<(FailureClass, i32, String)>,
    /// Failure kinds seen for the first time, not yet shown.
    pub fresh: Vec<(FailureClass, i32, String, String)>,
    /// Kinds already announced: class, code (0 for unknown topics), topic.
    seen: HashSet<(u8, i32, String)>,
}

impl News {
    /// Takes the notices not yet shown: `(class, code, reason, topic)`.
    pub fn take_fresh(&mut self) -> Vec<(FailureClass, i32, String, String)> {
        std::mem::take(&mut self.fresh)
    }
}

/// Shared handle on the [`News`].
#[derive(Clone, Debug, Default)]
pub struct Newsroom(Arc<Mutex<News>>);

impl Newsroom {
    /// Locks the news.
    pub fn lock(&self) -> MutexGuard<'_, News> {
        self.0.lock().unwrap_or_else(PoisonError::into_inner)
    }
}

/// Passes everything to `inner`, noting each outcome in the [`Newsroom`].
pub struct Observed {
    inner: Box<dyn Transport + Send>,
    news: Newsroom,
    /// Topic of each record in flight, by seq (for notices).
    topics: std::collections::HashMap<Seq, String>,
}

impl Observed {
    /// Wraps `inner`.
    pub fn new(inner: Box<dyn Transport + Send>, news: Newsroom) -> Self {
        Observed {
            inner,
            news,
            topics: std::collections::HashMap::new(),
        }
    }
}

fn class_tag(class: FailureClass) -> u8 {
    match class {
        FailureClass::Retriable => 0,
        FailureClass::Terminal => 1,
        FailureClass::Unknown => 2,
        FailureClass::UnknownTopic => 3,
        _ => 4,
    }
}

impl Transport for Observed {
    fn submit(&mut self, now: Millis, records: &[OutgoingRecord<'_>]) {
        // Topics are remembered only while notices may still be needed.
        if self.topics.len() < 1 << 16 {
            for r in records {
                self.topics.insert(r.seq, r.message.topic.to_owned());
            }
        }
        self.inner.submit(now, records);
    }

    fn poll(&mut self, now: Millis, timeout: Millis, report: &mut dyn FnMut(Seq, Outcome)) -> usize {
        let news = &self.news;
        let topics = &mut self.topics;
        self.inner.poll(now, timeout, &mut |seq, outcome| {
            let topic = topics.remove(&seq).unwrap_or_default();
            {
                let mut n = news.lock();
                match &outcome {
                    Outcome::Confirmed { .. } => n.confirmed += 1,
                    Outcome::Failed(f) => {
                        match f.class {
                            FailureClass::Unknown => n.unknown += 1,
                            FailureClass::Retriable => n.retriable += 1,
                            FailureClass::UnknownTopic => n.unknown_topic += 1,
                            _ => n.terminal += 1,
                        }
                        let reason = f.reason.to_string();
                        let kind = match f.class {
                            FailureClass::UnknownTopic => (class_tag(f.class), 0, topic.clone()),
                            _ => (class_tag(f.class), f.code, String::new()),
                        };
                        if n.seen.insert(kind) {
                            n.fresh.push((f.class, f.code, reason.clone(), topic));
                        }
                        n.last = Some((f.class, f.code, reason));
                    }
                }
            }
            report(seq, outcome);
        })
    }

    fn in_flight(&self) -> usize {
        self.inner.in_flight()
    }
}
