#![no_main]
//! Fuzz target `rest_answer`: see `steadfast_fuzz::rest_answer`.

libfuzzer_sys::fuzz_target!(|data: &[u8]| steadfast_fuzz::rest_answer::check(data));
