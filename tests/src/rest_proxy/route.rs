//! From a request to the handler that answers it: the path prefix, basic
//! auth, and which API the flavor serves.

use base64::Engine as _;

use super::config::Flavor;
use super::http::{Reply, Request, Response, error};
use super::state::{SeenRequest, Shared};
use super::{inspect, v2, v3};

/// Answers one request (and logs it).
pub(crate) fn handle(shared: &Shared, request: &Request) -> Reply {
    let reply = dispatch(shared, request);
    let status = match &reply {
        Reply::Send(r) => r.status,
        Reply::ResetMidway(_) | Reply::Hang => 0,
    };
    shared.log_request(SeenRequest {
        method: request.method.clone(),
        path: request.path.clone(),
        body_len: request.body.len(),
        status,
    });
    reply
}

fn dispatch(shared: &Shared, request: &Request) -> Reply {
    if let Some(answer) = inspect::answer(shared, request) {
        return Reply::Send(answer);
    }
    let flavor = shared.config.flavor;
    let Some(path) = request.path.strip_prefix(shared.config.prefix.as_str()) else {
        return Reply::Send(not_found(flavor));
    };
    if let Some(refusal) = check_auth(shared, request) {
        return Reply::Send(refusal);
    }
    let segments: Vec<String> = path
        .trim_start_matches('/')
        .split('/')
        .map(percent_decode)
        .collect();
    let segments: Vec<&str> = segments.iter().map(String::as_str).collect();
    let v3 = flavor == Flavor::ConfluentV3;
    match (request.method.as_str(), segments.as_slice()) {
        ("GET", ["v3", "clusters"]) if v3 => Reply::Send(v3::clusters(shared)),
        ("POST", ["v3", "clusters", cluster, "topics", topic, "records"]) if v3 => {
            v3::produce(shared, request, cluster, topic)
        }
        ("POST", ["topics", topic]) => v2::produce(shared, request, topic, None),
        ("POST", ["topics", topic, "partitions", partition]) => match partition.parse::<i32>() {
            Ok(p) => v2::produce(shared, request, topic, Some(p)),
            Err(_) => Reply::Send(not_found(flavor)),
        },
        _ => Reply::Send(not_found(flavor)),
    }
}

/// The JSON media type a flavor answers with.
pub(crate) fn json_type(flavor: Flavor, v3: bool) -> &'static str {
    match (flavor, v3) {
        (_, true) => "application/json",
        _ => "application/vnd.kafka.v2+json",
    }
}

fn not_found(flavor: Flavor) -> Response {
    error(
        404,
        404,
        "HTTP 404 Not Found",
        json_type(flavor, flavor == Flavor::ConfluentV3),
    )
}

fn check_auth(shared: &Shared, request: &Request) -> Option<Response> {
    let (user, password) = shared.config.auth.as_ref()?;
    let content_type = "application/json";
    let presented = request
        .header("authorization")
        .and_then(|v| v.strip_prefix("Basic "))
        .and_then(|b64| base64::engine::general_purpose::STANDARD.decode(b64.trim()).ok());
    match presented {
        None => Some(
            error(401, 401, "Unauthorized", content_type)
                .with_header("WWW-Authenticate", "Basic realm=\"kafka-rest\""),
        ),
        Some(pair) if pair == format!("{user}:{password}").as_bytes() => None,
        Some(_) => Some(error(403, 403, "Forbidden", content_type)),
    }
}

fn percent_decode(segment: &str) -> String {
    let bytes = segment.as_bytes();
    let mut out = Vec::with_capacity(bytes.len());
    let mut i = 0;
    while i < bytes.len() {
        let hex = bytes.get(i + 1..i + 3).and_then(|h| core::str::from_utf8(h).ok());
        match (bytes[i], hex.and_then(|h| u8::from_str_radix(h, 16).ok())) {
            (b'%', Some(byte)) => {
                out.push(byte);
                i += 3;
            }
            (byte, _) => {
                out.push(byte);
                i += 1;
            }
        }
    }
    String::from_utf8_lossy(&out).into_owned()
}
