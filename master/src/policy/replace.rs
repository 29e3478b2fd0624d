//! Host replacement: the decision to call the replacement script for a dead broker's host, or
//! the hold that names the partitions it would wipe (DESIGN.md rule 7).

use super::{Action, Decision, Policy, Rule, Verdict};
use crate::detect::list_partitions;
use crate::observe::{ClusterView, TopicPartition};

/// The partitions for which broker `b` holds the only in-sync copy, or a copy of an offline
/// partition with no other in-sync replica: replacing its host would wipe them.
pub fn last_copies(view: &ClusterView, b: i32) -> Vec<TopicPartition> {
    view.partitions
        .iter()
        .filter(|p| p.replicas.contains(&b))
        .filter(|p| p.isr.iter().all(|&r| r == b))
        .filter(|p| p.isr.contains(&b) || p.leader.is_none())
        .map(|p| TopicPartition {
            topic: p.topic.clone(),
            partition: p.partition,
        })
        .collect()
}

impl Policy {
    /// A host replacement for dead broker `b`, or a hold naming the partitions it would wipe.
    pub(super) fn replace(
        &self,
        b: i32,
        age: u64,
        view: &ClusterView,
        d: impl Fn(Verdict, String, Rule) -> Decision,
    ) -> Decision {
        let last = last_copies(view, b);
        if last.is_empty() {
            return self.gated(d(
                Verdict::Act(Action::ReplaceHost { broker: b }),
                format!(
                    "broker {b} dead for {age} s >= replace_grace_secs {}",
                    self.cfg.replace_grace_secs
                ),
                Rule::Replace,
            ));
        }
        let mut h = d(
            Verdict::Hold,
            format!(
                "broker {b} dead for {age} s >= replace_grace_secs {} but its host holds the \
                 last copy of {} partitions: {}; not replacing (bring the broker back, or \
                 recover the data, then it can be replaced)",
                self.cfg.replace_grace_secs,
                last.len(),
                list_partitions(&last, 10)
            ),
            Rule::LastCopy,
        );
        h.partitions = last.len();
        h
    }
}
