//! What a [`RestTransport`](super::RestTransport) needs to know, and the
//! checks that turn a typo into an error at start-up instead of a stream of
//! failed deliveries.
//!
//! [`RestConfig`] is a plain builder: setters never fail. Everything is
//! checked once, by [`RestConfig::validate`] (which
//! [`RestTransport::new`](super::RestTransport::new) calls), and every
//! [`RestConfigError`] says what to change. Secrets (the basic-auth password
//! and the values of extra headers, which usually carry API keys) live in
//! [`Secret`], whose `Debug` never shows them.

use core::fmt;
use core::time::Duration;

/// Which REST API generation to speak.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
#[non_exhaustive]
pub enum ApiVersion {
    /// `POST /topics/{topic}`: Confluent (all versions), Karapace, Redpanda.
    /// Record headers cannot travel, so neither can the message id.
    V2,
    /// `POST /v3/clusters/{id}/topics/{topic}/records`: Confluent REST
    /// Proxy 6.0+ and Confluent Cloud. Carries record headers.
    V3,
}

/// A string that never shows up in `Debug` output.
#[derive(Clone, PartialEq, Eq)]
pub struct Secret(String);

impl Secret {
    /// Wraps `text`.
    pub fn new(text: impl Into<String>) -> Self {
        Secret(text.into())
    }

    /// The secret itself, for the one place that sends it.
    pub fn expose(&self) -> &str {
        &self.0
    }
}

impl fmt::Debug for Secret {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("<redacted>")
    }
}

/// Default time one request may take before its records are reported
/// [`FailureClass::Unknown`](steadfast_core::FailureClass::Unknown).
pub const DEFAULT_REQUEST_DEADLINE: Duration = Duration::from_secs(30);
/// Default time to establish a TCP connection.
pub const DEFAULT_CONNECT_TIMEOUT: Duration = Duration::from_secs(10);
/// Default largest request body: Karapace refuses bodies over 1 MiB.
pub const DEFAULT_MAX_BODY_BYTES: usize = 1024 * 1024;
/// Smallest accepted body cap: room for one small record and its framing.
pub const MIN_BODY_BYTES: usize = 256;

/// Settings of a [`RestTransport`](super::RestTransport), builder style.
///
/// ```
/// use core::time::Duration;
/// use steadfast_transports::rest::{ApiVersion, RestConfig};
///
/// let config = RestConfig::new("http://127.0.0.1:8082")
///     .api_version(ApiVersion::V3)
///     .basic_auth("producer", "s3cret")
///     .header("X-Api-Key", "k-123")
///     .request_deadline(Duration::from_secs(10));
/// assert!(!format!("{config:?}").contains("s3cret"));
/// assert!(!format!("{config:?}").contains("k-123"));
/// ```
#[derive(Clone)]
pub struct RestConfig {
    pub(crate) url: String,
    pub(crate) api_version: Option<ApiVersion>,
    pub(crate) cluster_id: Option<String>,
    pub(crate) basic_auth: Option<(String, Secret)>,
    pub(crate) headers: Vec<(String, Secret)>,
    pub(crate) request_deadline: Duration,
    pub(crate) connect_timeout: Duration,
    pub(crate) max_body_bytes: usize,
}

impl fmt::Debug for RestConfig {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let header_names: Vec<&str> = self.headers.iter().map(|(n, _)| n.as_str()).collect();
        f.debug_struct("RestConfig")
            .field("url", &redact_userinfo(&self.url))
            .field("api_version", &self.api_version)
            .field("cluster_id", &self.cluster_id)
            .field("basic_auth_user", &self.basic_auth.as_ref().map(|(user, _)| user))
            .field("header_names", &header_names)
            .field("request_deadline", &self.request_deadline)
            .field("connect_timeout", &self.connect_timeout)
            .field("max_body_bytes", &self.max_body_bytes)
            .finish()
    }
}

impl RestConfig {
    /// Settings for the proxy at `url`: `http://host:port`, optionally
    /// followed by a path prefix (`http://host:8082/kafka` for a proxy
    /// mounted under `/kafka`, as Confluent Cloud is). A trailing `/v3` is
    /// accepted and means "speak v3".
    pub fn new(url: impl Into<String>) -> Self {
        RestConfig {
            url: url.into(),
            api_version: None,
            cluster_id: None,
            basic_auth: None,
            headers: Vec::new(),
            request_deadline: DEFAULT_REQUEST_DEADLINE,
            connect_timeout: DEFAULT_CONNECT_TIMEOUT,
            max_body_bytes: DEFAULT_MAX_BODY_BYTES,
        }
    }

    /// Speaks `version` instead of detecting it. Detection (the default)
    /// asks `GET {base}/v3/clusters` once: a cluster list means v3 with that
    /// cluster, anything else means v2.
    #[must_use]
    pub fn api_version(mut self, version: ApiVersion) -> Self {
        self.api_version = Some(version);
        self
    }

    /// Uses this v3 cluster id instead of asking `GET /v3/clusters` (and
    /// implies v3 unless a version was set).
    #[must_use]
    pub fn cluster_id(mut self, id: impl Into<String>) -> Self {
        self.cluster_id = Some(id.into());
        self
    }

    /// Sends HTTP basic authentication (Confluent Cloud: API key and secret).
    #[must_use]
    pub fn basic_auth(mut self, user: impl Into<String>, password: impl Into<String>) -> Self {
        self.basic_auth = Some((user.into(), Secret::new(password)));
        self
    }

    /// Adds a header sent with every request (an API key, a tenant id).
    /// Its value is treated as a secret.
    #[must_use]
    pub fn header(mut self, name: impl Into<String>, value: impl Into<String>) -> Self {
        self.headers.push((name.into(), Secret::new(value)));
        self
    }

    /// How long one request may wait for its answer, and then for the rest
    /// of the answer's body (default 30 s). A proxy whose brokers are gone
    /// can hang for minutes; when the deadline passes the records of that
    /// request are reported as "outcome unknown" and sent again.
    #[must_use]
    pub fn request_deadline(mut self, deadline: Duration) -> Self {
        self.request_deadline = deadline;
        self
    }

    /// How long to wait for a TCP connection (default 10 s, never more than
    /// the request deadline). A failure to connect is retriable: nothing was
    /// sent.
    #[must_use]
    pub fn connect_timeout(mut self, timeout: Duration) -> Self {
        self.connect_timeout = timeout;
        self
    }

    /// Largest request body in bytes (default 1 MiB, Karapace's cap).
    /// Batches are split so that every body stays at or below it; a single
    /// record that cannot fit is a terminal failure for that record alone.
    #[must_use]
    pub fn max_body_bytes(mut self, bytes: usize) -> Self {
        self.max_body_bytes = bytes;
        self
    }

    /// Checks every setting; the transport calls this on construction.
    pub fn validate(&self) -> Result<ProxyUrl, RestConfigError> {
        let url = ProxyUrl::parse(&self.url)?;
        if let Some(id) = &self.cluster_id
            && (id.is_empty() || !id.bytes().all(is_cluster_id_byte))
        {
            return Err(RestConfigError::InvalidClusterId { id: id.clone() });
        }
        if let Some((user, _)) = &self.basic_auth
            && (user.contains(':') || user.chars().any(char::is_control))
        {
            return Err(RestConfigError::InvalidUser);
        }
        for (name, value) in &self.headers {
            if name.is_empty() || !name.bytes().all(is_token_byte) {
                return Err(RestConfigError::InvalidHeaderName { name: name.clone() });
            }
            if value
                .expose()
                .bytes()
                .any(|b| b < 0x20 && b != b'\t' || b == 0x7f)
            {
                return Err(RestConfigError::InvalidHeaderValue { name: name.clone() });
            }
        }
        if self.request_deadline.is_zero() || self.connect_timeout.is_zero() {
            return Err(RestConfigError::ZeroTimeout);
        }
        if self.max_body_bytes < MIN_BODY_BYTES {
            return Err(RestConfigError::BodyCapTooSmall {
                bytes: self.max_body_bytes,
            });
        }
        Ok(url)
    }
}

fn is_cluster_id_byte(b: u8) -> bool {
    b.is_ascii_alphanumeric() || b == b'-' || b == b'_' || b == b'.'
}

/// RFC 9110 `tchar`.
fn is_token_byte(b: u8) -> bool {
    b.is_ascii_alphanumeric() || b"!#$%&'*+-.^_`|~".contains(&b)
}

/// The proxy's address, checked: scheme, authority and path prefix.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct ProxyUrl {
    /// `http://host:port/prefix`, without a trailing slash or `/v3`.
    pub(crate) base: String,
    /// The URL ended in `/v3`.
    pub(crate) says_v3: bool,
}

impl ProxyUrl {
    fn parse(raw: &str) -> Result<ProxyUrl, RestConfigError> {
        let bad = |reason: &'static str| RestConfigError::MalformedUrl {
            url: redact_userinfo(raw),
            reason,
        };
        let trimmed = raw.trim();
        let (scheme, rest) = trimmed.split_once("://").ok_or(bad("no http:// scheme"))?;
        match scheme.to_ascii_lowercase().as_str() {
            "http" => {}
            "https" if cfg!(feature = "tls") => {}
            "https" => {
                return Err(RestConfigError::TlsNotEnabled {
                    url: redact_userinfo(raw),
                });
            }
            _ => return Err(bad("the scheme must be http or https")),
        }
        if rest.contains(['?', '#']) {
            return Err(bad("a query or fragment is not allowed"));
        }
        if rest.bytes().any(|b| b <= b' ' || b >= 0x7f) {
            return Err(bad("spaces and non-ASCII characters are not allowed"));
        }
        let (authority, path) = match rest.find('/') {
            Some(at) => rest.split_at(at),
            None => (rest, ""),
        };
        if authority.contains('@') {
            return Err(RestConfigError::CredentialsInUrl {
                url: redact_userinfo(raw),
            });
        }
        check_authority(authority).map_err(bad)?;
        let mut path = path.trim_end_matches('/');
        let says_v3 = path.ends_with("/v3");
        if says_v3 {
            path = path[..path.len() - 3].trim_end_matches('/');
        }
        if path.split('/').any(|seg| seg == "." || seg == "..") {
            return Err(bad("the path prefix may not contain . or .. segments"));
        }
        let base = format!("{}://{authority}{path}", scheme.to_ascii_lowercase());
        // Let the HTTP stack agree before any request depends on it.
        if ureq::http::Uri::try_from(format!("{base}/v3/clusters")).is_err() {
            return Err(bad("the HTTP library cannot parse it"));
        }
        Ok(ProxyUrl { base, says_v3 })
    }

    /// `http://host:port/prefix`.
    pub fn base(&self) -> &str {
        &self.base
    }
}

fn check_authority(authority: &str) -> Result<(), &'static str> {
    let (host, port) = if let Some(rest) = authority.strip_prefix('[') {
        let (host, after) = rest.split_once(']').ok_or("unclosed [ in an IPv6 host")?;
        if host.parse::<core::net::Ipv6Addr>().is_err() {
            return Err("the IPv6 host is not valid");
        }
        match after {
            "" => (host, None),
            _ => (
                host,
                Some(after.strip_prefix(':').ok_or("junk after the IPv6 host")?),
            ),
        }
    } else {
        match authority.rsplit_once(':') {
            Some((host, port)) => (host, Some(port)),
            None => (authority, None),
        }
    };
    if host.is_empty() {
        return Err("the host is missing");
    }
    let bracketed = authority.starts_with('[');
    let host_ok = bracketed
        || host
            .bytes()
            .all(|b| b.is_ascii_alphanumeric() || b == b'-' || b == b'.' || b == b'_');
    if !host_ok {
        return Err("the host has characters a host name cannot have");
    }
    if let Some(port) = port {
        match port.parse::<u16>() {
            Ok(0) | Err(_) => return Err("the port must be a number from 1 to 65535"),
            Ok(_) => {}
        }
    }
    Ok(())
}

/// `scheme://user:pass@host` → `scheme://<redacted>@host`, so an error
/// message never repeats a password.
fn redact_userinfo(raw: &str) -> String {
    let (scheme, rest) = match raw.split_once("://") {
        Some((scheme, rest)) => (Some(scheme), rest),
        None => (None, raw),
    };
    let authority_end = rest.find(['/', '?', '#']).unwrap_or(rest.len());
    let redacted = match rest[..authority_end].rfind('@') {
        Some(at) => format!("<redacted>{}", &rest[at..]),
        None => rest.to_owned(),
    };
    match scheme {
        Some(scheme) => format!("{scheme}://{redacted}"),
        None => redacted,
    }
}

/// A setting that cannot work; the message says what to change.
#[derive(Clone, Debug, PartialEq, Eq)]
#[non_exhaustive]
pub enum RestConfigError {
    /// The proxy URL cannot be parsed.
    MalformedUrl {
        /// The URL as given (credentials removed).
        url: String,
        /// What is wrong with it.
        reason: &'static str,
    },
    /// An `https://` URL, but this build has no TLS.
    TlsNotEnabled {
        /// The URL as given (credentials removed).
        url: String,
    },
    /// The URL carries `user:password@`; use [`RestConfig::basic_auth`].
    CredentialsInUrl {
        /// The URL with the credentials removed.
        url: String,
    },
    /// The cluster id has characters a cluster id never has.
    InvalidClusterId {
        /// The id as given.
        id: String,
    },
    /// The basic-auth user name contains `:` or a control character.
    InvalidUser,
    /// An extra header name is not an HTTP token.
    InvalidHeaderName {
        /// The name as given.
        name: String,
    },
    /// An extra header value contains a control character (such as a line
    /// break).
    InvalidHeaderValue {
        /// The header's name (its value is a secret and is not shown).
        name: String,
    },
    /// The request deadline or connect timeout is zero.
    ZeroTimeout,
    /// The body cap is below [`MIN_BODY_BYTES`].
    BodyCapTooSmall {
        /// The cap as given.
        bytes: usize,
    },
}

impl fmt::Display for RestConfigError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            RestConfigError::MalformedUrl { url, reason } => write!(
                f,
                "malformed REST proxy URL `{url}`: expected http://host:port \
                 (optionally followed by a path prefix such as /kafka); {reason}"
            ),
            RestConfigError::TlsNotEnabled { url } => write!(
                f,
                "REST proxy URL `{url}` needs TLS, but steadfast-transports was built \
                 without its `tls` feature: enable it, or use http://"
            ),
            RestConfigError::CredentialsInUrl { url } => write!(
                f,
                "REST proxy URL `{url}` carries credentials: remove `user:password@` \
                 and set them with RestConfig::basic_auth"
            ),
            RestConfigError::InvalidClusterId { id } => write!(
                f,
                "cluster id `{id}` is not valid: it should look like `xFhUvurESIeeCI87SXWR-Q` \
                 (as listed by GET /v3/clusters)"
            ),
            RestConfigError::InvalidUser => {
                f.write_str("basic-auth user name may not contain `:` or control characters")
            }
            RestConfigError::InvalidHeaderName { name } => write!(
                f,
                "extra header name `{name}` is not a valid HTTP header name \
                 (letters, digits and !#$%&'*+-.^_`|~ only)"
            ),
            RestConfigError::InvalidHeaderValue { name } => write!(
                f,
                "the value of extra header `{name}` contains a control character \
                 such as a line break"
            ),
            RestConfigError::ZeroTimeout => {
                f.write_str("the request deadline and connect timeout must be above zero")
            }
            RestConfigError::BodyCapTooSmall { bytes } => write!(
                f,
                "max_body_bytes is {bytes}: it must be at least {MIN_BODY_BYTES}"
            ),
        }
    }
}

impl core::error::Error for RestConfigError {}

#[cfg(test)]
mod tests {
    use super::*;

    fn base(url: &str) -> Result<String, RestConfigError> {
        RestConfig::new(url).validate().map(|u| u.base)
    }

    #[test]
    fn accepts_host_port_and_prefixes() {
        assert_eq!(
            base("http://127.0.0.1:8082").as_deref(),
            Ok("http://127.0.0.1:8082")
        );
        assert_eq!(base("http://proxy/").as_deref(), Ok("http://proxy"));
        assert_eq!(
            base("HTTP://[::1]:80/kafka/").as_deref(),
            Ok("http://[::1]:80/kafka")
        );
        let url = RestConfig::new("http://h:1/kafka/v3").validate();
        assert_eq!(
            url,
            Ok(ProxyUrl {
                base: "http://h:1/kafka".into(),
                says_v3: true
            })
        );
    }

    #[test]
    fn rejects_malformed_urls_with_an_actionable_message() {
        for url in [
            "127.0.0.1:8082",
            "ftp://h:1",
            "http://",
            "http://h:0",
            "http://h:99999",
            "http://h:x",
            "http://h q:1",
            "http://h:1/?a=b",
            "http://[::1:80",
        ] {
            let err = base(url).err().map(|e| e.to_string()).unwrap_or_default();
            assert!(err.contains("expected http://host:port"), "{url}: {err}");
        }
    }

    #[test]
    fn never_echoes_credentials() {
        let err = base("http://bob:hunter2@h:1").err().map(|e| e.to_string());
        let err = err.unwrap_or_default();
        assert!(err.contains("basic_auth") && !err.contains("hunter2"), "{err}");
        let config = RestConfig::new("http://bob:hunter2@h:1")
            .basic_auth("bob", "hunter2")
            .header("X-Key", "abc123");
        let shown = format!("{config:?}");
        assert!(!shown.contains("hunter2") && !shown.contains("abc123"), "{shown}");
    }

    #[test]
    fn checks_headers_and_limits() {
        let bad_name = RestConfig::new("http://h:1").header("X Key", "v").validate();
        assert!(matches!(bad_name, Err(RestConfigError::InvalidHeaderName { .. })));
        let bad_value = RestConfig::new("http://h:1").header("K", "a\r\nB: c").validate();
        assert!(matches!(
            bad_value,
            Err(RestConfigError::InvalidHeaderValue { .. })
        ));
        let tiny = RestConfig::new("http://h:1").max_body_bytes(10).validate();
        assert!(matches!(
            tiny,
            Err(RestConfigError::BodyCapTooSmall { bytes: 10 })
        ));
        let zero = RestConfig::new("http://h:1")
            .request_deadline(Duration::ZERO)
            .validate();
        assert_eq!(zero, Err(RestConfigError::ZeroTimeout));
    }
}
