//! Kafka connection settings, written once by the user and used twice: by the admin client
//! ([`crate::admin`]) and, through [`ConnectionSettings::rdkafka_properties`], by rdkafka
//! producers and consumers. This module does not use rdkafka; it only produces the key/value
//! pairs rdkafka's `ClientConfig` takes (the crate's rdkafka use is the log context, `rdlog`).

use std::path::PathBuf;
use std::time::Duration;

use serde::{Deserialize, Serialize};

use crate::backoff::RetryPolicy;

/// Errors in connection settings, found at start-up or when building the TLS configuration.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum Error {
    /// A setting is wrong; the message says how to fix it.
    #[error("invalid connection settings: {0}")]
    Invalid(String),
    /// A certificate or key file could not be read or parsed.
    #[error("cannot load {what} from {path}: {detail}")]
    Pem {
        /// What was being loaded (CA certificates, client certificate, client key).
        what: &'static str,
        /// The file.
        path: PathBuf,
        /// The parser's or the file system's explanation.
        detail: String,
    },
    /// rustls refused the configuration (for example a key that does not match the certificate).
    #[error("TLS configuration rejected: {0}")]
    Tls(#[from] rustls::Error),
}

/// Result with this module's [`Error`].
pub type Result<T, E = Error> = std::result::Result<T, E>;

/// How to reach one Kafka cluster: where, how securely, and how patiently.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct ConnectionSettings {
    /// `host:port` addresses tried in order until one answers; one is enough, more survive a
    /// dead broker.
    pub bootstrap_servers: Vec<String>,
    /// PLAINTEXT, SSL, SASL_PLAINTEXT or SASL_SSL, as in Kafka's `security.protocol`.
    #[serde(default)]
    pub security_protocol: SecurityProtocol,
    /// TLS options; used with SSL and SASL_SSL. Absent means: verify against the built-in web
    /// roots (webpki-roots), no client certificate.
    #[serde(default)]
    pub tls: Option<TlsSettings>,
    /// SASL options; required with SASL_PLAINTEXT and SASL_SSL.
    #[serde(default)]
    pub sasl: Option<SaslSettings>,
    /// The client id brokers see in their request logs and quotas.
    #[serde(default = "default_client_id")]
    pub client_id: String,
    /// Time allowed for one request's round trip (and for connecting), in milliseconds.
    #[serde(default = "default_request_timeout_ms")]
    pub request_timeout_ms: u64,
    /// Largest response frame accepted, in bytes; a larger length prefix means a broken or
    /// hostile peer, and the connection is dropped.
    #[serde(default = "default_max_response_bytes")]
    pub max_response_bytes: usize,
    /// Retries of retriable failures (network, NOT_CONTROLLER, LEADER_NOT_AVAILABLE...).
    #[serde(default)]
    pub retry: RetryPolicy,
}

fn default_client_id() -> String {
    "kmedic".to_string()
}
fn default_request_timeout_ms() -> u64 {
    10_000
}
fn default_max_response_bytes() -> usize {
    100 * 1024 * 1024
}

/// Kafka's `security.protocol`.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "SCREAMING_SNAKE_CASE")]
pub enum SecurityProtocol {
    /// No TLS, no authentication.
    #[default]
    Plaintext,
    /// TLS, no SASL.
    Ssl,
    /// SASL without TLS (the password travels in clear with PLAIN).
    SaslPlaintext,
    /// SASL over TLS.
    SaslSsl,
}

impl SecurityProtocol {
    /// Whether connections are wrapped in TLS.
    pub fn uses_tls(self) -> bool {
        matches!(self, Self::Ssl | Self::SaslSsl)
    }
    /// Whether connections authenticate with SASL.
    pub fn uses_sasl(self) -> bool {
        matches!(self, Self::SaslPlaintext | Self::SaslSsl)
    }
    /// The name Kafka and rdkafka use.
    pub fn as_str(self) -> &'static str {
        match self {
            Self::Plaintext => "PLAINTEXT",
            Self::Ssl => "SSL",
            Self::SaslPlaintext => "SASL_PLAINTEXT",
            Self::SaslSsl => "SASL_SSL",
        }
    }
}

/// TLS options.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct TlsSettings {
    /// PEM file with the CA certificates that sign the brokers' certificates. Absent: the
    /// built-in web roots.
    #[serde(default)]
    pub ca_file: Option<PathBuf>,
    /// PEM client certificate (chain) for mutual TLS; needs `key_file`.
    #[serde(default)]
    pub cert_file: Option<PathBuf>,
    /// PEM private key of `cert_file`.
    #[serde(default)]
    pub key_file: Option<PathBuf>,
    /// Check that the broker's certificate names the host we dialled. Turn off only for
    /// certificates issued without the brokers' names; the chain is still verified.
    #[serde(default = "default_verify_hostname")]
    pub verify_hostname: bool,
}

fn default_verify_hostname() -> bool {
    true
}

/// SASL options.
#[derive(Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct SaslSettings {
    /// PLAIN, SCRAM-SHA-256 or SCRAM-SHA-512.
    pub mechanism: SaslMechanism,
    /// The user name.
    pub username: String,
    /// The password. Keep the config file readable only by the service user.
    pub password: String,
}

impl std::fmt::Debug for SaslSettings {
    // The password must never reach a log line.
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("SaslSettings")
            .field("mechanism", &self.mechanism)
            .field("username", &self.username)
            .field("password", &"<redacted>")
            .finish()
    }
}

/// A SASL mechanism.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
pub enum SaslMechanism {
    /// RFC 4616 PLAIN; use only over TLS.
    #[serde(rename = "PLAIN")]
    Plain,
    /// RFC 7677 SCRAM-SHA-256.
    #[serde(rename = "SCRAM-SHA-256")]
    ScramSha256,
    /// SCRAM-SHA-512.
    #[serde(rename = "SCRAM-SHA-512")]
    ScramSha512,
}

impl SaslMechanism {
    /// The name sent in SaslHandshake and to rdkafka.
    pub fn as_str(self) -> &'static str {
        match self {
            Self::Plain => "PLAIN",
            Self::ScramSha256 => "SCRAM-SHA-256",
            Self::ScramSha512 => "SCRAM-SHA-512",
        }
    }
}

impl ConnectionSettings {
    /// Settings for a PLAINTEXT cluster at `bootstrap_servers`, with every default.
    pub fn plaintext(bootstrap_servers: impl IntoIterator<Item = impl Into<String>>) -> Self {
        Self {
            bootstrap_servers: bootstrap_servers.into_iter().map(Into::into).collect(),
            security_protocol: SecurityProtocol::Plaintext,
            tls: None,
            sasl: None,
            client_id: default_client_id(),
            request_timeout_ms: default_request_timeout_ms(),
            max_response_bytes: default_max_response_bytes(),
            retry: RetryPolicy::default(),
        }
    }

    /// The request timeout as a [`Duration`].
    pub fn request_timeout(&self) -> Duration {
        Duration::from_millis(self.request_timeout_ms)
    }

    /// Cross-field checks, run at start-up. Each error says how to fix the settings.
    pub fn validate(&self) -> Result<()> {
        let bad = |m: String| Err(Error::Invalid(m));
        if self.bootstrap_servers.is_empty() {
            return bad("bootstrap_servers is empty: list at least one host:port".into());
        }
        for addr in &self.bootstrap_servers {
            let port_ok = addr
                .rsplit_once(':')
                .is_some_and(|(h, p)| !h.is_empty() && p.parse::<u16>().is_ok_and(|p| p > 0));
            if !port_ok {
                return bad(format!(
                    "bootstrap server {addr:?} is not host:port (for example broker1:9092)"
                ));
            }
        }
        let proto = self.security_protocol.as_str();
        match (&self.sasl, self.security_protocol.uses_sasl()) {
            (None, true) => {
                return bad(format!("security_protocol {proto} needs a [sasl] section"));
            }
            (Some(_), false) => {
                return bad(format!(
                    "a [sasl] section is set but security_protocol is {proto}: use SASL_SSL or \
                     SASL_PLAINTEXT, or remove [sasl]"
                ));
            }
            _ => {}
        }
        if self.tls.is_some() && !self.security_protocol.uses_tls() {
            return bad(format!(
                "a [tls] section is set but security_protocol is {proto}: use SSL or SASL_SSL, \
                 or remove [tls]"
            ));
        }
        if let Some(tls) = &self.tls {
            if tls.cert_file.is_some() != tls.key_file.is_some() {
                return bad(
                    "tls.cert_file and tls.key_file go together: set both or neither".into(),
                );
            }
        }
        if let Some(sasl) = &self.sasl {
            if sasl.username.is_empty() {
                return bad("sasl.username is empty".into());
            }
        }
        if self.request_timeout_ms == 0 {
            return bad("request_timeout_ms must be above 0".into());
        }
        if self.max_response_bytes < 1024 {
            return bad("max_response_bytes below 1024 cannot hold a metadata response".into());
        }
        Ok(())
    }

    /// The same settings as rdkafka (librdkafka) configuration properties, to feed
    /// `ClientConfig::set` one pair at a time.
    pub fn rdkafka_properties(&self) -> Vec<(String, String)> {
        let mut p = vec![
            (
                "bootstrap.servers".to_string(),
                self.bootstrap_servers.join(","),
            ),
            (
                "security.protocol".to_string(),
                self.security_protocol.as_str().to_string(),
            ),
            ("client.id".to_string(), self.client_id.clone()),
            (
                "socket.timeout.ms".to_string(),
                self.request_timeout_ms.to_string(),
            ),
        ];
        if self.security_protocol.uses_tls() {
            let tls = self.tls.clone().unwrap_or(TlsSettings {
                ca_file: None,
                cert_file: None,
                key_file: None,
                verify_hostname: true,
            });
            let path = |p: &PathBuf| p.to_string_lossy().into_owned();
            if let Some(ca) = &tls.ca_file {
                p.push(("ssl.ca.location".into(), path(ca)));
            }
            if let Some(cert) = &tls.cert_file {
                p.push(("ssl.certificate.location".into(), path(cert)));
            }
            if let Some(key) = &tls.key_file {
                p.push(("ssl.key.location".into(), path(key)));
            }
            let algo = if tls.verify_hostname { "https" } else { "none" };
            p.push(("ssl.endpoint.identification.algorithm".into(), algo.into()));
        }
        if let (Some(sasl), true) = (&self.sasl, self.security_protocol.uses_sasl()) {
            p.push(("sasl.mechanisms".into(), sasl.mechanism.as_str().into()));
            p.push(("sasl.username".into(), sasl.username.clone()));
            p.push(("sasl.password".into(), sasl.password.clone()));
        }
        p
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn parse(toml_text: &str) -> ConnectionSettings {
        toml::from_str(toml_text).unwrap()
    }

    #[test]
    fn minimal_config_takes_the_defaults() {
        let s = parse(r#"bootstrap_servers = ["b1:9092"]"#);
        assert_eq!(s, ConnectionSettings::plaintext(["b1:9092"]));
        s.validate().unwrap();
    }

    #[test]
    fn unknown_keys_are_rejected() {
        let e = toml::from_str::<ConnectionSettings>(
            "bootstrap_servers = [\"b:1\"]\nrequest_timeout = 5",
        );
        assert!(e.is_err());
    }

    #[test]
    fn sasl_ssl_config_parses_and_maps_to_rdkafka() {
        let s = parse(
            r#"
            bootstrap_servers = ["b1:9093", "b2:9093"]
            security_protocol = "SASL_SSL"
            client_id = "kmedic-test"
            [tls]
            ca_file = "/etc/kafka/ca.pem"
            verify_hostname = false
            [sasl]
            mechanism = "SCRAM-SHA-512"
            username = "ops"
            password = "s3cret"
            "#,
        );
        s.validate().unwrap();
        let p: std::collections::HashMap<_, _> = s.rdkafka_properties().into_iter().collect();
        assert_eq!(p["bootstrap.servers"], "b1:9093,b2:9093");
        assert_eq!(p["security.protocol"], "SASL_SSL");
        assert_eq!(p["client.id"], "kmedic-test");
        assert_eq!(p["ssl.ca.location"], "/etc/kafka/ca.pem");
        assert_eq!(p["ssl.endpoint.identification.algorithm"], "none");
        assert_eq!(p["sasl.mechanisms"], "SCRAM-SHA-512");
        assert_eq!(p["sasl.username"], "ops");
        assert_eq!(p["sasl.password"], "s3cret");
        assert!(
            !format!("{s:?}").contains("s3cret"),
            "password leaked into Debug"
        );
    }

    #[test]
    fn plaintext_maps_without_tls_or_sasl_keys() {
        let p = ConnectionSettings::plaintext(["b:9092"]).rdkafka_properties();
        assert!(p
            .iter()
            .all(|(k, _)| !k.starts_with("ssl.") && !k.starts_with("sasl.")));
    }

    #[test]
    fn validation_explains_mismatched_sections() {
        let mut s = ConnectionSettings::plaintext(["b:9092"]);
        s.security_protocol = SecurityProtocol::SaslSsl;
        assert!(s
            .validate()
            .unwrap_err()
            .to_string()
            .contains("needs a [sasl]"));
        s.security_protocol = SecurityProtocol::Plaintext;
        s.sasl = Some(SaslSettings {
            mechanism: SaslMechanism::Plain,
            username: "u".into(),
            password: "p".into(),
        });
        assert!(s.validate().unwrap_err().to_string().contains("SASL_SSL"));
        s.sasl = None;
        s.tls = Some(TlsSettings {
            ca_file: None,
            cert_file: Some("/c.pem".into()),
            key_file: None,
            verify_hostname: true,
        });
        assert!(s.validate().is_err());
        s.security_protocol = SecurityProtocol::Ssl;
        assert!(s.validate().unwrap_err().to_string().contains("set both"));
        s.bootstrap_servers = vec!["nohostport".into()];
        assert!(s.validate().unwrap_err().to_string().contains("host:port"));
    }

    #[test]
    fn tls_config_reports_a_missing_ca_file() {
        let mut s = ConnectionSettings::plaintext(["b:9093"]);
        s.security_protocol = SecurityProtocol::Ssl;
        s.tls = Some(TlsSettings {
            ca_file: Some("/nonexistent/ca.pem".into()),
            cert_file: None,
            key_file: None,
            verify_hostname: true,
        });
        let e = s.tls_client_config().unwrap_err();
        assert!(
            matches!(
                e,
                Error::Pem {
                    what: "CA certificates",
                    ..
                }
            ),
            "{e}"
        );
    }

    #[test]
    fn tls_config_builds_with_web_roots_and_without_hostname_check() {
        let mut s = ConnectionSettings::plaintext(["b:9093"]);
        s.security_protocol = SecurityProtocol::Ssl;
        s.tls_client_config().unwrap();
        s.tls = Some(TlsSettings {
            ca_file: None,
            cert_file: None,
            key_file: None,
            verify_hostname: false,
        });
        s.tls_client_config().unwrap();
    }
}
