//! What the test server remembers: its topics and the records each
//! partition accepted (in offset order), the faults a test armed, and a log
//! of the requests it saw.
//!
//! Everything lives behind one mutex, shared by the connection threads and
//! the [`RestProxy`](super::RestProxy) handle a test holds.

use core::sync::atomic::{AtomicBool, Ordering};
use core::time::Duration;
use std::collections::BTreeMap;
use std::net::{Shutdown, TcpStream};
use std::sync::{Condvar, Mutex, MutexGuard, PoisonError};
use std::time::Instant;

use super::config::{Fault, ProxyConfig, Times};

/// One record as a partition stored it.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct StoredRecord {
    /// Partition it landed in.
    pub partition: i32,
    /// Its offset there.
    pub offset: i64,
    /// Key (`None`: a Kafka null).
    pub key: Option<Vec<u8>>,
    /// Value (`None`: a tombstone).
    pub value: Option<Vec<u8>>,
    /// Record headers, in order (v3 only; v2 cannot carry them).
    pub headers: Vec<(String, Option<Vec<u8>>)>,
    /// The timestamp as the request wrote it (v3 only).
    pub timestamp: Option<String>,
}

impl StoredRecord {
    /// The value of the first header called `name`.
    pub fn header(&self, name: &str) -> Option<&[u8]> {
        self.headers
            .iter()
            .find(|(n, _)| n == name)
            .and_then(|(_, v)| v.as_deref())
    }
}

/// A request the server saw.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct SeenRequest {
    /// `GET`, `POST`, …
    pub method: String,
    /// Path as sent (prefix included).
    pub path: String,
    /// Request body length in bytes.
    pub body_len: usize,
    /// Status answered (0 when the server never answered or reset).
    pub status: u16,
}

/// A record about to be produced, as a request described it.
#[derive(Clone, Debug)]
pub(crate) struct Incoming {
    pub partition: Option<i32>,
    pub key: Option<Vec<u8>>,
    pub value: Option<Vec<u8>>,
    pub headers: Vec<(String, Option<Vec<u8>>)>,
    pub timestamp: Option<String>,
}

/// Why a record was not written (each flavor words it its own way).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) enum RecordError {
    Retriable,
    Terminal,
    Throttled,
    NoSuchPartition,
    TooLarge,
}

/// An armed fault.
#[derive(Debug)]
struct Armed {
    fault: Fault,
    remaining: Option<usize>,
    since: Instant,
}

#[derive(Debug, Default)]
struct State {
    /// Topic → partitions → records in offset order.
    topics: BTreeMap<String, Vec<Vec<StoredRecord>>>,
    faults: Vec<Armed>,
    /// Records looked at by produce requests so far (for "every Nth").
    records_seen: u64,
    round_robin: u32,
    requests: Vec<SeenRequest>,
    connections: Vec<(u64, TcpStream)>,
    next_connection: u64,
}

/// The server's shared state.
#[derive(Debug)]
pub(crate) struct Shared {
    pub config: ProxyConfig,
    pub stopping: AtomicBool,
    state: Mutex<State>,
    stopped: Condvar,
}

impl Shared {
    pub fn new(config: ProxyConfig) -> Shared {
        let mut state = State::default();
        for (name, partitions) in &config.topics {
            state.topics.insert(
                name.clone(),
                vec![Vec::new(); usize::try_from(*partitions).unwrap_or(1)],
            );
        }
        Shared {
            config,
            stopping: AtomicBool::new(false),
            state: Mutex::new(state),
            stopped: Condvar::new(),
        }
    }

    fn lock(&self) -> MutexGuard<'_, State> {
        // A panicking test thread must not take the server down with it.
        self.state.lock().unwrap_or_else(PoisonError::into_inner)
    }

    pub fn track(&self, stream: TcpStream) -> u64 {
        let mut state = self.lock();
        state.next_connection += 1;
        let id = state.next_connection;
        state.connections.push((id, stream));
        id
    }

    pub fn untrack(&self, id: u64) {
        self.lock().connections.retain(|(c, _)| *c != id);
    }

    /// Stops: wakes hung connections and closes every open one.
    pub fn stop(&self) {
        self.stopping.store(true, Ordering::SeqCst);
        let mut state = self.lock();
        for (_, stream) in state.connections.drain(..) {
            let _ = stream.shutdown(Shutdown::Both);
        }
        self.stopped.notify_all();
    }

    pub fn wait_until_stopped(&self) {
        let mut state = self.lock();
        while !self.stopping.load(Ordering::SeqCst) {
            state = self.stopped.wait(state).unwrap_or_else(PoisonError::into_inner);
        }
    }

    /// Waits `delay`, or less if the server stops.
    pub fn pause(&self, delay: Duration) {
        let state = self.lock();
        let _unused = self
            .stopped
            .wait_timeout_while(state, delay, |_| !self.stopping.load(Ordering::SeqCst))
            .unwrap_or_else(PoisonError::into_inner);
    }

    pub fn log_request(&self, seen: SeenRequest) {
        self.lock().requests.push(seen);
    }

    pub fn requests(&self) -> Vec<SeenRequest> {
        self.lock().requests.clone()
    }

    pub fn create_topic(&self, name: &str, partitions: i32) {
        let count = usize::try_from(partitions).unwrap_or(1).max(1);
        self.lock()
            .topics
            .entry(name.to_owned())
            .or_insert_with(|| vec![Vec::new(); count]);
    }

    pub fn partitions(&self, topic: &str) -> Option<i32> {
        let state = self.lock();
        let count = state.topics.get(topic)?.len();
        i32::try_from(count).ok()
    }

    pub fn log(&self, topic: &str) -> Vec<StoredRecord> {
        let state = self.lock();
        state
            .topics
            .get(topic)
            .map(|parts| parts.iter().flatten().cloned().collect())
            .unwrap_or_default()
    }

    pub fn arm(&self, fault: Fault, times: Times) {
        let remaining = match times {
            Times::Always => None,
            Times::Next(n) => Some(n),
        };
        #[allow(
            clippy::disallowed_methods,
            reason = "a real server on real time: faults like UnknownTopicFor last a wall-clock while"
        )]
        let since = Instant::now();
        self.lock().faults.push(Armed {
            fault,
            remaining,
            since,
        });
    }

    pub fn clear_faults(&self) {
        self.lock().faults.clear();
    }

    /// The request-level fault for this produce request, if one is armed
    /// (consumes one use of it).
    pub fn take_request_fault(&self) -> Option<Fault> {
        let mut state = self.lock();
        let index = state
            .faults
            .iter()
            .position(|a| a.fault.is_request_level() && a.remaining != Some(0))?;
        let armed = &mut state.faults[index];
        if let Some(left) = &mut armed.remaining {
            *left -= 1;
        }
        Some(armed.fault.clone())
    }

    /// True while an `UnknownTopicFor` fault hides topics.
    pub fn topics_hidden(&self) -> bool {
        #[allow(clippy::disallowed_methods, reason = "see `arm`")]
        let now = Instant::now();
        self.lock().faults.iter().any(|a| match a.fault {
            Fault::UnknownTopicFor(d) => now.duration_since(a.since) < d,
            _ => false,
        })
    }

    /// Chooses each record's partition and whether a record-level fault
    /// fails it; nothing is written yet.
    pub fn plan(&self, topic: &str, records: &[Incoming]) -> Vec<(i32, Option<RecordError>)> {
        let mut state = self.lock();
        let partitions = state.topics.get(topic).map_or(1, Vec::len);
        let partitions = i32::try_from(partitions).unwrap_or(1);
        let max_record = self.config.max_record_bytes;
        let mut plan = Vec::with_capacity(records.len());
        for record in records {
            state.records_seen += 1;
            let seen = state.records_seen;
            let partition = match (record.partition, &record.key) {
                (Some(p), _) => p,
                (None, Some(key)) => (fnv1a(key) % partitions.unsigned_abs()) as i32,
                (None, None) => {
                    state.round_robin = state.round_robin.wrapping_add(1);
                    (state.round_robin % partitions.unsigned_abs()) as i32
                }
            };
            let size = record.key.as_ref().map_or(0, Vec::len) + record.value.as_ref().map_or(0, Vec::len);
            let error = if !(0..partitions).contains(&partition) {
                Some(RecordError::NoSuchPartition)
            } else if size > max_record {
                Some(RecordError::TooLarge)
            } else {
                state.faults.iter().find_map(|a| match a.fault {
                    Fault::FailEveryNth { n, retriable } if n > 0 && seen.is_multiple_of(n as u64) => {
                        Some(if retriable {
                            RecordError::Retriable
                        } else {
                            RecordError::Terminal
                        })
                    }
                    Fault::ThrottleEveryNth(n) if n > 0 && seen.is_multiple_of(n as u64) => {
                        Some(RecordError::Throttled)
                    }
                    _ => None,
                })
            };
            plan.push((partition, error));
        }
        plan
    }

    /// Appends a record; returns its offset.
    pub fn append(&self, topic: &str, partition: i32, record: &Incoming) -> i64 {
        let mut state = self.lock();
        let Some(log) = state
            .topics
            .get_mut(topic)
            .and_then(|parts| parts.get_mut(usize::try_from(partition).ok()?))
        else {
            return -1;
        };
        let offset = i64::try_from(log.len()).unwrap_or(i64::MAX);
        log.push(StoredRecord {
            partition,
            offset,
            key: record.key.clone(),
            value: record.value.clone(),
            headers: record.headers.clone(),
            timestamp: record.timestamp.clone(),
        });
        offset
    }
}

/// FNV-1a: a stable key hash for the partitioner.
fn fnv1a(bytes: &[u8]) -> u32 {
    bytes.iter().fold(0x811c_9dc5_u32, |hash, &b| {
        (hash ^ u32::from(b)).wrapping_mul(0x0100_0193)
    })
}
