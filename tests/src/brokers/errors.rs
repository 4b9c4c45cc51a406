//! The librdkafka produce errors the suites inject with
//! `MockCluster::request_errors`, in one place, each with what steadfast
//! does with it.
//!
//! - [`RETRIABLE`]: the kafka transport reports them Retriable (or Unknown
//!   when librdkafka says the record may be written), so both the
//!   transport's resend loop and the producer deliver through them.
//! - [`UNKNOWN_TOPIC`]: the transport reports it as `UnknownTopic`, which
//!   is final for the transport's resend loop (it is never resent there),
//!   while the producer core retries it for its `unknown_topic_wait` before
//!   dead-lettering. [`retried_by_the_producer`] is [`RETRIABLE`] plus it.
//! - [`TERMINAL`]: refusals that are final everywhere, with the words the
//!   failure's reason contains.

use rdkafka::types::RDKafkaRespErr;

/// Every retriable error librdkafka knows for produce requests (see
/// `rd_kafka_handle_Produce_error` and `rd_kafka_err_action` in
/// librdkafka's `rdkafka_request.c`), plus the Kafka protocol's other
/// retriable produce errors.
pub const RETRIABLE: [RDKafkaRespErr; 13] = [
    RDKafkaRespErr::RD_KAFKA_RESP_ERR_NOT_LEADER_FOR_PARTITION,
    RDKafkaRespErr::RD_KAFKA_RESP_ERR_LEADER_NOT_AVAILABLE,
    RDKafkaRespErr::RD_KAFKA_RESP_ERR_NOT_ENOUGH_REPLICAS,
    RDKafkaRespErr::RD_KAFKA_RESP_ERR_NOT_ENOUGH_REPLICAS_AFTER_APPEND,
    RDKafkaRespErr::RD_KAFKA_RESP_ERR_REQUEST_TIMED_OUT,
    RDKafkaRespErr::RD_KAFKA_RESP_ERR__TRANSPORT,
    RDKafkaRespErr::RD_KAFKA_RESP_ERR_KAFKA_STORAGE_ERROR,
    RDKafkaRespErr::RD_KAFKA_RESP_ERR_INVALID_MSG,
    RDKafkaRespErr::RD_KAFKA_RESP_ERR_BROKER_NOT_AVAILABLE,
    RDKafkaRespErr::RD_KAFKA_RESP_ERR_REPLICA_NOT_AVAILABLE,
    RDKafkaRespErr::RD_KAFKA_RESP_ERR_NETWORK_EXCEPTION,
    RDKafkaRespErr::RD_KAFKA_RESP_ERR_FENCED_LEADER_EPOCH,
    RDKafkaRespErr::RD_KAFKA_RESP_ERR_UNKNOWN_LEADER_EPOCH,
];

/// Final for the transport (`FailureClass::UnknownTopic`), retried by the
/// producer for `unknown_topic_wait`: a topic being created is a transient
/// state the core waits out, a topic that never appears is dead-lettered.
pub const UNKNOWN_TOPIC: RDKafkaRespErr = RDKafkaRespErr::RD_KAFKA_RESP_ERR_UNKNOWN_TOPIC_OR_PART;

/// What the producer retries (given an `unknown_topic_wait` longer than the
/// test): [`RETRIABLE`], then [`UNKNOWN_TOPIC`].
pub fn retried_by_the_producer() -> impl Iterator<Item = RDKafkaRespErr> {
    RETRIABLE.into_iter().chain([UNKNOWN_TOPIC])
}

/// Broker refusals that are final for the transport and the producer, with
/// a phrase the failure's reason contains.
pub const TERMINAL: [(RDKafkaRespErr, &str); 6] = [
    (
        RDKafkaRespErr::RD_KAFKA_RESP_ERR_MSG_SIZE_TOO_LARGE,
        "message too large",
    ),
    (
        RDKafkaRespErr::RD_KAFKA_RESP_ERR_TOPIC_AUTHORIZATION_FAILED,
        "topic authorization failed",
    ),
    (RDKafkaRespErr::RD_KAFKA_RESP_ERR_INVALID_RECORD, "invalid record"),
    (
        RDKafkaRespErr::RD_KAFKA_RESP_ERR_RECORD_LIST_TOO_LARGE,
        "record list too large",
    ),
    (
        RDKafkaRespErr::RD_KAFKA_RESP_ERR_INVALID_TIMESTAMP,
        "invalid record timestamp",
    ),
    (RDKafkaRespErr::RD_KAFKA_RESP_ERR_POLICY_VIOLATION, "policy"),
];

/// The reason phrase [`TERMINAL`] gives for `code`.
///
/// # Panics
///
/// If `code` is not in [`TERMINAL`] (a test naming an error the list lacks).
pub fn terminal_reason(code: RDKafkaRespErr) -> &'static str {
    TERMINAL
        .iter()
        .find(|(c, _)| *c == code)
        .map(|(_, reason)| *reason)
        .unwrap_or_else(|| panic!("{code:?} is not in brokers::errors::TERMINAL"))
}
