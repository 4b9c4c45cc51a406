//! A real ENOSPC, on a 1 MiB tmpfs: `send` reports the same `Full` as a
//! used-up budget, nothing already journaled is harmed, the producer
//! carries on once deliveries free space, a restart on a full disk still
//! starts, and every acknowledged message is delivered.
//!
//! Needs root (to mount). Where mounting is impossible the test prints why
//! and skips, except under `CI=true`, where it fails instead.
#![allow(clippy::unwrap_used)]

mod common;

use std::path::{Path, PathBuf};
use std::process::Command;
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};
use std::time::Duration;

use steadfast::transport::{HoldTransport, read_delivered};
use steadfast::{
    Config, Failure, FailureClass, FileTransport, FullCause, OwnedMessage, Producer, SendTimeoutError,
    TrySendError,
};

/// A mounted tmpfs, unmounted on drop.
struct Tmpfs(PathBuf);

impl Tmpfs {
    fn mount(at: &Path, size: &str) -> Result<Tmpfs, String> {
        std::fs::create_dir_all(at).map_err(|e| e.to_string())?;
        let out = Command::new("mount")
            .args(["-t", "tmpfs", "-o", &format!("size={size}"), "tmpfs"])
            .arg(at)
            .output()
            .map_err(|e| format!("cannot run mount: {e}"))?;
        if out.status.success() {
            Ok(Tmpfs(at.to_path_buf()))
        } else {
            Err(String::from_utf8_lossy(&out.stderr).trim().to_string())
        }
    }
}

impl Drop for Tmpfs {
    fn drop(&mut self) {
        let _ = Command::new("umount").arg("-l").arg(&self.0).status();
    }
}

/// Sends 1 KiB messages until the disk is full; returns the values accepted.
fn fill(p: &Producer, tag: &str) -> Vec<String> {
    let mut accepted = Vec::new();
    loop {
        let value = format!("{tag}{:06}-{}", accepted.len(), "v".repeat(1000));
        match p.try_send(OwnedMessage::new("t", value.clone()).with_key(value.clone())) {
            Ok(_) => accepted.push(value),
            Err(TrySendError::Full { message, cause }) => {
                assert_eq!(message.value.unwrap(), value.as_bytes(), "handed back untouched");
                assert_eq!(cause, FullCause::NoSpace);
                return accepted;
            }
            Err(e) => panic!("after {} messages: {e}", accepted.len()),
        }
        assert!(accepted.len() < 2000, "the 1 MiB tmpfs never filled up");
    }
}

/// Writes `path` until the file system has not one byte left.
fn fill_to_the_brim(path: &Path) {
    use std::io::Write;
    let mut file = std::fs::File::create(path).unwrap();
    for chunk in [4096usize, 1] {
        let bytes = vec![0u8; chunk];
        while file.write_all(&bytes).is_ok() {}
    }
}

/// A file transport whose "broker" refuses everything (retriable) while
/// the flag is set.
fn gated(out: &Path, refuse: &Arc<AtomicBool>) -> FileTransport {
    let gate = Arc::clone(refuse);
    FileTransport::open(out).unwrap().with_reject(move |_| {
        gate.load(Ordering::SeqCst)
            .then(|| Failure::new(FailureClass::Retriable, 503, "broker down"))
    })
}

#[test]
fn a_full_disk_is_full_not_failure_and_loses_nothing() {
    let dir = common::tempdir();
    let mountpoint = dir.path().join("small");
    let _tmpfs = match Tmpfs::mount(&mountpoint, "1m") {
        Ok(t) => t,
        Err(why) if std::env::var("CI").as_deref() != Ok("true") => {
            println!(
                "SKIPPED a_full_disk_is_full_not_failure_and_loses_nothing: cannot mount a tmpfs ({why}); run as root"
            );
            return;
        }
        Err(why) => panic!("CI=true but a tmpfs cannot be mounted: {why}"),
    };
    let journal = mountpoint.join("journal");
    let out = dir.path().join("out.jsonl");
    let config = Config {
        max_entry: 4096,
        segment_size: 64 << 10,
        budget: 1 << 30,
        ..Config::default()
    };
    let refuse = Arc::new(AtomicBool::new(true));
    let p = Producer::builder(&journal)
        .config(config)
        .spawn(gated(&out, &refuse))
        .unwrap();

    // ENOSPC is `Full`, not a failure, and waiting for it times out.
    let mut accepted = fill(&p, "a");
    assert!(accepted.len() > 100, "{}", accepted.len());
    if cfg!(target_os = "linux") {
        // Segments with a reservation were mapped (tmpfs allows it); the
        // one that found no space to reserve took the `pwrite` path.
        assert!(steadfast::storage::segments_mapped() > 0);
    }
    assert!(
        p.stats().failed.is_none(),
        "ENOSPC must not fail the journal closed"
    );
    let same_size = format!("x{:06}-{}", 0, "w".repeat(1000));
    let m = OwnedMessage::new("t", same_size.clone()).with_key(same_size);
    match p.send_timeout(m, Duration::from_millis(50)) {
        Err(SendTimeoutError::Timeout { cause, .. }) => assert_eq!(cause, FullCause::NoSpace),
        other => panic!("{other:?}"),
    }

    // Deliveries free segments; the same producer accepts messages again.
    refuse.store(false, Ordering::SeqCst);
    p.send_timeout(OwnedMessage::new("t", "again"), Duration::from_secs(20))
        .unwrap();
    accepted.push("again".into());
    p.flush_timeout(Duration::from_secs(20)).unwrap();

    // Full again, and this time the process stops on a full disk ...
    refuse.store(true, Ordering::SeqCst);
    // (The confirmed segments are deleted moments after `flush` returns.)
    p.send_timeout(OwnedMessage::new("t", "b-first"), Duration::from_secs(20))
        .unwrap();
    accepted.push("b-first".into());
    accepted.extend(fill(&p, "b"));
    p.close(Duration::ZERO).unwrap();
    // Take the last free bytes too, as another program would.
    fill_to_the_brim(&mountpoint.join("filler"));

    // ... and a restart on that full disk still starts (giving up its
    // ballast if the open needs room: both meta slots exist and are
    // rewritten in place, so it may not), delivers everything and takes
    // new messages.
    refuse.store(false, Ordering::SeqCst);
    let p = Producer::builder(&journal)
        .config(config)
        .open(gated(&out, &refuse))
        .unwrap();
    assert!(p.recovery_report().pending > 0);
    let ballast = journal.join(steadfast::storage::BALLAST_FILE);
    // The other program goes away.
    std::fs::remove_file(mountpoint.join("filler")).unwrap();
    p.flush_timeout(Duration::from_secs(20)).unwrap();
    p.send(OwnedMessage::new("t", "after restart")).unwrap();
    accepted.push("after restart".into());
    p.flush_timeout(Duration::from_secs(20)).unwrap();
    p.close(Duration::from_secs(1)).unwrap();
    if !ballast.exists() {
        let df = Command::new("df").arg(&mountpoint).output().unwrap();
        let ls = Command::new("ls").arg("-la").arg(&journal).output().unwrap();
        panic!(
            "the ballast was not taken back once space was freed:\n{}{}",
            String::from_utf8_lossy(&df.stdout),
            String::from_utf8_lossy(&ls.stdout)
        );
    }

    let values = common::delivered_values(&out);
    for v in &accepted {
        assert!(
            values.contains_key(v),
            "acknowledged message {v:.8} not delivered"
        );
    }
    let p = Producer::builder(&journal)
        .config(config)
        .spawn(HoldTransport::default())
        .unwrap();
    assert!(p.recovery_report().is_clean(), "{}", p.recovery_report());
    p.close(Duration::ZERO).unwrap();
    assert_eq!(read_delivered(&out).unwrap().bad_lines, 0);
}
