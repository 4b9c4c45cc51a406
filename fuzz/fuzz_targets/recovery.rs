#![no_main]
//! Fuzz target `recovery`: see `steadfast_fuzz::recovery`.

libfuzzer_sys::fuzz_target!(|data: &[u8]| steadfast_fuzz::recovery::check(data));
