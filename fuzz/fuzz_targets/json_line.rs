#![no_main]
//! Fuzz target `json_line`: see `steadfast_fuzz::json_line`.

libfuzzer_sys::fuzz_target!(|data: &[u8]| steadfast_fuzz::json_line::check(data));
