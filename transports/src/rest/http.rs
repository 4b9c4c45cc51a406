//! One HTTP exchange with the proxy, and the line between "nothing was
//! sent" and "it may have been written".
//!
//! This is the only module that touches ureq. It turns every way an
//! exchange can end into either an [`Answer`] (a status line arrived; the
//! body may still have broken off) or a [`Failure`] whose class says what
//! the server may have seen:
//!
//! - the connection was never made (refused, DNS, connect timeout, TLS
//!   handshake): [`FailureClass::Retriable`], the request never left;
//! - anything after that (a reset, a timeout waiting for the answer, a
//!   malformed status line): [`FailureClass::Unknown`], because the proxy
//!   may have produced the records before the answer was lost.
//!
//! Timeouts use only ureq's per-phase limits (connect, send, receive
//! response, receive body). `timeout_global`, `timeout_per_call` and
//! `timeout_resolve` would make ureq resolve names on a helper thread, which
//! panics under WASI preview 2.

use core::time::Duration;
use std::io::{self, Read};

use base64::Engine as _;
use steadfast_core::{Failure, FailureClass};
use ureq::Agent;

use super::classify::retry_after_ms;
use super::config::{RestConfig, Secret};

/// The most response body kept: far more than any answer to a 1 MiB
/// request, small enough that a misbehaving server cannot exhaust memory.
const MAX_RESPONSE_BYTES: u64 = 16 * 1024 * 1024;

/// A status line and headers arrived.
#[derive(Debug)]
pub(crate) struct Answer {
    /// HTTP status.
    pub status: u16,
    /// The `Content-Type` header, if any.
    pub content_type: Option<String>,
    /// `Retry-After`, in milliseconds, when given in seconds.
    pub retry_after_ms: Option<u64>,
    /// `Location`, for a redirect.
    pub location: Option<String>,
    /// As much of the body as arrived.
    pub body: Vec<u8>,
    /// Why the body stopped short, if it did (always class Unknown).
    pub body_error: Option<Failure>,
}

impl Answer {
    /// The media type without parameters, lower case (`application/json`).
    pub fn mime(&self) -> Option<String> {
        let full = self.content_type.as_deref()?;
        let mime = full.split(';').next().unwrap_or("").trim();
        Some(mime.to_ascii_lowercase())
    }

    /// True when the body is declared to be JSON of some kind (or not
    /// declared at all: then the parser decides).
    pub fn is_json(&self) -> bool {
        match self.mime() {
            None => true,
            Some(mime) => mime == "application/json" || mime.ends_with("+json"),
        }
    }

    /// The first bytes of the body, printable, for a failure reason.
    pub fn snippet(&self) -> String {
        let text = String::from_utf8_lossy(&self.body[..self.body.len().min(60)]);
        text.chars()
            .map(|c| if c.is_control() { ' ' } else { c })
            .collect()
    }
}

/// The HTTP client, with the settings every request shares.
pub(crate) struct Http {
    agent: Agent,
    authorization: Option<Secret>,
    headers: Vec<(String, Secret)>,
}

impl Http {
    pub fn new(config: &RestConfig) -> Http {
        let deadline = Some(config.request_deadline);
        let settings = Agent::config_builder()
            .http_status_as_error(false)
            .max_redirects(0)
            // Below the idle timeouts of the proxies (Jetty 30 s, aiohttp
            // 75 s), so a pooled connection is rarely one the server closed
            // (a request lost on such a connection would come back
            // "unknown" and be sent twice).
            .max_idle_age(Duration::from_secs(10))
            .user_agent(concat!("steadfast/", env!("CARGO_PKG_VERSION")))
            .timeout_connect(Some(config.connect_timeout.min(config.request_deadline)))
            .timeout_send_request(deadline)
            .timeout_send_body(deadline)
            .timeout_recv_response(deadline)
            .timeout_recv_body(deadline)
            .build();
        // WASI cannot turn off Nagle's algorithm: without this, every
        // request waits for the server's delayed ACK (see `coalesce`).
        #[cfg(target_os = "wasi")]
        let agent = {
            use ureq::unversioned::resolver::DefaultResolver;
            use ureq::unversioned::transport::{Connector as _, DefaultConnector};
            let connector = DefaultConnector::new().chain(super::coalesce::CoalesceConnector);
            Agent::with_parts(settings, connector, DefaultResolver::default())
        };
        #[cfg(not(target_os = "wasi"))]
        let agent = settings.new_agent();
        let authorization = config.basic_auth.as_ref().map(|(user, password)| {
            let pair = format!("{user}:{}", password.expose());
            let encoded = base64::engine::general_purpose::STANDARD.encode(pair);
            Secret::new(format!("Basic {encoded}"))
        });
        Http {
            agent,
            authorization,
            headers: config.headers.clone(),
        }
    }

    /// `GET url`.
    pub fn get(&self, url: &str, accept: &str) -> Result<Answer, Failure> {
        let mut request = self.agent.get(url).header("Accept", accept);
        if let Some(auth) = &self.authorization {
            request = request.header("Authorization", auth.expose());
        }
        for (name, value) in &self.headers {
            request = request.header(name.as_str(), value.expose());
        }
        finish(request.call())
    }

    /// `POST url` with `body`.
    pub fn post(&self, url: &str, content_type: &str, accept: &str, body: &[u8]) -> Result<Answer, Failure> {
        let mut request = self
            .agent
            .post(url)
            .header("Content-Type", content_type)
            .header("Accept", accept);
        if let Some(auth) = &self.authorization {
            request = request.header("Authorization", auth.expose());
        }
        for (name, value) in &self.headers {
            request = request.header(name.as_str(), value.expose());
        }
        finish(request.send(body))
    }
}

fn finish(result: Result<ureq::http::Response<ureq::Body>, ureq::Error>) -> Result<Answer, Failure> {
    let response = result.map_err(transport_failure)?;
    let header = |name: &str| {
        response
            .headers()
            .get(name)
            .and_then(|v| v.to_str().ok())
            .map(str::to_owned)
    };
    let status = response.status().as_u16();
    let content_type = header("content-type");
    let retry_after_ms = header("retry-after").as_deref().and_then(retry_after_ms);
    let location = header("location");
    let mut reader = response
        .into_body()
        .into_with_config()
        .limit(MAX_RESPONSE_BYTES)
        .reader();
    let mut body = Vec::new();
    let body_error = read_all(&mut reader, &mut body).err().map(|e| {
        Failure::new(
            FailureClass::Unknown,
            0,
            &format!("answer broke off after {} bytes: {e}", body.len()),
        )
    });
    Ok(Answer {
        status,
        content_type,
        retry_after_ms,
        location,
        body,
        body_error,
    })
}

/// Reads to the end, keeping what arrived before an error.
fn read_all(reader: &mut impl Read, out: &mut Vec<u8>) -> io::Result<()> {
    let mut chunk = [0u8; 8192];
    loop {
        match reader.read(&mut chunk) {
            Ok(0) => return Ok(()),
            Ok(n) => out.extend_from_slice(&chunk[..n]),
            Err(e) if e.kind() == io::ErrorKind::Interrupted => {}
            Err(e) => return Err(e),
        }
    }
}

/// Where the line falls: see the module documentation.
fn transport_failure(err: ureq::Error) -> Failure {
    use ureq::{Error, Timeout};
    let not_sent = |what: &str| Failure::new(FailureClass::Retriable, 0, what);
    match &err {
        Error::HostNotFound => not_sent("proxy host name not found (DNS); nothing sent"),
        Error::ConnectionFailed => not_sent("could not connect to the proxy; nothing sent"),
        Error::Timeout(Timeout::Connect | Timeout::Resolve) => {
            not_sent("timed out connecting to the proxy; nothing sent")
        }
        Error::Io(e) if refused_before_sending(e) => {
            not_sent(&format!("could not connect to the proxy ({e}); nothing sent"))
        }
        Error::Tls(_)
        | Error::TlsRequired
        | Error::ConnectProxyFailed(_)
        | Error::InvalidProxyUrl
        | Error::RequireHttpsOnly(_) => {
            not_sent(&format!("could not set up the connection ({err}); nothing sent"))
        }
        #[cfg(feature = "tls")]
        Error::Rustls(_) | Error::Pem(_) => not_sent(&format!("TLS handshake failed ({err}); nothing sent")),
        Error::Http(_) | Error::BadUri(_) => Failure::new(
            FailureClass::Terminal,
            0,
            &format!("request could not be built: {err}"),
        ),
        Error::Timeout(phase) => Failure::new(
            FailureClass::Unknown,
            0,
            &format!("no answer within the request deadline ({phase}); records may be written"),
        ),
        _ => Failure::new(
            FailureClass::Unknown,
            0,
            &format!("connection failed after sending ({err}); records may be written"),
        ),
    }
}

/// An I/O error that can only come from `connect` (or name resolution).
fn refused_before_sending(e: &io::Error) -> bool {
    use io::ErrorKind as K;
    matches!(
        e.kind(),
        K::ConnectionRefused
            | K::HostUnreachable
            | K::NetworkUnreachable
            | K::NetworkDown
            | K::AddrNotAvailable
    ) || e.to_string().contains("lookup address")
}
