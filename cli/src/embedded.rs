//! The embedded Kafka: librdkafka's mock cluster, in this process, in
//! memory (feature `kafka`).
//!
//! `produce` starts one when no destination is given, so the tool works on
//! a machine with no Kafka; `demo` starts one to break on purpose; and the
//! hidden `__mock-cluster` command serves one to other processes (tests),
//! printing the bootstrap list and running until its stdin closes.

use std::io::{Read, Write};

use rdkafka::mocking::MockCluster;
use rdkafka::producer::DefaultProducerContext;

use super::error::CliError;

/// A running mock cluster; stops when dropped. Not `Send`: it lives on the
/// thread that started it.
pub struct Embedded {
    cluster: MockCluster<'static, DefaultProducerContext>,
}

impl Embedded {
    /// Starts `brokers` brokers (ids 1..=brokers) and creates each
    /// `(topic, partitions)` with replication factor `min(brokers, 3)`.
    pub fn start(brokers: i32, topics: &[(&str, i32)]) -> Result<Embedded, CliError> {
        let failed = |e: &dyn std::fmt::Display| {
            CliError::Destination(format!("cannot start the embedded Kafka mock cluster: {e}"))
        };
        let cluster = MockCluster::new(brokers).map_err(|e| failed(&e))?;
        for (topic, partitions) in topics {
            cluster
                .create_topic(topic, *partitions, brokers.clamp(1, 3))
                .map_err(|e| failed(&e))?;
        }
        Ok(Embedded { cluster })
    }

    /// `host:port,…` of its brokers.
    pub fn bootstrap(&self) -> String {
        self.cluster.bootstrap_servers()
    }

    /// The cluster, for fault injection.
    pub fn cluster(&self) -> &MockCluster<'static, DefaultProducerContext> {
        &self.cluster
    }
}

/// `steadfast __mock-cluster [--brokers N] [TOPIC[:PARTITIONS]]...`: serves
/// a mock cluster to other processes until stdin closes.
pub fn serve(brokers: i32, topics: &[String]) -> Result<(), CliError> {
    let mut specs = Vec::new();
    for t in topics {
        let (name, partitions) = match t.split_once(':') {
            Some((name, p)) => (
                name,
                p.parse::<i32>()
                    .ok()
                    .filter(|p| *p > 0)
                    .ok_or_else(|| CliError::Usage(format!("bad partition count in {t:?}")))?,
            ),
            None => (t.as_str(), 3),
        };
        specs.push((name, partitions));
    }
    let cluster = Embedded::start(brokers, &specs)?;
    let mut out = std::io::stdout().lock();
    writeln!(out, "{}", cluster.bootstrap()).map_err(|e| CliError::Usage(e.to_string()))?;
    out.flush().map_err(|e| CliError::Usage(e.to_string()))?;
    drop(out);
    // Run until whoever started us closes our stdin (or dies).
    let mut sink = Vec::new();
    let _ = std::io::stdin().read_to_end(&mut sink);
    drop(cluster);
    Ok(())
}
