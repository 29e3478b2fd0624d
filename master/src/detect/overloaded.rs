//! Overloaded broker: the host's measured network receive or transmit rate (from its agent) is
//! over the broker's configured limit.

use super::signals::{agent_signal, AgentSignal};
use super::{DetectInput, Finding, FindingKind};

/// The rule this detector applies.
pub const RULE: &str = "overloaded = host net rx > in limit OR tx > out limit (agent figures)";

/// One finding per registered broker over a limit. Stale agent figures are not used.
pub fn detect(input: &DetectInput<'_>) -> Vec<Finding> {
    let mut out = Vec::new();
    for &id in input.view.brokers.keys() {
        let a = input.agents.get(&id);
        if agent_signal(a, input.mono_ms, input.agent_silence_ms) != AgentSignal::Fresh {
            continue;
        }
        let Some(a) = a else { continue };
        let (lin, lout) = input.limits.for_broker(id);
        let mut over = Vec::new();
        if let Some(rx) = a.net_rx_bytes_per_sec.filter(|&rx| rx > lin) {
            over.push(format!("in {rx} B/s > limit {lin} B/s"));
        }
        if let Some(tx) = a.net_tx_bytes_per_sec.filter(|&tx| tx > lout) {
            over.push(format!("out {tx} B/s > limit {lout} B/s"));
        }
        if !over.is_empty() {
            out.push(Finding {
                kind: FindingKind::Overloaded,
                broker: Some(id),
                topic: None,
                partitions: Vec::new(),
                evidence: format!("broker {id}: {}", over.join("; ")),
                rule: RULE,
            });
        }
    }
    out
}
