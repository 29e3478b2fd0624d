//! The kmedic processes of the demo: the BUILT agent on every broker and the BUILT master, with
//! their config files in the demo's folder, and the master's JSON log read as it grows.

use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};

use anyhow::Context;
use kmedic_tests::{OwnedChild, Testbed};
use serde_json::Value;

/// The topic both binaries use for stats by default.
pub const STATS_TOPIC: &str = "__kmedic_stats";
/// The master's default action-log topic.
pub const ACTION_LOG_TOPIC: &str = "__kmedic_actions";
/// The cluster's name in the master's config.
pub const CLUSTER: &str = "demo";

/// What the master is told (figures the demo prints, too).
pub struct MasterSettings {
    /// Heal grace: how long a broker must stay dead before the master heals it.
    pub grace_secs: u64,
    /// Replication throttle while the heal copies data.
    pub throttle_bytes_per_sec: u64,
}

fn toml_list(bootstrap: &str) -> String {
    let v: Vec<String> = bootstrap.split(',').map(|s| format!("{s:?}")).collect();
    format!("[{}]", v.join(", "))
}

/// One agent per broker: the broker's server.properties and the stats cluster, a 1 s heartbeat
/// and full stats every 5 s (the defaults are slower: a demo should not wait), no cloud
/// metadata lookup (this is no EC2 VM) and a free metrics port (six agents share this host).
pub fn start_agents(tb: &Testbed, bin: &Path, dir: &Path) -> anyhow::Result<Vec<OwnedChild>> {
    let mut out = Vec::new();
    for id in tb.broker_ids() {
        let config = format!(
            "server_properties = {:?}\n\
             [stats]\nheartbeat_interval_secs = 1\nfull_interval_secs = 5\n\
             [stats.connection]\nbootstrap_servers = {}\n\
             [collect.imds]\nenabled = false\n\
             [metrics]\nlisten_address = \"127.0.0.1:0\"\n",
            tb.server_properties(id),
            toml_list(&tb.bootstrap())
        );
        let path = dir.join(format!("agent-{id}.toml"));
        std::fs::write(&path, config)?;
        let mut cmd = Command::new(bin);
        cmd.arg("run")
            .arg("--config")
            .arg(&path)
            .env_remove("RUST_LOG")
            .stdout(Stdio::null())
            .stderr(std::fs::File::create(dir.join(format!("agent-{id}.log")))?);
        out.push(OwnedChild::spawn(cmd).context("starting kmedic-agent")?);
    }
    Ok(out)
}

/// The master, logging JSON to `dir/master.log`; returns it and the log's path.
pub fn start_master(
    tb: &Testbed,
    bin: &Path,
    dir: &Path,
    s: &MasterSettings,
) -> anyhow::Result<(OwnedChild, PathBuf)> {
    let servers = toml_list(&tb.bootstrap());
    let rate = s.throttle_bytes_per_sec;
    let config = format!(
        "# kmedic-demo's master: everything short so the demo does not wait.\n\
         poll_interval_secs = 1\n\
         [stats.connection]\nbootstrap_servers = {servers}\n\
         [checkpoint]\npath = {:?}\n\
         [serve]\nenabled = false\n\
         # The throttle (and the adaptive band's floor, which may not be above it).\n\
         [execute]\nthrottle_bytes_per_sec = {rate}\nthrottle_min_bytes_per_sec = {rate}\n\
         poll_interval_ms = 500\nprogress_log_secs = 1\n\
         [[clusters]]\nname = \"{CLUSTER}\"\n\
         [clusters.connection]\nbootstrap_servers = {servers}\n\
         # A heal grace this short is refused unless allowed (the default is 300 s).\n\
         [clusters.policy]\nheal_grace_secs = {}\nallow_short_heal_grace = true\n\
         agent_silence_secs = 4\nagent_heartbeat_secs = 1\n\
         # Every testbed broker reports this host's one disk, which may be over the default\n\
         # 0.85 limit on a busy machine: then no heal target fits, rightly. A demo allows 0.99.\n\
         [clusters.planner]\nmax_disk_utilization = 0.99\n",
        dir.join("master.checkpoint"),
        s.grace_secs,
    );
    let path = dir.join("master.toml");
    std::fs::write(&path, config)?;
    let log = dir.join("master.log");
    let mut cmd = Command::new(bin);
    // The default filter, plus the round's debug lines: one per move of each new plan.
    cmd.args(["--log-format", "json", "run", "--config"])
        .arg(&path)
        .env(
            "RUST_LOG",
            "info,librdkafka=warn,rdkafka=warn,kmedic_master::service::round=debug",
        )
        .stdout(Stdio::null())
        .stderr(std::fs::File::create(&log)?);
    let child = OwnedChild::spawn(cmd).context("starting kmedic-master")?;
    Ok((child, log))
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

/// A string field of a log line ("" when absent).
pub fn field<'a>(v: &'a Value, k: &str) -> &'a str {
    v.get(k).and_then(Value::as_str).unwrap_or("")
}

/// A number field of a log line.
pub fn num(v: &Value, k: &str) -> Option<u64> {
    v.get(k).and_then(Value::as_u64)
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
