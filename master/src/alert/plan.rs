//! Alerts raised from the round's results other than decisions: the plan's replicas that no
//! later round will place (heal impossible), and an action log the master cannot use.
//!
//! Both are *active* alerts: the actor adds them to the round's list every round while they
//! hold, so [`super::Dedup`] sends each once, reminds after the cool-off, and resolves it when
//! it clears.

use std::collections::BTreeSet;

use serde_json::json;

use super::kind::{Alert, AlertKind};
use crate::plan::Plan;
use crate::policy::DecisionId;

/// At most this many replicas are named in an alert's details (the count is always given).
const NAMED: usize = 10;

/// The heal-impossible alert for `plan`, when it leaves replicas that no later round places by
/// itself (capacity, racks, offline: not a busy partition or a spent budget). One per cluster
/// (subject `cluster`): the set of replicas changing as a heal proceeds is not a new page.
pub fn heal_impossible(cluster: &str, decisions: &[DecisionId], plan: &Plan) -> Option<Alert> {
    let stuck: Vec<_> = plan
        .unplaceable
        .iter()
        .filter(|u| !u.reason.is_transient())
        .collect();
    let first = stuck.first()?;
    let brokers: BTreeSet<i32> = stuck.iter().map(|u| u.replica).collect();
    let mut a = Alert::new(
        AlertKind::HealImpossible,
        cluster,
        "cluster",
        format!(
            "{} replica(s) on broker(s) {brokers:?} cannot be placed; a person must look \
             (first: {first})",
            stuck.len()
        ),
    );
    a.details = json!({
        "decisions": decisions.iter().map(|d| d.0).collect::<Vec<_>>(),
        "replicas": stuck.len(),
        "brokers": brokers,
        "first": stuck.iter().take(NAMED).map(|u| u.to_string()).collect::<Vec<_>>(),
    });
    Some(a)
}

/// The alert for a master that cannot use its action log (not opened, not read back, or a
/// write refused for another reason than a fence): it observes and alerts but does not act.
pub fn action_log_unavailable(cluster: &str, why: &str) -> Alert {
    let mut a = Alert::new(
        AlertKind::ActionLogUnavailable,
        cluster,
        "action log",
        format!(
            "the action log is unavailable ({why}): the master observes, decides and alerts, \
             but takes NO action on this cluster while it is"
        ),
    );
    a.details = json!({ "error": why });
    a
}

#[cfg(test)]
mod tests {
    use std::sync::Arc;

    use super::*;
    use crate::alert::{Alerter, Delivery};
    use crate::config::AlertConfig;
    use crate::plan::{Unplaceable, UnplaceableReason};

    fn unplaceable(p: i32, replica: i32, reason: UnplaceableReason) -> Unplaceable {
        Unplaceable {
            topic: Arc::from("orders"),
            partition: p,
            replica,
            reason,
        }
    }

    fn plan(u: Vec<Unplaceable>) -> Plan {
        Plan {
            unplaceable: u,
            ..Plan::default()
        }
    }

    #[test]
    fn only_replicas_no_round_will_place_raise_heal_impossible() {
        let busy = plan(vec![
            unplaceable(0, 3, UnplaceableReason::Reassigning),
            unplaceable(1, 3, UnplaceableReason::InFlight),
            unplaceable(2, 3, UnplaceableReason::SourceMoveLimit { limit: 2 }),
        ]);
        assert_eq!(heal_impossible("prod", &[DecisionId(4)], &busy), None);
        assert_eq!(heal_impossible("prod", &[], &Plan::default()), None);
        let stuck = plan(vec![
            unplaceable(0, 3, UnplaceableReason::Reassigning),
            unplaceable(1, 3, UnplaceableReason::Offline),
            unplaceable(
                2,
                5,
                UnplaceableReason::RackUnavailable {
                    racks: vec!["az-c".into()],
                },
            ),
        ]);
        let a = heal_impossible("prod", &[DecisionId(4)], &stuck).expect("an alert");
        assert_eq!(a.kind, AlertKind::HealImpossible);
        assert_eq!(a.key(), "kmedic/prod/heal_impossible/cluster");
        assert_eq!(a.details["replicas"], 2);
        assert_eq!(a.details["brokers"], json!([3, 5]));
        assert_eq!(a.details["decisions"], json!([4]));
        assert!(a.summary.contains("orders-1"), "{}", a.summary);
    }

    #[test]
    fn heal_impossible_is_sent_once_while_it_lasts_and_resolved_when_it_clears() {
        let mut alerter = Alerter::new(&AlertConfig::default()).unwrap();
        let one = plan(vec![unplaceable(1, 3, UnplaceableReason::Offline)]);
        let two = plan(vec![
            unplaceable(1, 3, UnplaceableReason::Offline),
            unplaceable(2, 4, UnplaceableReason::Offline),
        ]);
        let mut sent = Vec::new();
        // Every round while it lasts, with the set of replicas changing: one trigger.
        for (t, p) in [(0, &one), (1_000, &one), (2_000, &two), (3_000, &one)] {
            let active: Vec<Alert> = heal_impossible("prod", &[], p).into_iter().collect();
            sent.extend(alerter.update(&active, t));
        }
        assert_eq!(sent.len(), 1, "{sent:?}");
        assert!(matches!(&sent[0], Delivery::Trigger(a) if a.kind == AlertKind::HealImpossible));
        let cleared = alerter.update(&[], 4_000);
        assert!(
            matches!(cleared.as_slice(), [Delivery::Resolve(a)] if a.kind == AlertKind::HealImpossible),
            "{cleared:?}"
        );
    }

    #[test]
    fn action_log_unavailable_names_the_error_and_pages() {
        let a = action_log_unavailable("prod", "action log not opened: broker down");
        assert_eq!(a.key(), "kmedic/prod/action_log_unavailable/action log");
        assert_eq!(a.severity, crate::alert::Severity::Critical);
        assert!(a.summary.contains("NO action"), "{}", a.summary);
        assert_eq!(a.details["error"], "action log not opened: broker down");
        let mut alerter = Alerter::new(&AlertConfig::default()).unwrap();
        let first = alerter.update(std::slice::from_ref(&a), 0);
        let again = alerter.update(std::slice::from_ref(&a), 1_000);
        assert_eq!((first.len(), again.len()), (1, 0));
    }
}
