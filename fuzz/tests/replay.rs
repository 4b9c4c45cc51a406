//! Replays the inputs named by `FUZZ_REPLAY` (a target name and files) on
//! the stable toolchain, for debugging a crash with a debugger or prints:
//! `FUZZ_REPLAY=recovery:path cargo test --test replay -- --nocapture`.

#[test]
fn replay() {
    let Ok(spec) = std::env::var("FUZZ_REPLAY") else {
        return;
    };
    let (target, paths) = spec.split_once(':').expect("FUZZ_REPLAY=target:path[:path…]");
    let check: fn(&[u8]) = match target {
        "recovery" => steadfast_fuzz::recovery::check,
        "codec" => steadfast_fuzz::codec::check,
        "rest_answer" => steadfast_fuzz::rest_answer::check,
        "json_line" => steadfast_fuzz::json_line::check,
        other => panic!("no target {other}"),
    };
    for path in paths.split(':') {
        eprintln!("{path}");
        check(&std::fs::read(path).expect("a readable input"));
    }
}
