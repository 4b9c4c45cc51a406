//! steadfast-sim: the deterministic simulator and integration suites.
