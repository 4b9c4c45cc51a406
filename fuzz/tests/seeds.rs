//! Every seed passes its target's check on the stable toolchain, without
//! libFuzzer's instrumentation: the checks themselves hold on good input.

use std::fs;
use std::path::Path;

fn each_seed(target: &str, check: fn(&[u8])) {
    let dir = Path::new(env!("CARGO_MANIFEST_DIR")).join("seeds").join(target);
    let mut seen = 0;
    for entry in fs::read_dir(&dir).unwrap_or_else(|e| panic!("{}: {e}", dir.display())) {
        let path = entry.expect("a directory entry").path();
        let bytes = fs::read(&path).expect("a readable seed");
        eprintln!("{}", path.display());
        check(&bytes);
        seen += 1;
    }
    assert!(seen > 0, "no seeds in {}", dir.display());
}

#[test]
fn recovery_seeds() {
    each_seed("recovery", steadfast_fuzz::recovery::check);
}

#[test]
fn codec_seeds() {
    each_seed("codec", steadfast_fuzz::codec::check);
}

#[test]
fn rest_answer_seeds() {
    each_seed("rest_answer", steadfast_fuzz::rest_answer::check);
}

#[test]
fn json_line_seeds() {
    each_seed("json_line", steadfast_fuzz::json_line::check);
}
