//! Retry policy: exponential backoff with full jitter.
//!
//! The core has no random source of its own: jitter comes from a SplitMix64
//! sequence seeded by the caller ([`Jitter::new`]), so a simulation replays
//! exactly from its seed.

use crate::transport::Millis;

/// How long to wait between attempts.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct RetryPolicy {
    /// Ceiling of the first backoff.
    pub initial: Millis,
    /// Largest backoff ceiling.
    pub max: Millis,
    /// Give up (dead-letter with a "delivery timeout" reason) after a message
    /// has been failing for this long; `None` retries without limit.
    pub delivery_timeout: Option<Millis>,
}

impl Default for RetryPolicy {
    fn default() -> Self {
        RetryPolicy {
            initial: 100,
            max: 30_000,
            delivery_timeout: None,
        }
    }
}

impl RetryPolicy {
    /// The ceiling for attempt `attempt` (1-based): `initial * 2^(attempt-1)`
    /// capped at `max`.
    pub fn ceiling(&self, attempt: u32) -> Millis {
        let shift = attempt.saturating_sub(1).min(32);
        self.initial.saturating_mul(1u64 << shift).min(self.max).max(1)
    }

    /// Full jitter: a uniform wait in `[0, ceiling(attempt)]`, but never less
    /// than what the server asked for.
    pub fn backoff(&self, attempt: u32, jitter: &mut Jitter, server_wait: Option<Millis>) -> Millis {
        let ceiling = self.ceiling(attempt);
        let wait = jitter.next_u64() % (ceiling + 1);
        wait.max(server_wait.unwrap_or(0))
    }
}

/// A deterministic jitter source (SplitMix64) seeded by the caller.
#[derive(Clone, Debug)]
pub struct Jitter(u64);

impl Jitter {
    /// A sequence determined entirely by `seed`.
    pub fn new(seed: u64) -> Self {
        Jitter(seed)
    }

    /// The next value.
    pub fn next_u64(&mut self) -> u64 {
        self.0 = self.0.wrapping_add(0x9e37_79b9_7f4a_7c15);
        let mut z = self.0;
        z = (z ^ (z >> 30)).wrapping_mul(0xbf58_476d_1ce4_e5b9);
        z = (z ^ (z >> 27)).wrapping_mul(0x94d0_49bb_1331_11eb);
        z ^ (z >> 31)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn ceiling_doubles_and_caps() {
        let p = RetryPolicy {
            initial: 100,
            max: 1000,
            delivery_timeout: None,
        };
        assert_eq!(
            [1, 2, 3, 4, 5, 60].map(|a| p.ceiling(a)),
            [100, 200, 400, 800, 1000, 1000]
        );
    }

    #[test]
    fn backoff_stays_within_ceiling_and_honours_server_wait() {
        let p = RetryPolicy::default();
        let mut j = Jitter::new(7);
        for attempt in 1..20 {
            assert!(p.backoff(attempt, &mut j, None) <= p.ceiling(attempt));
        }
        assert!(p.backoff(1, &mut j, Some(5_000)) >= 5_000);
    }

    #[test]
    fn jitter_replays_from_its_seed() {
        let (mut a, mut b) = (Jitter::new(1), Jitter::new(1));
        assert!((0..100).all(|_| a.next_u64() == b.next_u64()));
    }
}
