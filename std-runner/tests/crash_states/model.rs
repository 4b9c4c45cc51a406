//! The file-system model: replays the recorded calls, tracks what is
//! durable (a file's data and length after its `fdatasync`; a directory's
//! entries after its `fsync`) and what is still pending, and builds the
//! states a power cut at a given moment may leave.
//!
//! What may happen to pending changes at a power cut (the persistence model;
//! see docs/crash-states.md):
//!
//! - A pending write survives whole, not at all, or torn: each unit of it
//!   (512-byte sector for a `pwrite`, 4 KiB page for a store into the
//!   mapping) independently, and a later write to a unit may survive while
//!   an earlier one to another unit does not (reordering). A unit written
//!   twice holds one of its versions in order (never a later one's bytes
//!   with an earlier one's missing inside the same unit).
//! - A pending length change (`ftruncate`, a write past the end) may be
//!   lost: the length is any of the lengths the file had since its last
//!   sync; bytes past it are gone, bytes added by growth read as zeros.
//! - A pending directory entry (create, rename, unlink, mkdir) may be lost,
//!   each independently. A `rename` is atomic.

use std::collections::{BTreeMap, BTreeSet, HashMap};
use std::hash::{Hash, Hasher};
use std::path::Path;
use std::sync::Arc;

use super::recorder::Ev;
use super::rng::Rng;

/// Files and directories a power cut left, relative to the journal
/// directory ("" is the directory itself).
#[derive(Debug, Default)]
pub struct Image {
    pub dirs: BTreeSet<String>,
    pub files: BTreeMap<String, Arc<Vec<u8>>>,
}

impl Image {
    /// Identifies the image among the states of one crash point: its
    /// directories, names, lengths and the CRC-32C of each file (the
    /// core's, built optimised: hashing whole segments with a debug build's
    /// SipHash would cost more than recovering them).
    pub fn fingerprint(&self) -> u64 {
        let mut h = std::collections::hash_map::DefaultHasher::new();
        self.dirs.hash(&mut h);
        for (name, bytes) in &self.files {
            name.hash(&mut h);
            bytes.len().hash(&mut h);
            steadfast::core::journal::checksum::crc32c(bytes).hash(&mut h);
        }
        h.finish()
    }

    /// Writes the image as real files under `dir` (which must not exist).
    pub fn materialise(&self, dir: &Path) -> std::io::Result<()> {
        std::fs::create_dir_all(dir)?;
        for d in &self.dirs {
            std::fs::create_dir_all(dir.join(d))?;
        }
        for (name, bytes) in &self.files {
            std::fs::write(dir.join(name), &bytes[..])?;
        }
        Ok(())
    }
}

#[derive(Clone, Debug)]
enum DataOp {
    Write {
        at: usize,
        offset: u64,
        data: Arc<[u8]>,
        gran: u64,
    },
    SetLen {
        at: usize,
        len: u64,
    },
}

impl DataOp {
    fn at(&self) -> usize {
        match self {
            DataOp::Write { at, .. } | DataOp::SetLen { at, .. } => *at,
        }
    }

    /// The units power loss may keep or lose independently: byte ranges of
    /// a write split at its granularity, each with its block key; one unit
    /// for a length change.
    fn units(&self) -> Vec<(u64, u64, (u64, u64))> {
        match self {
            DataOp::Write {
                offset, data, gran, ..
            } => {
                let end = offset + data.len() as u64;
                let mut units = Vec::new();
                let mut at = *offset;
                while at < end {
                    let next = ((at / gran) + 1) * gran;
                    units.push((at, next.min(end), (*gran, at / gran)));
                    at = next;
                }
                units
            }
            DataOp::SetLen { .. } => vec![(0, 0, (0, 0))],
        }
    }
}

#[derive(Debug, Default)]
struct Inode {
    /// Shared with every image that keeps it unchanged.
    durable: Arc<Vec<u8>>,
    pending: Vec<DataOp>,
}

#[derive(Clone, Debug)]
enum EntryOp {
    Link { path: String, ino: usize },
    Unlink { path: String },
    Rename { from: String, to: String },
    MkDir { path: String },
}

fn parent(path: &str) -> &str {
    path.rsplit_once('/').map_or("", |(d, _)| d)
}

impl EntryOp {
    fn touches(&self, dir: &str) -> bool {
        match self {
            EntryOp::Link { path, .. } | EntryOp::Unlink { path } | EntryOp::MkDir { path } => {
                parent(path) == dir
            }
            EntryOp::Rename { from, to } => parent(from) == dir || parent(to) == dir,
        }
    }

    fn apply(&self, names: &mut BTreeMap<String, usize>, dirs: &mut BTreeSet<String>) {
        match self {
            EntryOp::Link { path, ino } => {
                names.insert(path.clone(), *ino);
            }
            EntryOp::Unlink { path } => {
                names.remove(path);
            }
            EntryOp::Rename { from, to } => {
                if let Some(ino) = names.remove(from) {
                    names.insert(to.clone(), ino);
                }
            }
            EntryOp::MkDir { path } => {
                dirs.insert(path.clone());
            }
        }
    }
}

/// The model of the journal directory during a recorded workload.
#[derive(Debug)]
pub struct Model {
    inodes: Vec<Inode>,
    /// Names as the running process sees them.
    names: BTreeMap<String, usize>,
    /// Names and directories a power cut now keeps for sure.
    durable_names: BTreeMap<String, usize>,
    durable_dirs: BTreeSet<String>,
    /// Entry changes not yet made durable by a directory sync.
    entries: Vec<(usize, EntryOp)>,
}

/// Which pending changes one crash state keeps.
struct Selection {
    entries: Vec<bool>,
    /// Per inode with pending data: per op, per unit, kept; and the length.
    data: HashMap<usize, (Vec<Vec<bool>>, u64)>,
}

/// How crash states are drawn at one crash point.
#[derive(Clone, Copy, Debug)]
pub struct Sampling {
    /// In-order prefixes (the change at the cut torn) explored, at most.
    pub prefixes: usize,
    /// States with every unit, length and entry drawn at random.
    pub random: usize,
}

impl Model {
    pub fn new() -> Model {
        Model {
            inodes: Vec::new(),
            names: BTreeMap::new(),
            durable_names: BTreeMap::new(),
            durable_dirs: BTreeSet::from([String::new()]),
            entries: Vec::new(),
        }
    }

    /// True for the events a crash point is placed before: the syncs.
    pub fn is_sync(ev: &Ev) -> bool {
        matches!(ev, Ev::SyncData { .. } | Ev::SyncDir { .. })
    }

    fn ino(&self, path: &str) -> usize {
        *self
            .names
            .get(path)
            .unwrap_or_else(|| panic!("trace names {path}, which the model does not have"))
    }

    /// Replays event number `at` of the trace.
    pub fn apply(&mut self, at: usize, ev: &Ev) {
        match ev {
            Ev::Open {
                path,
                existed,
                truncated,
            } => match self.names.get(path) {
                Some(_) | None if self.names.contains_key(path) != *existed => {
                    panic!("the model and the file system disagree on whether {path} exists")
                }
                Some(&ino) => {
                    if *truncated {
                        self.inodes[ino].pending.push(DataOp::SetLen { at, len: 0 });
                    }
                }
                None => {
                    let ino = self.inodes.len();
                    self.inodes.push(Inode::default());
                    self.names.insert(path.clone(), ino);
                    self.entries.push((
                        at,
                        EntryOp::Link {
                            path: path.clone(),
                            ino,
                        },
                    ));
                }
            },
            Ev::Write {
                path,
                offset,
                data,
                gran,
            } => {
                let ino = self.ino(path);
                self.inodes[ino].pending.push(DataOp::Write {
                    at,
                    offset: *offset,
                    data: Arc::clone(data),
                    gran: *gran,
                });
            }
            Ev::SetLen { path, len } => {
                let ino = self.ino(path);
                self.inodes[ino].pending.push(DataOp::SetLen { at, len: *len });
            }
            Ev::SyncData { path } => {
                let ino = self.ino(path);
                let inode = &mut self.inodes[ino];
                let ops = std::mem::take(&mut inode.pending);
                let all: Vec<Vec<bool>> = ops.iter().map(|op| vec![true; op.units().len()]).collect();
                let len = size_after(inode.durable.len() as u64, &ops);
                inode.durable = Arc::new(content(&inode.durable, &ops, &all, len));
            }
            Ev::SyncDir { path } => {
                // Like a journaling file system: the sync commits every
                // entry change up to the last one in this directory.
                if let Some(last) = self.entries.iter().rposition(|(_, e)| e.touches(path)) {
                    for (_, e) in self.entries.drain(..=last) {
                        e.apply(&mut self.durable_names, &mut self.durable_dirs);
                    }
                }
            }
            Ev::CreateDir { path } => self.entries.push((at, EntryOp::MkDir { path: path.clone() })),
            Ev::Rename { from, to } => {
                let ino = self.ino(from);
                self.names.remove(from);
                self.names.insert(to.clone(), ino);
                self.entries.push((
                    at,
                    EntryOp::Rename {
                        from: from.clone(),
                        to: to.clone(),
                    },
                ));
            }
            Ev::Remove { path } => {
                self.names.remove(path);
                self.entries.push((at, EntryOp::Unlink { path: path.clone() }));
            }
            Ev::Sent { .. } | Ev::SyncDone | Ev::Confirmed { .. } | Ev::DeadLettered { .. } => {}
        }
    }

    /// Pending changes, by trace position (the order they were made in).
    fn pending_positions(&self) -> Vec<usize> {
        let mut at: Vec<usize> = self.entries.iter().map(|(at, _)| *at).collect();
        for inode in &self.inodes {
            at.extend(inode.pending.iter().map(DataOp::at));
        }
        at.sort_unstable();
        at.dedup();
        at
    }

    /// Every pending unit as (trace position, unit index), in order.
    fn pending_units(&self) -> Vec<(usize, usize)> {
        let mut units: Vec<(usize, usize)> = self.entries.iter().map(|(at, _)| (*at, 0)).collect();
        for inode in &self.inodes {
            for op in &inode.pending {
                units.extend((0..op.units().len()).map(|u| (op.at(), u)));
            }
        }
        units.sort_unstable();
        units
    }

    /// Calls `each` with the states a power cut now may leave: nothing
    /// pending kept, everything kept, in-order prefixes of the changes with
    /// the one at the cut torn, in-order prefixes of their units, and
    /// states drawn at random.
    pub fn crash_states(&self, rng: &mut Rng, sampling: Sampling, each: &mut dyn FnMut(Image)) {
        let positions = self.pending_positions();
        each(self.image(&self.select(|_, _| false, |_| false, |_| true)));
        if positions.is_empty() {
            return;
        }
        each(self.image(&self.select(|_, _| true, |_| true, |_| false)));
        // In-order prefixes: everything before position `cut` kept, the
        // change at `cut` torn, nothing after it.
        let step = positions.len().div_ceil(sampling.prefixes.max(1)).max(1);
        for &cut in positions.iter().step_by(step) {
            let mut coin = rng.fork();
            let mut coin2 = rng.fork();
            let selection = self.select(
                |at, _| at < cut || (at == cut && coin.chance(1, 2)),
                |at| at < cut || (at == cut && coin2.chance(1, 2)),
                |at| at > cut,
            );
            each(self.image(&selection));
        }
        // In-order prefixes at the granularity of the write path: the
        // first `k` units (sectors of a `pwrite`, pages of the mapping) of
        // the pending changes, in the order they were made.
        let units = self.pending_units();
        let step = units.len().div_ceil(sampling.prefixes.max(1)).max(1);
        for &(cut_at, cut_unit) in units.iter().step_by(step) {
            let with_len = rng.chance(1, 2);
            let selection = self.select(
                |at, u| (at, u) < (cut_at, cut_unit),
                |at| at < cut_at,
                |at| at > cut_at || (at == cut_at && !with_len),
            );
            each(self.image(&selection));
        }
        // Anything goes: every unit cut at a random version, lengths and
        // entries at random.
        for _ in 0..sampling.random {
            each(self.image(&self.random_selection(rng)));
        }
    }

    /// A selection from three rules: `unit(at, unit)` keeps a unit of the
    /// data change at `at`, `entry(at)` keeps the entry change at `at`, and
    /// `stop_len(at)` says whether the file's length stops before its
    /// pending change at trace position `at`.
    fn select(
        &self,
        mut unit: impl FnMut(usize, usize) -> bool,
        mut entry: impl FnMut(usize) -> bool,
        mut stop_len: impl FnMut(usize) -> bool,
    ) -> Selection {
        let entries = self.entries.iter().map(|(at, _)| entry(*at)).collect();
        let mut data = HashMap::new();
        for (ino, inode) in self.inodes.iter().enumerate() {
            if inode.pending.is_empty() {
                continue;
            }
            let kept: Vec<Vec<bool>> = inode
                .pending
                .iter()
                .map(|op| (0..op.units().len()).map(|u| unit(op.at(), u)).collect())
                .collect();
            let mut len = inode.durable.len() as u64;
            for op in &inode.pending {
                if stop_len(op.at()) {
                    break;
                }
                len = size_after(len, std::slice::from_ref(op));
            }
            data.insert(ino, (kept, len));
        }
        Selection { entries, data }
    }

    fn random_selection(&self, rng: &mut Rng) -> Selection {
        let entries = self.entries.iter().map(|_| rng.chance(1, 2)).collect();
        let mut data = HashMap::new();
        for (ino, inode) in self.inodes.iter().enumerate() {
            if inode.pending.is_empty() {
                continue;
            }
            // Versions of each block, in order; each block keeps a prefix.
            // (Ordered maps: the draws follow from the seed alone.)
            let mut versions: BTreeMap<(u64, u64), usize> = BTreeMap::new();
            let mut rank = Vec::new();
            for op in &inode.pending {
                let ranks: Vec<usize> = op
                    .units()
                    .iter()
                    .map(|(_, _, key)| {
                        let v = versions.entry(*key).or_default();
                        *v += 1;
                        *v - 1
                    })
                    .collect();
                rank.push(ranks);
            }
            let cut: BTreeMap<(u64, u64), usize> = versions
                .iter()
                .map(|(key, n)| (*key, rng.below(*n as u64 + 1) as usize))
                .collect();
            let kept: Vec<Vec<bool>> = inode
                .pending
                .iter()
                .zip(&rank)
                .map(|(op, ranks)| {
                    op.units()
                        .iter()
                        .zip(ranks)
                        .map(|((_, _, key), r)| *r < cut[key])
                        .collect()
                })
                .collect();
            let stop = rng.below(inode.pending.len() as u64 + 1) as usize;
            let len = size_after(inode.durable.len() as u64, &inode.pending[..stop]);
            data.insert(ino, (kept, len));
        }
        Selection { entries, data }
    }

    fn image(&self, selection: &Selection) -> Image {
        let mut names = self.durable_names.clone();
        let mut dirs = self.durable_dirs.clone();
        for ((_, e), keep) in self.entries.iter().zip(&selection.entries) {
            if *keep {
                e.apply(&mut names, &mut dirs);
            }
        }
        let mut files = BTreeMap::new();
        for (name, ino) in names {
            if !dirs.contains(parent(&name)) {
                continue;
            }
            let inode = &self.inodes[ino];
            let bytes = match selection.data.get(&ino) {
                Some((kept, len)) => Arc::new(content(&inode.durable, &inode.pending, kept, *len)),
                None => Arc::clone(&inode.durable),
            };
            files.insert(name, bytes);
        }
        Image { dirs, files }
    }
}

/// The file's length after `ops`, from `len`.
fn size_after(mut len: u64, ops: &[DataOp]) -> u64 {
    for op in ops {
        len = match op {
            DataOp::Write { offset, data, .. } => len.max(offset + data.len() as u64),
            DataOp::SetLen { len, .. } => *len,
        };
    }
    len
}

/// `durable` with the kept units of `ops` applied in order, at length `len`.
fn content(durable: &[u8], ops: &[DataOp], kept: &[Vec<bool>], len: u64) -> Vec<u8> {
    let mut buf = durable.to_vec();
    for (op, kept) in ops.iter().zip(kept) {
        match op {
            DataOp::Write { offset, data, .. } => {
                for ((start, end, _), keep) in op.units().into_iter().zip(kept) {
                    if !keep {
                        continue;
                    }
                    let (s, e) = (start as usize, end as usize);
                    if buf.len() < e {
                        buf.resize(e, 0);
                    }
                    let from = (start - offset) as usize;
                    buf[s..e].copy_from_slice(&data[from..from + (e - s)]);
                }
            }
            // A kept cut drops the bytes past it: growing again reads zeros.
            DataOp::SetLen { len, .. } => {
                if kept.first().copied().unwrap_or(false) && (*len as usize) < buf.len() {
                    buf.truncate(*len as usize);
                }
            }
        }
    }
    buf.resize(len as usize, 0);
    buf
}
