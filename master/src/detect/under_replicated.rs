//! Under-replicated partitions, split into those explained by confirmed-dead brokers (every
//! replica missing from the ISR is on one) and the rest. Healing waits until the rest is empty
//! (DESIGN.md rule 4).

use std::collections::{BTreeMap, BTreeSet};

use super::signals::BrokerHealth;
use super::{list_partitions, DetectInput, Finding, FindingKind};
use crate::observe::TopicPartition;

/// The rule this detector applies.
pub const RULE: &str = "URP explained only if every out-of-sync replica is on a confirmed-dead \
                        broker (rule 4)";

/// At most two findings: explained and unexplained under-replicated partitions.
pub fn detect(input: &DetectInput<'_>, health: &BTreeMap<i32, BrokerHealth>) -> Vec<Finding> {
    let dead: BTreeSet<i32> = health
        .values()
        .filter(|h| h.confirmed_dead())
        .map(|h| h.id)
        .collect();
    let mut explained = Vec::new();
    let mut unexplained = Vec::new();
    let mut culprits: BTreeSet<i32> = BTreeSet::new();
    for p in &input.view.partitions {
        let missing: Vec<i32> = p
            .replicas
            .iter()
            .copied()
            .filter(|r| !p.isr.contains(r))
            .collect();
        if missing.is_empty() {
            continue;
        }
        let tp = TopicPartition {
            topic: p.topic.clone(),
            partition: p.partition,
        };
        if missing.iter().all(|r| dead.contains(r)) {
            explained.push(tp);
        } else {
            culprits.extend(missing.iter().filter(|r| !dead.contains(r)));
            unexplained.push(tp);
        }
    }
    let mut out = Vec::new();
    if !explained.is_empty() {
        out.push(Finding {
            kind: FindingKind::UnderReplicatedExplained,
            broker: None,
            topic: None,
            evidence: format!(
                "{} under-replicated partitions, all missing only replicas on confirmed-dead \
                 brokers {:?}: {}",
                explained.len(),
                dead.iter().collect::<Vec<_>>(),
                list_partitions(&explained, 10)
            ),
            partitions: explained,
            rule: RULE,
        });
    }
    if !unexplained.is_empty() {
        out.push(Finding {
            kind: FindingKind::UnderReplicatedUnexplained,
            broker: None,
            topic: None,
            evidence: format!(
                "{} under-replicated partitions miss replicas on brokers {:?} that are not \
                 confirmed dead: {}",
                unexplained.len(),
                culprits.iter().collect::<Vec<_>>(),
                list_partitions(&unexplained, 10)
            ),
            partitions: unexplained,
            rule: RULE,
        });
    }
    out
}
