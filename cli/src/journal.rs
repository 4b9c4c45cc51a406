//! `steadfast journal status | verify | dump`: looking at a journal without
//! changing it (see [`inspect`](super::inspect) for how).

use std::io::Write;
use std::path::{Path, PathBuf};

use serde_json::json;
use steadfast::core::RecoveryReport;
use steadfast::core::journal::format::EntryKind;
use steadfast::core::{Damage, Record};

use super::error::CliError;
use super::inspect::{self, Inspection, Opened};
use super::parse::{human_bytes, human_duration};

/// `journal` subcommands.
#[derive(Debug, clap::Subcommand)]
pub enum JournalCommand {
    /// Segments, size, pending messages, dead letters, the oldest pending
    /// message, and what the next start would repair.
    Status {
        #[command(flatten)]
        journal: JournalArg,
        /// Print one JSON object instead of text.
        #[arg(long)]
        json: bool,
    },
    /// Check every checksum, the entry chain and the high-water mark, as a
    /// strict start would, changing nothing. Exit code 2 on damage, with
    /// what and where (segment, offset, sequence numbers).
    Verify {
        #[command(flatten)]
        journal: JournalArg,
    },
    /// Every entry on disk as a JSON line (seq, kind, segment, offset; for
    /// messages id, topic, partition, key, value, headers, timestamp).
    Dump {
        #[command(flatten)]
        journal: JournalArg,
    },
}

/// `--journal DIR`.
#[derive(Clone, Debug, clap::Args)]
pub struct JournalArg {
    /// The journal directory.
    #[arg(long, short = 'j', value_name = "DIR", default_value = "steadfast-journal")]
    pub journal: PathBuf,
}

/// Runs a `journal` subcommand.
pub fn run(command: JournalCommand) -> Result<(), CliError> {
    match command {
        JournalCommand::Status { journal, json } => status(&journal.journal, json),
        JournalCommand::Verify { journal } => verify(&journal.journal),
        JournalCommand::Dump { journal } => {
            inspect::check_dir(&journal.journal)?;
            // Same lock as the other inspections: never read a live journal.
            let Opened::Ok(_held) = inspect::open(&journal.journal, false)? else {
                return Err(CliError::Journal("unexpected strict result".into()));
            };
            let stdout = std::io::stdout();
            let mut out = std::io::BufWriter::new(stdout.lock());
            let damaged = super::dump::dump(&journal.journal, &mut out)?;
            match out.flush() {
                Err(e) if e.kind() != std::io::ErrorKind::BrokenPipe => {
                    return Err(CliError::Journal(format!("writing stdout: {e}")));
                }
                _ => {}
            }
            if damaged > 0 {
                eprintln!(
                    "steadfast: {damaged} damaged place(s) shown as \"kind\":\"damaged\"; run `steadfast journal verify` for details"
                );
            }
            Ok(())
        }
    }
}

fn status(dir: &Path, as_json: bool) -> Result<(), CliError> {
    let Opened::Ok(mut ins) = inspect::open(dir, false)? else {
        return Err(CliError::Journal("unexpected strict result".into()));
    };
    let facts = inspect::dir_facts(dir)?;
    let oldest = inspect::oldest_pending(&mut ins.core);
    let now = steadfast::clock::unix_millis();
    let age = |ts: Option<i64>| {
        ts.and_then(|t| u64::try_from(now.saturating_sub(t)).ok())
            .map(std::time::Duration::from_millis)
    };
    let changes: Vec<String> = ins
        .core
        .storage()
        .changes()
        .iter()
        .map(ToString::to_string)
        .collect();
    let r = &ins.report;
    if as_json {
        let v = json!({
            "journal": dir.display().to_string(),
            "journal_id": format!("{:016x}", r.journal),
            "empty": r.created,
            "segments": facts.segments,
            "bytes": facts.segment_bytes,
            "entries": r.entries,
            "pending": r.pending,
            "dead_letters": r.dead_letters,
            "oldest_pending": oldest.map(|(id, ts)| json!({
                "id": id.to_string(), "seq": id.seq, "timestamp": ts,
                "age_ms": age(ts).map(|d| d.as_millis() as u64),
            })),
            "damage": r.damage.iter().map(ToString::to_string).collect::<Vec<_>>(),
            "torn_tail": r.torn_tail.map(|t| json!({"segment": t.segment, "offset": t.offset, "bytes": t.cut, "zeros": t.zeros})),

            "next_start_would": changes,
            "quarantined_files": facts.quarantined.iter().map(|p| p.display().to_string()).collect::<Vec<_>>(),
            "stray_files": facts.strays.iter().map(|p| p.display().to_string()).collect::<Vec<_>>(),
        });
        println!("{v}");
        return Ok(());
    }
    if r.created {
        println!(
            "journal {}: empty (nothing has been written to it yet)",
            dir.display()
        );
        return Ok(());
    }
    println!("journal {} (id {:016x})", dir.display(), r.journal);
    let row = |name: &str, value: String| println!("  {name:<15}{value}");
    row(
        "segments",
        format!("{} files, {}", facts.segments, human_bytes(facts.segment_bytes)),
    );
    row("entries", r.entries.to_string());
    let oldest_text = match oldest {
        Some((id, ts)) => match age(ts) {
            Some(d) => format!(
                "; oldest: seq {} ({id}), produced {} ago",
                id.seq,
                human_duration(d)
            ),
            None => format!("; oldest: seq {} ({id})", id.seq),
        },
        None => String::new(),
    };
    row("pending", format!("{} messages{oldest_text}", r.pending));
    let dl = if r.dead_letters > 0 {
        format!(
            "{} (steadfast dead-letters list --journal {})",
            r.dead_letters,
            dir.display()
        )
    } else {
        "0".into()
    };
    row("dead letters", dl);
    for d in &r.damage {
        row("damage", d.to_string());
    }
    for c in &changes {
        row("next start", format!("would {c}"));
    }
    if !facts.quarantined.is_empty() {
        row(
            "quarantine/",
            format!(
                "{} file(s) set aside by earlier recoveries",
                facts.quarantined.len()
            ),
        );
    }
    for s in &facts.strays {
        row(
            "stray file",
            format!("{} (not part of the journal; ignored)", s.display()),
        );
    }
    Ok(())
}

fn verify(dir: &Path) -> Result<(), CliError> {
    let opened = inspect::open(dir, true)?;
    let facts = inspect::dir_facts(dir)?;
    let mut ins = match opened {
        Opened::Damaged(report) => return Err(damaged(dir, &report, &[])),
        Opened::Ok(ins) => ins,
    };
    let undecodable = undecodable_entries(&mut ins)?;
    if !undecodable.is_empty() {
        return Err(damaged(dir, &ins.report, &undecodable));
    }
    let r = &ins.report;
    if r.created {
        println!("journal {}: empty, nothing to verify", dir.display());
    } else {
        println!(
            "journal {} is intact: {} segments, {} entries, {} read; {} messages pending, {} dead letters",
            dir.display(),
            r.segments,
            r.entries,
            human_bytes(r.bytes),
            r.pending,
            r.dead_letters
        );
    }
    match &r.torn_tail {
        Some(t) if t.zeros => println!(
            "  note: {} bytes of zeros after the last entry of segment {} (offset {}): space reserved ahead of \
             appends, left by a crash; no entry was torn; the next start cuts it",
            t.cut, t.segment, t.offset
        ),
        Some(t) => println!(
            "  note: a torn tail of {} bytes at segment {} offset {} (the normal trace of a crash during a write; \
             it held nothing that was acknowledged; the next start cuts it)",
            t.cut, t.segment, t.offset
        ),
        None => {}
    }
    for c in ins.core.storage().changes() {
        if !matches!(c, super::overlay::Change::Truncate { .. }) {
            println!("  note: the next start would {c}");
        }
    }
    if !facts.quarantined.is_empty() {
        println!(
            "  note: quarantine/ holds {} file(s) set aside by earlier recoveries (their damage was reported then)",
            facts.quarantined.len()
        );
    }
    for s in &facts.strays {
        println!(
            "  warning: stray file {} is not part of the journal (ignored)",
            s.display()
        );
    }
    Ok(())
}

/// Checksummed entries whose contents cannot be decoded.
fn undecodable_entries(ins: &mut Inspection) -> Result<Vec<String>, CliError> {
    let mut bad = Vec::new();
    let created = ins.core.storage().created();
    ins.core
        .for_each_entry(|e| {
            if created.contains(&e.segment) {
                return;
            }
            let ok = match e.kind {
                EntryKind::Message => e.record().is_some(),
                EntryKind::DeadLetter => e.dead_letter().is_some_and(|d| Record::decode(d.record).is_ok()),
                EntryKind::Resolve => e.resolution().is_some(),
                _ => true,
            };
            if !ok && bad.len() < 20 {
                bad.push(format!(
                    "segment {}: seq {} ({:?} entry) passes its checksum but cannot be decoded",
                    e.segment, e.seq, e.kind
                ));
            }
        })
        .map_err(|e| CliError::Journal(format!("reading the journal: {e}")))?;
    Ok(bad)
}

fn damaged(dir: &Path, report: &RecoveryReport, extra: &[String]) -> CliError {
    let mut text = format!("journal {} is DAMAGED (nothing was changed):", dir.display());
    for d in &report.damage {
        text.push_str(&format!("\n  - {d}"));
        if let Some(hint) = hint(d) {
            text.push_str(&format!("\n    {hint}"));
        }
    }
    if report.more_damage > 0 {
        text.push_str(&format!("\n  - … and {} more", report.more_damage));
    }
    for e in extra {
        text.push_str(&format!("\n  - {e}"));
    }
    let ending = if report.lost_entries() {
        "\nThe next start (steadfast produce / deliver) moves damaged segments to quarantine/, skips damaged \
         bytes, delivers everything intact and exits with code 8; the sequence numbers listed as lost cannot be \
         recovered."
    } else {
        "\nNo journaled message was lost: the next start (steadfast produce / deliver) keeps and delivers \
         everything; a segment with a damaged header goes to quarantine/ once delivered, and the next meta \
         write replaces damaged or foreign meta slots."
    };
    text.push_str(ending);
    CliError::Damaged(text)
}

fn hint(d: &Damage) -> Option<&'static str> {
    Some(match d {
        Damage::Truncated { .. } => {
            "the log was cut at an entry boundary (a restored backup, a copy cut short)"
        }
        Damage::MissingSegment { .. } => "a segment file was deleted or not copied",
        Damage::ForeignSegment { .. } => "a segment from another journal was copied into this directory",
        Damage::MetaDamaged => "meta-0 and meta-1 are both unreadable",
        Damage::MetaSlotDamaged { .. } => {
            "a flipped bit or a torn write in a 64-byte meta file; the next meta write replaces it"
        }
        Damage::MetaMismatch { .. } => "meta-0/meta-1 were copied from another journal's directory",
        Damage::SegmentsGone { .. } => {
            "every segment file was deleted, emptied or not copied; steadfast never deletes its newest segment"
        }
        Damage::HeaderSalvaged { .. } => {
            "the 64-byte segment header is damaged; every frame behind it checks out and chains, so nothing is lost"
        }
        _ => return None,
    })
}
