//! What a plan may do: balance target, byte budget, per-broker move cap, disk headroom.

use serde::{Deserialize, Serialize};

/// Limits for one plan. Every limit is respected; a replica that cannot be placed within them is
/// reported [`crate::plan::Unplaceable`] rather than placed anyway.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Limits {
    /// Balance brings each broker's network in and out utilization to at most this multiple of
    /// the cluster's mean utilization (for equal capacities: max/mean <= this).
    #[serde(default = "default_target_ratio")]
    pub target_ratio: f64,
    /// Most bytes one plan may copy (sum of `bytes_to_copy`).
    #[serde(default = "default_max_bytes_to_move")]
    pub max_bytes_to_move: u64,
    /// Most replicas one broker may receive, or (if alive) give up, in one plan. Replicas leaving
    /// a dead broker are not counted against it: it serves nothing.
    #[serde(default = "default_max_moves_per_broker")]
    pub max_moves_per_broker: u32,
    /// A move may not take a broker's projected disk use over this fraction of its capacity.
    #[serde(default = "default_max_disk_utilization")]
    pub max_disk_utilization: f64,
    /// Balance keeps each broker's replica count within this fraction of the mean (the rack's
    /// mean when rack diversity pins rack totals), by moving the smallest replicas, after
    /// network and disk balance and never at their cost. 0 turns the goal off.
    #[serde(default = "default_count_band")]
    pub replica_count_band: f64,
    /// Balance keeps each broker's leader count within this fraction of the mean, by elections
    /// only, never at the cost of network balance. 0 turns the goal off.
    #[serde(default = "default_count_band")]
    pub leader_count_band: f64,
}

fn default_target_ratio() -> f64 {
    1.10
}

fn default_max_bytes_to_move() -> u64 {
    // 50 TiB: a whole dead broker's worth on large fleets, so heal is not cut short by default.
    50 << 40
}

fn default_max_moves_per_broker() -> u32 {
    1_000
}

fn default_max_disk_utilization() -> f64 {
    0.85
}

fn default_count_band() -> f64 {
    0.10
}

impl Default for Limits {
    fn default() -> Self {
        Limits {
            target_ratio: default_target_ratio(),
            max_bytes_to_move: default_max_bytes_to_move(),
            max_moves_per_broker: default_max_moves_per_broker(),
            max_disk_utilization: default_max_disk_utilization(),
            replica_count_band: default_count_band(),
            leader_count_band: default_count_band(),
        }
    }
}
