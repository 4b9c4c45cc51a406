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
mod open;
mod produce;

use std::process::ExitCode;

use args::{Mode, USAGE};

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
