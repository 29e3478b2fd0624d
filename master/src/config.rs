//! The master's TOML configuration.
//!
//! Every field is documented, unknown keys are rejected, defaults come from named functions and
//! units are in field names. [`MasterConfig::validate`] runs the cross-field checks at start-up and
//! returns errors that say how to fix them. `deploy/master/master.example.toml` is the documented
//! example; a test checks that it parses and validates.

use std::collections::BTreeSet;
use std::path::{Path, PathBuf};

use serde::{Deserialize, Serialize};

pub use kmedic_common::connection::ConnectionSettings;

mod execute;
pub use execute::ExecuteConfig;
mod ingest;
pub use ingest::IngestConfig;
mod policy;
pub use policy::PolicyConfig;
mod actionlog;
pub use actionlog::ActionLogConfig;
mod alert;
pub use alert::{AlertConfig, WebhookConfig, WebhookFormat};
mod replace;
pub use replace::ReplaceConfig;
mod serve;
pub use serve::ServeConfig;
mod decommission;
pub use decommission::DecommissionConfig;

/// Errors from loading or validating the configuration.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum Error {
    /// The file could not be read.
    #[error("cannot read config file {path}: {source}")]
    Read {
        /// The path that was read.
        path: PathBuf,
        /// The I/O error.
        source: std::io::Error,
    },
    /// The TOML did not parse or had unknown / mistyped keys.
    #[error("invalid config {path}: {source}")]
    Parse {
        /// The path that was parsed.
        path: PathBuf,
        /// The TOML error, with line and column.
        source: Box<toml::de::Error>,
    },
    /// A cross-field check failed; the message says how to fix it.
    #[error("invalid config: {0}")]
    Invalid(String),
}

/// `Result` with this module's [`Error`].
pub type Result<T, E = Error> = std::result::Result<T, E>;

/// The whole master configuration.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct MasterConfig {
    /// The clusters this master looks after; one master can serve many.
    pub clusters: Vec<ClusterConfig>,
    /// Where the agents publish their stats.
    pub stats: StatsConfig,
    /// Where and how often the model is checkpointed for a warm start.
    #[serde(default)]
    pub checkpoint: CheckpointConfig,
    /// The demand windows over per-partition rates.
    #[serde(default)]
    pub window: WindowConfig,
    /// How often each cluster is observed through the admin client and checked, in seconds.
    #[serde(default = "default_poll_interval_secs")]
    pub poll_interval_secs: u64,
    /// Seconds between the one-line status summary each cluster logs (brokers by state, URPs,
    /// findings, in-flight moves); 0 logs it only once, at the first round.
    #[serde(default = "default_log_summary_secs")]
    pub log_summary_secs: u64,
    /// Bounds on what ingest accepts from agents (clock skew, record size).
    #[serde(default)]
    pub ingest: IngestConfig,
    /// The action-log topic (written before every action; the fence between masters).
    #[serde(default)]
    pub action_log: ActionLogConfig,
    /// Alert sinks, de-duplication and paging graces.
    #[serde(default)]
    pub alert: AlertConfig,
    /// Host replacement: the user's command and its rate limits.
    #[serde(default)]
    pub replace: ReplaceConfig,
    /// The HTTP server: REST API, web UI and `/metrics` (loopback by default; mutations need a
    /// token).
    #[serde(default)]
    pub serve: ServeConfig,
    /// How plans are carried out: throttle, concurrency, progress, stuck moves.
    #[serde(default)]
    pub execute: ExecuteConfig,
    /// What happens to a broker a decommission drained (`unregister`, default off).
    #[serde(default)]
    pub decommission: DecommissionConfig,
}

/// One Kafka cluster.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct ClusterConfig {
    /// A short name, used on the command line (`plan --cluster NAME`), in logs and metrics.
    pub name: String,
    /// The expected `cluster.id`. When set, the master refuses a cluster that reports another id;
    /// when unset it is learned from DescribeCluster. Stats are matched to clusters by this id.
    #[serde(default)]
    pub cluster_id: Option<String>,
    /// How to reach the cluster's brokers (bootstrap, TLS, SASL).
    pub connection: ConnectionSettings,
    /// Per-broker network limits.
    #[serde(default)]
    pub limits: NetworkLimits,
    /// When to alert, heal and replace.
    #[serde(default)]
    pub policy: PolicyConfig,
    /// The planner's limits (balance target ratio, byte budget, moves per broker, disk).
    #[serde(default)]
    pub planner: crate::plan::Limits,
    /// Where clients run, for the cross-AZ report's produce and consume estimates (empty:
    /// unknown, assumed uniform over racks; see `xaz.rs`).
    #[serde(default)]
    pub cross_az: crate::xaz::ClientAzConfig,
}

/// Per-broker network limits: a default plus per-broker overrides.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct NetworkLimits {
    /// Bytes per second a broker may receive (produce plus replication fetch answers).
    #[serde(default = "default_net_in_bytes_per_sec")]
    pub default_in_bytes_per_sec: u64,
    /// Bytes per second a broker may send (consumer and follower fetches).
    #[serde(default = "default_net_out_bytes_per_sec")]
    pub default_out_bytes_per_sec: u64,
    /// Brokers with other limits (for example a different instance type).
    #[serde(default)]
    pub overrides: Vec<BrokerLimitOverride>,
}

/// Limits for one broker that differ from the default.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct BrokerLimitOverride {
    /// The broker id.
    pub broker_id: i32,
    /// Its receive limit in bytes per second; the default when unset.
    #[serde(default)]
    pub in_bytes_per_sec: Option<u64>,
    /// Its send limit in bytes per second; the default when unset.
    #[serde(default)]
    pub out_bytes_per_sec: Option<u64>,
}

impl NetworkLimits {
    /// The (in, out) limits in bytes per second for `broker_id`.
    pub fn for_broker(&self, broker_id: i32) -> (u64, u64) {
        let o = self.overrides.iter().find(|o| o.broker_id == broker_id);
        (
            o.and_then(|o| o.in_bytes_per_sec)
                .unwrap_or(self.default_in_bytes_per_sec),
            o.and_then(|o| o.out_bytes_per_sec)
                .unwrap_or(self.default_out_bytes_per_sec),
        )
    }
}

impl Default for NetworkLimits {
    fn default() -> Self {
        Self {
            default_in_bytes_per_sec: default_net_in_bytes_per_sec(),
            default_out_bytes_per_sec: default_net_out_bytes_per_sec(),
            overrides: Vec::new(),
        }
    }
}

/// The stats topic the agents publish to.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct StatsConfig {
    /// The cluster holding the stats topic (often a separate ops cluster).
    pub connection: ConnectionSettings,
    /// The topic's name.
    #[serde(default = "default_stats_topic")]
    pub topic: String,
}

/// Where and how often the model is checkpointed.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct CheckpointConfig {
    /// The checkpoint file. It is written atomically (temp file, fsync, rename).
    #[serde(default = "default_checkpoint_path")]
    pub path: PathBuf,
    /// Seconds between checkpoints. A restart replays at most this much of the stats topic.
    #[serde(default = "default_checkpoint_interval_secs")]
    pub interval_secs: u64,
}

impl Default for CheckpointConfig {
    fn default() -> Self {
        Self {
            path: default_checkpoint_path(),
            interval_secs: default_checkpoint_interval_secs(),
        }
    }
}

/// The demand windows.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct WindowConfig {
    /// The window's length in seconds (default 24 h).
    #[serde(default = "default_window_secs")]
    pub window_secs: u64,
    /// One bucket's length in seconds (default 15 min). Must divide `window_secs`.
    #[serde(default = "default_bucket_secs")]
    pub bucket_secs: u64,
    /// Samples within this many seconds after a partition was seen reassigning are ignored,
    /// because catch-up traffic is not demand (default 30 min).
    #[serde(default = "default_cooldown_after_reassignment_secs")]
    pub cooldown_after_reassignment_secs: u64,
}

impl Default for WindowConfig {
    fn default() -> Self {
        Self {
            window_secs: default_window_secs(),
            bucket_secs: default_bucket_secs(),
            cooldown_after_reassignment_secs: default_cooldown_after_reassignment_secs(),
        }
    }
}

impl WindowConfig {
    /// Buckets in the window.
    pub fn buckets(&self) -> usize {
        (self.window_secs / self.bucket_secs.max(1)) as usize
    }
}

fn default_log_summary_secs() -> u64 {
    300
}
fn default_poll_interval_secs() -> u64 {
    15
}
fn default_net_in_bytes_per_sec() -> u64 {
    // 1 Gbit/s: a conservative default for a cloud instance's sustained bandwidth.
    125_000_000
}
fn default_net_out_bytes_per_sec() -> u64 {
    125_000_000
}
fn default_stats_topic() -> String {
    // The agent's default too (issue 7 item 13); "__" marks it internal, as Kafka's own are.
    "__kmedic_stats".to_string()
}
fn default_checkpoint_path() -> PathBuf {
    PathBuf::from("/var/lib/kmedic/master.checkpoint")
}
fn default_checkpoint_interval_secs() -> u64 {
    300
}
fn default_window_secs() -> u64 {
    24 * 3600
}
fn default_bucket_secs() -> u64 {
    900
}
fn default_cooldown_after_reassignment_secs() -> u64 {
    1800
}

impl MasterConfig {
    /// Reads, parses and validates a config file.
    pub fn load(path: &Path) -> Result<Self> {
        let text = std::fs::read_to_string(path).map_err(|source| Error::Read {
            path: path.to_path_buf(),
            source,
        })?;
        let cfg: Self = toml::from_str(&text).map_err(|source| Error::Parse {
            path: path.to_path_buf(),
            source: Box::new(source),
        })?;
        cfg.validate()?;
        Ok(cfg)
    }

    /// The cluster called `name`.
    pub fn cluster(&self, name: &str) -> Option<&ClusterConfig> {
        self.clusters.iter().find(|c| c.name == name)
    }

    /// Cross-field checks. Each error says what to change.
    pub fn validate(&self) -> Result<()> {
        let bad = |m: String| Err(Error::Invalid(m));
        if self.clusters.is_empty() {
            return bad(
                "no [[clusters]] configured: add at least one with a name and a \
                 [clusters.connection]"
                    .into(),
            );
        }
        if self.poll_interval_secs == 0 {
            return bad("poll_interval_secs = 0: set it to at least 1 (15 is typical)".into());
        }
        let w = &self.window;
        if w.bucket_secs == 0 || w.window_secs < w.bucket_secs {
            return bad(format!(
                "window.bucket_secs = {} must be > 0 and at most window.window_secs = {}",
                w.bucket_secs, w.window_secs
            ));
        }
        if w.window_secs % w.bucket_secs != 0 {
            return bad(format!(
                "window.window_secs = {} is not a multiple of window.bucket_secs = {}: \
                 use for example window_secs = {}",
                w.window_secs,
                w.bucket_secs,
                w.window_secs / w.bucket_secs * w.bucket_secs
            ));
        }
        if w.buckets() > u16::MAX as usize {
            return bad(format!(
                "window has {} buckets; at most {} are supported: raise window.bucket_secs",
                w.buckets(),
                u16::MAX
            ));
        }
        self.ingest.validate().map_err(Error::Invalid)?;
        self.action_log.validate().map_err(Error::Invalid)?;
        self.alert.validate().map_err(Error::Invalid)?;
        self.replace.validate().map_err(Error::Invalid)?;
        self.execute.validate().map_err(Error::Invalid)?;
        self.serve.validate().map_err(Error::Invalid)?;
        if self.checkpoint.interval_secs == 0 {
            return bad("checkpoint.interval_secs = 0: set it to a few minutes (300)".into());
        }
        self.stats
            .connection
            .validate()
            .map_err(|e| Error::Invalid(format!("[stats.connection]: {e}")))?;
        if self.stats.topic.trim().is_empty() {
            return bad("stats.topic is empty: name the topic the agents publish to".into());
        }
        let mut names = BTreeSet::new();
        let mut ids = BTreeSet::new();
        for c in &self.clusters {
            if c.name.trim().is_empty() {
                return bad("a [[clusters]] entry has an empty name".into());
            }
            if !names.insert(c.name.as_str()) {
                return bad(format!(
                    "two [[clusters]] are named {:?}: names must be unique",
                    c.name
                ));
            }
            if let Some(id) = &c.cluster_id {
                if !ids.insert(id.as_str()) {
                    return bad(format!(
                        "cluster_id {id:?} is used by two clusters; each Kafka cluster has its own"
                    ));
                }
            }
            c.validate()?;
        }
        Ok(())
    }
}

impl ClusterConfig {
    fn validate(&self) -> Result<()> {
        let n = &self.name;
        self.connection
            .validate()
            .map_err(|e| Error::Invalid(format!("cluster {n:?} [clusters.connection]: {e}")))?;
        self.policy
            .validate()
            .map_err(|e| Error::Invalid(format!("cluster {n:?}: {e}")))?;
        policy::validate_planner(&self.planner)
            .map_err(|e| Error::Invalid(format!("cluster {n:?}: {e}")))?;
        self.cross_az
            .validate()
            .map_err(|e| Error::Invalid(format!("cluster {n:?}: {e}")))?;
        let l = &self.limits;
        if l.default_in_bytes_per_sec == 0 || l.default_out_bytes_per_sec == 0 {
            return Err(Error::Invalid(format!(
                "cluster {n:?}: limits.default_in/out_bytes_per_sec must be > 0 \
                 (125000000 = 1 Gbit/s)"
            )));
        }
        let mut seen = BTreeSet::new();
        for o in &l.overrides {
            if !seen.insert(o.broker_id) {
                return Err(Error::Invalid(format!(
                    "cluster {n:?}: broker {} has two entries in limits.overrides; merge them",
                    o.broker_id
                )));
            }
            if o.in_bytes_per_sec == Some(0) || o.out_bytes_per_sec == Some(0) {
                return Err(Error::Invalid(format!(
                    "cluster {n:?}: limits.overrides for broker {} sets a limit of 0; use \
                     decommission to drain a broker instead",
                    o.broker_id
                )));
            }
        }
        Ok(())
    }
}

#[cfg(test)]
mod tests;
