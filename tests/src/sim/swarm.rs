//! Swarm testing: the shape of a run — producer configuration, workload and
//! every fault rate — is itself drawn from the seed (after TigerBeetle's
//! VOPR), so some runs are calm and some brutal, and faults meet in
//! combinations nobody thought to write down.
//!
//! Each kind of fault is drawn from its own stream, so adding a kind (or a
//! draw) leaves every other kind's rates unchanged for the same seed.

use steadfast_core::{Config, Millis, RetryPolicy, SyncPolicy};

use super::broker::BrokerFaults;
use super::disk::DiskFaults;
use super::net::NetFaults;
use super::rng::Rng;
use super::workload::Poison;

/// Everything a run's faults and load are drawn with.
#[derive(Clone, Debug, Default)]
pub struct Params {
    /// Length of the fault phase.
    pub fault_ms: Millis,
    /// Gap between sends (bounds, ms).
    pub send_gap: (Millis, Millis),
    /// Most messages per burst.
    pub burst: u64,
    /// Mean time between crashes (`None`: no crashes).
    pub crash_every: Option<Millis>,
    /// Fraction of crashes that are power losses (else the process dies).
    pub power_loss: f64,
    /// Fraction of crashes that strike between two storage calls of one
    /// producer call.
    pub mid_call: f64,
    /// Chance that a restart is itself cut short by a crash during recovery.
    pub in_recovery: f64,
    /// Downtime after a crash (bounds, ms).
    pub restart_delay: (Millis, Millis),
    /// Per crash: silent corruption of a synced block.
    pub corrupt: f64,
    /// Per crash: the filesystem loses a segment's tail at an entry boundary.
    pub truncate: f64,
    /// Disk fault rates.
    pub disk: DiskFaults,
    /// Mean time between disk-full windows, and their length.
    pub full: Option<(Millis, Millis)>,
    /// Network fault rates.
    pub net: NetFaults,
    /// The transport's request deadline.
    pub request_timeout: Millis,
    /// Broker fault rates.
    pub broker: BrokerFaults,
    /// Mean time between broker outages, and their mean length.
    pub outage: Option<(Millis, Millis)>,
    /// Mean time between leader changes, and how long one lasts.
    pub leader: Option<(Millis, Millis)>,
    /// Poison messages.
    pub poison: Poison,
}

fn maybe(r: &mut Rng, p: f64, lo: f64, hi: f64) -> f64 {
    if r.chance(p) { r.log_rate(lo, hi) } else { 0.0 }
}

/// The producer configuration of run `seed`.
pub fn config(seed: u64) -> Config {
    let mut r = Rng::stream(seed, "swarm/config");
    let sync = match r.below(20) {
        0..=10 => SyncPolicy::Always,
        11..=15 => SyncPolicy::Interval(r.pick(&[5, 50, 400])),
        _ => SyncPolicy::Never,
    };
    let delivery_timeout = r.chance(0.2).then(|| r.between(3_000, 20_000));
    Config {
        journal_id: r.next_u64() | 1,
        segment_size: r.pick(&[2048, 4096, 8192, 32768]),
        budget: r.pick(&[24 << 10, 64 << 10, 1 << 20]),
        sync,
        retry: RetryPolicy {
            initial: r.pick(&[5, 20, 100]),
            max: r.pick(&[300, 2_000]),
            delivery_timeout,
        },
        max_batch_records: r.pick(&[1, 3, 8, 64]),
        max_batch_bytes: r.pick(&[256, 2048, 1 << 16]),
        max_entry: 1024,
        meta_interval: r.pick(&[10, 200, 1_000]),
        confirm_interval: r.pick(&[0, 10, 50, 300]),
        unknown_topic_wait: r.pick(&[0, 500, 5_000]),
        jitter_seed: r.next_u64(),
        recovery: steadfast_core::RecoveryMode::Salvage,
    }
}

/// The faults and load of run `seed`.
pub fn params(seed: u64) -> Params {
    let mut calm = Rng::stream(seed, "swarm/calm");
    // One run in ten has no faults at all: the baseline must hold too.
    let on = if calm.chance(0.1) { 0.0 } else { 1.0 };

    let mut w = Rng::stream(seed, "swarm/workload");
    let fault_ms = w.between(5_000, 25_000);
    let send_gap = (w.between(1, 20), w.between(20, 150));
    let burst = w.pick(&[1, 1, 4, 16]);
    let poison = Poison {
        forbidden: maybe(&mut w, 0.3 * on, 0.002, 0.03),
        bad_partition: maybe(&mut w, 0.3 * on, 0.002, 0.03),
        too_large: maybe(&mut w, 0.3 * on, 0.002, 0.03),
    };

    let mut c = Rng::stream(seed, "swarm/crash");
    let crash_every = c.chance(0.7 * on).then(|| c.between(300, 6_000));
    let power_loss = c.unit();
    let mid_call = c.unit();
    let in_recovery = maybe(&mut c, 0.3, 0.02, 0.3);
    let restart_delay = (c.between(0, 50), c.between(50, 3_000));

    let mut d = Rng::stream(seed, "swarm/disk");
    let corrupt = maybe(&mut d, 0.4 * on, 0.02, 0.5);
    let truncate = maybe(&mut d, 0.3 * on, 0.02, 0.3);
    let disk = DiskFaults {
        read_error: maybe(&mut d, 0.4 * on, 0.0005, 0.02),
        enospc: maybe(&mut d, 0.3 * on, 0.0005, 0.03),
        fsync_fail: maybe(&mut d, 0.3 * on, 0.0005, 0.02),
        full: false,
    };
    let full = d
        .chance(0.25 * on)
        .then(|| (d.between(1_000, 8_000), d.between(50, 1_500)));

    let mut n = Rng::stream(seed, "swarm/net");
    let lo = n.between(0, 5);
    let net = NetFaults {
        latency: (lo, lo + n.between(0, 80)),
        request_loss: maybe(&mut n, 0.4 * on, 0.005, 0.2),
        ack_loss: maybe(&mut n, 0.4 * on, 0.005, 0.2),
        dup_ack: maybe(&mut n, 0.3 * on, 0.005, 0.1),
        stale_ack: maybe(&mut n, 0.3 * on, 0.05, 0.8),
        slow: maybe(&mut n, 0.3 * on, 0.005, 0.1),
        refused: n.unit(),
    };
    let request_timeout = n.pick(&[200, 1_000, 3_000]);

    let mut b = Rng::stream(seed, "swarm/broker");
    let broker = BrokerFaults {
        retriable: maybe(&mut b, 0.4 * on, 0.005, 0.2),
        terminal: maybe(&mut b, 0.2 * on, 0.001, 0.02),
        unknown: maybe(&mut b, 0.3 * on, 0.005, 0.1),
        throttle: maybe(&mut b, 0.2 * on, 0.005, 0.1),
    };
    let outage = b
        .chance(0.4 * on)
        .then(|| (b.between(1_000, 10_000), b.between(100, 5_000)));
    let leader = b
        .chance(0.4 * on)
        .then(|| (b.between(500, 5_000), b.between(50, 2_000)));

    Params {
        fault_ms,
        send_gap,
        burst,
        crash_every,
        power_loss,
        mid_call,
        in_recovery,
        restart_delay,
        corrupt,
        truncate,
        disk,
        full,
        net,
        request_timeout,
        broker,
        outage,
        leader,
        poison,
    }
}
