//! A deterministic simulator of the whole producer.
//!
//! It drives the real [`steadfast_core::Producer`] over a simulated disk
//! ([`disk`]: pending vs synced bytes, torn writes, read errors, ENOSPC,
//! failing fsync), network and broker ([`net`], [`broker`]) and clock
//! ([`world`]: time jumps to the earliest deadline), with crashes and
//! restarts at any step (`life`), faults drawn from one `u64` seed
//! ([`swarm`], [`sched`], one [`rng`] stream per component), a fault phase
//! and then a calm phase in which everything must drain (`phases`), and an
//! oracle that judges every run: the promises in the [`ledger`], every
//! recovery report against the damage really injected (`life`), the end
//! state (`oracle`), and the clock: a world that stays due now round after
//! round is a violation, since a real driver would spin (`world`). A
//! failing seed replays exactly:

//!
//! ```text
//! cargo run -p steadfast-sim --release -- --seed <SEED> --trace
//! ```
//!
//! [`actions`] drives the same world from explicit action lists (for
//! proptest to shrink), and [`planted`] holds deliberately broken adapters
//! that prove the oracle catches real bugs.

pub mod actions;
pub mod broker;
pub mod counts;
pub mod disk;
pub mod inspect;
pub mod ledger;
mod life;
pub mod net;
mod oracle;
mod phases;
pub mod planted;
mod report;
pub mod rng;
pub mod sched;
pub mod swarm;
pub mod trace;
pub mod workload;
pub mod world;

pub use counts::Counts;
pub use planted::{CATCH_WITHIN, Planted};
pub use report::{Options, RunReport};
pub use world::World;

/// Runs one seed.
pub fn run(opts: Options) -> RunReport {
    World::new(&opts).run_swarm()
}

/// The command that replays `seed` with its trace.
pub fn replay_command(seed: u64, planted: Option<Planted>) -> String {
    let bug = planted.map(|p| format!(" --planted {p:?}")).unwrap_or_default();
    format!("cargo run -p steadfast-sim --release -- --seed {seed}{bug} --trace")
}

/// Runs `seed` twice and checks both runs produced the same trace.
/// Returns the first run's report, or a description of the failure.
pub fn run_checked(opts: Options) -> Result<RunReport, String> {
    let a = run(opts);
    let b = run(opts);
    if (a.hash, a.events, a.end) != (b.hash, b.events, b.end) || a.violations != b.violations {
        return Err(format!(
            "seed {} is not deterministic: trace {:016x} ({} events) then {:016x} ({} events)\nreplay: {}",
            opts.seed,
            a.hash,
            a.events,
            b.hash,
            b.events,
            replay_command(opts.seed, opts.planted)
        ));
    }
    if !a.ok() {
        return Err(format!(
            "seed {} failed: {}\nreplay: {}",
            opts.seed,
            a.violations.join("\n"),
            replay_command(opts.seed, opts.planted)
        ));
    }
    Ok(a)
}

impl World {
    /// The swarm run: the fault phase, then calm, then the oracle.
    pub fn run_swarm(mut self) -> RunReport {
        let end = self.params.fault_ms;
        self.run_until(end);
        self.finish()
    }
}
