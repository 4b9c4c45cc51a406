//! steadfast-sim: the deterministic simulator and integration suites.

pub mod brokers;
pub mod rest_proxy;
pub mod sim;
