//! Journal-only benchmarks of the std runner; figures go to
//! `docs/benchmarks.md`.
//!
//! ```text
//! cargo run --release -p steadfast --example bench -- throughput [--dir D] [--secs S]
//! cargo run --release -p steadfast --example bench -- group      [--dir D] [--secs S]
//! cargo run --release -p steadfast --example bench -- ceiling    [--dir D] [--secs S]
//! cargo run --release -p steadfast --example bench -- recovery   [--dir D] [--gib G]
//! cargo run --release -p steadfast --example bench -- rss        [--dir D]
//! cargo run --release -p steadfast --example bench -- all        [--dir D]
//! ```
//!
//! No broker is involved: sends go to the journal and the transport holds
//! (never confirms) or acknowledges at once, so the figures are the
//! journal's own cost. `--dir` should be on the disk being measured (the
//! default is a fresh directory under the system temp dir).

#![allow(clippy::unwrap_used, clippy::print_stdout)]

#[cfg(target_os = "linux")]
mod reference;

use std::io::Write as _;
use std::path::{Path, PathBuf};
use std::process::Command;
use std::time::Duration;

use steadfast::clock;
use steadfast::transport::{AckTransport, HoldTransport};
use steadfast::{Config, OwnedMessage, Producer, SyncPolicy};

struct Args {
    command: String,
    dir: PathBuf,
    secs: f64,
    gib: f64,
    bytes: u64,
    level: Option<String>,
    size: Option<usize>,
    batch_only: bool,
}

fn parse_args() -> Args {
    let mut args = std::env::args().skip(1);
    let mut out = Args {
        command: args.next().unwrap_or_else(|| "all".into()),
        dir: std::env::temp_dir().join(format!("steadfast-bench-{}", std::process::id())),
        secs: 3.0,
        gib: 1.0,
        bytes: 0,
        level: None,
        size: None,
        batch_only: false,
    };
    while let Some(flag) = args.next() {
        if flag == "--batch-only" {
            out.batch_only = true;
            continue;
        }
        let value = args.next().unwrap_or_default();
        match flag.as_str() {
            "--dir" => out.dir = value.into(),
            "--secs" => out.secs = value.parse().unwrap(),
            "--gib" => out.gib = value.parse().unwrap(),
            "--bytes" => out.bytes = value.parse().unwrap(),
            "--level" => out.level = Some(value),
            "--size" => out.size = Some(value.parse().unwrap()),
            other => panic!("unknown flag {other}"),
        }
    }
    out
}

fn fresh(dir: &Path, name: &str) -> PathBuf {
    let path = dir.join(name);
    let _ = std::fs::remove_dir_all(&path);
    path
}

/// A config whose budget never gets in the way of a benchmark.
fn config(sync: SyncPolicy) -> Config {
    Config {
        sync,
        budget: 64 << 30,
        ..Config::default()
    }
}

fn level_name(sync: SyncPolicy) -> String {
    match sync {
        SyncPolicy::Always => "Always".into(),
        SyncPolicy::Interval(ms) => format!("Interval({ms} ms)"),
        SyncPolicy::Never => "Never".into(),
    }
}

/// Sends single messages for `secs`; returns messages per second.
fn run_single(p: &Producer, size: usize, secs: f64) -> f64 {
    let value = vec![b'v'; size];
    let started = clock::now();
    let mut n = 0u64;
    loop {
        for _ in 0..256 {
            p.send(OwnedMessage::new("bench", value.clone())).unwrap();
        }
        n += 256;
        let elapsed = started.elapsed().as_secs_f64();
        if elapsed >= secs {
            return n as f64 / elapsed;
        }
    }
}

/// Sends batches of 1000 for `secs`; returns messages per second.
fn run_batch(p: &Producer, size: usize, secs: f64) -> f64 {
    let value = vec![b'v'; size];
    let started = clock::now();
    let mut n = 0u64;
    loop {
        let batch = (0..1000)
            .map(|_| OwnedMessage::new("bench", value.clone()))
            .collect();
        p.send_batch(batch).unwrap();
        n += 1000;
        let elapsed = started.elapsed().as_secs_f64();
        if elapsed >= secs {
            return n as f64 / elapsed;
        }
    }
}

fn throughput(args: &Args) {
    println!("## Throughput: one sender, journal only (transport holds everything)\n");
    println!("| sync level | size | send() msgs/s | send() MB/s | send_batch(1000) msgs/s | batch MB/s |");
    println!("|---|---|---|---|---|---|");
    for sync in [SyncPolicy::Never, SyncPolicy::Interval(100), SyncPolicy::Always] {
        for size in [100usize, 1024] {
            let wanted_level = args
                .level
                .as_ref()
                .is_none_or(|l| level_name(sync).to_lowercase().starts_with(l.as_str()));
            if !wanted_level || args.size.is_some_and(|s| s != size) {
                continue;
            }
            let secs = if sync == SyncPolicy::Always {
                args.secs.min(2.0)
            } else {
                args.secs
            };
            let dir = fresh(&args.dir, "throughput");
            let p = Producer::builder(&dir)
                .config(config(sync))
                .spawn(HoldTransport::default())
                .unwrap();
            let single = if args.batch_only {
                0.0
            } else {
                run_single(&p, size, secs)
            };
            let batch = run_batch(&p, size, secs);
            drop(p);
            let _ = std::fs::remove_dir_all(&dir);
            let mb = |rate: f64| rate * size as f64 / 1e6;
            println!(
                "| {} | {size} B | {single:.0} | {:.1} | {batch:.0} | {:.1} |",
                level_name(sync),
                mb(single),
                mb(batch)
            );
        }
    }
    println!();
}

/// Raw fsync rate: append 100 bytes and `fdatasync`, in a loop, for
/// `secs`; returns (fsyncs, seconds).
fn raw_fsyncs(dir: &Path, secs: f64) -> (u64, f64) {
    std::fs::create_dir_all(dir).unwrap();
    let path = dir.join("raw-fsync");
    let mut file = std::fs::File::create(&path).unwrap();
    let data = [b'r'; 100];
    let started = clock::now();
    let mut n = 0u64;
    while started.elapsed().as_secs_f64() < secs {
        file.write_all(&data).unwrap();
        file.sync_data().unwrap();
        n += 1;
    }
    let took = started.elapsed().as_secs_f64();
    let _ = std::fs::remove_file(&path);
    (n, took)
}

/// The same through [`FileStorage`] alone (a preallocated segment, as the
/// journal uses): append 100 bytes and sync; returns (fsyncs, seconds).
fn storage_fsyncs(dir: &Path, secs: f64) -> (u64, f64) {
    use steadfast::core::Storage;
    let path = fresh(dir, "raw-storage");
    let mut storage = steadfast::FileStorage::open(&path).unwrap();
    storage.preallocate_segments(64 << 20);
    storage.create(1).unwrap();
    let data = [b'r'; 100];
    let started = clock::now();
    let mut n = 0u64;
    while started.elapsed().as_secs_f64() < secs {
        storage.append(1, &data).unwrap();
        storage.sync(1).unwrap();
        n += 1;
    }
    let took = started.elapsed().as_secs_f64();
    drop(storage);
    let _ = std::fs::remove_dir_all(&path);
    (n, took)
}

/// `senders` threads send 100 B messages under `Sync::Always` for `secs`;
/// returns (messages, seconds, fsyncs, mean fsync).
fn always_senders(dir: &Path, senders: usize, secs: f64) -> (u64, f64, u64, Duration) {
    let journal = fresh(dir, "group");
    let p = Producer::builder(&journal)
        .config(config(SyncPolicy::Always))
        .spawn(HoldTransport::default())
        .unwrap();
    let started = clock::now();
    let total: u64 = std::thread::scope(|s| {
        let handles: Vec<_> = (0..senders)
            .map(|_| {
                let p = &p;
                s.spawn(move || {
                    let mut n = 0u64;
                    while started.elapsed().as_secs_f64() < secs {
                        p.send(OwnedMessage::new("bench", vec![b'v'; 100])).unwrap();
                        n += 1;
                    }
                    n
                })
            })
            .collect();
        handles.into_iter().map(|h| h.join().unwrap()).sum()
    });
    let elapsed = started.elapsed().as_secs_f64();
    let stats = p.stats();
    drop(p);
    let _ = std::fs::remove_dir_all(&journal);
    (total, elapsed, stats.fsync.count, stats.fsync.mean())
}

fn group(args: &Args) {
    println!("## Group commit: Sync::Always, 100 B messages, N concurrent senders\n");
    // The disk is shared: measure the raw rate and one sender in
    // alternating slices, so both see the same conditions.
    let slices = 4;
    let slice = args.secs / f64::from(slices);
    let (mut raw_n, mut raw_t, mut one_n, mut one_t, mut one_f) = (0, 0.0, 0, 0.0, 0);
    let (mut pre_n, mut pre_t) = (0, 0.0);
    let mut one_mean = Duration::ZERO;
    for _ in 0..slices {
        let (n, t) = raw_fsyncs(&args.dir, slice);
        raw_n += n;
        raw_t += t;
        let (n, t) = storage_fsyncs(&args.dir, slice);
        pre_n += n;
        pre_t += t;
        let (n, t, f, mean) = always_senders(&args.dir, 1, slice);
        one_n += n;
        one_t += t;
        one_f += f;
        one_mean = mean;
    }
    let raw = raw_n as f64 / raw_t;
    let one = one_n as f64 / one_t;
    println!(
        "raw fsync rate (100 B append + fdatasync on a new file, same directory, interleaved with the one-sender run): {raw:.0} /s"
    );
    println!(
        "for reference, FileStorage alone (100 B append + sync of a preallocated segment): {:.0} /s\n",
        pre_n as f64 / pre_t
    );
    println!(
        "| senders | msgs/s | × raw fsync rate | × one sender | fsyncs/s | msgs per fsync | mean fsync | process CPU per msg |"
    );
    println!("|---|---|---|---|---|---|---|---|");
    println!(
        "| 1 | {one:.0} | {:.2} | 1.0 | {:.0} | 1.0 | {one_mean:.0?} | |",
        one / raw,
        one_f as f64 / one_t
    );
    for senders in [8usize, 64] {
        let cpu_before = process_cpu();
        let (n, t, f, mean) = always_senders(&args.dir, senders, args.secs);
        let cpu = cpu_per_msg(cpu_before, n);
        let rate = n as f64 / t;
        println!(
            "| {senders} | {rate:.0} | {:.2} | {:.1} | {:.0} | {:.1} | {mean:.0?} | {cpu} |",
            rate / raw,
            rate / one,
            f as f64 / t,
            n as f64 / f.max(1) as f64
        );
    }
    println!();
}

/// The group-commit ceiling: steadfast's `Sync::Always` senders next to a
/// reference group commit with no producer (see `reference.rs`), in
/// alternating runs so that both see the same disk; then fsync latency on
/// an idle machine and with every CPU busy.
#[cfg(target_os = "linux")]
fn ceiling(args: &Args) {
    println!(
        "## The group-commit ceiling: 100 B appends, 1 and 64 senders, steadfast and a reference with no producer\n"
    );
    let rounds = 2;
    let slice = args.secs / f64::from(rounds);
    // [reference, steadfast] × [1 sender, 64 senders]
    let mut runs = [[reference::Run::default(); 2]; 2];
    for _ in 0..rounds {
        for (i, senders) in [1usize, 64].into_iter().enumerate() {
            runs[0][i].add(reference::group_commit(&args.dir, senders, slice));
            let (msgs, secs, fsyncs, mean) = always_senders(&args.dir, senders, slice);
            let fsync_total = mean * u32::try_from(fsyncs).unwrap_or(u32::MAX);
            runs[1][i].add(reference::Run {
                msgs,
                secs,
                fsyncs,
                fsync_total,
            });
        }
    }
    let one = runs[1][0].rate();
    println!(
        "| group commit | 1 sender msgs/s | 64 senders msgs/s | 64 senders ÷ own 1 sender | 64 senders ÷ steadfast's 1 sender | msgs per fsync (64) | mean fsync, 1 → 64 senders |"
    );
    println!("|---|---|---|---|---|---|---|");
    for (name, [single, many]) in [
        ("reference (no producer)", runs[0]),
        ("steadfast `Sync::Always`", runs[1]),
    ] {
        println!(
            "| {name} | {:.0} | {:.0} | {:.1} | {:.1} | {:.1} | {:.0?} → {:.0?} |",
            single.rate(),
            many.rate(),
            many.rate() / single.rate(),
            many.rate() / one,
            many.msgs_per_fsync(),
            single.mean_fsync(),
            many.mean_fsync()
        );
    }
    let cpus = std::thread::available_parallelism().map_or(2, usize::from);
    let idle = reference::fsync_latency(&args.dir, 0, args.secs / 4.0);
    let busy = reference::fsync_latency(&args.dir, cpus, args.secs / 4.0);
    println!(
        "\nfdatasync of a 100 B append, one thread: {idle:.0?} with the CPUs idle, {busy:.0?} with {cpus} busy-looping threads\n"
    );
}

/// CPU time this process has used (user + system), where `/proc` says.
/// Less sensitive to a shared machine than a rate: with 64 senders on two
/// CPUs the run is CPU-bound, and this is what each message costs.
fn process_cpu() -> Option<Duration> {
    let stat = std::fs::read_to_string("/proc/self/stat").ok()?;
    // Fields after the command name (which is in parentheses): utime and
    // stime are the 12th and 13th, in clock ticks (100 per second on Linux).
    let rest = stat.rsplit_once(')')?.1;
    let fields: Vec<&str> = rest.split_whitespace().collect();
    let ticks: u64 = fields.get(11)?.parse::<u64>().ok()? + fields.get(12)?.parse::<u64>().ok()?;
    Some(Duration::from_millis(ticks * 10))
}

/// "N µs" of CPU per message since `before`, or empty where unknown.
fn cpu_per_msg(before: Option<Duration>, msgs: u64) -> String {
    match (before, process_cpu()) {
        (Some(b), Some(a)) if msgs > 0 => format!("{:.1} µs", (a - b).as_secs_f64() * 1e6 / msgs as f64),
        _ => String::new(),
    }
}

/// Fills a journal with `bytes` of unconfirmed 1 KiB messages.
fn build_backlog(dir: &Path, bytes: u64) {
    let p = Producer::builder(dir)
        .config(config(SyncPolicy::Never))
        .spawn(HoldTransport::default())
        .unwrap();
    let value = vec![b'b'; 1024];
    let mut sent = 0u64;
    while sent < bytes {
        let batch: Vec<_> = (0..1000)
            .map(|i| OwnedMessage::new("bench", value.clone()).with_key(format!("{}", i % 64)))
            .collect();
        p.send_batch(batch).unwrap();
        sent += 1000 * 1024;
    }
    p.close(Duration::ZERO).unwrap();
}

fn drop_caches() -> bool {
    // SAFETY-free: needs root; silently skipped otherwise.
    let synced = Command::new("sync").status().is_ok_and(|s| s.success());
    synced && std::fs::write("/proc/sys/vm/drop_caches", "3").is_ok()
}

fn recovery(args: &Args) {
    println!("## Start-up recovery\n");
    let dir = args.dir.join("recovery");
    let _ = std::fs::remove_dir_all(&dir);
    let bytes = (args.gib * f64::from(1u32 << 30)) as u64;
    let built = clock::now();
    build_backlog(&dir, bytes);
    println!(
        "built a {:.2} GiB journal of 1 KiB messages in {:.1?}\n",
        args.gib,
        built.elapsed()
    );
    println!("| page cache | open (recovery) time | bytes read | GB/s | messages pending |");
    println!("|---|---|---|---|---|");
    for cold in [false, true] {
        if cold && !drop_caches() {
            println!("| cold | (skipped: dropping the page cache needs root) | | | |");
            continue;
        }
        let started = clock::now();
        let p = Producer::builder(&dir)
            .config(config(SyncPolicy::Never))
            .open(HoldTransport::default())
            .unwrap();
        let took = started.elapsed();
        let report = p.recovery_report().clone();
        drop(p);
        println!(
            "| {} | {took:.2?} | {} | {:.2} | {} |",
            if cold { "cold (dropped)" } else { "warm" },
            report.bytes,
            report.bytes as f64 / took.as_secs_f64() / 1e9,
            report.pending
        );
    }
    let _ = std::fs::remove_dir_all(&dir);
    println!();
}

/// Peak resident set size of this process (VmHWM), in KiB.
fn peak_rss_kib() -> u64 {
    let status = std::fs::read_to_string("/proc/self/status").unwrap_or_default();
    status
        .lines()
        .find_map(|l| l.strip_prefix("VmHWM:"))
        .and_then(|v| v.trim().trim_end_matches("kB").trim().parse().ok())
        .unwrap_or(0)
}

/// In a child process: build a backlog, reopen it, drain it; print the peak RSS.
fn rss_child(args: &Args) {
    let dir = fresh(&args.dir, &format!("rss-{}", args.bytes));
    build_backlog(&dir, args.bytes);
    let built = peak_rss_kib();
    let p = Producer::builder(&dir)
        .config(config(SyncPolicy::Never))
        .spawn(AckTransport::default())
        .unwrap();
    let opened = peak_rss_kib();
    p.flush_timeout(Duration::from_secs(600)).unwrap();
    let drained = peak_rss_kib();
    p.close(Duration::from_secs(10)).unwrap();
    let _ = std::fs::remove_dir_all(&dir);
    println!("RSS {built} {opened} {drained}");
}

fn rss(args: &Args) {
    println!("## Peak RSS with an unconfirmed backlog\n");
    println!(
        "Each size runs in its own process: build the backlog (1 KiB messages, nothing confirmed), reopen it (recovery), drain it through a transport that confirms at once (every payload read back from the journal). VmHWM after each phase.\n"
    );
    println!("| backlog | peak RSS after build | after reopen | after draining everything |");
    println!("|---|---|---|---|");
    let mut peaks = Vec::new();
    for (name, bytes) in [("100 MiB", 100u64 << 20), ("2 GiB", 2u64 << 30)] {
        let out = Command::new(std::env::current_exe().unwrap())
            .args(["rss-child", "--dir"])
            .arg(&args.dir)
            .args(["--bytes", &bytes.to_string()])
            .output()
            .unwrap();
        let text = String::from_utf8_lossy(&out.stdout);
        let line = text
            .lines()
            .find(|l| l.starts_with("RSS "))
            .unwrap_or("RSS 0 0 0");
        let v: Vec<u64> = line[4..].split(' ').map(|x| x.parse().unwrap_or(0)).collect();
        println!(
            "| {name} | {:.1} MiB | {:.1} MiB | {:.1} MiB |",
            v[0] as f64 / 1024.0,
            v[1] as f64 / 1024.0,
            v[2] as f64 / 1024.0
        );
        peaks.push(v[2]);
    }
    println!(
        "\ndifference of the peaks (2 GiB − 100 MiB): {:.1} MiB\n",
        (peaks[1] as f64 - peaks[0] as f64) / 1024.0
    );
}

fn main() {
    let args = parse_args();
    std::fs::create_dir_all(&args.dir).unwrap();
    match args.command.as_str() {
        "throughput" => throughput(&args),
        "group" => group(&args),
        #[cfg(target_os = "linux")]
        "ceiling" => ceiling(&args),
        "recovery" => recovery(&args),
        "rss" => rss(&args),
        "rss-child" => rss_child(&args),
        "senders" => {
            // One `Sync::Always` measurement with `--size` senders (for profiling).
            let n = args.size.unwrap_or(64);
            let cpu_before = process_cpu();
            let (m, t, f, mean) = always_senders(&args.dir, n, args.secs);
            println!(
                "{n} senders: {:.0} msgs/s, {:.0} fsyncs/s, mean {mean:?}, CPU per msg {}",
                m as f64 / t,
                f as f64 / t,
                cpu_per_msg(cpu_before, m)
            );
        }
        "build" => {
            // Builds a journal of `--gib` unconfirmed 1 KiB messages in `--dir`.
            build_backlog(&args.dir, (args.gib * f64::from(1u32 << 30)) as u64);
            return;
        }
        "open" => {
            // Times the recovery of an existing journal in `--dir` (for profiling).
            let started = clock::now();
            let p = Producer::builder(&args.dir)
                .config(config(SyncPolicy::Never))
                .open(HoldTransport::default())
                .unwrap();
            let took = started.elapsed();
            let bytes = p.recovery_report().bytes;
            println!(
                "opened in {took:.2?}: {:.2} GB/s",
                bytes as f64 / took.as_secs_f64() / 1e9
            );
            std::mem::forget(p);
            return;
        }
        "all" => {
            throughput(&args);
            group(&args);
            #[cfg(target_os = "linux")]
            ceiling(&args);
            recovery(&args);
            rss(&args);
        }

        other => {
            eprintln!(
                "bench: unknown command `{other}`; use one of: throughput | group | ceiling | recovery | rss | all"
            );
            std::process::exit(2);
        }
    }
    if args.command != "rss-child" {
        let _ = std::fs::remove_dir_all(&args.dir);
    }
}
