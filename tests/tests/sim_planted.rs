//! The oracle has teeth: each planted bug (in the simulator's own adapters,
//! never in the core) is caught within the default sweep's seeds, and the
//! seed that first catches it passes without the bug.

use steadfast_sim::sim::{self, Options, Planted};

/// The first seed of the default sweep (0..500) that catches each bug.
/// If the simulator changes, the test says which seed it is now.
const CAUGHT: &[(Planted, u64)] = &[
    (Planted::LyingSync, 13),
    (Planted::ConfirmDropped, 0),
    (Planted::Reorder, 0),
    (Planted::UnknownIsConfirmed, 0),
];

fn first_catch(bug: Planted) -> Option<(u64, String)> {
    (0..500).find_map(|seed| {
        let r = sim::run(Options {
            seed,
            planted: Some(bug),
            ..Options::default()
        });
        r.violations.first().map(|v| (seed, v.clone()))
    })
}

fn caught(bug: Planted) {
    let expected = CAUGHT.iter().find(|(b, _)| *b == bug).map(|(_, s)| *s);
    let Some((seed, why)) = first_catch(bug) else {
        panic!("the oracle missed the planted bug {bug:?} in seeds 0..500");
    };
    let clean = sim::run(Options {
        seed,
        ..Options::default()
    });
    assert!(
        clean.ok(),
        "seed {seed} fails even without the bug: {:?}",
        clean.violations
    );
    assert_eq!(
        Some(seed),
        expected,
        "{bug:?} is now first caught by seed {seed} (update CAUGHT): {why}"
    );
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
