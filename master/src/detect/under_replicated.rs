//! Under-replicated partitions, split into those explained (every replica missing from the ISR
//! is on a confirmed-dead broker, or is being added by an in-flight reassignment on a healthy
//! broker and is still catching up) and the rest. Healing waits until the rest is empty
//! (DESIGN.md rule 4): a running reassignment must not block healing a second dead broker.

use std::collections::{BTreeMap, BTreeSet};

use super::signals::BrokerHealth;
use super::{list_partitions, DetectInput, Finding, FindingKind};
use crate::observe::{ClusterView, TopicPartition};
use crate::text::{count, list};

/// The rule this detector applies.
pub const RULE: &str = "URP explained only if every out-of-sync replica is on a confirmed-dead \
                        broker or is being added (or was, at the last 2 polls) by a reassignment \
                        on a healthy broker (rule 4)";

/// How many polls after a reassignment was last listed the replicas it was adding still count
/// as catching up. Metadata (served by any broker) can lag the controller's reassignment list:
/// a poll can read the list after the move ended but the partition before, when the new replica
/// is not yet in the ISR. That replica is progress that just ended, not damage; one still out of
/// sync [`RECENT_POLLS`] polls later is unexplained again.
pub const RECENT_POLLS: u64 = 2;

/// The replicas reassignments were adding at the last [`RECENT_POLLS`] polls. The round keeps
/// one per cluster and calls [`RecentAdds::observe`] once per poll, before detection.
#[derive(Debug, Clone, Default)]
pub struct RecentAdds {
    poll: u64,
    /// Partition -> the replicas it was adding, and the poll it was last listed at.
    adds: BTreeMap<TopicPartition, (Vec<i32>, u64)>,
}

impl RecentAdds {
    /// Records this poll's reassignments and forgets those last listed more than
    /// [`RECENT_POLLS`] polls ago.
    pub fn observe(&mut self, view: &ClusterView) {
        self.poll += 1;
        for (tp, r) in &view.reassignments {
            self.adds.insert(tp.clone(), (r.adding.clone(), self.poll));
        }
        let poll = self.poll;
        self.adds
            .retain(|_, (_, at)| poll.saturating_sub(*at) <= RECENT_POLLS);
    }

    /// Whether a reassignment listed at one of the last [`RECENT_POLLS`] polls (or this one)
    /// was adding `replica` to `tp`.
    pub fn was_adding(&self, tp: &TopicPartition, replica: i32) -> bool {
        self.adds
            .get(tp)
            .is_some_and(|(adding, _)| adding.contains(&replica))
    }
}

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
        // healthy broker that is progress, not damage. So is one a move listed at the last
        // polls was adding, which lagging metadata still shows out of sync ([`RECENT_POLLS`]).
        let recent = |r: &i32| input.recently_added.is_some_and(|a| a.was_adding(&tp, *r));
        let catching_up = |r: &i32| {
            (adding.contains(r) || recent(r))
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
                "{}, all missing only replicas {}a reassignment is adding (or ended adding at \
                 the last {RECENT_POLLS} polls): {}",
                count(
                    explained.len(),
                    "under-replicated partition",
                    "under-replicated partitions"
                ),
                if dead.is_empty() {
                    String::new()
                } else {
                    format!(
                        "on confirmed-dead {} {} or replicas ",
                        if dead.len() == 1 { "broker" } else { "brokers" },
                        list(dead.iter())
                    )
                },
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
                "{} {} replicas on {} {} that {} not confirmed dead: {}",
                count(
                    unexplained.len(),
                    "under-replicated partition",
                    "under-replicated partitions"
                ),
                if unexplained.len() == 1 {
                    "misses"
                } else {
                    "miss"
                },
                if culprits.len() == 1 {
                    "broker"
                } else {
                    "brokers"
                },
                list(culprits.iter()),
                if culprits.len() == 1 { "is" } else { "are" },
                list_partitions(&unexplained, 10)
            ),
            partitions: unexplained,
            rule: RULE,
        });
    }
    out
}

#[cfg(test)]
#[path = "under_replicated_tests.rs"]
mod tests;
