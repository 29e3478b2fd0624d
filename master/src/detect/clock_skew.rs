//! Clock skew: a reporting agent whose clock is off from the master's by more than
//! `ingest.clock_skew_alert_secs`. Alert only: the agent's timestamps decide nothing (silence
//! is on the master's monotonic clock), but a skewed host skews its own logs and Kafka's
//! CreateTime timestamps, and further drift gets its records refused.

use std::collections::BTreeMap;

use super::signals::{AgentSignal, BrokerHealth};
use super::{DetectInput, Finding, FindingKind};

/// The rule this detector applies.
pub const RULE: &str = "clock skew = a reporting agent's clock is off from the master's by more \
                        than ingest.clock_skew_alert_secs";

/// One finding per fresh agent (of a broker metadata knows) whose skew is over the threshold.
pub fn detect(input: &DetectInput<'_>, health: &BTreeMap<i32, BrokerHealth>) -> Vec<Finding> {
    let limit_ms = input.ingest.clock_skew_alert_secs.saturating_mul(1000);
    health
        .values()
        .filter(|h| matches!(h.agent, AgentSignal::Fresh | AgentSignal::ProcessGone))
        .filter_map(|h| {
            let a = input.agents.get(&h.id)?;
            if a.clock_skew_ms.unsigned_abs() <= limit_ms {
                return None;
            }
            let mut f = Finding::broker(FindingKind::ClockSkew, h.id, Vec::new());
            f.evidence = format!(
                "broker {} ({}): agent clock {} by {:.1} s > {} s; fix NTP on that host",
                h.id,
                a.hostname,
                if a.clock_skew_ms > 0 {
                    "ahead"
                } else {
                    "behind"
                },
                a.clock_skew_ms.unsigned_abs() as f64 / 1000.0,
                input.ingest.clock_skew_alert_secs
            );
            f.rule = RULE;
            Some(f)
        })
        .collect()
}
