//! The core's [`Storage`] calls on [`FileStorage`], the runner's
//! [`RunnerStorage`] calls on it, and the fsync tickets that let group
//! commit run an fsync outside the producer's lock.

use std::io;
use std::path::PathBuf;
use std::sync::Arc;
use std::sync::atomic::Ordering;

use steadfast_core::{Config, ErrorType, META_SLOT_LEN, SegmentId, Storage, StorageErrorKind, SyncRequest};

use super::fs::{FsFile, read_at};
use super::map::map_new_segment;
use super::runner::{RunnerStorage, SyncJob};
use super::{
    DurabilityNote, FileError, FileOp, FileStorage, META_FILES, QUARANTINE_DIR, SEGMENTS_MAPPED, Segment,
    WRITE_BUFFER, parse_segment_file_name, segment_file_name,
};

/// An fsync of one segment, prepared under the producer's lock and run
/// outside it, so that senders keep appending while the disk works: the
/// [`SyncJob`](super::SyncJob) of [`FileStorage`] (see
/// [`RunnerStorage`](super::RunnerStorage)).
#[derive(Debug)]
pub struct SyncTicket {
    file: Arc<FsFile>,
    path: PathBuf,
}

impl SyncJob for SyncTicket {
    /// Runs the fsync (`fdatasync`) of the segment's file.
    fn run(&self) -> Result<(), FileError> {
        self.file
            .sync_data()
            .map_err(|e| FileError::io(FileOp::Sync, self.path.clone(), e).with_kind(StorageErrorKind::Io))
    }
}

impl FileStorage {
    /// The fsync of segment `id` as a ticket the caller can run without
    /// holding the producer's lock (group commit). Writes the write buffer
    /// out first, so the ticket covers every byte appended so far.
    pub(super) fn sync_ticket(&mut self, id: SegmentId) -> Result<SyncTicket, FileError> {
        self.check(FileOp::Sync, || self.path_of(id))?;
        self.flush_segment(id)?;
        let path = self.path_of(id);
        let seg = self.segment(id, FileOp::Sync)?;
        Ok(SyncTicket {
            file: Arc::clone(&seg.file),
            path,
        })
    }

    /// Writes `data` at the end of segment `id` now (not buffered).
    fn write_through(&mut self, id: SegmentId, data: &[u8]) -> Result<(), FileError> {
        self.flush_segment(id)?;
        let seg = self.segment(id, FileOp::Append)?;
        let at = seg.len;
        match seg.file.write_all_at(at, data) {
            Ok(()) => {
                seg.len += data.len() as u64;
                Ok(())
            }
            Err(e) => {
                // Cut whatever part was written, so that "nothing was
                // written by the failed call" holds (ENOSPC mid-write).
                let cut = seg.file.set_len(at);
                let err = FileError::io(FileOp::Append, self.path_of(id), e);
                if let Err(cut) = cut {
                    let cut = FileError::io(FileOp::Truncate, self.path_of(id), cut)
                        .with_kind(StorageErrorKind::Io);
                    self.fail_closed(&cut);
                    return Err(cut);
                }
                Err(err)
            }
        }
    }
}

impl ErrorType for FileStorage {
    type Error = FileError;
}

impl Storage for FileStorage {
    fn list(&mut self, visit: &mut dyn FnMut(SegmentId)) -> Result<(), FileError> {
        self.check(FileOp::List, || self.dir.clone())?;
        let io = |e| FileError::io(FileOp::List, self.dir.clone(), e);
        for entry in std::fs::read_dir(&self.dir).map_err(io)? {
            let entry = entry.map_err(io)?;
            let is_file = entry.file_type().map_err(io)?.is_file();
            if let (true, Some(id)) = (
                is_file,
                entry.file_name().to_str().and_then(parse_segment_file_name),
            ) {
                visit(id);
            }
        }
        Ok(())
    }

    fn create(&mut self, id: SegmentId) -> Result<(), FileError> {
        let path = self.path_of(id);
        self.check(FileOp::Create, || path.clone())?;
        self.flush()?;
        // The mapped segment stops being the newest: cut its zeros, durably,
        // before the new file can exist (recovery would call them damage).
        while let Some(mapped) = self.mapped() {
            self.unmap(mapped, true)?;
        }
        self.segments.remove(&id);
        let file = self
            .fs
            .create(&path, true)
            .map_err(|e| FileError::io(FileOp::Create, path.clone(), e))?;
        let reserved = file.reserve(self.prealloc);
        let file = Arc::new(file);
        // Where it cannot be mapped, appends are buffered and `pwrite`n.
        let map = self
            .map_segments
            .then(|| map_new_segment(&file, reserved).ok())
            .flatten();
        if map.is_some() {
            SEGMENTS_MAPPED.fetch_add(1, Ordering::Relaxed);
        }
        self.segments.insert(
            id,
            Segment {
                file,
                len: 0,
                reserved,
                map,
            },
        );
        let dir = self.dir.clone();
        self.sync_dir_at(&dir)
    }

    fn len(&mut self, id: SegmentId) -> Result<u64, FileError> {
        self.check(FileOp::Read, || self.path_of(id))?;
        Ok(self.segment(id, FileOp::Read)?.len)
    }

    fn read(&mut self, id: SegmentId, offset: u64, buf: &mut [u8]) -> Result<usize, FileError> {
        self.check(FileOp::Read, || self.path_of(id))?;
        let pending = &self.pending;
        if pending.segment == id && !pending.bytes.is_empty() && offset + buf.len() as u64 > pending.offset {
            self.flush()?;
        }
        let seg = self.segment(id, FileOp::Read)?;
        // Always `pread`, never a copy out of the mapping: a page of a
        // mapped segment that was written back and evicted is read from the
        // disk again, and a disk that fails that read must give an error
        // (`EIO`), not a SIGBUS that kills the process. Stores into the
        // mapping and `pread` share the page cache, so the bytes are the
        // same. Only what was appended is read: a mapped segment's file goes
        // on with zeros.
        let n = usize::try_from(seg.len.saturating_sub(offset)).map_or(buf.len(), |n| n.min(buf.len()));
        let file = Arc::clone(&seg.file);
        file.read_at(offset, &mut buf[..n])
            .map_err(|e| FileError::io(FileOp::Read, self.path_of(id), e))
    }

    fn append(&mut self, id: SegmentId, data: &[u8]) -> Result<(), FileError> {
        self.check(FileOp::Append, || self.path_of(id))?;
        let seg = self.segment(id, FileOp::Append)?;
        let (at, end) = (seg.len, seg.len + data.len() as u64);
        if end > seg.reserved {
            if seg.map.is_some() {
                // Past the reservation (bookkeeping entries may overrun the
                // segment size): unmapped, cut, and `pwrite` from here on.
                self.unmap(id, false)?;
            }
            return self.write_through(id, data);
        }
        // (A mapped segment buffers even a large entry: `flush` writes it.)
        if data.len() >= WRITE_BUFFER && seg.map.is_none() {
            return self.write_through(id, data);
        }
        let pending = &self.pending;
        let contiguous = pending.segment == id && pending.offset + pending.bytes.len() as u64 == at;
        if !pending.bytes.is_empty() && (!contiguous || pending.bytes.len() + data.len() > WRITE_BUFFER) {
            self.flush()?;
        }
        if self.pending.bytes.is_empty() {
            self.pending.segment = id;
            self.pending.offset = at;
        }
        self.pending.bytes.extend_from_slice(data);
        if let Some(seg) = self.segments.get_mut(&id) {
            seg.len = end;
        }
        Ok(())
    }

    fn sync(&mut self, id: SegmentId) -> Result<(), FileError> {
        let path = self.path_of(id);
        self.check(FileOp::Sync, || path.clone())?;
        self.flush_segment(id)?;
        let file = Arc::clone(&self.segment(id, FileOp::Sync)?.file);
        self.sync_file(&file, FileOp::Sync, path)
    }

    fn truncate(&mut self, id: SegmentId, len: u64) -> Result<(), FileError> {
        let path = self.path_of(id);
        self.check(FileOp::Truncate, || path.clone())?;
        self.flush_segment(id)?;
        let seg = self.segment(id, FileOp::Truncate)?;
        // No mapping may outlive a cut (SIGBUS past the end).
        seg.map = None;
        let file = Arc::clone(&seg.file);
        file.set_len(len)
            .map_err(|e| FileError::io(FileOp::Truncate, path.clone(), e))?;
        self.sync_file(&file, FileOp::Truncate, path)?;
        if let Some(seg) = self.segments.get_mut(&id) {
            seg.len = len;
        }
        Ok(())
    }

    fn remove(&mut self, id: SegmentId) -> Result<(), FileError> {
        let path = self.path_of(id);
        self.check(FileOp::Remove, || path.clone())?;
        self.flush_segment(id)?;
        let segment = self.segments.remove(&id);
        self.fs
            .remove_file(&path)
            .map_err(|e| FileError::io(FileOp::Remove, path, e))?;
        // Closing the file (and dropping its mapping) frees its pages: slow
        // for a full segment, so it happens on the reaper thread.
        super::reaper::release(segment);
        let dir = self.dir.clone();
        self.sync_dir_at(&dir)
    }

    fn quarantine(&mut self, id: SegmentId) -> Result<(), FileError> {
        let path = self.path_of(id);
        self.check(FileOp::Quarantine, || path.clone())?;
        self.flush_segment(id)?;
        // Cut a mapping's zeros (the copy kept for inspection is then the
        // segment's bytes), then drop it with the segment.
        self.unmap(id, false)?;
        self.segments.remove(&id);
        let qdir = self.dir.join(QUARANTINE_DIR);
        let io = |e| FileError::io(FileOp::Quarantine, qdir.clone(), e);
        if !qdir.is_dir() {
            self.fs.create_dir(&qdir).map_err(io)?;
            let dir = self.dir.clone();
            self.sync_dir_at(&dir)?;
        }
        // Never overwrite an earlier quarantined copy of the same id.
        let name = segment_file_name(id);
        let mut target = qdir.join(&name);
        let mut n = 1;
        while target.exists() {
            target = qdir.join(format!("{name}.{n}"));
            n += 1;
        }
        self.fs
            .rename(&path, &target)
            .map_err(|e| FileError::io(FileOp::Quarantine, path, e))?;
        self.sync_dir_at(&qdir)?;
        let dir = self.dir.clone();
        self.sync_dir_at(&dir)
    }

    fn read_meta(&mut self, slot: usize, buf: &mut [u8; META_SLOT_LEN]) -> Result<bool, FileError> {
        let path = self.dir.join(META_FILES.get(slot).copied().unwrap_or("meta-?"));
        self.check(FileOp::ReadMeta, || path.clone())?;
        let file = match std::fs::File::open(&path) {
            Ok(f) => f,
            Err(e) if e.kind() == io::ErrorKind::NotFound => return Ok(false),
            Err(e) => return Err(FileError::io(FileOp::ReadMeta, path, e)),
        };
        buf.fill(0);
        let n = read_at(&file, 0, buf).map_err(|e| FileError::io(FileOp::ReadMeta, path, e))?;
        // An empty file was created by a crash before its first write.
        Ok(n > 0)
    }

    fn write_meta(&mut self, slot: usize, data: &[u8; META_SLOT_LEN]) -> Result<(), FileError> {
        let path = self.dir.join(META_FILES.get(slot).copied().unwrap_or("meta-?"));
        self.check(FileOp::WriteMeta, || path.clone())?;
        let file = self.meta_file(slot)?;
        let result = file
            .write_all_at(0, data)
            .map_err(|e| FileError::io(FileOp::WriteMeta, path.clone(), e))
            .and_then(|()| {
                file.sync_data().map_err(|e| {
                    FileError::io(FileOp::WriteMeta, path.clone(), e).with_kind(StorageErrorKind::Io)
                })
            });
        let short = result.is_err()
            && file
                .file()
                .metadata()
                .is_ok_and(|m| m.len() < META_SLOT_LEN as u64);
        if let Err(e) = &result
            && steadfast_core::StorageError::kind(e) == StorageErrorKind::Io
        {
            self.fail_closed(e);
        }
        // A slot file created for this write and never filled (ENOSPC) is
        // removed: a missing slot is a slot not yet written, a short one
        // would read as damage. A full slot is overwritten in place, which
        // needs no new blocks.
        if short {
            self.meta[slot] = None;
            let _ = self.fs.remove_file(&path);
        }
        result
    }
}

impl RunnerStorage for FileStorage {
    type SyncJob = SyncTicket;

    fn detach_sync(&mut self, request: &SyncRequest) -> Result<Self::SyncJob, FileError> {
        self.sync_ticket(request.segment())
    }

    fn finish_sync(&mut self, job: Self::SyncJob, result: &Result<(), FileError>) {
        let _ = job;
        if let Err(e) = result {
            self.fail_closed(e);
        }
    }

    fn prepare(&mut self, config: &Config) {
        self.preallocate_segments(config.segment_size);
    }

    fn flush(&mut self) -> Result<(), FileError> {
        FileStorage::flush(self)
    }

    fn failure(&self) -> Option<&str> {
        FileStorage::failure(self)
    }

    fn notes(&self) -> &[DurabilityNote] {
        FileStorage::notes(self)
    }

    fn keep_reserve(&mut self) {
        self.keep_ballast();
    }

    fn release_reserve(&mut self) -> bool {
        self.release_ballast()
    }
}
