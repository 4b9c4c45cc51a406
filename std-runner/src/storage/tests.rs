//! Unit tests of the file storage: names, error mapping, the write buffer,
//! mapped segments and failing closed.
#![allow(clippy::unwrap_used)]

use std::fs::File;
use std::io;
use std::os::fd::OwnedFd;
use std::path::Path;
use std::sync::Arc;

use steadfast_core::{META_SLOT_LEN, SegmentId, Storage, StorageError, StorageErrorKind};

use super::error::{is_unsupported_dir_sync, kind_of};
use super::map::GROW_STEP;
use super::{FileStorage, RunnerStorage, SyncJob, parse_segment_file_name, segment_file_name};

/// Makes segment `id`'s fsyncs really fail: its file handle becomes a
/// pipe's, on which `fdatasync` fails (`EINVAL`) as it does with `EIO` on a
/// failing disk. Appends already written out stay in the real file (and in
/// its mapping, if it has one).
fn break_fsync(s: &mut FileStorage, id: SegmentId) {
    let (reader, _writer) = io::pipe().unwrap();
    let fd: OwnedFd = reader.into();
    let seg = s.segments.get_mut(&id).unwrap();
    seg.file = Arc::new(seg.file.swapped(File::from(fd)));
}

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
    s.map_segments = false;
    s.preallocate_segments(1 << 20);
    s.create(1).unwrap();
    assert!(s.mapped().is_none());
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
}

#[test]
fn a_failed_fsync_closes_the_storage_for_good() {
    let d = dir();
    let mut s = FileStorage::open(d.path()).unwrap();
    s.create(1).unwrap();
    s.append(1, b"data").unwrap();
    s.flush().unwrap();
    break_fsync(&mut s, 1);
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

/// True if segments in `dir` get mapped (Linux, on ext4, XFS or tmpfs);
/// elsewhere the tests below check the `pwrite` path gives the same files.
fn maps_here(dir: &Path) -> bool {
    super::segments_mappable_in(dir)
}

fn file_len(dir: &Path, id: u64) -> u64 {
    std::fs::metadata(dir.join(segment_file_name(id))).unwrap().len()
}

#[test]
fn a_mapped_segment_reads_back_its_appends_and_is_cut_exact_when_the_next_one_starts() {
    let d = dir();
    let maps = maps_here(d.path());
    let mut s = FileStorage::open(d.path()).unwrap();
    s.preallocate_segments(4 * GROW_STEP);
    s.create(1).unwrap();
    assert_eq!(s.mapped().is_some(), maps);
    let mut written = Vec::new();
    for i in 0..3000u32 {
        let entry = format!("entry {i:05} ").repeat(40);
        s.append(1, entry.as_bytes()).unwrap();
        written.extend_from_slice(entry.as_bytes());
        s.flush().unwrap();
    }
    assert!(written.len() as u64 > GROW_STEP, "crosses a growth step");
    assert_eq!(s.len(1).unwrap(), written.len() as u64);
    // Reads stop at what was appended, not at the file's end.
    let mut back = vec![0u8; written.len() + 4096];
    assert_eq!(s.read(1, 0, &mut back).unwrap(), written.len());
    assert_eq!(&back[..written.len()], &written[..]);
    let mut tail = [0u8; 16];
    assert_eq!(s.read(1, written.len() as u64 - 3, &mut tail).unwrap(), 3);
    assert_eq!(s.read(1, written.len() as u64 + 10, &mut tail).unwrap(), 0);
    if maps {
        // The file runs ahead of the appends, by zeros, up to a step.
        let len = file_len(d.path(), 1);
        assert_eq!(len, (written.len() as u64).div_ceil(GROW_STEP) * GROW_STEP);
        let on_disk = std::fs::read(d.path().join(segment_file_name(1))).unwrap();
        assert_eq!(&on_disk[..written.len()], &written[..]);
        assert!(on_disk[written.len()..].iter().all(|b| *b == 0));
    }
    s.sync(1).unwrap();
    // Starting segment 2 cuts segment 1 to its length (and unmaps it).
    s.create(2).unwrap();
    assert_eq!(file_len(d.path(), 1), written.len() as u64);
    assert_eq!(s.mapped().is_some(), maps);
    assert_eq!(s.read(1, 0, &mut back).unwrap(), written.len());
    assert_eq!(&back[..written.len()], &written[..]);
    s.append(2, b"second").unwrap();
    s.sync(2).unwrap();
    // Closing cuts the newest segment too.
    drop(s);
    assert_eq!(file_len(d.path(), 2), 6);
    assert_eq!(
        std::fs::read(d.path().join(segment_file_name(1))).unwrap(),
        written
    );
}

#[test]
fn appends_past_the_reservation_go_on_at_the_real_end() {
    let d = dir();
    let mut s = FileStorage::open(d.path()).unwrap();
    s.preallocate_segments(8192);
    s.create(1).unwrap();
    let mut written = Vec::new();
    for i in 0..100u8 {
        let entry = [i; 200];
        s.append(1, &entry).unwrap();
        written.extend_from_slice(&entry);
    }
    s.flush().unwrap();
    assert!(s.mapped().is_none(), "unmapped once past the reservation");
    assert_eq!(file_len(d.path(), 1), written.len() as u64);
    let mut back = vec![0u8; written.len()];
    assert_eq!(s.read(1, 0, &mut back).unwrap(), written.len());
    assert_eq!(back, written);
    s.sync(1).unwrap();
    drop(s);
    assert_eq!(
        std::fs::read(d.path().join(segment_file_name(1))).unwrap(),
        written
    );
}

#[test]
fn truncate_remove_and_quarantine_drop_the_mapping() {
    let d = dir();
    let mut s = FileStorage::open(d.path()).unwrap();
    s.preallocate_segments(1 << 20);
    s.create(1).unwrap();
    s.append(1, &[7u8; 1000]).unwrap();
    s.truncate(1, 100).unwrap();
    assert!(s.mapped().is_none());
    assert_eq!(file_len(d.path(), 1), 100);
    s.append(1, b"more").unwrap();
    s.flush().unwrap();
    assert_eq!(file_len(d.path(), 1), 104);

    s.create(2).unwrap();
    s.append(2, b"two").unwrap();
    s.quarantine(2).unwrap();
    assert!(s.mapped().is_none());
    let q = d.path().join(super::QUARANTINE_DIR).join(segment_file_name(2));
    assert_eq!(std::fs::read(q).unwrap(), b"two");

    s.create(3).unwrap();
    s.append(3, b"three").unwrap();
    s.remove(3).unwrap();
    assert!(s.mapped().is_none());
    assert!(!d.path().join(segment_file_name(3)).exists());
}

#[test]
fn large_flushes_to_a_mapped_segment_are_written_small_ones_copied() {
    let d = dir();
    let maps = maps_here(d.path());
    let mut s = FileStorage::open(d.path()).unwrap();
    s.preallocate_segments(4 * GROW_STEP);
    s.create(1).unwrap();
    let mut written = Vec::new();
    // A batch: many appends, one flush (a `pwrite`).
    for i in 0..100u8 {
        s.append(1, &[i; 1000]).unwrap();
        written.extend_from_slice(&[i; 1000]);
    }
    s.flush().unwrap();
    // Single sends: a flush each (copies), some straddling the batch's end.
    for i in 0..100u8 {
        s.append(1, &[i ^ 0x5a; 100]).unwrap();
        written.extend_from_slice(&[i ^ 0x5a; 100]);
        s.flush().unwrap();
    }
    // One entry larger than the write buffer.
    let big = vec![0xa5u8; 300 << 10];
    s.append(1, &big).unwrap();
    written.extend_from_slice(&big);
    s.flush().unwrap();
    let mut back = vec![0u8; written.len()];
    assert_eq!(s.read(1, 0, &mut back).unwrap(), written.len());
    assert_eq!(back, written);
    let on_disk = std::fs::read(d.path().join(segment_file_name(1))).unwrap();
    assert_eq!(&on_disk[..written.len()], &written[..]);
    assert!(on_disk[written.len()..].iter().all(|b| *b == 0));
    if maps {
        assert_eq!(on_disk.len() as u64, GROW_STEP);
    }
    drop(s);
    assert_eq!(file_len(d.path(), 1), written.len() as u64);
}

#[test]
fn a_mapped_storage_that_failed_closed_still_closes() {
    let d = dir();
    let mut s = FileStorage::open(d.path()).unwrap();
    s.preallocate_segments(1 << 20);
    s.create(1).unwrap();
    s.append(1, b"synced").unwrap();
    s.flush().unwrap();
    s.append(1, b" buffered").unwrap();
    break_fsync(&mut s, 1);
    assert_eq!(s.sync(1).unwrap_err().kind(), StorageErrorKind::Io);
    s.append(1, b"refused").unwrap_err();
    // Dropping leaves the files as they are (no cut, no flush) and returns.
    drop(s);
    let on_disk = std::fs::read(d.path().join(segment_file_name(1))).unwrap();
    assert!(on_disk.starts_with(b"synced buffered"));
}

#[test]
fn a_sync_ticket_covers_buffered_appends_and_a_failed_one_closes_the_storage() {
    let d = dir();
    let mut s = FileStorage::open(d.path()).unwrap();
    s.create(1).unwrap();
    s.append(1, b"buffered").unwrap();
    // The ticket writes the buffer out first: its fsync covers those bytes.
    let ticket = s.sync_ticket(1).unwrap();
    assert_eq!(
        std::fs::read(d.path().join(segment_file_name(1))).unwrap(),
        b"buffered"
    );
    let result = ticket.run();
    assert!(result.is_ok());
    s.finish_sync(ticket, &result);
    assert!(s.failure().is_none());
    s.append(1, b" more").unwrap();

    break_fsync(&mut s, 1);
    let ticket = s.sync_ticket(1).unwrap();
    let result = ticket.run();
    assert_eq!(result.as_ref().unwrap_err().kind(), StorageErrorKind::Io);
    s.finish_sync(ticket, &result);
    assert!(s.failure().is_some());
    assert_eq!(
        s.append(1, b"x").unwrap_err().kind(),
        StorageErrorKind::FailedClosed
    );
    assert_eq!(
        s.sync_ticket(1).unwrap_err().kind(),
        StorageErrorKind::FailedClosed
    );
}

/// `pread` of a file through a descriptor of its own, as another reader
/// (or recovery after a process crash) would see it.
fn pread_fresh(dir: &Path, id: u64, len: usize) -> Vec<u8> {
    let file = std::fs::File::open(dir.join(segment_file_name(id))).unwrap();
    let mut buf = vec![0u8; len];
    let n = super::fs::read_at(&file, 0, &mut buf).unwrap();
    buf.truncate(n);
    buf
}

#[test]
fn reads_see_every_store_into_the_mapping_including_the_unsynced_tail() {
    let d = dir();
    let maps = maps_here(d.path());
    let mut s = FileStorage::open(d.path()).unwrap();
    s.preallocate_segments(4 * GROW_STEP);
    s.create(1).unwrap();
    assert_eq!(s.mapped().is_some(), maps);
    let mut written = Vec::new();
    let mut append = |s: &mut FileStorage, bytes: &[u8], flush: bool| {
        s.append(1, bytes).unwrap();
        written.extend_from_slice(bytes);
        if flush {
            s.flush().unwrap();
        }
        written.clone()
    };
    // Synced: small flushes (copies into the mapping) and a batch (pwrite).
    for i in 0..50u8 {
        append(&mut s, &[i; 300], true);
    }
    for i in 0..20u8 {
        append(&mut s, &[i ^ 0x33; 1000], false);
    }
    let synced = append(&mut s, b"", true).len();
    s.sync(1).unwrap();
    // The tail written since the sync: copies, crossing a page boundary
    // and a growth step, each read back at once.
    let mut want = Vec::new();
    for i in 0..1200u32 {
        want = append(&mut s, format!("tail {i:05} ").repeat(80).as_bytes(), true);
        if i % 97 == 0 {
            let mut back = vec![0u8; want.len()];
            assert_eq!(s.read(1, 0, &mut back).unwrap(), want.len());
            assert_eq!(back, want, "read after tail append {i}");
        }
    }
    assert!(want.len() as u64 > GROW_STEP, "the tail crosses a growth step");
    // A store that is still in the write buffer is read too (the read
    // flushes it first).
    s.append(1, b"buffered").unwrap();
    want.extend_from_slice(b"buffered");
    let mut back = vec![0u8; want.len()];
    assert_eq!(s.read(1, 0, &mut back).unwrap(), want.len());
    assert_eq!(back, want);
    // Another descriptor's `pread` sees the same bytes: one page cache.
    assert_eq!(&pread_fresh(d.path(), 1, want.len())[..], &want[..]);
    // Reads at an offset inside the unsynced tail.
    let mut part = vec![0u8; 5000];
    let at = synced as u64 + 4093;
    assert_eq!(s.read(1, at, &mut part).unwrap(), 5000);
    assert_eq!(&part[..], &want[at as usize..at as usize + 5000]);
}

/// A mapped segment whose file loses its pages from under the mapping (here
/// cut by another writer; the same as a page the disk cannot read back):
/// a read is a short read, not a SIGBUS that kills the process.
#[test]
fn a_read_of_a_mapped_segment_never_touches_the_mapping() {
    let d = dir();
    let mut s = FileStorage::open(d.path()).unwrap();
    s.preallocate_segments(4 * GROW_STEP);
    s.create(1).unwrap();
    for i in 0..40u8 {
        s.append(1, &[i; 2000]).unwrap();
        s.flush().unwrap();
    }
    let cut = std::fs::OpenOptions::new()
        .write(true)
        .open(d.path().join(segment_file_name(1)))
        .unwrap();
    cut.set_len(0).unwrap();
    let mut back = vec![0u8; 80_000];
    // A copy out of the mapping here would raise SIGBUS.
    assert_eq!(s.read(1, 0, &mut back).unwrap(), 0);
    assert_eq!(s.read(1, 40_000, &mut back).unwrap(), 0);
    // Dropping only cuts the file (no store into the mapping).
    drop(s);
}
