//! Order per key: the check for keyed messages whose partition the
//! partitioner chose.
//!
//! [`check_ids`](super::check_ids) checks order per partition, which the
//! producer keeps when messages name their partition. With keys and no
//! explicit partition the contract is order per key (a key always lands in
//! one partition, but two keys of one partition are independent lanes), so
//! these messages are checked with [`key_order_violations`] instead.

use std::collections::{HashMap, HashSet};

use steadfast_core::MessageId;

use super::ConsumedRecord;

/// One message of a key that first arrived after a message of the same key
/// (and journal) sent later than it.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct KeyOrderViolation {
    /// The key.
    pub key: Vec<u8>,
    /// The message sent first…
    pub earlier: MessageId,
    /// …and the one sent after it that arrived before it.
    pub later: MessageId,
}

/// Walks `received` in (partition, offset) order, as
/// [`read_topic`](super::read_topic) returns it, and reports every first
/// arrival of an id whose sequence number is below that of an earlier first
/// arrival with the same key and journal. Duplicates (second arrivals) are
/// ignored; records without a key or an id are skipped.
pub fn key_order_violations(received: &[ConsumedRecord]) -> Vec<KeyOrderViolation> {
    let mut seen: HashSet<MessageId> = HashSet::new();
    let mut last: HashMap<(&[u8], u64), MessageId> = HashMap::new();
    let mut violations = Vec::new();
    for record in received {
        let (Some(key), Some(id)) = (record.key.as_deref(), record.id) else {
            continue;
        };
        if !seen.insert(id) {
            continue;
        }
        let slot = last.entry((key, id.journal)).or_insert(id);
        if id.seq < slot.seq {
            violations.push(KeyOrderViolation {
                key: key.to_vec(),
                earlier: id,
                later: *slot,
            });
        } else {
            *slot = id;
        }
    }
    violations
}

#[cfg(test)]
mod tests {
    use super::*;

    fn rec(partition: i32, offset: i64, key: &str, seq: u64) -> ConsumedRecord {
        ConsumedRecord {
            partition,
            offset,
            key: Some(key.as_bytes().to_vec()),
            value: None,
            timestamp: None,
            headers: Vec::new(),
            id: Some(MessageId { journal: 1, seq }),
        }
    }

    #[test]
    fn only_first_arrivals_of_one_key_are_ordered() {
        // Keys a and b share partition 0 and interleave freely; a duplicate
        // of 1 after 3 is fine; 4 arriving before 2 (key b) is not.
        let got = [
            rec(0, 0, "a", 3),
            rec(0, 1, "b", 4),
            rec(0, 2, "a", 5),
            rec(0, 3, "a", 3),
            rec(0, 4, "b", 2),
            rec(1, 0, "c", 1),
        ];
        let v = key_order_violations(&got);
        assert_eq!(
            v,
            vec![KeyOrderViolation {
                key: b"b".to_vec(),
                earlier: MessageId { journal: 1, seq: 2 },
                later: MessageId { journal: 1, seq: 4 },
            }]
        );
    }
}
