//! Duplicate broker id: stats for one broker id from two hostnames, both heard within
//! `ingest.duplicate_host_window_secs` (on the master's monotonic clock). Most likely a cloned
//! image that kept `node.id`: the two agents' figures are mixed in the model, so its view of
//! that broker cannot be trusted. Alert only. A host renamed once (or a replacement under a new
//! name) also shows here until the old name has been quiet for the window; then it clears.

use std::collections::BTreeMap;

use super::signals::BrokerHealth;
use super::{DetectInput, Finding, FindingKind};

/// The rule this detector applies.
pub const RULE: &str = "duplicate broker id = stats for one broker id from two hosts within \
                        ingest.duplicate_host_window_secs";

/// One finding per broker (that metadata knows) with two recent hostnames.
pub fn detect(input: &DetectInput<'_>, health: &BTreeMap<i32, BrokerHealth>) -> Vec<Finding> {
    let window_ms = input.ingest.duplicate_host_window_secs.saturating_mul(1000);
    health
        .keys()
        .filter_map(|id| {
            let a = input.agents.get(id)?;
            let (other, other_heard) = a.other_host.as_ref()?;
            let this_ago = a.silent_ms(input.mono_ms);
            let other_ago = crate::model::agent::since(*other_heard, input.mono_ms);
            if this_ago > window_ms || other_ago > window_ms || *other == a.hostname {
                return None;
            }
            let mut f = Finding::broker(FindingKind::DuplicateBrokerId, *id, Vec::new());
            f.evidence = format!(
                "broker {id}: stats from host {:?} ({} s ago) and host {:?} ({} s ago), within \
                 {} s: two agents claim one broker id (a cloned image?); its stats are mixed",
                a.hostname,
                this_ago / 1000,
                other,
                other_ago / 1000,
                input.ingest.duplicate_host_window_secs
            );
            f.rule = RULE;
            Some(f)
        })
        .collect()
}
