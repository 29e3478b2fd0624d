//! Host replacement: the decision to call the replacement script for a dead broker's host, or
//! the hold that names the partitions it would wipe (DESIGN.md rule 7), or the hold for a broker
//! the operator is decommissioning (its replicas are healed away, its host is not replaced: the
//! operator wants it gone).

use std::collections::BTreeSet;

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
    /// The brokers the operator is decommissioning, or has decommissioned (the service's list,
    /// set before each round): if one dies it is healed, never replaced.
    pub fn set_decommissioning(&mut self, brokers: BTreeSet<i32>) {
        self.decommission_said.retain(|b| brokers.contains(b));
        self.decommissioning = brokers;
    }

    /// Seeds when broker `b` was seen dead (monotonic ms), from the action log at start (the
    /// service's `deaths::restore`): kept only if the first round sees it dead or as a stale
    /// registration; a death time the policy already has is kept.
    pub fn seed_dead_since(&mut self, b: i32, mono_ms: u64) {
        self.dead_since_ms.entry(b).or_insert(mono_ms);
    }

    /// A host replacement for dead broker `b`, or a hold naming the partitions it would wipe,
    /// or a hold because the operator is decommissioning it.
    pub(super) fn replace(
        &self,
        b: i32,
        age: u64,
        view: &ClusterView,
        d: impl Fn(Verdict, String, Rule) -> Decision,
    ) -> Decision {
        if self.decommissioning.contains(&b) {
            return d(
                Verdict::Hold,
                format!(
                    "broker {b} dead for {age} s but it is being decommissioned: its replicas \
                     are healed away, its host is not replaced (the operator is removing it)"
                ),
                Rule::Decommissioning,
            );
        }
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

impl Policy {
    /// Whether each decision is logged as new: a decommissioning broker's replacement hold is
    /// said once per broker, also when its finding turns from dead to stale registration (a
    /// new decision id), and again only if it leaves the list and comes back.
    pub(super) fn decommission_once(&mut self, out: &[Decision], fresh: Vec<bool>) -> Vec<bool> {
        let held: BTreeSet<i32> = out
            .iter()
            .filter(|d| d.rule == Rule::Decommissioning)
            .filter_map(|d| d.broker)
            .collect();
        // A broker that came back (or was unregistered) is forgotten: said again if it dies.
        self.decommission_said.retain(|b| held.contains(b));
        out.iter()
            .zip(fresh)
            .map(|(d, new)| match (d.rule, d.broker) {
                (Rule::Decommissioning, Some(b)) => self.decommission_said.insert(b),
                _ => new,
            })
            .collect()
    }
}

#[cfg(test)]
#[path = "tests/replace.rs"]
mod tests;
