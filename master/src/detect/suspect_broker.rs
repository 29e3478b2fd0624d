//! Suspect broker: exactly one of the two signals says dead. Alert, never move (rule 3).

use super::signals::BrokerHealth;
use super::{DetectInput, Finding, FindingKind};

/// The rule this detector applies.
pub const RULE: &str = "suspect = only one signal says dead: alert, no moves (rule 3)";

/// A finding if exactly one signal says `h` is dead. A broker Kafka calls dead but whose agent
/// was never seen is suspect too: the second signal is missing, not agreeing.
pub fn check(_input: &DetectInput<'_>, h: &BrokerHealth) -> Option<Finding> {
    // NeverSeen is no signal, so a fenced broker without an agent lands here, not in dead.
    if h.kafka_says_dead() == h.agent_says_dead() {
        return None;
    }
    let mut f = Finding::broker(FindingKind::SuspectBroker, h.id, h.hosted.clone());
    f.evidence = format!("broker {}: {}", h.id, h.describe());
    f.rule = RULE;
    Some(f)
}
