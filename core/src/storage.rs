//! The storage capability the journal is written to.
//!
//! Small and positional on purpose (after redb's `StorageBackend`): a
//! fault-injecting wrapper, an in-memory disk for tests or a flash driver on
//! a microcontroller is a few dozen lines. Errors follow embedded-io: one
//! [`ErrorType`] shared by the trait family, and every error exposes a
//! [`StorageErrorKind`] so the core can act on it without knowing the type.
//!
//! # The contract
//!
//! A journal is a set of *segments*, each an append-only byte sequence named
//! by a [`SegmentId`], plus two fixed-size *meta slots*.
//!
//! - `append` adds bytes at the end of a segment. After it returns, `read`
//!   sees them; a crash may lose them, or keep any prefix of them.
//! - `sync(id)` makes everything appended to `id` so far, and the segment's
//!   existence (its directory entry), survive a crash or power loss. The
//!   core decides when: it asks for each sync as a [`SyncRequest`]
//!   (`Producer::poll_sync`) and learns the result (`Producer::handle_synced`),
//!   so a driver may run the sync itself, outside a lock, by any means that
//!   gives the same guarantee for the request's segment. The journal's own
//!   count of what is synced is the only record of durability: a storage
//!   need not remember what it synced (a `sync` with nothing new to write
//!   is cheap, not wrong).
//! - `remove`, `quarantine` and `write_meta` are durable when they return.
//! - After any call fails with [`StorageErrorKind::Io`] during `sync`, the
//!   implementation must *fail closed*: the data of that segment may already
//!   be gone from the page cache (Linux drops dirty pages on a failed fsync),
//!   so every later call on it returns an error. The core then stops
//!   reporting anything durable and hands the problem to the user.
//! - `read` fills `buf` completely unless the segment ends first; it returns
//!   the number of bytes read. Reading past the end returns 0.
//! - A segment the core never created may appear in `list` (a stray file, a
//!   segment from another journal); the core checks every header it reads.

use core::fmt;

use crate::message::Seq;

/// Names a segment. The journal creates them in increasing order.
pub type SegmentId = u64;

/// A sync the journal needs: make segment [`segment`](Self::segment)
/// durable up to at least byte [`end`](Self::end), which covers every
/// entry up to [`seq`](Self::seq).
///
/// Handed out by `Producer::poll_sync` and handed back, with the result of
/// the sync, to `Producer::handle_synced`. Only the producer makes them,
/// so a driver cannot claim durability the storage never gave.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct SyncRequest {
    segment: SegmentId,
    end: u64,
    seq: Seq,
}

impl SyncRequest {
    pub(crate) fn new(segment: SegmentId, end: u64, seq: Seq) -> Self {
        SyncRequest { segment, end, seq }
    }

    /// The segment to sync ([`Storage::sync`] of it does what is asked).
    pub fn segment(&self) -> SegmentId {
        self.segment
    }

    /// The segment's length when the request was made: its bytes up to
    /// here must be durable (a sync of more is fine).
    pub fn end(&self) -> u64 {
        self.end
    }

    /// Every journal entry up to this seq is durable once the sync succeeded.
    pub fn seq(&self) -> Seq {
        self.seq
    }
}

/// Size of one meta slot in bytes (see `docs/journal-format.md`).
pub const META_SLOT_LEN: usize = 64;

/// What kind of failure a storage call had.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
#[non_exhaustive]
pub enum StorageErrorKind {
    /// The medium is full: nothing was written by the failed call.
    NoSpace,
    /// The segment or slot does not exist.
    NotFound,
    /// A read or write failed at the device; for `sync`, the storage is
    /// now failed closed.
    Io,
    /// The storage refused the call because an earlier I/O error left it
    /// in an unknown state.
    FailedClosed,
    /// The operation is not supported here (for example a directory sync
    /// under WASI preview 1); treated as a durability note, not a failure.
    Unsupported,
    /// Anything else.
    Other,
}

impl fmt::Display for StorageErrorKind {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(match self {
            StorageErrorKind::NoSpace => "no space left on the journal's storage",
            StorageErrorKind::NotFound => "segment not found",
            StorageErrorKind::Io => "I/O error",
            StorageErrorKind::FailedClosed => "storage failed closed after an earlier I/O error",
            StorageErrorKind::Unsupported => "operation not supported by this storage",
            StorageErrorKind::Other => "storage error",
        })
    }
}

/// An error from a [`Storage`] implementation.
pub trait StorageError: fmt::Debug + fmt::Display {
    /// The kind of failure.
    fn kind(&self) -> StorageErrorKind;
}

impl StorageError for StorageErrorKind {
    fn kind(&self) -> StorageErrorKind {
        *self
    }
}

/// The error type shared by a storage implementation's calls.
pub trait ErrorType {
    /// The error every call returns.
    type Error: StorageError;
}

impl<T: ErrorType + ?Sized> ErrorType for &mut T {
    type Error = T::Error;
}

/// Where the journal lives. See the module documentation for the contract.
pub trait Storage: ErrorType {
    /// Calls `visit` once for every segment present, in any order.
    fn list(&mut self, visit: &mut dyn FnMut(SegmentId)) -> Result<(), Self::Error>;
    /// Creates an empty segment. It survives a crash only after `sync(id)`.
    fn create(&mut self, id: SegmentId) -> Result<(), Self::Error>;
    /// Current length of a segment in bytes (including unsynced appends).
    fn len(&mut self, id: SegmentId) -> Result<u64, Self::Error>;
    /// Reads from `offset`, filling `buf` unless the segment ends first.
    fn read(&mut self, id: SegmentId, offset: u64, buf: &mut [u8]) -> Result<usize, Self::Error>;
    /// Appends bytes at the end of a segment.
    fn append(&mut self, id: SegmentId, data: &[u8]) -> Result<(), Self::Error>;
    /// Makes the segment's appends and its existence durable.
    fn sync(&mut self, id: SegmentId) -> Result<(), Self::Error>;
    /// Cuts a segment to `len` bytes (recovery cutting a torn tail); durable on return.
    fn truncate(&mut self, id: SegmentId, len: u64) -> Result<(), Self::Error>;
    /// Deletes a segment; durable on return.
    fn remove(&mut self, id: SegmentId) -> Result<(), Self::Error>;
    /// Moves a damaged segment out of the journal, keeping its bytes for
    /// inspection; it no longer appears in `list`. Durable on return.
    fn quarantine(&mut self, id: SegmentId) -> Result<(), Self::Error>;
    /// Reads meta slot 0 or 1; `Ok(false)` if it was never written.
    fn read_meta(&mut self, slot: usize, buf: &mut [u8; META_SLOT_LEN]) -> Result<bool, Self::Error>;
    /// Overwrites meta slot 0 or 1; durable on return.
    fn write_meta(&mut self, slot: usize, data: &[u8; META_SLOT_LEN]) -> Result<(), Self::Error>;
}

impl<T: Storage + ?Sized> Storage for &mut T {
    fn list(&mut self, visit: &mut dyn FnMut(SegmentId)) -> Result<(), Self::Error> {
        T::list(self, visit)
    }
    fn create(&mut self, id: SegmentId) -> Result<(), Self::Error> {
        T::create(self, id)
    }
    fn len(&mut self, id: SegmentId) -> Result<u64, Self::Error> {
        T::len(self, id)
    }
    fn read(&mut self, id: SegmentId, offset: u64, buf: &mut [u8]) -> Result<usize, Self::Error> {
        T::read(self, id, offset, buf)
    }
    fn append(&mut self, id: SegmentId, data: &[u8]) -> Result<(), Self::Error> {
        T::append(self, id, data)
    }
    fn sync(&mut self, id: SegmentId) -> Result<(), Self::Error> {
        T::sync(self, id)
    }
    fn truncate(&mut self, id: SegmentId, len: u64) -> Result<(), Self::Error> {
        T::truncate(self, id, len)
    }
    fn remove(&mut self, id: SegmentId) -> Result<(), Self::Error> {
        T::remove(self, id)
    }
    fn quarantine(&mut self, id: SegmentId) -> Result<(), Self::Error> {
        T::quarantine(self, id)
    }
    fn read_meta(&mut self, slot: usize, buf: &mut [u8; META_SLOT_LEN]) -> Result<bool, Self::Error> {
        T::read_meta(self, slot, buf)
    }
    fn write_meta(&mut self, slot: usize, data: &[u8; META_SLOT_LEN]) -> Result<(), Self::Error> {
        T::write_meta(self, slot, data)
    }
}
