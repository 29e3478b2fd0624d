//! Offline partitions: no leader, so neither producers nor consumers can use them.

use super::{list_partitions, DetectInput, Finding, FindingKind};
use crate::observe::TopicPartition;

/// The rule this detector applies.
pub const RULE: &str = "offline = partition has no leader";

/// One finding listing every offline partition, if any.
pub fn detect(input: &DetectInput<'_>) -> Option<Finding> {
    let offline: Vec<TopicPartition> = input
        .view
        .partitions
        .iter()
        .filter(|p| p.leader.is_none())
        .map(|p| TopicPartition {
            topic: p.topic.clone(),
            partition: p.partition,
        })
        .collect();
    if offline.is_empty() {
        return None;
    }
    Some(Finding {
        kind: FindingKind::OfflinePartitions,
        broker: None,
        topic: None,
        evidence: format!(
            "{} partitions have no leader: {}",
            offline.len(),
            list_partitions(&offline, 10)
        ),
        partitions: offline,
        rule: RULE,
    })
}
