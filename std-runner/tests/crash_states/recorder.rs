//! The trace: every file-system change the real `FileStorage` makes, heard
//! through its `FileObserver` seam, interleaved with what the workload
//! learned at the same moment (a `send` returned, an fsync completed, a
//! message was confirmed or dead-lettered).

use std::path::{Path, PathBuf};
use std::sync::{Arc, Mutex};

use steadfast::storage::trace::{FileEvent, FileObserver, WriteVia};

/// Sectors a `pwrite` can be torn into by power loss.
pub const SECTOR: u64 = 512;
/// Pages a store into a shared mapping is written back in.
pub const PAGE: u64 = 4096;

/// One step of the trace. Paths are relative to the journal directory
/// ("" is the directory itself).
#[derive(Clone, Debug)]
pub enum Ev {
    /// A file opened with `O_CREAT` (new, or cut to 0 if `truncated`).
    Open {
        path: String,
        existed: bool,
        truncated: bool,
    },
    /// Bytes written; `gran` is the unit power loss tears them in.
    Write {
        path: String,
        offset: u64,
        data: Arc<[u8]>,
        gran: u64,
    },
    /// `ftruncate`.
    SetLen { path: String, len: u64 },
    /// `fdatasync` / `fsync` of a file.
    SyncData { path: String },
    /// `fsync` of a directory.
    SyncDir { path: String },
    /// `mkdir`.
    CreateDir { path: String },
    /// `rename`.
    Rename { from: String, to: String },
    /// `unlink`.
    Remove { path: String },
    /// The workload: `send` appended message `seq` with this value.
    Sent { seq: u64, value: Arc<[u8]> },
    /// The workload: a sync of the journal returned Ok (everything sent
    /// before it is durable: the sends it covers may now return).
    SyncDone,
    /// The workload: the broker confirmed `seq` (handed to the core).
    Confirmed { seq: u64 },
    /// The workload: `seq` failed for good (handed to the core).
    DeadLettered { seq: u64 },
}

/// Collects the trace of one workload.
pub struct Recorder {
    root: PathBuf,
    events: Mutex<Vec<Ev>>,
}

impl Recorder {
    pub fn new(root: &Path) -> Arc<Recorder> {
        Arc::new(Recorder {
            root: root.to_path_buf(),
            events: Mutex::new(Vec::new()),
        })
    }

    /// Adds a workload marker.
    pub fn mark(&self, ev: Ev) {
        self.events.lock().unwrap().push(ev);
    }

    pub fn take(&self) -> Vec<Ev> {
        std::mem::take(&mut self.events.lock().unwrap())
    }

    fn rel(&self, path: &Path) -> String {
        let rel = path.strip_prefix(&self.root).unwrap_or_else(|_| {
            panic!(
                "{} is outside the journal directory {}",
                path.display(),
                self.root.display()
            )
        });
        rel.to_string_lossy().into_owned()
    }
}

impl FileObserver for Recorder {
    fn on_event(&self, event: &FileEvent<'_>) {
        let ev = match *event {
            FileEvent::Open {
                path,
                existed,
                truncated,
            } => Ev::Open {
                path: self.rel(path),
                existed,
                truncated,
            },
            FileEvent::Write {
                path,
                offset,
                data,
                via,
            } => Ev::Write {
                path: self.rel(path),
                offset,
                data: data.into(),
                gran: match via {
                    WriteVia::Mapping => PAGE,
                    _ => SECTOR,
                },
            },
            FileEvent::SetLen { path, len } => Ev::SetLen {
                path: self.rel(path),
                len,
            },
            // Reserved blocks change no byte and no length.
            FileEvent::Reserve { .. } => return,
            FileEvent::SyncData { path } => Ev::SyncData { path: self.rel(path) },
            FileEvent::SyncDir { path } => Ev::SyncDir { path: self.rel(path) },
            FileEvent::CreateDir { path } => Ev::CreateDir { path: self.rel(path) },
            FileEvent::Rename { from, to } => Ev::Rename {
                from: self.rel(from),
                to: self.rel(to),
            },
            FileEvent::Remove { path } => Ev::Remove { path: self.rel(path) },
            ref other => panic!("the crash-state model does not know {other:?}: teach it"),
        };
        self.events.lock().unwrap().push(ev);
    }
}
