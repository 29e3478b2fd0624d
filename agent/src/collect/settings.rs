//! The collectors' settings: the `[collect]` part of the agent's configuration.
//!
//! Every root the collectors read (`/proc`, `/sys`, the IMDS endpoint) is a setting, so tests can
//! point the agent at temp-dir fixtures and local servers.

use std::path::PathBuf;

use kmedic_common::imds::ImdsSettings;
use serde::{Deserialize, Serialize};

/// What the collectors read, and how long they may wait.
#[derive(Debug, Clone, PartialEq, Deserialize, Serialize)]
#[serde(deny_unknown_fields)]
pub struct CollectSettings {
    /// Root of the proc filesystem (`/proc`). Tests point this at a fixture directory.
    #[serde(default = "default_proc_root")]
    pub proc_root: PathBuf,
    /// Root of the sys filesystem (`/sys`); used to name block devices from `dev/block/MAJ:MIN`.
    #[serde(default = "default_sys_root")]
    pub sys_root: PathBuf,
    /// A file holding the Kafka broker's pid. When set, it wins over the command-line search.
    #[serde(default)]
    pub kafka_pid_file: Option<PathBuf>,
    /// A string the Kafka process's command line must contain (the main class by default).
    /// When the agent also knows the broker's server.properties path, that path must appear in the
    /// command line too, so the right broker is found when several run on one host.
    #[serde(default = "default_kafka_cmdline_match")]
    pub kafka_cmdline_match: String,
    /// The host's main network interface (for example `eth0`). It is always reported, even if it is
    /// the loopback interface (as on a single-host test cluster).
    #[serde(default)]
    pub primary_interface: Option<String>,
    /// Timeout of the ApiVersions round trip to the local broker, in milliseconds.
    #[serde(default = "default_probe_timeout_ms")]
    pub probe_timeout_ms: u64,
    /// Timeout of the Metadata and ListPartitionReassignments calls of a full sample, in
    /// milliseconds. When it passes, roles are sent as unknown rather than delaying the sample.
    #[serde(default = "default_metadata_timeout_ms")]
    pub metadata_timeout_ms: u64,
    /// Where the cloud identity comes from.
    #[serde(default)]
    pub imds: ImdsSettings,
    /// A Prometheus JMX exporter endpoint (for example `http://127.0.0.1:7071/metrics`). When set,
    /// per-topic bytes out are measured from it; otherwise they are estimated (see `bytes_out`).
    #[serde(default)]
    pub jmx_exporter_url: Option<String>,
    /// The JMX exporter's per-topic bytes-out counter name.
    #[serde(default = "default_jmx_bytes_out_metric")]
    pub jmx_bytes_out_metric: String,
    /// Timeout of one JMX exporter scrape, in milliseconds.
    #[serde(default = "default_jmx_timeout_ms")]
    pub jmx_timeout_ms: u64,
    /// How many times each leader's appended bytes are read by consumers, for the bytes-out
    /// estimate: 1.0 means one consumer group reads everything once.
    #[serde(default = "default_consumer_fanout")]
    pub consumer_fanout: f64,
    /// Minimum time between two log lines about the same failing collector, in seconds.
    #[serde(default = "default_error_log_interval_secs")]
    pub error_log_interval_secs: u64,
}

impl Default for CollectSettings {
    fn default() -> Self {
        Self {
            proc_root: default_proc_root(),
            sys_root: default_sys_root(),
            kafka_pid_file: None,
            kafka_cmdline_match: default_kafka_cmdline_match(),
            primary_interface: None,
            probe_timeout_ms: default_probe_timeout_ms(),
            metadata_timeout_ms: default_metadata_timeout_ms(),
            imds: ImdsSettings::default(),
            jmx_exporter_url: None,
            jmx_bytes_out_metric: default_jmx_bytes_out_metric(),
            jmx_timeout_ms: default_jmx_timeout_ms(),
            consumer_fanout: default_consumer_fanout(),
            error_log_interval_secs: default_error_log_interval_secs(),
        }
    }
}

fn default_proc_root() -> PathBuf {
    PathBuf::from("/proc")
}

fn default_sys_root() -> PathBuf {
    PathBuf::from("/sys")
}

fn default_kafka_cmdline_match() -> String {
    "kafka.Kafka".to_owned()
}

fn default_probe_timeout_ms() -> u64 {
    2_000
}

fn default_metadata_timeout_ms() -> u64 {
    10_000
}

fn default_jmx_bytes_out_metric() -> String {
    "kafka_server_brokertopicmetrics_bytesout_total".to_owned()
}

fn default_jmx_timeout_ms() -> u64 {
    2_000
}

fn default_consumer_fanout() -> f64 {
    1.0
}

fn default_error_log_interval_secs() -> u64 {
    300
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn empty_table_gives_the_defaults() {
        let parsed: CollectSettings = toml::from_str("").unwrap();
        assert_eq!(parsed, CollectSettings::default());
        assert_eq!(parsed.proc_root, PathBuf::from("/proc"));
        assert_eq!(parsed.imds.timeout_ms, 300);
    }

    #[test]
    fn unknown_keys_are_rejected() {
        let err = toml::from_str::<CollectSettings>("proc_rot = \"/x\"").unwrap_err();
        assert!(err.to_string().contains("proc_rot"), "{err}");
        let err = toml::from_str::<CollectSettings>("[imds]\nendpont = \"x\"").unwrap_err();
        assert!(err.to_string().contains("endpont"), "{err}");
    }
}
