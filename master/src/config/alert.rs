//! The `[alert]` section: where alerts go (webhooks, a command), how often one is repeated, and
//! how long a condition must last before it pages (so a rolling restart is a log line).

use serde::{Deserialize, Serialize};

use kmedic_common::backoff::RetryPolicy;

/// Alert sinks and de-duplication.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct AlertConfig {
    /// Webhooks to POST to (`http://` or `https://`).
    #[serde(default)]
    pub webhooks: Vec<WebhookConfig>,
    /// PEM CA certificates trusted for `https://` webhooks; the public web roots when unset.
    #[serde(default)]
    pub ca_file: Option<std::path::PathBuf>,
    /// A command run per alert (no shell), with arguments appended: `trigger` or `resolve`, the
    /// kind, the cluster, the de-duplication key, and the alert as JSON.
    #[serde(default)]
    pub command: Vec<String>,
    /// An alert with the same key is not sent again within this many seconds (default 1 h).
    #[serde(default = "default_cool_off_secs")]
    pub cool_off_secs: u64,
    /// A suspect broker pages only after it has been suspect this long: longer than a broker
    /// restart (default 300 s), so a rolling restart raises none.
    #[serde(default = "default_suspect_broker_grace_secs")]
    pub suspect_broker_grace_secs: u64,
    /// Unexplained under-replicated partitions page only after this long (a restarting broker
    /// leaves URPs for a minute or two; default 300 s).
    #[serde(default = "default_unexplained_urps_grace_secs")]
    pub unexplained_urps_grace_secs: u64,
    /// A mass failure pages after this long (default 60 s: two brokers restarting at once for a
    /// few seconds is not an outage).
    #[serde(default = "default_mass_failure_grace_secs")]
    pub mass_failure_grace_secs: u64,
    /// Under-replicated partitions explained by dead brokers (being healed) page as
    /// `prolonged_urps` only after this long (default 1800 s: a heal normally ends sooner).
    #[serde(default = "default_prolonged_urps_secs")]
    pub prolonged_urps_secs: u64,
    /// Milliseconds one delivery attempt may take.
    #[serde(default = "default_timeout_ms")]
    pub timeout_ms: u64,
    /// Retries of a failed delivery (bounded by its deadline).
    #[serde(default = "default_retry")]
    pub retry: RetryPolicy,
}

/// One webhook.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct WebhookConfig {
    /// The URL (`http://...` or `https://...`).
    pub url: String,
    /// The payload's shape.
    #[serde(default)]
    pub format: WebhookFormat,
    /// PagerDuty's integration (routing) key; required for `pagerduty`.
    #[serde(default)]
    pub routing_key: Option<String>,
}

/// A webhook's payload shape.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum WebhookFormat {
    /// kmedic's own JSON (status, key, kind, severity, cluster, subject, summary, details).
    #[default]
    Generic,
    /// A Slack incoming webhook (`{"text": ...}`).
    Slack,
    /// PagerDuty Events API v2 (trigger and resolve with `dedup_key`).
    Pagerduty,
}

impl Default for AlertConfig {
    fn default() -> Self {
        Self {
            webhooks: Vec::new(),
            ca_file: None,
            command: Vec::new(),
            cool_off_secs: default_cool_off_secs(),
            suspect_broker_grace_secs: default_suspect_broker_grace_secs(),
            unexplained_urps_grace_secs: default_unexplained_urps_grace_secs(),
            mass_failure_grace_secs: default_mass_failure_grace_secs(),
            prolonged_urps_secs: default_prolonged_urps_secs(),
            timeout_ms: default_timeout_ms(),
            retry: default_retry(),
        }
    }
}

impl AlertConfig {
    /// Cross-field checks; the message names the key and the fix.
    pub fn validate(&self) -> Result<(), String> {
        for (i, w) in self.webhooks.iter().enumerate() {
            if !(w.url.starts_with("http://") || w.url.starts_with("https://")) {
                return Err(format!(
                    "alert.webhooks[{i}].url = {:?}: give an http:// or https:// URL",
                    w.url
                ));
            }
            if w.format == WebhookFormat::Pagerduty
                && w.routing_key.as_deref().is_none_or(|k| k.trim().is_empty())
            {
                return Err(format!(
                    "alert.webhooks[{i}] is pagerduty without a routing_key: add the \
                     integration key"
                ));
            }
        }
        if self.command.first().is_some_and(|p| p.trim().is_empty()) {
            return Err("alert.command starts with an empty program: give its path".into());
        }
        if self.timeout_ms == 0 {
            return Err("alert.timeout_ms = 0: give a delivery time to answer (5000)".into());
        }
        Ok(())
    }
}

fn default_cool_off_secs() -> u64 {
    3600
}
fn default_suspect_broker_grace_secs() -> u64 {
    300
}
fn default_unexplained_urps_grace_secs() -> u64 {
    300
}
fn default_mass_failure_grace_secs() -> u64 {
    60
}
fn default_prolonged_urps_secs() -> u64 {
    1800
}
fn default_timeout_ms() -> u64 {
    5_000
}
fn default_retry() -> RetryPolicy {
    RetryPolicy {
        initial_delay_ms: 500,
        max_delay_ms: 5_000,
        deadline_ms: 30_000,
    }
}
