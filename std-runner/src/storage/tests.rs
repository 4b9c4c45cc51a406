//! Unit tests of the file storage: names, error mapping, the write buffer
//! and failing closed.
#![allow(clippy::unwrap_used)]

use std::io;

use steadfast_core::{META_SLOT_LEN, Storage, StorageError, StorageErrorKind};

use super::error::{is_unsupported_dir_sync, kind_of};
use super::{FileStorage, parse_segment_file_name, segment_file_name};

fn dir() -> tempfile::TempDir {
    tempfile::Builder::new()
        .prefix("steadfast-unit-")
        .tempdir()
        .unwrap()
}

#[test]
fn segment_names_round_trip_and_strays_do_not_parse() {
    assert_eq!(segment_file_name(7), "00000000000000000007.seg");
    assert_eq!(
        parse_segment_file_name(&segment_file_name(u64::MAX)),
        Some(u64::MAX)
    );
    for stray in [
        "7.seg",
        "00000000000000000007.seg.bak",
        "99999999999999999999.seg",
        "meta-0",
        "0000000000000000000x.seg",
    ] {
        assert_eq!(parse_segment_file_name(stray), None, "{stray}");
    }
}

#[test]
fn os_errors_map_to_the_cores_kinds() {
    let os = io::Error::from_raw_os_error;
    assert_eq!(kind_of(&os(libc::ENOSPC)), StorageErrorKind::NoSpace);
    assert_eq!(kind_of(&os(libc::EDQUOT)), StorageErrorKind::NoSpace);
    assert_eq!(kind_of(&os(libc::EIO)), StorageErrorKind::Io);
    assert_eq!(kind_of(&os(libc::ENOENT)), StorageErrorKind::NotFound);
    // What WASI preview 1 and some file systems answer to a directory fsync.
    for code in [libc::EBADF, libc::EINVAL, libc::ENOTSUP] {
        assert!(is_unsupported_dir_sync(&os(code)), "{code}");
    }
    assert!(!is_unsupported_dir_sync(&os(libc::EIO)));
}

#[test]
fn buffered_appends_are_readable_and_reach_the_file_on_flush() {
    let d = dir();
    let mut s = FileStorage::open(d.path()).unwrap();
    s.preallocate_segments(1 << 20);
    s.create(1).unwrap();
    s.append(1, b"hello ").unwrap();
    s.append(1, b"world").unwrap();
    assert_eq!(s.len(1).unwrap(), 11);
    let path = d.path().join(segment_file_name(1));
    let mut buf = [0u8; 11];
    assert_eq!(s.read(1, 0, &mut buf).unwrap(), 11);
    assert_eq!(&buf, b"hello world");
    s.append(1, b"!").unwrap();
    s.flush().unwrap();
    assert_eq!(std::fs::read(&path).unwrap(), b"hello world!");
    s.sync(1).unwrap();
    assert!(s.is_synced());
}

#[test]
fn a_failed_fsync_closes_the_storage_for_good() {
    let d = dir();
    let mut s = FileStorage::open(d.path()).unwrap();
    s.create(1).unwrap();
    s.append(1, b"data").unwrap();
    s.inject_sync_failure();
    let err = s.sync(1).unwrap_err();
    assert_eq!(err.kind(), StorageErrorKind::Io);
    assert!(err.to_string().contains("failed closed"), "{err}");
    assert!(s.failure().is_some());
    let later = s.append(1, b"more").unwrap_err();
    assert_eq!(later.kind(), StorageErrorKind::FailedClosed);
    let mut meta = [0u8; META_SLOT_LEN];
    assert_eq!(
        s.read_meta(0, &mut meta).unwrap_err().kind(),
        StorageErrorKind::FailedClosed
    );
}

#[test]
fn meta_slots_round_trip_and_start_unwritten() {
    let d = dir();
    let mut s = FileStorage::open(d.path()).unwrap();
    let mut buf = [0u8; META_SLOT_LEN];
    assert!(!s.read_meta(1, &mut buf).unwrap());
    s.write_meta(1, &[9u8; META_SLOT_LEN]).unwrap();
    assert!(s.read_meta(1, &mut buf).unwrap());
    assert_eq!(buf, [9u8; META_SLOT_LEN]);
}
