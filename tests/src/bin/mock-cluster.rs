//! Serves a librdkafka mock cluster to other processes.
//!
//! ```text
//! mock-cluster [--brokers N] [TOPIC[:PARTITIONS]]...
//! ```
//!
//! Starts an in-process `MockCluster` of N brokers (default 3), creates each
//! topic (default 3 partitions), prints the bootstrap list as one line on
//! stdout, and runs until killed. Clients should set
//! `reconnect.backoff.max.ms` low. Used by process-level crash tests.

use std::io::Write;
use std::process::ExitCode;

use steadfast_sim::brokers::start_mock_cluster;

fn main() -> ExitCode {
    match run() {
        Ok(()) => ExitCode::SUCCESS,
        Err(message) => {
            eprintln!("mock-cluster: {message}");
            eprintln!("usage: mock-cluster [--brokers N] [TOPIC[:PARTITIONS]]...");
            ExitCode::from(2)
        }
    }
}

fn run() -> Result<(), String> {
    let mut brokers = 3;
    let mut topics: Vec<(String, i32)> = Vec::new();
    let mut args = std::env::args().skip(1);
    while let Some(arg) = args.next() {
        if arg == "--brokers" {
            let n = args.next().ok_or("--brokers needs a number")?;
            brokers = n
                .parse()
                .ok()
                .filter(|n| (1..=32).contains(n))
                .ok_or(format!("bad broker count {n:?} (1-32)"))?;
        } else if arg.starts_with('-') {
            return Err(format!("unknown option {arg:?}"));
        } else {
            let (name, partitions) = match arg.split_once(':') {
                Some((name, p)) => (
                    name,
                    p.parse()
                        .ok()
                        .filter(|p| *p > 0)
                        .ok_or(format!("bad partition count in {arg:?}"))?,
                ),
                None => (arg.as_str(), 3),
            };
            topics.push((name.to_owned(), partitions));
        }
    }
    let specs: Vec<(&str, i32)> = topics.iter().map(|(t, p)| (t.as_str(), *p)).collect();
    let cluster = start_mock_cluster(brokers, &specs).map_err(|e| e.to_string())?;
    let mut stdout = std::io::stdout().lock();
    writeln!(stdout, "{}", cluster.bootstrap_servers()).map_err(|e| e.to_string())?;
    stdout.flush().map_err(|e| e.to_string())?;
    drop(stdout);
    loop {
        std::thread::park();
    }
}
