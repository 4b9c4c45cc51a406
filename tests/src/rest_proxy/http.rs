//! The HTTP messages the test server exchanges: a parsed [`Request`], the
//! [`Response`] to write, what to do with it ([`Reply`]: answer, reset half
//! way, hang), and the helpers every API handler shares for error bodies
//! and media types.
//!
//! Its own file so that the connection loop (`wire`), the router (`route`)
//! and the API handlers (`v2`, `v3`, `produce`, `inspect`) all depend on it
//! and not on each other.

/// A parsed request.
#[derive(Debug)]
pub(crate) struct Request {
    pub method: String,
    /// Path without the query string.
    pub path: String,
    pub headers: Vec<(String, String)>,
    pub body: Vec<u8>,
}

impl Request {
    /// A header's value (names compare case-insensitively).
    pub fn header(&self, name: &str) -> Option<&str> {
        self.headers
            .iter()
            .find(|(n, _)| n.eq_ignore_ascii_case(name))
            .map(|(_, v)| v.as_str())
    }
}

/// An answer, before it is put on the wire.
#[derive(Clone, Debug)]
pub(crate) struct Response {
    pub status: u16,
    pub headers: Vec<(String, String)>,
    /// Sent with `Transfer-Encoding: chunked`, one chunk each, when more
    /// than one; otherwise with `Content-Length`.
    pub chunks: Vec<Vec<u8>>,
    pub chunked: bool,
}

impl Response {
    pub fn new(status: u16, content_type: &str, body: Vec<u8>) -> Response {
        Response {
            status,
            headers: vec![("Content-Type".into(), content_type.into())],
            chunks: vec![body],
            chunked: false,
        }
    }

    /// A streamed answer: one chunk per piece.
    pub fn streamed(status: u16, content_type: &str, chunks: Vec<Vec<u8>>) -> Response {
        Response {
            status,
            headers: vec![("Content-Type".into(), content_type.into())],
            chunks,
            chunked: true,
        }
    }

    #[must_use]
    pub fn with_header(mut self, name: &str, value: &str) -> Response {
        self.headers.push((name.into(), value.into()));
        self
    }

    pub(super) fn to_bytes(&self) -> Vec<u8> {
        let mut out = format!("HTTP/1.1 {} {}\r\n", self.status, reason(self.status)).into_bytes();
        for (name, value) in &self.headers {
            out.extend_from_slice(format!("{name}: {value}\r\n").as_bytes());
        }
        if self.chunked {
            out.extend_from_slice(b"Transfer-Encoding: chunked\r\n\r\n");
            for chunk in self.chunks.iter().filter(|c| !c.is_empty()) {
                out.extend_from_slice(format!("{:x}\r\n", chunk.len()).as_bytes());
                out.extend_from_slice(chunk);
                out.extend_from_slice(b"\r\n");
            }
            out.extend_from_slice(b"0\r\n\r\n");
        } else {
            let body: Vec<u8> = self.chunks.concat();
            out.extend_from_slice(format!("Content-Length: {}\r\n\r\n", body.len()).as_bytes());
            out.extend_from_slice(&body);
        }
        out
    }
}

/// What to do with a request.
#[derive(Debug)]
pub(crate) enum Reply {
    /// Answer (and keep the connection unless the client asked to close).
    Send(Response),
    /// Send the first half of this answer, then reset the connection.
    ResetMidway(Response),
    /// Never answer; hold the connection until the server stops.
    Hang,
}

fn reason(status: u16) -> &'static str {
    match status {
        100 => "Continue",
        200 => "OK",
        207 => "Multi-Status",
        400 => "Bad Request",
        401 => "Unauthorized",
        403 => "Forbidden",
        404 => "Not Found",
        406 => "Not Acceptable",
        413 => "Payload Too Large",
        415 => "Unsupported Media Type",
        422 => "Unprocessable Entity",
        429 => "Too Many Requests",
        500 => "Internal Server Error",
        502 => "Bad Gateway",
        503 => "Service Unavailable",
        _ => "Status",
    }
}

/// `{"error_code": code, "message": message}` with HTTP `status`.
pub(crate) fn error(status: u16, code: i64, message: &str, content_type: &str) -> Response {
    let body = serde_json::json!({ "error_code": code, "message": message });
    Response::new(status, content_type, body.to_string().into_bytes())
}

/// The media type of a `Content-Type` value, lower case, and whether it
/// carried parameters (`; charset=…`).
pub(crate) fn media_type(value: Option<&str>) -> (String, bool) {
    let value = value.unwrap_or("");
    let mut parts = value.split(';');
    let mime = parts.next().unwrap_or("").trim().to_ascii_lowercase();
    let has_params = parts.any(|p| !p.trim().is_empty());
    (mime, has_params)
}

/// Whether an `Accept` header admits one of `offered` (absent: anything).
pub(crate) fn accepts(value: Option<&str>, offered: &[&str]) -> bool {
    let Some(value) = value else { return true };
    value.split(',').any(|entry| {
        let (mime, _) = media_type(Some(entry));
        mime == "*/*" || mime == "application/*" || offered.contains(&mime.as_str())
    })
}
