//! Replica roles from cluster metadata: leader or follower, in-sync, under-replicated, and
//! in-reassignment, for every partition directory found on disk.
//!
//! Metadata is asked only for the topics this broker hosts (one Metadata request), and the
//! reassignments in progress with one ListPartitionReassignments for the whole cluster: there are
//! few of those, so listing them all is cheaper than naming thousands of partitions.

use std::collections::{HashMap, HashSet};
use std::time::Duration;

use kmedic_common::admin::{AdminClient, ClusterMetadata, OngoingReassignment};
use kmedic_common::stats::{ReplicaRole, ReplicaStats};

use super::Error;

/// What metadata said about each replica, for the bytes-out figure.
#[derive(Debug, Default, Clone, PartialEq, Eq)]
pub struct MetadataView {
    /// The replication factor of each entry of `replicas` (same index); `None` if the partition
    /// was not in the metadata.
    pub replication_factor: Vec<Option<u16>>,
}

/// Fetches metadata for the hosted topics and the reassignments in progress, then fills
/// role, in-sync, under-replicated and reassigning into `replicas`.
///
/// Returns the view (when Metadata answered) and the first error: a failed reassignment listing
/// still fills roles, with `reassigning` left `None`.
pub async fn fetch_and_apply(
    admin: &AdminClient,
    broker_id: i32,
    topics: &[String],
    replicas: &mut [ReplicaStats],
    timeout: Duration,
) -> (Option<MetadataView>, Option<Error>) {
    let names: Vec<&str> = topics.iter().map(String::as_str).collect();
    let metadata = if names.is_empty() {
        // Nothing hosted: nothing to ask, and an empty topic list would mean "all topics".
        Ok(ClusterMetadata {
            cluster_id: None,
            controller_id: None,
            brokers: Vec::new(),
            topics: Vec::new(),
        })
    } else {
        match tokio::time::timeout(timeout, admin.topic_metadata(&names)).await {
            Ok(Ok(md)) => Ok(md),
            Ok(Err(e)) => Err(Error::Unavailable(format!("Metadata: {e}"))),
            Err(_) => Err(Error::Unavailable(format!(
                "Metadata timed out after {} ms",
                timeout.as_millis()
            ))),
        }
    };
    let metadata = match metadata {
        Ok(md) => md,
        Err(e) => return (None, Some(e)),
    };
    let (ongoing, error) =
        match tokio::time::timeout(timeout, admin.list_partition_reassignments(None)).await {
            Ok(Ok(list)) => (Some(list), None),
            Ok(Err(e)) => (
                None,
                Some(Error::Unavailable(format!(
                    "ListPartitionReassignments: {e}"
                ))),
            ),
            Err(_) => (
                None,
                Some(Error::Unavailable(format!(
                    "ListPartitionReassignments timed out after {} ms",
                    timeout.as_millis()
                ))),
            ),
        };
    let view = apply(&metadata, ongoing.as_deref(), broker_id, topics, replicas);
    (Some(view), error)
}

/// Fills role, in-sync, under-replicated and reassigning from already-fetched metadata.
/// `ongoing` is `None` when the reassignment listing failed.
pub fn apply(
    metadata: &ClusterMetadata,
    ongoing: Option<&[OngoingReassignment]>,
    broker_id: i32,
    topics: &[String],
    replicas: &mut [ReplicaStats],
) -> MetadataView {
    let by_name: HashMap<&str, &kmedic_common::admin::TopicMetadata> = metadata
        .topics
        .iter()
        .map(|t| (t.name.as_str(), t))
        .collect();
    let moving: Option<HashSet<(&str, i32)>> = ongoing.map(|list| {
        list.iter()
            .map(|r| (r.topic.as_str(), r.partition))
            .collect()
    });
    let mut view = MetadataView {
        replication_factor: Vec::with_capacity(replicas.len()),
    };
    for r in replicas.iter_mut() {
        let Some(topic) = topics.get(r.topic as usize) else {
            view.replication_factor.push(None);
            continue;
        };
        let partition = by_name.get(topic.as_str()).and_then(|t| {
            t.partitions
                .binary_search_by_key(&r.partition, |p| p.partition)
                .ok()
                .map(|i| &t.partitions[i])
        });
        r.reassigning = moving
            .as_ref()
            .map(|m| m.contains(&(topic.as_str(), r.partition)));
        match partition {
            Some(p) => {
                r.role = if p.leader == Some(broker_id) {
                    ReplicaRole::Leader
                } else if p.replicas.contains(&broker_id) {
                    ReplicaRole::Follower
                } else {
                    ReplicaRole::NotAssigned
                };
                r.in_sync = Some(p.isr.contains(&broker_id));
                r.under_replicated = Some(p.isr.len() < p.replicas.len());
                view.replication_factor
                    .push(u16::try_from(p.replicas.len()).ok());
            }
            None => {
                // On disk but not in the cluster: a deleted topic's leftover, or metadata lagging.
                r.role = ReplicaRole::NotAssigned;
                r.in_sync = None;
                r.under_replicated = None;
                view.replication_factor.push(None);
            }
        }
    }
    view
}

#[cfg(test)]
mod tests {
    use kmedic_common::admin::{PartitionMetadata, TopicMetadata};

    use super::*;

    fn partition(index: i32, leader: i32, replicas: &[i32], isr: &[i32]) -> PartitionMetadata {
        PartitionMetadata {
            partition: index,
            leader: Some(leader),
            leader_epoch: 0,
            replicas: replicas.to_vec(),
            isr: isr.to_vec(),
            offline_replicas: Vec::new(),
            error: None,
        }
    }

    fn replica(topic: u32, partition: i32) -> ReplicaStats {
        ReplicaStats {
            topic,
            partition,
            log_dir: 0,
            size_bytes: 0,
            segments: 1,
            bytes_in_per_sec: None,
            bytes_out_per_sec: None,
            role: ReplicaRole::Unknown,
            in_sync: None,
            under_replicated: None,
            reassigning: None,
            future: false,
        }
    }

    #[test]
    fn roles_isr_and_reassignments_for_broker_2() {
        let md = ClusterMetadata {
            cluster_id: None,
            controller_id: None,
            brokers: Vec::new(),
            topics: vec![TopicMetadata {
                name: "orders".into(),
                topic_id: "x".into(),
                is_internal: false,
                error: None,
                partitions: vec![
                    partition(0, 2, &[2, 1, 3], &[2, 1, 3]),
                    partition(1, 1, &[1, 2, 3], &[1, 3]),
                    partition(2, 3, &[3, 1, 4], &[3, 1, 4]),
                ],
            }],
        };
        let ongoing = vec![OngoingReassignment {
            topic: "orders".into(),
            partition: 2,
            replicas: vec![3, 1, 4, 2],
            adding: vec![2],
            removing: vec![4],
        }];
        let topics = vec!["gone".to_string(), "orders".to_string()];
        let mut replicas = vec![replica(0, 0), replica(1, 0), replica(1, 1), replica(1, 2)];
        let view = apply(&md, Some(&ongoing), 2, &topics, &mut replicas);

        assert_eq!(
            replicas[0].role,
            ReplicaRole::NotAssigned,
            "topic not in metadata"
        );
        assert_eq!(replicas[0].in_sync, None);

        assert_eq!(replicas[1].role, ReplicaRole::Leader);
        assert_eq!(replicas[1].in_sync, Some(true));
        assert_eq!(replicas[1].under_replicated, Some(false));
        assert_eq!(replicas[1].reassigning, Some(false));

        assert_eq!(replicas[2].role, ReplicaRole::Follower);
        assert_eq!(replicas[2].in_sync, Some(false));
        assert_eq!(replicas[2].under_replicated, Some(true));

        // Broker 2 is being added: its data is arriving but it is not yet in the replica set
        // Metadata reports.
        assert_eq!(replicas[3].role, ReplicaRole::NotAssigned);
        assert_eq!(replicas[3].reassigning, Some(true));

        assert_eq!(view.replication_factor, [None, Some(3), Some(3), Some(3)]);
    }

    #[test]
    fn unknown_reassignments_stay_unknown() {
        let md = ClusterMetadata {
            cluster_id: None,
            controller_id: None,
            brokers: Vec::new(),
            topics: Vec::new(),
        };
        let mut replicas = vec![replica(0, 0)];
        apply(&md, None, 1, &["t".to_string()], &mut replicas);
        assert_eq!(replicas[0].reassigning, None);
    }
}
