//! Opening a journal for inspection without changing it.
//!
//! The core is opened on an [`Overlay`] (reads from the files, writes to
//! memory), under a *shared* lock on the journal's `LOCK` file: a running
//! producer holds it exclusively, so inspection never races one, and two
//! inspections may run at once. Recovery runs exactly as a real start
//! would (strict or not); what it would repair is reported, not done.

use std::fs::{File, TryLockError};
use std::io::Read;
use std::path::{Path, PathBuf};

use steadfast::core::{OpenError, RecoverError, RecoveryReport};
use steadfast::storage::{LOCK_FILE, QUARANTINE_DIR, parse_segment_file_name};
use steadfast::{Config, MessageId};

use super::error::CliError;
use super::overlay::Overlay;

/// The core over a read-only overlay.
pub type Core = steadfast::core::Producer<Overlay, Vec<u8>>;

/// Stack for opening the core (it keeps its indexes inline; see the
/// runner's `Builder`).
const OPEN_STACK: usize = 64 << 20;

/// A journal opened read-only.
pub struct Inspection {
    /// The core, recovered.
    pub core: Box<Core>,
    /// What recovery found.
    pub report: RecoveryReport,
    /// The shared lock, held while this lives.
    _lock: Option<File>,
}

/// The result of a strict or lenient open.
pub enum Opened {
    /// Recovered (in lenient mode, damage is in the report and set aside
    /// in memory only).
    Ok(Inspection),
    /// Strict mode refused: the damage found.
    Damaged(RecoveryReport),
}

/// Opens `dir` read-only; `strict` refuses damage instead of setting it
/// aside.
pub fn open(dir: &Path, strict: bool) -> Result<Opened, CliError> {
    check_dir(dir)?;
    let lock = shared_lock(dir)?;
    let config = Config {
        recovery: if strict {
            steadfast::RecoveryMode::Strict
        } else {
            steadfast::RecoveryMode::Salvage
        },
        // Only used if there is no journal yet (`report.created`).
        journal_id: 1,
        ..Config::default()
    };
    let overlay = Overlay::new(dir);
    let buffer = vec![0u8; Core::buffer_len(&config)];
    let shown = dir.display().to_string();
    let opened = std::thread::Builder::new()
        .name("steadfast-inspect".into())
        .stack_size(OPEN_STACK)
        .spawn(move || match Core::open(overlay, buffer, config, 0) {
            Ok((core, report)) => Ok((Box::new(core), report)),
            Err(failed) => Err(Box::new(failed.error)),
        })
        .map_err(|e| CliError::Journal(format!("cannot start a thread: {e}")))?
        .join()
        .map_err(|_| CliError::Journal(format!("reading journal {shown} failed unexpectedly")))?;
    let error = match opened {
        Ok((core, report)) => {
            return Ok(Opened::Ok(Inspection {
                core,
                report,
                _lock: lock,
            }));
        }
        Err(e) => *e,
    };
    match error {
        OpenError::Recover(RecoverError::Damaged(report)) => Ok(Opened::Damaged(report)),
        OpenError::Recover(e @ (RecoverError::NewerVersion { .. } | RecoverError::LanesMismatch { .. })) => {
            Err(CliError::Damaged(format!(
                "journal {shown} cannot be read by this build: {e}"
            )))
        }
        e => Err(CliError::Journal(format!("cannot read journal {shown}: {e}"))),
    }
}

/// The directory must exist and be a directory.
pub fn check_dir(dir: &Path) -> Result<(), CliError> {
    match std::fs::metadata(dir) {
        Ok(m) if m.is_dir() => Ok(()),
        Ok(_) => Err(CliError::Usage(format!(
            "{} is not a directory: --journal takes the journal's directory",
            dir.display()
        ))),
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => Err(CliError::Usage(format!(
            "no journal at {}: the directory does not exist (give --journal DIR)",
            dir.display()
        ))),
        Err(e) => Err(CliError::Journal(format!("cannot read {}: {e}", dir.display()))),
    }
}

/// Takes a shared lock on the journal's lock file, if it has one.
fn shared_lock(dir: &Path) -> Result<Option<File>, CliError> {
    let path = dir.join(LOCK_FILE);
    let mut file = match File::open(&path) {
        Ok(f) => f,
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => return Ok(None),
        Err(e) => return Err(CliError::Journal(format!("cannot open {}: {e}", path.display()))),
    };
    match file.try_lock_shared() {
        Ok(()) => Ok(Some(file)),
        Err(TryLockError::WouldBlock) => {
            let mut text = String::new();
            let _ = (&mut file).take(32).read_to_string(&mut text);
            let holder = match text.trim().parse::<u32>() {
                Ok(pid) => format!("pid {pid}"),
                Err(_) => "another process".into(),
            };
            Err(CliError::Locked(format!(
                "journal {} is in use by {holder}; stop it first (its state changes while it runs)",
                dir.display()
            )))
        }
        // No file locks here: go on unlocked.
        Err(TryLockError::Error(e)) if e.kind() == std::io::ErrorKind::Unsupported => Ok(None),
        Err(TryLockError::Error(e)) => Err(CliError::Journal(format!("cannot lock {}: {e}", path.display()))),
    }
}

/// What is in the directory besides the journal's own files.
#[derive(Debug, Default)]
pub struct DirFacts {
    /// Segment files: count and bytes.
    pub segments: u64,
    /// Their total size.
    pub segment_bytes: u64,
    /// Files moved to `quarantine/` by earlier recoveries.
    pub quarantined: Vec<PathBuf>,
    /// Files that are not part of the journal.
    pub strays: Vec<PathBuf>,
}

/// Lists the journal directory.
pub fn dir_facts(dir: &Path) -> Result<DirFacts, CliError> {
    let io = |e: std::io::Error| CliError::Journal(format!("cannot list {}: {e}", dir.display()));
    let mut facts = DirFacts::default();
    for entry in std::fs::read_dir(dir).map_err(io)? {
        let entry = entry.map_err(io)?;
        let name = entry.file_name();
        let name = name.to_string_lossy();
        if parse_segment_file_name(&name).is_some() {
            facts.segments += 1;
            facts.segment_bytes += entry.metadata().map(|m| m.len()).unwrap_or(0);
        } else if name == QUARANTINE_DIR {
            if let Ok(q) = std::fs::read_dir(entry.path()) {
                facts
                    .quarantined
                    .extend(q.filter_map(|e| e.ok().map(|e| e.path())));
            }
        } else if !steadfast::storage::META_FILES.contains(&name.as_ref())
            && name != LOCK_FILE
            && name != steadfast::storage::BALLAST_FILE
        {
            facts.strays.push(entry.path());
        }
    }
    facts.quarantined.sort();
    facts.strays.sort();
    Ok(facts)
}

/// The oldest message not yet delivered: its id and timestamp.
pub fn oldest_pending(core: &mut Core) -> Option<(MessageId, Option<i64>)> {
    let mut out = vec![0u8; 1 << 21];
    let mut oldest: Option<(MessageId, Option<i64>)> = None;
    // Each call hands out one lane's first batch (oldest first); nothing
    // is sent anywhere and the overlay keeps every write in memory.
    while let Ok(Some(batch)) = core.poll_transmit(0, &mut out) {
        if let Some(Ok(r)) = batch.records(&out).next()
            && oldest.is_none_or(|(id, _)| r.id.seq < id.seq)
        {
            oldest = Some((r.id, r.message.timestamp));
        }
    }
    oldest
}
