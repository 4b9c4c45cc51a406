//! Transports for steadfast (filled in by the transport issues).
//!
//! - [`rest`] (feature `rest`, on by default): a Kafka REST proxy (Confluent
//!   v2/v3, Karapace, Redpanda) over blocking HTTP; runs under WASI preview 2.

#[cfg(feature = "rest")]
pub mod rest;

#[cfg(feature = "rdkafka")]
pub mod kafka;
