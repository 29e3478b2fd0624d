//! Detectors: one module per anomaly kind, each a pure function from a [`DetectInput`] (what
//! Kafka reports plus what the agents last said) to findings with their evidence.
//!
//! Broker-level detectors share one classification ([`signals`]): Kafka's signal (fenced, or
//! absent from DescribeCluster while hosting replicas) and the agent's signal (silent past a
//! threshold, or reporting the Kafka process gone). Per broker the checks run in priority order
//! and the first hit wins (dead, hung, suspect, no stats), as in pd's `ReplicaChecker.Check`, so
//! one broker never produces two contradicting findings.

pub mod clock_skew;
pub mod dead_broker;
pub mod duplicate_host;
pub mod headroom;
pub mod hung_broker;
pub mod leader_skew;
pub mod mass_failure;
pub mod no_stats;
pub mod offline;
pub mod overloaded;
pub mod rack_violation;
pub mod signals;
pub mod stale_registration;
pub mod suspect_broker;
pub mod under_replicated;

use std::collections::BTreeMap;

use serde::Serialize;

use crate::config::{IngestConfig, NetworkLimits};
use crate::model::AgentState;
use crate::observe::{ClusterView, TopicPartition};

/// What the detectors look at.
#[derive(Debug, Clone, Copy)]
pub struct DetectInput<'a> {
    /// The admin client's latest view.
    pub view: &'a ClusterView,
    /// The latest record from each broker's agent, by broker id.
    pub agents: &'a BTreeMap<i32, AgentState>,
    /// Now, in ms since the epoch (wall clock: for figures shown to people, never for timing).
    pub now_ms: u64,
    /// Now on the master's monotonic clock (`clock::mono_ms`): agent silence is measured on it.
    pub mono_ms: u64,
    /// Clock-skew and duplicate-host thresholds (the `[ingest]` config section).
    pub ingest: &'a IngestConfig,
    /// An agent silent for longer than this is the agent's "dead" signal.
    pub agent_silence_ms: u64,
    /// Per-broker network limits.
    pub limits: &'a NetworkLimits,
    /// The model's per-partition demand windows: Kafka's own per-broker load for the overload
    /// detector (`overloaded`); `None` judges on the agents' host NIC figures alone.
    pub windows: Option<&'a crate::model::window::Windows>,
    /// The replicas reassignments were adding at the last polls (`under_replicated`): one the
    /// reassignment list no longer shows but lagging metadata still shows catching up is not
    /// an unexplained URP. `None`: only the reassignments listed now count.
    pub recently_added: Option<&'a under_replicated::RecentAdds>,
    /// The partitions kmedic's executor is changing now (`leader_skew::changing_now`: every
    /// move of the plan it runs): between a zero-copy reorder and its election a partition's
    /// preferred leader is in sync but not leading yet, which is the plan's own step, not a
    /// finding. `None`: no plan running.
    pub changing: Option<&'a std::collections::BTreeSet<TopicPartition>>,
}

/// The kind of a finding.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize)]
#[non_exhaustive]
pub enum FindingKind {
    /// Kafka's signal and the agent's signal agree the broker is dead.
    DeadBroker,
    /// Only one signal says the broker is dead: alert, no moves.
    SuspectBroker,
    /// Registered and its agent alive, but the process is stopped or the probe fails.
    HungBroker,
    /// A registered broker whose agent never reported (or stopped sending full stats).
    NoStats,
    /// Under-replicated partitions whose missing replicas are all on confirmed-dead brokers.
    UnderReplicatedExplained,
    /// Under-replicated partitions not explained by confirmed-dead brokers: blocks healing.
    UnderReplicatedUnexplained,
    /// Partitions with no leader.
    OfflinePartitions,
    /// A broker's network in or out is over its limit.
    Overloaded,
    /// Partitions whose preferred leader is in sync but not leading.
    PreferredLeaderNotLeading,
    /// A topic's leaders are unevenly spread across racks.
    LeaderRackSkew,
    /// Partitions with two replicas in one rack although enough racks exist.
    RackViolation,
    /// A reporting agent's clock is off from the master's by more than
    /// `ingest.clock_skew_alert_secs` (alert only; see `clock_skew`).
    ClockSkew,
    /// Stats for one broker id from two hostnames close together: a cloned image with a
    /// duplicate id (alert only; see `duplicate_host`).
    DuplicateBrokerId,
    /// Registered and fenced, its agent silent or absent, and hosting nothing: shut down
    /// without being unregistered. Not a dead broker: alert only, and it does not block
    /// balance (see `stale_registration`).
    StaleRegistration,
    /// Too many brokers dead, suspect or hung at once (a whole rack, or more than the policy's
    /// per-rack count or share): an outage, not a broker failure. Raised by the policy from the
    /// broker findings (`mass_failure`), never by `run_all`.
    MassFailure,
    /// The loss of this (alive) broker could not be absorbed: the heal planner's what-if leaves
    /// replicas unplaceable for lack of capacity. Alert only, never a reason to move data;
    /// raised by the round from its headroom check (`headroom`), never by `run_all`.
    NoFailureHeadroom,
}

/// One finding, with the evidence a person needs to agree with it.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Finding {
    /// What was found.
    pub kind: FindingKind,
    /// The broker concerned, for broker-level findings.
    pub broker: Option<i32>,
    /// The topic concerned, for topic-level findings.
    pub topic: Option<String>,
    /// The partitions concerned (for a broker: the replicas it hosts).
    pub partitions: Vec<TopicPartition>,
    /// The figures behind it, readable (for example "fenced; agent silent 95 s > 60 s").
    pub evidence: String,
    /// The rule applied (for example "DESIGN.md rule 3: two signals agree").
    pub rule: &'static str,
}

impl Finding {
    fn broker(kind: FindingKind, id: i32, partitions: Vec<TopicPartition>) -> Self {
        Self {
            kind,
            broker: Some(id),
            topic: None,
            partitions,
            evidence: String::new(),
            rule: "",
        }
    }
}

/// Runs every detector. Broker-level findings come first, then partition and topic findings.
pub fn run_all(input: &DetectInput<'_>) -> Vec<Finding> {
    let health = signals::classify(input);
    let mut out = Vec::new();
    for h in health.values() {
        // Priority order, first hit wins.
        if let Some(f) = stale_registration::check(input, h)
            .or_else(|| dead_broker::check(input, h))
            .or_else(|| hung_broker::check(input, h))
            .or_else(|| suspect_broker::check(input, h))
            .or_else(|| no_stats::check(input, h))
        {
            out.push(f);
        }
    }
    out.extend(clock_skew::detect(input, &health));
    out.extend(duplicate_host::detect(input, &health));
    out.extend(overloaded::detect(input));
    out.extend(offline::detect(input));
    out.extend(under_replicated::detect(input, &health));
    out.extend(leader_skew::detect(input));
    out.extend(rack_violation::detect(input));
    out
}

/// Formats at most `max` partitions, then "and N more", for readable evidence.
pub fn list_partitions(ps: &[TopicPartition], max: usize) -> String {
    let mut s: Vec<String> = ps.iter().take(max).map(|p| p.to_string()).collect();
    if ps.len() > max {
        s.push(format!("and {} more", ps.len() - max));
    }
    s.join(", ")
}

#[cfg(test)]
mod safety_tests;
#[cfg(test)]
mod signals_tests;
#[cfg(test)]
pub(crate) mod tests;
