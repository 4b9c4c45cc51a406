//! `steadfast`: the command-line tool of the steadfast producer.
//!
//! `steadfast produce` journals lines or JSON lines and delivers them to
//! Kafka (librdkafka), a Kafka REST proxy or a file; `steadfast journal`
//! inspects and verifies a journal; `steadfast dead-letters` lists,
//! re-drives and discards refused messages; `steadfast demo` shows the
//! delivery guarantee under broker faults and producer crashes. Run
//! `steadfast --help`, or read `docs/cli.md`.

fn main() -> std::process::ExitCode {
    steadfast_cli::main()
}
