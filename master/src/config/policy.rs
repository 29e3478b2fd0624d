//! The `[clusters.policy]` section (when findings turn into alerts and actions) and the
//! cross-field checks that refuse a configuration that cannot be safe: a heal grace shorter
//! than a broker restart, an agent silence shorter than two heartbeats, a replacement before
//! the heal, planner limits that are NaN, infinite or negative. Each error names the key and
//! the fix.

use serde::{Deserialize, Serialize};

/// A broker restart (stop, JVM start, log recovery, catch-up) takes about a minute; a heal
/// grace below this needs `allow_short_heal_grace`.
pub const MIN_HEAL_GRACE_SECS: u64 = 60;

/// When findings turn into alerts and actions.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct PolicyConfig {
    /// How long a finding must persist before it is alerted on, in seconds (0 = at once).
    #[serde(default = "default_alert_grace_secs")]
    pub alert_grace_secs: u64,
    /// How long a broker must be confirmed dead before its replicas are moved, in seconds. This is
    /// what tells a restart (back within a minute or two) from a failure.
    #[serde(default = "default_heal_grace_secs")]
    pub heal_grace_secs: u64,
    /// How long a broker must be confirmed dead before its host is replaced, in seconds.
    #[serde(default = "default_replace_grace_secs")]
    pub replace_grace_secs: u64,
    /// An agent silent for this long counts as the agent's "dead" signal, in seconds.
    #[serde(default = "default_agent_silence_secs")]
    pub agent_silence_secs: u64,
    /// Decide and log, but never act.
    #[serde(default)]
    pub dry_run: bool,
    /// Maintenance mode: alert only, never act. (Persisted in the action log once that exists;
    /// this is the start-up value.)
    #[serde(default)]
    pub maintenance: bool,
    /// Allow `heal_grace_secs` under 60 s. A broker restart takes about a minute; a shorter
    /// grace turns every restart into a heal (copying all its replicas). For tests only.
    #[serde(default)]
    pub allow_short_heal_grace: bool,
    /// The agents' heartbeat interval, in seconds (the agent's default is 10).
    /// `agent_silence_secs` must be at least two heartbeats, so one late or lost heartbeat is
    /// never the agent's "dead" signal.
    #[serde(default = "default_agent_heartbeat_secs")]
    pub agent_heartbeat_secs: u64,
    /// Mass failure (DESIGN.md rule 6): more failed (dead, suspect or hung) brokers than this
    /// in one rack is an outage, not a broker failure: no data moves, one loud alert. A whole
    /// rack of two or more brokers failing always is.
    #[serde(default = "default_mass_failure_max_per_rack")]
    pub mass_failure_max_per_rack: u32,
    /// Mass failure: more than this percentage of the cluster's brokers failed at once (and at
    /// least two) is an outage.
    #[serde(default = "default_mass_failure_max_percent")]
    pub mass_failure_max_percent: u32,
    /// The operator's word after a mass failure: heal anyway (each dead broker still waits for
    /// its heal grace and the confidence gate). Set it, reload, and unset it once healed.
    #[serde(default)]
    pub mass_failure_override: bool,
}

impl Default for PolicyConfig {
    fn default() -> Self {
        Self {
            alert_grace_secs: default_alert_grace_secs(),
            heal_grace_secs: default_heal_grace_secs(),
            replace_grace_secs: default_replace_grace_secs(),
            agent_silence_secs: default_agent_silence_secs(),
            dry_run: false,
            maintenance: false,
            allow_short_heal_grace: false,
            agent_heartbeat_secs: default_agent_heartbeat_secs(),
            mass_failure_max_per_rack: default_mass_failure_max_per_rack(),
            mass_failure_max_percent: default_mass_failure_max_percent(),
            mass_failure_override: false,
        }
    }
}

fn default_alert_grace_secs() -> u64 {
    0
}
fn default_heal_grace_secs() -> u64 {
    300
}
fn default_replace_grace_secs() -> u64 {
    1800
}
fn default_agent_silence_secs() -> u64 {
    60
}
fn default_agent_heartbeat_secs() -> u64 {
    10
}
fn default_mass_failure_max_per_rack() -> u32 {
    1
}
fn default_mass_failure_max_percent() -> u32 {
    10
}

impl PolicyConfig {
    /// Checks the section on its own; the error names the key and the fix.
    pub fn validate(&self) -> Result<(), String> {
        if self.heal_grace_secs < MIN_HEAL_GRACE_SECS && !self.allow_short_heal_grace {
            return Err(format!(
                "policy.heal_grace_secs = {} is shorter than a broker restart (about {} s): \
                 every restart would be healed by copying all its replicas; set \
                 heal_grace_secs to at least {} (300 is the default), or set \
                 policy.allow_short_heal_grace = true if this is a test cluster",
                self.heal_grace_secs, MIN_HEAL_GRACE_SECS, MIN_HEAL_GRACE_SECS
            ));
        }
        if self.replace_grace_secs < self.heal_grace_secs {
            return Err(format!(
                "policy.replace_grace_secs = {} is shorter than policy.heal_grace_secs = {}: a \
                 host must not be replaced before its replicas are moved; raise \
                 replace_grace_secs to at least {}",
                self.replace_grace_secs, self.heal_grace_secs, self.heal_grace_secs
            ));
        }
        if self.agent_heartbeat_secs == 0 {
            return Err(
                "policy.agent_heartbeat_secs = 0: set it to the agents' heartbeat \
                        interval (the agent's default is 10)"
                    .into(),
            );
        }
        let min_silence = self.agent_heartbeat_secs.saturating_mul(2);
        if self.agent_silence_secs < min_silence {
            return Err(format!(
                "policy.agent_silence_secs = {} is shorter than two agent heartbeats (2 x \
                 policy.agent_heartbeat_secs = {} s): one late heartbeat would be the agent's \
                 \"dead\" signal; raise agent_silence_secs to at least {min_silence} (60 is the \
                 default)",
                self.agent_silence_secs, self.agent_heartbeat_secs
            ));
        }
        if self.mass_failure_max_percent > 100 {
            return Err(format!(
                "policy.mass_failure_max_percent = {} is not a percentage: use 0 to 100 (10 is \
                 the default)",
                self.mass_failure_max_percent
            ));
        }
        Ok(())
    }
}

/// Refuses planner limits that are NaN, infinite, negative or out of range; the error names the
/// key and the fix.
pub fn validate_planner(l: &crate::plan::Limits) -> Result<(), String> {
    let r = l.target_ratio;
    if !r.is_finite() || r < 1.0 {
        return Err(format!(
            "planner.target_ratio = {r} must be a finite number >= 1.0 (the most a broker may \
             carry over the cluster's mean; 1.10 is the default)"
        ));
    }
    let d = l.max_disk_utilization;
    if !d.is_finite() || d <= 0.0 || d > 1.0 {
        return Err(format!(
            "planner.max_disk_utilization = {d} must be a fraction in (0, 1] (0.85 is the \
             default)"
        ));
    }
    for (key, band) in [
        ("replica_count_band", l.replica_count_band),
        ("leader_count_band", l.leader_count_band),
    ] {
        if !band.is_finite() || !(0.0..1.0).contains(&band) {
            return Err(format!(
                "planner.{key} = {band} must be a fraction in [0, 1) (0.10 is the default; 0 \
                 turns the goal off)"
            ));
        }
    }
    Ok(())
}
