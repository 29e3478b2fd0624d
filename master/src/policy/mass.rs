//! Mass failure as the policy sees it (DESIGN.md rule 6), with one allowance for short agent
//! silences: a broker suspect only since this round (its agent fell silent, Kafka says it is
//! healthy) may be an agent late by one poll, so it counts toward a mass failure from its
//! second round on (`detect::mass_failure::detect_settled`). A single kill with the other agents
//! late by a poll is then never read as a mass failure. Safety is kept: in the round such
//! suspects would make it one, every data move waits all the same (the hold says why), and a
//! mass failure that lasts is declared one poll later.

use std::collections::BTreeSet;

use super::{key, Policy};
use crate::detect::{mass_failure, Finding, FindingKind};
use crate::observe::ClusterView;

impl Policy {
    /// This round's mass failure (counting only settled suspects), and, when there is none yet
    /// but the new suspects would make one, why data moves wait this round.
    pub(super) fn mass_failure(
        &self,
        findings: &[Finding],
        view: &ClusterView,
    ) -> (Option<Finding>, Option<String>) {
        let new: BTreeSet<i32> = findings
            .iter()
            .filter(|f| f.kind == FindingKind::SuspectBroker)
            .filter(|f| !self.first_seen_ms.contains_key(&key(f)))
            .filter_map(|f| f.broker)
            .collect();
        let mass = mass_failure::detect_settled(findings, view, &self.cfg, &new);
        if mass.is_some() || new.is_empty() {
            return (mass, None);
        }
        let pending = mass_failure::detect(findings, view, &self.cfg).map(|m| {
            format!(
                "brokers {} turned suspect this round (an agent late by one poll, or the start \
                 of a mass failure): every data move waits one more poll to tell which; {}",
                crate::text::list(&new),
                m.evidence
            )
        });
        (None, pending)
    }
}

#[cfg(test)]
#[path = "tests/mass.rs"]
mod tests;
