//! An in-memory storage with the crash semantics of the storage contract.

extern crate alloc;

use alloc::collections::BTreeMap;
use alloc::vec::Vec;
use core::fmt;

use crate::storage::{ErrorType, META_SLOT_LEN, SegmentId, Storage, StorageError, StorageErrorKind};

/// An error injected into or raised by [`MemStorage`].
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct MemError(pub StorageErrorKind);

impl fmt::Display for MemError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "in-memory storage: {}", self.0)
    }
}

impl StorageError for MemError {
    fn kind(&self) -> StorageErrorKind {
        self.0
    }
}

#[derive(Clone, Debug, Default)]
struct File {
    data: Vec<u8>,
    /// Bytes that survive a crash.
    synced: usize,
    /// Whether the file itself survives a crash.
    durable: bool,
}

/// Segments and meta slots in memory. [`crash`](MemStorage::crash) keeps
/// exactly what the storage contract promises to keep.
#[derive(Clone, Debug, Default)]
pub struct MemStorage {
    files: BTreeMap<SegmentId, File>,
    meta: [Option<[u8; META_SLOT_LEN]>; 2],
    /// Segments moved aside by `quarantine`.
    pub quarantined: BTreeMap<SegmentId, Vec<u8>>,
    /// Fail every `sync` from now on (then the storage fails closed).
    pub fail_syncs: bool,
    /// Total bytes the medium holds before appends (and the first write
    /// of a meta slot) fail with `NoSpace`.
    pub capacity: Option<usize>,
    failed_closed: bool,
    /// Number of successful syncs (to check group commit).
    pub syncs: u64,
}

impl MemStorage {
    /// An empty storage.
    pub fn new() -> Self {
        Self::default()
    }

    /// What a crash leaves: synced bytes of durable files, plus (when
    /// `keep_unsynced` is true, as after a process crash where the page cache
    /// survives) everything appended.
    pub fn crash(&self, keep_unsynced: bool) -> MemStorage {
        let files = self
            .files
            .iter()
            .filter(|(_, f)| keep_unsynced || f.durable)
            .map(|(id, f)| {
                let len = if keep_unsynced { f.data.len() } else { f.synced };
                let file = File {
                    data: f.data[..len].to_vec(),
                    synced: len,
                    durable: true,
                };
                (*id, file)
            })
            .collect();
        MemStorage {
            files,
            meta: self.meta,
            quarantined: self.quarantined.clone(),
            ..MemStorage::default()
        }
    }

    /// Raw bytes of a segment (for tests that damage them).
    pub fn segment_bytes(&mut self, id: SegmentId) -> Option<&mut Vec<u8>> {
        self.files.get_mut(&id).map(|f| &mut f.data)
    }

    /// Segment ids present.
    pub fn segment_ids(&self) -> Vec<SegmentId> {
        self.files.keys().copied().collect()
    }

    /// Deletes a segment behind the journal's back (to test detection).
    pub fn delete_segment(&mut self, id: SegmentId) {
        self.files.remove(&id);
    }

    /// Puts raw bytes as a segment (a stray or foreign file).
    pub fn put_segment(&mut self, id: SegmentId, data: Vec<u8>) {
        let synced = data.len();
        self.files.insert(
            id,
            File {
                data,
                synced,
                durable: true,
            },
        );
    }

    /// Raw meta slot 0 or 1 (`None`: never written), for tests that damage
    /// or copy it.
    pub fn meta_slot(&mut self, slot: usize) -> &mut Option<[u8; META_SLOT_LEN]> {
        &mut self.meta[slot % 2]
    }

    /// Bytes stored across segments.
    pub fn total_bytes(&self) -> usize {
        self.files.values().map(|f| f.data.len()).sum()
    }

    fn file(&mut self, id: SegmentId) -> Result<&mut File, MemError> {
        if self.failed_closed {
            return Err(MemError(StorageErrorKind::FailedClosed));
        }
        self.files
            .get_mut(&id)
            .ok_or(MemError(StorageErrorKind::NotFound))
    }
}

impl ErrorType for MemStorage {
    type Error = MemError;
}

impl Storage for MemStorage {
    fn list(&mut self, visit: &mut dyn FnMut(SegmentId)) -> Result<(), MemError> {
        self.files.keys().for_each(|id| visit(*id));
        Ok(())
    }
    fn create(&mut self, id: SegmentId) -> Result<(), MemError> {
        if self.failed_closed {
            return Err(MemError(StorageErrorKind::FailedClosed));
        }
        self.files.insert(id, File::default());
        Ok(())
    }
    fn len(&mut self, id: SegmentId) -> Result<u64, MemError> {
        Ok(self.file(id)?.data.len() as u64)
    }
    fn read(&mut self, id: SegmentId, offset: u64, buf: &mut [u8]) -> Result<usize, MemError> {
        let data = &self.file(id)?.data;
        let start = (offset as usize).min(data.len());
        let n = buf.len().min(data.len() - start);
        buf[..n].copy_from_slice(&data[start..start + n]);
        Ok(n)
    }
    fn append(&mut self, id: SegmentId, data: &[u8]) -> Result<(), MemError> {
        let total = self.total_bytes();
        if self.capacity.is_some_and(|cap| total + data.len() > cap) {
            return Err(MemError(StorageErrorKind::NoSpace));
        }
        self.file(id)?.data.extend_from_slice(data);
        Ok(())
    }
    fn sync(&mut self, id: SegmentId) -> Result<(), MemError> {
        if self.fail_syncs {
            self.failed_closed = true;
            return Err(MemError(StorageErrorKind::Io));
        }
        let f = self.file(id)?;
        f.synced = f.data.len();
        f.durable = true;
        self.syncs += 1;
        Ok(())
    }
    fn truncate(&mut self, id: SegmentId, len: u64) -> Result<(), MemError> {
        let f = self.file(id)?;
        f.data.truncate(len as usize);
        f.synced = f.synced.min(len as usize);
        Ok(())
    }
    fn remove(&mut self, id: SegmentId) -> Result<(), MemError> {
        self.file(id)?;
        self.files.remove(&id);
        Ok(())
    }
    fn quarantine(&mut self, id: SegmentId) -> Result<(), MemError> {
        let data = core::mem::take(&mut self.file(id)?.data);
        self.files.remove(&id);
        self.quarantined.insert(id, data);
        Ok(())
    }
    fn read_meta(&mut self, slot: usize, buf: &mut [u8; META_SLOT_LEN]) -> Result<bool, MemError> {
        match self.meta.get(slot).copied().flatten() {
            Some(m) => {
                *buf = m;
                Ok(true)
            }
            None => Ok(false),
        }
    }
    fn write_meta(&mut self, slot: usize, data: &[u8; META_SLOT_LEN]) -> Result<(), MemError> {
        if self.failed_closed {
            return Err(MemError(StorageErrorKind::FailedClosed));
        }
        let total = self.total_bytes();
        let s = self
            .meta
            .get_mut(slot)
            .ok_or(MemError(StorageErrorKind::NotFound))?;
        // A slot never written takes new room on the medium (as a new file
        // does on a disk); one written before is overwritten in place.
        if s.is_none() && self.capacity.is_some_and(|cap| total + META_SLOT_LEN > cap) {
            return Err(MemError(StorageErrorKind::NoSpace));
        }
        *s = Some(*data);
        Ok(())
    }
}
