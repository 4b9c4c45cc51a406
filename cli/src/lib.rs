//! The `steadfast` command line: flags (clap), dispatch, and exit codes.
//!
//! The binary is `src/main.rs`; this library holds the whole tool so that
//! tests and fuzz targets reach its parsers without running a process:
//! [`input`] (lines and JSON lines into messages), [`dest`] (destination
//! flags and URLs into a transport), [`parse`] (sizes, durations, sync
//! levels) and [`error`] (exit codes). Its API follows the tool, not
//! semver: use the `steadfast` crate for a producer in a program.
//!
//! | command | module |
//! |---|---|
//! | `produce`, `deliver` | `produce` ([`input`], [`dest`], `progress`, `observe`) |
//! | `journal status / verify / dump` | `journal` (`inspect`, `overlay`, `dump`) |
//! | `dead-letters list / redrive / discard` | `dead_letters` |
//! | `demo` (feature `kafka`) | `demo`, `demo_child`, [`readback`], `embedded` |
//!
//! Every failure is a [`CliError`] whose exit code is documented in
//! [`error::EXIT_CODES`] (also printed by `--help`).

mod dead_letters;
pub mod dest;
mod dump;
pub mod error;
pub mod input;
mod inspect;
mod journal;
mod observe;
mod overlay;
pub mod parse;
mod produce;
mod progress;

#[cfg(feature = "kafka")]
mod demo;
#[cfg(feature = "kafka")]
mod demo_child;
#[cfg(feature = "kafka")]
mod embedded;
#[cfg(feature = "kafka")]
pub mod readback;

use std::process::ExitCode;

use clap::{Parser, Subcommand};

pub use error::{CliError, Exit};

/// A Kafka producer that does not lose messages: every message is
/// journaled (fsync) before it counts as accepted, sent, and forgotten only
/// once the broker confirms it.
#[derive(Debug, Parser)]
#[command(name = "steadfast", version, after_help = error::EXIT_CODES, max_term_width = 100)]
struct Cli {
    #[command(subcommand)]
    command: Command,
}

#[derive(Debug, Subcommand)]
enum Command {
    /// Journal lines or JSON lines from stdin (or --input) and deliver them.
    ///
    /// With no destination (--brokers, --to, --rest, --file) it starts an
    /// embedded Kafka mock cluster in the process, so it runs anywhere.
    #[command(after_help = produce_after_help())]
    Produce(produce::ProduceArgs),
    /// Deliver what a journal holds (left by an earlier run, or re-driven
    /// dead letters) and exit.
    #[command(after_help = error::EXIT_CODES)]
    Deliver(produce::DeliverArgs),
    /// Inspect a journal without changing it.
    #[command(subcommand)]
    Journal(journal::JournalCommand),
    /// List, re-drive or discard messages the broker refused for good.
    #[command(subcommand)]
    DeadLetters(dead_letters::DeadLetterCommand),
    /// Show what steadfast is for: produce to an embedded 3-broker cluster
    /// while breaking it (brokers down, errors, leader moves) and SIGKILLing
    /// the producer, then read the topic back and count what is missing.
    #[cfg(feature = "kafka")]
    Demo(demo::DemoArgs),
    /// The producer child of `demo` (internal).
    #[cfg(feature = "kafka")]
    #[command(name = "__demo-producer", hide = true)]
    DemoProducer(demo_child::ChildArgs),
    /// Serve a mock cluster until stdin closes (internal, for tests).
    #[cfg(feature = "kafka")]
    #[command(name = "__mock-cluster", hide = true)]
    MockCluster {
        /// Brokers.
        #[arg(long, default_value_t = 3)]
        brokers: i32,
        /// Topics to create, TOPIC[:PARTITIONS].
        topics: Vec<String>,
    },
    /// Read a topic back and print its records as JSON lines (internal,
    /// for tests).
    #[cfg(feature = "kafka")]
    #[command(name = "__read-topic", hide = true)]
    ReadTopic(readback::ReadArgs),
}

/// `produce --help`'s epilogue: examples, then the exit codes.
fn produce_after_help() -> String {
    format!(
        "\
Examples:
  seq 1 1000 | steadfast produce --topic demo
  steadfast produce -b kafka1:9092,kafka2:9092 -t events -i events.log
  steadfast produce --to kafka://kafka1:9092/events -X security.protocol=ssl
  steadfast produce -f json -t events --rest http://proxy:8082 < events.jsonl
  steadfast produce -t events --file out.jsonl --sync interval:100 < events.log

{}",
        error::EXIT_CODES
    )
}

/// Parses the command line, runs the command, and returns the exit code.
pub fn main() -> ExitCode {
    let cli = match Cli::try_parse() {
        Ok(cli) => cli,
        Err(e) => {
            let _ = e.print();
            return match e.kind() {
                clap::error::ErrorKind::DisplayHelp | clap::error::ErrorKind::DisplayVersion => {
                    Exit::Ok.code()
                }
                _ => Exit::Usage.code(),
            };
        }
    };
    match run(cli.command) {
        Ok(()) => Exit::Ok.code(),
        Err(e) => {
            match e.exit() {
                Exit::Undelivered | Exit::Full | Exit::DeadLettered | Exit::Damaged | Exit::DemoFailed => {
                    progress::say(&format!("steadfast: {e}"));
                }
                _ => progress::say(&format!("steadfast: error: {e}")),
            }
            e.exit().code()
        }
    }
}

fn run(command: Command) -> Result<(), CliError> {
    if matches!(command, Command::Journal(_) | Command::DeadLetters(_)) {
        quiet_sigpipe();
    }
    #[cfg(feature = "kafka")]
    if matches!(command, Command::ReadTopic(_)) {
        quiet_sigpipe();
    }
    match command {
        Command::Produce(args) => produce::produce(args),
        Command::Deliver(args) => produce::deliver(args),
        Command::Journal(c) => journal::run(c),
        Command::DeadLetters(c) => dead_letters::run(c),
        #[cfg(feature = "kafka")]
        Command::Demo(args) => demo::run(args),
        #[cfg(feature = "kafka")]
        Command::DemoProducer(args) => demo_child::run(args),
        #[cfg(feature = "kafka")]
        Command::MockCluster { brokers, topics } => embedded::serve(brokers, &topics),
        #[cfg(feature = "kafka")]
        Command::ReadTopic(args) => readback::run(args),
    }
}

/// Ends the process quietly when stdout's reader goes away (`| head`), as
/// Unix filters do, instead of failing on the next `println!`. Only for
/// commands that write reports to stdout and hold no sockets or pipes of
/// their own.
fn quiet_sigpipe() {
    // SAFETY: called before any thread is started by this command; setting
    // a signal's disposition to SIG_DFL has no other preconditions.
    unsafe {
        libc::signal(libc::SIGPIPE, libc::SIG_DFL);
    }
}
