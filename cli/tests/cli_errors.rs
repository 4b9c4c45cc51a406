//! Bad input to `steadfast`: each gets a clear message and the documented
//! exit code, never a panic, and nothing is journaled.
#![allow(clippy::unwrap_used)]

mod cli_util;

use cli_util::{run_in, tempdir};

/// Runs the tool and checks it failed with `code`, saying `needles`,
/// without panicking and without creating a journal.
#[track_caller]
fn refused(args: &[&str], code: i32, needles: &[&str]) {
    let dir = tempdir();
    let run = run_in(dir.path(), args, b"1\n2\n")
        .expect(code)
        .stderr_has(needles);
    assert!(!run.stderr.contains("panicked"), "{}", run.stderr);
    assert!(
        !dir.path().join("steadfast-journal").exists(),
        "a journal was created for {args:?}"
    );
}

#[test]
fn help_documents_the_exit_codes() {
    let dir = tempdir();
    for args in [&["--help"][..], &["produce", "--help"]] {
        run_in(dir.path(), args, b"").expect(0).stdout_has(&[
            "Exit codes:",
            "3  undelivered messages remain journaled",
            "4  journal in use",
        ]);
    }
    run_in(dir.path(), &["produce", "--help"], b"")
        .expect(0)
        .stdout_has(&[
            "--wait-timeout",
            "--on-invalid",
            "--rest-version",
            "-X <KEY=VALUE>",
        ]);
}

#[test]
fn usage_errors() {
    refused(&["produce", "--bogus"], 1, &["unexpected argument '--bogus'"]);
    refused(&[], 1, &["Usage:"]);
    refused(&["produce", "--file", "o"], 1, &["no topic: give --topic"]);
    refused(
        &["produce", "-t", "bad topic!", "--file", "o"],
        1,
        &["invalid topic name"],
    );
    refused(
        &[
            "produce",
            "-t",
            "t",
            "--file",
            "o",
            "--rest",
            "http://127.0.0.1:1",
        ],
        1,
        &["give one destination, not --rest and --file"],
    );
    refused(
        &["produce", "-t", "t", "--file", "o", "-X", "linger.ms=1"],
        1,
        &["-X sets librdkafka properties"],
    );
    refused(
        &["produce", "-t", "t", "--file", "o", "-H", "novalue"],
        1,
        &["expected NAME=VALUE"],
    );
    refused(
        &["produce", "-t", "t", "--file", "o", "--partition=-1"],
        1,
        &["--partition"],
    );
    refused(
        &["produce", "-t", "t", "--file", "o", "--wait-timeout", "soon"],
        1,
        &["not a duration"],
    );
    refused(
        &["produce", "-t", "t", "--to", "ftp://x/y"],
        1,
        &["malformed destination URL"],
    );
}

#[test]
fn unreadable_input_and_output() {
    refused(
        &["produce", "-t", "t", "--file", "o", "--input", "missing.txt"],
        1,
        &["cannot read input file missing.txt", "No such file"],
    );
    refused(
        &["produce", "-t", "t", "--file", "o", "--input", "/"],
        1,
        &["it is a directory"],
    );
    refused(&["produce", "-t", "t", "--file", "/"], 1, &["is a directory"]);
}

#[test]
fn a_journal_path_that_is_a_file() {
    let dir = tempdir();
    std::fs::write(dir.path().join("plain"), b"not a journal").unwrap();
    run_in(
        dir.path(),
        &["produce", "-t", "t", "--file", "o", "-j", "plain"],
        b"x\n",
    )
    .expect(1)
    .stderr_has(&["plain exists but is not a directory"]);
    run_in(dir.path(), &["journal", "status", "-j", "plain"], b"")
        .expect(1)
        .stderr_has(&["plain is not a directory"]);
}

#[cfg(feature = "kafka")]
#[test]
fn malformed_kafka_destinations() {
    refused(
        &["produce", "--to", "kafka://host:99999/t"],
        1,
        &["malformed URL: port must be a number"],
    );
    refused(&["produce", "--to", "kafka:///t"], 1, &["malformed URL"]);
    refused(
        &["produce", "--to", "kafka://u:pw@host:9092/t"],
        1,
        &["credentials are not accepted"],
    );
    refused(
        &["produce", "--brokers", "kafka://h:9092/a", "-t", "b"],
        1,
        &["differ"],
    );
    refused(
        &["produce", "--brokers", "host-without-port", "-t", "t"],
        1,
        &["malformed broker address"],
    );
    refused(
        &[
            "produce",
            "--brokers",
            "127.0.0.1:9092",
            "-t",
            "t",
            "-X",
            "no.such.property=1",
        ],
        1,
        &["unknown property \"no.such.property\""],
    );
    refused(
        &[
            "produce",
            "--brokers",
            "127.0.0.1:9092",
            "-t",
            "t",
            "-X",
            "acks=1",
        ],
        1,
        &["property \"acks\" cannot be changed"],
    );
    refused(
        &["produce", "--brokers", "127.0.0.1:9092", "-t", "t", "-X", "junk"],
        1,
        &["expected key=value"],
    );
    // A secret's value is never echoed.
    let dir = tempdir();
    let run = run_in(
        dir.path(),
        &[
            "produce",
            "--brokers",
            "127.0.0.1:9092",
            "-t",
            "t",
            "-X",
            "sasl.password",
        ],
        b"",
    )
    .expect(1);
    assert!(!run.stderr.contains("hunter2"));
    let run = run_in(
        dir.path(),
        &[
            "produce",
            "--brokers",
            "127.0.0.1:9092",
            "-t",
            "t",
            "-X",
            "ssl.key.password=hunter2",
            "-X",
            "bogus.x=1",
        ],
        b"",
    )
    .expect(1);
    assert!(!run.stderr.contains("hunter2"), "{}", run.stderr);
}

#[cfg(feature = "rest")]
#[test]
fn malformed_rest_destinations() {
    refused(
        &["produce", "-t", "t", "--rest", "localhost:8082"],
        1,
        &["malformed REST proxy URL"],
    );
    refused(
        &["produce", "-t", "t", "--rest", "http://user:pw@localhost:8082"],
        1,
        &["carries credentials"],
    );
    refused(
        &[
            "produce",
            "-t",
            "t",
            "--rest",
            "http://h:1",
            "--rest-version",
            "v9",
        ],
        1,
        &["v9"],
    );
    refused(
        &["produce", "-t", "t", "--file", "o", "--rest-version", "v2"],
        1,
        &["--rest-version applies only"],
    );
}
