//! Mass failure: more brokers dead, suspect or hung at once than a broker failure explains
//! (DESIGN.md rule 6). Losing a whole AZ, or a network partition that cuts one off (it looks
//! suspect, not dead), is an outage: moving its data would copy a third of the cluster over
//! whatever links are left, and undoing it when the AZ returns costs as much again.
//!
//! This works on the round's broker findings, not on the raw view, so it counts exactly the
//! brokers the other detectors judged failed. The policy calls it with its thresholds; it is
//! not part of `run_all`.
//!
//! A mass failure is any of:
//! - a whole rack failed: every broker of a rack with at least two brokers (a rack of one
//!   broker losing it is a single broker failure);
//! - more than `mass_failure_max_per_rack` failed brokers in one rack (default 1);
//! - more than `mass_failure_max_percent` of the cluster's brokers failed (default 10 %).
//!
//! One failed broker alone is never a mass failure, whatever the thresholds and the cluster's
//! size: it is what healing is for.
//!
//! Stale registrations (fenced, hosting nothing) are neither failed nor counted in the
//! cluster's size.
//!
//! A broker suspect for the first round (its agent just fell silent while Kafka still says it
//! is healthy) may be an agent late by one poll, not a failure: with a short
//! `agent_silence_secs` (4 s) a single kill plus two late agents read as "3 brokers failed".
//! [`detect_settled`] leaves such brokers out (the policy counts them from their second round
//! on, and holds every data move in the meantime). Dead and hung brokers count at once.

use std::collections::{BTreeMap, BTreeSet};

use super::{Finding, FindingKind};
use crate::config::PolicyConfig;
use crate::observe::{ClusterView, TopicPartition};

/// The rule this detector applies.
pub const RULE: &str = "mass failure = a whole rack, or more failed brokers than \
                        mass_failure_max_per_rack in one rack or mass_failure_max_percent of \
                        the cluster (rule 6)";

/// The brokers that count as failed: dead, suspect or hung.
pub fn failed_brokers(findings: &[Finding]) -> BTreeSet<i32> {
    findings
        .iter()
        .filter(|f| {
            matches!(
                f.kind,
                FindingKind::DeadBroker | FindingKind::SuspectBroker | FindingKind::HungBroker
            )
        })
        .filter_map(|f| f.broker)
        .collect()
}

/// [`detect`], with the suspect findings of the brokers in `unsettled` (suspect only since
/// this round) left out: a mass failure that needs them is not declared before the next round.
pub fn detect_settled(
    findings: &[Finding],
    view: &ClusterView,
    cfg: &PolicyConfig,
    unsettled: &BTreeSet<i32>,
) -> Option<Finding> {
    let settled: Vec<Finding> = findings
        .iter()
        .filter(|f| {
            f.kind != FindingKind::SuspectBroker || f.broker.is_none_or(|b| !unsettled.contains(&b))
        })
        .cloned()
        .collect();
    detect(&settled, view, cfg)
}

/// A `MassFailure` finding, listing the failed brokers (in `evidence`, with their racks and the
/// figures) and every partition they host, if the failure is massive under `cfg`.
pub fn detect(findings: &[Finding], view: &ClusterView, cfg: &PolicyConfig) -> Option<Finding> {
    let failed = failed_brokers(findings);
    if failed.len() < 2 {
        return None;
    }
    let stale: BTreeSet<i32> = findings
        .iter()
        .filter(|f| f.kind == FindingKind::StaleRegistration)
        .filter_map(|f| f.broker)
        .collect();
    let mut members: BTreeSet<i32> = view.brokers.keys().copied().collect();
    members.extend(&failed);
    members.retain(|b| !stale.contains(b));
    let total = members.len();

    // Per rack: (brokers, failed). Brokers Kafka no longer lists have no known rack.
    let mut racks: BTreeMap<&str, (usize, usize)> = BTreeMap::new();
    for &b in &members {
        if let Some(r) = view.rack_of(b) {
            let e = racks.entry(r).or_default();
            e.0 += 1;
            e.1 += usize::from(failed.contains(&b));
        }
    }
    let max_per_rack = usize::try_from(cfg.mass_failure_max_per_rack).unwrap_or(usize::MAX);
    let mut why = Vec::new();
    for (rack, &(n, down)) in &racks {
        if n >= 2 && down == n {
            why.push(format!("whole rack {rack} failed ({down} of {n} brokers)"));
        } else if down > max_per_rack {
            why.push(format!(
                "{down} of {n} brokers failed in rack {rack} > mass_failure_max_per_rack {}",
                cfg.mass_failure_max_per_rack
            ));
        }
    }
    let pct = u64::from(cfg.mass_failure_max_percent);
    if (failed.len() as u64) * 100 > pct * total as u64 {
        why.push(format!(
            "{} of {total} brokers failed ({:.0} %) > mass_failure_max_percent {pct} %",
            failed.len(),
            failed.len() as f64 * 100.0 / total.max(1) as f64
        ));
    }
    if why.is_empty() {
        return None;
    }
    let kinds: Vec<String> = findings
        .iter()
        .filter(|f| f.broker.is_some_and(|b| failed.contains(&b)))
        .filter_map(|f| {
            let b = f.broker?;
            let rack = view.rack_of(b).unwrap_or("rack unknown");
            Some(format!("{b} ({rack}, {:?})", f.kind))
        })
        .collect();
    let per_rack: Vec<String> = racks
        .iter()
        .map(|(r, (n, down))| format!("{r}={down}/{n}"))
        .collect();
    let partitions: BTreeSet<TopicPartition> = findings
        .iter()
        .filter(|f| f.broker.is_some_and(|b| failed.contains(&b)))
        .flat_map(|f| f.partitions.iter().cloned())
        .collect();
    Some(Finding {
        kind: FindingKind::MassFailure,
        broker: None,
        topic: None,
        partitions: partitions.into_iter().collect(),
        evidence: format!(
            "{} brokers failed at once: {}; failed per rack {}; {}",
            failed.len(),
            kinds.join(", "),
            per_rack.join(" "),
            why.join("; ")
        ),
        rule: RULE,
    })
}
