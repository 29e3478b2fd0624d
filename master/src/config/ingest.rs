//! The `[ingest]` section: how far agents' clocks may drift, when that is worth a finding, and
//! how big one stats record may be (DESIGN.md rules 3 and 9).

use serde::{Deserialize, Serialize};

/// Bounds on what ingest accepts from agents.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct IngestConfig {
    /// A record whose agent timestamp is further than this from the master's wall clock at
    /// receive (or, for a replayed record, from its Kafka timestamp) is refused, counted and
    /// logged: it updates nothing, so a record stamped a day ahead cannot freeze an agent's
    /// state (default 300 s = 5 min).
    #[serde(default = "default_max_clock_skew_secs")]
    pub max_clock_skew_secs: u64,
    /// An agent whose clock is off by more than this (but within `max_clock_skew_secs`) is
    /// reported as a `ClockSkew` finding (default 30 s).
    #[serde(default = "default_clock_skew_alert_secs")]
    pub clock_skew_alert_secs: u64,
    /// Stats for one broker id from two hostnames, both heard within this many seconds, are a
    /// `DuplicateBrokerId` finding (a cloned image with a duplicate id; default 300 s).
    #[serde(default = "default_duplicate_host_window_secs")]
    pub duplicate_host_window_secs: u64,
    /// A full-stats record with more replicas than this is refused and counted (default 20,000;
    /// Kafka advises well under that per broker).
    #[serde(default = "default_max_replicas_per_record")]
    pub max_replicas_per_record: u32,
    /// A full-stats record with more topics than this is refused and counted (default 10,000).
    #[serde(default = "default_max_topics_per_record")]
    pub max_topics_per_record: u32,
}

impl Default for IngestConfig {
    fn default() -> Self {
        Self {
            max_clock_skew_secs: default_max_clock_skew_secs(),
            clock_skew_alert_secs: default_clock_skew_alert_secs(),
            duplicate_host_window_secs: default_duplicate_host_window_secs(),
            max_replicas_per_record: default_max_replicas_per_record(),
            max_topics_per_record: default_max_topics_per_record(),
        }
    }
}

impl IngestConfig {
    /// Cross-field checks; the message names the key and the fix.
    pub fn validate(&self) -> Result<(), String> {
        if self.max_clock_skew_secs == 0 {
            return Err(
                "ingest.max_clock_skew_secs = 0 would refuse every record: set it to a \
                        few minutes (300)"
                    .into(),
            );
        }
        if self.clock_skew_alert_secs > self.max_clock_skew_secs {
            return Err(format!(
                "ingest.clock_skew_alert_secs = {} is above ingest.max_clock_skew_secs = {}: \
                 a skew that large is refused, never alerted on; lower clock_skew_alert_secs \
                 (30 is typical)",
                self.clock_skew_alert_secs, self.max_clock_skew_secs
            ));
        }
        if self.max_replicas_per_record == 0 || self.max_topics_per_record == 0 {
            return Err(
                "ingest.max_replicas_per_record and ingest.max_topics_per_record must be \
                        > 0 (defaults 20000 and 10000)"
                    .into(),
            );
        }
        Ok(())
    }
}

fn default_max_clock_skew_secs() -> u64 {
    300
}
fn default_clock_skew_alert_secs() -> u64 {
    30
}
fn default_duplicate_host_window_secs() -> u64 {
    300
}
fn default_max_replicas_per_record() -> u32 {
    20_000
}
fn default_max_topics_per_record() -> u32 {
    10_000
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn defaults_are_valid_and_bad_values_name_the_key() {
        assert!(IngestConfig::default().validate().is_ok());
        let c = IngestConfig {
            max_clock_skew_secs: 0,
            ..IngestConfig::default()
        };
        assert!(c.validate().unwrap_err().contains("max_clock_skew_secs"));
        let c = IngestConfig {
            clock_skew_alert_secs: 600,
            ..IngestConfig::default()
        };
        assert!(c.validate().unwrap_err().contains("clock_skew_alert_secs"));
        let parsed: IngestConfig = toml::from_str("max_clock_skew_secs = 60").unwrap();
        assert_eq!(parsed.max_clock_skew_secs, 60);
        assert_eq!(parsed.max_replicas_per_record, 20_000);
    }
}
