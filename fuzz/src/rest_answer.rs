//! A REST proxy's answers, through the transport's own reading of them
//! (`steadfast_transports::rest::fuzzing`): to a produce request (v2 or
//! v3) and to cluster discovery. Never a panic, exactly one outcome per
//! record, and no confirmation that contradicts the partition a record
//! asked for.
//!
//! Input format: byte 0 bit 0 is the API (0 v2, 1 v3), bit 1 whether the
//! body broke off, bit 2 `must_be_v3` for discovery, bits 3-7 the number of
//! records (0-31); bytes 1-2 the status (u16 LE, taken modulo 600); then
//! one byte per record (0: no partition asked, else partition n - 1);
//! then `\n`-separated: content type, `Retry-After`, `Location`, and the
//! body (the rest, newlines included). [`pack`] writes it.

use steadfast_core::Outcome;
use steadfast_transports::rest::ApiVersion;
use steadfast_transports::rest::fuzzing::{ProxyAnswer, discovery, produce_outcomes};

/// What an input holds.
#[derive(Clone, Debug)]
pub struct Input<'a> {
    /// v3 (else v2).
    pub v3: bool,
    /// `must_be_v3` for discovery.
    pub must_be_v3: bool,
    /// The partition each record asked for.
    pub partitions: Vec<Option<i32>>,
    /// The answer.
    pub answer: ProxyAnswer<'a>,
}

/// Reads the input format of the module docs.
pub fn unpack(data: &[u8]) -> Option<Input<'_>> {
    let (&flags, rest) = data.split_first()?;
    let (status, rest) = rest.split_at_checked(2)?;
    let status = u16::from_le_bytes([status[0], status[1]]) % 600;
    let count = usize::from(flags >> 3);
    let (asked, rest) = rest.split_at_checked(count)?;
    let partitions = asked.iter().map(|&p| p.checked_sub(1).map(i32::from)).collect();
    let mut fields = rest.splitn(4, |&b| b == b'\n');
    let mut text = || -> Option<&str> {
        let field = fields.next()?;
        std::str::from_utf8(field).ok().filter(|s| !s.is_empty())
    };
    let content_type = text();
    let retry_after = text();
    let location = text();
    let body = fields.next().unwrap_or(b"");
    Some(Input {
        v3: flags & 1 != 0,
        must_be_v3: flags & 4 != 0,
        partitions,
        answer: ProxyAnswer {
            status,
            content_type,
            retry_after,
            location,
            body,
            broke_off: flags & 2 != 0,
        },
    })
}

/// Writes the input format of the module docs.
pub fn pack(input: &Input<'_>) -> Vec<u8> {
    let count = input.partitions.len().min(31) as u8;
    let flags = u8::from(input.v3)
        | u8::from(input.answer.broke_off) << 1
        | u8::from(input.must_be_v3) << 2
        | count << 3;
    let mut out = vec![flags];
    out.extend_from_slice(&input.answer.status.to_le_bytes());
    for p in input.partitions.iter().take(31) {
        out.push(p.map_or(0, |p| (p as u8).saturating_add(1)));
    }
    for field in [
        input.answer.content_type,
        input.answer.retry_after,
        input.answer.location,
    ] {
        out.extend_from_slice(field.unwrap_or("").as_bytes());
        out.push(b'\n');
    }
    out.extend_from_slice(input.answer.body);
    out
}

/// The fuzz target's check.
pub fn check(data: &[u8]) {
    let Some(input) = unpack(data) else { return };
    let api = if input.v3 { ApiVersion::V3 } else { ApiVersion::V2 };
    let outcomes = produce_outcomes(api, &input.answer, &input.partitions);
    assert_eq!(
        outcomes.len(),
        input.partitions.len(),
        "one outcome per record: {outcomes:?}"
    );
    for (outcome, asked) in outcomes.iter().zip(&input.partitions) {
        if let (Outcome::Confirmed { partition, .. }, Some(asked)) = (outcome, asked) {
            assert_eq!(
                partition, asked,
                "confirmed in another partition than asked: {outcomes:?}"
            );
        }
    }
    let _ = discovery(&input.answer, input.must_be_v3);
}
