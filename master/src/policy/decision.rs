//! The shape of a decision: what the policy concluded about a finding, the typed rule it
//! applied, and an id the round, the status board, the planner's output and (later) the
//! executor and the action log refer to.
//!
//! A decision keeps its id while the same finding gets the same verdict under the same rule
//! about the same brokers round after round (a heal requested every round until it is carried
//! out is one decision, not one per poll); the id changes when the verdict, the rule or the
//! brokers change, or when the finding clears and comes back. Ids increase per cluster policy and are never reused within a run.

use std::fmt;

use serde::{Serialize, Serializer};

use crate::detect::FindingKind;
use crate::plan::Request;

/// A decision's id: increasing per cluster policy, stable while the decision is unchanged.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize)]
#[serde(transparent)]
pub struct DecisionId(pub u64);

impl fmt::Display for DecisionId {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "d{}", self.0)
    }
}

/// Something the master would do.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
#[non_exhaustive]
pub enum Action {
    /// Ask the planner for a plan, and execute it.
    Plan(Request),
    /// Call the replacement script for this broker's host.
    ReplaceHost {
        /// The broker whose host is replaced.
        broker: i32,
    },
}

/// What was decided about one finding.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub enum Verdict {
    /// Tell a person (first time past the alert grace).
    Alert,
    /// Act.
    Act(Action),
    /// Would act, but dry-run is on.
    DryRun(Action),
    /// Do nothing now; the reason says why.
    Hold,
}

impl fmt::Display for Action {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Action::Plan(r) => r.fmt(f),
            Action::ReplaceHost { broker } => write!(f, "replace the host of broker {broker}"),
        }
    }
}

/// How a decision log line and an operator read it: `act heal dead brokers 2`, `dry-run
/// replace the host of broker 3`, `alert`, `hold`.
impl fmt::Display for Verdict {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Verdict::Alert => f.write_str("alert"),
            Verdict::Act(a) => write!(f, "act {a}"),
            Verdict::DryRun(a) => write!(f, "dry-run {a}"),
            Verdict::Hold => f.write_str("hold"),
        }
    }
}

impl Verdict {
    /// The action, for `Act` and `DryRun`.
    pub fn action(&self) -> Option<&Action> {
        match self {
            Verdict::Act(a) | Verdict::DryRun(a) => Some(a),
            Verdict::Alert | Verdict::Hold => None,
        }
    }
}

/// A rule the policy applies. Serialized as its stable snake_case [`Rule::name`]; `Display` is
/// the sentence an operator reads ([`Rule::sentence`]).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
#[non_exhaustive]
pub enum Rule {
    /// Balance and leader moves wait for a stable cluster.
    Stable,
    /// Alert once a finding has lasted `alert_grace_secs`.
    Alert,
    /// Heal only after `heal_grace_secs`.
    HealGrace,
    /// The confidence gate (DESIGN.md rule 4).
    Gate,
    /// Maintenance mode: alert only.
    Maintenance,
    /// Dry-run: decide and log, never execute.
    DryRun,
    /// Confirmed dead past the heal grace, gate open: heal.
    Heal,
    /// Confirmed dead past `replace_grace_secs`: replace the host.
    Replace,
    /// One signal only: alert, no moves (DESIGN.md rule 3).
    OneSignal,
    /// No automatic action for this kind of finding.
    AlertOnly,
    /// Act on load or skew only once it has lasted.
    Sustained,
    /// Too many brokers failed at once: an outage, no data moves (DESIGN.md rule 6).
    MassFailure,
    /// The operator overrode the mass-failure hold (`policy.mass_failure_override`).
    MassFailureOverride,
    /// A host holding the only in-sync copy of a partition is never replaced (DESIGN.md rule 7).
    LastCopy,
    /// A broker the operator is decommissioning (or has) is healed but never replaced.
    Decommissioning,
}

impl Rule {
    /// Every rule, for docs and tests.
    pub const ALL: [Rule; 15] = [
        Rule::Stable,
        Rule::Alert,
        Rule::HealGrace,
        Rule::Gate,
        Rule::Maintenance,
        Rule::DryRun,
        Rule::Heal,
        Rule::Replace,
        Rule::OneSignal,
        Rule::AlertOnly,
        Rule::Sustained,
        Rule::MassFailure,
        Rule::MassFailureOverride,
        Rule::LastCopy,
        Rule::Decommissioning,
    ];

    /// The stable machine name (snake_case), as serialized.
    pub fn name(self) -> &'static str {
        match self {
            Rule::Stable => "stable",
            Rule::Alert => "alert",
            Rule::HealGrace => "heal_grace",
            Rule::Gate => "gate",
            Rule::Maintenance => "maintenance",
            Rule::DryRun => "dry_run",
            Rule::Heal => "heal",
            Rule::Replace => "replace",
            Rule::OneSignal => "one_signal",
            Rule::AlertOnly => "alert_only",
            Rule::Sustained => "sustained",
            Rule::MassFailure => "mass_failure",
            Rule::MassFailureOverride => "mass_failure_override",
            Rule::LastCopy => "last_copy",
            Rule::Decommissioning => "decommissioning",
        }
    }

    /// The rule as a sentence an operator reads.
    pub fn sentence(self) -> &'static str {
        match self {
            Rule::Stable => {
                "balance and leader moves only on a stable cluster (no dead, suspect or hung \
                 broker, no URP)"
            }
            Rule::Alert => "alert once a finding has lasted alert_grace_secs",
            Rule::HealGrace => "heal only after heal_grace_secs (restart vs failure, rule 5)",
            Rule::Gate => {
                "heal only when every URP is explained by confirmed-dead brokers or by replicas \
                 a reassignment is adding (rule 4)"
            }
            Rule::Maintenance => "maintenance mode: alert only",
            Rule::DryRun => "dry-run: decide and log, never execute",
            Rule::Heal => "confirmed dead past heal grace, gate open: heal",
            Rule::Replace => "confirmed dead past replace_grace_secs: replace the host",
            Rule::OneSignal => "one signal only: alert, no moves (rule 3)",
            Rule::AlertOnly => "alerted only: no automatic action for this kind",
            Rule::Sustained => "act on load or skew only after it lasts heal_grace_secs",
            Rule::MassFailure => {
                "mass failure (a whole rack, or more brokers than mass_failure_max_per_rack / \
                 mass_failure_max_percent) is an outage: no data moves until the count drops or \
                 an operator sets mass_failure_override (rule 6)"
            }
            Rule::MassFailureOverride => {
                "mass failure overridden by the operator (mass_failure_override = true): \
                 healing as for single failures"
            }
            Rule::LastCopy => {
                "never replace a host that holds the only in-sync copy of a partition (rule 7)"
            }
            Rule::Decommissioning => {
                "a broker being decommissioned is healed if it dies, never replaced: the \
                 operator is removing it"
            }
        }
    }
}

impl fmt::Display for Rule {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.sentence())
    }
}

impl Serialize for Rule {
    fn serialize<S: Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        s.serialize_str(self.name())
    }
}

/// One decision, with its id, rule and reason.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Decision {
    /// Stable while the same finding gets the same verdict under the same rule about the same
    /// brokers.
    pub id: DecisionId,
    /// The verdict.
    pub verdict: Verdict,
    /// The kind of finding it is about.
    pub finding: FindingKind,
    /// The broker, for broker findings.
    pub broker: Option<i32>,
    /// Every broker the decision is about (the broker of a broker finding, the dead brokers of
    /// a heal, the failed brokers of a mass failure); empty for topic and partition findings.
    pub brokers: Vec<i32>,
    /// The topic, for topic findings.
    pub topic: Option<String>,
    /// How many partitions (or replicas, for a heal) the decision covers.
    pub partitions: usize,
    /// Why, with figures.
    pub reason: String,
    /// The rule applied.
    pub rule: Rule,
}

impl Decision {
    /// The planner request this decision asks for (`Act` or `DryRun` of a plan), if any.
    pub fn request(&self) -> Option<&Request> {
        match self.verdict.action() {
            Some(Action::Plan(r)) => Some(r),
            _ => None,
        }
    }
}

/// The planner requests a round's decisions ask for, in order, each once: the round plans them
/// together (heal first, then balance, then leader elections; see `plan::plan_round`).
pub fn requests(decisions: &[Decision]) -> Vec<Request> {
    let mut out: Vec<Request> = Vec::new();
    for r in decisions.iter().filter_map(Decision::request) {
        if !out.contains(r) {
            out.push(r.clone());
        }
    }
    out
}

#[cfg(test)]
mod display_tests {
    use super::*;

    #[test]
    fn verdicts_read_as_sentences_not_debug() {
        let heal = Verdict::Act(Action::Plan(Request::Heal { dead: vec![2] }));
        assert_eq!(heal.to_string(), "act heal dead brokers 2");
        let relieve = Verdict::Act(Action::Plan(Request::Relieve {
            brokers: vec![3, 6],
        }));
        assert_eq!(relieve.to_string(), "act relieve overloaded brokers 3, 6");
        let drain = Action::Plan(Request::Decommission { brokers: vec![4] });
        assert_eq!(drain.to_string(), "decommission brokers 4");
        let replace = Verdict::DryRun(Action::ReplaceHost { broker: 3 });
        assert_eq!(replace.to_string(), "dry-run replace the host of broker 3");
        assert_eq!(Verdict::Hold.to_string(), "hold");
        assert_eq!(Verdict::Alert.to_string(), "alert");
        let balance = Verdict::Act(Action::Plan(Request::Balance));
        assert!(!balance.to_string().contains('('), "{balance}");
    }
}
