//! `steadfast dead-letters list | redrive | discard`.
//!
//! `list` reads the journal without changing it (see
//! [`inspect`](super::inspect)). `redrive` and `discard` open it for
//! writing, with the journal's exclusive lock, and deliver nothing
//! themselves: a re-driven message is journaled again as a new message
//! (with a new id) and goes out with the next `steadfast produce` or
//! `steadfast deliver` on the same journal.

use std::collections::HashSet;
use std::path::Path;
use std::time::Duration;

use serde_json::{Map, Value, json};
use steadfast::core::{Record, Seq};
use steadfast::transport::HoldTransport;
use steadfast::{DeadLetterError, Producer};

use super::dump::message_fields;
use super::error::CliError;
use super::inspect::{self, Opened};
use super::journal::JournalArg;
use super::parse::human_bytes;

/// `dead-letters` subcommands.
#[derive(Debug, clap::Subcommand)]
pub enum DeadLetterCommand {
    /// List the messages the broker refused for good, with the reason.
    List {
        #[command(flatten)]
        journal: JournalArg,
        /// One JSON object per line instead of text.
        #[arg(long)]
        json: bool,
    },
    /// Journal dead letters again as new messages (new ids); the next
    /// `produce` or `deliver` on this journal sends them.
    Redrive {
        #[command(flatten)]
        journal: JournalArg,
        #[command(flatten)]
        which: Which,
    },
    /// Delete dead letters for good.
    Discard {
        #[command(flatten)]
        journal: JournalArg,
        #[command(flatten)]
        which: Which,
    },
}

/// `--seq N [--seq M …]` or `--all`.
#[derive(Debug, clap::Args)]
#[group(required = true, multiple = false)]
pub struct Which {
    /// The dead letter's seq, as `list` shows it (repeatable).
    #[arg(long, value_name = "SEQ")]
    seq: Vec<Seq>,
    /// Every pending dead letter.
    #[arg(long)]
    all: bool,
}

/// Runs a `dead-letters` subcommand.
pub fn run(command: DeadLetterCommand) -> Result<(), CliError> {
    match command {
        DeadLetterCommand::List { journal, json } => list(&journal.journal, json),
        DeadLetterCommand::Redrive { journal, which } => decide(&journal.journal, &which, true),
        DeadLetterCommand::Discard { journal, which } => decide(&journal.journal, &which, false),
    }
}

/// One dead letter as `list` shows it.
struct Letter {
    seq: Seq,
    code: i32,
    reason: String,
    record: Option<Map<String, Value>>,
    value_len: usize,
}

fn list(dir: &Path, as_json: bool) -> Result<(), CliError> {
    let Opened::Ok(mut ins) = inspect::open(dir, false)? else {
        return Err(CliError::Journal("unexpected strict result".into()));
    };
    let mut letters = Vec::new();
    let mut resolved = HashSet::new();
    ins.core
        .for_each_entry(|e| {
            if let Some(dl) = e.dead_letter() {
                let record = Record::decode(dl.record).ok();
                letters.push(Letter {
                    seq: e.seq,
                    code: dl.code,
                    reason: dl.reason.to_owned(),
                    value_len: record
                        .as_ref()
                        .and_then(|r| r.message.value)
                        .map_or(0, <[u8]>::len),
                    record: record.map(|r| {
                        let mut m = Map::new();
                        m.insert("id".into(), json!(r.id.to_string()));
                        message_fields(&mut m, &r.message);
                        m
                    }),
                });
            } else if let Some((seq, _)) = e.resolution() {
                resolved.insert(seq);
            }
        })
        .map_err(|e| CliError::Journal(format!("reading the journal: {e}")))?;
    letters.retain(|l| !resolved.contains(&l.seq));
    if as_json {
        for l in &letters {
            let v = json!({"seq": l.seq, "code": l.code, "reason": l.reason, "message": l.record});
            println!("{v}");
        }
        return Ok(());
    }
    if letters.is_empty() {
        println!("no dead letters in journal {}", dir.display());
        return Ok(());
    }
    println!("{} dead letter(s) in journal {}:", letters.len(), dir.display());
    for l in &letters {
        let field = |name: &str| {
            l.record
                .as_ref()
                .and_then(|m| m.get(name).or_else(|| m.get(&format!("{name}_base64"))))
                .filter(|v| !v.is_null())
                .map_or_else(|| "-".to_owned(), short)
        };
        println!(
            "  seq {:<8} id {}  topic {}  partition {}  key {}",
            l.seq,
            field("id").trim_matches('"'),
            field("topic").trim_matches('"'),
            field("partition"),
            field("key")
        );
        println!("      reason: {} (code {})", l.reason, l.code);
        println!(
            "      value:  {} ({})",
            field("value"),
            human_bytes(l.value_len as u64)
        );
    }
    println!(
        "redrive: steadfast dead-letters redrive --journal {0} --seq N | --all\n\
         discard: steadfast dead-letters discard --journal {0} --seq N | --all",
        dir.display()
    );
    Ok(())
}

/// A JSON value cut to one short line.
fn short(v: &Value) -> String {
    let text = v.to_string();
    match text.char_indices().nth(60) {
        Some((at, _)) => format!("{}…", &text[..at]),
        None => text,
    }
}

fn decide(dir: &Path, which: &Which, redrive: bool) -> Result<(), CliError> {
    inspect::check_dir(dir)?;
    let producer = Producer::builder(dir)
        .open(HoldTransport::default())
        .map_err(|f| CliError::from(f.error))?;
    let pending: Vec<Seq> = producer
        .dead_letters()
        .map_err(|e| CliError::Journal(format!("reading dead letters: {e}")))?
        .iter()
        .map(|d| d.seq)
        .collect();
    let seqs: Vec<Seq> = if which.all {
        pending.clone()
    } else {
        which.seq.clone()
    };
    let mut result = Ok(());
    let mut done = 0;
    for seq in &seqs {
        // Checked against the list (which leaves out resolved ones): a dead
        // letter already re-driven or discarded is never acted on twice.
        let outcome = if !pending.contains(seq) {
            Err(DeadLetterError::NotFound { seq: *seq })
        } else if redrive {
            producer.redrive_dead_letter(*seq).map(|id| {
                println!("dead letter seq {seq}: journaled again as {id}");
            })
        } else {
            producer
                .discard_dead_letter(*seq)
                .map(|()| println!("dead letter seq {seq}: discarded"))
        };
        match outcome {
            Ok(()) => done += 1,
            Err(DeadLetterError::NotFound { seq }) => {
                result = Err(CliError::Usage(format!(
                    "no pending dead letter with seq {seq} in {} (`steadfast dead-letters list` shows them)",
                    dir.display()
                )));
                break;
            }
            Err(e) => {
                result = Err(CliError::Journal(format!("dead letter seq {seq}: {e}")));
                break;
            }
        }
    }
    producer
        .close(Duration::ZERO)
        .map_err(|e| CliError::Journal(e.to_string()))?;
    if seqs.is_empty() {
        println!("no dead letters in journal {}", dir.display());
    } else if redrive && done > 0 {
        println!(
            "{done} message(s) journaled again; `steadfast produce` or `steadfast deliver` on journal {} sends them",
            dir.display()
        );
    }
    result
}
