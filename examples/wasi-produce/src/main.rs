//! `wasi-produce`: produce lines to Kafka through a Kafka REST proxy, with a
//! journal, from a WASI program (or natively).
//!
//! It is the WASI user story of steadfast end to end: a program that cannot
//! link librdkafka reaches Kafka over HTTP, every message is journaled
//! before it counts as sent, and a killed program loses nothing: the next
//! run on the same journal delivers what was left.
//!
//! - No threads anywhere on the path: the producer runs in caller-driven
//!   mode ([`steadfast::Builder::open`] + [`steadfast::Producer::poll`]),
//!   and the REST transport (ureq without default features) resolves and
//!   connects on the calling thread.
//! - The journal lives in a directory the runtime preopens
//!   (`wasmtime run --dir HOST::GUEST`).
//! - What the platform cannot do for durability (directory fsync, file
//!   locks) is printed once as a note, not treated as a failure.
//!
//! See the README for building for `wasm32-wasip2` and running under
//! wasmtime. `bench` measures throughput (messages/s against records per
//! request) through the whole producer.

mod args;
mod bench;
mod produce;

use std::process::ExitCode;
use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::Duration;

use steadfast::core::Transport;
use steadfast::transports::rest::{RestConfig, RestTransport};
use steadfast::{Config, Delivery, Producer};

use args::{Common, Mode, USAGE};

fn main() -> ExitCode {
    let mode = match args::parse(std::env::args().skip(1).collect()) {
        Ok(Some(mode)) => mode,
        Ok(None) => {
            println!("{USAGE}");
            return ExitCode::SUCCESS;
        }
        Err(message) => {
            eprintln!("wasi-produce: {message}\n\n{USAGE}");
            return ExitCode::from(2);
        }
    };
    let result = match &mode {
        Mode::Produce(p) => produce::run(p),
        Mode::Bench(b) => bench::run(b).map(|()| ExitCode::SUCCESS),
    };
    match result {
        Ok(code) => code,
        Err(message) => {
            eprintln!("wasi-produce: {message}");
            ExitCode::FAILURE
        }
    }
}

/// Confirmations and dead letters, counted by the delivery callback.
#[derive(Debug, Default)]
struct Counts {
    confirmed: AtomicU64,
    dead_lettered: AtomicU64,
}

impl Counts {
    fn confirmed(&self) -> u64 {
        self.confirmed.load(Ordering::Relaxed)
    }

    fn dead_lettered(&self) -> u64 {
        self.dead_lettered.load(Ordering::Relaxed)
    }
}

/// Opens the journal in caller-driven mode with a REST transport (passed
/// through `wrap`, which the benchmark uses to count requests).
fn open<T: Transport + Send + 'static>(
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
struct Notes {
    shown: usize,
}

impl Notes {
    fn report(&mut self, producer: &Producer) {
        let notes = producer.durability_notes();
        for note in notes.iter().skip(self.shown) {
            eprintln!("durability note: {note}");
        }
        self.shown = self.shown.max(notes.len());
    }
}
