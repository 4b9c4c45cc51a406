//! The clock: the one place in steadfast that reads time or sleeps.
//!
//! The core never reads a clock; every input takes `now`, a monotonic
//! millisecond count. This module supplies it, and the deadlines of the
//! blocking calls, from [`Instant`]. The workspace's `clippy.toml` forbids
//! `Instant::now`, `SystemTime::now` and `thread::sleep` everywhere else, so
//! a test that wants to control time has exactly one module to replace.

use std::sync::OnceLock;
use std::time::{Duration, Instant};

use steadfast_core::Millis;

/// The instant that millisecond 0 stands for (fixed on first use).
static EPOCH: OnceLock<Instant> = OnceLock::new();

/// The current instant.
#[allow(clippy::disallowed_methods)]
pub fn now() -> Instant {
    Instant::now()
}

/// Milliseconds since this process first asked for the time: the `now`
/// every core input takes.
pub fn millis() -> Millis {
    millis_at(now())
}

/// `at` in the core's milliseconds (0 for instants before the epoch).
pub fn millis_at(at: Instant) -> Millis {
    let epoch = *EPOCH.get_or_init(now);
    u64::try_from(at.saturating_duration_since(epoch).as_millis()).unwrap_or(u64::MAX)
}

/// The instant `after` from now, or `None` if it cannot be represented
/// (a timeout so long it means "no deadline").
pub fn deadline_after(after: Duration) -> Option<Instant> {
    now().checked_add(after)
}

/// Time left until `deadline` (zero once it has passed).
pub fn remaining(deadline: Instant) -> Duration {
    deadline.saturating_duration_since(now())
}

/// Milliseconds since the Unix epoch, for record timestamps and for mixing
/// into a new journal's id. Never used for deadlines.
#[allow(clippy::disallowed_methods)]
pub fn unix_millis() -> i64 {
    match std::time::SystemTime::now().duration_since(std::time::UNIX_EPOCH) {
        Ok(d) => i64::try_from(d.as_millis()).unwrap_or(i64::MAX),
        Err(e) => -i64::try_from(e.duration().as_millis()).unwrap_or(i64::MAX),
    }
}

/// Sleeps for `d`. The runner itself sleeps only on platforms without
/// threads (WASI preview 1), where there is no condition variable to wait
/// on; tests and examples use it to let time pass.
#[allow(clippy::disallowed_methods)]
pub fn sleep(d: Duration) {
    std::thread::sleep(d);
}
