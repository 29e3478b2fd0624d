//! Dead broker: Kafka's signal and the agent's signal agree (DESIGN.md rule 3).

use super::signals::BrokerHealth;
use super::{DetectInput, Finding, FindingKind};

/// The rule this detector applies.
pub const RULE: &str = "dead = Kafka says fenced/absent AND agent silent or process gone (rule 3)";

/// A finding if `h` is confirmed dead.
pub fn check(_input: &DetectInput<'_>, h: &BrokerHealth) -> Option<Finding> {
    if !h.confirmed_dead() {
        return None;
    }
    let mut f = Finding::broker(FindingKind::DeadBroker, h.id, h.hosted.clone());
    f.evidence = format!(
        "broker {}: {}; hosts {} replicas",
        h.id,
        h.describe(),
        h.hosted.len()
    );
    f.rule = RULE;
    Some(f)
}
