//! The test-only inspection endpoint, for tests that run the server in
//! another process (`rest-proxy --inspect`) and so cannot call
//! [`RestProxy::records`](super::RestProxy::records):
//!
//! `GET /_test/topics/{topic}/records` answers 200, `application/x-ndjson`,
//! one JSON object per stored record, partition by partition in offset
//! order:
//!
//! ```json
//! {"partition":0,"offset":3,"key":null,"value":"aGVsbG8=",
//!  "headers":[["steadfast-id","MDAw…"]],"timestamp":null}
//! ```
//!
//! Key, value and header values are base64 (`null` for a Kafka null). The
//! path is outside any prefix and needs no credentials. No real proxy has
//! it, so it exists only when [`ProxyConfig::inspect_endpoint`] turned it
//! on: by default the server 404s there like the proxies do.
//!
//! [`ProxyConfig::inspect_endpoint`]: super::ProxyConfig::inspect_endpoint

use base64::Engine as _;
use base64::engine::general_purpose::STANDARD;

use super::http::{Request, Response};
use super::state::Shared;

/// The answer to an inspection request, or `None` if `request` is not one
/// (or the endpoint is off).
pub(crate) fn answer(shared: &Shared, request: &Request) -> Option<Response> {
    if !shared.config.inspect || request.method != "GET" {
        return None;
    }
    let topic = request
        .path
        .strip_prefix("/_test/topics/")?
        .strip_suffix("/records")?;
    let b64 = |bytes: &Option<Vec<u8>>| bytes.as_ref().map(|b| STANDARD.encode(b));
    let mut body = Vec::new();
    for record in shared.log(topic) {
        let headers: Vec<(String, Option<String>)> = record
            .headers
            .iter()
            .map(|(name, value)| (name.clone(), b64(value)))
            .collect();
        let line = serde_json::json!({
            "partition": record.partition,
            "offset": record.offset,
            "key": b64(&record.key),
            "value": b64(&record.value),
            "headers": headers,
            "timestamp": record.timestamp,
        });
        body.extend_from_slice(line.to_string().as_bytes());
        body.push(b'\n');
    }
    Some(Response::new(200, "application/x-ndjson", body))
}
