//! Command-line arguments, parsed by hand (no argument-parsing crate: the
//! program is meant to stay small as a `.wasm`).

use std::path::PathBuf;
use std::time::Duration;

use steadfast::SyncPolicy;
use steadfast::transports::rest::ApiVersion;

/// Printed for `--help` and after a usage error.
pub const USAGE: &str = "\
usage: wasi-produce --rest URL --topic TOPIC [options]        produce lines
       wasi-produce bench --rest URL --topic TOPIC [options]  measure throughput

Reads messages, one per line, from --input (default: stdin) and produces
them through a Kafka REST proxy, journaling each one first. Prints
`sent LINE ID` once each message is durable in the journal, and a summary.

common options:
  --rest URL            the proxy, http://host:port[/prefix]
  --topic TOPIC         destination topic
  --rest-version V      v2 or v3 (default: ask the proxy)
  --journal DIR         journal directory (default: journal); under WASI it
                        must be inside a directory given to `wasmtime --dir`
  --sync LEVEL          always | never | interval:MS (default: always)
  --request-deadline S  seconds one HTTP request may take (default: 30)

produce options:
  --input FILE          read lines from FILE instead of stdin
  --skip N              skip the first N lines of the input (resume after a
                        crash: lines already sent are in the journal)
  --batch N             lines journaled together, with one fsync (default: 64)
  --drain-timeout S     seconds to wait at the end for every message to be
                        confirmed (default: 30); what is left stays journaled
  --quiet               do not print a line per message

bench options:
  --sizes LIST          message sizes in bytes (default: 100,1024)
  --batches LIST        most records per REST request (default: 1,10,50,128)
  --seconds S           sending time per measurement (default: 2)
  --max-count N         most messages per measurement (default: 100000)
  --repeat N            measure each N times, print the median (default: 1)

exit status: 0 all confirmed, 3 messages left journaled (drain timeout),
1 error, 2 usage error";

/// What to do.
#[derive(Debug)]
pub enum Mode {
    /// Produce lines from the input.
    Produce(Produce),
    /// Measure throughput.
    Bench(Bench),
}

/// Settings both modes share.
#[derive(Clone, Debug)]
pub struct Common {
    /// Proxy URL.
    pub rest: String,
    /// Destination topic.
    pub topic: String,
    /// API version, or `None` to detect it.
    pub rest_version: Option<ApiVersion>,
    /// Journal directory.
    pub journal: PathBuf,
    /// Durability level.
    pub sync: SyncPolicy,
    /// Deadline of one HTTP request.
    pub request_deadline: Duration,
}

/// `wasi-produce --rest ...`.
#[derive(Debug)]
pub struct Produce {
    /// Shared settings.
    pub common: Common,
    /// Input file (`None`: stdin).
    pub input: Option<PathBuf>,
    /// Lines to skip.
    pub skip: u64,
    /// Lines per `send_batch`.
    pub batch: usize,
    /// How long to wait for confirmations at the end.
    pub drain_timeout: Duration,
    /// No per-message lines.
    pub quiet: bool,
}

/// `wasi-produce bench ...`.
#[derive(Debug)]
pub struct Bench {
    /// Shared settings.
    pub common: Common,
    /// Message sizes.
    pub sizes: Vec<usize>,
    /// Records per request.
    pub batches: Vec<usize>,
    /// Sending time per measurement.
    pub seconds: Duration,
    /// Most messages per measurement.
    pub max_count: u64,
    /// Measurements per row (the median is printed).
    pub repeat: usize,
}

/// Parses the arguments (without the program name). `Ok(None)`: `--help`.
pub fn parse(args: Vec<String>) -> Result<Option<Mode>, String> {
    let mut args = args.into_iter().peekable();
    let bench = args.peek().is_some_and(|a| a == "bench");
    if bench {
        args.next();
    }
    let mut rest = None;
    let mut topic = None;
    let mut rest_version = None;
    let mut journal = PathBuf::from("journal");
    let mut sync = SyncPolicy::Always;
    let mut request_deadline = Duration::from_secs(30);
    let mut input = None;
    let mut skip = 0;
    let mut batch = 64;
    let mut drain_timeout = Duration::from_secs(30);
    let mut quiet = false;
    let mut sizes = vec![100, 1024];
    let mut batches = vec![1, 10, 50, 128];
    let mut seconds = Duration::from_secs(2);
    let mut max_count = 100_000;
    let mut repeat = 1;
    while let Some(flag) = args.next() {
        let mut value = || args.next().ok_or_else(|| format!("{flag} needs a value"));
        match flag.as_str() {
            "--help" | "-h" => return Ok(None),
            "--rest" => rest = Some(value()?),
            "--topic" => topic = Some(value()?),
            "--rest-version" => {
                rest_version = Some(match value()?.as_str() {
                    "v2" | "2" => ApiVersion::V2,
                    "v3" | "3" => ApiVersion::V3,
                    other => return Err(format!("--rest-version: `{other}` is not v2 or v3")),
                });
            }
            "--journal" => journal = PathBuf::from(value()?),
            "--sync" => sync = parse_sync(&value()?)?,
            "--request-deadline" => request_deadline = seconds_arg(&flag, &value()?)?,
            "--input" if !bench => input = Some(PathBuf::from(value()?)),
            "--skip" if !bench => skip = number(&flag, &value()?)?,
            "--batch" if !bench => batch = number::<usize>(&flag, &value()?)?.max(1),
            "--drain-timeout" if !bench => drain_timeout = seconds_arg(&flag, &value()?)?,
            "--quiet" if !bench => quiet = true,
            "--sizes" if bench => sizes = list(&flag, &value()?)?,
            "--batches" if bench => batches = list(&flag, &value()?)?,
            "--seconds" if bench => seconds = seconds_arg(&flag, &value()?)?,
            "--max-count" if bench => max_count = number(&flag, &value()?)?,
            "--repeat" if bench => repeat = number(&flag, &value()?)?,
            other => return Err(format!("unknown argument `{other}`")),
        }
    }
    let common = Common {
        rest: rest.ok_or("--rest URL is required")?,
        topic: topic.ok_or("--topic TOPIC is required")?,
        rest_version,
        journal,
        sync,
        request_deadline,
    };
    Ok(Some(if bench {
        Mode::Bench(Bench {
            common,
            sizes,
            batches,
            seconds,
            max_count,
            repeat,
        })
    } else {
        Mode::Produce(Produce {
            common,
            input,
            skip,
            batch,
            drain_timeout,
            quiet,
        })
    }))
}

fn parse_sync(text: &str) -> Result<SyncPolicy, String> {
    match text {
        "always" => Ok(SyncPolicy::Always),
        "never" => Ok(SyncPolicy::Never),
        _ => match text.strip_prefix("interval:") {
            Some(ms) => Ok(SyncPolicy::Interval(number("--sync interval", ms)?)),
            None => Err(format!("--sync: `{text}` is not always, never or interval:MS")),
        },
    }
}

fn number<T: std::str::FromStr>(flag: &str, text: &str) -> Result<T, String> {
    text.parse()
        .map_err(|_| format!("{flag}: `{text}` is not a number"))
}

fn seconds_arg(flag: &str, text: &str) -> Result<Duration, String> {
    let secs: f64 = number(flag, text)?;
    Duration::try_from_secs_f64(secs).map_err(|_| format!("{flag}: `{text}` is not a duration in seconds"))
}

fn list(flag: &str, text: &str) -> Result<Vec<usize>, String> {
    let items: Vec<usize> = text
        .split(',')
        .map(|item| number(flag, item.trim()))
        .collect::<Result<_, _>>()?;
    if items.contains(&0) || items.is_empty() {
        return Err(format!("{flag}: give positive numbers, comma-separated"));
    }
    Ok(items)
}
