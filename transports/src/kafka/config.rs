//! Configuration of the librdkafka transport.
//!
//! A [`KafkaConfig`] is the bootstrap server list plus librdkafka properties
//! passed through unchanged (`key=value`, exactly as librdkafka's
//! `CONFIGURATION.md` documents them: TLS with `security.protocol=ssl` and
//! `ssl.*`, SASL PLAIN / SCRAM / OAUTHBEARER with `sasl.*`). Property names
//! are checked by librdkafka itself, so an unknown or misspelt name is a
//! [`ConfigError::UnknownProperty`], never silently ignored.
//!
//! Three properties are the transport's, not the user's: `enable.idempotence`
//! is always `true` and `acks` always `all` (a confirmation must mean every
//! in-sync replica has the record), and `transactional.id` /
//! `delivery.report.only.error` are refused. Setting them to anything else
//! is a [`ConfigError::Conflicting`].
//!
//! Defaults ([`KafkaConfig::DEFAULTS`]), each overridable:
//!
//! | property | default | why |
//! |---|---|---|
//! | `message.timeout.ms` | 30000 | librdkafka gives up after 30 s; the core resends ("outcome unknown") |
//! | `linger.ms` | 5 | small batches, low latency |
//! | `reconnect.backoff.ms` | 50 | reconnect quickly after an outage |
//! | `reconnect.backoff.max.ms` | 1000 | librdkafka's 10 s default delays recovery after a broker comes back |
//! | `client.id` | `steadfast` | recognisable in broker logs |
//!
//! Secrets — every property whose name contains `password`, `secret`,
//! `sasl.oauthbearer` or `ssl.key` — are replaced by `<redacted>` in `Debug`
//! output and in error messages.

use core::fmt;
use core::str::FromStr;
use core::time::Duration;
use std::collections::BTreeMap;

use rdkafka::ClientConfig;
use rdkafka::error::KafkaError;
use rdkafka::types::RDKafkaConfRes;

/// Text shown instead of a secret value.
const REDACTED: &str = "<redacted>";

/// Name fragments that mark a property as secret.
const SECRET_MARKERS: [&str; 4] = ["password", "secret", "sasl.oauthbearer", "ssl.key"];

/// The port used when a URL names none.
pub const DEFAULT_PORT: u16 = 9092;

/// Whether a property's value must never be shown (see the module doc).
pub fn is_secret(name: &str) -> bool {
    let name = name.to_ascii_lowercase();
    SECRET_MARKERS.iter().any(|marker| name.contains(marker))
}

/// Connection settings and librdkafka properties for
/// [`KafkaTransport`](super::KafkaTransport).
#[derive(Clone, PartialEq, Eq)]
pub struct KafkaConfig {
    bootstrap_servers: String,
    properties: BTreeMap<String, String>,
    close_timeout: Duration,
}

impl KafkaConfig {
    /// Properties set unless the user sets them (see the module doc).
    pub const DEFAULTS: [(&'static str, &'static str); 5] = [
        ("message.timeout.ms", "30000"),
        ("linger.ms", "5"),
        ("reconnect.backoff.ms", "50"),
        ("reconnect.backoff.max.ms", "1000"),
        ("client.id", "steadfast"),
    ];

    /// How long dropping the transport waits for outstanding deliveries by default.
    pub const DEFAULT_CLOSE_TIMEOUT: Duration = Duration::from_secs(2);

    /// A configuration for `bootstrap_servers` (`host:port[,host:port…]`).
    pub fn new(bootstrap_servers: impl Into<String>) -> Self {
        KafkaConfig {
            bootstrap_servers: bootstrap_servers.into(),
            properties: BTreeMap::new(),
            close_timeout: Self::DEFAULT_CLOSE_TIMEOUT,
        }
    }

    /// A configuration from a `kafka://host:port[,host:port…][/topic]` URL,
    /// with the URL's topic (if any).
    pub fn from_url(url: &str) -> Result<(Self, Option<String>), ConfigError> {
        let url: KafkaUrl = url.parse()?;
        Ok((KafkaConfig::new(url.bootstrap_servers), url.topic))
    }

    /// Sets a librdkafka property (unchecked until
    /// [`client_config`](Self::client_config)). `bootstrap.servers` and its
    /// alias `metadata.broker.list` replace the bootstrap list.
    pub fn set(&mut self, name: impl Into<String>, value: impl Into<String>) -> &mut Self {
        let name = name.into();
        let value = value.into();
        if name == "bootstrap.servers" || name == "metadata.broker.list" {
            self.bootstrap_servers = value;
        } else {
            self.properties.insert(name, value);
        }
        self
    }

    /// [`set`](Self::set), by value, for building.
    #[must_use]
    pub fn with(mut self, name: impl Into<String>, value: impl Into<String>) -> Self {
        self.set(name, value);
        self
    }

    /// Parses `key=value` and sets it, checking with librdkafka that the
    /// property exists and the value is valid.
    pub fn set_str(&mut self, text: &str) -> Result<&mut Self, ConfigError> {
        let (name, value) = parse_property(text)?;
        let mut probe = ClientConfig::new();
        probe.set(name, value);
        if name != "bootstrap.servers" && name != "metadata.broker.list" {
            probe
                .create_native_config()
                .map_err(|e| map_config_error(e, &[(name, value)]))?;
        }
        Ok(self.set(name, value))
    }

    /// How long dropping or closing the transport waits for outstanding
    /// deliveries before giving up on them (they stay journaled upstream).
    #[must_use]
    pub fn with_close_timeout(mut self, timeout: Duration) -> Self {
        self.close_timeout = timeout;
        self
    }

    /// The bootstrap server list.
    pub fn bootstrap_servers(&self) -> &str {
        &self.bootstrap_servers
    }

    /// A property as the user set it (defaults not included).
    pub fn get(&self, name: &str) -> Option<&str> {
        self.properties.get(name).map(String::as_str)
    }

    /// The user's properties, in name order (secrets included: do not log).
    pub fn properties(&self) -> impl Iterator<Item = (&str, &str)> {
        self.properties.iter().map(|(k, v)| (k.as_str(), v.as_str()))
    }

    /// The close timeout (see [`with_close_timeout`](Self::with_close_timeout)).
    pub fn close_timeout(&self) -> Duration {
        self.close_timeout
    }

    /// The full librdkafka configuration: defaults, the user's properties,
    /// then the transport's own. Every name and value is checked by
    /// librdkafka.
    pub fn client_config(&self) -> Result<ClientConfig, ConfigError> {
        if self.bootstrap_servers.trim().is_empty() {
            return Err(ConfigError::MissingBootstrapServers);
        }
        for (name, value) in &self.properties {
            check_not_conflicting(name, value)?;
        }
        let mut config = ClientConfig::new();
        for (name, value) in Self::DEFAULTS {
            config.set(name, value);
        }
        for (name, value) in &self.properties {
            config.set(name, value);
        }
        config
            .set("bootstrap.servers", &self.bootstrap_servers)
            .set("enable.idempotence", "true")
            .set("acks", "all");
        config.create_native_config().map_err(|e| self.map_error(e))?;
        Ok(config)
    }

    /// Checks the configuration without connecting (see
    /// [`client_config`](Self::client_config)).
    pub fn validate(&self) -> Result<(), ConfigError> {
        self.client_config().map(drop)
    }

    /// Maps a librdkafka error about this configuration, secrets redacted.
    pub(crate) fn map_error(&self, error: KafkaError) -> ConfigError {
        let props: Vec<(&str, &str)> = self.properties().collect();
        map_config_error(error, &props)
    }
}

impl fmt::Debug for KafkaConfig {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        struct Props<'a>(&'a BTreeMap<String, String>);
        impl fmt::Debug for Props<'_> {
            fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
                let mut map = f.debug_map();
                for (name, value) in self.0 {
                    let shown = if is_secret(name) { REDACTED } else { value };
                    map.entry(name, &shown);
                }
                map.finish()
            }
        }
        f.debug_struct("KafkaConfig")
            .field("bootstrap_servers", &self.bootstrap_servers)
            .field("properties", &Props(&self.properties))
            .field("close_timeout", &self.close_timeout)
            .finish()
    }
}

/// Refuses settings that would break the delivery contract.
fn check_not_conflicting(name: &str, value: &str) -> Result<(), ConfigError> {
    let value = value.trim().to_ascii_lowercase();
    let conflict = |reason| {
        Err(ConfigError::Conflicting {
            name: name.to_owned(),
            reason,
        })
    };
    match name {
        "enable.idempotence" if value != "true" => conflict("the transport needs the idempotent producer"),
        "acks" | "request.required.acks" if value != "all" && value != "-1" => {
            conflict("a confirmation must mean acks=all")
        }
        "transactional.id" => conflict("transactions are not supported"),
        "delivery.report.only.error" if value != "false" => conflict("every delivery must be reported"),
        _ => Ok(()),
    }
}

/// Maps librdkafka's configuration and creation errors, redacting the
/// values of secret properties wherever they appear.
fn map_config_error(error: KafkaError, props: &[(&str, &str)]) -> ConfigError {
    let redact = |text: &str| {
        let mut text = text.to_owned();
        for (name, value) in props {
            if is_secret(name) && !value.is_empty() {
                text = text.replace(value, REDACTED);
            }
        }
        text
    };
    match error {
        KafkaError::ClientConfig(RDKafkaConfRes::RD_KAFKA_CONF_UNKNOWN, _, name, _) => {
            ConfigError::UnknownProperty { name }
        }
        KafkaError::ClientConfig(_, reason, name, _) => ConfigError::InvalidValue {
            reason: redact(&reason),
            name,
        },
        KafkaError::ClientCreation(reason) => ConfigError::Rejected {
            reason: redact(&reason),
        },
        KafkaError::Nul(_) => ConfigError::Rejected {
            reason: "a property name or value contains a NUL byte".to_owned(),
        },
        other => ConfigError::Rejected {
            reason: redact(&other.to_string()),
        },
    }
}

/// Splits `key=value` (whitespace around either side is trimmed; the value
/// may itself contain `=`).
pub fn parse_property(text: &str) -> Result<(&str, &str), ConfigError> {
    let malformed = || ConfigError::MalformedProperty {
        text: if is_secret(text) {
            REDACTED.to_owned()
        } else {
            text.to_owned()
        },
    };
    let (name, value) = text.split_once('=').ok_or_else(malformed)?;
    let name = name.trim();
    if name.is_empty() || name.contains(char::is_whitespace) {
        return Err(malformed());
    }
    Ok((name, value.trim()))
}

/// A parsed `kafka://host:port[,host:port…][/topic]` URL.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct KafkaUrl {
    /// `host:port[,host:port…]`, ports filled in ([`DEFAULT_PORT`]).
    pub bootstrap_servers: String,
    /// The topic in the path, if any.
    pub topic: Option<String>,
}

impl FromStr for KafkaUrl {
    type Err = UrlError;

    fn from_str(url: &str) -> Result<Self, UrlError> {
        let rest = url
            .get(..8)
            .filter(|scheme| scheme.eq_ignore_ascii_case("kafka://"))
            .map(|_| &url[8..])
            .ok_or(UrlError::Scheme)?;
        if rest.contains(['?', '#']) {
            return Err(UrlError::QueryOrFragment);
        }
        let (authority, path) = rest.split_once('/').unwrap_or((rest, ""));
        if authority.contains('@') {
            return Err(UrlError::Credentials);
        }
        let mut servers = Vec::new();
        for host_port in authority.split(',') {
            servers.push(parse_host_port(host_port)?);
        }
        let topic = path.trim_end_matches('/');
        let topic = if topic.is_empty() {
            None
        } else {
            check_topic(topic)?;
            Some(topic.to_owned())
        };
        Ok(KafkaUrl {
            bootstrap_servers: servers.join(","),
            topic,
        })
    }
}

/// Parses a `kafka://` URL (see [`KafkaUrl`]).
pub fn parse_url(url: &str) -> Result<KafkaUrl, UrlError> {
    url.parse()
}

/// `host[:port]` or `[v6]:port`, with the default port filled in.
fn parse_host_port(text: &str) -> Result<String, UrlError> {
    let (host, port) = if let Some(v6) = text.strip_prefix('[') {
        let (host, after) = v6.split_once(']').ok_or(UrlError::Host)?;
        let port = match after {
            "" => None,
            _ => Some(after.strip_prefix(':').ok_or(UrlError::Host)?),
        };
        (format!("[{host}]"), port)
    } else {
        match text.rsplit_once(':') {
            Some((host, port)) => (host.to_owned(), Some(port)),
            None => (text.to_owned(), None),
        }
    };
    let bare = host.trim_matches(['[', ']']);
    if bare.is_empty() || bare.contains(|c: char| c.is_whitespace() || c == '/') {
        return Err(UrlError::Host);
    }
    if !host.starts_with('[') && host.contains(':') {
        return Err(UrlError::Host);
    }
    let port = match port {
        None => DEFAULT_PORT,
        Some(port) => port
            .parse::<u16>()
            .ok()
            .filter(|&p| p != 0)
            .ok_or(UrlError::Port)?,
    };
    Ok(format!("{host}:{port}"))
}

/// Kafka's topic name rule: 1–249 of `[A-Za-z0-9._-]`, not `.` or `..`.
fn check_topic(topic: &str) -> Result<(), UrlError> {
    let legal = |c: char| c.is_ascii_alphanumeric() || matches!(c, '.' | '_' | '-');
    if topic.len() > 249 || topic == "." || topic == ".." || !topic.chars().all(legal) {
        return Err(UrlError::Topic);
    }
    Ok(())
}

/// Why a `kafka://` URL was refused.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
#[non_exhaustive]
pub enum UrlError {
    /// It does not start with `kafka://`.
    Scheme,
    /// A host is empty or malformed.
    Host,
    /// A port is not a number in 1–65535.
    Port,
    /// The path is not a legal topic name.
    Topic,
    /// The URL carries `user:password@`; credentials belong in
    /// `sasl.username` / `sasl.password`.
    Credentials,
    /// The URL has a `?query` or `#fragment`.
    QueryOrFragment,
}

impl fmt::Display for UrlError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(match self {
            UrlError::Scheme => "malformed URL: expected kafka://host:port[/topic]",
            UrlError::Host => "malformed URL: empty or invalid host",
            UrlError::Port => "malformed URL: port must be a number in 1-65535",
            UrlError::Topic => "malformed URL: topic must be 1-249 characters of [A-Za-z0-9._-]",
            UrlError::Credentials => {
                "malformed URL: credentials are not accepted in the URL; \
                 set sasl.username and sasl.password"
            }
            UrlError::QueryOrFragment => "malformed URL: query and fragment are not supported",
        })
    }
}

impl core::error::Error for UrlError {}

/// Why a [`KafkaConfig`] (or a property) was refused.
#[derive(Clone, Debug, PartialEq, Eq)]
#[non_exhaustive]
pub enum ConfigError {
    /// The `kafka://` URL is malformed.
    Url(UrlError),
    /// A property is not `key=value` (the text, or `<redacted>` if secret).
    MalformedProperty {
        /// What was given.
        text: String,
    },
    /// librdkafka has no property of this name.
    UnknownProperty {
        /// The property name.
        name: String,
    },
    /// librdkafka refused the value (the reason never shows a secret).
    InvalidValue {
        /// The property name.
        name: String,
        /// librdkafka's explanation.
        reason: String,
    },
    /// The setting would break the delivery contract (acks, idempotence…).
    Conflicting {
        /// The property name.
        name: String,
        /// Why the transport needs its own value.
        reason: &'static str,
    },
    /// No bootstrap servers were given.
    MissingBootstrapServers,
    /// librdkafka refused to create the client with this configuration.
    Rejected {
        /// librdkafka's explanation.
        reason: String,
    },
}

impl From<UrlError> for ConfigError {
    fn from(error: UrlError) -> Self {
        ConfigError::Url(error)
    }
}

impl fmt::Display for ConfigError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            ConfigError::Url(e) => e.fmt(f),
            ConfigError::MalformedProperty { text } => {
                write!(f, "malformed property {text:?}: expected key=value")
            }
            ConfigError::UnknownProperty { name } => {
                write!(f, "unknown property {name:?}: librdkafka has no such setting")
            }
            ConfigError::InvalidValue { name, reason } => {
                write!(f, "invalid value for property {name:?}: {reason}")
            }
            ConfigError::Conflicting { name, reason } => {
                write!(f, "property {name:?} cannot be changed: {reason}")
            }
            ConfigError::MissingBootstrapServers => f.write_str("no bootstrap servers given"),
            ConfigError::Rejected { reason } => {
                write!(f, "librdkafka refused the configuration: {reason}")
            }
        }
    }
}

impl core::error::Error for ConfigError {
    fn source(&self) -> Option<&(dyn core::error::Error + 'static)> {
        match self {
            ConfigError::Url(e) => Some(e),
            _ => None,
        }
    }
}

#[cfg(test)]
mod tests;
