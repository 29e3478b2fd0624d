//! The kmedic processes of the demo: what the master is told (the agents and the master are
//! started with `kmedic_tests::product`, config files in the demo's folder), and the master's
//! JSON log read as it grows.

use std::path::PathBuf;

pub use kmedic_tests::product::{field, num, STATS_TOPIC};
use kmedic_tests::product::{Execute, MasterSpec};
use serde_json::Value;

/// The master's default action-log topic.
pub const ACTION_LOG_TOPIC: &str = "__kmedic_actions";
/// The cluster's name in the master's config.
pub const CLUSTER: &str = "demo";

/// The master's spec: everything short so the demo does not wait (1 s polls, a heal grace of
/// `grace_secs`, agents judged on 1 s heartbeats), the API off, replication throttled at
/// `throttle_bytes_per_sec`, and the round's debug lines (one per move of each new plan) in its
/// log besides the default filter's.
pub fn master_spec(grace_secs: u64, throttle_bytes_per_sec: u64) -> MasterSpec {
    let spec = MasterSpec {
        comment: Some("kmedic-demo's master: everything short so the demo does not wait.".into()),
        cluster: Some(CLUSTER.into()),
        execute: Some(Execute {
            throttle_bytes_per_sec: Some(throttle_bytes_per_sec),
            progress_log_secs: Some(1),
        }),
        rust_log: Some(
            "info,librdkafka=warn,rdkafka=warn,kmedic_master::service::round=debug".into(),
        ),
        ..MasterSpec::quick("master")
    };
    spec.serve_off().heal_grace(grace_secs)
}

/// Reads a JSON log as it grows: each call returns the complete lines added since the last.
pub struct LogTail {
    path: PathBuf,
    read: usize,
}

impl LogTail {
    /// Tails `path` from its start.
    pub fn new(path: PathBuf) -> Self {
        Self { path, read: 0 }
    }

    /// The new complete lines, parsed (a line that is not JSON is skipped).
    pub fn next_lines(&mut self) -> Vec<Value> {
        let Ok(text) = std::fs::read_to_string(&self.path) else {
            return Vec::new();
        };
        let Some(new) = text.get(self.read..) else {
            return Vec::new();
        };
        // Only up to the last newline: a line being written is read next time.
        let Some(end) = new.rfind('\n') else {
            return Vec::new();
        };
        self.read += end + 1;
        new[..end]
            .lines()
            .filter_map(|l| serde_json::from_str(l).ok())
            .collect()
    }

    /// The log's last `n` lines, raw (for an error's context).
    pub fn tail(&self, n: usize) -> String {
        let text = std::fs::read_to_string(&self.path).unwrap_or_default();
        let lines: Vec<&str> = text.lines().collect();
        lines[lines.len().saturating_sub(n)..].join("\n")
    }
}

/// Replica lists for `n` partitions of RF 3 of kmedic's own topics on every broker but `victim`
/// (`brokers`: id and rack), so they keep working through the kill. Each partition takes one
/// broker of each of three racks, rotating, so the master's first round finds no rack
/// violation on its own topics; with fewer than three racks, brokers in turn.
pub fn off_victim_assignment(brokers: &[(i32, String)], victim: i32, n: usize) -> Vec<Vec<i32>> {
    let mut by_rack: std::collections::BTreeMap<&str, Vec<i32>> = Default::default();
    for (b, rack) in brokers.iter().filter(|(b, _)| *b != victim) {
        by_rack.entry(rack.as_str()).or_default().push(*b);
    }
    let racks: Vec<&Vec<i32>> = by_rack.values().collect();
    if racks.len() >= 3 {
        // Partition p: racks p, p+1, p+2 (so leaders rotate over racks), the (p / racks)-th
        // broker of each.
        return (0..n)
            .map(|p| {
                (0..3)
                    .map(|k| {
                        let ids = racks[(p + k) % racks.len()];
                        ids[(p / racks.len()) % ids.len()]
                    })
                    .collect()
            })
            .collect();
    }
    let ids: Vec<i32> = by_rack.values().flatten().copied().collect();
    (0..n)
        .map(|p| (0..3).map(|k| ids[(p + k) % ids.len()]).collect())
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    fn demo_brokers() -> Vec<(i32, String)> {
        let racks = ["az-a", "az-b", "az-c"];
        (1..=6)
            .map(|id| (id, racks[(id as usize - 1) % 3].to_string()))
            .collect()
    }

    #[test]
    fn kmedic_topics_are_rack_correct_and_off_the_victim() {
        let brokers = demo_brokers();
        let rack = |b: i32| {
            brokers
                .iter()
                .find(|(id, _)| *id == b)
                .map(|(_, r)| r.clone())
        };
        for victim in 1..=6 {
            let a = off_victim_assignment(&brokers, victim, 3);
            assert_eq!(a.len(), 3);
            for replicas in &a {
                assert_eq!(replicas.len(), 3, "{a:?}");
                assert!(!replicas.contains(&victim), "victim {victim}: {a:?}");
                let mut racks: Vec<_> = replicas.iter().map(|&b| rack(b)).collect();
                racks.sort();
                racks.dedup();
                assert_eq!(
                    racks.len(),
                    3,
                    "victim {victim}: two replicas in one rack: {a:?}"
                );
            }
        }
    }

    #[test]
    fn fewer_than_three_racks_still_gives_three_distinct_brokers() {
        let brokers: Vec<(i32, String)> = (1..=4).map(|id| (id, "az-a".to_string())).collect();
        for replicas in off_victim_assignment(&brokers, 2, 3) {
            let mut r = replicas.clone();
            r.sort();
            r.dedup();
            assert_eq!(r.len(), 3, "{replicas:?}");
            assert!(!replicas.contains(&2));
        }
    }
}
