//! The simulator's sweep and replay command.
//!
//! ```text
//! cargo run -p steadfast-sim --release -- --seeds 10000 --start 0
//! cargo run -p steadfast-sim --release -- --seed 4242 --trace
//! cargo run -p steadfast-sim --release -- --seeds 500 --planted Reorder
//! ```
//!
//! A sweep runs seeds `start..start+seeds` on every core, prints seeds per
//! second and the table of injected faults, and exits non-zero at the first
//! failure after printing its seed and the command that replays it.

use std::process::ExitCode;
use std::sync::Mutex;
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};

use steadfast_sim::sim::{self, Counts, Options, Planted, RunReport};

struct Args {
    start: u64,
    seeds: u64,
    one: Option<u64>,
    trace: bool,
    twice: bool,
    planted: Option<Planted>,
    jobs: usize,
}

const USAGE: &str =
    "usage: steadfast-sim [--seeds N] [--start S] [--seed S [--trace]] [--twice] [--planted BUG] [--jobs J]
  --seeds N      run N seeds (default 1000)
  --start S      first seed (default 0)
  --seed S       run one seed and print its report (--trace: the whole trace)
  --twice        run every seed twice and compare the traces
  --planted BUG  plant a bug: LyingSync, ConfirmDropped, Reorder, UnknownIsConfirmed
  --jobs J       threads (default: every core)";

fn parse() -> Result<Args, String> {
    let mut a = Args {
        start: 0,
        seeds: 1000,
        one: None,
        trace: false,
        twice: false,
        planted: None,
        jobs: std::thread::available_parallelism().map_or(1, |n| n.get()),
    };
    let mut it = std::env::args().skip(1);
    while let Some(flag) = it.next() {
        let mut value = || it.next().ok_or(format!("{flag} needs a value"));
        let number = |v: String| v.parse::<u64>().map_err(|e| format!("{v}: {e}"));
        match flag.as_str() {
            "--seeds" => a.seeds = number(value()?)?,
            "--start" => a.start = number(value()?)?,
            "--seed" => a.one = Some(number(value()?)?),
            "--jobs" => a.jobs = number(value()?)?.max(1) as usize,
            "--trace" => a.trace = true,
            "--twice" => a.twice = true,
            "--planted" => {
                let name = value()?;
                a.planted = Some(Planted::parse(&name).ok_or(format!("no planted bug named {name}"))?);
            }
            "-h" | "--help" => return Err(String::new()),
            other => return Err(format!("unknown argument {other}")),
        }
    }
    Ok(a)
}

fn replay(args: &Args, seed: u64) -> ExitCode {
    let opts = Options {
        seed,
        verbose: args.trace,
        planted: args.planted,
        scripted: false,
    };
    let report = sim::run(opts);
    for line in &report.trace {
        println!("{line}");
    }
    println!(
        "seed {seed}: trace {:016x}, {} events, {} ms simulated",
        report.hash, report.events, report.end
    );
    print!("{}", report.counts);
    match report.violations.first() {
        None => {
            println!("ok");
            ExitCode::SUCCESS
        }
        Some(v) => {
            println!("FAILED: {v}");
            ExitCode::FAILURE
        }
    }
}

fn main() -> ExitCode {
    let args = match parse() {
        Ok(a) => a,
        Err(e) => {
            if !e.is_empty() {
                eprintln!("{e}");
            }
            eprintln!("{USAGE}");
            return ExitCode::from(2);
        }
    };
    if let Some(seed) = args.one {
        return replay(&args, seed);
    }
    #[allow(clippy::disallowed_methods)] // wall-clock speed of the sweep, not simulated time
    let started = std::time::Instant::now();
    let next = AtomicU64::new(args.start);
    let end = args.start + args.seeds;
    let stop = AtomicBool::new(false);
    let total = Mutex::new(Counts::default());
    let failure: Mutex<Option<(u64, String)>> = Mutex::new(None);
    let done = AtomicU64::new(0);
    std::thread::scope(|s| {
        for _ in 0..args.jobs {
            s.spawn(|| {
                while !stop.load(Ordering::Relaxed) {
                    let seed = next.fetch_add(1, Ordering::Relaxed);
                    if seed >= end {
                        return;
                    }
                    let opts = Options {
                        seed,
                        verbose: false,
                        planted: args.planted,
                        scripted: false,
                    };
                    let outcome: Result<RunReport, String> = if args.twice {
                        sim::run_checked(opts)
                    } else {
                        let r = sim::run(opts);
                        match r.violations.first() {
                            None => Ok(r),
                            Some(v) => Err(format!(
                                "seed {seed} failed: {v}\nreplay: {}",
                                sim::replay_command(seed, args.planted)
                            )),
                        }
                    };
                    match outcome {
                        Ok(r) => {
                            if let Ok(mut t) = total.lock() {
                                t.merge(&r.counts);
                            }
                            done.fetch_add(1, Ordering::Relaxed);
                        }
                        Err(e) => {
                            stop.store(true, Ordering::Relaxed);
                            if let Ok(mut f) = failure.lock() {
                                // Keep the lowest failing seed: the report is reproducible.
                                if f.as_ref().is_none_or(|(s, _)| seed < *s) {
                                    *f = Some((seed, e));
                                }
                            }
                        }
                    }
                }
            });
        }
    });
    let secs = started.elapsed().as_secs_f64();
    let n = done.load(Ordering::Relaxed);
    println!(
        "{n} seeds ({}..{end}) in {secs:.1} s: {:.1} seeds/s on {} threads{}",
        args.start,
        n as f64 / secs.max(1e-9),
        args.jobs,
        args.planted
            .map(|p| format!(", planted bug {p:?}"))
            .unwrap_or_default()
    );
    println!("faults injected and events observed (all seeds that ran):");
    if let Ok(t) = total.lock() {
        print!("{t}");
    }
    let failed = failure.lock().ok().and_then(|mut f| f.take());
    match failed {
        None => ExitCode::SUCCESS,
        Some((seed, e)) => {
            println!("FAILED at seed {seed}:\n{e}");
            ExitCode::FAILURE
        }
    }
}
