//! The alerts active in a round, from the policy's decisions (one per finding, every round).
//!
//! | finding                                  | alert kind        | subject     | grace (config)                |
//! |------------------------------------------|-------------------|-------------|-------------------------------|
//! | SuspectBroker, HungBroker                | suspect_broker    | `broker N`  | suspect_broker_grace_secs     |
//! | UnderReplicatedUnexplained               | unexplained_urps  | `cluster`   | unexplained_urps_grace_secs   |
//! | UnderReplicatedExplained                 | prolonged_urps    | `cluster`   | prolonged_urps_secs           |
//! | MassFailure                              | mass_failure      | `cluster`   | mass_failure_grace_secs       |
//!
//! Heal-impossible (the plan's unplaceable replicas), slow/stuck moves (executor events),
//! held-back/failed replacements and a fenced master are raised where they happen.

use serde_json::json;

use super::kind::{Alert, AlertKind};
use crate::detect::FindingKind;
use crate::policy::Decision;

/// The alerts the decisions of one round stand for (pass them all to `Alerter::update`).
pub fn from_decisions(cluster: &str, decisions: &[Decision]) -> Vec<Alert> {
    let mut out: Vec<Alert> = Vec::new();
    for d in decisions {
        let (kind, subject) = match d.finding {
            FindingKind::SuspectBroker | FindingKind::HungBroker => (
                AlertKind::SuspectBroker,
                d.broker
                    .map(|b| format!("broker {b}"))
                    .unwrap_or_else(|| "cluster".into()),
            ),
            FindingKind::UnderReplicatedUnexplained => {
                (AlertKind::UnexplainedUrps, "cluster".to_string())
            }
            FindingKind::UnderReplicatedExplained => {
                (AlertKind::ProlongedUrps, "cluster".to_string())
            }
            FindingKind::MassFailure => (AlertKind::MassFailure, "cluster".to_string()),
            _ => continue,
        };
        let mut a = Alert::new(kind, cluster, subject, d.reason.clone());
        a.details = json!({
            "decision": d.id.0,
            "finding": d.finding,
            "rule": d.rule.name(),
            "brokers": d.brokers,
            "partitions": d.partitions,
        });
        // One alert per key: the first decision's summary stands.
        if !out.iter().any(|o| o.key() == a.key()) {
            out.push(a);
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::policy::{DecisionId, Rule, Verdict};

    fn d(id: u64, finding: FindingKind, broker: Option<i32>) -> Decision {
        Decision {
            id: DecisionId(id),
            verdict: Verdict::Alert,
            finding,
            broker,
            brokers: broker.into_iter().collect(),
            topic: None,
            partitions: 3,
            reason: format!("reason {id}"),
            rule: Rule::OneSignal,
        }
    }

    #[test]
    fn suspect_hung_urps_and_mass_failure_map_to_their_kinds_once_per_key() {
        let a = from_decisions(
            "prod",
            &[
                d(1, FindingKind::SuspectBroker, Some(3)),
                d(2, FindingKind::HungBroker, Some(3)),
                d(3, FindingKind::HungBroker, Some(4)),
                d(4, FindingKind::UnderReplicatedUnexplained, None),
                d(5, FindingKind::MassFailure, None),
                d(6, FindingKind::DeadBroker, Some(5)),
                d(7, FindingKind::UnderReplicatedExplained, None),
            ],
        );
        let keys: Vec<String> = a.iter().map(Alert::key).collect();
        assert_eq!(
            keys,
            [
                "kmedic/prod/suspect_broker/broker 3",
                "kmedic/prod/suspect_broker/broker 4",
                "kmedic/prod/unexplained_urps/cluster",
                "kmedic/prod/mass_failure/cluster",
                "kmedic/prod/prolonged_urps/cluster",
            ]
        );
        assert_eq!(a[0].summary, "reason 1");
        assert_eq!(a[0].details["decision"], 1);
        assert_eq!(a[0].details["rule"], "one_signal");
    }
}
