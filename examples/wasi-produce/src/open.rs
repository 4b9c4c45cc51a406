//! Opening the journal with a REST transport in caller-driven mode, and
//! what both modes count and print while it runs (confirmations, dead
//! letters, durability notes). `produce` and `bench` share it; `main`
//! only picks the mode.

use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::Duration;

use steadfast::core::Transport;
use steadfast::transports::rest::{RestConfig, RestTransport};
use steadfast::{Config, Delivery, Producer};

use crate::args::Common;

/// Confirmations and dead letters, counted by the delivery callback.
#[derive(Debug, Default)]
pub(crate) struct Counts {
    confirmed: AtomicU64,
    dead_lettered: AtomicU64,
}

impl Counts {
    pub(crate) fn confirmed(&self) -> u64 {
        self.confirmed.load(Ordering::Relaxed)
    }

    pub(crate) fn dead_lettered(&self) -> u64 {
        self.dead_lettered.load(Ordering::Relaxed)
    }
}

/// Opens the journal in caller-driven mode with a REST transport (passed
/// through `wrap`, which the benchmark uses to count requests).
pub(crate) fn open<T: Transport + Send + 'static>(
    common: &Common,
    config: Config,
    wrap: impl FnOnce(RestTransport) -> T,
) -> Result<(Producer, Arc<Counts>), String> {
    let mut rest = RestConfig::new(common.rest.clone()).request_deadline(common.request_deadline);
    if let Some(version) = common.rest_version {
        rest = rest.api_version(version);
    }
    let transport = RestTransport::new(rest).map_err(|e| e.to_string())?;
    let counts = Arc::new(Counts::default());
    let seen = Arc::clone(&counts);
    let producer = Producer::builder(&common.journal)
        .config(config)
        .sync(common.sync)
        // Caller-driven mode: the driver waits on nothing but the transport,
        // so new messages need not linger.
        .linger(Duration::ZERO)
        .on_delivery(move |delivery| match delivery {
            Delivery::Confirmed { .. } => {
                seen.confirmed.fetch_add(1, Ordering::Relaxed);
            }
            Delivery::DeadLettered { id, failure } => {
                seen.dead_lettered.fetch_add(1, Ordering::Relaxed);
                eprintln!("dead letter {id}: {}", failure.reason);
            }
        })
        // No background thread: `poll` (and blocking calls) run the driver.
        .open(wrap(transport))
        .map_err(|e| format!("cannot open journal {}: {e}", common.journal.display()))?;
    Ok((producer, counts))
}

/// Prints each durability note once, as the journal finds them (opening
/// it, creating the first segment or meta slot).
#[derive(Debug, Default)]
pub(crate) struct Notes {
    shown: usize,
}

impl Notes {
    pub(crate) fn report(&mut self, producer: &Producer) {
        let notes = producer.durability_notes();
        for note in notes.iter().skip(self.shown) {
            eprintln!("durability note: {note}");
        }
        self.shown = self.shown.max(notes.len());
    }
}
