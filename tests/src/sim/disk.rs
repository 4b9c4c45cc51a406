//! The simulated disk, and the [`Storage`] handle the producer writes through.
//!
//! After turmoil-fs: every segment has *pending* bytes (appended, in the page
//! cache) and *synced* bytes. A process crash keeps everything; a power loss
//! keeps the synced bytes plus a random prefix of whole [`BLOCK`]s of the
//! pending tail (a torn write), and forgets files whose directory entry was
//! never synced. Meta slots, truncation, removal and quarantine are durable
//! when they return, as the storage contract says.
//!
//! Faults the handle injects (rates set by the swarm): latent read errors,
//! ENOSPC, and fsync failures — after which the handle *fails closed* and the
//! segment's unsynced pages are gone, as on Linux. A crash can be armed to
//! strike before the n-th mutating call, so the process dies between any two
//! storage operations of a single producer call.

use std::cell::RefCell;
use std::collections::BTreeMap;
use std::fmt;
use std::rc::Rc;

use steadfast_core::{ErrorType, META_SLOT_LEN, SegmentId, Storage, StorageError, StorageErrorKind};

use super::rng::Rng;

/// The unit a power loss tears at.
pub const BLOCK: usize = 512;

/// One segment file.
#[derive(Clone, Debug, Default)]
pub struct SimFile {
    /// Bytes a reader sees (page cache).
    pub data: Vec<u8>,
    /// Bytes that survive a power loss.
    pub synced: usize,
    /// Whether the directory entry survives a power loss.
    pub durable: bool,
}

/// Fault rates of the disk (per call).
#[derive(Clone, Copy, Debug, Default)]
pub struct DiskFaults {
    /// A read fails with an I/O error.
    pub read_error: f64,
    /// An append or create fails with ENOSPC.
    pub enospc: f64,
    /// An fsync fails (the handle then fails closed).
    pub fsync_fail: f64,
    /// The disk is full right now: every append fails with ENOSPC.
    pub full: bool,
}

/// What the disk did that the world must know about.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum DiskNote {
    /// An fsync failed; the segment kept `kept` bytes, `dropped` unsynced bytes are gone.
    FsyncFailed {
        /// The segment.
        segment: SegmentId,
        /// Bytes that were synced before.
        synced: usize,
        /// Its length now.
        kept: usize,
        /// Unsynced bytes dropped.
        dropped: usize,
    },
    /// A read failed.
    ReadError,
    /// An append or create failed with ENOSPC.
    NoSpace,
}

/// Errors of [`SimStorage`].
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct SimError(pub StorageErrorKind);

impl fmt::Display for SimError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "sim disk: {}", self.0)
    }
}

impl StorageError for SimError {
    fn kind(&self) -> StorageErrorKind {
        self.0
    }
}

/// The disk: files, meta slots, quarantine, and fault state.
#[derive(Debug)]
pub struct Disk {
    /// Live segment files.
    pub files: BTreeMap<SegmentId, SimFile>,
    /// The two meta slots.
    pub meta: [Option<[u8; META_SLOT_LEN]>; 2],
    /// Segments moved aside by recovery.
    pub quarantined: BTreeMap<SegmentId, Vec<u8>>,
    /// Current fault rates.
    pub faults: DiskFaults,
    /// Planted bug: `sync` reports success without making anything durable.
    pub lying_sync: bool,
    /// Notes for the world, drained after every producer call.
    pub notes: Vec<DiskNote>,
    rng: Rng,
    epoch: u64,
    failed_closed: bool,
    crash_in: Option<u64>,
    dead: bool,
}

impl Disk {
    /// An empty disk drawing its faults from `rng`.
    pub fn new(rng: Rng) -> Rc<RefCell<Disk>> {
        Rc::new(RefCell::new(Disk {
            files: BTreeMap::new(),
            meta: [None, None],
            quarantined: BTreeMap::new(),
            faults: DiskFaults::default(),
            lying_sync: false,
            notes: Vec::new(),
            rng,
            epoch: 0,
            failed_closed: false,
            crash_in: None,
            dead: false,
        }))
    }

    /// A handle for a new process (earlier handles stop working).
    pub fn handle(disk: &Rc<RefCell<Disk>>) -> SimStorage {
        let mut d = disk.borrow_mut();
        d.epoch += 1;
        d.failed_closed = false;
        d.dead = false;
        d.crash_in = None;
        SimStorage {
            disk: Rc::clone(disk),
            epoch: d.epoch,
        }
    }

    /// Arms a crash before the `n`-th mutating call from now (0: the next).
    pub fn arm_crash(&mut self, n: u64) {
        self.crash_in = Some(n);
    }

    /// Disarms a pending crash point.
    pub fn disarm(&mut self) {
        self.crash_in = None;
    }

    /// True once an armed crash point struck: the process is dead.
    pub fn dead(&self) -> bool {
        self.dead
    }

    /// The process dies: handles stop working, the page cache stays.
    pub fn process_crash(&mut self) {
        self.epoch += 1;
        self.dead = false;
        self.crash_in = None;
        self.failed_closed = false;
    }

    /// Power is lost: unsynced files vanish, unsynced tails are torn at a
    /// block boundary. Returns the bytes each torn segment lost.
    pub fn power_loss(&mut self, rng: &mut Rng) -> Vec<(SegmentId, usize)> {
        self.process_crash();
        let mut torn = Vec::new();
        let ids: Vec<SegmentId> = self.files.keys().copied().collect();
        for id in ids {
            let Some(f) = self.files.get_mut(&id) else {
                continue;
            };
            if !f.durable {
                torn.push((id, f.data.len()));
                self.files.remove(&id);
                continue;
            }
            let len = f.data.len();
            if len <= f.synced {
                continue;
            }
            let mut cuts = vec![f.synced];
            let first = f.synced / BLOCK + 1;
            cuts.extend((first..).map(|b| b * BLOCK).take_while(|c| *c < len));
            cuts.push(len);
            let keep = cuts[rng.below(cuts.len() as u64) as usize];
            if keep < len {
                torn.push((id, len - keep));
            }
            f.data.truncate(keep);
            f.synced = keep;
        }
        torn
    }

    /// Flips 1 to 4 bytes inside one block of the synced part of segment
    /// `id`; returns the offset and length flipped.
    pub fn corrupt(&mut self, id: SegmentId, rng: &mut Rng) -> Option<(usize, usize)> {
        let f = self.files.get_mut(&id)?;
        if f.synced == 0 {
            return None;
        }
        let at = rng.below(f.synced as u64) as usize;
        let block_end = (at / BLOCK + 1) * BLOCK;
        let len = (rng.between(1, 4) as usize)
            .min(block_end - at)
            .min(f.synced - at);
        for b in &mut f.data[at..at + len] {
            *b ^= rng.between(1, 255) as u8;
        }
        Some((at, len))
    }

    /// Cuts a segment to `len` bytes behind the journal's back.
    pub fn cut(&mut self, id: SegmentId, len: usize) {
        if let Some(f) = self.files.get_mut(&id) {
            f.data.truncate(len);
            f.synced = f.synced.min(len);
        }
    }

    /// Bytes in live segments.
    pub fn live_bytes(&self) -> usize {
        self.files.values().map(|f| f.data.len()).sum()
    }

    fn check(&mut self, epoch: u64, mutating: bool) -> Result<(), SimError> {
        if self.dead || epoch != self.epoch {
            return Err(SimError(StorageErrorKind::Other));
        }
        if mutating {
            match self.crash_in {
                Some(0) => {
                    self.dead = true;
                    self.crash_in = None;
                    return Err(SimError(StorageErrorKind::Other));
                }
                Some(n) => self.crash_in = Some(n - 1),
                None => {}
            }
        }
        if self.failed_closed {
            return Err(SimError(StorageErrorKind::FailedClosed));
        }
        Ok(())
    }

    fn no_space(&mut self) -> bool {
        let hit = self.faults.full || self.rng.chance(self.faults.enospc);
        if hit {
            self.notes.push(DiskNote::NoSpace);
        }
        hit
    }

    fn file(&mut self, id: SegmentId) -> Result<&mut SimFile, SimError> {
        self.files
            .get_mut(&id)
            .ok_or(SimError(StorageErrorKind::NotFound))
    }
}

/// A process's handle on the [`Disk`]: what the producer owns.
#[derive(Debug)]
pub struct SimStorage {
    disk: Rc<RefCell<Disk>>,
    epoch: u64,
}

impl ErrorType for SimStorage {
    type Error = SimError;
}

impl Storage for SimStorage {
    fn list(&mut self, visit: &mut dyn FnMut(SegmentId)) -> Result<(), SimError> {
        let mut d = self.disk.borrow_mut();
        d.check(self.epoch, false)?;
        d.files.keys().for_each(|id| visit(*id));
        Ok(())
    }

    fn create(&mut self, id: SegmentId) -> Result<(), SimError> {
        let mut d = self.disk.borrow_mut();
        d.check(self.epoch, true)?;
        if d.no_space() {
            return Err(SimError(StorageErrorKind::NoSpace));
        }
        d.files.insert(id, SimFile::default());
        Ok(())
    }

    fn len(&mut self, id: SegmentId) -> Result<u64, SimError> {
        let mut d = self.disk.borrow_mut();
        d.check(self.epoch, false)?;
        Ok(d.file(id)?.data.len() as u64)
    }

    fn read(&mut self, id: SegmentId, offset: u64, buf: &mut [u8]) -> Result<usize, SimError> {
        let mut d = self.disk.borrow_mut();
        d.check(self.epoch, false)?;
        let p = d.faults.read_error;
        if d.rng.chance(p) {
            d.notes.push(DiskNote::ReadError);
            return Err(SimError(StorageErrorKind::Io));
        }
        let data = &d.file(id)?.data;
        let start = (offset as usize).min(data.len());
        let n = buf.len().min(data.len() - start);
        buf[..n].copy_from_slice(&data[start..start + n]);
        Ok(n)
    }

    fn append(&mut self, id: SegmentId, data: &[u8]) -> Result<(), SimError> {
        let mut d = self.disk.borrow_mut();
        d.check(self.epoch, true)?;
        d.file(id)?;
        if d.no_space() {
            return Err(SimError(StorageErrorKind::NoSpace));
        }
        d.file(id)?.data.extend_from_slice(data);
        Ok(())
    }

    fn sync(&mut self, id: SegmentId) -> Result<(), SimError> {
        let mut d = self.disk.borrow_mut();
        d.check(self.epoch, true)?;
        d.file(id)?;
        let p = d.faults.fsync_fail;
        if d.rng.chance(p) {
            // Linux drops the dirty pages of a failed fsync: some blocks may
            // have reached the medium, the rest is gone for good.
            d.failed_closed = true;
            let mut rng = d.rng.clone();
            let _ = d.rng.next_u64();
            let f = d.file(id)?;
            let len = f.data.len();
            let synced = f.synced;
            let blocks = (len.saturating_sub(f.synced)).div_ceil(BLOCK) as u64;
            let keep = (f.synced + rng.below(blocks + 1) as usize * BLOCK).min(len);
            f.data.truncate(keep);
            f.synced = keep;
            d.notes.push(DiskNote::FsyncFailed {
                segment: id,
                synced,
                kept: keep,
                dropped: len - keep,
            });
            return Err(SimError(StorageErrorKind::Io));
        }
        if d.lying_sync {
            return Ok(());
        }
        let f = d.file(id)?;
        f.synced = f.data.len();
        f.durable = true;
        Ok(())
    }

    fn truncate(&mut self, id: SegmentId, len: u64) -> Result<(), SimError> {
        let mut d = self.disk.borrow_mut();
        d.check(self.epoch, true)?;
        let f = d.file(id)?;
        f.data.truncate(len as usize);
        f.synced = f.synced.min(len as usize);
        Ok(())
    }

    fn remove(&mut self, id: SegmentId) -> Result<(), SimError> {
        let mut d = self.disk.borrow_mut();
        d.check(self.epoch, true)?;
        d.file(id)?;
        d.files.remove(&id);
        Ok(())
    }

    fn quarantine(&mut self, id: SegmentId) -> Result<(), SimError> {
        let mut d = self.disk.borrow_mut();
        d.check(self.epoch, true)?;
        let data = std::mem::take(&mut d.file(id)?.data);
        d.files.remove(&id);
        d.quarantined.insert(id, data);
        Ok(())
    }

    fn read_meta(&mut self, slot: usize, buf: &mut [u8; META_SLOT_LEN]) -> Result<bool, SimError> {
        let mut d = self.disk.borrow_mut();
        d.check(self.epoch, false)?;
        match d.meta.get(slot).copied().flatten() {
            Some(m) => {
                *buf = m;
                Ok(true)
            }
            None => Ok(false),
        }
    }

    fn write_meta(&mut self, slot: usize, data: &[u8; META_SLOT_LEN]) -> Result<(), SimError> {
        let mut d = self.disk.borrow_mut();
        d.check(self.epoch, true)?;
        let s = d.meta.get_mut(slot).ok_or(SimError(StorageErrorKind::NotFound))?;
        *s = Some(*data);
        Ok(())
    }
}
