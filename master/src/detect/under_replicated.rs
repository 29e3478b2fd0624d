//! Under-replicated partitions, split into those explained (every replica missing from the ISR
//! is on a confirmed-dead broker, or is being added by an in-flight reassignment on a healthy
//! broker and is still catching up) and the rest. Healing waits until the rest is empty
//! (DESIGN.md rule 4): a running reassignment must not block healing a second dead broker.

use std::collections::{BTreeMap, BTreeSet};

use super::signals::BrokerHealth;
use super::{list_partitions, DetectInput, Finding, FindingKind};
use crate::observe::TopicPartition;

/// The rule this detector applies.
pub const RULE: &str = "URP explained only if every out-of-sync replica is on a confirmed-dead \
                        broker or is being added by a reassignment on a healthy broker (rule 4)";

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
        let adding: &[i32] = input
            .view
            .reassignments
            .get(&tp)
            .map_or(&[], |r| r.adding.as_slice());
        // A replica a reassignment is adding is out of sync until it has copied the log; on a
        // healthy broker that is progress, not damage.
        let catching_up = |r: &i32| {
            adding.contains(r)
                && health.get(r).is_some_and(|h| {
                    !h.kafka_says_dead()
                        && !h.agent_says_dead()
                        && super::hung_broker::check(input, h).is_none()
                })
        };
        if missing.iter().all(|r| dead.contains(r) || catching_up(r)) {
            explained.push(tp);
        } else {
            culprits.extend(
                missing
                    .iter()
                    .filter(|r| !dead.contains(r) && !catching_up(r)),
            );
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
                 brokers {:?} or replicas a reassignment is adding: {}",
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
