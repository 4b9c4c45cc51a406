//! The oracle's memory: every message the user tried to send, what the
//! producer promised about it, and what became of it.
//!
//! A promise is held against the producer exactly as it was made: a send
//! refused is never to be delivered; a send accepted is to be delivered (or
//! dead-lettered) unless it was lost in a way its durability level allows;
//! an `is_synced` answer of `true` is a promise that survives power loss.

use std::collections::BTreeMap;

use steadfast_core::{MessageId, Millis};

use super::workload::Spec;

/// What `send` said.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum SendState {
    /// Refused: handed back to the user; must never be delivered.
    Refused,
    /// Appended; waiting for its sync before the send completes (`Always`).
    Waiting,
    /// Complete at the configured durability level.
    Completed,
    /// Appended, but its send never completed (the sync failed or the
    /// process died first): may or may not be delivered.
    Ambiguous,
}

/// Why a message that vanished from the journal may vanish.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Excuse {
    /// It was never promised durable, and power was lost (or an fsync failed).
    Unsynced,
    /// Injected damage destroyed it and the recovery report names it.
    Damage,
    /// Injected damage in the tail past the durable high-water mark: the
    /// report shows it only as a torn tail (a limit of the design).
    HwmLag,
    /// Injected damage, repaired by a recovery whose open then failed (its
    /// report never reached anyone: `OpenFailed` carries none), or in a
    /// report whose list was full (`MAX_DAMAGE` items, the rest counted).
    Interrupted,
    /// Injected truncation of a sealed segment whose successor was already
    /// deleted: no chain or mark spans the gap (a limit of the format).
    Undetectable,
}

/// One message.
#[derive(Clone, Debug)]
pub struct Msg {
    /// The simulation's id.
    pub uid: u64,
    /// Its order key (see [`Spec::order_key`]).
    pub order_key: Option<String>,
    /// Its topic.
    pub topic: &'static str,
    /// Its explicit partition.
    pub partition: Option<i32>,
    /// When `send` was called.
    pub sent_at: Millis,
    /// Producer incarnation that accepted it.
    pub incarnation: u64,
    /// Its id, once accepted.
    pub id: Option<MessageId>,
    /// What `send` said.
    pub state: SendState,
    /// The producer said it is synced.
    pub claimed: bool,
    /// `Interval(d)`: from when its incarnation owes durability (`sent_at + d`).
    pub owed_at: Option<Millis>,
    /// Power was lost (or an fsync failed) while it was not yet promised durable.
    pub exposed: bool,
    /// It vanished from the journal at a recovery; the excuse found, if any.
    pub lost: Option<Option<Excuse>>,
    /// Submissions to the transport.
    pub attempts: u32,
    /// A resubmission is allowed (a failure or a restart since the last confirmation).
    pub resend_ok: bool,
    /// The last thing that allowed a resubmission was a restart.
    pub resend_after_restart: bool,
    /// The user was told it was confirmed.
    pub confirmed: bool,
    /// The user was told it was dead-lettered.
    pub dead_lettered: bool,
}

/// Resubmissions, by what allowed them.
#[derive(Clone, Copy, Debug, Default)]
pub struct Resends {
    /// After a failure or an unknown outcome.
    pub after_failure: u64,
    /// After a restart (crash between send and confirm, or confirm and watermark).
    pub after_restart: u64,
}

/// Every message, by uid.
#[derive(Debug, Default)]
pub struct Ledger {
    /// Messages; `msgs[uid - 1]`.
    pub msgs: Vec<Msg>,
    /// Current mapping from producer ids to uids.
    pub by_id: BTreeMap<MessageId, u64>,
    /// Resubmission counts.
    pub resends: Resends,
}

impl Ledger {
    /// Records a send attempt.
    pub fn add(&mut self, spec: &Spec, now: Millis, incarnation: u64) -> &mut Msg {
        debug_assert_eq!(spec.uid as usize, self.msgs.len() + 1);
        self.msgs.push(Msg {
            uid: spec.uid,
            order_key: spec.order_key(),
            topic: spec.topic,
            partition: spec.partition,
            sent_at: now,
            incarnation,
            id: None,
            state: SendState::Refused,
            claimed: false,
            owed_at: None,
            exposed: false,
            lost: None,
            attempts: 0,
            resend_ok: true,
            resend_after_restart: false,
            confirmed: false,
            dead_lettered: false,
        });
        let last = self.msgs.len() - 1;
        &mut self.msgs[last]
    }

    /// The message with `uid`.
    pub fn get(&mut self, uid: u64) -> Option<&mut Msg> {
        self.msgs.get_mut(usize::try_from(uid).ok()?.checked_sub(1)?)
    }

    /// The message the producer calls `id`.
    pub fn by_id(&mut self, id: MessageId) -> Option<&mut Msg> {
        let uid = *self.by_id.get(&id)?;
        self.get(uid)
    }

    /// Messages accepted and not known to be delivered or lost.
    pub fn accepted(&self) -> impl Iterator<Item = &Msg> {
        self.msgs.iter().filter(|m| m.state != SendState::Refused)
    }
}
