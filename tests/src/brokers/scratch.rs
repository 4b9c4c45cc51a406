//! [`ScratchDir`]: a fresh directory for a journal, removed on drop.
//!
//! The real-broker suites and binaries give each producer its own journal
//! directory under the system temp dir; this keeps them from needing a
//! temp-file crate and cleans up even when a test panics.

use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicU32, Ordering};

/// Distinguishes directories made by one process.
static NEXT: AtomicU32 = AtomicU32::new(0);

/// A directory under the system temp dir, removed (with its contents) on drop.
#[derive(Debug)]
pub struct ScratchDir {
    path: PathBuf,
}

impl ScratchDir {
    /// Creates `steadfast-<label>-<pid>-<n>` under the system temp dir.
    pub fn new(label: &str) -> std::io::Result<ScratchDir> {
        Self::new_in(&std::env::temp_dir(), label)
    }

    /// Creates `steadfast-<label>-<pid>-<n>` under `parent` (for example on
    /// the disk a benchmark should measure).
    pub fn new_in(parent: &Path, label: &str) -> std::io::Result<ScratchDir> {
        let n = NEXT.fetch_add(1, Ordering::Relaxed);
        let path = parent.join(format!("steadfast-{label}-{}-{n}", std::process::id()));
        // A leftover from an earlier run with the same pid.
        let _ = std::fs::remove_dir_all(&path);
        std::fs::create_dir_all(&path)?;
        Ok(ScratchDir { path })
    }

    /// The directory.
    pub fn path(&self) -> &Path {
        &self.path
    }

    /// A path inside the directory (not created).
    pub fn join(&self, name: &str) -> PathBuf {
        self.path.join(name)
    }
}

impl Drop for ScratchDir {
    fn drop(&mut self) {
        let _ = std::fs::remove_dir_all(&self.path);
    }
}
