//! How every librdkafka error becomes a [`FailureClass`].
//!
//! A delivery report (or a failed enqueue) carries one librdkafka error code
//! and, for delivery reports, librdkafka's own verdict on whether the record
//! may have reached the partition log (`rd_kafka_message_status`). The class
//! is decided in two steps:
//!
//! 1. [`classify`] maps the code to a base class with the table below.
//! 2. [`failure`] refines it with the persistence verdict: a *Retriable* code
//!    whose record librdkafka reports as **possibly persisted** (the request
//!    left and no answer came back, or the leader appended but the replicas
//!    did not follow) becomes **Unknown** — the core resends either way, but
//!    "not written" is never claimed for a record that may be in the log.
//!
//! The principle behind the table:
//!
//! - **Terminal**: the broker (or librdkafka on its behalf) judged *this
//!   record* unacceptable, and sending it again cannot change that.
//! - **Retriable**: the record was not written because of the link, the
//!   partition's leadership or replication, a quota, credentials or the local
//!   queue. Credentials and TLS failures are Retriable on purpose: they are
//!   about the connection, not the record, and dead-lettering a whole backlog
//!   because a password was rotated would be worse than waiting.
//! - **Unknown**: the record may have been written (timeouts after the
//!   request left, purges, a destroyed or fenced producer), plus every code a
//!   produce path never returns: resending is always safe, the message id
//!   lets consumers drop the duplicate.
//!
//! | Class | librdkafka codes (`RDKafkaErrorCode`) |
//! |---|---|
//! | Terminal | `MessageSizeTooLarge`, `InvalidMessageSize`, `MessageBatchTooLarge` (record list too large), `InvalidRecord`, `InvalidTimestamp`, `InvalidTopic`, `UnknownPartition`, `TopicAuthorizationFailed`, `ClusterAuthorizationFailed`, `GroupAuthorizationFailed`, `TransactionalIdAuthorizationFailed`, `PolicyViolation`, `InvalidRequiredAcks`, `InvalidRequest`, `UnsupportedForMessageFormat`, `UnsupportedCompressionType`, `UnsupportedFeature`, `BadCompression`, `InvalidArgument`, `KeySerialization`, `ValueSerialization` |
//! | UnknownTopic (retried for the core's `unknown_topic_wait`, then dead-lettered) | `UnknownTopic`, `UnknownTopicOrPartition` (after librdkafka's own metadata wait) |
//! | Retriable | `QueueFull`, `BrokerTransportFailure` (before the request left), `Resolve`, `AllBrokersDown`, `CriticalSystemResource`, `NodeUpdate`, `WaitCache`, `Retry`, `TimedOutQueue`, `ISRInsufficient`, `DestroyBroker`, `UnknownBroker`, `InvalidDifferentRecord`, `SSL`, `Authentication`, `SaslAuthenticationFailed`, `UnsupportedSASLMechanism`, `IllegalSASLState`, `SecurityDisabled`, `UnsupportedVersion`, `NotLeaderForPartition` (NOT_LEADER_OR_FOLLOWER), `LeaderNotAvailable`, `PreferredLeaderNotAvailable`, `EligibleLeadersNotAvailable`, `FencedLeaderEpoch`, `UnknownLeaderEpoch`, `BrokerNotAvailable`, `ReplicaNotAvailable`, `NotEnoughReplicas`, `NotEnoughReplicasAfterAppend`, `RequestTimedOut`, `InvalidMessage` (corrupt in transit), `KafkaStorageError`, `ReassignmentInProgress`, `StaleControllerEpoch`, `StaleBrokerEpoch`, `NotController`, `CoordinatorLoadInProgress`, `CoordinatorNotAvailable`, `NotCoordinator`, `WaitingForCoordinator`, `OffsetNotAvailable`, `OperationNotAttempted`, `ThrottlingQuotaExceeded`, `UnknownTopicId`, `RebootstrapRequired` — each becomes Unknown when librdkafka says the record is possibly persisted |
//! | Unknown | `MessageTimedOut`, `PurgeQueue`, `PurgeInflight`, `BrokerDestroy` (producer dropped), `OperationTimedOut`, `Interrupted`, `NetworkException`, `BadMessage`, `Fail`, `Fatal`, `Inconsistent`, `GaplessGuarantee`, `OutOfOrderSequenceNumber`, `DuplicateSequenceNumber`, `InvalidProducerEpoch`, `InvalidProducerIdMapping`, `UnknownProducerId`, `ProducerFenced`, `Fenced`, `TransactionCoordinatorFenced`, `Unknown`, and every other code (consumer, group, admin, transaction and internal codes that a produce never returns) |

use rdkafka::error::RDKafkaErrorCode as E;
use steadfast_core::{Failure, FailureClass};

/// librdkafka's verdict on whether a failed record may be in the log
/// (`rd_kafka_msg_status_t`).
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
#[non_exhaustive]
pub enum Persistence {
    /// The record was never written (it did not leave, or the broker refused it).
    NotPersisted,
    /// The request left and no clear answer came back.
    PossiblyPersisted,
    /// The broker wrote it.
    Persisted,
}

/// The base class of a librdkafka error code and a short reason, per the
/// module table (before the persistence refinement of [`failure`]).
pub fn classify(code: E) -> (FailureClass, &'static str) {
    use FailureClass::{Retriable, Terminal, Unknown};
    match code {
        // --- Terminal: this record will never be accepted. ---
        E::MessageSizeTooLarge | E::InvalidMessageSize => {
            (Terminal, "message too large for the broker (message.max.bytes)")
        }
        E::MessageBatchTooLarge => (Terminal, "record list too large for the broker"),
        E::InvalidRecord => (Terminal, "invalid record: the broker failed to validate it"),
        E::InvalidTimestamp => (Terminal, "invalid record timestamp"),
        E::InvalidTopic => (Terminal, "invalid topic name"),
        E::UnknownTopic | E::UnknownTopicOrPartition => (
            FailureClass::UnknownTopic,
            "unknown topic (or partition) in the cluster",
        ),
        E::UnknownPartition => (Terminal, "unknown partition for this topic"),
        E::TopicAuthorizationFailed => (Terminal, "topic authorization failed"),
        E::ClusterAuthorizationFailed => (Terminal, "cluster authorization failed"),
        E::GroupAuthorizationFailed => (Terminal, "group authorization failed"),
        E::TransactionalIdAuthorizationFailed => (Terminal, "transactional id authorization failed"),
        E::PolicyViolation => (Terminal, "record violates a broker policy"),
        E::InvalidRequiredAcks => (Terminal, "broker refuses the required acks"),
        E::InvalidRequest => (Terminal, "broker judged the produce request invalid"),
        E::UnsupportedForMessageFormat | E::UnsupportedFeature => {
            (Terminal, "record uses a feature the broker does not support")
        }
        E::UnsupportedCompressionType | E::BadCompression => (Terminal, "compression codec not supported"),
        E::InvalidArgument => (Terminal, "invalid record (rejected locally)"),
        E::KeySerialization | E::ValueSerialization => (Terminal, "record could not be serialized"),

        // --- Retriable: not written; the link, leader or queue will recover. ---
        E::QueueFull => (Retriable, "local producer queue full"),
        E::BrokerTransportFailure => (Retriable, "broker connection failed"),
        E::Resolve => (Retriable, "broker address could not be resolved"),
        E::AllBrokersDown => (Retriable, "all brokers are down"),
        E::CriticalSystemResource => (Retriable, "local system resource exhausted"),
        E::NodeUpdate
        | E::WaitCache
        | E::Retry
        | E::DestroyBroker
        | E::UnknownBroker
        | E::RebootstrapRequired => (Retriable, "cluster metadata is changing"),
        E::TimedOutQueue => (Retriable, "timed out in the local queue before sending"),
        E::ISRInsufficient | E::NotEnoughReplicas => (Retriable, "not enough in-sync replicas"),
        E::NotEnoughReplicasAfterAppend => (Retriable, "not enough in-sync replicas after append"),
        E::InvalidDifferentRecord => (Retriable, "another record of the batch was invalid"),
        E::SSL => (Retriable, "TLS failure on the broker connection"),
        E::Authentication
        | E::SaslAuthenticationFailed
        | E::UnsupportedSASLMechanism
        | E::IllegalSASLState
        | E::SecurityDisabled => (Retriable, "authentication with the broker failed"),
        E::UnsupportedVersion => (Retriable, "broker does not support the request version"),
        E::NotLeaderForPartition => (Retriable, "not leader or follower for the partition"),
        E::LeaderNotAvailable
        | E::PreferredLeaderNotAvailable
        | E::EligibleLeadersNotAvailable
        | E::FencedLeaderEpoch
        | E::UnknownLeaderEpoch => (Retriable, "partition leader not available"),
        E::BrokerNotAvailable | E::ReplicaNotAvailable => (Retriable, "broker not available"),
        E::RequestTimedOut => (Retriable, "request timed out on the broker"),
        E::InvalidMessage => (Retriable, "record corrupted in transit"),
        E::KafkaStorageError => (Retriable, "broker storage error"),
        E::ReassignmentInProgress | E::StaleControllerEpoch | E::StaleBrokerEpoch | E::NotController => {
            (Retriable, "cluster reassignment in progress")
        }
        E::CoordinatorLoadInProgress
        | E::CoordinatorNotAvailable
        | E::NotCoordinator
        | E::WaitingForCoordinator => (Retriable, "coordinator not available"),
        E::OffsetNotAvailable => (Retriable, "offset not yet available"),
        E::OperationNotAttempted => (Retriable, "operation not attempted"),
        E::ThrottlingQuotaExceeded => (Retriable, "broker quota exceeded"),
        E::UnknownTopicId => (Retriable, "topic id not yet known to the broker"),

        // --- Unknown: maybe written; resend, consumers de-duplicate. ---
        E::MessageTimedOut => (Unknown, "outcome unknown: message.timeout.ms passed"),
        E::PurgeQueue => (Unknown, "outcome unknown: purged from the local queue"),
        E::PurgeInflight => (Unknown, "outcome unknown: purged while in flight"),
        E::BrokerDestroy => (Unknown, "outcome unknown: producer dropped"),
        E::OperationTimedOut | E::Interrupted => (Unknown, "outcome unknown: operation timed out"),
        E::NetworkException => (Unknown, "outcome unknown: broker disconnected before answering"),
        E::BadMessage => (Unknown, "outcome unknown: broker answer could not be parsed"),
        E::Fatal => (
            Unknown,
            "outcome unknown: fatal producer error (producer restarts)",
        ),
        E::OutOfOrderSequenceNumber
        | E::DuplicateSequenceNumber
        | E::InvalidProducerEpoch
        | E::InvalidProducerIdMapping
        | E::UnknownProducerId
        | E::ProducerFenced
        | E::Fenced
        | E::TransactionCoordinatorFenced
        | E::Inconsistent
        | E::GaplessGuarantee => (Unknown, "outcome unknown: idempotent producer state lost"),
        _ => (Unknown, "outcome unknown: unexpected error"),
    }
}

/// The [`Failure`] to report for `code`, refined by librdkafka's
/// persistence verdict (`None` when the record never reached librdkafka's
/// queue). The reason names both the class and librdkafka's own text.
pub fn failure(code: E, persistence: Option<Persistence>) -> Failure {
    let (base, text) = classify(code);
    let maybe_written = persistence == Some(Persistence::PossiblyPersisted);
    let (class, prefix) = match base {
        FailureClass::Retriable if maybe_written => (FailureClass::Unknown, "maybe written: "),
        class => (class, ""),
    };
    Failure::new(class, code as i32, &format!("{prefix}{text} [{code}]"))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn brief_examples_are_classified_as_documented() {
        let cases = [
            (E::PurgeQueue, FailureClass::Unknown),
            (E::PurgeInflight, FailureClass::Unknown),
            (E::MessageTimedOut, FailureClass::Unknown),
            (E::BrokerDestroy, FailureClass::Unknown),
            (E::NotLeaderForPartition, FailureClass::Retriable),
            (E::NotEnoughReplicas, FailureClass::Retriable),
            (E::NotEnoughReplicasAfterAppend, FailureClass::Retriable),
            (E::RequestTimedOut, FailureClass::Retriable),
            (E::LeaderNotAvailable, FailureClass::Retriable),
            (E::QueueFull, FailureClass::Retriable),
            (E::BrokerTransportFailure, FailureClass::Retriable),
            (E::MessageSizeTooLarge, FailureClass::Terminal),
            (E::TopicAuthorizationFailed, FailureClass::Terminal),
            (E::ClusterAuthorizationFailed, FailureClass::Terminal),
            (E::InvalidRecord, FailureClass::Terminal),
            (E::UnknownTopic, FailureClass::UnknownTopic),
            (E::UnknownTopicOrPartition, FailureClass::UnknownTopic),
            (E::MessageBatchTooLarge, FailureClass::Terminal),
        ];
        for (code, class) in cases {
            assert_eq!(classify(code).0, class, "{code:?}");
        }
        assert!(failure(E::UnknownTopic, None).reason.contains("unknown topic"));
        assert!(
            failure(E::UnknownTopicOrPartition, Some(Persistence::NotPersisted))
                .reason
                .contains("unknown topic")
        );
    }

    #[test]
    fn possibly_persisted_retriable_becomes_unknown() {
        let f = failure(E::BrokerTransportFailure, Some(Persistence::PossiblyPersisted));
        assert_eq!(f.class, FailureClass::Unknown);
        assert!(f.reason.starts_with("maybe written"), "{}", f.reason);
        let f = failure(E::BrokerTransportFailure, Some(Persistence::NotPersisted));
        assert_eq!(f.class, FailureClass::Retriable);
        // Terminal stays terminal whatever the persistence.
        let f = failure(E::MessageSizeTooLarge, Some(Persistence::PossiblyPersisted));
        assert_eq!(f.class, FailureClass::Terminal);
        assert_eq!(f.code, 10);
    }

    #[test]
    fn every_code_has_a_readable_reason() {
        for raw in -200..=130 {
            let Ok(err) = rdkafka::types::RDKafkaRespErr::try_from(raw) else {
                continue;
            };
            let code = E::from(err);
            let f = failure(code, None);
            assert!(!f.reason.is_empty());
            assert!(f.reason.is_char_boundary(f.reason.len()));
        }
    }
}
