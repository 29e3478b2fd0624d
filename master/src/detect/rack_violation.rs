//! Rack violations: two replicas of a partition in one rack although the cluster has at least
//! as many racks as the partition has replicas (DESIGN.md rule 1).

use std::collections::BTreeSet;

use super::{list_partitions, DetectInput, Finding, FindingKind};
use crate::observe::TopicPartition;

/// The rule this detector applies.
pub const RULE: &str = "replicas in distinct racks whenever there are at least RF racks (rule 1)";

/// One finding listing every violating partition, if any. Replicas on brokers without a known
/// rack are not counted (nothing can be said about them).
pub fn detect(input: &DetectInput<'_>) -> Option<Finding> {
    let racks: BTreeSet<&str> = input
        .view
        .brokers
        .values()
        .filter_map(|b| b.rack.as_deref())
        .collect();
    let mut bad = Vec::new();
    for p in &input.view.partitions {
        if p.replicas.len() > racks.len() {
            continue;
        }
        let known: Vec<&str> = p
            .replicas
            .iter()
            .filter_map(|&r| input.view.rack_of(r))
            .collect();
        let distinct: BTreeSet<&str> = known.iter().copied().collect();
        if distinct.len() < known.len() {
            bad.push(TopicPartition {
                topic: p.topic.clone(),
                partition: p.partition,
            });
        }
    }
    if bad.is_empty() {
        return None;
    }
    Some(Finding {
        kind: FindingKind::RackViolation,
        broker: None,
        topic: None,
        evidence: format!(
            "{} partitions have two replicas in one rack with {} racks available: {}",
            bad.len(),
            racks.len(),
            list_partitions(&bad, 10)
        ),
        partitions: bad,
        rule: RULE,
    })
}
