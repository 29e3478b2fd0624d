//! The planner's input: a point-in-time view of one cluster.
//!
//! Built by the master from live state (metadata, log dirs, stats windows) and by the simulator
//! from synthetic clusters. Topics are interned in a [`TopicTable`] so a partition carries a 4-byte
//! [`TopicId`] rather than a name: a snapshot of 1M+ replicas stays compact and grouping by topic
//! is a counting sort, not string comparisons.

use std::collections::HashMap;
use std::fmt;
use std::sync::Arc;

use serde::Serialize;

/// A broker's health as the master sees it. Only [`BrokerState::Alive`] brokers receive replicas.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize)]
#[non_exhaustive]
pub enum BrokerState {
    /// Registered, unfenced, agent reporting: may receive replicas and leadership.
    Alive,
    /// Only one signal says it is unhealthy (DESIGN.md rule 3): keep what it has, give it nothing.
    Suspect,
    /// Two signals agree it is dead: its replicas are healed away, it receives nothing.
    Dead,
    /// Being drained: its replicas move away, it receives nothing.
    Decommissioning,
}

impl BrokerState {
    /// Whether new replicas or leadership may be placed on a broker in this state.
    pub fn accepts_load(self) -> bool {
        matches!(self, BrokerState::Alive)
    }
}

impl fmt::Display for BrokerState {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(match self {
            BrokerState::Alive => "alive",
            BrokerState::Suspect => "suspect",
            BrokerState::Dead => "dead",
            BrokerState::Decommissioning => "decommissioning",
        })
    }
}

/// What a broker may carry. These are the operator's limits for the broker (from config), not
/// the NIC's line rate: the planner keeps projected load at or under them. A figure that is not
/// known should be `u64::MAX` (no limit), not 0: a 0 capacity takes nothing with traffic or size.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
pub struct Capacity {
    /// Network ingress limit (producers plus replication fetches into this broker).
    pub net_in_bytes_per_sec: u64,
    /// Network egress limit (consumers plus followers fetching from this broker's leaders).
    pub net_out_bytes_per_sec: u64,
    /// Usable log-dir bytes.
    pub disk_bytes: u64,
}

/// One broker in the snapshot.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct BrokerInfo {
    /// `node.id`.
    pub id: i32,
    /// `broker.rack` (the availability zone). Brokers with an empty rack share one "" rack.
    pub rack: String,
    /// Health as decided by the detectors.
    pub state: BrokerState,
    /// Limits the planner keeps load under.
    pub capacity: Capacity,
    /// Whether `capacity.disk_bytes` was reported this round. A broker whose log dirs could not
    /// be described receives no replicas (its disk may be full: rejected as "disk capacity
    /// unknown this round"); it keeps what it has and may still lead.
    pub disk_known: bool,
    /// Bytes in use on its log-dir volumes (size minus usable, DescribeLogDirs v4), when
    /// reported. Besides replicas this holds whatever else fills the volumes; the planner counts
    /// the larger of this and the sum of its replicas' sizes as the broker's disk load.
    pub disk_used_bytes: Option<u64>,
}

/// An interned topic: index into [`Snapshot::topics`].
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize)]
pub struct TopicId(pub u32);

/// Interns topic names. Names are kept in insertion order; the id is the index.
#[derive(Debug, Clone, Default)]
pub struct TopicTable {
    names: Vec<Arc<str>>,
    ids: HashMap<Arc<str>, TopicId>,
}

impl TopicTable {
    /// The id of `name`, adding it if new.
    pub fn intern(&mut self, name: &str) -> TopicId {
        if let Some(id) = self.ids.get(name) {
            return *id;
        }
        let id = TopicId(self.names.len() as u32);
        let name: Arc<str> = Arc::from(name);
        self.names.push(name.clone());
        self.ids.insert(name, id);
        id
    }

    /// The id of `name`, if it was interned.
    pub fn get(&self, name: &str) -> Option<TopicId> {
        self.ids.get(name).copied()
    }

    /// The name of `id`. Panics on an id from another table (a programming error).
    pub fn name(&self, id: TopicId) -> &Arc<str> {
        &self.names[id.0 as usize]
    }

    /// Number of interned topics.
    pub fn len(&self) -> usize {
        self.names.len()
    }

    /// Whether no topic was interned.
    pub fn is_empty(&self) -> bool {
        self.names.is_empty()
    }

    /// All names, indexed by [`TopicId`].
    pub fn names(&self) -> &[Arc<str>] {
        &self.names
    }
}

/// One partition in the snapshot, with its demand figures (from the stats windows).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct PartitionInfo {
    /// The topic, interned in [`Snapshot::topics`].
    pub topic: TopicId,
    /// Partition index.
    pub partition: i32,
    /// Assigned replicas; the first is the preferred leader.
    pub replicas: Vec<i32>,
    /// Current leader; `None` when the partition is offline.
    pub leader: Option<i32>,
    /// In-sync replicas.
    pub isr: Vec<i32>,
    /// Log size of one replica (the leader's, or the largest known).
    pub size_bytes: u64,
    /// Bytes appended per second (producer traffic into the leader; each follower fetches the same).
    pub bytes_in_per_sec: u64,
    /// Bytes per second read by consumers from the leader, **excluding** replication. The stats'
    /// leader bytes out includes replication (see `kmedic_common::stats`); the snapshot builder
    /// takes `bytes_in x (RF - 1)` off it, and the planner adds one replication stream per
    /// follower back on the leader's broker, so replication is counted once.
    pub bytes_out_per_sec: u64,
    /// Kafka reports a reassignment in progress: the planner never touches it (DESIGN.md rule 2).
    pub reassigning: bool,
}

/// A reassignment in progress: one the master started and has not seen finish, or one Kafka
/// reports (ListPartitionReassignments: `old` = replicas without the adding ones, `new` =
/// replicas without the removing ones). Its partition is left alone (DESIGN.md rule 2), and its
/// load is counted as if it had completed, on both old and new replicas, until it does (pd's
/// `influence.go`): the same load is never planned twice.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct InFlightMove {
    /// The topic, interned in [`Snapshot::topics`].
    pub topic: TopicId,
    /// Partition index.
    pub partition: i32,
    /// Replicas before the move.
    pub old_replicas: Vec<i32>,
    /// Replicas the move is heading to.
    pub new_replicas: Vec<i32>,
}

/// A point-in-time view of one cluster, the planner's whole input besides limits and request.
#[derive(Debug, Clone, Default)]
pub struct Snapshot {
    /// Every broker the cluster knows, in any order.
    pub brokers: Vec<BrokerInfo>,
    /// Topic names by [`TopicId`].
    pub topics: TopicTable,
    /// Every partition, in any order.
    pub partitions: Vec<PartitionInfo>,
    /// Moves the master has started and not yet seen complete.
    pub in_flight: Vec<InFlightMove>,
}

impl Snapshot {
    /// The name of a topic id.
    pub fn topic_name(&self, id: TopicId) -> &Arc<str> {
        self.topics.name(id)
    }

    /// The broker with `id`, if known.
    pub fn broker(&self, id: i32) -> Option<&BrokerInfo> {
        self.brokers.iter().find(|b| b.id == id)
    }

    /// Total number of replicas (sum of replication factors).
    pub fn replica_count(&self) -> usize {
        self.partitions.iter().map(|p| p.replicas.len()).sum()
    }

    /// Each broker's index in [`Snapshot::brokers`], by broker id (for per-broker figures kept
    /// in vectors).
    pub fn broker_positions(&self) -> std::collections::HashMap<i32, usize> {
        self.brokers
            .iter()
            .enumerate()
            .map(|(i, b)| (b.id, i))
            .collect()
    }
}
