//! The checks behind the fuzz targets in `fuzz_targets/`, one module per
//! target, plus the input formats the seed generator (`examples/seeds.rs`)
//! writes. Each `check` must never panic on any input; a panic is a bug
//! found (docs/fuzzing.md says how to turn it into a regression test).

pub mod codec;
pub mod json_line;
pub mod recovery;
pub mod rest_answer;
