//! What the executor asks of a cluster, behind a trait so the logic can be unit-tested against a
//! fake; [`AdminClient`] is the real implementation. [`Fresh`] is one read of the state every
//! step decides from.

use std::collections::{BTreeMap, BTreeSet};
use std::future::Future;
use std::sync::Arc;
use std::time::Duration;

use kmedic_common::admin::{
    AdminClient, ConfigEntry, ConfigOp, ConfigResource, ElectionOutcome, ElectionType,
    OngoingReassignment, PartitionResult,
};

use crate::observe::TopicPartition;

/// An admin-client error.
pub type AdminError = kmedic_common::admin::Error;

/// A partition as the executor needs it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct PartitionState {
    /// Assigned replicas (during a reassignment: old plus new).
    pub replicas: Vec<i32>,
    /// The leader, if any.
    pub leader: Option<i32>,
    /// In-sync replicas.
    pub isr: Vec<i32>,
}

/// One fresh read of the cluster.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Fresh {
    /// Registered and unfenced brokers.
    pub live: BTreeSet<i32>,
    /// Every partition.
    pub partitions: BTreeMap<TopicPartition, PartitionState>,
    /// Reassignments in progress (by anyone).
    pub reassigning: BTreeMap<TopicPartition, OngoingReassignment>,
}

/// The cluster operations the executor uses. Every future is `Send` so an executor can run in
/// a spawned task.
pub trait ClusterOps: Send + Sync {
    /// Brokers (fenced excluded), partitions and reassignments in progress, read now.
    fn fresh(&self) -> impl Future<Output = Result<Fresh, AdminError>> + Send;
    /// Replica sizes in bytes on `broker` (DescribeLogDirs), by partition; current replicas
    /// only (future, dir-to-dir copies are left out).
    fn replica_sizes(
        &self,
        broker: i32,
    ) -> impl Future<Output = Result<BTreeMap<TopicPartition, u64>, AdminError>> + Send;
    /// Submits reassignments (topic, partition, target replicas).
    fn submit(
        &self,
        moves: &[(String, i32, Vec<i32>)],
    ) -> impl Future<Output = Result<Vec<PartitionResult>, AdminError>> + Send;
    /// Cancels reassignments.
    fn cancel(
        &self,
        partitions: &[(String, i32)],
    ) -> impl Future<Output = Result<Vec<PartitionResult>, AdminError>> + Send;
    /// Preferred-leader elections.
    fn elect_preferred(
        &self,
        partitions: &[(String, i32)],
    ) -> impl Future<Output = Result<Vec<PartitionResult<ElectionOutcome>>, AdminError>> + Send;
    /// IncrementalAlterConfigs on one resource.
    fn alter_configs(
        &self,
        resource: &ConfigResource,
        ops: &[ConfigOp],
    ) -> impl Future<Output = Result<(), AdminError>> + Send;
    /// DescribeConfigs of the named keys of one resource.
    fn describe_configs(
        &self,
        resource: &ConfigResource,
        keys: &[&str],
    ) -> impl Future<Output = Result<Vec<ConfigEntry>, AdminError>> + Send;
}

fn tp(topic: &str, partition: i32) -> TopicPartition {
    TopicPartition {
        topic: topic.to_string(),
        partition,
    }
}

/// How long one DescribeLogDirs of one broker may take: a dead or hung destination must not
/// stall progress tracking.
pub const SIZES_TIMEOUT: Duration = Duration::from_secs(5);

impl ClusterOps for AdminClient {
    async fn fresh(&self) -> Result<Fresh, AdminError> {
        let desc = self.describe_cluster(true).await?;
        let meta = self.metadata().await?;
        let ongoing = self.list_partition_reassignments(None).await?;
        let live = desc
            .brokers
            .iter()
            .filter(|b| !b.is_fenced)
            .map(|b| b.id)
            .collect();
        let partitions = meta
            .topics
            .iter()
            .flat_map(|t| {
                t.partitions.iter().map(|p| {
                    (
                        tp(&t.name, p.partition),
                        PartitionState {
                            replicas: p.replicas.clone(),
                            leader: p.leader,
                            isr: p.isr.clone(),
                        },
                    )
                })
            })
            .collect();
        let reassigning = ongoing
            .into_iter()
            .map(|r| (tp(&r.topic, r.partition), r))
            .collect();
        Ok(Fresh {
            live,
            partitions,
            reassigning,
        })
    }

    async fn replica_sizes(
        &self,
        broker: i32,
    ) -> Result<BTreeMap<TopicPartition, u64>, AdminError> {
        let dirs = self.describe_log_dirs(broker).await?;
        let mut out = BTreeMap::new();
        for d in dirs.iter().filter(|d| d.error.is_none()) {
            for r in d.replicas.iter().filter(|r| !r.is_future) {
                let size = u64::try_from(r.size_bytes).unwrap_or(0);
                *out.entry(tp(&r.topic, r.partition)).or_insert(0) += size;
            }
        }
        Ok(out)
    }

    async fn submit(
        &self,
        moves: &[(String, i32, Vec<i32>)],
    ) -> Result<Vec<PartitionResult>, AdminError> {
        self.alter_partition_reassignments(moves).await
    }

    async fn cancel(
        &self,
        partitions: &[(String, i32)],
    ) -> Result<Vec<PartitionResult>, AdminError> {
        self.cancel_partition_reassignments(partitions).await
    }

    async fn elect_preferred(
        &self,
        partitions: &[(String, i32)],
    ) -> Result<Vec<PartitionResult<ElectionOutcome>>, AdminError> {
        self.elect_leaders(ElectionType::Preferred, Some(partitions))
            .await
    }

    async fn alter_configs(
        &self,
        resource: &ConfigResource,
        ops: &[ConfigOp],
    ) -> Result<(), AdminError> {
        self.incremental_alter_configs(resource, ops).await
    }

    async fn describe_configs(
        &self,
        resource: &ConfigResource,
        keys: &[&str],
    ) -> Result<Vec<ConfigEntry>, AdminError> {
        AdminClient::describe_configs(self, resource, Some(keys)).await
    }
}

/// Shared ownership (the service holds its admin client in an `Arc`).
impl<T: ClusterOps> ClusterOps for Arc<T> {
    fn fresh(&self) -> impl Future<Output = Result<Fresh, AdminError>> + Send {
        (**self).fresh()
    }
    fn replica_sizes(
        &self,
        broker: i32,
    ) -> impl Future<Output = Result<BTreeMap<TopicPartition, u64>, AdminError>> + Send {
        (**self).replica_sizes(broker)
    }
    fn submit(
        &self,
        moves: &[(String, i32, Vec<i32>)],
    ) -> impl Future<Output = Result<Vec<PartitionResult>, AdminError>> + Send {
        (**self).submit(moves)
    }
    fn cancel(
        &self,
        partitions: &[(String, i32)],
    ) -> impl Future<Output = Result<Vec<PartitionResult>, AdminError>> + Send {
        (**self).cancel(partitions)
    }
    fn elect_preferred(
        &self,
        partitions: &[(String, i32)],
    ) -> impl Future<Output = Result<Vec<PartitionResult<ElectionOutcome>>, AdminError>> + Send
    {
        (**self).elect_preferred(partitions)
    }
    fn alter_configs(
        &self,
        resource: &ConfigResource,
        ops: &[ConfigOp],
    ) -> impl Future<Output = Result<(), AdminError>> + Send {
        (**self).alter_configs(resource, ops)
    }
    fn describe_configs(
        &self,
        resource: &ConfigResource,
        keys: &[&str],
    ) -> impl Future<Output = Result<Vec<ConfigEntry>, AdminError>> + Send {
        (**self).describe_configs(resource, keys)
    }
}
