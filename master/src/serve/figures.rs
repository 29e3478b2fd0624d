//! The figures the API, the UI and `/metrics` show, computed from one board: the last view, the
//! findings, the planner snapshot built the way the round builds it (same limits, same verdicts,
//! demand from the model), and the agents' own reports.
//!
//! Loads follow the planner's load model (`crate::plan` docs): every replica gets its
//! partition's bytes in as net in; the leader gets consumer bytes out plus one replication
//! stream per follower as net out. So a bar in the UI is the same figure the planner keeps under
//! the limit.

use std::collections::BTreeMap;

use serde::Serialize;

use crate::clock;
use crate::config::NetworkLimits;
use crate::detect::{Finding, FindingKind};
use crate::model::ClusterModel;
use crate::observe::{snapshot, ClusterView};
use crate::plan::{BrokerState, Snapshot};
use crate::service::Board;

/// One broker, as an SRE wants it in one row.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct BrokerRow {
    /// `node.id`.
    pub id: i32,
    /// `broker.rack` (the AZ); empty when none.
    pub rack: String,
    /// Host and port registered (empty when it is absent from DescribeCluster).
    pub host: String,
    /// Registered and fenced.
    pub fenced: bool,
    /// `ok`, or the broker-level finding against it (`dead`, `suspect`, `hung`, `no_stats`,
    /// `stale`), or `absent` (hosts replicas but is not registered).
    pub state: String,
    /// Replicas hosted.
    pub replicas: usize,
    /// Partitions led.
    pub leaders: usize,
    /// Projected net in, bytes per second (the planner's load model, daily-peak demand).
    pub net_in_bytes_per_sec: u64,
    /// Projected net out, bytes per second.
    pub net_out_bytes_per_sec: u64,
    /// Its net-in limit.
    pub net_in_limit_bytes_per_sec: u64,
    /// Its net-out limit.
    pub net_out_limit_bytes_per_sec: u64,
    /// Bytes used on its log dirs (sizes of the replicas it hosts when the volume figure is
    /// missing).
    pub disk_used_bytes: u64,
    /// Size of its log-dir volumes, when DescribeLogDirs reported it.
    pub disk_total_bytes: Option<u64>,
    /// Seconds since its agent was last heard (the master's monotonic clock); `None`: never.
    pub stats_age_secs: Option<u64>,
    /// The agent's clock minus the master's (ms), from its newest record.
    pub clock_skew_ms: Option<i64>,
    /// Host receive rate measured by the agent, bytes per second.
    pub host_rx_bytes_per_sec: Option<u64>,
    /// Host transmit rate measured by the agent.
    pub host_tx_bytes_per_sec: Option<u64>,
    /// The Kafka process as the agent sees it (`Running`, `Stopped`, `Gone`, `Unknown`).
    pub process: Option<String>,
}

/// One topic.
#[derive(Debug, Clone, Default, PartialEq, Serialize)]
pub struct TopicRow {
    /// Name.
    pub topic: String,
    /// Partitions.
    pub partitions: usize,
    /// Largest replication factor among its partitions.
    pub replication_factor: usize,
    /// Under-replicated partitions.
    pub under_replicated: usize,
    /// Partitions without a leader.
    pub offline: usize,
    /// Bytes appended per second (demand, all partitions).
    pub bytes_in_per_sec: u64,
    /// Consumer bytes out per second (demand).
    pub bytes_out_per_sec: u64,
    /// Bytes on disk (largest replica of each partition).
    pub size_bytes: u64,
    /// Leaders per rack.
    pub leaders_per_rack: BTreeMap<String, usize>,
}

/// The state a broker shows: the first broker-level finding against it.
pub fn broker_state(id: i32, registered: bool, findings: &[Finding]) -> &'static str {
    let kind = findings
        .iter()
        .find(|f| f.broker == Some(id) && f.topic.is_none() && is_health(f.kind))
        .map(|f| f.kind);
    match kind {
        Some(FindingKind::DeadBroker) => "dead",
        Some(FindingKind::SuspectBroker) => "suspect",
        Some(FindingKind::HungBroker) => "hung",
        Some(FindingKind::StaleRegistration) => "stale",
        Some(FindingKind::NoStats) => "no_stats",
        _ if !registered => "absent",
        _ => "ok",
    }
}

fn is_health(k: FindingKind) -> bool {
    matches!(
        k,
        FindingKind::DeadBroker
            | FindingKind::SuspectBroker
            | FindingKind::HungBroker
            | FindingKind::StaleRegistration
            | FindingKind::NoStats
    )
}

/// The planner's snapshot of `view`, built as the round builds it: dead and suspect brokers from
/// `findings`, demand from `model`.
pub fn snapshot_of(
    view: &ClusterView,
    findings: &[Finding],
    limits: &NetworkLimits,
    model: Option<&ClusterModel>,
) -> Snapshot {
    let v = crate::service::round::verdicts(findings);
    snapshot::build(view, limits, &v, model, clock::wall_ms())
}

/// Per-broker (net in, net out, disk, replicas, leaders) under the planner's load model.
pub fn loads(snap: &Snapshot) -> BTreeMap<i32, [u64; 5]> {
    let mut out: BTreeMap<i32, [u64; 5]> = snap.brokers.iter().map(|b| (b.id, [0; 5])).collect();
    for p in &snap.partitions {
        let followers = p.replicas.len().saturating_sub(1) as u64;
        for &r in &p.replicas {
            let e = out.entry(r).or_default();
            e[0] += p.bytes_in_per_sec;
            e[2] += p.size_bytes;
            e[3] += 1;
        }
        if let Some(l) = p.leader {
            let e = out.entry(l).or_default();
            e[1] += p.bytes_out_per_sec + p.bytes_in_per_sec * followers;
            e[4] += 1;
        }
    }
    out
}

/// Every broker of the board's view (and absent brokers hosting replicas), in id order.
pub fn brokers(
    view: &ClusterView,
    board: &Board,
    snap: &Snapshot,
    limits: &NetworkLimits,
    model: Option<&ClusterModel>,
) -> Vec<BrokerRow> {
    let loads = loads(snap);
    let now_mono = i64::try_from(clock::mono_ms()).unwrap_or(i64::MAX);
    snap.brokers
        .iter()
        .map(|b| {
            let reg = view.brokers.get(&b.id);
            let l = loads.get(&b.id).copied().unwrap_or_default();
            let (in_lim, out_lim) = limits.for_broker(b.id);
            let agent = model.and_then(|m| m.agents.get(&b.id));
            BrokerRow {
                id: b.id,
                rack: b.rack.clone(),
                host: reg
                    .map(|r| format!("{}:{}", r.host, r.port))
                    .unwrap_or_default(),
                fenced: reg.is_some_and(|r| r.fenced),
                state: broker_state(b.id, reg.is_some(), &board.findings).to_string(),
                replicas: l[3] as usize,
                leaders: l[4] as usize,
                net_in_bytes_per_sec: l[0],
                net_out_bytes_per_sec: l[1],
                net_in_limit_bytes_per_sec: in_lim,
                net_out_limit_bytes_per_sec: out_lim,
                disk_used_bytes: b.disk_used_bytes.unwrap_or(l[2]),
                disk_total_bytes: view.disk_total_bytes.get(&b.id).copied(),
                stats_age_secs: agent.map(|a| {
                    u64::try_from(now_mono.saturating_sub(a.heard_mono_ms).max(0) / 1000)
                        .unwrap_or(0)
                }),
                clock_skew_ms: agent.map(|a| a.clock_skew_ms),
                host_rx_bytes_per_sec: agent.and_then(|a| a.net_rx_bytes_per_sec),
                host_tx_bytes_per_sec: agent.and_then(|a| a.net_tx_bytes_per_sec),
                process: agent.map(|a| format!("{:?}", a.process)),
            }
        })
        .collect()
}

/// Every topic, by name.
pub fn topics(view: &ClusterView, snap: &Snapshot) -> Vec<TopicRow> {
    let rack: BTreeMap<i32, &str> = snap
        .brokers
        .iter()
        .map(|b| (b.id, b.rack.as_str()))
        .collect();
    let mut rows: BTreeMap<String, TopicRow> = BTreeMap::new();
    for p in &view.partitions {
        let r = rows.entry(p.topic.clone()).or_insert_with(|| TopicRow {
            topic: p.topic.clone(),
            ..TopicRow::default()
        });
        r.partitions += 1;
        r.replication_factor = r.replication_factor.max(p.replicas.len());
        r.under_replicated += usize::from(p.isr.len() < p.replicas.len());
        match p.leader {
            Some(l) => {
                let az = rack.get(&l).copied().unwrap_or("");
                *r.leaders_per_rack.entry(az.to_string()).or_default() += 1;
            }
            None => r.offline += 1,
        }
    }
    for p in &snap.partitions {
        if let Some(r) = rows.get_mut(&**snap.topics.name(p.topic)) {
            r.bytes_in_per_sec += p.bytes_in_per_sec;
            r.bytes_out_per_sec += p.bytes_out_per_sec;
            r.size_bytes += p.size_bytes;
        }
    }
    rows.into_values().collect()
}

/// Whether a broker in `snap` may take load (for the per-AZ view).
pub fn accepts(snap: &Snapshot, id: i32) -> bool {
    snap.brokers
        .iter()
        .any(|b| b.id == id && b.state == BrokerState::Alive)
}
