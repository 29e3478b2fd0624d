//! The `[action_log]` section: the topic every action is written to before it is taken, and the
//! transactional id that makes it the fence between masters (DESIGN rule 8).

use serde::{Deserialize, Serialize};

use kmedic_common::connection::ConnectionSettings;

/// Where and how the action log is written.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct ActionLogConfig {
    /// The cluster holding the topic; the `[stats.connection]` cluster when unset.
    #[serde(default)]
    pub connection: Option<ConnectionSettings>,
    /// The topic's name.
    #[serde(default = "default_topic")]
    pub topic: String,
    /// The producer's `transactional.id`: the SAME for every master of one group, so the newest
    /// master fences the others. Two groups with one id would fence each other.
    #[serde(default = "default_transactional_id")]
    pub transactional_id: String,
    /// This master's name in records; `hostname:pid` when unset.
    #[serde(default)]
    pub master_id: Option<String>,
    /// Partitions when the topic is created (1 keeps every record in one order).
    #[serde(default = "default_partitions")]
    pub partitions: i32,
    /// Replication factor when the topic is created.
    #[serde(default = "default_replication_factor")]
    pub replication_factor: i16,
    /// `min.insync.replicas` when the topic is created.
    #[serde(default = "default_min_insync_replicas")]
    pub min_insync_replicas: u32,
    /// `retention.ms` when the topic is created (default 400 days: well past any rate-limit
    /// window, and a year of history).
    #[serde(default = "default_retention_ms")]
    pub retention_ms: u64,
    /// Milliseconds one write (begin, produce, commit) may take before it fails.
    #[serde(default = "default_write_timeout_ms")]
    pub write_timeout_ms: u64,
    /// Seconds the start-up read-back may take before the master refuses to start acting.
    #[serde(default = "default_replay_timeout_secs")]
    pub replay_timeout_secs: u64,
}

impl Default for ActionLogConfig {
    fn default() -> Self {
        Self {
            connection: None,
            topic: default_topic(),
            transactional_id: default_transactional_id(),
            master_id: None,
            partitions: default_partitions(),
            replication_factor: default_replication_factor(),
            min_insync_replicas: default_min_insync_replicas(),
            retention_ms: default_retention_ms(),
            write_timeout_ms: default_write_timeout_ms(),
            replay_timeout_secs: default_replay_timeout_secs(),
        }
    }
}

impl ActionLogConfig {
    /// Cross-field checks; the message names the key and the fix.
    pub fn validate(&self) -> Result<(), String> {
        if self.topic.trim().is_empty() {
            return Err("action_log.topic is empty: name the topic (\"__kmedic_actions\")".into());
        }
        if self.transactional_id.trim().is_empty() {
            return Err(
                "action_log.transactional_id is empty: use one id per master group \
                        (\"kmedic-master\")"
                    .into(),
            );
        }
        if self.partitions < 1 || self.replication_factor < 1 {
            return Err(format!(
                "action_log.partitions = {} and action_log.replication_factor = {} must be at \
                 least 1 (defaults 1 and 3)",
                self.partitions, self.replication_factor
            ));
        }
        if self.min_insync_replicas < 1 || self.min_insync_replicas > self.replication_factor as u32
        {
            return Err(format!(
                "action_log.min_insync_replicas = {} must be between 1 and \
                 action_log.replication_factor = {} (default 2 of 3)",
                self.min_insync_replicas, self.replication_factor
            ));
        }
        if self.write_timeout_ms < 1_000 || self.replay_timeout_secs == 0 {
            return Err("action_log.write_timeout_ms must be at least 1000 and \
                        action_log.replay_timeout_secs above 0 (defaults 30000 and 60)"
                .into());
        }
        if let Some(c) = &self.connection {
            c.validate()
                .map_err(|e| format!("[action_log.connection]: {e}"))?;
        }
        Ok(())
    }

    /// The configured master id, or `hostname:pid`.
    pub fn master_id(&self) -> String {
        if let Some(id) = &self.master_id {
            return id.clone();
        }
        let host = std::fs::read_to_string("/proc/sys/kernel/hostname")
            .map(|h| h.trim().to_string())
            .unwrap_or_else(|_| "unknown".into());
        format!("{host}:{}", std::process::id())
    }
}

fn default_topic() -> String {
    "__kmedic_actions".into()
}
fn default_transactional_id() -> String {
    "kmedic-master".into()
}
fn default_partitions() -> i32 {
    1
}
fn default_replication_factor() -> i16 {
    3
}
fn default_min_insync_replicas() -> u32 {
    2
}
fn default_retention_ms() -> u64 {
    400 * 24 * 3600 * 1000
}
fn default_write_timeout_ms() -> u64 {
    30_000
}
fn default_replay_timeout_secs() -> u64 {
    60
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn defaults_validate_and_bad_values_name_the_key() {
        ActionLogConfig::default().validate().unwrap();
        let c = ActionLogConfig {
            min_insync_replicas: 4,
            ..Default::default()
        };
        assert!(c.validate().unwrap_err().contains("min_insync_replicas"));
        let c = ActionLogConfig {
            transactional_id: " ".into(),
            ..Default::default()
        };
        assert!(c.validate().unwrap_err().contains("transactional_id"));
    }
}
