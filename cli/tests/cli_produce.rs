//! `steadfast produce` and `steadfast deliver` to the file transport: lines
//! and JSON lines, invalid lines in both modes, the summary, and what a
//! journal left by a killed or stopped producer delivers later.
#![allow(clippy::unwrap_used)]

mod cli_util;

use cli_util::{delivered_values, numbers, run_in, tempdir};
use steadfast::transport::read_delivered;

#[test]
fn lines_from_stdin_reach_the_file_transport() {
    let dir = tempdir();
    let run = run_in(
        dir.path(),
        &[
            "produce",
            "--topic",
            "numbers",
            "--file",
            "out.jsonl",
            "--key",
            "k",
            "-H",
            "origin=test",
        ],
        &numbers(1, 500),
    )
    .expect(0)
    .stderr_has(&[
        "summary",
        "sent          500 (500 lines read)",
        "confirmed     500",
        "duplicates    none possible",
    ]);
    assert!(!run.stderr.contains("error"), "{}", run.stderr);
    let out = read_delivered(dir.path().join("out.jsonl")).unwrap();
    let values: Vec<String> = out
        .records
        .iter()
        .map(|r| String::from_utf8(r.value.clone().unwrap()).unwrap())
        .collect();
    let expected: Vec<String> = (1..=500).map(|n| n.to_string()).collect();
    assert_eq!(values, expected);
    assert!(
        out.records
            .iter()
            .all(|r| r.topic == "numbers" && r.key.as_deref() == Some(&b"k"[..]))
    );
    let text = std::fs::read_to_string(dir.path().join("out.jsonl")).unwrap();
    assert!(text.contains(r#"{"name":"origin","value":"test"}"#));
    // The default journal directory, in the working directory.
    assert!(dir.path().join("steadfast-journal").is_dir());
}

#[test]
fn json_lines_carry_key_headers_partition_and_timestamp() {
    let dir = tempdir();
    let input = concat!(
        r#"{"key":"a","value":"x","headers":{"h1":"v1","h2":null},"partition":2,"timestamp":1700000000000}"#,
        "\n",
        "\n",
        r#"{"key":"b","value":null}"#,
        "\n",
        r#"{"value":{"temp":21.5}}"#,
        "\n",
        r#"{"key_base64":"AAE=","value_base64":"/w=="}"#,
        "\n",
    );
    std::fs::write(dir.path().join("in.jsonl"), input).unwrap();
    run_in(
        dir.path(),
        &[
            "produce",
            "-t",
            "j",
            "--file",
            "out.jsonl",
            "--format",
            "json",
            "--input",
            "in.jsonl",
            "-j",
            "jr",
        ],
        b"",
    )
    .expect(0)
    .stderr_has(&["sent          4 (5 lines read)"]);
    let mut out = read_delivered(dir.path().join("out.jsonl")).unwrap().records;
    assert_eq!(out.len(), 4);
    // Messages of different lanes may be delivered in any order.
    out.sort_by_key(|r| r.seq);
    assert_eq!(out[0].key.as_deref(), Some(&b"a"[..]));
    assert_eq!(out[0].partition, Some(2));
    assert_eq!(out[1].key.as_deref(), Some(&b"b"[..]));
    assert_eq!(out[1].value, None, "null value is a tombstone");
    assert_eq!(out[2].value.as_deref(), Some(&br#"{"temp":21.5}"#[..]));
    assert_eq!(out[3].key.as_deref(), Some(&[0u8, 1][..]));
    assert_eq!(out[3].value.as_deref(), Some(&[0xffu8][..]));
    let text = std::fs::read_to_string(dir.path().join("out.jsonl")).unwrap();
    assert!(text.contains(r#""timestamp":1700000000000"#));
    assert!(text.contains(r#"{"name":"h1","value":"v1"},{"name":"h2","value":null}"#));
}

#[test]
fn an_invalid_line_aborts_by_default_after_delivering_what_came_before() {
    let dir = tempdir();
    let input = b"{\"value\":\"one\"}\n{\"value\":\"two\"}\n{\"value\": oops}\n{\"value\":\"four\"}\n";
    run_in(
        dir.path(),
        &["produce", "-t", "t", "--file", "out.jsonl", "-f", "json"],
        input,
    )
    .expect(1)
    .stderr_has(&[
        "stdin line 3: invalid JSON",
        "nothing after it was read",
        "confirmed     2",
    ]);
    assert_eq!(delivered_values(&dir.path().join("out.jsonl")), ["one", "two"]);
}

#[test]
fn invalid_lines_can_be_skipped() {
    let dir = tempdir();
    let input = b"{\"value\":\"one\"}\n[1,2]\n{\"key\":\"no value\"}\n{\"value\":\"four\",\"partiton\":1}\n{\"value\":\"five\"}\n";
    run_in(
        dir.path(),
        &[
            "produce",
            "-t",
            "t",
            "--file",
            "out.jsonl",
            "-f",
            "json",
            "--on-invalid",
            "skip",
        ],
        input,
    )
    .expect(0)
    .stderr_has(&[
        "line 2: expected a JSON object",
        "line 3: missing \"value\"",
        "line 4: unknown field \"partiton\"",
        "3 invalid skipped",
    ]);
    assert_eq!(delivered_values(&dir.path().join("out.jsonl")), ["one", "five"]);
}

#[test]
fn a_message_too_large_for_the_journal_is_an_input_error_with_its_line() {
    let dir = tempdir();
    let mut input = b"small\n".to_vec();
    input.extend(std::iter::repeat_n(b'x', 2 << 20));
    input.extend(b"\nafter\n");
    run_in(dir.path(), &["produce", "-t", "t", "--file", "out.jsonl"], &input)
        .expect(1)
        .stderr_has(&["line 2: message too large"]);
    assert_eq!(delivered_values(&dir.path().join("out.jsonl")), ["small"]);
    run_in(
        dir.path(),
        &[
            "produce",
            "-t",
            "t",
            "--file",
            "out2.jsonl",
            "--on-invalid",
            "skip",
            "-j",
            "j2",
        ],
        &input,
    )
    .expect(0)
    .stderr_has(&["line 2: message too large", "(skipped)"]);
    assert_eq!(
        delivered_values(&dir.path().join("out2.jsonl")),
        ["small", "after"]
    );
}

#[test]
fn sync_levels_and_budget_are_accepted() {
    let dir = tempdir();
    for (i, sync) in ["always", "interval:50", "never"].iter().enumerate() {
        let journal = format!("j{i}");
        run_in(
            dir.path(),
            &[
                "produce",
                "-t",
                "t",
                "--file",
                "out.jsonl",
                "-j",
                &journal,
                "--sync",
                sync,
                "--budget",
                "8MiB",
            ],
            &numbers(1, 100),
        )
        .expect(0);
    }
    assert_eq!(delivered_values(&dir.path().join("out.jsonl")).len(), 300);
    run_in(
        dir.path(),
        &["produce", "-t", "t", "--file", "o", "--sync", "sometimes"],
        b"",
    )
    .expect(1)
    .stderr_has(&["not a sync level"]);
    run_in(
        dir.path(),
        &["produce", "-t", "t", "--file", "o", "--budget", "lots"],
        b"",
    )
    .expect(1)
    .stderr_has(&["not a size"]);
}

#[test]
fn deliver_sends_what_a_journal_holds() {
    let dir = tempdir();
    let journal = dir.path().join("held");
    // A producer whose transport never answers: everything stays journaled.
    {
        let p = steadfast::Producer::builder(&journal)
            .open(steadfast::transport::HoldTransport::default())
            .unwrap();
        for n in 0..20 {
            p.send(steadfast::OwnedMessage::new("later", format!("m{n}")))
                .unwrap();
        }
    }
    run_in(dir.path(), &["journal", "status", "-j", "held"], b"")
        .expect(0)
        .stdout_has(&["pending        20 messages; oldest: seq"]);
    run_in(dir.path(), &["deliver", "-j", "held", "--file", "out.jsonl"], b"")
        .expect(0)
        .stderr_has(&[
            "20 messages pending from an earlier run",
            "recovered     20",
            "confirmed     20",
        ]);
    let values = delivered_values(&dir.path().join("out.jsonl"));
    assert_eq!(values.len(), 20);
    assert_eq!(values[0], "m0");
    run_in(dir.path(), &["journal", "status", "-j", "held"], b"")
        .expect(0)
        .stdout_has(&["pending        0 messages"]);
}
