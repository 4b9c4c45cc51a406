//! Seeded randomness: one `u64` seed, one independent stream per component.
//!
//! Each component (disk, network, broker, workload, crashes, …) draws from
//! its own [`Rng`], derived from the run's seed and the component's name, so
//! adding a fault kind or a draw in one component never reshuffles the
//! others (style point 15). The generator is the core's own SplitMix64
//! ([`Jitter`]), so there is one implementation of it.

use steadfast_core::Jitter;

/// A SplitMix64 stream.
#[derive(Clone, Debug)]
pub struct Rng(Jitter);

/// FNV-1a over a name, to derive stream keys.
fn fnv(name: &str) -> u64 {
    let mut h = 0xcbf2_9ce4_8422_2325u64;
    for b in name.bytes() {
        h ^= u64::from(b);
        h = h.wrapping_mul(0x0000_0100_0000_01b3);
    }
    h
}

impl Rng {
    /// A stream determined by `seed` alone.
    pub fn new(seed: u64) -> Self {
        Rng(Jitter::new(seed))
    }

    /// The stream named `name` of the run with `seed`.
    pub fn stream(seed: u64, name: &str) -> Self {
        let mut r = Jitter::new(seed ^ fnv(name).rotate_left(17));
        let _ = r.next_u64();
        Rng(Jitter::new(r.next_u64()))
    }

    /// The next value.
    pub fn next_u64(&mut self) -> u64 {
        self.0.next_u64()
    }

    /// Uniform in `0..n` (`0` when `n == 0`).
    pub fn below(&mut self, n: u64) -> u64 {
        if n == 0 {
            return 0;
        }
        ((u128::from(self.next_u64()) * u128::from(n)) >> 64) as u64
    }

    /// Uniform in `lo..=hi`.
    pub fn between(&mut self, lo: u64, hi: u64) -> u64 {
        if hi <= lo {
            return lo;
        }
        lo + self.below(hi - lo + 1)
    }

    /// Uniform in `[0, 1)`.
    pub fn unit(&mut self) -> f64 {
        (self.next_u64() >> 11) as f64 / (1u64 << 53) as f64
    }

    /// True with probability `p`.
    pub fn chance(&mut self, p: f64) -> bool {
        p > 0.0 && self.unit() < p
    }

    /// One element of `items` (which must not be empty).
    pub fn pick<T: Copy>(&mut self, items: &[T]) -> T {
        items[self.below(items.len() as u64) as usize]
    }

    /// A rate drawn log-uniformly between `lo` and `hi` (swarm testing:
    /// some runs barely see a fault, others drown in it).
    pub fn log_rate(&mut self, lo: f64, hi: f64) -> f64 {
        (lo.ln() + self.unit() * (hi.ln() - lo.ln())).exp()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn streams_are_independent_and_replay() {
        let mut a = Rng::stream(7, "disk");
        let mut b = Rng::stream(7, "disk");
        let mut c = Rng::stream(7, "net");
        let xs: Vec<u64> = (0..8).map(|_| a.next_u64()).collect();
        assert!(xs.iter().all(|x| *x == b.next_u64()));
        assert!(xs.iter().any(|x| *x != c.next_u64()));
        assert!((0..1000).all(|_| a.below(10) < 10));
    }
}
