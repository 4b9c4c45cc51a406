//! What Kafka would refuse, refused at `send` instead.
//!
//! A message the broker can never accept becomes a dead letter minutes or
//! hours after `send` returned, far from the code that built it. These
//! rules are the ones a Kafka broker (and steadfast's own id header)
//! imposes on every record, so [`Producer::send`](crate::Producer::send)
//! checks them up front and hands the message back with the rule it broke.
//! They only read the message: no allocation, a pass over the topic's and
//! the header names' bytes.
//!
//! The rules:
//! - a topic name is 1 to [`MAX_TOPIC_LEN`] (249) bytes of ASCII letters,
//!   digits, `.`, `_` and `-`, and is neither `.` nor `..` (Kafka's own
//!   rule for topic names);
//! - an explicit partition is 0 or more (`None` lets the partitioner
//!   choose; librdkafka's `-1` "unassigned" is spelled `None` here);
//! - a header name is 1 to [`MAX_HEADER_NAME_LEN`] bytes, and is not
//!   [`MESSAGE_ID_HEADER`] in any letter case (steadfast adds that header
//!   to every record; a second one would give a consumer two ids).

use core::fmt;

use super::{MESSAGE_ID_HEADER, Message};

/// Longest topic name Kafka accepts, in bytes (all legal characters are
/// ASCII).
pub const MAX_TOPIC_LEN: usize = 249;

/// Longest header name accepted, in bytes. Kafka sets no limit of its own;
/// this one keeps a mistake (a value passed as a name) from reaching the
/// broker, and is far above any name in real use.
pub const MAX_HEADER_NAME_LEN: usize = 256;

/// Which rule a message breaks: what a Kafka broker would refuse (and
/// steadfast's own id header needs), checked at `send` by
/// [`Message::validate`]:
/// - a topic name is 1 to [`MAX_TOPIC_LEN`] (249) bytes of ASCII letters,
///   digits, `.`, `_` and `-`, and is neither `.` nor `..`;
/// - an explicit partition is 0 or more (`None` lets the partitioner
///   choose);
/// - a header name is 1 to [`MAX_HEADER_NAME_LEN`] bytes, and is not
///   [`MESSAGE_ID_HEADER`] in any letter case.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
#[non_exhaustive]
pub enum InvalidMessage {
    /// The topic name is empty.
    EmptyTopic,
    /// The topic name is longer than [`MAX_TOPIC_LEN`] bytes.
    TopicTooLong {
        /// Its length in bytes.
        len: usize,
    },
    /// The topic name holds a character Kafka does not allow.
    TopicCharacter {
        /// The first such character.
        found: char,
        /// Its byte offset in the name.
        at: usize,
    },
    /// The topic name is `.` or `..`.
    TopicDots,
    /// The explicit partition is negative.
    NegativePartition {
        /// The partition given.
        partition: i32,
    },
    /// A header name is empty.
    EmptyHeaderName {
        /// The header's index in the message.
        index: usize,
    },
    /// A header name is longer than [`MAX_HEADER_NAME_LEN`] bytes.
    HeaderNameTooLong {
        /// The header's index in the message.
        index: usize,
        /// Its length in bytes.
        len: usize,
    },
    /// A header is named [`MESSAGE_ID_HEADER`], which steadfast adds itself.
    ReservedHeader {
        /// The header's index in the message.
        index: usize,
    },
}

impl fmt::Display for InvalidMessage {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            InvalidMessage::EmptyTopic => {
                f.write_str("the topic name is empty; Kafka needs 1 to 249 characters")
            }
            InvalidMessage::TopicTooLong { len } => write!(
                f,
                "the topic name is {len} bytes long; Kafka allows at most {MAX_TOPIC_LEN}"
            ),
            InvalidMessage::TopicCharacter { found, at } => write!(
                f,
                "the topic name has {found:?} at byte {at}; Kafka allows only ASCII letters, digits, '.', '_' and '-'"
            ),
            InvalidMessage::TopicDots => {
                f.write_str("the topic name may not be \".\" or \"..\" (Kafka refuses them)")
            }
            InvalidMessage::NegativePartition { partition } => write!(
                f,
                "partition {partition} is negative; give 0 or more, or no partition to let the partitioner choose"
            ),
            InvalidMessage::EmptyHeaderName { index } => {
                write!(f, "header #{index} has an empty name; a header needs a name")
            }
            InvalidMessage::HeaderNameTooLong { index, len } => write!(
                f,
                "header #{index}'s name is {len} bytes long; at most {MAX_HEADER_NAME_LEN} are allowed"
            ),
            InvalidMessage::ReservedHeader { index } => write!(
                f,
                "header #{index} is named {MESSAGE_ID_HEADER:?}, which steadfast adds to every record itself \
                 (it carries the message id consumers de-duplicate by); rename the header"
            ),
        }
    }
}

impl core::error::Error for InvalidMessage {}

impl Message<'_> {
    /// Checks the rules a Kafka broker imposes on every record (topic name,
    /// partition, header names; see [`InvalidMessage`]). `send` checks them
    /// before it journals anything.
    pub fn validate(&self) -> Result<(), InvalidMessage> {
        validate(self)
    }
}

/// Checks `message` against the rules in the module docs.
fn validate(message: &Message<'_>) -> Result<(), InvalidMessage> {
    check_topic(message.topic)?;
    if let Some(partition) = message.partition
        && partition < 0
    {
        return Err(InvalidMessage::NegativePartition { partition });
    }
    for (index, header) in message.headers.iter().enumerate() {
        let len = header.name.len();
        if len == 0 {
            return Err(InvalidMessage::EmptyHeaderName { index });
        }
        if len > MAX_HEADER_NAME_LEN {
            return Err(InvalidMessage::HeaderNameTooLong { index, len });
        }
        if header.name.eq_ignore_ascii_case(MESSAGE_ID_HEADER) {
            return Err(InvalidMessage::ReservedHeader { index });
        }
    }
    Ok(())
}

fn check_topic(topic: &str) -> Result<(), InvalidMessage> {
    match topic {
        "" => return Err(InvalidMessage::EmptyTopic),
        "." | ".." => return Err(InvalidMessage::TopicDots),
        _ => {}
    }
    if topic.len() > MAX_TOPIC_LEN {
        return Err(InvalidMessage::TopicTooLong { len: topic.len() });
    }
    let legal = |b: u8| b.is_ascii_alphanumeric() || matches!(b, b'.' | b'_' | b'-');
    match topic.bytes().position(|b| !legal(b)) {
        None => Ok(()),
        Some(at) => Err(InvalidMessage::TopicCharacter {
            found: topic[at..].chars().next().unwrap_or('\u{fffd}'),
            at,
        }),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::message::Header;

    fn with_header(name: &str) -> Result<(), InvalidMessage> {
        let mut m = Message::new("t", b"v");
        m.headers.push(Header { name, value: None }).unwrap();
        validate(&m)
    }

    #[test]
    fn kafka_topic_rules() {
        let long = "a".repeat(MAX_TOPIC_LEN);
        assert_eq!(check_topic(&long), Ok(()));
        assert_eq!(check_topic("Orders.v2_eu-west"), Ok(()));
        assert_eq!(check_topic("..."), Ok(()));
        let too_long = "a".repeat(MAX_TOPIC_LEN + 1);
        assert_eq!(
            check_topic(&too_long),
            Err(InvalidMessage::TopicTooLong { len: 250 })
        );
        assert_eq!(check_topic(""), Err(InvalidMessage::EmptyTopic));
        assert_eq!(check_topic("."), Err(InvalidMessage::TopicDots));
        assert_eq!(check_topic(".."), Err(InvalidMessage::TopicDots));
        assert_eq!(
            check_topic("a b"),
            Err(InvalidMessage::TopicCharacter { found: ' ', at: 1 })
        );
        assert_eq!(
            check_topic("tö"),
            Err(InvalidMessage::TopicCharacter { found: 'ö', at: 1 })
        );
        assert_eq!(
            check_topic("a/b"),
            Err(InvalidMessage::TopicCharacter { found: '/', at: 1 })
        );
    }

    #[test]
    fn partitions_and_headers() {
        assert_eq!(validate(&Message::new("t", b"v").with_partition(0)), Ok(()));
        assert_eq!(
            validate(&Message::new("t", b"v").with_partition(-1)),
            Err(InvalidMessage::NegativePartition { partition: -1 })
        );
        assert_eq!(with_header("trace-id"), Ok(()));
        assert_eq!(with_header(""), Err(InvalidMessage::EmptyHeaderName { index: 0 }));
        assert_eq!(
            with_header("Steadfast-ID"),
            Err(InvalidMessage::ReservedHeader { index: 0 })
        );
        let long = "h".repeat(MAX_HEADER_NAME_LEN + 1);
        assert_eq!(
            with_header(&long),
            Err(InvalidMessage::HeaderNameTooLong { index: 0, len: 257 })
        );
    }
}
