//! librdkafka's in-process mock cluster.
//!
//! [`start_mock_cluster`] returns rdkafka's own [`MockCluster`]: its methods
//! are the fault injection (`request_errors(RDKafkaApiKey::Produce, …)`,
//! `broker_down(-1)` / `broker_up(-1)`, `partition_leader`,
//! `broker_round_trip_time`, `topic_error`). The cluster lives on the thread
//! that created it (it is not `Send`) and stops when dropped.
//!
//! Clients of a mock cluster should set `reconnect.backoff.max.ms` low (100):
//! after `broker_up` they otherwise wait up to librdkafka's 10 s backoff.

use rdkafka::error::KafkaResult;
use rdkafka::mocking::MockCluster;
use rdkafka::producer::DefaultProducerContext;

/// A mock cluster as [`start_mock_cluster`] returns it.
pub type MockKafka = MockCluster<'static, DefaultProducerContext>;

/// Starts a mock cluster of `brokers` brokers (ids 1..=brokers) and creates
/// each `(topic, partitions)` with replication factor `min(brokers, 3)`.
pub fn start_mock_cluster(brokers: i32, topics: &[(&str, i32)]) -> KafkaResult<MockKafka> {
    let cluster = MockCluster::new(brokers)?;
    for (topic, partitions) in topics {
        cluster.create_topic(topic, *partitions, brokers.clamp(1, 3))?;
    }
    Ok(cluster)
}
