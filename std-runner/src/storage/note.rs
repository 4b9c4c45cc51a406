//! [`DurabilityNote`]: what the platform cannot do for durability (directory
//! fsync, file locks), found while running. The storage collects them, the
//! runner's [`RunnerStorage`](super::RunnerStorage) hands them on, and the
//! producer reports each once; none of them is a failure.

/// Something about this platform that weakens durability, found while
/// running; reported once each.
#[derive(Clone, Debug, PartialEq, Eq)]
#[non_exhaustive]
pub enum DurabilityNote {
    /// Directories cannot be fsynced here: after power loss a segment just
    /// created, removed or quarantined may be back to its old state. Recovery
    /// handles each of those cases; data in synced segments is not affected.
    DirectorySyncUnsupported {
        /// The OS error.
        error: String,
    },
    /// The platform has no file locks: nothing stops a second process from
    /// opening the same journal. Make sure only one does.
    LockUnsupported {
        /// The OS error.
        error: String,
    },
}

impl std::fmt::Display for DurabilityNote {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            DurabilityNote::DirectorySyncUnsupported { error } => write!(
                f,
                "directory fsync is not supported here ({error}): a segment created or removed just before power loss may reappear or vanish; recovery handles it"
            ),
            DurabilityNote::LockUnsupported { error } => write!(
                f,
                "file locks are not supported here ({error}): make sure only one process opens this journal"
            ),
        }
    }
}
