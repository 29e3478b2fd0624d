//! Leader skew: preferred leaders that are in sync but not leading, and topics whose leaders
//! are spread unevenly across racks (AZ-aware clients then cross AZs).

use std::collections::{BTreeMap, BTreeSet};

use super::{list_partitions, DetectInput, Finding, FindingKind};
use crate::observe::TopicPartition;

/// The rule for preferred leaders.
pub const RULE_PREFERRED: &str = "preferred leader in ISR, on an unfenced broker, but not leading";
/// The rule for rack spread.
pub const RULE_RACKS: &str =
    "a topic's leaders per rack differ by more than one (max - min > 1 over racks)";

/// Findings: one for all preferred-leader mismatches, one per topic with uneven rack spread.
pub fn detect(input: &DetectInput<'_>) -> Vec<Finding> {
    let v = input.view;
    let mut out = Vec::new();
    let mut not_preferred = Vec::new();
    let racks: BTreeSet<&str> = v
        .brokers
        .values()
        .filter(|b| !b.fenced)
        .filter_map(|b| b.rack.as_deref())
        .collect();
    let mut per_topic: BTreeMap<&str, BTreeMap<&str, usize>> = BTreeMap::new();
    for p in &v.partitions {
        let Some(leader) = p.leader else { continue };
        if let Some(&pref) = p.replicas.first() {
            let pref_ok = v.brokers.get(&pref).is_some_and(|b| !b.fenced) && p.isr.contains(&pref);
            if pref != leader && pref_ok {
                not_preferred.push(TopicPartition {
                    topic: p.topic.clone(),
                    partition: p.partition,
                });
            }
        }
        if let Some(r) = v.rack_of(leader) {
            *per_topic.entry(&p.topic).or_default().entry(r).or_default() += 1;
        }
    }
    if !not_preferred.is_empty() {
        out.push(Finding {
            kind: FindingKind::PreferredLeaderNotLeading,
            broker: None,
            topic: None,
            evidence: format!(
                "{} partitions are not led by their in-sync preferred leader: {}",
                not_preferred.len(),
                list_partitions(&not_preferred, 10)
            ),
            partitions: not_preferred,
            rule: RULE_PREFERRED,
        });
    }
    if racks.len() < 2 {
        return out;
    }
    for (topic, counts) in per_topic {
        let total: usize = counts.values().sum();
        // With fewer leaders than racks some rack must have none; that is not skew.
        if total < racks.len() {
            continue;
        }
        let per_rack: Vec<(String, usize)> = racks
            .iter()
            .map(|r| (r.to_string(), counts.get(r).copied().unwrap_or(0)))
            .collect();
        let max = per_rack.iter().map(|x| x.1).max().unwrap_or(0);
        let min = per_rack.iter().map(|x| x.1).min().unwrap_or(0);
        if max - min > 1 {
            let figures: Vec<String> = per_rack.iter().map(|(r, n)| format!("{r}={n}")).collect();
            out.push(Finding {
                kind: FindingKind::LeaderRackSkew,
                broker: None,
                topic: Some(topic.to_string()),
                partitions: Vec::new(),
                evidence: format!(
                    "topic {topic}: {total} leaders per rack {} (max - min = {})",
                    figures.join(" "),
                    max - min
                ),
                rule: RULE_RACKS,
            });
        }
    }
    out
}
