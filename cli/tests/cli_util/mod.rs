//! Running the built `steadfast` binary from the CLI tests.
#![allow(dead_code, clippy::unwrap_used)]

use std::io::{Read, Write};
use std::path::Path;
use std::process::{Command, Stdio};
use std::time::Duration;

/// What one run of the tool did.
#[derive(Debug)]
pub struct Run {
    /// Exit code (-1 if killed by a signal).
    pub code: i32,
    /// Standard output.
    pub stdout: String,
    /// Standard error.
    pub stderr: String,
}

impl Run {
    /// Panics with both streams unless the exit code is `code`.
    #[track_caller]
    pub fn expect(self, code: i32) -> Run {
        assert_eq!(
            self.code, code,
            "expected exit code {code}, got {}\n--- stdout\n{}\n--- stderr\n{}",
            self.code, self.stdout, self.stderr
        );
        self
    }

    /// Panics unless stderr contains every one of `needles`.
    #[track_caller]
    pub fn stderr_has(self, needles: &[&str]) -> Run {
        for n in needles {
            assert!(self.stderr.contains(n), "stderr lacks {n:?}:\n{}", self.stderr);
        }
        self
    }

    /// Panics unless stdout contains every one of `needles`.
    #[track_caller]
    pub fn stdout_has(self, needles: &[&str]) -> Run {
        for n in needles {
            assert!(self.stdout.contains(n), "stdout lacks {n:?}:\n{}", self.stdout);
        }
        self
    }
}

/// The binary under test (`STEADFAST_TEST_BIN` runs the tests against
/// another build, e.g. an older one, to show what a test catches).
pub fn command() -> Command {
    match std::env::var_os("STEADFAST_TEST_BIN") {
        Some(bin) => Command::new(bin),
        None => Command::new(env!("CARGO_BIN_EXE_steadfast")),
    }
}

/// Like [`run_in`], but kills the tool if it has not exited within
/// `limit` (code -1, `timed_out`): a hang fails the test instead of
/// blocking it. `stderr` is dropped right after the start when
/// `close_stderr` (a reader that went away).
pub fn run_limited(cwd: &Path, args: &[&str], stdin: Vec<u8>, limit: Duration, close_stderr: bool) -> Run {
    let mut child = command()
        .args(args)
        .current_dir(cwd)
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    let mut input = child.stdin.take().unwrap();
    let writer = std::thread::spawn(move || {
        let _ = input.write_all(&stdin);
    });
    let read = |mut r: Box<dyn Read + Send>| {
        std::thread::spawn(move || {
            let mut out = Vec::new();
            let _ = r.read_to_end(&mut out);
            String::from_utf8_lossy(&out).into_owned()
        })
    };
    let stdout = read(Box::new(child.stdout.take().unwrap()));
    let stderr = child.stderr.take().unwrap();
    let stderr = if close_stderr {
        drop(stderr);
        None
    } else {
        Some(read(Box::new(stderr)))
    };
    let deadline = steadfast::clock::now() + limit;
    let status = loop {
        if let Some(status) = child.try_wait().unwrap() {
            break Some(status);
        }
        if steadfast::clock::now() >= deadline {
            let _ = child.kill();
            let _ = child.wait();
            break None;
        }
        steadfast::clock::sleep(Duration::from_millis(20));
    };
    writer.join().unwrap();
    let mut stderr = stderr.map(|t| t.join().unwrap()).unwrap_or_default();
    if status.is_none() {
        stderr.push_str(&format!("\n[test: killed after {limit:?} without exiting]"));
    }
    Run {
        code: status.and_then(|s| s.code()).unwrap_or(-1),
        stdout: stdout.join().unwrap(),
        stderr,
    }
}

/// Runs `steadfast ARGS` in `cwd` with `stdin` as its input.
pub fn run_in(cwd: &Path, args: &[&str], stdin: &[u8]) -> Run {
    let mut child = command()
        .args(args)
        .current_dir(cwd)
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    let mut input = child.stdin.take().unwrap();
    let data = stdin.to_vec();
    let writer = std::thread::spawn(move || {
        // The tool may exit before reading everything (abort mode).
        let _ = input.write_all(&data);
    });
    let out = child.wait_with_output().unwrap();
    writer.join().unwrap();
    Run {
        code: out.status.code().unwrap_or(-1),
        stdout: String::from_utf8_lossy(&out.stdout).into_owned(),
        stderr: String::from_utf8_lossy(&out.stderr).into_owned(),
    }
}

/// A fresh temporary directory.
pub fn tempdir() -> tempfile::TempDir {
    tempfile::Builder::new()
        .prefix("steadfast-cli-")
        .tempdir()
        .unwrap()
}

/// Numbers `from..=to`, one per line.
pub fn numbers(from: u64, to: u64) -> Vec<u8> {
    (from..=to)
        .map(|n| format!("{n}\n"))
        .collect::<String>()
        .into_bytes()
}

/// Every file under `dir` with its contents, for "nothing changed" checks.
pub fn snapshot(dir: &Path) -> Vec<(String, Vec<u8>)> {
    let mut out = Vec::new();
    let mut stack = vec![dir.to_path_buf()];
    while let Some(d) = stack.pop() {
        for e in std::fs::read_dir(&d).unwrap() {
            let p = e.unwrap().path();
            if p.is_dir() {
                stack.push(p);
            } else {
                out.push((p.display().to_string(), std::fs::read(&p).unwrap()));
            }
        }
    }
    out.sort();
    out
}

/// Values of the records a file transport wrote, in file order.
pub fn delivered_values(path: &Path) -> Vec<String> {
    steadfast::transport::read_delivered(path)
        .unwrap()
        .records
        .into_iter()
        .map(|r| String::from_utf8(r.value.unwrap_or_default()).unwrap())
        .collect()
}
