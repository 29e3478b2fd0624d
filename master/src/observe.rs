//! Observing clusters through the admin client: DescribeCluster (fenced brokers included),
//! Metadata, ListPartitionReassignments and DescribeLogDirs, assembled into a [`ClusterView`].
//!
//! [`snapshot`] turns a view (plus the model's demand windows) into the planner's input.

pub mod snapshot;
pub mod view;

use std::collections::{BTreeMap, HashMap};

use kmedic_common::admin::{AdminClient, ClusterDescription, ClusterMetadata};
use tracing::{debug, warn};

pub use view::{BrokerView, ClusterView, PartitionView, ReassignmentView, TopicPartition};

/// Errors from observing a cluster.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum Error {
    /// An admin call that the view cannot do without failed.
    #[error("observing cluster {cluster}: {what}: {source}")]
    Admin {
        /// The configured cluster name.
        cluster: String,
        /// Which call.
        what: &'static str,
        /// The admin client's error.
        source: Box<kmedic_common::admin::Error>,
    },
    /// The observation did not finish within its budget.
    #[error("observing cluster {cluster}: no complete answer within {budget_ms} ms")]
    TimedOut {
        /// The configured cluster name.
        cluster: String,
        /// The budget.
        budget_ms: u64,
    },
    /// The cluster reports another id than configured.
    #[error(
        "cluster {cluster}: configured cluster_id {expected:?} but the brokers report {found:?}; \
         fix [[clusters]] cluster_id or the bootstrap servers"
    )]
    WrongCluster {
        /// The configured cluster name.
        cluster: String,
        /// The configured id.
        expected: String,
        /// The id reported.
        found: String,
    },
}

/// `Result` with this module's [`Error`].
pub type Result<T, E = Error> = std::result::Result<T, E>;

/// Milliseconds since the Unix epoch ([`crate::clock::wall_ms`]).
pub fn now_ms() -> u64 {
    crate::clock::wall_ms()
}

/// The service's observation source: one cluster through its admin client, each observation
/// bounded by `budget` so a dying broker that swallows requests cannot stall a round.
pub struct AdminSource {
    /// The configured cluster name.
    pub cluster: String,
    /// The configured cluster id, if any.
    pub expected_id: Option<String>,
    /// The cluster's admin client.
    pub admin: AdminClient,
    /// The most one observation may take.
    pub budget: std::time::Duration,
}

impl AdminSource {
    /// [`observe_once`] within `budget`.
    pub async fn observe_once(&self) -> Result<ClusterView> {
        let observed = tokio::time::timeout(
            self.budget,
            observe_once(&self.cluster, self.expected_id.as_deref(), &self.admin),
        )
        .await;
        observed.unwrap_or_else(|_| {
            Err(Error::TimedOut {
                cluster: self.cluster.clone(),
                budget_ms: u64::try_from(self.budget.as_millis()).unwrap_or(u64::MAX),
            })
        })
    }
}

/// Observes `cluster` once. DescribeCluster, Metadata and ListPartitionReassignments must
/// succeed; DescribeLogDirs is asked of every unfenced broker in parallel, and a broker that
/// fails it is listed in [`ClusterView::log_dirs_failed`] (its sizes are then missing) rather
/// than failing the whole view: a slow broker must not blind the master.
pub async fn observe_once(
    cluster: &str,
    expected_id: Option<&str>,
    admin: &AdminClient,
) -> Result<ClusterView> {
    let err = |what| {
        move |source| Error::Admin {
            cluster: cluster.to_string(),
            what,
            source: Box::new(source),
        }
    };
    let desc = admin
        .describe_cluster(true)
        .await
        .map_err(err("DescribeCluster"))?;
    if let Some(e) = expected_id {
        if e != desc.cluster_id {
            return Err(Error::WrongCluster {
                cluster: cluster.to_string(),
                expected: e.to_string(),
                found: desc.cluster_id,
            });
        }
    }
    let meta = admin.metadata().await.map_err(err("Metadata"))?;
    let ongoing = admin
        .list_partition_reassignments(None)
        .await
        .map_err(err("ListPartitionReassignments"))?;
    let mut view = assemble(&desc, &meta);
    for r in ongoing {
        view.reassignments.insert(
            TopicPartition {
                topic: r.topic,
                partition: r.partition,
            },
            ReassignmentView {
                adding: r.adding,
                removing: r.removing,
            },
        );
    }
    let live: Vec<i32> = view
        .brokers
        .values()
        .filter(|b| !b.fenced)
        .map(|b| b.id)
        .collect();
    // One request timeout per broker, retries included: a hung (SIGSTOPped) broker accepts
    // connections but never answers, and must not stall the whole round.
    let budget = admin.settings().request_timeout();
    let dirs = futures::future::join_all(live.iter().map(|&id| async move {
        match tokio::time::timeout(budget, admin.describe_log_dirs(id)).await {
            Ok(r) => r.map_err(log_dirs_failure),
            Err(_) => Err(LogDirsFailure::Failed(format!(
                "no answer within {} ms",
                budget.as_millis()
            ))),
        }
    }))
    .await;
    for (id, res) in live.into_iter().zip(dirs) {
        match res {
            Ok(dirs) => {
                let mut total = 0u64;
                // None once an online dir does not report it (DescribeLogDirs before v4).
                let mut usable = Some(0u64);
                for d in dirs {
                    if let Some(e) = d.error {
                        warn!(cluster, broker = id, dir = %d.path, error = ?e, "log dir offline");
                        continue;
                    }
                    total += d.total_bytes.unwrap_or(0);
                    usable = usable.zip(d.usable_bytes).map(|(a, b)| a.saturating_add(b));
                    for r in d.replicas.into_iter().filter(|r| !r.is_future) {
                        let size = u64::try_from(r.size_bytes).unwrap_or(0);
                        let e = view
                            .sizes_bytes
                            .entry(TopicPartition {
                                topic: r.topic,
                                partition: r.partition,
                            })
                            .or_insert(0);
                        *e = (*e).max(size);
                    }
                }
                if total > 0 {
                    view.disk_total_bytes.insert(id, total);
                    if let Some(u) = usable {
                        view.disk_usable_bytes.insert(id, u);
                    }
                }
            }
            // Just killed and not yet fenced: DescribeCluster still lists it, the metadata
            // no longer does. The dead-broker detector says what happened; this is no fault.
            Err(LogDirsFailure::Gone) => {
                debug!(
                    cluster,
                    broker = id,
                    "no log dir sizes: the broker has left the cluster metadata (gone, not yet \
                     fenced); its replica sizes are missing this round"
                );
                view.log_dirs_failed.push(id);
            }
            Err(LogDirsFailure::Failed(e)) => {
                warn!(cluster, broker = id, error = %e,
                    "DescribeLogDirs failed; this broker's replica sizes are missing this round");
                view.log_dirs_failed.push(id);
            }
        }
    }
    view.observed_at_ms = now_ms();
    debug!(
        cluster,
        brokers = view.brokers.len(),
        partitions = view.partitions.len(),
        reassigning = view.reassignments.len(),
        "observed"
    );
    Ok(view)
}

/// Why a broker's DescribeLogDirs gave no sizes.
#[derive(Debug)]
enum LogDirsFailure {
    /// The cluster metadata no longer lists the broker (it is gone; not a fault to report).
    Gone,
    /// Any other failure, as text.
    Failed(String),
}

fn log_dirs_failure(e: kmedic_common::admin::Error) -> LogDirsFailure {
    match e {
        kmedic_common::admin::Error::UnknownBroker { .. } => LogDirsFailure::Gone,
        e => LogDirsFailure::Failed(e.to_string()),
    }
}

/// Builds the broker and partition parts of a view from DescribeCluster and Metadata.
pub fn assemble(desc: &ClusterDescription, meta: &ClusterMetadata) -> ClusterView {
    let brokers: BTreeMap<i32, BrokerView> = desc
        .brokers
        .iter()
        .map(|b| {
            (
                b.id,
                BrokerView {
                    id: b.id,
                    rack: b.rack.clone(),
                    host: b.host.clone(),
                    port: b.port,
                    fenced: b.is_fenced,
                },
            )
        })
        .collect();
    let partitions = meta
        .topics
        .iter()
        .flat_map(|t| {
            t.partitions.iter().map(move |p| PartitionView {
                topic: t.name.clone(),
                partition: p.partition,
                leader: p.leader,
                replicas: p.replicas.clone(),
                isr: p.isr.clone(),
                offline_replicas: p.offline_replicas.clone(),
            })
        })
        .collect();
    ClusterView {
        cluster_id: desc.cluster_id.clone(),
        observed_at_ms: 0,
        controller_id: desc.controller_id,
        brokers,
        partitions,
        reassignments: BTreeMap::new(),
        sizes_bytes: HashMap::new(),
        disk_total_bytes: BTreeMap::new(),
        disk_usable_bytes: BTreeMap::new(),
        log_dirs_failed: Vec::new(),
    }
}

#[cfg(test)]
#[path = "observe/log_dirs_tests.rs"]
mod log_dirs_tests;
