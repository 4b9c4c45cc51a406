//! Transports for steadfast: implementations of the core's
//! [`Transport`](steadfast_core::Transport) trait that the std runner
//! drives (the `steadfast` library re-exports this crate as
//! `steadfast::transports` under its features `rest`, `tls` and `kafka`).
//!
//! - `rest` (feature `rest`, on by default): a Kafka REST proxy (Confluent
//!   v2/v3, Karapace, Redpanda) over blocking HTTP; runs under WASI
//!   preview 2. Feature `tls` adds `https://` on native targets (rustls).
//! - `kafka` (feature `rdkafka`): Kafka itself through librdkafka
//!   (idempotent, `acks=all`), built from source with its own configure
//!   script.

#[cfg(feature = "rest")]
pub mod rest;

#[cfg(feature = "rdkafka")]
pub mod kafka;
