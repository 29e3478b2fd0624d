//! Leader skew: preferred leaders that are in sync but not leading, and topics whose leaders
//! are spread unevenly across racks (AZ-aware clients then cross AZs).

use std::collections::{BTreeMap, BTreeSet};
use std::sync::Arc;

use super::{list_partitions, DetectInput, Finding, FindingKind};
use crate::execute::PlanProgress;
use crate::observe::snapshot::{build as build_snapshot, Verdicts};
use crate::observe::{ClusterView, TopicPartition};
use crate::plan::{best_spread, TopicSpread};

/// A topic whose leaders per rack differ by more than one.
struct Skewed<'a> {
    total: usize,
    per_rack: Vec<(&'a str, usize)>,
    spread: usize,
}

/// max - min of leader counts.
fn spread_of(counts: impl Iterator<Item = usize> + Clone) -> usize {
    let max = counts.clone().max().unwrap_or(0);
    let min = counts.min().unwrap_or(0);
    max - min
}

/// `az-a=2 az-b=2 az-c=0`.
fn figures(per_rack: &[(&str, usize)]) -> String {
    let f: Vec<String> = per_rack.iter().map(|(r, n)| format!("{r}={n}")).collect();
    f.join(" ")
}

/// Why a topic's leaders cannot be ±1: per rack, how many of its partitions have an in-sync
/// replica on an unfenced broker there (a rack can lead no more than that), and how many
/// partitions the planner leaves alone (not fully in sync, or reassigning).
fn why_not_one(v: &ClusterView, topic: &str, racks: &BTreeSet<&str>) -> String {
    let parts: Vec<_> = v.partitions.iter().filter(|p| p.topic == topic).collect();
    let can_lead = |rack: &str| {
        parts
            .iter()
            .filter(|p| {
                p.isr.iter().any(|r| {
                    v.brokers
                        .get(r)
                        .is_some_and(|b| !b.fenced && b.rack.as_deref() == Some(rack))
                })
            })
            .count()
    };
    let per_rack: Vec<String> = racks
        .iter()
        .map(|r| format!("{r}: {} of {}", can_lead(r), parts.len()))
        .collect();
    let frozen = parts
        .iter()
        .filter(|p| {
            p.isr.len() < p.replicas.len()
                || v.reassignments.contains_key(&TopicPartition {
                    topic: p.topic.clone(),
                    partition: p.partition,
                })
        })
        .count();
    let mut why = format!(
        "partitions with an in-sync replica on a live broker per rack: {}",
        per_rack.join(", ")
    );
    if frozen > 0 {
        why.push_str(&format!(
            "; {frozen} not fully in sync or reassigning keep their leader"
        ));
    }
    why
}

/// The rule for preferred leaders.
pub const RULE_PREFERRED: &str = "preferred leader in ISR, on an unfenced broker, but not leading";
/// The rule for rack spread.
pub const RULE_RACKS: &str =
    "a topic's leaders per rack differ by more than one (max - min > 1 over \
     racks), and by more than the best its in-sync replicas allow (plan::best_spread)";

/// The partitions kmedic's executor is changing now, for [`DetectInput::changing`]: every
/// move of the plan it runs (`Board::executing`), whatever the move's status, until the plan
/// finished (its elections come after its moves). Empty with no plan or a finished one.
pub fn changing_now(executing: Option<&PlanProgress>) -> BTreeSet<TopicPartition> {
    executing
        .filter(|p| !p.finished)
        .map(|p| p.moves.iter().map(|m| m.partition.clone()).collect())
        .unwrap_or_default()
}

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
    let tp = |p: &crate::observe::PartitionView| TopicPartition {
        topic: p.topic.clone(),
        partition: p.partition,
    };
    for p in &v.partitions {
        let Some(leader) = p.leader else { continue };
        // kmedic's own plan is changing it (a reorder done, its election to come): not a
        // finding, or each reorder-then-elect reads as one appearing and clearing.
        let changing = input.changing.is_some_and(|c| c.contains(&tp(p)));
        if let Some(&pref) = p.replicas.first().filter(|_| !changing) {
            let pref_ok = v.brokers.get(&pref).is_some_and(|b| !b.fenced) && p.isr.contains(&pref);
            if pref != leader && pref_ok {
                not_preferred.push(tp(p));
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
            evidence: if not_preferred.len() == 1 {
                format!(
                    "1 partition is not led by its in-sync preferred leader: {}",
                    list_partitions(&not_preferred, 10)
                )
            } else {
                format!(
                    "{} partitions are not led by their in-sync preferred leader: {}",
                    not_preferred.len(),
                    list_partitions(&not_preferred, 10)
                )
            },
            partitions: not_preferred,
            rule: RULE_PREFERRED,
        });
    }
    if racks.len() < 2 {
        return out;
    }
    // Topics whose leaders per rack differ by more than one: candidates.
    let mut skewed: BTreeMap<&str, Skewed> = BTreeMap::new();
    for (topic, counts) in per_topic {
        let total: usize = counts.values().sum();
        // With fewer leaders than racks some rack must have none; that is not skew.
        if total < racks.len() {
            continue;
        }
        let per_rack: Vec<(&str, usize)> = racks
            .iter()
            .map(|&r| (r, counts.get(r).copied().unwrap_or(0)))
            .collect();
        let spread = spread_of(per_rack.iter().map(|x| x.1));
        if spread > 1 {
            skewed.insert(
                topic,
                Skewed {
                    total,
                    per_rack,
                    spread,
                },
            );
        }
    }
    if skewed.is_empty() {
        return out;
    }
    // What the replicas allow: the planner's own search (`plan::best_spread`), so the finding
    // never asks for a spread the spread-leaders plan cannot make.
    let snap = build_snapshot(v, input.limits, &Verdicts::default(), None, input.now_ms);
    let best: BTreeMap<Arc<str>, TopicSpread> = best_spread(&snap, |t| skewed.contains_key(t))
        .into_iter()
        .map(|s| (s.topic.clone(), s))
        .collect();
    for (topic, sk) in skewed {
        let best_per_rack: Option<Vec<(&str, usize)>> = best.get(topic).map(|b| {
            racks
                .iter()
                .map(|&r| {
                    let n = b
                        .racks
                        .iter()
                        .position(|x| x == r)
                        .map_or(0, |i| b.best[i] as usize);
                    (r, n)
                })
                .collect()
        });
        let best_spread = best_per_rack
            .as_ref()
            .map_or(1, |b| spread_of(b.iter().map(|x| x.1)));
        if sk.spread <= best_spread.max(1) {
            continue;
        }
        let mut evidence = format!(
            "topic {topic}: {} leaders per rack {} (max - min = {})",
            sk.total,
            figures(&sk.per_rack),
            sk.spread
        );
        if let Some(b) = best_per_rack.as_ref().filter(|_| best_spread > 1) {
            evidence.push_str(&format!(
                "; ±1 is impossible: the in-sync replicas allow at best {} (max - min = {best_spread}); {}",
                figures(b),
                why_not_one(v, topic, &racks)
            ));
        }
        out.push(Finding {
            kind: FindingKind::LeaderRackSkew,
            broker: None,
            topic: Some(topic.to_string()),
            partitions: Vec::new(),
            evidence,
            rule: RULE_RACKS,
        });
    }
    out
}

#[cfg(test)]
#[path = "leader_skew_tests.rs"]
mod tests;
