//! No stats: a registered, healthy broker whose agent never reported, or whose agent sends
//! heartbeats but no full stats (so its replicas' rates are unknown).

use super::signals::{AgentSignal, BrokerHealth, KafkaSignal};
use super::{DetectInput, Finding, FindingKind};

/// The rule this detector applies.
pub const RULE: &str = "no stats = registered broker with no agent report, or no full stats \
                        within 3x the silence threshold";

/// A finding if `h` has no usable stats.
pub fn check(input: &DetectInput<'_>, h: &BrokerHealth) -> Option<Finding> {
    if h.kafka != KafkaSignal::Healthy {
        return None;
    }
    let evidence = match (&h.agent, input.agents.get(&h.id)) {
        (AgentSignal::NeverSeen, _) => format!("broker {}: no agent report ever seen", h.id),
        (AgentSignal::Fresh, Some(a)) => {
            let limit = input.agent_silence_ms.saturating_mul(3);
            // On the master's monotonic clock, like silence.
            match a.full_silent_ms(input.mono_ms) {
                None => format!("broker {}: heartbeats only, no full stats yet", h.id),
                Some(ago) if ago > limit => format!(
                    "broker {}: last full stats {} s ago > {} s",
                    h.id,
                    ago / 1000,
                    limit / 1000
                ),
                Some(_) => return None,
            }
        }
        _ => return None,
    };
    let mut f = Finding::broker(FindingKind::NoStats, h.id, Vec::new());
    f.evidence = evidence;
    f.rule = RULE;
    Some(f)
}
