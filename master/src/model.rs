//! Per-cluster state built from the agents' stats: demand windows and what each agent last said.
//!
//! A [`Fleet`] holds one [`ClusterModel`] per Kafka cluster, keyed by `cluster.id`. Only clusters
//! the master was told about (config or DescribeCluster) get a model: stats naming another
//! cluster are counted and dropped by ingest. Each model sits behind a std `Mutex`: the critical
//! sections are short and never held across an `.await`, so a tokio mutex would only add cost.
//!
//! Names and ids in stats are only used as keys here; the detectors and the snapshot look them up
//! by the names and ids that cluster metadata reports (DESIGN.md rule 8), so a bogus name in a
//! stats record can at worst create an entry nothing ever reads.

pub mod checkpoint;
pub mod window;

use std::collections::{BTreeMap, HashMap};
use std::sync::{Arc, Mutex};

use kmedic_common::stats::{FullStats, Heartbeat, ProcessState, ReplicaRole, StatsRecord};
use serde::{Deserialize, Serialize};

use crate::config::WindowConfig;
use window::{SampleOutcome, Windows};

/// What the latest record from one broker's agent said.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct AgentState {
    /// The agent's sample time of the newest record (ms since the epoch).
    pub last_seen_ms: u64,
    /// The newest full-stats record's time, if any.
    pub last_full_ms: Option<u64>,
    /// Hostname reported.
    pub hostname: String,
    /// Rack reported (from server.properties).
    pub rack: Option<String>,
    /// Availability zone reported.
    pub az: Option<String>,
    /// The agent's record sequence number (a reset means the agent restarted).
    pub seq: u64,
    /// The Kafka process's state.
    pub process: ProcessState,
    /// The ApiVersions probe: `None` not run, `Some(Ok(latency_us))`, or `Some(Err(error))`.
    pub probe: Option<Result<u64, String>>,
    /// Host receive rate, bytes per second.
    pub net_rx_bytes_per_sec: Option<u64>,
    /// Host transmit rate, bytes per second.
    pub net_tx_bytes_per_sec: Option<u64>,
}

/// Counts of what happened to replica samples (for metrics and logs).
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct SampleCounts {
    /// Added to a window.
    pub recorded: u64,
    /// Flagged reassigning.
    pub reassigning: u64,
    /// Within a cool-down.
    pub cooling_down: u64,
    /// Older than the bucket being filled.
    pub late: u64,
    /// Referenced a topic index outside the record's topic table.
    pub malformed: u64,
}

/// One cluster's model.
#[derive(Debug, Clone)]
pub struct ClusterModel {
    /// `cluster.id`.
    pub cluster_id: String,
    /// Per-partition demand windows.
    pub windows: Windows,
    /// Latest state per broker id, from its agent.
    pub agents: BTreeMap<i32, AgentState>,
    /// What happened to replica samples.
    pub counts: SampleCounts,
}

impl ClusterModel {
    /// An empty model with the configured window shape.
    pub fn new(cluster_id: impl Into<String>, w: &WindowConfig) -> Self {
        Self {
            cluster_id: cluster_id.into(),
            windows: Windows::new(
                w.bucket_secs * 1000,
                w.buckets(),
                w.cooldown_after_reassignment_secs * 1000,
            ),
            agents: BTreeMap::new(),
            counts: SampleCounts::default(),
        }
    }

    /// Applies one decoded record from this cluster's agents.
    pub fn apply(&mut self, rec: &StatsRecord) {
        match rec {
            StatsRecord::Heartbeat(h) => self.apply_heartbeat(h),
            StatsRecord::Full(f) => self.apply_full(f),
        }
    }

    fn agent_mut(&mut self, h: &AgentHeader<'_>) -> Option<&mut AgentState> {
        let id = h.identity.broker_id;
        let a = self.agents.entry(id).or_insert_with(|| AgentState {
            last_seen_ms: 0,
            last_full_ms: None,
            hostname: String::new(),
            rack: None,
            az: None,
            seq: 0,
            process: ProcessState::Unknown,
            probe: None,
            net_rx_bytes_per_sec: None,
            net_tx_bytes_per_sec: None,
        });
        // An older record (replay overlap, or reordering across stats partitions) must not
        // overwrite what a newer one said.
        if h.ts_ms < a.last_seen_ms {
            return None;
        }
        a.last_seen_ms = h.ts_ms;
        a.hostname.clone_from(&h.identity.hostname);
        a.rack.clone_from(&h.identity.rack);
        a.az.clone_from(&h.identity.az);
        a.seq = h.seq;
        a.process = h.process.state;
        a.probe = match &h.process.probe {
            kmedic_common::stats::Probe::Ok { latency_us } => Some(Ok(*latency_us)),
            kmedic_common::stats::Probe::Failed { error } => Some(Err(error.clone())),
            kmedic_common::stats::Probe::NotRun => None,
        };
        a.net_rx_bytes_per_sec = h.host.net_rx_bytes_per_sec;
        a.net_tx_bytes_per_sec = h.host.net_tx_bytes_per_sec;
        Some(a)
    }

    fn apply_heartbeat(&mut self, h: &Heartbeat) {
        self.agent_mut(&AgentHeader {
            identity: &h.identity,
            ts_ms: h.timestamp_ms,
            seq: h.seq,
            process: &h.process,
            host: &h.host,
        });
    }

    fn apply_full(&mut self, f: &FullStats) {
        if let Some(a) = self.agent_mut(&AgentHeader {
            identity: &f.identity,
            ts_ms: f.timestamp_ms,
            seq: f.seq,
            process: &f.process,
            host: &f.host,
        }) {
            a.last_full_ms = Some(f.timestamp_ms);
        }
        // Intern the record's topic table once, not each replica's name.
        let ids: Vec<u32> = f.topics.iter().map(|t| self.windows.topic_id(t)).collect();
        for r in &f.replicas {
            let Some(&topic) = ids.get(r.topic as usize) else {
                self.counts.malformed += 1;
                continue;
            };
            // Consumers read from the leader: a follower's bytes out is not partition demand.
            let out = match r.role {
                ReplicaRole::Leader => r.bytes_out_per_sec,
                _ => None,
            };
            let reassigning = r.reassigning == Some(true) || r.future;
            match self.windows.record_id(
                topic,
                r.partition,
                f.timestamp_ms,
                r.bytes_in_per_sec,
                out,
                reassigning,
            ) {
                SampleOutcome::Recorded => self.counts.recorded += 1,
                SampleOutcome::Reassigning => self.counts.reassigning += 1,
                SampleOutcome::CoolingDown => self.counts.cooling_down += 1,
                SampleOutcome::Late => self.counts.late += 1,
            }
        }
    }

    /// Approximate heap bytes held by this model.
    pub fn heap_bytes(&self) -> usize {
        self.windows.heap_bytes() + self.agents.len() * (std::mem::size_of::<AgentState>() + 96)
    }
}

struct AgentHeader<'a> {
    identity: &'a kmedic_common::stats::Identity,
    ts_ms: u64,
    seq: u64,
    process: &'a kmedic_common::stats::ProcessStats,
    host: &'a kmedic_common::stats::HostStats,
}

/// A shared handle to one cluster's model.
pub type SharedModel = Arc<Mutex<ClusterModel>>;

/// The models of every cluster this master serves, keyed by `cluster.id`.
#[derive(Debug, Default, Clone)]
pub struct Fleet {
    models: Arc<Mutex<HashMap<String, SharedModel>>>,
}

impl Fleet {
    /// An empty fleet.
    pub fn new() -> Self {
        Self::default()
    }

    /// The model for `cluster_id`, creating an empty one if needed (called for configured and
    /// discovered clusters only).
    pub fn register(&self, cluster_id: &str, w: &WindowConfig) -> SharedModel {
        let mut m = lock(&self.models);
        m.entry(cluster_id.to_string())
            .or_insert_with(|| Arc::new(Mutex::new(ClusterModel::new(cluster_id, w))))
            .clone()
    }

    /// Adds a model restored from a checkpoint, replacing any existing one.
    pub fn insert(&self, model: ClusterModel) -> SharedModel {
        let id = model.cluster_id.clone();
        let shared = Arc::new(Mutex::new(model));
        lock(&self.models).insert(id, shared.clone());
        shared
    }

    /// The model for `cluster_id`, if registered.
    pub fn get(&self, cluster_id: &str) -> Option<SharedModel> {
        lock(&self.models).get(cluster_id).cloned()
    }

    /// Every registered model.
    pub fn all(&self) -> Vec<SharedModel> {
        lock(&self.models).values().cloned().collect()
    }
}

/// Locks a std mutex, recovering from poisoning: a panic in another thread mid-update leaves at
/// worst one partially applied stats record, which is better than stopping the master.
pub fn lock<T>(m: &Mutex<T>) -> std::sync::MutexGuard<'_, T> {
    m.lock().unwrap_or_else(|e| e.into_inner())
}

#[cfg(test)]
mod tests;
