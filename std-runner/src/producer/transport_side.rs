//! [`Driver`]: the transport side of the producer, what a driver round
//! works with (`driver.rs`) and the shared state holds (`state.rs`).
//!
//! A file of its own so that neither of those two files imports the other
//! for it: `state.rs` owns a `Mutex<Driver>`, `driver.rs` runs rounds over
//! the shared state.

use steadfast_core::{Delivery, Outcome, Seq, Transport};

/// The user's delivery callback.
pub type DeliveryFn = dyn FnMut(&Delivery) + Send;

/// The transport side of the producer; whoever holds it runs rounds.
pub(crate) struct Driver {
    pub transport: Box<dyn Transport + Send>,
    /// Batches are encoded into this (the core's `poll_transmit` buffer).
    pub out: Vec<u8>,
    pub outcomes: Vec<(Seq, Outcome)>,
    pub deliveries: Vec<Delivery>,
    pub on_delivery: Option<Box<DeliveryFn>>,
}
