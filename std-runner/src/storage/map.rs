//! [`SegmentMap`]: a segment file mapped shared and writable (Linux), the
//! only `unsafe` of the file storage. The mapping is written, never read:
//! the storage reads segments with `pread` (see `Storage::read` in
//! `storage/imp.rs`), so a disk that fails to read a page back is an I/O
//! error, not a SIGBUS.
//!
//! Bytes copied into a `MAP_SHARED` file mapping are in the page cache
//! as soon as the copy ends: they survive the process being killed without
//! a system call, and `fdatasync` on the file writes them back like a `pwrite`
//! (the kernel write-protects the mapped pages and marks a page dirty on
//! the first store to it). See the module documentation of `storage` for
//! when a segment is mapped and why that is safe.
//!
//! Touching a mapped page that lies wholly past the file's end raises
//! SIGBUS, so a `SegmentMap` keeps the file's length ahead of every byte it
//! writes: it grows the file with `set_len` in steps of
//! [`GROW_STEP`], never past the mapping (the segment's reservation). A
//! write that crosses the file's end is made with `pwrite` before the file
//! is grown, so the zeros the file may end with always follow what was
//! written: a process killed between the two calls never leaves a new
//! segment that is all zeros. Large writes use `pwrite` too (see
//! `MAP_COPY_MAX` in `storage/mod.rs`).

use std::io;

/// Bytes the file is grown by when an append would cross its end.
#[cfg_attr(not(target_os = "linux"), allow(dead_code))]
pub(super) const GROW_STEP: u64 = 1 << 20;

#[cfg(target_os = "linux")]
pub(super) use linux::{SegmentMap, can_map};

#[cfg(not(target_os = "linux"))]
pub(super) use other::{SegmentMap, can_map};

#[cfg(target_os = "linux")]
mod linux {
    use std::fs::File;
    use std::io;
    use std::ptr::NonNull;
    use std::sync::Arc;

    use rustix::mm::{MapFlags, ProtFlags, mmap, munmap};

    use super::GROW_STEP;
    use crate::storage::fs::FsFile;

    /// `f_type` of the file systems on which a store into a mapped,
    /// preallocated page cannot fail for lack of space (which would be a
    /// SIGBUS, not an error): ext2/3/4, XFS and tmpfs. Copy-on-write file
    /// systems (btrfs, ZFS, bcachefs) may need new blocks for it, and
    /// network file systems may fail it: those keep `pwrite`.
    const MAPPABLE: [u64; 3] = [0xEF53, 0x5846_5342, 0x0102_1994];

    /// True if `file` is on a file system where its preallocated range
    /// may be written through a mapping (see [`MAPPABLE`]).
    pub(in crate::storage) fn can_map(file: &File) -> bool {
        rustix::fs::fstatfs(file).is_ok_and(|s| {
            // `f_type` is signed on some targets; the magics are 32-bit.
            let magic = s.f_type as u64 & 0xffff_ffff;
            MAPPABLE.contains(&magic)
        })
    }

    /// The first `len` bytes of a segment file, mapped shared and writable
    /// (and readable, which writable implies on most CPUs; nothing reads
    /// it). Unmapped when dropped.
    #[derive(Debug)]
    pub(in crate::storage) struct SegmentMap {
        ptr: NonNull<u8>,
        /// Bytes mapped: the segment's reservation.
        len: usize,
        file: Arc<FsFile>,
        /// The file's length as this map last set or found it. Nothing at
        /// or past it is touched (SIGBUS); only this process changes it
        /// while the map exists (the journal directory's lock).
        file_len: u64,
        /// Bytes below this were handed to the disk early
        /// (`start_writeback`).
        written_back: u64,
    }

    // SAFETY: a `SegmentMap` owns its mapping the way a `Vec` owns its
    // buffer: the pointer is never shared or handed out, and every store
    // through it needs `&mut self`, so moving it to another thread is as
    // sound as moving a `Vec<u8>`.
    unsafe impl Send for SegmentMap {}
    // SAFETY: no `&self` method touches the mapping (they read the plain
    // fields `len` and `file_len`), so sharing `&SegmentMap` between
    // threads cannot race with a store.
    unsafe impl Sync for SegmentMap {}

    impl SegmentMap {
        /// Maps the first `len` bytes of `file`, whose length is now
        /// `file_len`.
        pub(in crate::storage) fn new(file: &Arc<FsFile>, len: u64, file_len: u64) -> io::Result<SegmentMap> {
            let len = usize::try_from(len)
                .ok()
                .filter(|l| *l > 0)
                .ok_or_else(|| io::Error::new(io::ErrorKind::InvalidInput, "mapping length out of range"))?;
            // SAFETY: a null hint lets the kernel choose where the mapping
            // goes, so it cannot overlap memory anything else uses. No Rust
            // reference into the new region is ever made: it is only the
            // target of `copy_nonoverlapping` through the raw pointer, and
            // only this process writes the file (the journal directory's
            // lock).
            let ptr = unsafe {
                mmap(
                    std::ptr::null_mut(),
                    len,
                    ProtFlags::READ | ProtFlags::WRITE,
                    MapFlags::SHARED,
                    file.file(),
                    0,
                )?
            };
            let ptr = NonNull::new(ptr.cast::<u8>())
                .ok_or_else(|| io::Error::other("mmap returned a null mapping"))?;
            Ok(SegmentMap {
                ptr,
                len,
                file: Arc::clone(file),
                file_len,
                written_back: 0,
            })
        }

        /// The file's length (at least every byte written through the map).
        pub(in crate::storage) fn file_len(&self) -> u64 {
            self.file_len
        }

        /// Copies `data` to `offset`. If the file would end before the
        /// data does, writes it with `pwrite` instead and grows the file
        /// ahead (see [`pwrite_at`](Self::pwrite_at)).
        pub(in crate::storage) fn copy_at(&mut self, offset: u64, data: &[u8]) -> io::Result<()> {
            let end = self.check(offset, data)?;
            if end > self.file_len {
                return self.pwrite_at(offset, data);
            }
            // SAFETY: `offset + data.len() <= file_len <= len` (checked
            // above; `end` fits in usize since `len` does), so the range is
            // inside the mapping and inside the file (no SIGBUS). `&mut self`
            // means no other copy from or to the mapping runs meanwhile, and
            // `data` cannot overlap the mapping: it is a Rust slice, and no
            // reference into the mapping is ever created.
            unsafe {
                std::ptr::copy_nonoverlapping(
                    data.as_ptr(),
                    self.ptr.as_ptr().add(offset as usize),
                    data.len(),
                );
            }
            self.file.stored(offset, data);
            Ok(())
        }

        /// Writes `data` at `offset` with `pwrite` (the page cache is shared
        /// with the mapping). If that made the file longer, grows it ahead
        /// to the next multiple of [`GROW_STEP`] (never past the mapping),
        /// so that later copies find it long enough: the zeros it may end
        /// with always follow written bytes.
        pub(in crate::storage) fn pwrite_at(&mut self, offset: u64, data: &[u8]) -> io::Result<()> {
            let end = self.check(offset, data)?;
            self.file.write_all_at(offset, data)?;
            if end > self.file_len {
                self.file_len = end;
                let grown = end
                    .div_ceil(GROW_STEP)
                    .saturating_mul(GROW_STEP)
                    .min(self.len as u64);
                // The data is written: if growing fails, the next write
                // past the end tries again.
                if self.file.set_len(grown).is_ok() {
                    self.file_len = grown;
                }
                self.start_writeback(offset);
            }
            Ok(())
        }

        /// Starts (does not wait for) the disk write of every whole step
        /// below `written_to` not started yet. The writer appends in order
        /// and never touches those bytes again, so the pages can go to the
        /// disk now rather than all at the next fsync: a segment's sealing
        /// fsync and an interval's fsync then find little left to write,
        /// and they are what senders may wait for.
        fn start_writeback(&mut self, written_to: u64) {
            let upto = written_to / GROW_STEP * GROW_STEP;
            if upto <= self.written_back {
                return;
            }
            use std::os::fd::AsRawFd;
            let (from, len) = (self.written_back, upto - self.written_back);
            // SAFETY: `sync_file_range` reads nothing from this process's
            // memory; the descriptor is open (we hold the `File`). A failure
            // only means the pages are written at the next fsync, as before.
            let _ = unsafe {
                libc::sync_file_range(
                    self.file.file().as_raw_fd(),
                    from as libc::off64_t,
                    len as libc::off64_t,
                    libc::SYNC_FILE_RANGE_WRITE,
                )
            };
            self.written_back = upto;
        }

        /// The end of a write of `data` at `offset`, if it fits the mapping.
        fn check(&self, offset: u64, data: &[u8]) -> io::Result<u64> {
            offset
                .checked_add(data.len() as u64)
                .filter(|end| *end <= self.len as u64)
                .ok_or_else(|| io::Error::new(io::ErrorKind::InvalidInput, "write past the mapping"))
        }
    }

    impl Drop for SegmentMap {
        fn drop(&mut self) {
            // SAFETY: `ptr` and `len` are exactly what `mmap` returned and
            // was given; no copy of the pointer outlives `self`, and no
            // reference into the mapping exists.
            let _ = unsafe { munmap(self.ptr.as_ptr().cast(), self.len) };
        }
    }
}

/// Where mappings are not used: the type has no values.
#[cfg(not(target_os = "linux"))]
mod other {
    use std::fs::File;
    use std::io;
    use std::sync::Arc;

    use crate::storage::fs::FsFile;

    /// Never constructed off Linux.
    #[derive(Debug)]
    pub(in crate::storage) enum SegmentMap {}

    /// Never: appends use `pwrite` here.
    pub(in crate::storage) fn can_map(_file: &File) -> bool {
        false
    }

    impl SegmentMap {
        pub(in crate::storage) fn new(
            _file: &Arc<FsFile>,
            _len: u64,
            _file_len: u64,
        ) -> io::Result<SegmentMap> {
            Err(io::ErrorKind::Unsupported.into())
        }
        pub(in crate::storage) fn file_len(&self) -> u64 {
            match *self {}
        }
        pub(in crate::storage) fn copy_at(&mut self, _offset: u64, _data: &[u8]) -> io::Result<()> {
            match *self {}
        }
        pub(in crate::storage) fn pwrite_at(&mut self, _offset: u64, _data: &[u8]) -> io::Result<()> {
            match *self {}
        }
    }
}

/// Maps the `reserved` bytes preallocated for a newly created (empty)
/// segment file, if this platform and file system allow it.
pub(super) fn map_new_segment(
    file: &std::sync::Arc<super::fs::FsFile>,
    reserved: u64,
) -> io::Result<SegmentMap> {
    if reserved == 0 || !can_map(file.file()) {
        return Err(io::ErrorKind::Unsupported.into());
    }
    SegmentMap::new(file, reserved, 0)
}
