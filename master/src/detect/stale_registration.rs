//! Stale registration: a broker that is registered and fenced, whose agent is silent, reports
//! the process gone or was never seen, and that hosts no replica. It was shut down without
//! being unregistered (`kafka-cluster.sh unregister`). Nothing is lost and nothing can be
//! healed, so it is not a dead broker: it is alerted (a person unregisters it), and it does not
//! make the cluster "unstable" (otherwise balance would wait for it forever).

use super::signals::{AgentSignal, BrokerHealth, KafkaSignal};
use super::{DetectInput, Finding, FindingKind};

/// The rule this detector applies.
pub const RULE: &str = "stale registration = registered, fenced, agent silent or absent, hosts \
                        nothing: unregister it (alert only)";

/// A finding if `h` is a stale registration.
pub fn check(_input: &DetectInput<'_>, h: &BrokerHealth) -> Option<Finding> {
    let agent_quiet = h.agent_says_dead() || h.agent == AgentSignal::NeverSeen;
    if h.kafka != KafkaSignal::Fenced || !h.hosted.is_empty() || !agent_quiet {
        return None;
    }
    let mut f = Finding::broker(FindingKind::StaleRegistration, h.id, Vec::new());
    f.evidence = format!(
        "broker {}: {}; hosts no replica: shut down without being unregistered \
         (kafka-cluster.sh unregister --id {})",
        h.id,
        h.describe(),
        h.id
    );
    f.rule = RULE;
    Some(f)
}
