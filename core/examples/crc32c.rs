//! Throughput of the journal's CRC-32C: the `crc` crate's slice-by-16 (what
//! the core uses without the feature `hw-crc32c`) against the core's
//! [`checksum`](steadfast_core::journal::checksum) with it (the `crc32c`
//! crate: SSE 4.2 / ARMv8 CRC instructions when the CPU has them). Figures
//! go to `docs/benchmarks.md`.
//!
//! ```text
//! cargo run --release -p steadfast-core --features hw-crc32c --example crc32c [-- --secs S --reps R]
//! ```
//!
//! For each buffer size, each implementation checksums the same buffer over
//! and over for `S` seconds (default 0.3), `R` times (default 5), the two
//! implementations taking turns; the range of the `R` rates is printed
//! (the machine is shared, so the best is the most telling). The "frame"
//! rows feed the digest as `seal_frame` and `FrameHeader::verify` do: the
//! 20 header bytes, then the payload.

// A benchmark reads the wall clock; the core never does.
#![allow(clippy::disallowed_methods, clippy::unwrap_used)]

use std::hint::black_box;
use std::time::{Duration, Instant};

use crc::{CRC_32_ISCSI, Crc, Table};
use steadfast_core::journal::checksum::{self, Crc32c};

/// The core's software path, built exactly as the core builds it.
static SOFTWARE: Crc<u32, Table<16>> = Crc::<u32, Table<16>>::new(&CRC_32_ISCSI);

/// Runs `f` over and over for `secs`; returns checksummed bytes per second.
fn rate(bytes_per_call: usize, secs: f64, mut f: impl FnMut() -> u32) -> f64 {
    let budget = Duration::from_secs_f64(secs);
    let started = Instant::now();
    let mut calls = 0u64;
    let mut sink = 0u32;
    loop {
        // Check the clock every 64 calls, not every call (100 B takes ~10 ns).
        for _ in 0..64 {
            sink ^= f();
        }
        calls += 64;
        if started.elapsed() >= budget {
            break;
        }
    }
    black_box(sink);
    (calls * bytes_per_call as u64) as f64 / started.elapsed().as_secs_f64()
}

fn range(rates: &[f64]) -> String {
    let lo = rates.iter().copied().fold(f64::INFINITY, f64::min);
    let hi = rates.iter().copied().fold(0.0, f64::max);
    format!("{:.2}–{:.2}", lo / 1e9, hi / 1e9)
}

fn main() {
    let mut secs = 0.3;
    let mut reps = 5;
    let mut args = std::env::args().skip(1);
    while let Some(flag) = args.next() {
        let value = args.next().unwrap_or_default();
        match flag.as_str() {
            "--secs" => secs = value.parse().unwrap(),
            "--reps" => reps = value.parse().unwrap(),
            other => {
                eprintln!("crc32c: unknown option `{other}`; use --secs S --reps R");
                std::process::exit(2);
            }
        }
    }
    // Any bytes will do; these are not all zero and not all alike.
    let data: Vec<u8> = (0..1u32 << 20)
        .map(|i| (i.wrapping_mul(2_654_435_761) >> 13) as u8)
        .collect();
    let header = [0x5au8; 20];
    println!("core checksum in this build: {}", checksum::IMPLEMENTATION);
    println!("GB/s, range of {reps} runs of {secs} s each\n");
    println!("| input | crc crate, slice-by-16 | core with hw-crc32c | speed-up (best/best) |");
    println!("|---|---:|---:|---:|");
    for (name, len, framed) in [
        ("100 B", 100, false),
        ("1 KiB", 1024, false),
        ("1 MiB", 1 << 20, false),
        ("frame: 20 B + 100 B", 100, true),
        ("frame: 20 B + 1 KiB", 1024, true),
    ] {
        let payload = &data[..len];
        let bytes = len + if framed { header.len() } else { 0 };
        let (mut soft, mut hard) = (Vec::new(), Vec::new());
        for _ in 0..reps {
            soft.push(rate(bytes, secs, || {
                let mut digest = SOFTWARE.digest();
                if framed {
                    digest.update(black_box(&header));
                }
                digest.update(black_box(payload));
                digest.finalize()
            }));
            hard.push(rate(bytes, secs, || {
                let mut digest = Crc32c::new();
                if framed {
                    digest.update(black_box(&header));
                }
                digest.update(black_box(payload));
                digest.finalize()
            }));
        }
        // Both must agree, or the comparison means nothing.
        let mut digest = Crc32c::new();
        digest.update(&header);
        digest.update(payload);
        let mut reference = SOFTWARE.digest();
        reference.update(&header);
        reference.update(payload);
        assert_eq!(digest.finalize(), reference.finalize());
        let best = |v: &[f64]| v.iter().copied().fold(0.0, f64::max);
        println!(
            "| {name} | {} | {} | {:.1}× |",
            range(&soft),
            range(&hard),
            best(&hard) / best(&soft)
        );
    }
}
