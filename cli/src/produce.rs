//! `steadfast produce` (input → journal → broker) and `steadfast deliver`
//! (journal → broker: what an earlier run left, or re-driven dead letters).
//!
//! ```text
//!  input thread ──lines──▶ batches ──send_batch (one fsync)──▶ journal ──driver──▶ transport
//!                              │                                   ▲
//!                              └── progress / stall warnings ◀── stats, transport news
//! ```
//!
//! Input is read on its own thread and handed over in batches of up to
//! 1024 messages, each made durable with one fsync (`send_batch`). When the
//! input ends, the tool waits for every message to be confirmed (or
//! dead-lettered), at most `--wait-timeout`; what is still unconfirmed
//! stays journaled and the exit code says so (3).

use std::path::{Path, PathBuf};
use std::sync::mpsc::{self, RecvTimeoutError, TryRecvError};
use std::sync::{Arc, Mutex, PoisonError};
use std::time::Duration;

use steadfast::{
    BatchError, BatchStop, Config, Delivery, FlushError, FullCause, OwnedMessage, Producer, Refusal,
    SyncPolicy,
};

use super::dest::{Dest, DestArgs};
use super::error::CliError;
use super::input::{Defaults, Format, Item, OnInvalid, Source, spawn_reader};
use super::journal::JournalArg;
use super::observe::{Newsroom, Observed};
use super::parse::{self, human_bytes, human_duration};
use super::progress::{Context, Progress, Summary, say};

/// How often the display is refreshed and the input checked.
const TICK: Duration = Duration::from_millis(200);
/// Most messages per `send_batch` (one fsync).
const MAX_BATCH: usize = 1024;
/// Most payload bytes per `send_batch`.
const MAX_BATCH_BYTES: u64 = 1 << 20;
/// How often the "journal full" warning is repeated.
const FULL_REPEAT: Duration = Duration::from_secs(30);
/// How long one `send_batch` waits for room before the display is updated.
const ROOM_WAIT: Duration = Duration::from_millis(250);

/// `steadfast produce`.
#[derive(Debug, clap::Args)]
pub struct ProduceArgs {
    #[command(flatten)]
    journal: JournalArg,
    /// The topic (or give it in a kafka://host:port/TOPIC URL).
    #[arg(long, short = 't')]
    topic: Option<String>,
    /// Read from FILE instead of stdin (`-` is stdin).
    #[arg(long, short = 'i', value_name = "FILE")]
    input: Option<PathBuf>,
    /// How each input line becomes a message.
    #[arg(long, short = 'f', value_enum, default_value_t = Format::Lines)]
    format: Format,
    /// What to do with an invalid line (bad JSON, a message too large).
    #[arg(long, value_enum, default_value_t = OnInvalid::Abort)]
    on_invalid: OnInvalid,
    /// Key of every message (JSON lines may set their own).
    #[arg(long, short = 'k')]
    key: Option<String>,
    /// Partition of every message (default: chosen by key, or spread).
    #[arg(long, short = 'p', value_parser = clap::value_parser!(i32).range(0..))]
    partition: Option<i32>,
    /// A header added to every message (repeatable).
    #[arg(long = "header", short = 'H', value_name = "NAME=VALUE")]
    headers: Vec<String>,
    #[command(flatten)]
    dest: DestArgs,
    #[command(flatten)]
    run: RunArgs,
}

/// `steadfast deliver`.
#[derive(Debug, clap::Args)]
pub struct DeliverArgs {
    #[command(flatten)]
    journal: JournalArg,
    #[command(flatten)]
    dest: DestArgs,
    #[command(flatten)]
    run: RunArgs,
}

/// Durability and waiting, shared by `produce` and `deliver`.
#[derive(Clone, Debug, clap::Args)]
pub struct RunArgs {
    /// always (fsync before a line counts as accepted; survives power
    /// loss), interval:MS (fsync at most MS later), never (survives a
    /// crash of the process, not of the machine).
    #[arg(long, value_parser = parse::sync, default_value = "always", value_name = "LEVEL")]
    sync: SyncPolicy,
    /// The journal's size limit (e.g. 512MiB, 1GiB; default 1GiB). When it
    /// is full, reading input pauses until deliveries free space.
    #[arg(long, value_parser = parse::bytes, value_name = "BYTES")]
    budget: Option<u64>,
    /// Give up waiting for delivery this long after the input ends (e.g.
    /// 30s); what is unconfirmed stays journaled (exit code 3). Default:
    /// wait as long as it takes.
    #[arg(long, value_parser = parse::duration, value_name = "DURATION")]
    wait_timeout: Option<Duration>,
    /// Warn (what is pending, the last error, whether the destination
    /// accepts connections) after this long without a delivery.
    #[arg(long, value_parser = parse::duration, value_name = "DURATION", default_value = "10s")]
    stall_warning: Duration,
    /// How long messages to a topic the broker does not know are retried
    /// before they are dead-lettered.
    #[arg(long, value_parser = parse::duration, value_name = "DURATION", default_value = "60s")]
    unknown_topic_wait: Duration,
    /// No progress display and no summary: warnings and errors only.
    #[arg(long, short = 'q')]
    quiet: bool,
}

/// What `produce` reads.
struct InputPlan {
    source: Source,
    format: Format,
    on_invalid: OnInvalid,
    defaults: Defaults,
}

/// Counters of the input side.
#[derive(Default)]
struct Fed {
    lines: u64,
    skipped: u64,
    bytes: u64,
}

/// Runs `produce`.
pub fn produce(args: ProduceArgs) -> Result<(), CliError> {
    let (dest, topic) = Dest::from_args(&args.dest, args.topic.as_deref())?;
    let topic = topic.ok_or_else(|| {
        CliError::Usage("no topic: give --topic TOPIC (or a kafka://host:port/TOPIC URL)".into())
    })?;
    check_topic(&topic)?;
    let headers = args
        .headers
        .iter()
        .map(|h| match h.split_once('=') {
            Some((name, value)) if !name.is_empty() => Ok((name.to_owned(), Some(value.as_bytes().to_vec()))),
            _ => Err(CliError::Usage(format!("--header {h:?}: expected NAME=VALUE"))),
        })
        .collect::<Result<Vec<_>, _>>()?;
    if headers.len() > steadfast::MAX_MESSAGE_HEADERS {
        return Err(CliError::Usage(format!(
            "{} --header flags; a message may carry at most {}",
            headers.len(),
            steadfast::MAX_MESSAGE_HEADERS
        )));
    }
    let source = Source::open(args.input.as_deref())?;
    let plan = InputPlan {
        source,
        format: args.format,
        on_invalid: args.on_invalid,
        defaults: Defaults {
            topic: topic.clone(),
            key: args.key.map(String::into_bytes),
            partition: args.partition,
            headers,
        },
    };
    session(&args.journal.journal, &dest, Some(&topic), Some(plan), &args.run)
}

/// Runs `deliver`.
pub fn deliver(args: DeliverArgs) -> Result<(), CliError> {
    let (dest, _) = Dest::from_args(&args.dest, None)?;
    session(&args.journal.journal, &dest, None, None, &args.run)
}

/// Kafka's topic name rule: 1–249 of `[A-Za-z0-9._-]`, not `.` or `..`.
pub fn check_topic(topic: &str) -> Result<(), CliError> {
    let legal = |c: char| c.is_ascii_alphanumeric() || matches!(c, '.' | '_' | '-');
    if topic.is_empty() || topic.len() > 249 || topic == "." || topic == ".." || !topic.chars().all(legal) {
        return Err(CliError::Usage(format!(
            "invalid topic name {topic:?}: Kafka topics are 1-249 characters of A-Z a-z 0-9 . _ -"
        )));
    }
    Ok(())
}

/// Refuses to deliver an earlier run's messages to a throwaway cluster by
/// accident.
fn guard_leftovers(dir: &Path) -> Result<(), CliError> {
    if !dir.is_dir() {
        return Ok(());
    }
    let super::inspect::Opened::Ok(ins) = super::inspect::open(dir, false)? else {
        return Ok(());
    };
    let pending = ins.report.pending;
    if pending > 0 {
        return Err(CliError::Usage(format!(
            "journal {} holds {pending} undelivered messages from an earlier run; without a destination they would go \
             to a throwaway embedded cluster. Give their destination (--brokers, --rest, --file), or pass --embedded \
             to send them there anyway",
            dir.display()
        )));
    }
    Ok(())
}

#[cfg(feature = "kafka")]
type Cluster = super::embedded::Embedded;
/// Stands in for the embedded cluster in builds without it.
#[cfg(not(feature = "kafka"))]
struct Cluster;

/// Starts the embedded cluster if the destination asks for it.
fn start_cluster(dest: &Dest, topic: Option<&str>, quiet: bool) -> Result<Option<Cluster>, CliError> {
    let Dest::Embedded { implicit, .. } = dest else {
        return Ok(None);
    };
    #[cfg(feature = "kafka")]
    {
        let topics: Vec<(&str, i32)> = topic.map(|t| (t, 3)).into_iter().collect();
        let cluster = super::embedded::Embedded::start(3, &topics)?;
        let why = if *implicit {
            "no destination given (--brokers, --rest or --file): "
        } else {
            ""
        };
        if !quiet || *implicit {
            say(&format!(
                "steadfast: {why}starting an embedded Kafka mock cluster in this process (librdkafka, 3 brokers, \
                 in memory) at {}; its records are discarded when steadfast exits. Give --brokers HOST:PORT to \
                 deliver to your Kafka",
                cluster.bootstrap()
            ));
        }
        Ok(Some(cluster))
    }
    #[cfg(not(feature = "kafka"))]
    {
        let _ = (topic, quiet, implicit);
        Err(CliError::Usage(
            "no destination given: use --file PATH or --rest URL (this steadfast was built without the kafka feature)"
                .into(),
        ))
    }
}

#[cfg(feature = "kafka")]
fn bootstrap_of(cluster: &Option<Cluster>) -> Option<String> {
    cluster.as_ref().map(super::embedded::Embedded::bootstrap)
}

#[cfg(not(feature = "kafka"))]
fn bootstrap_of(_: &Option<Cluster>) -> Option<String> {
    None
}

/// Opens the journal, feeds the input (if any), drains, and reports.
fn session(
    dir: &Path,
    dest: &Dest,
    topic: Option<&str>,
    input: Option<InputPlan>,
    run: &RunArgs,
) -> Result<(), CliError> {
    dest.check()?;
    if matches!(dest, Dest::Embedded { implicit: true, .. }) {
        guard_leftovers(dir)?;
    }
    let cluster = start_cluster(dest, topic, run.quiet)?;
    let transport = dest.transport(bootstrap_of(&cluster).as_deref())?;
    let news = Newsroom::default();
    let dead: Arc<Mutex<Vec<String>>> = Arc::default();
    let dead_in = Arc::clone(&dead);
    let mut config = Config {
        unknown_topic_wait: u64::try_from(run.unknown_topic_wait.as_millis()).unwrap_or(u64::MAX),
        ..Config::default()
    };
    if let Some(budget) = run.budget {
        config.max_entry = fit_to_budget(budget, config.max_entry, run.quiet)?;
    }
    let mut builder = Producer::builder(dir)
        .config(config)
        .sync(run.sync)
        .on_delivery(move |d| {
            if let Delivery::DeadLettered { id, failure } = d {
                let mut list = dead_in.lock().unwrap_or_else(PoisonError::into_inner);
                if list.len() < 1000 {
                    list.push(format!("{id}: {failure}"));
                }
            }
        });
    if let Some(b) = run.budget {
        builder = builder.budget(b);
    }
    let producer = builder
        .spawn(Observed::new(transport, news.clone()))
        .map_err(|f| CliError::from(f.error))?;
    let mut progress = Progress::new(
        Context {
            journal: dir.display().to_string(),
            destination: dest.describe(),
            endpoints: dest.endpoints(),
            stall_after: run.stall_warning,
        },
        run.quiet,
    );
    let report = producer.recovery_report().clone();
    if !report.created && (report.pending > 0 || !report.is_clean()) {
        progress.note(&format!(
            "journal {}: {} messages pending from an earlier run; delivering them first",
            dir.display(),
            report.pending
        ));
        for d in &report.damage {
            progress.note(&format!("journal damage found and set aside: {d}"));
        }
    }
    let mut problems = Vec::new();
    let mut fed = Fed::default();
    if let Some(plan) = input {
        feed(
            &producer,
            plan,
            run,
            &mut progress,
            &news,
            &mut fed,
            &mut problems,
        )?;
    }
    let drained = drain(&producer, run, &mut progress, &news)?;
    let stats = producer.stats();
    let elapsed = steadfast::clock::now().saturating_duration_since(progress.started());
    let close = producer.close(if drained {
        Duration::from_secs(5)
    } else {
        Duration::from_secs(1)
    });
    progress.clear();
    let left = match close {
        Ok(r) => r,
        Err(e) => return Err(CliError::Journal(e.to_string())),
    };
    // The embedded cluster (and its records) goes only now, after the
    // producer closed.
    #[cfg(feature = "kafka")]
    drop(cluster);
    if !run.quiet {
        let mut last = stats.clone();
        last.pending = left.pending;
        let summary = Summary {
            lines: fed.lines,
            skipped: fed.skipped,
            recovered: report.pending,
            stats: last,
            unknown: news.lock().unknown,
            bytes: fed.bytes,
            elapsed,
        };
        say(&summary.render());
    }
    if left.pending > 0 {
        let why = match run.wait_timeout {
            Some(w) if !drained => format!(" (--wait-timeout {} passed)", human_duration(w)),
            _ => String::new(),
        };
        problems.push(CliError::Undelivered(format!(
            "{} messages ({}) remain journaled in {}, undelivered{why}; the next `steadfast produce` or \
             `steadfast deliver --journal {}` with the same destination sends them",
            left.pending,
            human_bytes(stats.pending_bytes),
            dir.display(),
            dir.display()
        )));
    }
    if report.lost_entries() {
        problems.push(lost_messages(dir, &report));
    }
    if stats.dead_lettered > 0 {
        let list = dead.lock().unwrap_or_else(PoisonError::into_inner);
        let mut text = format!(
            "{} message(s) were refused for good and moved to the dead-letter area",
            stats.dead_lettered
        );
        for line in list.iter().take(3) {
            text.push_str(&format!("\n  {line}"));
        }
        if list.len() > 3 {
            text.push_str(&format!("\n  … and {} more", list.len() - 3));
        }
        text.push_str(&format!(
            "\n  see `steadfast dead-letters list --journal {}`; `redrive` sends them again",
            dir.display()
        ));
        problems.push(CliError::DeadLettered(text));
    }
    worst(problems)
}

/// The smallest per-message limit (encoded, with framing) the tool lowers
/// to for a small `--budget`; the budget for it is the tool's minimum.
pub const MIN_MESSAGE_LIMIT: usize = 1024;

/// The per-message limit for `--budget`: `default` if the budget holds
/// it, else the largest the budget holds (said once on stderr, unless
/// `quiet`). A budget below the minimum for [`MIN_MESSAGE_LIMIT`] is a
/// usage error naming the minimum.
fn fit_to_budget(budget: u64, default: usize, quiet: bool) -> Result<usize, CliError> {
    let fits = steadfast::Builder::max_entry_for_budget(budget);
    if fits >= default {
        return Ok(default);
    }
    if fits < MIN_MESSAGE_LIMIT {
        let minimum = steadfast::Builder::min_budget(MIN_MESSAGE_LIMIT);
        return Err(CliError::Usage(format!(
            "--budget {} is below the minimum of {} ({minimum} bytes): the journal needs room for four segments \
             of at least one {MIN_MESSAGE_LIMIT}-byte message each, its bookkeeping and its 64 KiB reserve file",
            human_bytes(budget),
            human_bytes(minimum)
        )));
    }
    if !quiet {
        say(&format!(
            "steadfast: --budget {}: messages are limited to {fits} bytes encoded (the default limit of {} needs a \
             budget of at least {}); larger lines are invalid (--on-invalid)",
            human_bytes(budget),
            human_bytes(default as u64),
            human_bytes(steadfast::Builder::min_budget(default))
        ));
    }
    Ok(fits)
}

/// Exit code 8: what recovery could not keep, by sequence number.
fn lost_messages(dir: &Path, report: &steadfast::RecoveryReport) -> CliError {
    let mut text = format!(
        "recovery of journal {} lost journaled messages; they cannot be delivered (everything intact was):",
        dir.display()
    );
    for d in report.damage.iter().filter(|d| d.loses_entries()) {
        text.push_str(&format!("\n  - {d}"));
    }
    if report.more_damage > 0 {
        text.push_str(&format!("\n  … and {} more damage items", report.more_damage));
    }
    text.push_str(
        "\n  the ids are <journal id>-<seq>: a consumer can tell which never arrived; see docs/cli.md \
         (\"When recovery reports loss\")",
    );
    CliError::Lost(text)
}

/// The most serious problem, printing the others.
fn worst(mut problems: Vec<CliError>) -> Result<(), CliError> {
    problems.sort_by_key(CliError::rank);
    let mut iter = problems.into_iter();
    let Some(first) = iter.next() else {
        return Ok(());
    };
    for other in iter {
        say(&format!("steadfast: {other}"));
    }
    Err(first)
}

/// A batch being gathered: messages and their line numbers.
#[derive(Default)]
struct Batch {
    lines: Vec<u64>,
    messages: Vec<OwnedMessage>,
    bytes: u64,
}

/// Reads the input into the journal.
fn feed(
    producer: &Producer,
    plan: InputPlan,
    run: &RunArgs,
    progress: &mut Progress,
    news: &Newsroom,
    fed: &mut Fed,
    problems: &mut Vec<CliError>,
) -> Result<(), CliError> {
    let (tx, rx) = mpsc::sync_channel::<Item>(8192);
    let name = plan.source.name();
    spawn_reader(plan.source, plan.format, plan.on_invalid, plan.defaults, tx)
        .map_err(|e| CliError::Input(format!("cannot start reading {name}: {e}")))?;
    let mut batch = Batch::default();
    let mut eof = false;
    while !eof {
        let mut next = match rx.recv_timeout(TICK) {
            Ok(item) => Some(item),
            Err(RecvTimeoutError::Timeout) => None,
            Err(RecvTimeoutError::Disconnected) => {
                eof = true;
                None
            }
        };
        while let Some(item) = next.take() {
            let (Item::Message { line, .. } | Item::Invalid { line, .. } | Item::ReadError { line, .. }) =
                &item;
            fed.lines = fed.lines.max(*line);
            match item {
                Item::Message { line, message } => {
                    batch.bytes += message.data_len() as u64;
                    batch.lines.push(line);
                    batch.messages.push(message);
                }
                Item::Invalid { line, reason } => match plan.on_invalid {
                    OnInvalid::Skip => {
                        fed.skipped += 1;
                        progress.note(&format!("{name} line {line}: {reason} (skipped)"));
                    }
                    OnInvalid::Abort => {
                        problems.push(CliError::Input(format!(
                            "{name} line {line}: {reason}\n  stopped there: the lines before it were accepted and \
                             delivered, nothing after it was read (--on-invalid skip skips such lines)"
                        )));
                        eof = true;
                    }
                },
                Item::ReadError { line, error } => {
                    problems.push(CliError::Input(format!(
                        "reading {name} failed at line {line}: {error}; the lines before it were accepted"
                    )));
                    eof = true;
                }
            }
            if eof || batch.messages.len() >= MAX_BATCH || batch.bytes >= MAX_BATCH_BYTES {
                break;
            }
            next = match rx.try_recv() {
                Ok(item) => Some(item),
                Err(TryRecvError::Empty) => None,
                Err(TryRecvError::Disconnected) => {
                    eof = true;
                    None
                }
            };
        }
        if !batch.messages.is_empty()
            && !send(
                producer,
                &mut batch,
                plan.on_invalid,
                run,
                progress,
                news,
                fed,
                problems,
            )?
        {
            return Ok(());
        }
        progress.tick(&producer.stats(), news, "reading input");
    }
    Ok(())
}

/// Journals a batch. `Ok(false)`: stop reading input.
#[allow(clippy::too_many_arguments)]
fn send(
    producer: &Producer,
    batch: &mut Batch,
    on_invalid: OnInvalid,
    run: &RunArgs,
    progress: &mut Progress,
    news: &Newsroom,
    fed: &mut Fed,
    problems: &mut Vec<CliError>,
) -> Result<bool, CliError> {
    let mut lines = std::mem::take(&mut batch.lines);
    let mut messages = std::mem::take(&mut batch.messages);
    batch.bytes = 0;
    let mut full_since = None;
    let mut warned_full: Option<std::time::Instant> = None;
    while !messages.is_empty() {
        let bytes: u64 = messages.iter().map(|m| m.data_len() as u64).sum();
        let (accepted, rest, stop) = match producer.send_batch_timeout(messages, ROOM_WAIT) {
            Ok(_) => {
                fed.bytes += bytes;
                return Ok(true);
            }
            Err(BatchError { accepted, rest, stop }) => (accepted.len(), rest, stop),
        };
        fed.bytes += bytes - rest.iter().map(|m| m.data_len() as u64).sum::<u64>();
        lines.drain(..accepted.min(lines.len()));
        messages = rest;
        let line = lines.first().copied().unwrap_or(0);
        match stop {
            BatchStop::Full(cause) => {
                let now = steadfast::clock::now();
                let since = *full_since.get_or_insert(now);
                let stats = producer.stats();
                progress.tick(&stats, news, "journal full, waiting for deliveries");
                let waited = now.saturating_duration_since(since);
                if waited >= run.stall_warning
                    && warned_full.is_none_or(|at| now.saturating_duration_since(at) >= FULL_REPEAT)
                {
                    warned_full = Some(now);
                    progress.note(&full_warning(&cause, &stats, waited, line));
                }
                if let Some(limit) = run.wait_timeout
                    && waited >= limit
                {
                    problems.push(CliError::Full(format!(
                        "the journal stayed full for {} ({cause}); stopped reading input at line {line}: it and \
                         everything after it were not accepted; what was accepted before it stays journaled",
                        human_duration(waited)
                    )));
                    return Ok(false);
                }
            }
            BatchStop::Refused(
                refusal @ (Refusal::TooLarge { .. } | Refusal::TooManyHeaders { .. } | Refusal::Invalid(_)),
            ) => match on_invalid {
                OnInvalid::Skip => {
                    fed.skipped += 1;
                    progress.note(&format!("line {line}: {refusal} (skipped)"));
                    lines.remove(0);
                    messages.remove(0);
                }
                OnInvalid::Abort => {
                    problems.push(CliError::Input(format!(
                        "line {line}: {refusal}\n  stopped there: the lines before it were accepted and \
                             delivered, nothing after it was accepted (--on-invalid skip skips such lines)"
                    )));
                    return Ok(false);
                }
            },
            BatchStop::Refused(refusal) => {
                return Err(CliError::Journal(format!(
                    "the journal refused input line {line}: {refusal}"
                )));
            }
            other => {
                return Err(CliError::Journal(format!(
                    "the journal refused input line {line}: {other:?}"
                )));
            }
        }
    }
    Ok(true)
}

/// The warning shown when the journal has stayed full for `waited`
/// (`--stall-warning`): the cause, and what to do about it.
fn full_warning(cause: &FullCause, stats: &steadfast::Stats, waited: Duration, line: u64) -> String {
    let mut text = format!(
        "no room in the journal for {}, input paused at line {line}: ",
        human_duration(waited)
    );
    match cause {
        FullCause::NoSpace => text.push_str(
            "the disk holding the journal is full (ENOSPC).\n  free space on that disk, or give a --budget \
             smaller than the free space; reading resumes by itself once there is room",
        ),
        _ => text.push_str(&format!("{cause}.")),
    }
    text.push_str(&format!(
        "\n  {} messages pending, {} dead letters; the journal holds {} in {} segments",
        stats.pending,
        stats.dead_letters,
        human_bytes(stats.pending_bytes),
        stats.segments
    ));
    if stats.pending > 0 {
        text.push_str("\n  space comes back as the destination confirms deliveries");
    } else if stats.dead_letters > 0 {
        text.push_str(
            "\n  nothing is left to deliver: dead letters hold the space; list them with `steadfast dead-letters \
             list`, then redrive or discard them",
        );
    }
    text.push_str(
        "\n  nothing already journaled is lost; stopping now (Ctrl-C) is safe, and --wait-timeout makes the tool \
         give up with exit code 9",
    );
    text
}

/// Waits until everything is delivered, or `--wait-timeout`. `Ok(false)`:
/// gave up.
fn drain(
    producer: &Producer,
    run: &RunArgs,
    progress: &mut Progress,
    news: &Newsroom,
) -> Result<bool, CliError> {
    let start = steadfast::clock::now();
    loop {
        match producer.flush_timeout(TICK) {
            Ok(()) => return Ok(true),
            Err(FlushError::Timeout { .. }) => {}
            Err(e) => return Err(CliError::Journal(e.to_string())),
        }
        progress.tick(&producer.stats(), news, "delivering");
        if run
            .wait_timeout
            .is_some_and(|w| steadfast::clock::now().saturating_duration_since(start) >= w)
        {
            return Ok(false);
        }
    }
}
