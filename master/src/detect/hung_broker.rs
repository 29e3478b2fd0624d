//! Hung broker: its agent is alive and reporting, but the Kafka process is stopped (SIGSTOP, a
//! stuck JVM) or the agent's ApiVersions probe to it fails.

use kmedic_common::stats::ProcessState;

use super::signals::{AgentSignal, BrokerHealth};
use super::{DetectInput, Finding, FindingKind};

/// The rule this detector applies.
pub const RULE: &str = "hung = agent reporting AND (process stopped OR local probe failing)";

/// A finding if `h` looks hung.
pub fn check(input: &DetectInput<'_>, h: &BrokerHealth) -> Option<Finding> {
    // Registered (fenced or not): a broker Kafka no longer lists is judged by the dead and
    // suspect rules instead.
    if h.agent != AgentSignal::Fresh || !input.view.brokers.contains_key(&h.id) {
        return None;
    }
    let a = input.agents.get(&h.id)?;
    let why = match (&a.process, &a.probe) {
        (ProcessState::Stopped, _) => "the Kafka process is stopped (state T)".to_string(),
        (_, Some(Err(e))) => format!("the local ApiVersions probe fails: {e}"),
        _ => return None,
    };
    let mut f = Finding::broker(FindingKind::HungBroker, h.id, h.hosted.clone());
    f.evidence = format!("broker {}: {why}; {}", h.id, h.describe());
    f.rule = RULE;
    Some(f)
}
