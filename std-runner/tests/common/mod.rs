//! Helpers shared by the integration tests.
#![allow(dead_code, clippy::unwrap_used)]

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};

use steadfast::transport::read_delivered;

/// A fresh temporary directory (removed when dropped).
pub fn tempdir() -> tempfile::TempDir {
    tempfile::Builder::new()
        .prefix("steadfast-test-")
        .tempdir()
        .unwrap()
}

/// Segment files of a journal, by id.
pub fn segments(dir: &Path) -> BTreeMap<u64, PathBuf> {
    let mut out = BTreeMap::new();
    for entry in std::fs::read_dir(dir).unwrap() {
        let entry = entry.unwrap();
        if let Some(id) = entry
            .file_name()
            .to_str()
            .and_then(steadfast::storage::parse_segment_file_name)
        {
            out.insert(id, entry.path());
        }
    }
    out
}

/// Values (as text) delivered to a file transport's output, with counts.
pub fn delivered_values(path: &Path) -> BTreeMap<String, usize> {
    let mut out = BTreeMap::new();
    if !path.exists() {
        return out;
    }
    for r in read_delivered(path).unwrap().records {
        let v = String::from_utf8(r.value.unwrap_or_default()).unwrap();
        *out.entry(v).or_insert(0) += 1;
    }
    out
}

/// Byte offsets of every frame in a segment (from the frame lengths).
pub fn frame_offsets(segment: &Path) -> Vec<u64> {
    let bytes = std::fs::read(segment).unwrap();
    let mut at = 64usize;
    let mut out = Vec::new();
    while at + 24 <= bytes.len() {
        let len = u32::from_le_bytes(bytes[at..at + 4].try_into().unwrap()) as usize;
        out.push(at as u64);
        at += (24 + len).div_ceil(8) * 8;
    }
    out
}
