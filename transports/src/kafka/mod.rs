//! The `kafka` transport: librdkafka (through the `rdkafka` crate) as an
//! idempotent producer with `acks=all` (feature `rdkafka`).
//!
//! - [`KafkaTransport`] implements [`steadfast_core::Transport`]: `submit`
//!   enqueues without blocking, `poll` reports each delivery report as
//!   `Confirmed { partition, offset }` or `Failed(Failure)` under the record's
//!   journal sequence number. Every record carries the
//!   [`MESSAGE_ID_HEADER`](steadfast_core::MESSAGE_ID_HEADER) header (the
//!   id's text form), appended after the user's own headers.
//! - [`classify`](mod@classify) maps every librdkafka error to Retriable / Terminal /
//!   Unknown (the table is in that module's documentation). librdkafka's own
//!   purge or timeout means "outcome unknown": the core resends.
//! - [`KafkaConfig`] holds the bootstrap servers and librdkafka properties,
//!   passed through as librdkafka documents them (TLS and SASL PLAIN / SCRAM
//!   / OAUTHBEARER are built in; Kerberos/GSSAPI is not).
//!
//! The transport does not own durability: whatever it has not confirmed when
//! it is dropped stays in the journal and is sent again.
//!
//! ```no_run
//! use steadfast_core::{Message, MessageId, OutgoingRecord, Outcome, Transport};
//! use steadfast_transports::kafka::{KafkaConfig, KafkaTransport};
//!
//! # fn main() -> Result<(), Box<dyn std::error::Error>> {
//! let (config, topic) = KafkaConfig::from_url("kafka://127.0.0.1:9092/events")?;
//! let mut transport = KafkaTransport::new(config.with("linger.ms", "1"))?;
//! let topic = topic.unwrap_or_default();
//! let record = OutgoingRecord {
//!     seq: 1,
//!     id: MessageId { journal: 7, seq: 1 },
//!     message: Message::new(&topic, b"hello"),
//! };
//! transport.submit(0, &[record]);
//! while transport.in_flight() > 0 {
//!     transport.poll(0, 100, &mut |seq, outcome| match outcome {
//!         Outcome::Confirmed { partition, offset } => println!("{seq} at {partition}/{offset}"),
//!         Outcome::Failed(failure) => println!("{seq}: {failure}"),
//!     });
//! }
//! # Ok(())
//! # }
//! ```

pub mod classify;
pub mod config;
pub mod transport;

pub use classify::{Persistence, classify, failure};
pub use config::{ConfigError, KafkaConfig, KafkaUrl, UrlError, parse_property, parse_url};
pub use transport::{KafkaTransport, KafkaTransportError};
