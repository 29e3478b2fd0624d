//! The agent's TOML configuration.
//!
//! Every field has a default from a named function except `server_properties` and the stats
//! topic's `bootstrap`, which have no sensible default. Unknown keys are rejected, so a typo is an
//! error at start-up rather than a silently ignored setting. [`AgentConfig::validate`] runs the
//! cross-field checks and says how to fix each problem. `deploy/agent/agent.example.toml` is the
//! documented example; a test checks that it parses and matches these defaults.

use std::net::SocketAddr;
use std::path::{Path, PathBuf};

use kmedic_common::connection::ConnectionSettings;
use serde::{Deserialize, Serialize};

use crate::collect::CollectSettings;

/// Why a configuration could not be loaded.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum ConfigError {
    /// The file could not be read.
    #[error("cannot read config file {path}: {source}")]
    Read {
        /// The file.
        path: PathBuf,
        /// The OS error.
        source: std::io::Error,
    },
    /// The file is not valid TOML or has unknown or mistyped keys.
    #[error("invalid config file {path}: {source}")]
    Parse {
        /// The file.
        path: PathBuf,
        /// toml's explanation, with line and column.
        source: toml::de::Error,
    },
    /// Values that parse but do not make sense together.
    #[error("invalid configuration: {0}")]
    Invalid(String),
}

/// Result with [`ConfigError`] as the default error.
pub type Result<T, E = ConfigError> = std::result::Result<T, E>;

/// The whole agent configuration.
#[derive(Debug, Clone, PartialEq, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct AgentConfig {
    /// Path of the broker's server.properties. The agent reads node.id (or broker.id), log.dirs,
    /// broker.rack and listeners from it, and cluster.id from meta.properties in the first log dir.
    pub server_properties: PathBuf,
    /// How to reach the broker's own cluster for replica roles (Metadata and
    /// ListPartitionReassignments): `[cluster_connection]`. Absent: PLAINTEXT to the broker's own
    /// listener from server.properties; set it when that listener needs TLS or SASL.
    #[serde(default)]
    pub cluster_connection: Option<ConnectionSettings>,
    /// Where and how often stats are published.
    pub stats: StatsSettings,
    /// What the collectors read (proc roots, IMDS, JMX exporter).
    #[serde(default)]
    pub collect: CollectSettings,
    /// The agent's own Prometheus metrics.
    #[serde(default)]
    pub metrics: MetricsSettings,
}

/// Compression codec for the stats producer.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Deserialize, Serialize)]
#[serde(rename_all = "lowercase")]
pub enum Compression {
    /// lz4: cheapest on the agent's CPU.
    Lz4,
    /// zstd: smallest on the wire.
    Zstd,
}

impl Compression {
    /// The librdkafka `compression.type` value.
    pub fn as_rdkafka(self) -> &'static str {
        match self {
            Compression::Lz4 => "lz4",
            Compression::Zstd => "zstd",
        }
    }
}

/// The stats topic: its own cluster connection (it may live on another cluster than the broker
/// the agent watches), its cadence and the agent's buffer while it is unreachable.
#[derive(Debug, Clone, PartialEq, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct StatsSettings {
    /// How to reach the cluster holding the stats topic (bootstrap, TLS, SASL): `[stats.connection]`.
    /// It may be another cluster than the broker's own.
    pub connection: ConnectionSettings,
    /// The stats topic's name.
    #[serde(default = "default_topic")]
    pub topic: String,
    /// Create the stats topic at start-up if it does not exist. Off by default: the agent changes
    /// nothing on any cluster unless told to.
    #[serde(default)]
    pub create_topic: bool,
    /// Partitions of the stats topic when the agent creates it.
    #[serde(default = "default_topic_partitions")]
    pub topic_partitions: i32,
    /// Replication factor of the stats topic when the agent creates it.
    #[serde(default = "default_topic_replication_factor")]
    pub topic_replication_factor: i32,
    /// Seconds between heartbeats (identity, process and host summary).
    #[serde(default = "default_heartbeat_interval_secs")]
    pub heartbeat_interval_secs: u64,
    /// Seconds between full stats (every replica on the broker's disks).
    #[serde(default = "default_full_interval_secs")]
    pub full_interval_secs: u64,
    /// Producer compression.
    #[serde(default = "default_compression")]
    pub compression: Compression,
    /// Enable the idempotent producer (needs IDEMPOTENT_WRITE on the stats cluster's ACLs).
    #[serde(default)]
    pub idempotence: bool,
    /// How long one record may wait inside librdkafka for delivery before it is handed back to
    /// the agent's buffer to be retried, in milliseconds.
    #[serde(default = "default_message_timeout_ms")]
    pub message_timeout_ms: u64,
    /// Most records the agent buffers while the stats cluster is unreachable; beyond it the
    /// oldest are dropped and counted.
    #[serde(default = "default_buffer_max_records")]
    pub buffer_max_records: usize,
    /// Most bytes (encoded) the agent buffers while the stats cluster is unreachable.
    #[serde(default = "default_buffer_max_bytes")]
    pub buffer_max_bytes: usize,
}

/// The agent's own Prometheus endpoint.
#[derive(Debug, Clone, PartialEq, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct MetricsSettings {
    /// Serve `/metrics` at all.
    #[serde(default = "default_metrics_enabled")]
    pub enabled: bool,
    /// Address to listen on. Local by default: the metrics need no exposure beyond the host's
    /// Prometheus agent. Port 0 picks a free port (tests).
    #[serde(default = "default_listen_address")]
    pub listen_address: SocketAddr,
}

impl Default for MetricsSettings {
    fn default() -> Self {
        Self {
            enabled: default_metrics_enabled(),
            listen_address: default_listen_address(),
        }
    }
}

fn default_topic() -> String {
    "__kmedic_stats".to_owned()
}
fn default_topic_partitions() -> i32 {
    12
}
fn default_topic_replication_factor() -> i32 {
    3
}
fn default_heartbeat_interval_secs() -> u64 {
    10
}
fn default_full_interval_secs() -> u64 {
    60
}
fn default_compression() -> Compression {
    Compression::Lz4
}
fn default_message_timeout_ms() -> u64 {
    30_000
}
fn default_buffer_max_records() -> usize {
    // 10 minutes of records at the default cadence (60 heartbeats + 10 full), rounded up.
    100
}
fn default_buffer_max_bytes() -> usize {
    32 * 1024 * 1024
}
fn default_metrics_enabled() -> bool {
    true
}
fn default_listen_address() -> SocketAddr {
    SocketAddr::from(([127, 0, 0, 1], 9644))
}

/// The largest record (bytes) the buffer must be able to hold: a full record for about 50,000
/// replicas at roughly 30 bytes each.
const MIN_BUFFER_BYTES: usize = 2 * 1024 * 1024;

impl AgentConfig {
    /// Reads, parses and validates a config file.
    pub fn load(path: &Path) -> Result<Self> {
        let text = std::fs::read_to_string(path).map_err(|source| ConfigError::Read {
            path: path.to_owned(),
            source,
        })?;
        let config = Self::parse(&text).map_err(|e| match e {
            ConfigError::Parse { source, .. } => ConfigError::Parse {
                path: path.to_owned(),
                source,
            },
            other => other,
        })?;
        Ok(config)
    }

    /// Parses and validates config text.
    pub fn parse(text: &str) -> Result<Self> {
        let config: AgentConfig = toml::from_str(text).map_err(|source| ConfigError::Parse {
            path: PathBuf::from("<text>"),
            source,
        })?;
        config.validate()?;
        Ok(config)
    }

    /// Cross-field checks, each with how to fix it.
    pub fn validate(&self) -> Result<()> {
        let s = &self.stats;
        let mut problems = Vec::new();
        if let Some(Err(e)) = self
            .cluster_connection
            .as_ref()
            .map(ConnectionSettings::validate)
        {
            problems.push(format!("cluster_connection: {e}"));
        }
        if let Err(e) = s.connection.validate() {
            problems.push(format!("stats.connection: {e}"));
        }
        if s.topic.is_empty() || s.topic.len() > 249 {
            problems.push("stats.topic must be 1 to 249 characters".into());
        }
        if s.heartbeat_interval_secs == 0 {
            problems.push("stats.heartbeat_interval_secs must be at least 1".into());
        }
        if s.full_interval_secs < s.heartbeat_interval_secs {
            problems.push(format!(
                "stats.full_interval_secs ({}) is shorter than stats.heartbeat_interval_secs ({}): \
                 full stats include a heartbeat's content, so make the full interval at least the \
                 heartbeat interval",
                s.full_interval_secs, s.heartbeat_interval_secs
            ));
        }
        if s.buffer_max_records == 0 {
            problems.push(
                "stats.buffer_max_records must be at least 1 (records are buffered while the \
                 stats cluster is unreachable)"
                    .into(),
            );
        }
        if s.buffer_max_bytes < MIN_BUFFER_BYTES {
            problems.push(format!(
                "stats.buffer_max_bytes ({}) is below {MIN_BUFFER_BYTES}: one full record of a \
                 large broker would not fit; raise it",
                s.buffer_max_bytes
            ));
        }
        if s.message_timeout_ms < 1_000 {
            problems.push("stats.message_timeout_ms must be at least 1000".into());
        }
        if s.create_topic && (s.topic_partitions < 1 || s.topic_replication_factor < 1) {
            problems.push(
                "stats.topic_partitions and stats.topic_replication_factor must be at least 1 \
                 when stats.create_topic is true"
                    .into(),
            );
        }
        if self.server_properties.as_os_str().is_empty() {
            problems.push("server_properties is empty: set it to the broker's file".into());
        }
        if problems.is_empty() {
            Ok(())
        } else {
            Err(ConfigError::Invalid(problems.join("; ")))
        }
    }

    /// A config with every default, for `server_properties` and the stats `bootstrap` given
    /// (tests, the footprint bench).
    pub fn with_defaults(server_properties: PathBuf, bootstrap: &str) -> Self {
        AgentConfig {
            server_properties,
            cluster_connection: None,
            stats: StatsSettings {
                connection: ConnectionSettings::plaintext([bootstrap]),
                topic: default_topic(),
                create_topic: false,
                topic_partitions: default_topic_partitions(),
                topic_replication_factor: default_topic_replication_factor(),
                heartbeat_interval_secs: default_heartbeat_interval_secs(),
                full_interval_secs: default_full_interval_secs(),
                compression: default_compression(),
                idempotence: false,
                message_timeout_ms: default_message_timeout_ms(),
                buffer_max_records: default_buffer_max_records(),
                buffer_max_bytes: default_buffer_max_bytes(),
            },
            collect: CollectSettings::default(),
            metrics: MetricsSettings::default(),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const MINIMAL: &str = "server_properties = \"/etc/kafka/server.properties\"\n\
                           [stats.connection]\nbootstrap_servers = [\"k1:9092\"]\n";

    #[test]
    fn minimal_config_gets_every_default() {
        let c = AgentConfig::parse(MINIMAL).unwrap();
        let d =
            AgentConfig::with_defaults(PathBuf::from("/etc/kafka/server.properties"), "k1:9092");
        assert_eq!(c, d);
        assert_eq!(c.stats.heartbeat_interval_secs, 10);
        assert_eq!(c.stats.full_interval_secs, 60);
        assert_eq!(c.stats.topic, "__kmedic_stats");
        assert!(!c.stats.create_topic);
        assert_eq!(c.metrics.listen_address.to_string(), "127.0.0.1:9644");
    }

    #[test]
    fn unknown_keys_are_rejected_with_their_name() {
        let text = MINIMAL.replace(
            "[stats.connection]",
            "[stats]\nheartbeat_interval = 5\n[stats.connection]",
        );
        let err = AgentConfig::parse(&text).unwrap_err();
        assert!(err.to_string().contains("heartbeat_interval"), "{err}");
    }

    #[test]
    fn cross_field_errors_say_how_to_fix() {
        let text = MINIMAL.replace(
            "[stats.connection]",
            "[stats]\nheartbeat_interval_secs = 30\nfull_interval_secs = 20\n[stats.connection]",
        );
        let err = AgentConfig::parse(&text).unwrap_err().to_string();
        assert!(err.contains("full_interval_secs (20)"), "{err}");
        assert!(err.contains("at least the heartbeat interval"), "{err}");
        let text = MINIMAL.replace(
            "[stats.connection]",
            "[stats]\nbuffer_max_records = 0\n[stats.connection]",
        );
        let err = AgentConfig::parse(&text).unwrap_err().to_string();
        assert!(
            err.contains("buffer_max_records must be at least 1"),
            "{err}"
        );
        let text = MINIMAL.replace("k1:9092", "k1");
        let err = AgentConfig::parse(&text).unwrap_err().to_string();
        assert!(err.contains("stats.connection"), "{err}");
    }
}
