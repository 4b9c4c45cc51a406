//! Why recovery could not produce a journal.

use core::fmt;

use crate::journal::format::HeaderError;
use crate::journal::report::RecoveryReport;
use crate::storage::{Storage, StorageError};

/// Why recovery could not produce a journal.
#[derive(Debug)]
#[non_exhaustive]
pub enum RecoverError<E> {
    /// Storage failed while reading or repairing.
    Storage(E),
    /// The journal was written by a newer steadfast.
    NewerVersion {
        /// Version found on disk.
        found: u16,
        /// Highest version this build reads.
        supported: u16,
    },
    /// More segments than the configured capacity.
    TooManySegments {
        /// The capacity (the `SEGMENTS` parameter).
        capacity: usize,
    },
    /// The journal was created with a different number of lanes.
    LanesMismatch {
        /// Lanes in the journal.
        journal: u16,
        /// Lanes this producer was built with.
        configured: usize,
    },
    /// Strict mode found damage; nothing was changed.
    Damaged(RecoveryReport),
}

impl<E: StorageError> fmt::Display for RecoverError<E> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            RecoverError::Storage(e) => {
                write!(f, "storage error during recovery: {e} ({})", e.kind())
            }
            RecoverError::NewerVersion { found, supported } => write!(
                f,
                "journal format version {found} is newer than this build reads ({supported}); upgrade steadfast"
            ),
            RecoverError::TooManySegments { capacity } => write!(
                f,
                "journal has more than {capacity} segments; raise the SEGMENTS capacity or the segment size"
            ),
            RecoverError::LanesMismatch { journal, configured } => write!(
                f,
                "journal was created with {journal} lanes but this producer has {configured}; use the same LANES"
            ),
            RecoverError::Damaged(report) => {
                write!(f, "strict mode: journal is damaged, nothing changed:\n{report}")
            }
        }
    }
}

impl<E: StorageError> core::error::Error for RecoverError<E> {}

pub(super) fn storage<E>(e: E) -> RecoverError<E> {
    RecoverError::Storage(e)
}

pub(super) fn version_error<E>(e: HeaderError) -> Option<RecoverError<E>> {
    match e {
        HeaderError::Version(found) => Some(RecoverError::NewerVersion {
            found,
            supported: crate::journal::format::VERSION,
        }),
        _ => None,
    }
}

pub(super) fn storage_err<S: Storage>(e: S::Error) -> RecoverError<S::Error> {
    storage(e)
}
