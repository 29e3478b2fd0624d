//! The executor's hook for the action log (DESIGN rule 8): [`Journal::intent`] is called BEFORE
//! each action and [`Journal::outcome`] after it. If `intent` fails (the producer was fenced, or
//! the log cannot be written) the executor takes no further action at all: that is the fence.
//!
//! The record here is the executor's minimal shape; the action log (`actionlog/`, helper E2)
//! adapts it into its own record type.

use std::future::Future;
use std::sync::Arc;

use serde::Serialize;

use crate::observe::TopicPartition;
use crate::policy::DecisionId;

/// What kind of action.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum ActionKind {
    /// Set the replication throttle (broker-default rates, topic throttled replicas).
    SetThrottle,
    /// Submit a batch of reassignments.
    SubmitReassignments,
    /// Cancel reassignments (kmedic's own only).
    CancelReassignments,
    /// Preferred-leader elections.
    ElectLeaders,
    /// Remove the throttle configs.
    ClearThrottle,
}

/// One action, as the journal records it.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct ActionRecord {
    /// Unique within this executor's process: `<plan id>-<sequence>`.
    pub action_id: String,
    /// The cluster id.
    pub cluster_id: String,
    /// The decision the plan answers (None for clean-ups not tied to one, like leftover
    /// throttles found at start).
    pub decision: Option<DecisionId>,
    /// What.
    pub kind: ActionKind,
    /// The partitions touched.
    pub partitions: Vec<TopicPartition>,
    /// The brokers touched (destinations, or throttled brokers).
    pub brokers: Vec<i32>,
    /// Why, in one sentence.
    pub reason: String,
    /// The figures (targets, rates, bytes), as JSON.
    pub detail: serde_json::Value,
}

/// How an action ended.
#[derive(Debug, Clone, PartialEq, Serialize)]
#[serde(tag = "outcome", rename_all = "snake_case")]
pub enum ActionOutcome {
    /// It did what it said.
    Ok,
    /// Part of it was refused: the partitions and errors.
    Partial {
        /// (partition, error) pairs.
        refused: Vec<(TopicPartition, String)>,
    },
    /// It failed.
    Failed {
        /// The error.
        error: String,
    },
}

/// The journal could not record: the executor stops acting.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum JournalError {
    /// Another master took over (the transactional producer was fenced).
    #[error("fenced: another master owns the action log")]
    Fenced,
    /// The record could not be written.
    #[error("action log write failed: {0}")]
    Write(String),
}

/// The intent/outcome hook.
pub trait Journal: Send + Sync {
    /// Records that `action` is about to be taken. An error means: do not take it, and take no
    /// further action.
    fn intent(
        &self,
        action: &ActionRecord,
    ) -> impl Future<Output = Result<(), JournalError>> + Send;
    /// Records how `action` ended. An error also stops the executor.
    fn outcome(
        &self,
        action: &ActionRecord,
        outcome: &ActionOutcome,
    ) -> impl Future<Output = Result<(), JournalError>> + Send;
}

/// Shared ownership.
impl<T: Journal> Journal for Arc<T> {
    fn intent(&self, a: &ActionRecord) -> impl Future<Output = Result<(), JournalError>> + Send {
        (**self).intent(a)
    }
    fn outcome(
        &self,
        a: &ActionRecord,
        o: &ActionOutcome,
    ) -> impl Future<Output = Result<(), JournalError>> + Send {
        (**self).outcome(a, o)
    }
}

/// A journal that only logs (until the action log is wired in, and for tests).
#[derive(Debug, Clone, Copy, Default)]
pub struct LogJournal;

impl Journal for LogJournal {
    async fn intent(&self, a: &ActionRecord) -> Result<(), JournalError> {
        tracing::info!(
            action = %a.action_id,
            cluster_id = %a.cluster_id,
            decision = a.decision.map(tracing::field::display),
            kind = ?a.kind,
            partitions = a.partitions.len(),
            brokers = %crate::text::list(&a.brokers),
            reason = %a.reason,
            detail = %a.detail,
            "action intent"
        );
        Ok(())
    }

    async fn outcome(&self, a: &ActionRecord, o: &ActionOutcome) -> Result<(), JournalError> {
        tracing::info!(action = %a.action_id, kind = ?a.kind, outcome = ?o, "action outcome");
        Ok(())
    }
}
