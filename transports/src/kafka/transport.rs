//! [`KafkaTransport`]: the core's [`Transport`] over an idempotent
//! librdkafka producer.
//!
//! `submit` enqueues records into librdkafka without blocking, each carrying
//! its journal sequence number as the delivery opaque. librdkafka's polling
//! thread (rdkafka's `ThreadedProducer`) turns every delivery report into a
//! `(Seq, Outcome)` pair on a channel, and `poll` hands them to the core as
//! soon as the first one arrives (or when its timeout passes).
//!
//! ```text
//! submit ──► librdkafka queue ──► broker ──► delivery report ──► channel ──► poll ──► core
//!    └─ enqueue refused (queue full, too large, bad topic) ──────► local ─────┘
//! ```
//!
//! Ordering: records of one `submit` are enqueued in order; if one is
//! refused with a Retriable or Unknown failure, the rest of the batch is held
//! back (reported Retriable) so that nothing overtakes it. A Terminal refusal
//! does not hold back the rest: that record will never be written.
//!
//! A fatal producer error (an idempotence invariant broken beyond repair)
//! makes librdkafka fail everything with `Fatal`; the transport then builds
//! a fresh producer on the next `submit`, and the core resends.
//!
//! Dropping (or [`close`](KafkaTransport::close)) flushes for at most the
//! configured close timeout, then purges: records still unconfirmed stay in
//! the journal upstream and are sent again on the next start.

use core::fmt;
use core::sync::atomic::{AtomicBool, Ordering};
use core::time::Duration;
use std::collections::VecDeque;
use std::sync::Arc;
use std::sync::mpsc::{self, Receiver, RecvTimeoutError, Sender};

use rdkafka::bindings::{rd_kafka_message_status, rd_kafka_msg_status_t};
use rdkafka::error::{KafkaError, RDKafkaErrorCode};
use rdkafka::message::{BorrowedMessage, Header, OwnedHeaders};
use rdkafka::producer::{BaseRecord, DeliveryResult, Producer, ProducerContext, ThreadedProducer};
use rdkafka::{ClientConfig, ClientContext, Message as _};
use steadfast_core::{
    Failure, FailureClass, MESSAGE_ID_HEADER, MESSAGE_ID_LEN, Millis, Outcome, OutgoingRecord, Seq, Transport,
};

use super::classify::{Persistence, failure};
use super::config::{ConfigError, KafkaConfig};

/// One outcome on its way from librdkafka's thread to `poll`.
type Report = (Seq, Outcome);

/// The producer context: forwards delivery reports, notices fatal errors.
struct Reporter {
    reports: Sender<Report>,
    fatal: Arc<AtomicBool>,
}

impl ClientContext for Reporter {
    fn error(&self, _error: KafkaError, _reason: &str) {
        // Global errors (a broker down, a reconnect, a fatal idempotence
        // error) reach the core per record through delivery reports; a fatal
        // one is noticed through `fatal_error()` on the next submit.
    }
}

impl ProducerContext for Reporter {
    type DeliveryOpaque = Box<Seq>;

    fn delivery(&self, result: &DeliveryResult<'_>, seq: Box<Seq>) {
        let outcome = match result {
            Ok(message) => Outcome::Confirmed {
                partition: message.partition(),
                offset: message.offset(),
            },
            Err((error, message)) => {
                let code = error.rdkafka_error_code().unwrap_or(RDKafkaErrorCode::Unknown);
                if code == RDKafkaErrorCode::Fatal {
                    self.fatal.store(true, Ordering::Relaxed);
                }
                Outcome::Failed(failure(code, Some(persistence(message))))
            }
        };
        // The receiver is gone only while the transport is being dropped;
        // those outcomes have nobody left to hear them.
        let _ = self.reports.send((*seq, outcome));
    }
}

/// librdkafka's verdict on whether a failed record may be in the log.
fn persistence(message: &BorrowedMessage<'_>) -> Persistence {
    // SAFETY: `message.ptr()` is the live message of this delivery report;
    // `rd_kafka_message_status` only reads its status field.
    let status = unsafe { rd_kafka_message_status(message.ptr()) };
    match status {
        rd_kafka_msg_status_t::RD_KAFKA_MSG_STATUS_NOT_PERSISTED => Persistence::NotPersisted,
        rd_kafka_msg_status_t::RD_KAFKA_MSG_STATUS_PERSISTED => Persistence::Persisted,
        _ => Persistence::PossiblyPersisted,
    }
}

/// Why a [`KafkaTransport`] could not be created.
#[derive(Clone, Debug, PartialEq, Eq)]
#[non_exhaustive]
pub enum KafkaTransportError {
    /// The configuration was refused.
    Config(ConfigError),
}

impl fmt::Display for KafkaTransportError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            KafkaTransportError::Config(e) => write!(f, "cannot create the Kafka producer: {e}"),
        }
    }
}

impl core::error::Error for KafkaTransportError {
    fn source(&self) -> Option<&(dyn core::error::Error + 'static)> {
        match self {
            KafkaTransportError::Config(e) => Some(e),
        }
    }
}

impl From<ConfigError> for KafkaTransportError {
    fn from(e: ConfigError) -> Self {
        KafkaTransportError::Config(e)
    }
}

/// The librdkafka transport. See the [module documentation](self) for the
/// data flow, ordering and shutdown.
///
/// Call order (what the driver does): [`new`](Self::new), then repeatedly
/// [`submit`](Transport::submit) batches and [`poll`](Transport::poll) for
/// outcomes; [`close`](Self::close) (or drop) at shutdown.
pub struct KafkaTransport {
    producer: Option<ThreadedProducer<Reporter>>,
    config: KafkaConfig,
    client_config: ClientConfig,
    reports_tx: Sender<Report>,
    reports: Receiver<Report>,
    /// Outcomes decided in `submit` (refused enqueues), reported by `poll`.
    local: VecDeque<Report>,
    fatal: Arc<AtomicBool>,
    in_flight: usize,
}

impl KafkaTransport {
    /// Creates the producer (it connects in the background).
    pub fn new(config: KafkaConfig) -> Result<Self, KafkaTransportError> {
        let client_config = config.client_config()?;
        let (reports_tx, reports) = mpsc::channel();
        let fatal = Arc::new(AtomicBool::new(false));
        let producer = create_producer(&config, &client_config, &reports_tx, &fatal)?;
        Ok(KafkaTransport {
            producer: Some(producer),
            config,
            client_config,
            reports_tx,
            reports,
            local: VecDeque::new(),
            fatal,
            in_flight: 0,
        })
    }

    /// The configuration this transport was built from.
    pub fn config(&self) -> &KafkaConfig {
        &self.config
    }

    /// Waits at most `timeout` for outstanding deliveries, then drops the
    /// producer. Records not confirmed by then are never reported; they stay
    /// journaled upstream and are sent again on the next start.
    pub fn close(mut self, timeout: Duration) {
        self.shut_down(timeout);
    }

    fn shut_down(&mut self, timeout: Duration) {
        if let Some(producer) = self.producer.take() {
            // Bounded: rdkafka's flush polls until the deadline at most.
            let _ = producer.flush(timeout);
            // Dropping purges what is left and waits up to 500 ms for the
            // purge reports (rdkafka's `BaseProducer` drop).
            drop(producer);
        }
    }

    /// Replaces a producer that hit a fatal error; its unfinished records
    /// are purged and reported Unknown through the shared channel.
    fn restart_if_fatal(&mut self) {
        let flagged = self.fatal.swap(false, Ordering::Relaxed);
        // librdkafka's fatal error event carries the underlying code (e.g.
        // OUT_OF_ORDER_SEQUENCE_NUMBER), so ask the instance itself too.
        let fatal = self
            .producer
            .as_ref()
            .is_none_or(|p| p.client().fatal_error().is_some());
        if !flagged && !fatal {
            return;
        }
        self.shut_down(Duration::ZERO);
        match create_producer(&self.config, &self.client_config, &self.reports_tx, &self.fatal) {
            Ok(producer) => self.producer = Some(producer),
            // Try again on the next submit.
            Err(_) => self.fatal.store(true, Ordering::Relaxed),
        }
    }

    /// Enqueues one record; on refusal returns the failure to report.
    fn enqueue(producer: &ThreadedProducer<Reporter>, record: &OutgoingRecord<'_>) -> Option<Failure> {
        let message = &record.message;
        let mut id_buf = [0u8; MESSAGE_ID_LEN];
        let id = record.id.encode(&mut id_buf);
        let mut headers = OwnedHeaders::new_with_capacity(message.headers.len() + 1);
        for header in &message.headers {
            headers = headers.insert(Header {
                key: header.name,
                value: header.value,
            });
        }
        headers = headers.insert(Header {
            key: MESSAGE_ID_HEADER,
            value: Some(id.as_bytes()),
        });
        let mut base: BaseRecord<'_, [u8], [u8], Box<Seq>> =
            BaseRecord::with_opaque_to(message.topic, Box::new(record.seq)).headers(headers);
        if let Some(partition) = message.partition {
            base = base.partition(partition);
        }
        if let Some(key) = message.key {
            base = base.key(key);
        }
        if let Some(value) = message.value {
            base = base.payload(value);
        }
        if let Some(timestamp) = message.timestamp {
            base = base.timestamp(timestamp);
        }
        match producer.send(base) {
            Ok(()) => None,
            Err((KafkaError::MessageProduction(code), _)) => Some(failure(code, None)),
            Err((KafkaError::Nul(_), _)) => Some(Failure::new(
                FailureClass::Terminal,
                RDKafkaErrorCode::InvalidArgument as i32,
                "invalid topic name: contains a NUL byte",
            )),
            Err((other, _)) => {
                let code = other.rdkafka_error_code().unwrap_or(RDKafkaErrorCode::Fail);
                Some(failure(code, None))
            }
        }
    }

    /// Hands out queued outcomes; returns how many.
    fn report_ready(&mut self, report: &mut dyn FnMut(Seq, Outcome)) -> usize {
        let mut count = 0;
        while let Some((seq, outcome)) = self.local.pop_front() {
            report(seq, outcome);
            count += 1;
        }
        while let Ok((seq, outcome)) = self.reports.try_recv() {
            report(seq, outcome);
            count += 1;
        }
        count
    }
}

/// Builds the threaded producer reporting into `reports`.
fn create_producer(
    config: &KafkaConfig,
    client_config: &ClientConfig,
    reports: &Sender<Report>,
    fatal: &Arc<AtomicBool>,
) -> Result<ThreadedProducer<Reporter>, ConfigError> {
    let context = Reporter {
        reports: reports.clone(),
        fatal: Arc::clone(fatal),
    };
    client_config
        .create_with_context(context)
        .map_err(|e| config.map_error(e))
}

impl Transport for KafkaTransport {
    fn submit(&mut self, _now: Millis, records: &[OutgoingRecord<'_>]) {
        self.restart_if_fatal();
        self.in_flight += records.len();
        let mut held_back: Option<Failure> = None;
        for record in records {
            if let Some(cause) = &held_back {
                let reason = format!("held back behind an earlier record: {}", cause.reason);
                let failure = Failure::new(FailureClass::Retriable, cause.code, &reason);
                self.local.push_back((record.seq, Outcome::Failed(failure)));
                continue;
            }
            let refused = match &self.producer {
                Some(producer) => Self::enqueue(producer, record),
                None => Some(Failure::new(
                    FailureClass::Retriable,
                    RDKafkaErrorCode::Fatal as i32,
                    "producer is restarting after a fatal error",
                )),
            };
            if let Some(failure) = refused {
                if failure.code == RDKafkaErrorCode::Fatal as i32 {
                    self.fatal.store(true, Ordering::Relaxed);
                }
                if failure.class != FailureClass::Terminal {
                    held_back = Some(failure.clone());
                }
                self.local.push_back((record.seq, Outcome::Failed(failure)));
            }
        }
    }

    fn poll(&mut self, _now: Millis, timeout: Millis, report: &mut dyn FnMut(Seq, Outcome)) -> usize {
        let mut count = self.report_ready(report);
        if count == 0 && timeout > 0 {
            match self.reports.recv_timeout(Duration::from_millis(timeout)) {
                Ok((seq, outcome)) => {
                    report(seq, outcome);
                    count = 1 + self.report_ready(report);
                }
                Err(RecvTimeoutError::Timeout | RecvTimeoutError::Disconnected) => {}
            }
        }
        self.in_flight = self.in_flight.saturating_sub(count);
        count
    }

    fn in_flight(&self) -> usize {
        self.in_flight
    }
}

impl Drop for KafkaTransport {
    fn drop(&mut self) {
        self.shut_down(self.config.close_timeout());
    }
}

impl fmt::Debug for KafkaTransport {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("KafkaTransport")
            .field("config", &self.config)
            .field("in_flight", &self.in_flight)
            .finish_non_exhaustive()
    }
}
