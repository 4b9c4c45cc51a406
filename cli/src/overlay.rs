//! [`Overlay`]: a read-only view of a journal directory that the core can
//! open as its storage, so that `journal status`, `journal verify` and
//! `dead-letters list` run the real recovery without changing a byte.
//!
//! Reads come from the files; every write (a torn tail cut, a segment
//! quarantined or deleted, the new segment `open` starts, meta slots) lands
//! in memory and is recorded as a [`Change`], so the tool can say what the
//! next real open *would* do. Files are opened read-only; nothing is
//! created, not even the lock file.

use std::collections::{BTreeMap, BTreeSet};
use std::fmt;
use std::fs::File;
use std::io;
use std::path::{Path, PathBuf};

use steadfast::core::{ErrorType, META_SLOT_LEN, SegmentId, Storage, StorageError, StorageErrorKind};
use steadfast::storage::{META_FILES, parse_segment_file_name, segment_file_name};

/// What the next real open would change on disk.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Change {
    /// Cut segment `segment` to `len` bytes (a torn tail).
    Truncate {
        /// The segment.
        segment: SegmentId,
        /// Its new length.
        len: u64,
    },
    /// Move segment `segment` to `quarantine/`.
    Quarantine(SegmentId),
    /// Delete segment `segment` (everything in it is done).
    Remove(SegmentId),
}

impl fmt::Display for Change {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Change::Truncate { segment, len } => {
                write!(
                    f,
                    "cut segment {segment} to {len} bytes (a torn tail left by a crash)"
                )
            }
            Change::Quarantine(id) => write!(f, "move segment {id} to quarantine/"),
            Change::Remove(id) => write!(
                f,
                "delete segment {id} (everything in it is delivered or resolved)"
            ),
        }
    }
}

/// A failed read (writes never fail).
#[derive(Debug)]
pub struct OverlayError {
    kind: StorageErrorKind,
    text: String,
}

impl fmt::Display for OverlayError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.text)
    }
}

impl StorageError for OverlayError {
    fn kind(&self) -> StorageErrorKind {
        self.kind
    }
}

fn io_error(what: &str, path: &Path, e: &io::Error) -> OverlayError {
    let kind = match e.kind() {
        io::ErrorKind::NotFound => StorageErrorKind::NotFound,
        _ => StorageErrorKind::Io,
    };
    OverlayError {
        kind,
        text: format!("{what} {}: {e}", path.display()),
    }
}

/// One segment: the part on disk that is still visible, then bytes
/// appended in memory.
#[derive(Debug)]
struct Seg {
    file: Option<File>,
    visible: u64,
    tail: Vec<u8>,
}

/// A journal directory opened read-only; see the module docs.
#[derive(Debug)]
pub struct Overlay {
    dir: PathBuf,
    segs: BTreeMap<SegmentId, Seg>,
    hidden: BTreeSet<SegmentId>,
    created: BTreeSet<SegmentId>,
    meta: [Option<[u8; META_SLOT_LEN]>; 2],
    changes: Vec<Change>,
}

impl Overlay {
    /// A read-only view of `dir`.
    pub fn new(dir: &Path) -> Overlay {
        Overlay {
            dir: dir.to_path_buf(),
            segs: BTreeMap::new(),
            hidden: BTreeSet::new(),
            created: BTreeSet::new(),
            meta: [None, None],
            changes: Vec::new(),
        }
    }

    /// What the next real open would change (in order).
    pub fn changes(&self) -> &[Change] {
        &self.changes
    }

    /// Segments that exist only in memory (started by `open`).
    pub fn created(&self) -> Vec<SegmentId> {
        self.created.iter().copied().collect()
    }

    fn seg(&mut self, id: SegmentId) -> Result<&mut Seg, OverlayError> {
        if self.hidden.contains(&id) {
            return Err(OverlayError {
                kind: StorageErrorKind::NotFound,
                text: format!("segment {id} was set aside"),
            });
        }
        if !self.segs.contains_key(&id) {
            let path = self.dir.join(segment_file_name(id));
            let file = File::open(&path).map_err(|e| io_error("opening", &path, &e))?;
            let len = file.metadata().map_err(|e| io_error("reading", &path, &e))?.len();
            self.segs.insert(
                id,
                Seg {
                    file: Some(file),
                    visible: len,
                    tail: Vec::new(),
                },
            );
        }
        self.segs.get_mut(&id).ok_or_else(|| OverlayError {
            kind: StorageErrorKind::NotFound,
            text: format!("segment {id} not found"),
        })
    }
}

fn read_at(file: &File, offset: u64, buf: &mut [u8]) -> io::Result<usize> {
    use std::os::unix::fs::FileExt;
    let mut done = 0;
    while done < buf.len() {
        match file.read_at(&mut buf[done..], offset + done as u64) {
            Ok(0) => break,
            Ok(n) => done += n,
            Err(e) if e.kind() == io::ErrorKind::Interrupted => {}
            Err(e) => return Err(e),
        }
    }
    Ok(done)
}

impl ErrorType for Overlay {
    type Error = OverlayError;
}

impl Storage for Overlay {
    fn list(&mut self, visit: &mut dyn FnMut(SegmentId)) -> Result<(), OverlayError> {
        let entries = std::fs::read_dir(&self.dir).map_err(|e| io_error("listing", &self.dir, &e))?;
        for entry in entries {
            let entry = entry.map_err(|e| io_error("listing", &self.dir, &e))?;
            let is_file = entry.file_type().is_ok_and(|t| t.is_file());
            if let (true, Some(id)) = (
                is_file,
                entry.file_name().to_str().and_then(parse_segment_file_name),
            ) && !self.hidden.contains(&id)
                && !self.created.contains(&id)
            {
                visit(id);
            }
        }
        for id in &self.created {
            visit(*id);
        }
        Ok(())
    }

    fn create(&mut self, id: SegmentId) -> Result<(), OverlayError> {
        self.hidden.remove(&id);
        self.created.insert(id);
        self.segs.insert(
            id,
            Seg {
                file: None,
                visible: 0,
                tail: Vec::new(),
            },
        );
        Ok(())
    }

    fn len(&mut self, id: SegmentId) -> Result<u64, OverlayError> {
        let seg = self.seg(id)?;
        Ok(seg.visible + seg.tail.len() as u64)
    }

    fn read(&mut self, id: SegmentId, offset: u64, buf: &mut [u8]) -> Result<usize, OverlayError> {
        let path = self.dir.join(segment_file_name(id));
        let seg = self.seg(id)?;
        let mut done = 0usize;
        if offset < seg.visible {
            let want = buf.len().min((seg.visible - offset) as usize);
            if let Some(file) = &seg.file {
                done = read_at(file, offset, &mut buf[..want]).map_err(|e| io_error("reading", &path, &e))?;
            }
            if done < want {
                return Ok(done);
            }
        }
        let at = offset + done as u64;
        if at >= seg.visible && done < buf.len() {
            let start = (at - seg.visible) as usize;
            if let Some(rest) = seg.tail.get(start..) {
                let n = rest.len().min(buf.len() - done);
                buf[done..done + n].copy_from_slice(&rest[..n]);
                done += n;
            }
        }
        Ok(done)
    }

    fn append(&mut self, id: SegmentId, data: &[u8]) -> Result<(), OverlayError> {
        self.seg(id)?.tail.extend_from_slice(data);
        Ok(())
    }

    fn sync(&mut self, _id: SegmentId) -> Result<(), OverlayError> {
        Ok(())
    }

    fn truncate(&mut self, id: SegmentId, len: u64) -> Result<(), OverlayError> {
        let created = self.created.contains(&id);
        let seg = self.seg(id)?;
        if len <= seg.visible {
            seg.visible = len;
            seg.tail.clear();
        } else {
            seg.tail.truncate((len - seg.visible) as usize);
        }
        if !created {
            self.changes.push(Change::Truncate { segment: id, len });
        }
        Ok(())
    }

    fn remove(&mut self, id: SegmentId) -> Result<(), OverlayError> {
        self.segs.remove(&id);
        if !self.created.remove(&id) {
            self.hidden.insert(id);
            self.changes.push(Change::Remove(id));
        }
        Ok(())
    }

    fn quarantine(&mut self, id: SegmentId) -> Result<(), OverlayError> {
        self.segs.remove(&id);
        if !self.created.remove(&id) {
            self.hidden.insert(id);
            self.changes.push(Change::Quarantine(id));
        }
        Ok(())
    }

    fn read_meta(&mut self, slot: usize, buf: &mut [u8; META_SLOT_LEN]) -> Result<bool, OverlayError> {
        if let Some(Some(data)) = self.meta.get(slot) {
            *buf = *data;
            return Ok(true);
        }
        let Some(name) = META_FILES.get(slot) else {
            return Ok(false);
        };
        let path = self.dir.join(name);
        let file = match File::open(&path) {
            Ok(f) => f,
            Err(e) if e.kind() == io::ErrorKind::NotFound => return Ok(false),
            Err(e) => return Err(io_error("reading", &path, &e)),
        };
        buf.fill(0);
        let n = read_at(&file, 0, buf).map_err(|e| io_error("reading", &path, &e))?;
        Ok(n > 0)
    }

    fn write_meta(&mut self, slot: usize, data: &[u8; META_SLOT_LEN]) -> Result<(), OverlayError> {
        if let Some(m) = self.meta.get_mut(slot) {
            *m = Some(*data);
        }
        Ok(())
    }
}
