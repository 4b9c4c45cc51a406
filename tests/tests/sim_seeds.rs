//! The default sweep: 500 seeds of the whole producer under swarm faults,
//! each run twice to prove its trace replays byte for byte.
//!
//! A failure prints the seed and the command that replays it; add the seed
//! to `REGRESSIONS` once fixed so it is run for ever.

use steadfast_sim::sim::{self, Options};

/// Seeds that once failed, each for a bug since fixed (core or simulator).
/// Core bugs: 2, 20, 25 (a read error lost a lane's overflow); 13, 35, 38,
/// 71 (segment slots ran out); 137, 163 (a recovered tail never synced);
/// 35, 221 (a segment started mid-deletion listed the deleted); 2505, 31
/// (a manifest lost to ENOSPC); 8060 (an open with no free slot synced a
/// seq that no entry had); 20390 (ENOSPC skipped the interval sync); 44977
/// (recovery finished a deletion on an entry that was not yet durable).
const REGRESSIONS: &[u64] = &[
    2, 12, 13, 20, 25, 31, 35, 37, 38, 44, 51, 54, 64, 71, 80, 136, 137, 163, 190, 221, 300, 890, 989, 1180,
    1996, 2505, 8060, 20390, 21852, 44977,
];

fn sweep(range: std::ops::Range<u64>) {
    let mut failures = Vec::new();
    for seed in range {
        if let Err(e) = sim::run_checked(Options {
            seed,
            ..Options::default()
        }) {
            failures.push(e);
        }
    }
    assert!(failures.is_empty(), "{}", failures.join("\n\n"));
}

macro_rules! chunks {
    ($($name:ident: $from:expr;)*) => {
        $(
            #[test]
            fn $name() {
                sweep($from..$from + 50);
            }
        )*
    };
}

chunks! {
    seeds_000: 0;
    seeds_050: 50;
    seeds_100: 100;
    seeds_150: 150;
    seeds_200: 200;
    seeds_250: 250;
    seeds_300: 300;
    seeds_350: 350;
    seeds_400: 400;
    seeds_450: 450;
}

#[test]
fn regressions() {
    let mut failures = Vec::new();
    for &seed in REGRESSIONS {
        if let Err(e) = sim::run_checked(Options {
            seed,
            ..Options::default()
        }) {
            failures.push(e);
        }
    }
    assert!(failures.is_empty(), "{}", failures.join("\n\n"));
}

#[test]
fn the_trace_text_replays_byte_for_byte() {
    let opts = Options {
        seed: 7,
        verbose: true,
        ..Options::default()
    };
    let (a, b) = (sim::run(opts), sim::run(opts));
    assert!(a.trace.len() > 100);
    assert_eq!(a.trace, b.trace);
    assert_eq!(a.hash, b.hash);
    // The hash is of the same events the text shows.
    let quiet = sim::run(Options {
        verbose: false,
        ..opts
    });
    assert_eq!(quiet.hash, a.hash);
}
