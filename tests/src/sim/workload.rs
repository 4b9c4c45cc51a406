//! What the simulated user sends.
//!
//! Every message carries a unique id of the simulation (`uid`) in the first
//! eight bytes of its value, followed by filler derived from the uid, so the
//! broker can tell exactly which message it got and whether its bytes are
//! the ones sent — independently of the producer's own message ids.
//!
//! The mix covers every ordering shape (explicit partition, key only,
//! neither) and the messages a broker refuses for good (an unauthorised
//! topic, a partition that does not exist, a record too large).

use steadfast_core::Message;

use super::rng::Rng;

/// Partitions of every simulated topic.
pub const PARTITIONS: i32 = 3;
/// Largest value the simulated broker accepts.
pub const BROKER_MAX_VALUE: usize = 500;
/// Topic the broker refuses (authorization).
pub const FORBIDDEN_TOPIC: &str = "forbidden";

/// One message the user sends.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Spec {
    /// The simulation's id for it.
    pub uid: u64,
    /// Topic.
    pub topic: &'static str,
    /// Explicit partition.
    pub partition: Option<i32>,
    /// Key.
    pub key: Option<Vec<u8>>,
    /// Value: uid, then filler.
    pub value: Vec<u8>,
}

impl Spec {
    /// The core's view of it.
    pub fn message(&self) -> Message<'_> {
        let mut m = Message::new(self.topic, &self.value);
        m.partition = self.partition;
        m.key = self.key.as_deref();
        m
    }

    /// What its order is kept within: its partition if explicit, else its
    /// key; `None` when neither is set (no order promised).
    pub fn order_key(&self) -> Option<String> {
        match (self.partition, &self.key) {
            (Some(p), _) => Some(format!("{}/p{p}", self.topic)),
            (None, Some(k)) => Some(format!("{}/k{}", self.topic, k[0])),
            (None, None) => None,
        }
    }
}

fn filler(uid: u64, i: usize) -> u8 {
    let mut z = uid ^ (i as u64).wrapping_mul(0x9e37_79b9_7f4a_7c15);
    z = (z ^ (z >> 31)).wrapping_mul(0xbf58_476d_1ce4_e5b9);
    (z >> 40) as u8
}

/// The value of message `uid`, `len` bytes long (at least 8).
pub fn make_value(uid: u64, len: usize) -> Vec<u8> {
    let mut v = uid.to_le_bytes().to_vec();
    v.extend((8..len.max(8)).map(|i| filler(uid, i)));
    v
}

/// The uid a value carries.
pub fn uid_of(value: &[u8]) -> Option<u64> {
    let head: [u8; 8] = value.get(..8)?.try_into().ok()?;
    Some(u64::from_le_bytes(head))
}

/// True if `value` is exactly what message `uid_of(value)` was sent with.
pub fn value_intact(value: &[u8]) -> bool {
    uid_of(value).is_some_and(|uid| {
        value
            .iter()
            .enumerate()
            .skip(8)
            .all(|(i, b)| *b == filler(uid, i))
    })
}

/// How often the user sends something the broker will refuse for good.
#[derive(Clone, Copy, Debug, Default)]
pub struct Poison {
    /// An unauthorised topic.
    pub forbidden: f64,
    /// A partition that does not exist.
    pub bad_partition: f64,
    /// A value larger than the broker takes.
    pub too_large: f64,
}

/// Generates the user's messages.
#[derive(Debug)]
pub struct Workload {
    rng: Rng,
    next_uid: u64,
    /// Poison rates.
    pub poison: Poison,
}

impl Workload {
    /// A workload drawing from `rng`.
    pub fn new(rng: Rng, poison: Poison) -> Self {
        Workload {
            rng,
            next_uid: 1,
            poison,
        }
    }

    /// The next message.
    pub fn next_spec(&mut self) -> Spec {
        let uid = self.next_uid;
        self.next_uid += 1;
        let r = &mut self.rng;
        let mut len = r.between(8, 120) as usize;
        let p = self.poison;
        let (topic, partition, key) = if r.chance(p.forbidden) {
            (FORBIDDEN_TOPIC, Some(0), None)
        } else if r.chance(p.bad_partition) {
            ("orders", Some(PARTITIONS + 4), None)
        } else {
            match r.below(10) {
                0..=4 => ("orders", Some(r.below(PARTITIONS as u64) as i32), None),
                5..=8 => ("events", None, Some(vec![r.below(6) as u8])),
                _ => ("logs", None, None),
            }
        };
        if r.chance(p.too_large) {
            len = BROKER_MAX_VALUE + 100;
        }
        Spec {
            uid,
            topic,
            partition,
            key,
            value: make_value(uid, len),
        }
    }
}
