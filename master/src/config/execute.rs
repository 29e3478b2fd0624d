//! The `[execute]` section: how the executor carries out plans (throttle, concurrency, progress,
//! stuck moves, timeouts). Defaults are safe: a throttled copy, a few moves at a time.

use serde::{Deserialize, Serialize};

/// How plans are carried out.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct ExecuteConfig {
    /// Replication throttle in bytes per second, set as `leader.replication.throttled.rate` and
    /// `follower.replication.throttled.rate` on the broker-default resource while a plan moves
    /// data, and removed afterwards (default 50 MiB/s).
    #[serde(default = "default_throttle_bytes_per_sec")]
    pub throttle_bytes_per_sec: u64,
    /// At most this many moves in flight that add or remove a replica on one broker (default 2).
    #[serde(default = "default_max_moves_per_broker")]
    pub max_moves_per_broker: u32,
    /// At most this many moves in flight in the cluster (default 10).
    #[serde(default = "default_max_moves_per_cluster")]
    pub max_moves_per_cluster: u32,
    /// At most this many bytes being copied at once (default 200 GiB). A single move larger
    /// than this still runs, alone.
    #[serde(default = "default_max_bytes_in_flight")]
    pub max_bytes_in_flight: u64,
    /// How often progress is read from the cluster, in milliseconds (default 5000).
    #[serde(default = "default_poll_interval_ms")]
    pub poll_interval_ms: u64,
    /// A progress line is logged at most this often, in seconds, or when a plan crosses a
    /// 10 % step (default 30).
    #[serde(default = "default_progress_log_secs")]
    pub progress_log_secs: u64,
    /// A move whose new replicas gained no bytes for this many seconds is stuck: reported
    /// once (default 600).
    #[serde(default = "default_stuck_after_secs")]
    pub stuck_after_secs: u64,
    /// Whether a stuck move is cancelled (its partition goes back to its old replicas and is
    /// reported for re-planning). Default false: report only.
    #[serde(default)]
    pub cancel_stuck: bool,
    /// A move is cancelled when it takes longer than
    /// max(bytes in flight at its submission / throttle x `timeout_factor`, this floor), in
    /// seconds (default 600).
    #[serde(default = "default_timeout_floor_secs")]
    pub timeout_floor_secs: u64,
    /// Slack over the ideal copy time before a move times out (default 3.0).
    #[serde(default = "default_timeout_factor")]
    pub timeout_factor: f64,
    /// The band an adaptive throttle stays in (checked only with `adaptive_throttle`, which must
    /// then hold `throttle_bytes_per_sec` inside it): never below this (default 10 MiB/s)...
    #[serde(default = "default_throttle_min_bytes_per_sec")]
    pub throttle_min_bytes_per_sec: u64,
    /// ...and never above this (default 200 MiB/s).
    #[serde(default = "default_throttle_max_bytes_per_sec")]
    pub throttle_max_bytes_per_sec: u64,
    /// Adaptive throttle: replication may use up to this share of a broker's network limit,
    /// minus the non-replication traffic the agents observe (default 0.8).
    #[serde(default = "default_adaptive_network_share")]
    pub adaptive_network_share: f64,
    /// Adapt the throttle while a plan runs, within the band, to the spare network of the
    /// brokers it copies to and from (their agents' host in/out, less kmedic's own copy,
    /// against `[limits]`). Default false: the configured rate holds.
    #[serde(default)]
    pub adaptive_throttle: bool,
}

fn default_throttle_bytes_per_sec() -> u64 {
    50 * 1024 * 1024
}
fn default_max_moves_per_broker() -> u32 {
    2
}
fn default_max_moves_per_cluster() -> u32 {
    10
}
fn default_max_bytes_in_flight() -> u64 {
    200 * 1024 * 1024 * 1024
}
fn default_poll_interval_ms() -> u64 {
    5000
}
fn default_progress_log_secs() -> u64 {
    30
}
fn default_stuck_after_secs() -> u64 {
    600
}
fn default_timeout_floor_secs() -> u64 {
    600
}
fn default_timeout_factor() -> f64 {
    3.0
}
fn default_throttle_min_bytes_per_sec() -> u64 {
    10 * 1024 * 1024
}
fn default_throttle_max_bytes_per_sec() -> u64 {
    200 * 1024 * 1024
}
fn default_adaptive_network_share() -> f64 {
    0.8
}

impl Default for ExecuteConfig {
    fn default() -> Self {
        Self {
            throttle_bytes_per_sec: default_throttle_bytes_per_sec(),
            max_moves_per_broker: default_max_moves_per_broker(),
            max_moves_per_cluster: default_max_moves_per_cluster(),
            max_bytes_in_flight: default_max_bytes_in_flight(),
            poll_interval_ms: default_poll_interval_ms(),
            progress_log_secs: default_progress_log_secs(),
            stuck_after_secs: default_stuck_after_secs(),
            cancel_stuck: false,
            timeout_floor_secs: default_timeout_floor_secs(),
            timeout_factor: default_timeout_factor(),
            throttle_min_bytes_per_sec: default_throttle_min_bytes_per_sec(),
            throttle_max_bytes_per_sec: default_throttle_max_bytes_per_sec(),
            adaptive_network_share: default_adaptive_network_share(),
            adaptive_throttle: false,
        }
    }
}

impl ExecuteConfig {
    /// Checks; the message names the key and the fix.
    pub fn validate(&self) -> Result<(), String> {
        let zero = |key: &str, fix: &str| Err(format!("execute.{key} = 0: {fix}"));
        if self.throttle_bytes_per_sec == 0 {
            return zero(
                "throttle_bytes_per_sec",
                "a zero throttle stops replication; set a rate in bytes per second (52428800 = 50 MiB/s)",
            );
        }
        if self.max_moves_per_broker == 0 {
            return zero(
                "max_moves_per_broker",
                "nothing could ever move; set 1 or more (2)",
            );
        }
        if self.max_moves_per_cluster == 0 {
            return zero(
                "max_moves_per_cluster",
                "nothing could ever move; set 1 or more (10)",
            );
        }
        if self.max_bytes_in_flight == 0 {
            return zero(
                "max_bytes_in_flight",
                "set a byte budget (214748364800 = 200 GiB)",
            );
        }
        if self.poll_interval_ms < 100 {
            return Err(format!(
                "execute.poll_interval_ms = {} would poll the cluster too hard: set 100 or more (5000)",
                self.poll_interval_ms
            ));
        }
        if self.stuck_after_secs == 0 {
            return zero(
                "stuck_after_secs",
                "every move would be stuck at once; set minutes (600)",
            );
        }
        if self.timeout_floor_secs == 0 {
            return zero("timeout_floor_secs", "set a floor in seconds (600)");
        }
        if !self.timeout_factor.is_finite() || self.timeout_factor < 1.0 {
            return Err(format!(
                "execute.timeout_factor = {} must be a number >= 1.0 (3.0): below 1 a move \
                 running exactly at the throttle times out",
                self.timeout_factor
            ));
        }
        if self.throttle_min_bytes_per_sec == 0
            || self.throttle_min_bytes_per_sec > self.throttle_max_bytes_per_sec
        {
            return Err(format!(
                "execute: the throttle band must hold 0 < throttle_min_bytes_per_sec ({}) <= \
                 throttle_max_bytes_per_sec ({})",
                self.throttle_min_bytes_per_sec, self.throttle_max_bytes_per_sec
            ));
        }
        // The band bounds only the adaptive throttle: without it the configured rate holds.
        if self.adaptive_throttle
            && !(self.throttle_min_bytes_per_sec..=self.throttle_max_bytes_per_sec)
                .contains(&self.throttle_bytes_per_sec)
        {
            return Err(format!(
                "execute: with adaptive_throttle the band must hold throttle_min_bytes_per_sec \
                 ({}) <= throttle_bytes_per_sec ({}) <= throttle_max_bytes_per_sec ({}): move \
                 the band around the configured rate",
                self.throttle_min_bytes_per_sec,
                self.throttle_bytes_per_sec,
                self.throttle_max_bytes_per_sec
            ));
        }
        if !(self.adaptive_network_share > 0.0 && self.adaptive_network_share <= 1.0) {
            return Err(format!(
                "execute.adaptive_network_share = {} must be in (0, 1] (0.8)",
                self.adaptive_network_share
            ));
        }
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn defaults_validate_and_bad_values_name_their_key() {
        ExecuteConfig::default().validate().unwrap();
        type Case = (fn(&mut ExecuteConfig), &'static str);
        let cases: [Case; 7] = [
            (
                |c| c.throttle_bytes_per_sec = 0,
                "execute.throttle_bytes_per_sec",
            ),
            (
                |c| c.max_moves_per_broker = 0,
                "execute.max_moves_per_broker",
            ),
            (|c| c.poll_interval_ms = 10, "execute.poll_interval_ms"),
            (|c| c.timeout_factor = f64::NAN, "execute.timeout_factor"),
            (|c| c.timeout_factor = 0.5, "execute.timeout_factor"),
            (
                |c| c.throttle_min_bytes_per_sec = u64::MAX,
                "throttle_min_bytes_per_sec",
            ),
            (
                |c| c.adaptive_network_share = 1.5,
                "execute.adaptive_network_share",
            ),
        ];
        for (set, key) in cases {
            let mut c = ExecuteConfig::default();
            set(&mut c);
            let err = c.validate().unwrap_err();
            assert!(err.contains(key), "{err}");
        }
    }

    #[test]
    fn a_rate_outside_the_band_is_fine_while_the_throttle_is_not_adaptive() {
        let mut c = ExecuteConfig {
            throttle_bytes_per_sec: 4 * 1024 * 1024,
            ..ExecuteConfig::default()
        };
        c.validate().unwrap();
        c.adaptive_throttle = true;
        let err = c.validate().unwrap_err();
        assert!(err.contains("throttle_min_bytes_per_sec"), "{err}");
        assert!(err.contains("adaptive_throttle"), "{err}");
        // The band itself must still make sense (a rate set at run time is clamped to it).
        c.adaptive_throttle = false;
        c.throttle_max_bytes_per_sec = 1;
        let err = c.validate().unwrap_err();
        assert!(err.contains("throttle_max_bytes_per_sec"), "{err}");
    }

    #[test]
    fn the_example_config_shows_the_real_defaults() {
        let example = include_str!("../../../deploy/master/master.example.toml");
        let cfg: crate::config::MasterConfig = toml::from_str(example).unwrap();
        assert_eq!(cfg.execute, ExecuteConfig::default());
    }
}
