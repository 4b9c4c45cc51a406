//! Listing, re-driving and discarding dead letters.
//!
//! The journal keeps each dead letter (a copy of its record and the reason)
//! until the user decides; a decision is journaled as a `Resolve` entry. The
//! list is therefore "DeadLetter entries minus those a Resolve entry names",
//! read with the core's `for_each_entry` (the whole journal is read, under
//! the producer's lock: an administrative operation, not a hot path).

use std::collections::HashSet;

use steadfast_core::{JournalError, MessageId, Record, Seq, Storage};

use super::message::OwnedMessage;
use super::state::Core;

/// A message the broker refused for good, waiting for a decision.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct DeadLetter {
    /// The dead-letter entry's seq: what
    /// [`redrive_dead_letter`](crate::Producer::redrive_dead_letter) and
    /// [`discard_dead_letter`](crate::Producer::discard_dead_letter) take.
    pub seq: Seq,
    /// The message's own id (as it was sent).
    pub id: Option<MessageId>,
    /// The transport's error code.
    pub code: i32,
    /// Why it was refused.
    pub reason: String,
    /// The message (`None` if its copy could not be decoded).
    pub message: Option<OwnedMessage>,
}

/// Every dead letter not yet discarded or re-driven, oldest first.
pub(crate) fn list<S: Storage>(core: &mut Core<S>) -> Result<Vec<DeadLetter>, JournalError> {
    let mut letters = Vec::new();
    let mut resolved = HashSet::new();
    core.for_each_entry(|entry| {
        if let Some(dl) = entry.dead_letter() {
            let record = Record::decode(dl.record).ok();
            letters.push(DeadLetter {
                seq: entry.seq,
                id: record.as_ref().map(|r| r.id),
                code: dl.code,
                reason: dl.reason.to_string(),
                message: record.map(|r| OwnedMessage::from_message(&r.message)),
            });
        } else if let Some((seq, _)) = entry.resolution() {
            resolved.insert(seq);
        }
    })?;
    letters.retain(|d| !resolved.contains(&d.seq));
    Ok(letters)
}
