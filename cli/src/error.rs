//! The tool's exit codes and errors.
//!
//! Every failure the tool reports is a [`CliError`]: a message written for
//! the person at the terminal (what happened, where, and what to do) and
//! the [`Exit`] code a script can branch on. The table of codes is
//! [`EXIT_CODES`], shown by `--help` and repeated in `docs/cli.md`.

use std::fmt;
use std::process::ExitCode;

/// The tool's exit codes (see [`EXIT_CODES`]).
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord)]
pub enum Exit {
    /// Everything asked for was done.
    Ok = 0,
    /// Bad usage or bad input: an unknown flag, a malformed URL or
    /// property, an unreadable input file, an invalid input line.
    Usage = 1,
    /// `journal verify` found damage (or a journal this build cannot read).
    Damaged = 2,
    /// Messages remain journaled, undelivered (`--wait-timeout` passed):
    /// they are sent by the next run.
    Undelivered = 3,
    /// The journal is in use by another process.
    Locked = 4,
    /// The journal could not be opened, read or written (I/O error, a
    /// failed fsync, permissions).
    Journal = 5,
    /// The broker refused some messages for good: they are in the
    /// dead-letter area (`steadfast dead-letters list`).
    DeadLettered = 6,
    /// `steadfast demo` found a message missing (a bug: please report it).
    DemoFailed = 7,
    /// Recovery found journaled messages it cannot deliver (segments lost,
    /// truncated or damaged on disk); the rest was delivered. The message
    /// names the sequence numbers.
    Lost = 8,
    /// The journal's budget or its disk stayed full past `--wait-timeout`
    /// with nothing the tool could free: input from there on was not
    /// accepted. Nothing already journaled was lost.
    Full = 9,
}

impl Exit {
    /// The process exit code.
    pub fn code(self) -> ExitCode {
        ExitCode::from(self as u8)
    }
}

/// The exit code table, as `--help` prints it.
pub const EXIT_CODES: &str = "\
Exit codes:
  0  success
  1  usage or input error (unknown flag, malformed URL or -X property,
     unreadable input file, invalid input line)
  2  journal damaged (journal verify), or written by a newer steadfast
  3  undelivered messages remain journaled (--wait-timeout passed); they
     are sent by the next run on the same journal
  4  journal in use by another process
  5  journal I/O error (cannot open, read or write it; failed fsync)
  6  some messages were dead-lettered (see `steadfast dead-letters list`)
  7  demo: a message went missing
  8  recovery reported lost messages (produce, deliver): journaled messages
     were lost on disk (segments deleted, truncated or damaged) and cannot
     be delivered; everything intact was delivered
  9  journal or disk full: the budget or the disk stayed full past
     --wait-timeout; input from the line named on stderr on was not
     accepted (nothing already journaled is lost)
When several apply, the first of 5, 4, 1, 9, 2, 8, 3, 6 is returned.";

/// Why a command failed. The message says what to do about it.
#[derive(Debug)]
#[non_exhaustive]
pub enum CliError {
    /// Flags that do not fit together, or an invalid value.
    Usage(String),
    /// The input could not be read, or a line was invalid (abort mode).
    Input(String),
    /// The destination is malformed: URL, `-X` property, REST settings.
    Destination(String),
    /// The journal is locked by another process.
    Locked(String),
    /// The journal could not be opened, read or written.
    Journal(String),
    /// `journal verify` found damage.
    Damaged(String),
    /// Messages remain journaled and undelivered.
    Undelivered(String),
    /// Messages were dead-lettered.
    DeadLettered(String),
    /// Recovery reported lost messages.
    Lost(String),
    /// The journal's budget or disk stayed full; input was not accepted.
    Full(String),
    /// The demo found missing messages.
    #[cfg_attr(not(feature = "kafka"), allow(dead_code))]
    Demo(String),
}

impl CliError {
    /// The exit code this error ends the process with.
    pub fn exit(&self) -> Exit {
        match self {
            CliError::Usage(_) | CliError::Input(_) | CliError::Destination(_) => Exit::Usage,
            CliError::Locked(_) => Exit::Locked,
            CliError::Journal(_) => Exit::Journal,
            CliError::Damaged(_) => Exit::Damaged,
            CliError::Undelivered(_) => Exit::Undelivered,
            CliError::DeadLettered(_) => Exit::DeadLettered,
            CliError::Lost(_) => Exit::Lost,
            CliError::Full(_) => Exit::Full,
            CliError::Demo(_) => Exit::DemoFailed,
        }
    }

    /// Precedence when several errors apply (lower is more serious).
    pub fn rank(&self) -> u8 {
        match self.exit() {
            Exit::Journal => 0,
            Exit::Locked => 1,
            Exit::Usage => 2,
            Exit::Full => 3,
            Exit::Damaged => 4,
            Exit::Lost => 5,
            Exit::Undelivered => 6,
            Exit::DeadLettered => 7,
            Exit::DemoFailed => 8,
            Exit::Ok => 9,
        }
    }
}

impl fmt::Display for CliError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            CliError::Usage(m)
            | CliError::Input(m)
            | CliError::Destination(m)
            | CliError::Locked(m)
            | CliError::Journal(m)
            | CliError::Damaged(m)
            | CliError::Undelivered(m)
            | CliError::DeadLettered(m)
            | CliError::Full(m)
            | CliError::Lost(m)
            | CliError::Demo(m) => f.write_str(m),
        }
    }
}

impl std::error::Error for CliError {}

impl From<steadfast::OpenError> for CliError {
    fn from(e: steadfast::OpenError) -> Self {
        match e {
            steadfast::OpenError::Storage(e) => CliError::from(e),
            e => CliError::Journal(format!("cannot open the journal: {e}")),
        }
    }
}

impl From<steadfast::OpenStorageError> for CliError {
    fn from(e: steadfast::OpenStorageError) -> Self {
        match e {
            steadfast::OpenStorageError::Locked { .. } => CliError::Locked(e.to_string()),
            steadfast::OpenStorageError::NotADirectory { .. } => CliError::Usage(e.to_string()),
            e => CliError::Journal(format!("cannot open the journal: {e}")),
        }
    }
}
