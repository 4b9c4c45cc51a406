//! The world driven by an explicit list of actions instead of the fault
//! schedule, so proptest can search action sequences and shrink a failure to
//! a minimal one. Same world, same oracle.

use super::broker::BrokerFaults;
use super::net::NetFaults;
use super::planted::Planted;
use super::report::{Options, RunReport};
use super::world::{CrashKind, World};

/// One step of a scripted run.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Action {
    /// The user sends this many messages.
    Send(u8),
    /// Time passes (ms).
    Advance(u16),
    /// The process dies, or the power goes.
    Crash {
        /// Power loss (else a process crash).
        power: bool,
    },
    /// The process dies before its n-th next storage call.
    CrashMidCall {
        /// Mutating storage calls that still happen.
        after: u8,
        /// Power loss (else a process crash).
        power: bool,
    },
    /// Power goes and a synced block rots before the restart.
    Corrupt,
    /// Power goes and a segment loses its tail at an entry boundary.
    Truncate,
    /// The broker is down for this long (ms).
    Outage(u16),
    /// A partition of "orders" changes leader for this long (ms).
    LeaderChange(u8, u16),
    /// The network starts losing, delaying and duplicating (or stops).
    Lossy(bool),
    /// The disk fills up (or is freed).
    DiskFull(bool),
    /// Every fault stops.
    Heal,
}

fn lossy(w: &mut World, on: bool) {
    if on {
        w.net.faults = NetFaults {
            latency: (1, 60),
            request_loss: 0.2,
            ack_loss: 0.2,
            dup_ack: 0.1,
            stale_ack: 0.5,
            slow: 0.05,
            refused: 0.5,
        };
        w.net.broker.faults = BrokerFaults {
            retriable: 0.1,
            terminal: 0.01,
            unknown: 0.05,
            throttle: 0.02,
        };
    } else {
        w.net.faults = NetFaults {
            latency: (1, 20),
            ..NetFaults::default()
        };
        w.net.broker.faults = BrokerFaults::default();
    }
}

/// Runs `actions` on the world of `seed`, then the calm phase and the oracle.
pub fn run_actions(seed: u64, actions: &[Action], planted: Option<Planted>) -> RunReport {
    run_actions_with(
        Options {
            seed,
            verbose: false,
            planted,
            scripted: true,
        },
        actions,
    )
}

/// [`run_actions`] with every option (`verbose` keeps the trace's text).
pub fn run_actions_with(opts: Options, actions: &[Action]) -> RunReport {
    let mut w = World::new(&Options {
        scripted: true,
        ..opts
    });
    for action in actions {
        if w.failed() {
            break;
        }
        match *action {
            Action::Send(n) => w.send_burst(u64::from(n)),
            Action::Advance(ms) => {
                let until = w.now + u64::from(ms);
                w.run_until(until);
            }
            Action::Crash { power } => w.crash(if power {
                CrashKind::Power
            } else {
                CrashKind::Process
            }),
            Action::CrashMidCall { after, power } => {
                if w.producer.is_some() {
                    w.disk.borrow_mut().arm_crash(u64::from(after));
                    w.armed = Some(if power {
                        CrashKind::Power
                    } else {
                        CrashKind::Process
                    });
                }
            }
            Action::Corrupt => {
                w.crash(CrashKind::Power);
                w.inject_corruption();
            }
            Action::Truncate => {
                w.crash(CrashKind::Power);
                w.inject_truncation();
            }
            Action::Outage(ms) => w.net.broker.down_until = w.now + u64::from(ms),
            Action::LeaderChange(p, ms) => {
                let key = ("orders".to_string(), i32::from(p % 3));
                w.net.broker.leader_moving.insert(key, w.now + u64::from(ms));
            }
            Action::Lossy(on) => lossy(&mut w, on),
            Action::DiskFull(on) => w.disk.borrow_mut().faults.full = on,
            Action::Heal => {
                lossy(&mut w, false);
                w.disk.borrow_mut().faults.full = false;
                w.net.broker.down_until = 0;
                w.net.broker.leader_moving.clear();
            }
        }
        // Let the world catch up with what just happened.
        let until = w.now + 1;
        w.run_until(until);
    }
    w.finish()
}
