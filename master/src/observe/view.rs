//! What the admin client reports about one cluster at one moment: the detectors' Kafka input.

use std::collections::{BTreeMap, HashMap};

use serde::Serialize;

/// A broker as DescribeCluster reports it (fenced brokers included).
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct BrokerView {
    /// `node.id`.
    pub id: i32,
    /// `broker.rack`, if set.
    pub rack: Option<String>,
    /// Advertised host.
    pub host: String,
    /// Advertised port.
    pub port: i32,
    /// Fenced by the controller (missed heartbeats, or shutting down).
    pub fenced: bool,
}

/// One partition from Metadata.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct PartitionView {
    /// Topic name.
    pub topic: String,
    /// Partition index.
    pub partition: i32,
    /// Leader; `None` when offline.
    pub leader: Option<i32>,
    /// Assigned replicas; the first is the preferred leader.
    pub replicas: Vec<i32>,
    /// In-sync replicas.
    pub isr: Vec<i32>,
    /// Replicas on offline log dirs or brokers, as Kafka reports them.
    pub offline_replicas: Vec<i32>,
}

/// A topic and partition, for findings and maps.
#[derive(Debug, Clone, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize)]
pub struct TopicPartition {
    /// Topic name.
    pub topic: String,
    /// Partition index.
    pub partition: i32,
}

impl std::fmt::Display for TopicPartition {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "{}-{}", self.topic, self.partition)
    }
}

/// A reassignment in progress (ListPartitionReassignments).
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct ReassignmentView {
    /// Replicas being added.
    pub adding: Vec<i32>,
    /// Replicas being removed.
    pub removing: Vec<i32>,
}

/// One cluster as the admin client saw it.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize)]
pub struct ClusterView {
    /// `cluster.id` from DescribeCluster.
    pub cluster_id: String,
    /// When the observation finished (ms since the epoch).
    pub observed_at_ms: u64,
    /// The active controller's id, as reported.
    pub controller_id: Option<i32>,
    /// Brokers registered with the controller, fenced ones included, by id.
    pub brokers: BTreeMap<i32, BrokerView>,
    /// Every partition of every topic.
    pub partitions: Vec<PartitionView>,
    /// Partitions being reassigned.
    pub reassignments: BTreeMap<TopicPartition, ReassignmentView>,
    /// Largest replica size per partition, from DescribeLogDirs.
    pub sizes_bytes: HashMap<TopicPartition, u64>,
    /// Usable log-dir bytes per broker (total across its dirs), where the broker reports them.
    pub disk_total_bytes: BTreeMap<i32, u64>,
    /// Free bytes on each broker's log-dir volumes (sum of DescribeLogDirs v4 `usable_bytes` over
    /// its online dirs), where every online dir reports it.
    pub disk_usable_bytes: BTreeMap<i32, u64>,
    /// Brokers whose DescribeLogDirs failed (their sizes are missing).
    pub log_dirs_failed: Vec<i32>,
}

impl ClusterView {
    /// Broker ids that host at least one replica.
    pub fn hosting_brokers(&self) -> std::collections::BTreeSet<i32> {
        self.partitions
            .iter()
            .flat_map(|p| p.replicas.iter().copied())
            .collect()
    }

    /// The rack of a registered broker (`None` for unknown brokers and unset racks).
    pub fn rack_of(&self, id: i32) -> Option<&str> {
        self.brokers.get(&id).and_then(|b| b.rack.as_deref())
    }
}
