//! Typed results of admin operations: what the master and agent use, not raw protocol messages.

use kafka_protocol::error::ResponseError;

use super::error::Error;

/// A broker as Metadata lists it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct BrokerInfo {
    /// `node.id`.
    pub id: i32,
    /// Advertised host.
    pub host: String,
    /// Advertised port.
    pub port: i32,
    /// `broker.rack`, if set.
    pub rack: Option<String>,
}

/// The cluster as Metadata describes it. Fenced brokers are absent from `brokers`.
#[derive(Debug, Clone, PartialEq)]
pub struct ClusterMetadata {
    /// The cluster id.
    pub cluster_id: Option<String>,
    /// The controller-facing broker (in KRaft a live broker, not the real controller).
    pub controller_id: Option<i32>,
    /// Live, unfenced brokers, sorted by id.
    pub brokers: Vec<BrokerInfo>,
    /// Topics, sorted by name.
    pub topics: Vec<TopicMetadata>,
}

impl ClusterMetadata {
    /// The topic named `name`, if listed.
    pub fn topic(&self, name: &str) -> Option<&TopicMetadata> {
        self.topics.iter().find(|t| t.name == name)
    }

    /// The partition `topic`-`partition`, if listed.
    pub fn partition(&self, topic: &str, partition: i32) -> Option<&PartitionMetadata> {
        self.topic(topic)?
            .partitions
            .iter()
            .find(|p| p.partition == partition)
    }
}

/// One topic.
#[derive(Debug, Clone, PartialEq)]
pub struct TopicMetadata {
    /// Its name.
    pub name: String,
    /// Its id (UUID, hex with dashes).
    pub topic_id: String,
    /// Internal topics (`__consumer_offsets`...).
    pub is_internal: bool,
    /// A topic-level error (for example LEADER_NOT_AVAILABLE right after creation).
    pub error: Option<ResponseError>,
    /// Partitions, sorted by index.
    pub partitions: Vec<PartitionMetadata>,
}

/// One partition.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct PartitionMetadata {
    /// Partition index.
    pub partition: i32,
    /// The leader, or None when the partition is offline.
    pub leader: Option<i32>,
    /// The leader epoch.
    pub leader_epoch: i32,
    /// Assigned replicas; the first is the preferred leader.
    pub replicas: Vec<i32>,
    /// In-sync replicas.
    pub isr: Vec<i32>,
    /// Replicas on unavailable log dirs or brokers.
    pub offline_replicas: Vec<i32>,
    /// A partition-level error, if any.
    pub error: Option<ResponseError>,
}

/// DescribeCluster's answer.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ClusterDescription {
    /// The cluster id.
    pub cluster_id: String,
    /// The controller-facing broker id (see [`ClusterMetadata::controller_id`]), if any.
    pub controller_id: Option<i32>,
    /// Registered brokers, sorted by id; fenced ones only when asked for.
    pub brokers: Vec<ClusterBroker>,
}

/// A registered broker in [`ClusterDescription`].
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ClusterBroker {
    /// `node.id`.
    pub id: i32,
    /// Advertised host.
    pub host: String,
    /// Advertised port.
    pub port: i32,
    /// `broker.rack`, if set.
    pub rack: Option<String>,
    /// Fenced: registered, but its session with the controller lapsed (or it is shutting down).
    pub is_fenced: bool,
}

/// A reassignment in progress.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct OngoingReassignment {
    /// Topic.
    pub topic: String,
    /// Partition index.
    pub partition: i32,
    /// Current replica set (old plus new during the move).
    pub replicas: Vec<i32>,
    /// Replicas being added.
    pub adding: Vec<i32>,
    /// Replicas being removed.
    pub removing: Vec<i32>,
}

/// The outcome of a per-partition request.
#[derive(Debug)]
pub struct PartitionResult<T = ()> {
    /// Topic.
    pub topic: String,
    /// Partition index.
    pub partition: i32,
    /// What happened to this partition.
    pub result: Result<T, Error>,
}

/// What a successful leader election did.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ElectionOutcome {
    /// A new leader was elected.
    Elected,
    /// The preferred leader already led (ELECTION_NOT_NEEDED); nothing to do.
    NotNeeded,
}

/// Which leader an election picks.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ElectionType {
    /// The first replica in the assignment.
    Preferred,
    /// Any live replica, even out of sync (may lose data).
    Unclean,
}

/// A config resource.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum ConfigResource {
    /// One broker's dynamic configs; requests go to that broker.
    Broker(i32),
    /// The cluster-wide dynamic broker default (resource name ""); any broker takes it, so it
    /// works while some brokers are dead.
    BrokerDefault,
    /// A topic's configs.
    Topic(String),
}

impl ConfigResource {
    pub(crate) fn type_code(&self) -> i8 {
        match self {
            ConfigResource::Topic(_) => 2,
            ConfigResource::Broker(_) | ConfigResource::BrokerDefault => 4,
        }
    }

    pub(crate) fn name(&self) -> String {
        match self {
            ConfigResource::Broker(id) => id.to_string(),
            ConfigResource::BrokerDefault => String::new(),
            ConfigResource::Topic(t) => t.clone(),
        }
    }
}

impl std::fmt::Display for ConfigResource {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            ConfigResource::Broker(id) => write!(f, "broker {id}"),
            ConfigResource::BrokerDefault => write!(f, "broker default"),
            ConfigResource::Topic(t) => write!(f, "topic {t}"),
        }
    }
}

/// One incremental config change.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum ConfigOp {
    /// Set `name` to `value`.
    Set(String, String),
    /// Remove `name` (back to its default).
    Delete(String),
}

impl std::fmt::Display for ConfigOp {
    /// `name=value`, or `name removed`: how logs show a change.
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            ConfigOp::Set(k, v) => write!(f, "{k}={v}"),
            ConfigOp::Delete(k) => write!(f, "{k} removed"),
        }
    }
}

/// Where a config value comes from (DescribeConfigs `config_source`).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ConfigSource {
    /// A dynamic topic config.
    DynamicTopic,
    /// A dynamic config for this broker.
    DynamicBroker,
    /// The dynamic cluster-wide broker default.
    DynamicDefaultBroker,
    /// server.properties.
    StaticBroker,
    /// Kafka's built-in default.
    Default,
    /// Anything else, with the raw code.
    Other(i8),
}

impl From<i8> for ConfigSource {
    fn from(c: i8) -> Self {
        match c {
            1 => ConfigSource::DynamicTopic,
            2 => ConfigSource::DynamicBroker,
            3 => ConfigSource::DynamicDefaultBroker,
            4 => ConfigSource::StaticBroker,
            5 => ConfigSource::Default,
            other => ConfigSource::Other(other),
        }
    }
}

/// One config as DescribeConfigs reports it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ConfigEntry {
    /// Its name.
    pub name: String,
    /// Its value; None when sensitive or unset.
    pub value: Option<String>,
    /// Where the value comes from.
    pub source: ConfigSource,
    /// Read-only configs cannot be altered dynamically.
    pub read_only: bool,
    /// Sensitive values are never returned.
    pub is_sensitive: bool,
}

/// One log directory of one broker.
#[derive(Debug, Clone, PartialEq)]
pub struct LogDirInfo {
    /// Its path on the broker.
    pub path: String,
    /// An error for the whole directory (for example KAFKA_STORAGE_ERROR when offline).
    pub error: Option<ResponseError>,
    /// Size of the volume, when the broker reports it (DescribeLogDirs v4+).
    pub total_bytes: Option<u64>,
    /// Free space on the volume, when reported.
    pub usable_bytes: Option<u64>,
    /// Replicas in this directory, sorted by topic and partition.
    pub replicas: Vec<ReplicaLogDir>,
}

/// One replica in a log directory.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ReplicaLogDir {
    /// Topic.
    pub topic: String,
    /// Partition index.
    pub partition: i32,
    /// Bytes on disk.
    pub size_bytes: i64,
    /// How far this replica is behind the leader's log end (future replicas: behind the
    /// current one).
    pub offset_lag: i64,
    /// A future replica, being moved between log dirs on this broker.
    pub is_future: bool,
}
