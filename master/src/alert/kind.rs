//! What an alert is: a typed kind, a severity, and a key that de-duplicates it.

use serde::Serialize;

/// Every alert kind kmedic raises (issue 8 item 5).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum AlertKind {
    /// A heal cannot place some replicas (no healthy target in the rack).
    HealImpossible,
    /// Under-replicated partitions not explained by confirmed-dead brokers.
    UnexplainedUrps,
    /// One signal says a broker is dead (or it is hung): no moves until both agree.
    SuspectBroker,
    /// Too many brokers failed at once: an outage; nothing moves.
    MassFailure,
    /// Under-replicated partitions for longer than expected.
    ProlongedUrps,
    /// A move is progressing slower than planned.
    SlowMove,
    /// A move made no byte progress for too long.
    StuckMove,
    /// The replacement rate limit held back a needed replacement.
    ReplacementHeldBack,
    /// A replacement command failed or timed out.
    ReplacementFailed,
    /// This master's action-log producer was fenced: it no longer acts.
    FencedMaster,
    /// The action log cannot be opened, read back or written: the master observes only.
    ActionLogUnavailable,
}

impl AlertKind {
    /// The stable snake_case name (as serialized).
    pub fn name(self) -> &'static str {
        match self {
            AlertKind::HealImpossible => "heal_impossible",
            AlertKind::UnexplainedUrps => "unexplained_urps",
            AlertKind::SuspectBroker => "suspect_broker",
            AlertKind::MassFailure => "mass_failure",
            AlertKind::ProlongedUrps => "prolonged_urps",
            AlertKind::SlowMove => "slow_move",
            AlertKind::StuckMove => "stuck_move",
            AlertKind::ReplacementHeldBack => "replacement_held_back",
            AlertKind::ReplacementFailed => "replacement_failed",
            AlertKind::FencedMaster => "fenced_master",
            AlertKind::ActionLogUnavailable => "action_log_unavailable",
        }
    }

    /// The default severity.
    pub fn severity(self) -> Severity {
        match self {
            AlertKind::MassFailure
            | AlertKind::HealImpossible
            | AlertKind::FencedMaster
            | AlertKind::ActionLogUnavailable => Severity::Critical,
            AlertKind::ReplacementFailed | AlertKind::StuckMove | AlertKind::ProlongedUrps => {
                Severity::Error
            }
            AlertKind::UnexplainedUrps
            | AlertKind::SuspectBroker
            | AlertKind::SlowMove
            | AlertKind::ReplacementHeldBack => Severity::Warning,
        }
    }
}

impl std::fmt::Display for AlertKind {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(self.name())
    }
}

/// How loud (PagerDuty's four levels).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum Severity {
    /// For information.
    Info,
    /// Look at it soon.
    Warning,
    /// Something failed.
    Error,
    /// Wake someone.
    Critical,
}

impl Severity {
    /// The snake_case name.
    pub fn name(self) -> &'static str {
        match self {
            Severity::Info => "info",
            Severity::Warning => "warning",
            Severity::Error => "error",
            Severity::Critical => "critical",
        }
    }
}

/// One alert.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct Alert {
    /// The kind.
    pub kind: AlertKind,
    /// How loud.
    pub severity: Severity,
    /// The cluster's name (or id).
    pub cluster: String,
    /// What it is about, e.g. `broker 3` or `orders-7`; part of the key.
    pub subject: String,
    /// One sentence a person reads.
    pub summary: String,
    /// The evidence (figures, ids).
    pub details: serde_json::Value,
}

impl Alert {
    /// A new alert with the kind's default severity and no details.
    pub fn new(
        kind: AlertKind,
        cluster: impl Into<String>,
        subject: impl Into<String>,
        summary: impl Into<String>,
    ) -> Self {
        Self {
            kind,
            severity: kind.severity(),
            cluster: cluster.into(),
            subject: subject.into(),
            summary: summary.into(),
            details: serde_json::Value::Null,
        }
    }

    /// The de-duplication key: `kmedic/<cluster>/<kind>/<subject>` (PagerDuty's `dedup_key`).
    pub fn key(&self) -> String {
        format!("kmedic/{}/{}/{}", self.cluster, self.kind, self.subject)
    }
}

impl Alert {
    /// The alert for a fenced master: another master with the same transactional id took over,
    /// and this one no longer acts (raise it once, with `Alerter::event`).
    pub fn fenced_master(cluster: &str, master_id: &str, transactional_id: &str) -> Self {
        let mut a = Alert::new(
            AlertKind::FencedMaster,
            cluster,
            format!("master {master_id}"),
            format!(
                "master {master_id} was fenced: another master with action_log.transactional_id \
                 {transactional_id:?} took over; this one takes no further action"
            ),
        );
        a.details =
            serde_json::json!({ "master_id": master_id, "transactional_id": transactional_id });
        a
    }
}
