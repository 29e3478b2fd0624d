//! The `[replace]` section: the user's host-replacement command and its rate limits
//! (DESIGN rules 7 and 9).

use serde::{Deserialize, Serialize};

/// How hosts are replaced.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct ReplaceConfig {
    /// The command (program and leading arguments); kmedic appends the broker id, the hostname
    /// and the cluster id, each as one argument. No shell runs it. Empty: replacement is off.
    #[serde(default)]
    pub command: Vec<String>,
    /// Seconds the command may run; it is killed after that and the replacement failed.
    #[serde(default = "default_timeout_secs")]
    pub timeout_secs: u64,
    /// At most one replacement per cluster in this many seconds (default 12 h), counted from the
    /// action log, so it holds across restarts.
    #[serde(default = "default_period_secs")]
    pub period_secs: u64,
    /// At most this many brokers of one cluster being replaced at once (command running, or
    /// replaced but not caught up yet).
    #[serde(default = "default_max_concurrent")]
    pub max_concurrent: usize,
    /// Bytes of stdout and of stderr kept in the action log.
    #[serde(default = "default_max_output_bytes")]
    pub max_output_bytes: usize,
}

impl Default for ReplaceConfig {
    fn default() -> Self {
        Self {
            command: Vec::new(),
            timeout_secs: default_timeout_secs(),
            period_secs: default_period_secs(),
            max_concurrent: default_max_concurrent(),
            max_output_bytes: default_max_output_bytes(),
        }
    }
}

impl ReplaceConfig {
    /// Cross-field checks; the message names the key and the fix.
    pub fn validate(&self) -> Result<(), String> {
        if self.command.first().is_some_and(|p| p.trim().is_empty()) {
            return Err(
                "replace.command starts with an empty program: give the script's path, \
                        e.g. [\"/usr/local/bin/replace-host\"]"
                    .into(),
            );
        }
        if self.timeout_secs == 0 {
            return Err("replace.timeout_secs = 0: give the command time to run (600)".into());
        }
        if self.period_secs == 0 {
            return Err(
                "replace.period_secs = 0 would allow unlimited replacements: set a \
                        period (43200 = 12 h)"
                    .into(),
            );
        }
        if self.max_concurrent == 0 {
            return Err(
                "replace.max_concurrent = 0: use an empty replace.command to turn \
                        replacement off, or set 1"
                    .into(),
            );
        }
        Ok(())
    }
}

fn default_timeout_secs() -> u64 {
    600
}
fn default_period_secs() -> u64 {
    12 * 3600
}
fn default_max_concurrent() -> usize {
    1
}
fn default_max_output_bytes() -> usize {
    16 * 1024
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::config::{ActionLogConfig, AlertConfig, MasterConfig};

    #[test]
    fn the_example_shows_the_defaults_of_action_log_alert_and_replace() {
        let text = include_str!("../../../deploy/master/master.example.toml");
        let cfg: MasterConfig = toml::from_str(text).unwrap();
        cfg.validate().unwrap();
        assert_eq!(cfg.action_log, ActionLogConfig::default());
        assert_eq!(cfg.alert, AlertConfig::default());
        assert_eq!(cfg.replace, ReplaceConfig::default());
    }

    #[test]
    fn bad_values_name_the_key() {
        ReplaceConfig::default().validate().unwrap();
        for (c, key) in [
            (
                ReplaceConfig {
                    period_secs: 0,
                    ..Default::default()
                },
                "replace.period_secs",
            ),
            (
                ReplaceConfig {
                    max_concurrent: 0,
                    ..Default::default()
                },
                "replace.max_concurrent",
            ),
            (
                ReplaceConfig {
                    command: vec![" ".into()],
                    ..Default::default()
                },
                "replace.command",
            ),
        ] {
            assert!(c.validate().unwrap_err().contains(key), "{key}");
        }
        let a = AlertConfig {
            webhooks: vec![crate::config::WebhookConfig {
                url: "http://x".into(),
                format: crate::config::WebhookFormat::Pagerduty,
                routing_key: None,
            }],
            ..Default::default()
        };
        assert!(a.validate().unwrap_err().contains("routing_key"));
    }
}
