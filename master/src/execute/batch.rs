//! Bounded concurrency (moves per broker, moves per cluster, bytes in flight) and the move
//! timeout. Pure functions.

use std::collections::BTreeMap;

use crate::config::ExecuteConfig;

/// A move waiting to be admitted: the brokers it adds or removes a replica on, and its bytes.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Candidate {
    /// Brokers gaining or losing a replica.
    pub brokers: Vec<i32>,
    /// Bytes to copy.
    pub bytes: u64,
}

/// What is in flight now.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Load {
    /// Moves per broker.
    pub per_broker: BTreeMap<i32, u32>,
    /// Moves in the cluster.
    pub moves: u32,
    /// Bytes being copied.
    pub bytes: u64,
}

impl Load {
    /// Counts `c` as in flight.
    pub fn add(&mut self, c: &Candidate) {
        for b in &c.brokers {
            *self.per_broker.entry(*b).or_insert(0) += 1;
        }
        self.moves += 1;
        self.bytes = self.bytes.saturating_add(c.bytes);
    }

    fn fits(&self, c: &Candidate, cfg: &ExecuteConfig) -> bool {
        if self.moves >= cfg.max_moves_per_cluster {
            return false;
        }
        if c.brokers
            .iter()
            .any(|b| self.per_broker.get(b).copied().unwrap_or(0) >= cfg.max_moves_per_broker)
        {
            return false;
        }
        // A move bigger than the whole budget still runs, but alone.
        self.bytes == 0 || self.bytes.saturating_add(c.bytes) <= cfg.max_bytes_in_flight
    }
}

/// The candidates (indexes, in order) that may start now on top of `load`, which is updated.
/// Candidates are taken in plan order; one that does not fit is skipped, not waited on, so a
/// busy broker does not hold up moves elsewhere.
pub fn admit(candidates: &[Candidate], load: &mut Load, cfg: &ExecuteConfig) -> Vec<usize> {
    let mut out = Vec::new();
    for (i, c) in candidates.iter().enumerate() {
        if load.fits(c, cfg) {
            load.add(c);
            out.push(i);
        }
    }
    out
}

/// A move's timeout in seconds: max(bytes in flight when it was submitted (it included) /
/// throttle rate x factor, floor). The bytes in flight share the throttle, so a move
/// submitted behind others gets their copy time too.
pub fn timeout_secs(bytes_in_flight: u64, cfg: &ExecuteConfig) -> u64 {
    let rate = cfg.throttle_bytes_per_sec.max(1) as f64;
    let ideal = (bytes_in_flight as f64 / rate * cfg.timeout_factor).ceil();
    // f64 -> u64 saturates.
    (ideal as u64).max(cfg.timeout_floor_secs)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn cfg(per_broker: u32, per_cluster: u32, bytes: u64) -> ExecuteConfig {
        ExecuteConfig {
            max_moves_per_broker: per_broker,
            max_moves_per_cluster: per_cluster,
            max_bytes_in_flight: bytes,
            ..ExecuteConfig::default()
        }
    }

    fn c(brokers: &[i32], bytes: u64) -> Candidate {
        Candidate {
            brokers: brokers.to_vec(),
            bytes,
        }
    }

    #[test]
    fn per_broker_limit_skips_busy_broker_but_admits_others() {
        let cands = [c(&[1, 4], 10), c(&[1, 5], 10), c(&[2, 6], 10)];
        let mut load = Load::default();
        assert_eq!(admit(&cands, &mut load, &cfg(1, 10, 1000)), vec![0, 2]);
        assert_eq!(load.moves, 2);
        assert_eq!(load.per_broker[&1], 1);
    }

    #[test]
    fn per_cluster_limit_counts_what_is_already_running() {
        let cands = [c(&[1], 1), c(&[2], 1), c(&[3], 1)];
        let mut load = Load::default();
        load.add(&c(&[9], 1));
        assert_eq!(admit(&cands, &mut load, &cfg(5, 2, 1000)), vec![0]);
    }

    #[test]
    fn bytes_budget_holds_but_a_huge_move_runs_alone() {
        let cands = [c(&[1], 60), c(&[2], 60), c(&[3], 40)];
        let mut load = Load::default();
        assert_eq!(admit(&cands, &mut load, &cfg(5, 10, 100)), vec![0, 2]);
        let mut idle = Load::default();
        assert_eq!(
            admit(&[c(&[1], 500), c(&[2], 1)], &mut idle, &cfg(5, 10, 100)),
            vec![0]
        );
    }

    #[test]
    fn timeout_is_bytes_over_rate_times_factor_with_a_floor() {
        let cfg = ExecuteConfig {
            throttle_bytes_per_sec: 1_000,
            timeout_factor: 2.0,
            timeout_floor_secs: 60,
            ..ExecuteConfig::default()
        };
        assert_eq!(timeout_secs(0, &cfg), 60);
        assert_eq!(timeout_secs(10_000, &cfg), 60);
        assert_eq!(timeout_secs(100_000, &cfg), 200);
        assert_eq!(timeout_secs(100_001, &cfg), 201);
        let slow = ExecuteConfig {
            throttle_bytes_per_sec: 1,
            ..cfg
        };
        assert_eq!(timeout_secs(u64::MAX, &slow), u64::MAX, "saturates");
    }
}
