//! Checking which message ids arrived.
//!
//! [`check_ids`] compares the records [`read_topic`](super::read_topic)
//! returned against the ids that were sent: none missing, none unexpected,
//! the order of first arrivals kept per partition, and duplicates counted.

use core::fmt;
use std::collections::{BTreeMap, HashMap, HashSet};

use steadfast_cli::readback::ConsumedRecord;
use steadfast_core::MessageId;

/// What [`check_ids`] found.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct IdReport {
    /// Records read.
    pub received: usize,
    /// Distinct expected ids that arrived.
    pub delivered: usize,
    /// Sent ids that never arrived.
    pub missing: Vec<MessageId>,
    /// Ids that arrived more than once, with their count.
    pub duplicates: Vec<(MessageId, usize)>,
    /// Ids that arrived but were not sent.
    pub unexpected: Vec<MessageId>,
    /// Records without a parsable `steadfast-id` header.
    pub without_id: usize,
    /// `(partition, earlier, later)`: `later` was sent after `earlier` but
    /// first arrived before it in that partition.
    pub out_of_order: Vec<(i32, MessageId, MessageId)>,
}

impl IdReport {
    /// No id missing or unexpected, every record has an id, order kept.
    /// Duplicates are allowed (at-least-once).
    pub fn is_ok(&self) -> bool {
        self.missing.is_empty()
            && self.unexpected.is_empty()
            && self.without_id == 0
            && self.out_of_order.is_empty()
    }
}

impl fmt::Display for IdReport {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(
            f,
            "{} records read, {} distinct ids delivered, {} missing, {} duplicated, \
             {} unexpected, {} without id, {} out of order",
            self.received,
            self.delivered,
            self.missing.len(),
            self.duplicates.len(),
            self.unexpected.len(),
            self.without_id,
            self.out_of_order.len()
        )?;
        let show = |f: &mut fmt::Formatter<'_>, what: &str, ids: &[String]| {
            if ids.is_empty() {
                return Ok(());
            }
            let more = ids.len().saturating_sub(10);
            write!(f, "\n  {what}: {}", ids[..ids.len().min(10)].join(", "))?;
            if more > 0 {
                write!(f, " … and {more} more")?;
            }
            Ok(())
        };
        let ids = |v: &[MessageId]| v.iter().map(ToString::to_string).collect::<Vec<_>>();
        show(f, "missing", &ids(&self.missing))?;
        show(f, "unexpected", &ids(&self.unexpected))?;
        let dups: Vec<String> = self
            .duplicates
            .iter()
            .map(|(id, n)| format!("{id} x{n}"))
            .collect();
        show(f, "duplicates", &dups)?;
        let order: Vec<String> = self
            .out_of_order
            .iter()
            .map(|(p, a, b)| format!("p{p}: {b} before {a}"))
            .collect();
        show(f, "out of order", &order)
    }
}

/// Compares what arrived (in partition, offset order) with what was sent
/// (in send order); see [`IdReport`].
pub fn check_ids(sent: &[MessageId], received: &[ConsumedRecord]) -> IdReport {
    let rank: HashMap<MessageId, usize> = sent.iter().enumerate().map(|(i, id)| (*id, i)).collect();
    let mut counts: BTreeMap<MessageId, usize> = BTreeMap::new();
    let mut report = IdReport {
        received: received.len(),
        ..IdReport::default()
    };
    let mut seen_in_partition: HashSet<(i32, MessageId)> = HashSet::new();
    let mut last_first: HashMap<i32, (usize, MessageId)> = HashMap::new();
    for record in received {
        let Some(id) = record.id else {
            report.without_id += 1;
            continue;
        };
        *counts.entry(id).or_default() += 1;
        let Some(&r) = rank.get(&id) else {
            continue;
        };
        if !seen_in_partition.insert((record.partition, id)) {
            continue;
        }
        if let Some(&(prev_rank, prev)) = last_first.get(&record.partition)
            && r < prev_rank
        {
            report.out_of_order.push((record.partition, id, prev));
            continue;
        }
        last_first.insert(record.partition, (r, id));
    }
    for id in sent {
        if !counts.contains_key(id) {
            report.missing.push(*id);
        }
    }
    for (id, n) in counts {
        if !rank.contains_key(&id) {
            report.unexpected.push(id);
        } else {
            report.delivered += 1;
            if n > 1 {
                report.duplicates.push((id, n));
            }
        }
    }
    report
}

#[cfg(test)]
mod tests {
    use super::*;

    fn rec(partition: i32, offset: i64, seq: u64) -> ConsumedRecord {
        ConsumedRecord {
            partition,
            offset,
            key: None,
            value: None,
            timestamp: None,
            headers: Vec::new(),
            id: Some(MessageId { journal: 1, seq }),
        }
    }

    #[test]
    fn check_ids_counts_missing_duplicates_and_order() {
        let sent: Vec<MessageId> = (1..=5).map(|seq| MessageId { journal: 1, seq }).collect();
        let got = [
            rec(0, 0, 1),
            rec(0, 1, 3),
            rec(0, 2, 2),
            rec(0, 3, 3),
            rec(1, 0, 9),
        ];
        let report = check_ids(&sent, &got);
        assert_eq!(report.missing.len(), 2);
        assert_eq!(report.duplicates, vec![(sent[2], 2)]);
        assert_eq!(report.unexpected.len(), 1);
        assert_eq!(report.out_of_order, vec![(0, sent[1], sent[2])]);
        assert!(!report.is_ok());
        assert!(report.to_string().contains("2 missing"));

        let fine = [
            rec(0, 0, 1),
            rec(0, 1, 2),
            rec(1, 0, 3),
            rec(0, 2, 2),
            rec(1, 1, 4),
            rec(1, 2, 5),
        ];
        let report = check_ids(&sent, &fine);
        assert!(report.is_ok(), "{report}");
        assert_eq!(report.duplicates, vec![(sent[1], 2)]);
    }
}
