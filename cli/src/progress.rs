//! What `produce` shows on stderr while it works: a progress line while a
//! backlog drains, notices when the broker refuses something, a warning
//! when nothing has been delivered for a while (with a connection probe),
//! and the summary at the end.
//!
//! On a terminal the progress line is redrawn in place five times a
//! second; otherwise (a log file, a pipe) a plain line is written every
//! few seconds, and only while something is pending, so that short runs
//! print nothing but the summary.

use std::collections::VecDeque;
use std::io::{IsTerminal, Write};
use std::net::{TcpStream, ToSocketAddrs};
use std::time::{Duration, Instant};

use steadfast::{FailureClass, Stats};

use super::observe::Newsroom;
use super::parse::{human_bytes, human_duration, human_rate};

/// How often a terminal progress line is redrawn.
const TTY_EVERY: Duration = Duration::from_millis(200);
/// How often a plain progress line is written.
const PLAIN_EVERY: Duration = Duration::from_secs(5);
/// How often the "no delivery" warning is repeated.
const STALL_REPEAT: Duration = Duration::from_secs(30);
/// Window of the live rate.
const RATE_WINDOW: Duration = Duration::from_secs(3);

/// Writes `text` and a newline to stderr, ignoring a closed or broken
/// stderr (`2>&-`, `2>&1 | head`): a diagnostic nobody reads must not stop
/// delivery, and `eprintln!` panics there.
pub fn say(text: &str) {
    let mut err = std::io::stderr().lock();
    let _ = writeln!(err, "{text}");
}

/// What the display knows about the run.
pub struct Context {
    /// The journal directory, as given.
    pub journal: String,
    /// The destination, described.
    pub destination: String,
    /// `host:port` to probe when nothing is delivered.
    pub endpoints: Vec<String>,
    /// Warn after this long without a delivery.
    pub stall_after: Duration,
}

/// The progress display. Call [`tick`](Self::tick) often.
pub struct Progress {
    ctx: Context,
    tty: bool,
    quiet: bool,
    started: Instant,
    last_draw: Option<Instant>,
    line_shown: bool,
    samples: VecDeque<(Instant, u64)>,
    last_done: u64,
    last_change: Instant,
    next_warning: Option<Instant>,
    warned: bool,
}

impl Progress {
    /// A display on stderr (`quiet`: notices and warnings only).
    pub fn new(ctx: Context, quiet: bool) -> Self {
        let now = steadfast::clock::now();
        Progress {
            ctx,
            tty: std::io::stderr().is_terminal(),
            quiet,
            started: now,
            last_draw: None,
            line_shown: false,
            samples: VecDeque::new(),
            last_done: 0,
            last_change: now,
            next_warning: None,
            warned: false,
        }
    }

    /// When the run started.
    pub fn started(&self) -> Instant {
        self.started
    }

    /// Prints a line of its own (above the progress line on a terminal).
    pub fn note(&mut self, text: &str) {
        self.clear();
        say(&format!("steadfast: {text}"));
    }

    /// Removes the progress line from a terminal.
    pub fn clear(&mut self) {
        if self.line_shown {
            let _ = write!(std::io::stderr(), "\r\x1b[2K");
            self.line_shown = false;
        }
    }

    /// Updates the display from fresh `stats`; `phase` says what the tool
    /// is doing ("reading input", "draining").
    pub fn tick(&mut self, stats: &Stats, news: &Newsroom, phase: &str) {
        let now = steadfast::clock::now();
        for (class, code, reason, topic) in news.lock().take_fresh() {
            let text = notice(class, code, &reason, &topic);
            self.note(&text);
        }
        let done = stats.confirmed + stats.dead_lettered;
        if done != self.last_done || stats.pending == 0 {
            self.last_done = done;
            self.last_change = now;
            if self.warned && stats.pending > 0 {
                self.note("delivering again");
            }
            self.warned = false;
            self.next_warning = None;
        }
        self.samples.push_back((now, done));
        while self
            .samples
            .front()
            .is_some_and(|(t, _)| now.saturating_duration_since(*t) > RATE_WINDOW)
        {
            self.samples.pop_front();
        }
        let stalled = now.saturating_duration_since(self.last_change);
        if stats.pending > 0
            && stalled >= self.ctx.stall_after
            && self.next_warning.is_none_or(|at| now >= at)
        {
            let text = self.stall_warning(stats, news, stalled);
            self.note(&text);
            self.warned = true;
            self.next_warning = Some(now + STALL_REPEAT);
        }
        if self.quiet {
            return;
        }
        let due = match (self.tty, self.last_draw) {
            (true, None) => now.saturating_duration_since(self.started) >= Duration::from_millis(300),
            (true, Some(at)) => now.saturating_duration_since(at) >= TTY_EVERY,
            (false, None) => now.saturating_duration_since(self.started) >= PLAIN_EVERY,
            (false, Some(at)) => now.saturating_duration_since(at) >= PLAIN_EVERY,
        };
        if !due || (!self.tty && stats.pending == 0) {
            return;
        }
        self.last_draw = Some(now);
        let line = self.line(stats, phase);
        if self.tty {
            let mut err = std::io::stderr().lock();
            let _ = write!(err, "\r\x1b[2K{line}");
            let _ = err.flush();
            self.line_shown = true;
        } else {
            say(&line);
        }
    }

    fn rate(&self) -> f64 {
        match (self.samples.front(), self.samples.back()) {
            (Some((t0, d0)), Some((t1, d1))) if t1 > t0 => {
                (d1 - d0) as f64 / t1.saturating_duration_since(*t0).as_secs_f64()
            }
            _ => 0.0,
        }
    }

    fn line(&self, stats: &Stats, phase: &str) -> String {
        let oldest = stats
            .oldest_pending
            .map(|d| format!(", oldest waiting {}", human_duration(d)))
            .unwrap_or_default();
        format!(
            "steadfast [{}] {phase}: {} pending ({}), {} confirmed, {} msg/s{oldest}",
            human_duration(steadfast::clock::now().saturating_duration_since(self.started)),
            stats.pending,
            human_bytes(stats.pending_bytes),
            stats.confirmed,
            human_rate(self.rate(), 1.0),
        )
    }

    fn stall_warning(&self, stats: &Stats, news: &Newsroom, stalled: Duration) -> String {
        let mut text = format!(
            "nothing delivered for {}: {} messages ({}) pending",
            human_duration(stalled),
            stats.pending,
            human_bytes(stats.pending_bytes),
        );
        if let Some(d) = stats.oldest_pending {
            text.push_str(&format!(", the oldest waiting {}", human_duration(d)));
        }
        text.push_str(&format!("\n  destination: {}", self.ctx.destination));
        if !self.warned {
            for probe in probe(&self.ctx.endpoints) {
                text.push_str(&format!("\n  {probe}"));
            }
        }
        match &news.lock().last {
            Some((class, code, reason)) => {
                text.push_str(&format!(
                    "\n  last error: {} (code {code}): {reason}",
                    class_name(*class)
                ));
            }
            None => text.push_str("\n  no error reported yet: the transport is still trying"),
        }
        if let Some(e) = &stats.last_error {
            text.push_str(&format!("\n  journal: {e}"));
        }
        text.push_str(&format!(
            "\n  the messages stay journaled in {} and steadfast keeps retrying; stopping it (Ctrl-C) is safe: \
             the next run on this journal delivers them",
            self.ctx.journal
        ));
        text
    }
}

impl Drop for Progress {
    fn drop(&mut self) {
        self.clear();
    }
}

/// A readable name of a failure class.
pub fn class_name(class: FailureClass) -> &'static str {
    match class {
        FailureClass::Retriable => "retriable",
        FailureClass::Terminal => "refused for good",
        FailureClass::Unknown => "outcome unknown",
        FailureClass::UnknownTopic => "unknown topic",
        _ => "failure",
    }
}

/// The notice shown the first time a kind of failure is seen.
fn notice(class: FailureClass, code: i32, reason: &str, topic: &str) -> String {
    match class {
        FailureClass::UnknownTopic => format!(
            "the broker says topic `{topic}` does not exist ({reason}); retrying in case it is being \
             created (--unknown-topic-wait), then the messages go to the dead-letter area"
        ),
        FailureClass::Terminal => format!(
            "the broker refused a message for good (code {code}): {reason}; it goes to the dead-letter area \
             (steadfast dead-letters list)"
        ),
        FailureClass::Unknown => format!(
            "delivery outcome unknown (code {code}): {reason}; resending (the consumer may see a duplicate)"
        ),
        _ => format!("delivery failed, retrying (code {code}): {reason}"),
    }
}

/// Tries a TCP connection to each endpoint (at most three, 500 ms each).
fn probe(endpoints: &[String]) -> Vec<String> {
    let mut out = Vec::new();
    for endpoint in endpoints.iter().take(3) {
        let addrs: Vec<_> = match endpoint.to_socket_addrs() {
            Ok(a) => a.collect(),
            Err(e) => {
                out.push(format!("cannot resolve {endpoint}: {e}"));
                continue;
            }
        };
        let Some(addr) = addrs.first() else {
            out.push(format!("{endpoint} resolves to no address"));
            continue;
        };
        match TcpStream::connect_timeout(addr, Duration::from_millis(500)) {
            Ok(_) => out.push(format!("{endpoint} accepts connections")),
            Err(e) => out.push(format!("cannot connect to {endpoint}: {e}")),
        }
    }
    out
}

/// The end-of-run summary.
pub struct Summary {
    /// Lines of input read.
    pub lines: u64,
    /// Invalid lines skipped.
    pub skipped: u64,
    /// Messages recovered from an earlier run.
    pub recovered: u64,
    /// Final stats.
    pub stats: Stats,
    /// Outcomes that were unknown (records resent).
    pub unknown: u64,
    /// Payload bytes accepted.
    pub bytes: u64,
    /// Wall time.
    pub elapsed: Duration,
}

impl Summary {
    /// The summary block.
    pub fn render(&self) -> String {
        let s = &self.stats;
        let secs = self.elapsed.as_secs_f64();
        let mut text = String::from("steadfast: summary\n");
        let mut row = |name: &str, value: String| text.push_str(&format!("  {name:<14}{value}\n"));
        let mut sent = format!("{}", s.sent);
        if self.lines > 0 || self.skipped > 0 {
            sent.push_str(&format!(" ({} lines read", self.lines));
            if self.skipped > 0 {
                sent.push_str(&format!(", {} invalid skipped", self.skipped));
            }
            sent.push(')');
        }
        row("sent", sent);
        if self.recovered > 0 {
            row(
                "recovered",
                format!("{} (pending from an earlier run)", self.recovered),
            );
        }
        row("confirmed", s.confirmed.to_string());
        row("dead-lettered", s.dead_lettered.to_string());
        row(
            "still pending",
            format!("{} (journaled, sent by the next run)", s.pending),
        );
        row(
            "duplicates",
            if self.unknown == 0 {
                "none possible (no outcome was unknown)".into()
            } else {
                format!(
                    "unknown: up to {} (records resent after an unknown outcome)",
                    self.unknown
                )
            },
        );
        row("elapsed", human_duration(self.elapsed));
        let mut rate = format!("{} msg/s confirmed", human_rate(s.confirmed as f64, secs));
        if self.lines > 0 && secs > 0.0 {
            rate.push_str(&format!(
                "; input accepted at {}/s",
                human_bytes((self.bytes as f64 / secs) as u64)
            ));
        }
        row("rate", rate);
        text.pop();
        text
    }
}
