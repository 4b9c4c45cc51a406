//! The envelope an edge device lives in, with the real `steadfast` binary
//! on real files: journal budgets far smaller than the input, messages at
//! the per-message limit, a budget below the minimum, a full budget and a
//! full disk (a small tmpfs) with and without a reachable destination, a
//! closed stderr, `/dev/null` as the destination, and JSON lines that
//! repeat a key. Every run has a time limit: a hang fails the test.
//!
//! The full-disk test needs root (to mount a tmpfs); where mounting is
//! impossible it prints why and skips, except under `CI=true`.
#![allow(clippy::unwrap_used)]

mod cli_util;

use std::path::{Path, PathBuf};
use std::process::Command;
use std::time::Duration;

use cli_util::{Run, delivered_values, run_limited, tempdir};

/// Lines `from..=to`, each `width` bytes: the number, zero-padded, then
/// filler, so that every line is distinct and its order checkable.
fn lines(from: u64, to: u64, width: usize) -> Vec<u8> {
    let mut out = Vec::with_capacity((to + 1 - from) as usize * (width + 1));
    for n in from..=to {
        out.extend_from_slice(line(n, width).as_bytes());
        out.push(b'\n');
    }
    out
}

fn line(n: u64, width: usize) -> String {
    let mut s = format!("{n:010}-");
    while s.len() < width {
        s.push(char::from(b'a' + (s.len() % 26) as u8));
    }
    s.truncate(width.max(11));
    s
}

/// Panics unless `out` holds exactly lines `1..=n` of `width`, in order.
#[track_caller]
fn assert_delivered(out: &Path, n: u64, width: usize) {
    let got = delivered_values(out);
    assert_eq!(got.len() as u64, n, "{} lines delivered, expected {n}", got.len());
    for (i, value) in got.iter().enumerate() {
        let want = line(i as u64 + 1, width);
        assert!(
            *value == want,
            "line {} is {:?}…, expected {:?}…",
            i + 1,
            &value[..value.len().min(20)],
            &want[..20]
        );
    }
}

/// Runs the tool with a generous time limit.
fn run(cwd: &Path, args: &[&str], stdin: Vec<u8>) -> Run {
    run_limited(cwd, args, stdin, Duration::from_secs(240), false)
}

/// The input line at which a full journal stopped reading ("stopped
/// reading input at line N").
fn stopped_at(run: &Run) -> u64 {
    let at = run
        .stderr
        .find("stopped reading input at line ")
        .unwrap_or_else(|| panic!("no 'stopped reading' in:\n{}", run.stderr));
    let rest = &run.stderr[at + "stopped reading input at line ".len()..];
    rest.split(|c: char| !c.is_ascii_digit())
        .next()
        .unwrap()
        .parse()
        .unwrap()
}

/// The per-message limit the tool chose for a small budget.
fn chosen_limit(run: &Run) -> usize {
    let at = run
        .stderr
        .find("messages are limited to ")
        .unwrap_or_else(|| panic!("the tool did not say its limit:\n{}", run.stderr));
    let rest = &run.stderr[at + "messages are limited to ".len()..];
    rest.split(' ').next().unwrap().parse().unwrap()
}

#[test]
fn small_budgets_keep_producing_far_more_than_they_hold() {
    // (budget, lines, bytes per line): the input is 8 to 64 times the budget.
    for (budget, n, width) in [
        ("256KiB", 40_000, 50),
        ("1MiB", 60_000, 150),
        ("16MiB", 140_000, 500),
    ] {
        let dir = tempdir();
        let run = run(
            dir.path(),
            &[
                "produce",
                "-j",
                "J",
                "-t",
                "T",
                "--file",
                "out.jsonl",
                "--budget",
                budget,
                "--stall-warning",
                "2s",
            ],
            lines(1, n, width),
        );
        run.expect(0);
        assert_delivered(&dir.path().join("out.jsonl"), n, width);
        // The journal stayed within its budget on disk.
        let on_disk: u64 = std::fs::read_dir(dir.path().join("J"))
            .unwrap()
            .map(|e| e.unwrap().metadata().unwrap().len())
            .sum();
        let limit = match budget {
            "256KiB" => 256 << 10,
            "1MiB" => 1 << 20,
            _ => 16 << 20,
        };
        assert!(on_disk <= limit, "{budget}: the journal holds {on_disk} bytes");
    }
}

#[test]
fn messages_at_the_limit_fit_a_small_budget() {
    let dir = tempdir();
    // Learn the limit the tool chooses for the budget (it says so once).
    let probe = run(
        dir.path(),
        &[
            "produce", "-j", "P", "-t", "T", "--file", "p.jsonl", "--budget", "256KiB",
        ],
        lines(1, 1, 20),
    )
    .expect(0);
    let limit = chosen_limit(&probe);
    assert!(
        probe.stderr.matches("messages are limited to").count() == 1,
        "{}",
        probe.stderr
    );
    assert!((16 << 10..256 << 10).contains(&limit), "limit {limit}");
    // Lines just under the limit (the record around a value adds its id,
    // topic, timestamp and framing: under 100 bytes here), 60 times the
    // budget in all.
    let width = limit - 100;
    let n = (60 * (256 << 10) / width) as u64;
    let run = run(
        dir.path(),
        &[
            "produce",
            "-j",
            "J",
            "-t",
            "T",
            "--file",
            "out.jsonl",
            "--budget",
            "256KiB",
            "--stall-warning",
            "2s",
        ],
        lines(1, n, width),
    )
    .expect(0);
    assert!(!run.stderr.contains("too large"), "{}", run.stderr);
    assert_delivered(&dir.path().join("out.jsonl"), n, width);
    // A line over the limit is an invalid line, named as such.
    let mut input = lines(1, 2, 30);
    input.extend_from_slice(&vec![b'x'; limit + 1]);
    input.extend_from_slice(b"\n");
    run_limited(
        dir.path(),
        &[
            "produce", "-j", "K", "-t", "T", "--file", "k.jsonl", "--budget", "256KiB",
        ],
        input,
        Duration::from_secs(60),
        false,
    )
    .expect(1)
    .stderr_has(&["line 3", "message too large"]);
    assert_delivered(&dir.path().join("k.jsonl"), 2, 30);
}

#[test]
fn a_budget_below_the_minimum_is_refused_naming_the_minimum() {
    let dir = tempdir();
    for budget in ["0", "64KiB"] {
        let run = run(
            dir.path(),
            &[
                "produce",
                "-j",
                "J",
                "-t",
                "T",
                "--file",
                "out.jsonl",
                "--budget",
                budget,
            ],
            lines(1, 10, 20),
        )
        .expect(1)
        .stderr_has(&["--budget", "below the minimum of"]);
        assert!(!run.stderr.contains("limit is 0"), "{}", run.stderr);
    }
    // The minimum it names works.
    let run = run(
        dir.path(),
        &[
            "produce",
            "-j",
            "J",
            "-t",
            "T",
            "--file",
            "out.jsonl",
            "--budget",
            "0",
        ],
        Vec::new(),
    );
    let at = run.stderr.find("KiB (").unwrap();
    let minimum: String = run.stderr[at + 5..]
        .chars()
        .take_while(char::is_ascii_digit)
        .collect();
    let run = run_limited(
        dir.path(),
        &[
            "produce",
            "-j",
            "J",
            "-t",
            "T",
            "--file",
            "out.jsonl",
            "--budget",
            &minimum,
        ],
        lines(1, 5_000, 200),
        Duration::from_secs(120),
        false,
    )
    .expect(0)
    .stderr_has(&["messages are limited to 1024 bytes"]);
    assert!(run.stderr.contains("confirmed     5000"), "{}", run.stderr);
    assert_delivered(&dir.path().join("out.jsonl"), 5_000, 200);
}

/// An address where nothing listens: deliveries fail and are retried.
const UNREACHABLE: [&str; 4] = ["--rest", "http://127.0.0.1:1", "--rest-version", "v3"];

#[test]
fn a_full_budget_with_nothing_deliverable_says_so_and_exits_9() {
    let dir = tempdir();
    let mut args = vec![
        "produce",
        "-j",
        "J",
        "-t",
        "T",
        "--budget",
        "256KiB",
        "--stall-warning",
        "1s",
        "--wait-timeout",
        "3s",
    ];
    args.extend(UNREACHABLE);
    let run = run(dir.path(), &args, lines(1, 100_000, 50))
        .expect(9)
        .stderr_has(&["no room in the journal", "journal full", "exit code 9"]);
    // Said within the stall-warning period, long before the give-up.
    let warning = run.stderr.find("no room in the journal").unwrap();
    let give_up = run.stderr.find("stayed full for").unwrap();
    assert!(warning < give_up, "{}", run.stderr);
    // Nothing accepted is lost: a later run delivers all of it, in order.
    let accepted = stopped_at(&run) - 1;
    assert!(accepted > 1_000, "{}", run.stderr);
    run_limited(
        dir.path(),
        &["deliver", "-j", "J", "--file", "out.jsonl", "--budget", "256KiB"],
        Vec::new(),
        Duration::from_secs(120),
        false,
    )
    .expect(0);
    assert_delivered(&dir.path().join("out.jsonl"), accepted, 50);
}

/// A tmpfs of `size` mounted on a fresh directory, unmounted on drop.
struct Tmpfs {
    dir: tempfile::TempDir,
}

impl Tmpfs {
    fn mount(size: &str) -> Result<Tmpfs, String> {
        let dir = tempdir();
        let out = Command::new("mount")
            .args(["-t", "tmpfs", "-o", &format!("size={size}"), "tmpfs"])
            .arg(dir.path())
            .output()
            .map_err(|e| format!("cannot run mount: {e}"))?;
        if !out.status.success() {
            return Err(format!(
                "mount -t tmpfs failed: {}",
                String::from_utf8_lossy(&out.stderr).trim()
            ));
        }
        Ok(Tmpfs { dir })
    }

    fn path(&self) -> PathBuf {
        self.dir.path().to_path_buf()
    }
}

impl Drop for Tmpfs {
    fn drop(&mut self) {
        let _ = Command::new("umount").arg("-l").arg(self.dir.path()).status();
    }
}

/// Panics if a meta slot file is there but shorter than a slot.
#[track_caller]
fn assert_meta_whole(journal: &Path) {
    for name in ["meta-0", "meta-1"] {
        if let Ok(meta) = std::fs::metadata(journal.join(name)) {
            assert_eq!(meta.len(), 64, "{name} is {} bytes", meta.len());
        }
    }
}

#[test]
fn a_full_disk_neither_hangs_nor_loses() {
    let disk = match Tmpfs::mount("3m") {
        Ok(d) => d,
        Err(why) => {
            // Under CI the check must run: a skip there would hide a hang.
            assert!(std::env::var("CI").map_or(true, |v| v != "true"), "{why}");
            println!("skipped: a full disk needs a small tmpfs, and {why}");
            return;
        }
    };
    let out_dir = tempdir();
    let journal = disk.path().join("J");
    let out = out_dir.path().join("out.jsonl");
    // The default budget (1 GiB) on a 3 MiB disk, everything deliverable:
    // the journal frees what is confirmed and takes all 300,000 lines.
    let run = run(
        out_dir.path(),
        &[
            "produce",
            "-j",
            journal.to_str().unwrap(),
            "-t",
            "T",
            "--file",
            out.to_str().unwrap(),
            "--stall-warning",
            "2s",
            "--wait-timeout",
            "60s",
        ],
        lines(1, 300_000, 12),
    );
    // (A "no room" warning may show on a loaded machine while deliveries
    // catch up: what matters is that the run completes.)
    run.expect(0);
    assert_delivered(&out, 300_000, 12);
    assert_meta_whole(&journal);

    // Nothing deliverable: the disk fills with pending messages. The tool
    // says so within the stall-warning period and gives up with exit 9.
    std::fs::remove_dir_all(&journal).unwrap();
    let mut args = vec![
        "produce",
        "-j",
        journal.to_str().unwrap(),
        "-t",
        "T",
        "--stall-warning",
        "1s",
        "--wait-timeout",
        "3s",
    ];
    args.extend(UNREACHABLE);
    let run = run_limited(
        out_dir.path(),
        &args,
        lines(1, 300_000, 12),
        Duration::from_secs(120),
        false,
    )
    .expect(9)
    .stderr_has(&[
        "no room in the journal",
        "disk holding the journal is full",
        "exit code 9",
    ]);
    assert_meta_whole(&journal);
    let accepted = stopped_at(&run) - 1;
    assert!(accepted > 10_000, "{}", run.stderr);
    // Every accepted line is still there.
    let out = out_dir.path().join("later.jsonl");
    run_limited(
        out_dir.path(),
        &[
            "deliver",
            "-j",
            journal.to_str().unwrap(),
            "--file",
            out.to_str().unwrap(),
        ],
        Vec::new(),
        Duration::from_secs(120),
        false,
    )
    .expect(0);
    assert_delivered(&out, accepted, 12);
    assert_meta_whole(&journal);
}

#[test]
fn a_closed_stderr_does_not_stop_delivery() {
    let dir = tempdir();
    let run = run_limited(
        dir.path(),
        &["produce", "-j", "J", "-t", "T", "--file", "out.jsonl"],
        lines(1, 20_000, 30),
        Duration::from_secs(120),
        true,
    );
    assert_eq!(run.code, 0, "{run:?}");
    assert_delivered(&dir.path().join("out.jsonl"), 20_000, 30);
    // The exit code still says what happened: an invalid line aborts (1).
    let run = run_limited(
        dir.path(),
        &["produce", "-j", "K", "-t", "T", "-f", "json", "--file", "k.jsonl"],
        b"{\"value\":\"a\"}\nnot json\n".to_vec(),
        Duration::from_secs(60),
        true,
    );
    assert_eq!(run.code, 1, "{run:?}");
}

#[test]
fn dev_null_as_the_destination_completes() {
    let dir = tempdir();
    run_limited(
        dir.path(),
        &[
            "produce",
            "-j",
            "J",
            "-t",
            "T",
            "--file",
            "/dev/null",
            "--stall-warning",
            "2s",
        ],
        lines(1, 5_000, 20),
        Duration::from_secs(60),
        false,
    )
    .expect(0)
    .stderr_has(&["confirmed     5000"]);
}

#[test]
fn a_json_line_with_a_repeated_key_is_invalid() {
    let dir = tempdir();
    let input =
        b"{\"value\":\"one\"}\n{\"value\":\"two\",\"value\":\"deux\"}\n{\"value\":\"three\"}\n".to_vec();
    run_limited(
        dir.path(),
        &["produce", "-j", "J", "-t", "T", "-f", "json", "--file", "a.jsonl"],
        input.clone(),
        Duration::from_secs(60),
        false,
    )
    .expect(1)
    .stderr_has(&["line 2", "duplicate key \"value\""]);
    assert_eq!(delivered_values(&dir.path().join("a.jsonl")), ["one"]);
    run_limited(
        dir.path(),
        &[
            "produce",
            "-j",
            "J",
            "-t",
            "T",
            "-f",
            "json",
            "--file",
            "s.jsonl",
            "--on-invalid",
            "skip",
        ],
        input,
        Duration::from_secs(60),
        false,
    )
    .expect(0)
    .stderr_has(&["line 2", "duplicate key \"value\"", "skipped"]);
    assert_eq!(delivered_values(&dir.path().join("s.jsonl")), ["one", "three"]);
}

#[test]
fn a_smaller_budget_later_still_delivers_what_a_larger_one_journaled() {
    // Lines of 300 KB journaled under the default limit, then delivered by
    // a run whose small budget lowers the limit: nothing is taken for
    // damage, everything is delivered.
    let dir = tempdir();
    let width = 300_000;
    let mut args = vec!["produce", "-j", "J", "-t", "T", "--wait-timeout", "1s"];
    args.extend(UNREACHABLE);
    run(dir.path(), &args, lines(1, 5, width)).expect(3);
    run(
        dir.path(),
        &[
            "deliver",
            "-j",
            "J",
            "--file",
            "out.jsonl",
            "--budget",
            "1MiB",
            "--wait-timeout",
            "30s",
        ],
        Vec::new(),
    )
    .expect(0)
    .stderr_has(&[
        "messages are limited to",
        "5 messages pending from an earlier run",
    ]);
    assert_delivered(&dir.path().join("out.jsonl"), 5, width);
}
