//! The run's trace: every event the simulator sees, folded into a hash.
//!
//! Determinism is proved by running a seed twice and comparing hashes
//! (after madsim's `check_determinism`). Formatting text for every event
//! would cost more than the simulation itself, so the trace is hashed from
//! the events' fields; the text form is rendered only when asked for (the
//! replay command's `--trace`), from the very same calls, so the text and
//! the hash describe the same byte-for-byte sequence.

use std::fmt::Write as _;

/// Hash of events, and optionally their text.
#[derive(Debug, Default)]
pub struct Trace {
    hash: u64,
    events: u64,
    lines: Option<Vec<String>>,
}

fn mix(h: u64, x: u64) -> u64 {
    (h ^ x).wrapping_mul(0x0000_0100_0000_01b3).rotate_left(29) ^ (x >> 7)
}

impl Trace {
    /// A trace that only hashes.
    pub fn new(verbose: bool) -> Self {
        Trace {
            hash: 0xcbf2_9ce4_8422_2325,
            events: 0,
            lines: verbose.then(Vec::new),
        }
    }

    /// Records event `tag` at `now` with `fields`.
    pub fn ev(&mut self, now: u64, tag: &'static str, fields: &[u64]) {
        self.events += 1;
        let mut h = mix(self.hash, now);
        for b in tag.bytes() {
            h = mix(h, u64::from(b));
        }
        for f in fields {
            h = mix(h, *f);
        }
        self.hash = mix(h, fields.len() as u64);
        if let Some(lines) = &mut self.lines {
            let mut line = format!("{now:>9} {tag}");
            for f in fields {
                let _ = write!(line, " {f}");
            }
            lines.push(line);
        }
    }

    /// The hash so far.
    pub fn hash(&self) -> u64 {
        self.hash
    }

    /// Events recorded.
    pub fn events(&self) -> u64 {
        self.events
    }

    /// The text, when verbose.
    pub fn lines(&self) -> &[String] {
        self.lines.as_deref().unwrap_or(&[])
    }
}
