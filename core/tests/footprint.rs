//! Pins the producer's size, which the crate docs ("Memory") promise to
//! microcontroller users: all state by value, fixed by the const
//! parameters, none by the backlog.

use steadfast_core::Producer;
use steadfast_core::testing::MemStorage;

type Of<const LANES: usize, const WINDOW: usize, const SEGMENTS: usize> =
    Producer<MemStorage, Vec<u8>, LANES, WINDOW, SEGMENTS>;

/// The documented estimate, in bytes (64-bit target).
fn estimate(lanes: usize, window: usize, segments: usize) -> usize {
    11 * 1024 + lanes * (64 * window + 180) + segments * (20 * lanes + 68)
}

fn within(actual: usize, lanes: usize, window: usize, segments: usize) {
    let estimate = estimate(lanes, window, segments);
    let off = actual.abs_diff(estimate) as f64 / estimate as f64;
    assert!(
        off < 0.05,
        "Producer<_, _, {lanes}, {window}, {segments}> is {actual} bytes, the documented estimate {estimate}: \
         update the crate docs (\"Memory\")"
    );
}

#[test]
#[cfg(target_pointer_width = "64")]
fn the_producer_is_the_size_the_crate_docs_give() {
    within(size_of::<Of<16, 128, 256>>(), 16, 128, 256);
    within(size_of::<Of<4, 16, 16>>(), 4, 16, 16);
    within(size_of::<Of<4, 16, 4>>(), 4, 16, 4);
    within(size_of::<Of<1, 1, 1>>(), 1, 1, 1);
    assert!(size_of::<Of<16, 128, 256>>() <= 240 * 1024);
    assert!(size_of::<Of<4, 16, 16>>() <= 19 * 1024);
}
