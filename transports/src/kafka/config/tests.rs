#![allow(clippy::unwrap_used)]

use super::*;

#[test]
fn urls_parse_with_default_ports_and_topics() {
    let url = parse_url("kafka://localhost:9093/events").unwrap();
    assert_eq!(url.bootstrap_servers, "localhost:9093");
    assert_eq!(url.topic.as_deref(), Some("events"));

    let url = parse_url("KAFKA://a,b:1,[::1]:2,[::1]/").unwrap();
    assert_eq!(url.bootstrap_servers, "a:9092,b:1,[::1]:2,[::1]:9092");
    assert_eq!(url.topic, None);

    let (config, topic) = KafkaConfig::from_url("kafka://h:1/t.x_y-z").unwrap();
    assert_eq!(config.bootstrap_servers(), "h:1");
    assert_eq!(topic.as_deref(), Some("t.x_y-z"));
}

#[test]
fn malformed_urls_are_refused_with_a_reason() {
    let cases = [
        ("http://h:1/t", UrlError::Scheme),
        ("kafka:/h", UrlError::Scheme),
        ("kafka://", UrlError::Host),
        ("kafka://:9092/t", UrlError::Host),
        ("kafka://a,,b/t", UrlError::Host),
        ("kafka://h:0/t", UrlError::Port),
        ("kafka://h:99999/t", UrlError::Port),
        ("kafka://h:x/t", UrlError::Port),
        ("kafka://h/bad topic", UrlError::Topic),
        ("kafka://h/a/b", UrlError::Topic),
        ("kafka://h/..", UrlError::Topic),
        ("kafka://user:hunter2@h/t", UrlError::Credentials),
        ("kafka://h/t?acks=1", UrlError::QueryOrFragment),
        ("kafka://[::1/t", UrlError::Host),
    ];
    for (url, expected) in cases {
        assert_eq!(parse_url(url), Err(expected), "{url}");
        assert!(expected.to_string().starts_with("malformed URL"));
    }
    assert!(!UrlError::Credentials.to_string().contains("hunter2"));
}

#[test]
fn properties_parse_and_unknown_names_are_caught_by_librdkafka() {
    assert_eq!(parse_property(" a.b = c=d ").unwrap(), ("a.b", "c=d"));
    assert!(matches!(
        parse_property("novalue"),
        Err(ConfigError::MalformedProperty { .. })
    ));
    assert_eq!(
        parse_property("sasl.password hunter2"),
        Err(ConfigError::MalformedProperty {
            text: REDACTED.to_owned()
        })
    );

    let mut config = KafkaConfig::new("h:1");
    config.set_str("linger.ms=7").unwrap();
    assert_eq!(config.get("linger.ms"), Some("7"));
    let err = config.set_str("linger.msec=7").unwrap_err();
    assert_eq!(
        err,
        ConfigError::UnknownProperty {
            name: "linger.msec".to_owned()
        }
    );
    assert!(err.to_string().contains("unknown property"));
    assert!(matches!(
        config.set_str("linger.ms=soon"),
        Err(ConfigError::InvalidValue { .. })
    ));
    config.set_str("bootstrap.servers=x:2").unwrap();
    assert_eq!(config.bootstrap_servers(), "x:2");
}

#[test]
fn unknown_properties_fail_validation() {
    let config = KafkaConfig::new("h:1").with("no.such.thing", "1");
    assert_eq!(
        config.validate(),
        Err(ConfigError::UnknownProperty {
            name: "no.such.thing".to_owned()
        })
    );
    assert_eq!(
        KafkaConfig::new(" ").validate(),
        Err(ConfigError::MissingBootstrapServers)
    );
}

#[test]
fn contract_properties_cannot_be_weakened() {
    for (name, value) in [
        ("acks", "1"),
        ("request.required.acks", "0"),
        ("enable.idempotence", "false"),
        ("transactional.id", "x"),
        ("delivery.report.only.error", "true"),
    ] {
        let config = KafkaConfig::new("h:1").with(name, value);
        assert!(
            matches!(config.validate(), Err(ConfigError::Conflicting { .. })),
            "{name}={value}"
        );
    }
    KafkaConfig::new("h:1").with("acks", "all").validate().unwrap();
    KafkaConfig::new("h:1").with("acks", "-1").validate().unwrap();
}

#[test]
fn defaults_apply_and_user_values_win() {
    let config = KafkaConfig::new("h:1").with("linger.ms", "0");
    let client = config.client_config().unwrap();
    assert_eq!(client.get("linger.ms"), Some("0"));
    assert_eq!(client.get("message.timeout.ms"), Some("30000"));
    assert_eq!(client.get("acks"), Some("all"));
    assert_eq!(client.get("enable.idempotence"), Some("true"));
}

#[test]
fn secrets_never_appear_in_debug_or_errors() {
    let config = KafkaConfig::new("h:1")
        .with("security.protocol", "sasl_ssl")
        .with("sasl.mechanism", "PLAIN")
        .with("sasl.username", "alice")
        .with("sasl.password", "hunter2")
        .with("ssl.key.password", "keypass")
        .with("sasl.oauthbearer.client.secret", "oauthsecret")
        .with("ssl.key.pem", "-----BEGIN PRIVATE KEY-----");
    let shown = format!("{config:?}");
    for secret in ["hunter2", "keypass", "oauthsecret", "BEGIN PRIVATE"] {
        assert!(!shown.contains(secret), "{shown}");
    }
    assert!(shown.contains("alice"));
    assert!(shown.contains(REDACTED));

    // An invalid secret value is not echoed back.
    let config = KafkaConfig::new("h:1").with("ssl.key.location", "/no/such/secret-key-file");
    let mut probe = KafkaConfig::new("h:1");
    let _ = probe.set_str("sasl.password=hunter2");
    if let Err(e) = config.validate() {
        assert!(!e.to_string().contains("/no/such/secret-key-file"), "{e}");
    }
    assert!(is_secret("SSL.KEYSTORE.PASSWORD"));
    assert!(!is_secret("sasl.username"));
}
