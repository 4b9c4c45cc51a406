//! `rest-proxy`: the test REST proxy as a process, for tests that need a
//! proxy in another process (crash tests, WASI programs under wasmtime).
//!
//! Prints `listening on 127.0.0.1:PORT` on stdout, then serves until
//! killed. Faults given here are armed for every request (`Times::Always`).
//! With `--inspect`, `GET /_test/topics/{topic}/records` lists what the
//! server stored, as JSON lines (see `rest_proxy/inspect.rs`), so a test in
//! another process can check what arrived.

use core::time::Duration;
use std::process::ExitCode;

use steadfast_sim::rest_proxy::{Fault, Flavor, ProxyConfig, RestProxy, Times};

const USAGE: &str = "\
usage: rest-proxy [--mode confluent-v3|confluent-v2|karapace|redpanda] [--port N]
                  [--prefix /kafka] [--topic NAME[:PARTITIONS]]... [--auth USER:PASSWORD]
                  [--body-cap BYTES|none] [--fault SPEC]... [--inspect]
fault SPEC: hang | hang-after-write | reset | status:CODE | throttle:SECS
            | fail-every:N:retriable|terminal | throttle-every:N | slow:MS
            | unknown-topic:MS | html | garbage | wrong-content-type | truncate:K";

fn main() -> ExitCode {
    match run(std::env::args().skip(1).collect()) {
        Ok(()) => ExitCode::SUCCESS,
        Err(message) => {
            eprintln!("rest-proxy: {message}\n{USAGE}");
            ExitCode::from(2)
        }
    }
}

fn run(args: Vec<String>) -> Result<(), String> {
    let mut flavor = Flavor::ConfluentV3;
    let mut port = 0u16;
    let mut prefix = String::new();
    let mut topics: Vec<(String, i32)> = Vec::new();
    let mut auth = None;
    let mut body_cap: Option<Option<usize>> = None;
    let mut faults = Vec::new();
    let mut inspect = false;
    let mut args = args.into_iter();
    while let Some(flag) = args.next() {
        let mut value = || args.next().ok_or(format!("{flag} needs a value"));
        match flag.as_str() {
            "--mode" => {
                let name = value()?;
                flavor = Flavor::parse(&name).ok_or(format!("unknown mode `{name}`"))?;
            }
            "--port" => port = value()?.parse().map_err(|_| "--port needs a number")?,
            "--prefix" => prefix = value()?,
            "--topic" => {
                let spec = value()?;
                let (name, partitions) = match spec.split_once(':') {
                    Some((name, n)) => (name.to_owned(), n.parse().map_err(|_| "bad partition count")?),
                    None => (spec, 1),
                };
                topics.push((name, partitions));
            }
            "--auth" => {
                let spec = value()?;
                let (user, password) = spec.split_once(':').ok_or("--auth needs USER:PASSWORD")?;
                auth = Some((user.to_owned(), password.to_owned()));
            }
            "--body-cap" => {
                let spec = value()?;
                body_cap = Some(match spec.as_str() {
                    "none" => None,
                    n => Some(n.parse().map_err(|_| "--body-cap needs a number or none")?),
                });
            }
            "--fault" => faults.push(parse_fault(&value()?)?),
            "--inspect" => inspect = true,
            "--help" | "-h" => {
                println!("{USAGE}");
                return Ok(());
            }
            other => return Err(format!("unknown argument `{other}`")),
        }
    }
    let mut config = ProxyConfig::new(flavor).prefix(&prefix).inspect_endpoint(inspect);
    for (name, partitions) in &topics {
        config = config.topic(name, *partitions);
    }
    if let Some((user, password)) = &auth {
        config = config.basic_auth(user, password);
    }
    if let Some(cap) = body_cap {
        config = config.body_cap(cap);
    }
    let proxy = RestProxy::start_on(config, port).map_err(|e| format!("cannot listen: {e}"))?;
    for fault in faults {
        proxy.arm(fault, Times::Always);
    }
    println!("listening on {}", proxy.addr());
    loop {
        std::thread::park();
    }
}

fn parse_fault(spec: &str) -> Result<Fault, String> {
    let mut parts = spec.split(':');
    let name = parts.next().unwrap_or("");
    let mut number = || -> Result<u64, String> {
        parts
            .next()
            .and_then(|n| n.parse().ok())
            .ok_or(format!("fault `{spec}` needs a number"))
    };
    let fault = match name {
        "hang" => Fault::Hang,
        "hang-after-write" => Fault::HangAfterWrite,
        "reset" => Fault::ResetMidResponse,
        "status" => Fault::Status(u16::try_from(number()?).map_err(|_| "status out of range")?),
        "throttle" => Fault::Throttle {
            retry_after_secs: u32::try_from(number()?).map_err(|_| "seconds out of range")?,
        },
        "fail-every" => {
            let n = usize::try_from(number()?).map_err(|_| "period out of range")?;
            let retriable = match parts.next() {
                Some("retriable") | None => true,
                Some("terminal") => false,
                Some(other) => return Err(format!("fail-every: `{other}` is not retriable|terminal")),
            };
            Fault::FailEveryNth { n, retriable }
        }
        "throttle-every" => {
            Fault::ThrottleEveryNth(usize::try_from(number()?).map_err(|_| "period out of range")?)
        }
        "slow" => Fault::Slow(Duration::from_millis(number()?)),
        "unknown-topic" => Fault::UnknownTopicFor(Duration::from_millis(number()?)),
        "html" => Fault::Html,
        "garbage" => Fault::Garbage,
        "wrong-content-type" => Fault::WrongContentType,
        "truncate" => Fault::Truncate(usize::try_from(number()?).map_err(|_| "count out of range")?),
        _ => return Err(format!("unknown fault `{spec}`")),
    };
    Ok(fault)
}
