//! proptest drives random action sequences (send, crash, corrupt, truncate,
//! outages, lossy network, full disk, heal, time passing) against the
//! simulator's oracle and shrinks any failure to a minimal sequence.
//! Failing cases are kept in `sim_proptest.proptest-regressions` beside this
//! file and replayed first on every run.

use proptest::collection::vec;
use proptest::prelude::*;
use proptest::test_runner::{Config, TestError, TestRunner};
use steadfast_sim::sim::Planted;
use steadfast_sim::sim::actions::{Action, run_actions};

fn action() -> impl Strategy<Value = Action> {
    prop_oneof![
        4 => (1u8..6).prop_map(Action::Send),
        4 => (1u16..1500).prop_map(Action::Advance),
        1 => any::<bool>().prop_map(|power| Action::Crash { power }),
        1 => (0u8..8, any::<bool>()).prop_map(|(after, power)| Action::CrashMidCall { after, power }),
        1 => Just(Action::Corrupt),
        1 => Just(Action::Truncate),
        1 => (1u16..3000).prop_map(Action::Outage),
        1 => (0u8..3, 1u16..2000).prop_map(|(p, ms)| Action::LeaderChange(p, ms)),
        1 => any::<bool>().prop_map(Action::Lossy),
        1 => any::<bool>().prop_map(Action::DiskFull),
        1 => Just(Action::Heal),
    ]
}

fn case() -> impl Strategy<Value = (u64, Vec<Action>)> {
    (0u64..1_000_000, vec(action(), 1..60))
}

proptest! {
    #![proptest_config(ProptestConfig { cases: 256, ..ProptestConfig::default() })]

    #[test]
    fn random_action_sequences_hold_the_oracle((seed, actions) in case()) {
        let report = run_actions(seed, &actions, None);
        prop_assert!(report.ok(), "{}", report.violations.join("\n"));
    }
}

/// Shrinking works: with a storage whose sync lies, proptest finds a
/// failing sequence and cuts it down to a handful of actions.
#[test]
fn a_planted_bug_shrinks_to_a_few_actions() {
    let mut runner = TestRunner::new(Config {
        cases: 256,
        failure_persistence: None,
        ..Config::default()
    });
    let result = runner.run(&case(), |(seed, actions)| {
        let report = run_actions(seed, &actions, Some(Planted::LyingSync));
        prop_assert!(report.ok(), "{}", report.violations.join("\n"));
        Ok(())
    });
    match result {
        Err(TestError::Fail(_, (seed, actions))) => {
            assert!(
                actions.len() <= 6,
                "shrunk to {} actions (seed {seed}): {actions:?}",
                actions.len()
            );
            println!("minimal failing case: seed {seed}, {actions:?}");
        }
        other => panic!("the lying sync was not found: {other:?}"),
    }
}
