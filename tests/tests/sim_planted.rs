//! The oracle has teeth: each planted bug (in the simulator's own adapters,
//! never in the core) is caught within [`CATCH_WITHIN`] consecutive seeds,
//! in several windows far apart, and the seed that catches it passes
//! without the bug (so the catch is the bug's doing, not the seed's).

use steadfast_sim::sim::{self, CATCH_WITHIN, Options, Planted};

/// Where the windows of seeds start: the default sweep's first seeds, and
/// two far from it, so that no single lucky seed carries the test.
const WINDOWS: [u64; 3] = [0, 10_000, 1 << 40];

fn caught(bug: Planted) {
    for start in WINDOWS {
        let window = start..start + CATCH_WITHIN;
        let catch = window.clone().find_map(|seed| {
            let r = sim::run(Options {
                seed,
                planted: Some(bug),
                ..Options::default()
            });
            r.violations.first().map(|v| (seed, v.clone()))
        });
        let Some((seed, why)) = catch else {
            panic!("the oracle missed the planted bug {bug:?} in all {CATCH_WITHIN} seeds {window:?}");
        };
        let clean = sim::run(Options {
            seed,
            ..Options::default()
        });
        assert!(
            clean.ok(),
            "seed {seed} fails even without the bug {bug:?} ({why}): {:?}",
            clean.violations
        );
    }
}

#[test]
fn a_storage_whose_sync_lies_is_caught() {
    caught(Planted::LyingSync);
}

#[test]
fn a_transport_that_confirms_what_it_dropped_is_caught() {
    caught(Planted::ConfirmDropped);
}

#[test]
fn a_transport_that_reorders_a_batch_is_caught() {
    caught(Planted::Reorder);
}

#[test]
fn a_transport_that_skips_the_retry_of_an_unknown_outcome_is_caught() {
    caught(Planted::UnknownIsConfirmed);
}
