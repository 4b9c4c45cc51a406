//! Parsers for flag values: byte sizes, durations, sync levels, and the
//! human-readable forms the tool prints them in.

use std::time::Duration;

use steadfast::SyncPolicy;

/// `1000`, `64KiB`, `512MB`, `1GiB`, `2G` (K/M/G/T are powers of 1024 with
/// or without `iB`; `KB`/`MB`/`GB`/`TB` are powers of 1000).
pub fn bytes(text: &str) -> Result<u64, String> {
    let t = text.trim();
    let split = t.find(|c: char| !c.is_ascii_digit()).unwrap_or(t.len());
    let (digits, unit) = t.split_at(split);
    let n: u64 = digits.parse().map_err(|_| {
        format!("`{text}` is not a size: expected a number with an optional unit (64KiB, 512MiB, 1GiB)")
    })?;
    let scale: u64 = match unit.trim().to_ascii_lowercase().as_str() {
        "" | "b" => 1,
        "k" | "kib" => 1 << 10,
        "m" | "mib" => 1 << 20,
        "g" | "gib" => 1 << 30,
        "t" | "tib" => 1 << 40,
        "kb" => 1_000,
        "mb" => 1_000_000,
        "gb" => 1_000_000_000,
        "tb" => 1_000_000_000_000,
        other => {
            return Err(format!(
                "unknown size unit `{other}` in `{text}` (use B, KiB, MiB, GiB, TiB, KB, MB, GB)"
            ));
        }
    };
    n.checked_mul(scale)
        .ok_or_else(|| format!("size `{text}` is too large"))
}

/// `250ms`, `30s`, `5m`, `1h`, or a bare number of seconds.
pub fn duration(text: &str) -> Result<Duration, String> {
    let t = text.trim();
    let split = t.find(|c: char| !c.is_ascii_digit()).unwrap_or(t.len());
    let (digits, unit) = t.split_at(split);
    let n: u64 = digits
        .parse()
        .map_err(|_| format!("`{text}` is not a duration: expected e.g. 500ms, 30s, 5m, 1h"))?;
    let ms: u64 = match unit.trim() {
        "ms" => 1,
        "" | "s" => 1_000,
        "m" | "min" => 60_000,
        "h" => 3_600_000,
        other => {
            return Err(format!(
                "unknown duration unit `{other}` in `{text}` (use ms, s, m, h)"
            ));
        }
    };
    n.checked_mul(ms)
        .map(Duration::from_millis)
        .ok_or_else(|| format!("duration `{text}` is too long"))
}

/// `always`, `interval:MS` (milliseconds, or with a unit: `interval:1s`),
/// `never`.
pub fn sync(text: &str) -> Result<SyncPolicy, String> {
    let t = text.trim().to_ascii_lowercase();
    if t == "always" {
        return Ok(SyncPolicy::Always);
    }
    if t == "never" {
        return Ok(SyncPolicy::Never);
    }
    if let Some(every) = t
        .strip_prefix("interval:")
        .or_else(|| t.strip_prefix("interval="))
    {
        let ms = if every.bytes().all(|b| b.is_ascii_digit()) && !every.is_empty() {
            every.parse::<u64>().map_err(|e| e.to_string())?
        } else {
            u64::try_from(duration(every)?.as_millis()).unwrap_or(u64::MAX)
        };
        if ms == 0 {
            return Err("interval:0 would never wait; use `always` or a positive interval".into());
        }
        return Ok(SyncPolicy::Interval(ms));
    }
    Err(format!(
        "`{text}` is not a sync level: use always (fsync before accepting), interval:MS, or never"
    ))
}

/// `12.3 KiB`-style size.
pub fn human_bytes(n: u64) -> String {
    const UNITS: [&str; 5] = ["B", "KiB", "MiB", "GiB", "TiB"];
    let mut v = n as f64;
    let mut unit = 0;
    while v >= 1024.0 && unit + 1 < UNITS.len() {
        v /= 1024.0;
        unit += 1;
    }
    if unit == 0 {
        format!("{n} B")
    } else {
        format!("{v:.1} {}", UNITS[unit])
    }
}

/// `850 ms`, `12.4 s`, `3m05s`, `2h10m`.
pub fn human_duration(d: Duration) -> String {
    let ms = d.as_millis();
    if ms < 1_000 {
        format!("{ms} ms")
    } else if ms < 60_000 {
        format!("{:.1} s", d.as_secs_f64())
    } else if ms < 3_600_000 {
        format!("{}m{:02}s", ms / 60_000, (ms / 1_000) % 60)
    } else {
        format!("{}h{:02}m", ms / 3_600_000, (ms / 60_000) % 60)
    }
}

/// A rate per second, rounded for display.
pub fn human_rate(count: f64, secs: f64) -> String {
    if secs <= 0.0 {
        return "-".into();
    }
    let r = count / secs;
    if r >= 100.0 {
        format!("{r:.0}")
    } else {
        format!("{r:.1}")
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn sizes() {
        assert_eq!(bytes("1000"), Ok(1000));
        assert_eq!(bytes("64KiB"), Ok(64 << 10));
        assert_eq!(bytes("1G"), Ok(1 << 30));
        assert_eq!(bytes("2MB"), Ok(2_000_000));
        assert!(bytes("lots").is_err());
        assert!(bytes("1PB").is_err());
    }

    #[test]
    fn durations_and_sync() {
        assert_eq!(duration("250ms"), Ok(Duration::from_millis(250)));
        assert_eq!(duration("30"), Ok(Duration::from_secs(30)));
        assert_eq!(duration("2m"), Ok(Duration::from_secs(120)));
        assert!(duration("soon").is_err());
        assert_eq!(sync("always"), Ok(SyncPolicy::Always));
        assert_eq!(sync("interval:100"), Ok(SyncPolicy::Interval(100)));
        assert_eq!(sync("interval:1s"), Ok(SyncPolicy::Interval(1000)));
        assert_eq!(sync("never"), Ok(SyncPolicy::Never));
        assert!(sync("interval:0").is_err());
        assert!(sync("sometimes").is_err());
    }
}
