//! CRC-32C, the checksum of every segment header, entry frame and meta slot.
//!
//! Every checksum the journal computes goes through [`Crc32c`] (or its
//! one-shot form [`crc32c()`]), so that the implementation is chosen in one
//! place. The checksum is CRC-32C (the Castagnoli polynomial, `CRC_32_ISCSI`
//! in the `crc` crate's catalogue), whichever implementation computes it:
//!
//! - By default, the `crc` crate: pure Rust, `const` tables, no `std`, so it
//!   builds for microcontrollers. Slice-by-16 tables (16 KiB) where there is
//!   an operating system; one 1 KiB table on bare metal (`target_os =
//!   "none"`), where flash is scarce. About 1–3 GB/s on an x86-64 server.
//! - With the feature `hw-crc32c`, the `crc32c` crate: it detects at run time
//!   whether the CPU has CRC instructions (SSE 4.2 `crc32` on x86-64, the
//!   ARMv8 CRC extension on aarch64) and uses them: on x86-64, 2.5× faster
//!   for 100 bytes, 5× for 1 KiB, 7–8× for 1 MiB (`examples/crc32c.rs`,
//!   `docs/benchmarks.md`). On any other CPU or target (WebAssembly
//!   included) it falls back to its own table-driven code. The crate needs
//!   `std`, so only a runner with `std` enables the feature (the `steadfast`
//!   crate does). Its `unsafe` intrinsics stay inside that crate: this one
//!   keeps `#![forbid(unsafe_code)]`.
//!
//! The two compute the same function, bit for bit (checked by this module's
//! tests on random inputs, split at random points), so the feature changes
//! speed, never the format: a journal written with it is read without it and
//! the other way round, and Cargo's unification of features across a build
//! cannot change what a program writes. That is why a feature selects the
//! implementation here rather than a checksum injected through `Producer`'s
//! type parameters: the checksum is part of the format, not a policy, and
//! every implementation must give the same answer.

/// An incremental CRC-32C: feed it bytes in any number of pieces, then
/// [`finalize`](Crc32c::finalize). Pieces split anywhere give the checksum
/// of their concatenation.
///
/// ```
/// use steadfast_core::journal::checksum::{Crc32c, crc32c};
///
/// let mut digest = Crc32c::new();
/// digest.update(b"1234");
/// digest.update(b"56789");
/// assert_eq!(digest.finalize(), 0xE306_9283); // CRC-32C's check value
/// assert_eq!(crc32c(b"123456789"), 0xE306_9283);
/// ```
#[derive(Clone)]
pub struct Crc32c(engine::State);

impl Crc32c {
    /// A digest of no bytes yet.
    pub const fn new() -> Crc32c {
        Crc32c(engine::State::new())
    }

    /// Adds `bytes` to the checksummed data.
    #[inline]
    pub fn update(&mut self, bytes: &[u8]) {
        self.0.update(bytes);
    }

    /// The CRC-32C of every byte passed to [`update`](Crc32c::update).
    #[inline]
    #[must_use]
    pub fn finalize(self) -> u32 {
        self.0.finalize()
    }
}

impl Default for Crc32c {
    fn default() -> Crc32c {
        Crc32c::new()
    }
}

impl core::fmt::Debug for Crc32c {
    fn fmt(&self, f: &mut core::fmt::Formatter<'_>) -> core::fmt::Result {
        f.debug_tuple("Crc32c").field(&self.clone().finalize()).finish()
    }
}

/// The CRC-32C of `bytes`.
#[inline]
#[must_use]
pub fn crc32c(bytes: &[u8]) -> u32 {
    let mut digest = Crc32c::new();
    digest.update(bytes);
    digest.finalize()
}

/// Which implementation this build uses, for benchmarks and diagnostics.
#[cfg(feature = "hw-crc32c")]
pub const IMPLEMENTATION: &str = "crc32c crate (CPU instructions when present)";
/// Which implementation this build uses, for benchmarks and diagnostics.
#[cfg(not(feature = "hw-crc32c"))]
pub const IMPLEMENTATION: &str = "crc crate (software tables)";

#[cfg(feature = "hw-crc32c")]
use hardware as engine;
#[cfg(not(feature = "hw-crc32c"))]
use software as engine;

/// The `crc` crate's table-driven CRC-32C.
#[cfg(any(test, not(feature = "hw-crc32c")))]
mod software {
    use crc::{CRC_32_ISCSI, Crc, Digest, Table};

    /// Slice-by-16 where there is an operating system.
    #[cfg(not(target_os = "none"))]
    type Tables = Table<16>;
    /// One 1 KiB table on bare metal, where flash is scarce.
    #[cfg(target_os = "none")]
    type Tables = Table<1>;

    static CASTAGNOLI: Crc<u32, Tables> = Crc::<u32, Tables>::new(&CRC_32_ISCSI);

    #[derive(Clone)]
    pub(super) struct State(Digest<'static, u32, Tables>);

    impl State {
        pub(super) const fn new() -> State {
            State(CASTAGNOLI.digest())
        }

        #[inline]
        pub(super) fn update(&mut self, bytes: &[u8]) {
            self.0.update(bytes);
        }

        #[inline]
        pub(super) fn finalize(self) -> u32 {
            self.0.finalize()
        }
    }
}

/// The `crc32c` crate: CPU instructions when present, its tables otherwise.
#[cfg(feature = "hw-crc32c")]
mod hardware {
    /// The CRC-32C of the bytes so far (0 for none): `crc32c_append`
    /// continues a finished checksum, so no other state is needed.
    #[derive(Clone)]
    pub(super) struct State(u32);

    impl State {
        pub(super) const fn new() -> State {
            State(0)
        }

        #[inline]
        pub(super) fn update(&mut self, bytes: &[u8]) {
            self.0 = crc32c::crc32c_append(self.0, bytes);
        }

        #[inline]
        pub(super) fn finalize(self) -> u32 {
            self.0
        }
    }
}

#[cfg(test)]
mod tests {
    use proptest::prelude::*;
    use std::vec::Vec;

    use super::*;

    /// CRC-32C's published check value: the checksum of ASCII "123456789".
    const CHECK: u32 = 0xE306_9283;

    #[test]
    fn the_check_value_matches_in_one_piece_and_in_pieces() {
        assert_eq!(crc32c(b"123456789"), CHECK);
        let mut digest = Crc32c::new();
        for byte in b"123456789" {
            digest.update(core::slice::from_ref(byte));
        }
        assert_eq!(digest.finalize(), CHECK);
        assert_eq!(crc32c(b""), 0);
        assert_eq!(Crc32c::default().finalize(), 0);
    }

    #[test]
    fn the_software_path_gives_the_check_value() {
        let mut digest = software::State::new();
        digest.update(b"123456789");
        assert_eq!(digest.finalize(), CHECK);
    }

    #[cfg(feature = "hw-crc32c")]
    #[test]
    fn the_hardware_path_gives_the_check_value() {
        let mut digest = hardware::State::new();
        digest.update(b"123456789");
        assert_eq!(digest.finalize(), CHECK);
    }

    /// `data` checksummed in the pieces that `cuts` (offsets, any order,
    /// duplicates allowed) split it into, by the implementation in use.
    fn in_pieces(data: &[u8], cuts: &[usize]) -> u32 {
        let mut cuts: Vec<usize> = cuts.iter().map(|c| c % (data.len() + 1)).collect();
        cuts.sort_unstable();
        let mut digest = Crc32c::new();
        let mut from = 0;
        for cut in cuts {
            digest.update(&data[from..cut]);
            from = cut;
        }
        digest.update(&data[from..]);
        digest.finalize()
    }

    fn software(data: &[u8]) -> u32 {
        let mut digest = software::State::new();
        digest.update(data);
        digest.finalize()
    }

    proptest! {
        /// Whatever implementation the build uses agrees with the `crc`
        /// crate's, in one piece and split at random points (as
        /// `seal_frame` splits header and payload), for 0..=4096 bytes.
        /// With `hw-crc32c` on a CPU with CRC instructions this compares
        /// the hardware path with the software one; the offsets of the
        /// pieces also vary the hardware path's alignment handling.
        #[test]
        fn every_path_agrees_with_the_crc_crate(
            data in proptest::collection::vec(any::<u8>(), 0..=4096),
            cuts in proptest::collection::vec(any::<usize>(), 0..6),
        ) {
            let expected = software(&data);
            prop_assert_eq!(crc32c(&data), expected);
            prop_assert_eq!(in_pieces(&data, &cuts), expected);
        }

        /// The same, on the hardware path directly, for unaligned starts.
        #[cfg(feature = "hw-crc32c")]
        #[test]
        fn the_hardware_path_agrees_with_the_crc_crate_at_any_offset(
            data in proptest::collection::vec(any::<u8>(), 0..=4096),
            skip in 0usize..16,
        ) {
            let data = &data[skip.min(data.len())..];
            let mut digest = hardware::State::new();
            digest.update(data);
            prop_assert_eq!(digest.finalize(), software(data));
        }
    }
}
