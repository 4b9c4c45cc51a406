#![no_main]
//! Fuzz target `codec`: see `steadfast_fuzz::codec`.

libfuzzer_sys::fuzz_target!(|data: &[u8]| steadfast_fuzz::codec::check(data));
