//! Deaths restored at start: a master restarted after it healed a dead broker away (the broker
//! then reads as a stale registration: fenced, silent, hosting nothing) must still ask for its
//! replacement after `replace_grace_secs`. The policy keeps when it saw each broker die in
//! memory only, so the time is taken back from the action log.
//!
//! The log records no decision, but the heal's `reassign` intents record every move with its
//! old and new replicas: a broker kmedic moved replicas off is one it healed away (or drained,
//! or balanced off; only a broker that now reads as a stale registration keeps the time, and a
//! decommissioned one is never replaced). The time is the LAST such intent's, later than the
//! death (which came at least `heal_grace_secs` before the heal), so the replacement may come
//! later than it would have without the restart, never earlier. The intent's wall time is
//! turned into the monotonic clock once, here, as an age at start (a record dated in the future
//! counts as written now).

use std::collections::BTreeMap;

use crate::actionlog::{ActionKind, ActionRecord, Phase};
use crate::clock::Now;
use crate::policy::Policy;

/// The brokers of `cluster_id` that kmedic's `reassign` intents moved replicas off, each with
/// the wall time (ms) of the last such intent.
pub fn moved_off(records: &[ActionRecord], cluster_id: &str) -> BTreeMap<i32, u64> {
    let mut out = BTreeMap::new();
    let intents = records.iter().filter(|r| {
        r.cluster_id == cluster_id
            && r.phase == Phase::Intent
            && matches!(r.kind, ActionKind::Reassign { .. })
    });
    for r in intents {
        let Some(moves) = r.evidence.get("moves").and_then(|m| m.as_array()) else {
            continue;
        };
        for m in moves {
            let ids = |k: &str| -> Vec<i32> {
                m.get(k)
                    .and_then(|v| serde_json::from_value(v.clone()).ok())
                    .unwrap_or_default()
            };
            let new = ids("new");
            for b in ids("old").into_iter().filter(|b| !new.contains(b)) {
                out.insert(b, r.wall_ms);
            }
        }
    }
    out
}

/// Gives `policy` the death times [`moved_off`] finds in `records`, as of `now`; returns them
/// as monotonic ms (the policy keeps only those of brokers its first round sees dead or stale).
pub fn restore(
    policy: &mut Policy,
    records: &[ActionRecord],
    cluster_id: &str,
    now: Now,
) -> BTreeMap<i32, u64> {
    let seeded: BTreeMap<i32, u64> = moved_off(records, cluster_id)
        .into_iter()
        .map(|(b, wall)| {
            let age = now.wall_ms.saturating_sub(wall);
            (b, now.mono_ms.saturating_sub(age))
        })
        .collect();
    for (&b, &mono) in &seeded {
        policy.seed_dead_since(b, mono);
    }
    seeded
}

#[cfg(test)]
#[path = "deaths_tests.rs"]
mod tests;
