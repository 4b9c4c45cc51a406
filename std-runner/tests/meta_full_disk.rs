//! A meta slot written on a full disk: the write fails with `NoSpace`, and
//! no empty or short slot file is left behind (recovery would take it for
//! damage); the slot written before it is untouched.
//!
//! Needs root (to mount a tmpfs). Where mounting is impossible the test
//! prints why and skips, except under `CI=true`, where it fails instead.
#![allow(clippy::unwrap_used)]

mod common;

use std::process::Command;

use steadfast::FileStorage;
use steadfast::core::{META_SLOT_LEN, Storage, StorageError, StorageErrorKind};

#[test]
fn a_meta_slot_on_a_full_disk_is_not_left_short() {
    let dir = common::tempdir();
    let at = dir.path().join("disk");
    std::fs::create_dir_all(&at).unwrap();
    let out = Command::new("mount")
        .args(["-t", "tmpfs", "-o", "size=256k", "tmpfs"])
        .arg(&at)
        .output()
        .unwrap();
    if !out.status.success() {
        let why = String::from_utf8_lossy(&out.stderr).trim().to_string();
        assert!(
            std::env::var("CI").map_or(true, |v| v != "true"),
            "cannot mount a tmpfs: {why}"
        );
        println!("skipped: cannot mount a tmpfs ({why})");
        return;
    }
    let result = std::panic::catch_unwind(|| {
        let journal = at.join("journal");
        let mut storage = FileStorage::open(&journal).unwrap();
        let good = [7u8; META_SLOT_LEN];
        storage.write_meta(1, &good).unwrap();
        // Fill the disk.
        let filler = at.join("filler");
        let chunk = vec![1u8; 4096];
        let mut file = std::fs::File::create(&filler).unwrap();
        while std::io::Write::write_all(&mut file, &chunk).is_ok() {}
        drop(file);
        let err = storage.write_meta(0, &[9u8; META_SLOT_LEN]).unwrap_err();
        assert_eq!(err.kind(), StorageErrorKind::NoSpace, "{err}");
        assert!(
            !journal.join("meta-0").exists(),
            "an unwritten slot file was left behind"
        );
        assert_eq!(std::fs::read(journal.join("meta-1")).unwrap(), good);
        // Once there is room, the slot is written.
        std::fs::remove_file(&filler).unwrap();
        storage.write_meta(0, &[9u8; META_SLOT_LEN]).unwrap();
        assert_eq!(
            std::fs::read(journal.join("meta-0")).unwrap(),
            [9u8; META_SLOT_LEN]
        );
    });
    let _ = Command::new("umount").arg("-l").arg(&at).status();
    if let Err(panic) = result {
        std::panic::resume_unwind(panic);
    }
}
