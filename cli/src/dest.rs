//! Where `produce` and `deliver` send to: the destination flags, their
//! checks, and building the transport.
//!
//! ```text
//! --brokers HOST:PORT[,..] | --brokers kafka://… | --to kafka://host:port/topic  → librdkafka
//! --rest http://proxy:8082 [--rest-version v2|v3] | --to http://…                → REST proxy
//! --file PATH | --to file:PATH                                                   → file transport
//! (none)                                                                         → embedded mock cluster
//! ```
//!
//! Everything is checked before the journal is opened, so a malformed URL
//! or an unknown `-X` property never leaves anything behind.

use std::path::PathBuf;

use steadfast::core::Transport;

use super::error::CliError;

/// The destination flags shared by `produce` and `deliver`.
#[derive(Clone, Debug, Default, clap::Args)]
pub struct DestArgs {
    /// Kafka bootstrap servers (HOST:PORT[,HOST:PORT...]) or a
    /// kafka://host:port[,host:port...] URL, with an optional /topic.
    #[arg(long, short = 'b', value_name = "HOST:PORT[,..]")]
    pub brokers: Option<String>,
    /// The destination as a URL: kafka://host:port[/topic], http://proxy:port
    /// (a Kafka REST proxy) or file:PATH.
    #[arg(long, value_name = "URL")]
    pub to: Option<String>,
    /// A librdkafka property, passed through (repeatable): -X
    /// security.protocol=ssl -X linger.ms=20. Unknown names are refused.
    #[arg(short = 'X', value_name = "KEY=VALUE")]
    pub property: Vec<String>,
    /// A Kafka REST proxy (Confluent v2/v3, Karapace, Redpanda):
    /// http://host:port[/prefix].
    #[arg(long, value_name = "URL")]
    pub rest: Option<String>,
    /// REST API version (default: detected with GET /v3/clusters).
    #[arg(long, value_enum, value_name = "VERSION")]
    pub rest_version: Option<RestVersion>,
    /// Deliver to a file as JSON lines (one per record, duplicates
    /// included), confirming after fsync: for tests and dry runs.
    #[arg(long, value_name = "PATH")]
    pub file: Option<PathBuf>,
    /// Deliver to an embedded, in-memory Kafka mock cluster in this process
    /// (the default when no destination is given). Records are discarded
    /// when steadfast exits.
    #[arg(long)]
    pub embedded: bool,
}

/// `--rest-version`.
#[derive(Clone, Copy, Debug, PartialEq, Eq, clap::ValueEnum)]
pub enum RestVersion {
    /// `POST /topics/{topic}` (no record headers, so no message id).
    V2,
    /// `POST /v3/clusters/{id}/topics/{topic}/records`.
    V3,
}

/// A checked destination.
#[derive(Clone, Debug)]
pub enum Dest {
    /// librdkafka to real brokers.
    Kafka {
        /// Bootstrap list.
        brokers: String,
        /// `-X` properties, as given.
        properties: Vec<String>,
    },
    /// A Kafka REST proxy.
    Rest {
        /// The proxy's URL.
        url: String,
        /// Forced API version.
        version: Option<RestVersion>,
    },
    /// The file transport.
    File(PathBuf),
    /// The embedded mock cluster.
    Embedded {
        /// `-X` properties, as given.
        properties: Vec<String>,
        /// True if no destination was given at all (not `--embedded`).
        implicit: bool,
    },
}

impl Dest {
    /// Checks the flags: exactly one destination, `-X` only for Kafka, and
    /// a topic from `--topic` or the URL (`topic` is `--topic`). Returns the
    /// destination and the topic.
    pub fn from_args(args: &DestArgs, topic: Option<&str>) -> Result<(Dest, Option<String>), CliError> {
        let usage = |m: String| Err(CliError::Usage(m));
        let mut chosen: Vec<&str> = Vec::new();
        for (set, name) in [
            (args.brokers.is_some(), "--brokers"),
            (args.to.is_some(), "--to"),
            (args.rest.is_some(), "--rest"),
            (args.file.is_some(), "--file"),
            (args.embedded, "--embedded"),
        ] {
            if set {
                chosen.push(name);
            }
        }
        if chosen.len() > 1 {
            return usage(format!("give one destination, not {}", chosen.join(" and ")));
        }
        let mut url_topic = None;
        let dest = if let Some(to) = &args.to {
            let lower = to.to_ascii_lowercase();
            if lower.starts_with("kafka://") {
                let (brokers, t) = kafka_url(to)?;
                url_topic = t;
                Dest::Kafka {
                    brokers,
                    properties: args.property.clone(),
                }
            } else if lower.starts_with("http://") || lower.starts_with("https://") {
                Dest::Rest {
                    url: to.clone(),
                    version: args.rest_version,
                }
            } else if let Some(path) = to.strip_prefix("file://").or_else(|| to.strip_prefix("file:")) {
                if path.is_empty() {
                    return usage(format!("`--to {to}` names no file: use file:PATH"));
                }
                Dest::File(PathBuf::from(path))
            } else {
                return Err(CliError::Destination(format!(
                    "malformed destination URL `{to}`: expected kafka://host:port[/topic], http://proxy:port or file:PATH"
                )));
            }
        } else if let Some(brokers) = &args.brokers {
            let brokers = if brokers.to_ascii_lowercase().starts_with("kafka://") {
                let (b, t) = kafka_url(brokers)?;
                url_topic = t;
                b
            } else {
                check_broker_list(brokers)?;
                brokers.clone()
            };
            Dest::Kafka {
                brokers,
                properties: args.property.clone(),
            }
        } else if let Some(url) = &args.rest {
            Dest::Rest {
                url: url.clone(),
                version: args.rest_version,
            }
        } else if let Some(path) = &args.file {
            Dest::File(path.clone())
        } else {
            Dest::Embedded {
                properties: args.property.clone(),
                implicit: !args.embedded,
            }
        };
        if !args.property.is_empty() && !matches!(dest, Dest::Kafka { .. } | Dest::Embedded { .. }) {
            return usage("-X sets librdkafka properties: it applies only to a Kafka destination".into());
        }
        if args.rest_version.is_some() && !matches!(dest, Dest::Rest { .. }) {
            return usage("--rest-version applies only to a REST proxy destination (--rest)".into());
        }
        let topic = match (topic, url_topic) {
            (Some(a), Some(b)) if a != b => {
                return usage(format!("--topic {a} and the URL's topic {b} differ: give one"));
            }
            (Some(a), _) => Some(a.to_owned()),
            (None, b) => b,
        };
        Ok((dest, topic))
    }

    /// The `host:port` endpoints to probe when nothing is delivered.
    pub fn endpoints(&self) -> Vec<String> {
        match self {
            Dest::Kafka { brokers, .. } => brokers.split(',').map(|s| s.trim().to_owned()).collect(),
            Dest::Rest { url, .. } => {
                let rest = url.split_once("://").map_or(url.as_str(), |(_, r)| r);
                let authority = rest.split('/').next().unwrap_or(rest);
                let authority = authority.rsplit('@').next().unwrap_or(authority);
                if authority.contains(':') && !authority.ends_with(']') {
                    vec![authority.to_owned()]
                } else if url.to_ascii_lowercase().starts_with("https") {
                    vec![format!("{authority}:443")]
                } else {
                    vec![format!("{authority}:80")]
                }
            }
            Dest::File(_) | Dest::Embedded { .. } => Vec::new(),
        }
    }

    /// A short description for messages.
    pub fn describe(&self) -> String {
        match self {
            Dest::Kafka { brokers, .. } => format!("Kafka at {brokers}"),
            Dest::Rest { url, .. } => format!("the REST proxy at {url}"),
            Dest::File(path) => format!("the file {}", path.display()),
            Dest::Embedded { .. } => "the embedded mock cluster".into(),
        }
    }

    /// Builds the transport. `bootstrap` replaces the broker list (the
    /// embedded cluster's, once started).
    pub fn transport(&self, bootstrap: Option<&str>) -> Result<Box<dyn Transport + Send>, CliError> {
        match self {
            Dest::Kafka { brokers, properties } => kafka(bootstrap.unwrap_or(brokers), properties),
            Dest::Embedded { properties, .. } => match bootstrap {
                Some(b) => kafka(b, properties),
                None => Err(CliError::Usage("the embedded cluster is not running".into())),
            },
            Dest::Rest { url, version } => rest(url, *version),
            Dest::File(path) => steadfast::FileTransport::open(path)
                .map(|t| Box::new(t) as Box<dyn Transport + Send>)
                .map_err(|e| {
                    CliError::Destination(format!("cannot open output file {}: {e}", path.display()))
                }),
        }
    }

    /// Checks `-X` properties and builds nothing (so errors come before
    /// the journal is touched).
    pub fn check(&self) -> Result<(), CliError> {
        match self {
            Dest::Kafka { brokers, properties } => kafka_config(brokers, properties).map(drop),
            Dest::Embedded { properties, .. } => kafka_config("127.0.0.1:1", properties).map(drop),
            Dest::Rest { url, version } => rest_config(url, *version).map(drop),
            Dest::File(path) => {
                if path.is_dir() {
                    return Err(CliError::Destination(format!(
                        "--file {} is a directory: give a file to append records to",
                        path.display()
                    )));
                }
                Ok(())
            }
        }
    }
}

/// `host:port[,host:port]` sanity: non-empty parts with a numeric port.
fn check_broker_list(list: &str) -> Result<(), CliError> {
    for part in list.split(',') {
        let part = part.trim();
        let ok = part
            .rsplit_once(':')
            .is_some_and(|(host, port)| !host.is_empty() && port.parse::<u16>().is_ok_and(|p| p > 0));
        if !ok {
            return Err(CliError::Destination(format!(
                "malformed broker address `{part}` in --brokers {list}: expected HOST:PORT[,HOST:PORT...] or kafka://host:port/topic"
            )));
        }
    }
    Ok(())
}

#[cfg(feature = "kafka")]
fn kafka_url(url: &str) -> Result<(String, Option<String>), CliError> {
    let parsed = steadfast_transports::kafka::parse_url(url)
        .map_err(|e| CliError::Destination(format!("{e} (in `{url}`)")))?;
    Ok((parsed.bootstrap_servers, parsed.topic))
}

#[cfg(not(feature = "kafka"))]
fn kafka_url(url: &str) -> Result<(String, Option<String>), CliError> {
    let _ = url;
    Err(no_kafka())
}

#[cfg(not(feature = "kafka"))]
fn no_kafka() -> CliError {
    CliError::Usage(
        "this steadfast was built without the `kafka` feature: use --rest or --file, or rebuild with default features"
            .into(),
    )
}

#[cfg(feature = "kafka")]
fn kafka_config(
    brokers: &str,
    properties: &[String],
) -> Result<steadfast_transports::kafka::KafkaConfig, CliError> {
    use steadfast_transports::kafka::KafkaConfig;
    let mut config = KafkaConfig::new(brokers);
    for p in properties {
        config
            .set_str(p)
            .map_err(|e| CliError::Destination(format!("-X {}: {e}", shown(p))))?;
    }
    config
        .validate()
        .map_err(|e| CliError::Destination(format!("Kafka settings refused: {e}")))?;
    Ok(config)
}

/// A `-X` argument as it may be shown (a secret's value hidden).
#[cfg(feature = "kafka")]
fn shown(p: &str) -> String {
    match p.split_once('=') {
        Some((name, _)) if steadfast_transports::kafka::config::is_secret(name) => {
            format!("{name}=<redacted>")
        }
        _ => p.to_owned(),
    }
}

#[cfg(not(feature = "kafka"))]
fn kafka_config(brokers: &str, properties: &[String]) -> Result<(), CliError> {
    let _ = (brokers, properties);
    Err(no_kafka())
}

#[cfg(feature = "kafka")]
fn kafka(brokers: &str, properties: &[String]) -> Result<Box<dyn Transport + Send>, CliError> {
    let config = kafka_config(brokers, properties)?;
    let transport = steadfast_transports::kafka::KafkaTransport::new(config)
        .map_err(|e| CliError::Destination(e.to_string()))?;
    Ok(Box::new(transport))
}

#[cfg(not(feature = "kafka"))]
fn kafka(brokers: &str, properties: &[String]) -> Result<Box<dyn Transport + Send>, CliError> {
    let _ = (brokers, properties);
    Err(no_kafka())
}

#[cfg(feature = "rest")]
fn rest_config(
    url: &str,
    version: Option<RestVersion>,
) -> Result<steadfast_transports::rest::RestConfig, CliError> {
    use steadfast_transports::rest::{ApiVersion, RestConfig};
    let mut config = RestConfig::new(url);
    if let Some(v) = version {
        config = config.api_version(match v {
            RestVersion::V2 => ApiVersion::V2,
            RestVersion::V3 => ApiVersion::V3,
        });
    }
    config
        .validate()
        .map_err(|e| CliError::Destination(e.to_string()))?;
    Ok(config)
}

#[cfg(not(feature = "rest"))]
fn no_rest() -> CliError {
    CliError::Usage(
        "this steadfast was built without the `rest` feature: rebuild with default features".into(),
    )
}

#[cfg(not(feature = "rest"))]
fn rest_config(url: &str, version: Option<RestVersion>) -> Result<(), CliError> {
    let _ = (url, version);
    Err(no_rest())
}

#[cfg(feature = "rest")]
fn rest(url: &str, version: Option<RestVersion>) -> Result<Box<dyn Transport + Send>, CliError> {
    let config = rest_config(url, version)?;
    let transport = steadfast_transports::rest::RestTransport::new(config)
        .map_err(|e| CliError::Destination(e.to_string()))?;
    Ok(Box::new(transport))
}

#[cfg(not(feature = "rest"))]
fn rest(url: &str, version: Option<RestVersion>) -> Result<Box<dyn Transport + Send>, CliError> {
    let _ = (url, version);
    Err(no_rest())
}
