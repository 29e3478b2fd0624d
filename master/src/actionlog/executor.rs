//! The executor's journal hook (`execute::Journal`) backed by the action log: each executor
//! action becomes an intent record (written in a transaction before the action) and an outcome
//! record after it. A fenced log answers `JournalError::Fenced`, which stops the executor.

use std::sync::Arc;

use super::record::{ActionKind, ActionRecord, Outcome, OutcomeStatus, PartitionRef};
use super::Journal;
use crate::execute as exec;

/// Adapts an action-log [`Journal`] (the [`super::ActionLog`] in the service, a
/// [`super::MemoryJournal`] in tests) to the executor's hook.
#[derive(Clone)]
pub struct ExecutorJournal {
    log: Arc<dyn Journal>,
    master_id: String,
}

impl std::fmt::Debug for ExecutorJournal {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("ExecutorJournal")
            .field("master_id", &self.master_id)
            .field("fenced", &self.log.is_fenced())
            .finish()
    }
}

impl ExecutorJournal {
    /// Writes through `log`, naming this master `master_id` in records.
    pub fn new(log: Arc<dyn Journal>, master_id: impl Into<String>) -> Self {
        Self {
            log,
            master_id: master_id.into(),
        }
    }

    /// The action-log record for an executor action.
    pub fn to_record(&self, a: &exec::ActionRecord) -> ActionRecord {
        let d = &a.detail;
        let u64_at = |k: &str| d.get(k).and_then(serde_json::Value::as_u64).unwrap_or(0);
        let kind = match a.kind {
            exec::ActionKind::SetThrottle => ActionKind::SetThrottle {
                rate_bytes_per_sec: u64_at("rate_bytes_per_sec"),
            },
            exec::ActionKind::SubmitReassignments => ActionKind::Reassign {
                targets: d
                    .get("targets")
                    .and_then(|t| serde_json::from_value(t.clone()).ok())
                    .unwrap_or_default(),
                bytes: u64_at("bytes"),
            },
            exec::ActionKind::CancelReassignments => ActionKind::CancelReassign,
            exec::ActionKind::ElectLeaders => ActionKind::ElectLeaders,
            exec::ActionKind::ClearThrottle => ActionKind::ClearThrottle,
        };
        let mut r = ActionRecord::intent(
            &a.cluster_id,
            a.action_id.clone(),
            a.decision,
            kind,
            a.reason.clone(),
            &self.master_id,
        );
        r.partitions = a
            .partitions
            .iter()
            .map(|tp| PartitionRef {
                topic: tp.topic.clone(),
                partition: tp.partition,
            })
            .collect();
        r.brokers = a.brokers.clone();
        r.evidence = a.detail.clone();
        r
    }

    /// The outcome the action log records for an executor outcome.
    pub fn to_outcome(o: &exec::ActionOutcome) -> Outcome {
        match o {
            exec::ActionOutcome::Ok => Outcome {
                status: OutcomeStatus::Succeeded,
                detail: String::new(),
                command: None,
            },
            exec::ActionOutcome::Partial { refused } => Outcome {
                status: OutcomeStatus::Partial,
                detail: refused
                    .iter()
                    .map(|(tp, e)| format!("{tp}: {e}"))
                    .collect::<Vec<_>>()
                    .join("; "),
                command: None,
            },
            exec::ActionOutcome::Failed { error } => Outcome {
                status: OutcomeStatus::Failed,
                detail: error.clone(),
                command: None,
            },
        }
    }
}

fn map_err(e: super::Error) -> exec::JournalError {
    if e.is_fenced() {
        exec::JournalError::Fenced
    } else {
        exec::JournalError::Write(e.to_string())
    }
}

impl exec::Journal for ExecutorJournal {
    async fn intent(&self, a: &exec::ActionRecord) -> Result<(), exec::JournalError> {
        let rec = self.to_record(a);
        self.log.record(&rec).await.map_err(map_err)
    }

    async fn outcome(
        &self,
        a: &exec::ActionRecord,
        o: &exec::ActionOutcome,
    ) -> Result<(), exec::JournalError> {
        let rec = self.to_record(a).outcome_of(Self::to_outcome(o));
        self.log.record(&rec).await.map_err(map_err)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::actionlog::{restore, MemoryJournal, Phase};
    use crate::execute::Journal as _;
    use crate::observe::TopicPartition;
    use crate::policy::DecisionId;

    fn action() -> exec::ActionRecord {
        exec::ActionRecord {
            action_id: "p1-0".into(),
            cluster_id: "c".into(),
            decision: Some(DecisionId(3)),
            kind: exec::ActionKind::SubmitReassignments,
            partitions: vec![TopicPartition {
                topic: "t".into(),
                partition: 2,
            }],
            brokers: vec![4, 5],
            reason: "heal broker 1".into(),
            detail: serde_json::json!({"targets": [[4, 5, 6]], "bytes": 99}),
        }
    }

    #[tokio::test]
    async fn intent_and_outcome_reach_the_log_and_replay_sees_no_in_flight() {
        let mem = Arc::new(MemoryJournal::default());
        let j = ExecutorJournal::new(mem.clone(), "m");
        j.intent(&action()).await.unwrap();
        let recs = mem.records();
        assert_eq!(recs[0].phase, Phase::Intent);
        assert_eq!(
            recs[0].kind,
            ActionKind::Reassign {
                targets: vec![vec![4, 5, 6]],
                bytes: 99
            }
        );
        assert_eq!(recs[0].decision_id, Some(3));
        assert_eq!(recs[0].partitions[0].partition, 2);
        assert_eq!(restore(mem.records()).cluster("c").in_flight.len(), 1);
        j.outcome(&action(), &exec::ActionOutcome::Ok)
            .await
            .unwrap();
        assert!(restore(mem.records()).cluster("c").in_flight.is_empty());
    }

    #[tokio::test]
    async fn a_fenced_log_fences_the_executor() {
        let mem = Arc::new(MemoryJournal::default());
        mem.fence();
        let j = ExecutorJournal::new(mem, "m");
        assert_eq!(
            j.intent(&action()).await.unwrap_err(),
            exec::JournalError::Fenced
        );
    }
}
