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

pub mod agent;
pub mod checkpoint;
pub mod history;
mod prune;
pub mod window;

use std::collections::{BTreeMap, HashMap};
use std::sync::{Arc, Mutex};

use kmedic_common::stats::{FullStats, ReplicaRole, StatsRecord};
use serde::{Deserialize, Serialize};

use crate::config::{IngestConfig, WindowConfig};
pub use agent::{AgentState, Received};
pub use prune::Pruned;
use window::{SampleOutcome, Windows};

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
    /// A follower's bytes in while it was out of sync (or its sync state unknown): catch-up
    /// traffic, not demand.
    #[serde(default)]
    pub catching_up: u64,
}

/// What [`ClusterModel::apply`] did with a record.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Applied {
    /// Applied (or, if older than the newest by the agent's clock, taken as evidence of life
    /// only).
    Applied,
    /// Refused: the agent's timestamp is further than `ingest.max_clock_skew_secs` from the
    /// master's reference. Nothing was updated.
    Skewed {
        /// The agent's clock minus the reference, ms.
        skew_ms: i64,
    },
    /// Refused: more replicas or topics than `ingest.max_*_per_record`. Nothing was updated.
    TooLarge {
        /// Replicas in the record.
        replicas: usize,
        /// Topics in the record.
        topics: usize,
    },
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
    /// Each broker's host net in/out over the last hour (the broker page's charts).
    pub history: history::BrokerHistory,
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
            history: history::BrokerHistory::default(),
        }
    }

    /// Applies one decoded record from this cluster's agents, received as `rx` says (live or
    /// replayed; see [`agent`] for the liveness rules). A record whose agent timestamp is
    /// outside the skew bound, or that is larger than the bounds allow, is refused and changes
    /// nothing.
    pub fn apply(&mut self, rec: &StatsRecord, rx: Received, bounds: &IngestConfig) -> Applied {
        let ts = rec.timestamp_ms();
        let skew_ms = rx.skew_ms(ts);
        let max_skew =
            i64::try_from(bounds.max_clock_skew_secs.saturating_mul(1000)).unwrap_or(i64::MAX);
        if skew_ms.unsigned_abs() > max_skew.unsigned_abs() {
            return Applied::Skewed { skew_ms };
        }
        if let StatsRecord::Full(f) = rec {
            if f.replicas.len() > bounds.max_replicas_per_record as usize
                || f.topics.len() > bounds.max_topics_per_record as usize
            {
                return Applied::TooLarge {
                    replicas: f.replicas.len(),
                    topics: f.topics.len(),
                };
            }
        }
        let (identity, seq, process, host) = match rec {
            StatsRecord::Heartbeat(h) => (&h.identity, h.seq, &h.process, &h.host),
            StatsRecord::Full(f) => (&f.identity, f.seq, &f.process, &f.host),
        };
        let a = self
            .agents
            .entry(identity.broker_id)
            .or_insert_with(AgentState::unknown);
        let newer = a.apply(
            &agent::Header {
                identity,
                ts_ms: ts,
                seq,
                process,
                host,
            },
            rx,
        );
        if newer {
            self.history.record(
                identity.broker_id,
                history::NetPoint {
                    at_ms: ts,
                    rx_bytes_per_sec: host.net_rx_bytes_per_sec,
                    tx_bytes_per_sec: host.net_tx_bytes_per_sec,
                },
            );
        }
        if let StatsRecord::Full(f) = rec {
            a.full_heard_mono_ms = a.full_heard_mono_ms.max(Some(rx.heard_mono_ms));
            if newer {
                a.last_full_ms = Some(ts);
            }
            self.apply_full(f);
        }
        Applied::Applied
    }

    fn apply_full(&mut self, f: &FullStats) {
        // Intern the record's topic table once, not each replica's name.
        let ids: Vec<u32> = f.topics.iter().map(|t| self.windows.topic_id(t)).collect();
        for r in &f.replicas {
            let Some(&topic) = ids.get(r.topic as usize) else {
                self.counts.malformed += 1;
                continue;
            };
            // Consumers read from the leader: a follower's bytes out is not partition demand.
            // A follower appends the leader's bytes in only once it is in sync; before that
            // (catching up after a restart) its appends are replication backlog, not demand,
            // and would inflate the partition's demand for a whole window. A follower whose
            // sync state is unknown, or a replica outside the replica set, is left out too:
            // the leader's figure is the partition's.
            let (bytes_in, out) = match (r.role, r.in_sync) {
                (ReplicaRole::Leader, _) => (r.bytes_in_per_sec, r.bytes_out_per_sec),
                (ReplicaRole::Follower, Some(true)) => (r.bytes_in_per_sec, None),
                _ => {
                    self.counts.catching_up += 1;
                    continue;
                }
            };
            let reassigning = r.reassigning == Some(true) || r.future;
            match self.windows.record_id(
                topic,
                r.partition,
                f.timestamp_ms,
                bytes_in,
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
