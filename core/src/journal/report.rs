//! What recovery found, in a form a user can read.
//!
//! Recovery never refuses to start over damage (unless strict mode is
//! asked for): it keeps what is intact and says exactly what it could not
//! keep, by segment, byte offset and sequence numbers.

use core::fmt;

use crate::message::Seq;
use crate::storage::SegmentId;

/// Most damage items a report lists one by one; more are counted.
pub const MAX_DAMAGE: usize = 16;

/// An inclusive range of sequence numbers.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct SeqRange {
    /// First seq.
    pub first: Seq,
    /// Last seq (inclusive).
    pub last: Seq,
}

impl SeqRange {
    /// `first..=last`, or `None` if empty.
    pub fn new(first: Seq, last: Seq) -> Option<SeqRange> {
        (first <= last).then_some(SeqRange { first, last })
    }
}

impl fmt::Display for SeqRange {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        if self.first == self.last {
            write!(f, "seq {}", self.first)
        } else {
            write!(f, "seqs {}..={}", self.first, self.last)
        }
    }
}

/// One thing recovery could not keep.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
#[non_exhaustive]
pub enum Damage {
    /// Bytes in the middle of a segment failed their checksum; the entries
    /// after them were kept.
    CorruptRegion {
        /// Segment with the damage.
        segment: SegmentId,
        /// Byte offset where the damage starts.
        offset: u64,
        /// Bytes skipped.
        len: u64,
        /// Entries that were in those bytes, when known.
        lost: Option<SeqRange>,
    },
    /// An entry has a sequence number or chain that does not follow its
    /// predecessor (a hole, a reordering, or an entry from an older
    /// generation of the journal).
    BrokenChain {
        /// Segment with the problem.
        segment: SegmentId,
        /// Byte offset of the entry.
        offset: u64,
        /// Entries missing before it, when it jumps ahead.
        lost: Option<SeqRange>,
    },
    /// The log ends before the high-water mark: entries that were synced are
    /// gone (a truncation exactly at an entry boundary).
    Truncated {
        /// The synced entries that are missing.
        lost: SeqRange,
    },
    /// A segment the journal still needed is not there.
    MissingSegment {
        /// Its id.
        segment: SegmentId,
        /// The entries it may have held, when known.
        lost: Option<SeqRange>,
    },
    /// A segment belongs to another journal; it was quarantined.
    ForeignSegment {
        /// Its id.
        segment: SegmentId,
        /// The journal it claims to belong to.
        journal: u64,
        /// Entries of this journal missing where it sits, when known.
        lost: Option<SeqRange>,
    },
    /// A segment's header is damaged or is not a steadfast header, and no
    /// chained frame behind it could be salvaged; it was quarantined.
    BadSegmentHeader {
        /// Its id.
        segment: SegmentId,
        /// Entries missing where it sits, when known.
        lost: Option<SeqRange>,
    },
    /// A segment's header is damaged, but the frames behind it are intact
    /// and chain to the segment before: they were kept.
    HeaderSalvaged {
        /// Its id.
        segment: SegmentId,
    },
    /// Both meta slots are damaged: truncation at an entry boundary cannot
    /// be checked this time.
    MetaDamaged,
    /// One meta slot is damaged; the other one was used.
    MetaSlotDamaged {
        /// The damaged slot (0 or 1).
        slot: u8,
    },
    /// The meta slots name another journal than the segments' headers do:
    /// the segments were trusted, the meta's high-water mark ignored.
    MetaMismatch {
        /// The journal the meta names.
        meta: u64,
        /// The journal the segments belong to.
        journal: u64,
    },
    /// No segment is left, but the high-water mark says entries were
    /// synced: the journal never deletes its newest segment, so they were
    /// lost, not deleted.
    SegmentsGone {
        /// The segment the high-water mark names.
        segment: SegmentId,
        /// The synced seqs: every one not yet confirmed is lost.
        lost: SeqRange,
    },
}

impl Damage {
    /// The entries this damage lost, when known.
    pub fn lost(&self) -> Option<SeqRange> {
        match *self {
            Damage::CorruptRegion { lost, .. }
            | Damage::BrokenChain { lost, .. }
            | Damage::MissingSegment { lost, .. }
            | Damage::ForeignSegment { lost, .. }
            | Damage::BadSegmentHeader { lost, .. } => lost,
            Damage::Truncated { lost } | Damage::SegmentsGone { lost, .. } => Some(lost),
            Damage::HeaderSalvaged { .. }
            | Damage::MetaDamaged
            | Damage::MetaSlotDamaged { .. }
            | Damage::MetaMismatch { .. } => None,
        }
    }

    /// True if entries (messages among them) may have been lost: a range is
    /// known, or a segment the journal needed is gone without one.
    pub fn loses_entries(&self) -> bool {
        self.lost().is_some() || matches!(self, Damage::MissingSegment { .. })
    }
}

impl fmt::Display for Damage {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let lost = |f: &mut fmt::Formatter<'_>, lost: &Option<SeqRange>| match lost {
            Some(r) => write!(f, "; lost {r}"),
            None => Ok(()),
        };
        match self {
            Damage::CorruptRegion {
                segment,
                offset,
                len,
                lost: l,
            } => {
                write!(
                    f,
                    "segment {segment}: {len} corrupt bytes at offset {offset} skipped"
                )?;
                lost(f, l)
            }
            Damage::BrokenChain {
                segment,
                offset,
                lost: l,
            } => {
                write!(
                    f,
                    "segment {segment}: entry at offset {offset} does not follow its predecessor"
                )?;
                lost(f, l)
            }
            Damage::Truncated { lost } => write!(
                f,
                "journal ends before its high-water mark (truncated at an entry boundary); lost {lost}"
            ),
            Damage::MissingSegment { segment, lost: l } => {
                write!(f, "segment {segment} is missing")?;
                lost(f, l)
            }
            Damage::ForeignSegment {
                segment,
                journal,
                lost: l,
            } => {
                write!(
                    f,
                    "segment {segment} belongs to another journal ({journal:016x}); quarantined"
                )?;
                lost(f, l)
            }
            Damage::BadSegmentHeader { segment, lost: l } => {
                write!(
                    f,
                    "segment {segment} has a damaged or foreign header and no intact frame behind it; quarantined"
                )?;
                lost(f, l)
            }
            Damage::HeaderSalvaged { segment } => write!(
                f,
                "segment {segment} has a damaged header; its frames are intact and chained, and were kept"
            ),
            Damage::MetaDamaged => {
                f.write_str("both high-water-mark slots are damaged; truncation could not be checked")
            }
            Damage::MetaSlotDamaged { slot } => write!(
                f,
                "high-water-mark slot meta-{slot} is damaged; the other slot was used"
            ),
            Damage::MetaMismatch { meta, journal } => write!(
                f,
                "the high-water-mark slots belong to journal {meta:016x}, the segments to {journal:016x}; \
                 the segments were trusted and the slots' high-water mark ignored"
            ),
            Damage::SegmentsGone { segment, lost } => write!(
                f,
                "no segment is left, but the high-water mark says entries up to seq {} were synced (in segment \
                 {segment}); lost: every unconfirmed message among {lost}",
                lost.last
            ),
        }
    }
}

/// A torn tail that recovery cut: the normal trace of a crash mid-write.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct TornTail {
    /// The segment that was cut.
    pub segment: SegmentId,
    /// Its new length.
    pub offset: u64,
    /// Bytes removed.
    pub cut: u64,
    /// Every byte cut was zero: space the writer reserved ahead of its
    /// appends (the std runner's mapped segments grow in steps), left by a
    /// crash with no write torn. False when a partial entry was cut.
    pub zeros: bool,
}

/// Everything recovery found and did.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct RecoveryReport {
    /// The journal's id.
    pub journal: u64,
    /// True if there was no journal and a new one was started.
    pub created: bool,
    /// Segments read.
    pub segments: u32,
    /// Bytes read.
    pub bytes: u64,
    /// Entries read.
    pub entries: u64,
    /// Messages still to deliver.
    pub pending: u64,
    /// Dead letters still waiting for a decision.
    pub dead_letters: u64,
    /// A torn tail that was cut, if any.
    pub torn_tail: Option<TornTail>,
    /// Damage, in the order found (at most [`MAX_DAMAGE`]).
    pub damage: heapless::Vec<Damage, MAX_DAMAGE>,
    /// Damage items beyond [`MAX_DAMAGE`] that were not listed.
    pub more_damage: u32,
    /// Segments moved to quarantine.
    pub quarantined: u32,
}

impl RecoveryReport {
    /// True when nothing was lost or quarantined (a cut torn tail is normal).
    pub fn is_clean(&self) -> bool {
        self.damage.is_empty() && self.more_damage == 0
    }

    /// True if recovery lost entries that were synced (messages among
    /// them): damage with lost sequence numbers, or more damage than the
    /// report could list. Damage that kept everything (a salvaged header, a
    /// damaged meta slot) is not a loss.
    pub fn lost_entries(&self) -> bool {
        self.more_damage > 0 || self.damage.iter().any(Damage::loses_entries)
    }

    pub(crate) fn push(&mut self, damage: Damage) {
        if self.damage.push(damage).is_err() {
            self.more_damage += 1;
        }
    }
}

impl fmt::Display for RecoveryReport {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        if self.created {
            write!(f, "new journal {:016x}", self.journal)?;
        } else {
            write!(
                f,
                "journal {:016x}: {} segments, {} entries, {} bytes read; {} messages pending, {} dead letters",
                self.journal, self.segments, self.entries, self.bytes, self.pending, self.dead_letters
            )?;
        }
        if let Some(t) = &self.torn_tail {
            if t.zeros {
                write!(
                    f,
                    "\n  unused reserved space cut: segment {} at offset {} ({} bytes of zeros)",
                    t.segment, t.offset, t.cut
                )?;
            } else {
                write!(
                    f,
                    "\n  torn tail cut: segment {} at offset {} ({} bytes)",
                    t.segment, t.offset, t.cut
                )?;
            }
        }

        for d in &self.damage {
            write!(f, "\n  damage: {d}")?;
        }
        if self.more_damage > 0 {
            write!(f, "\n  … and {} more damage items", self.more_damage)?;
        }
        Ok(())
    }
}
