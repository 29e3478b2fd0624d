//! Elections: the executor's last step before the throttle is cleared, each checked on fresh
//! state, and named by what it is for (the plan's reason), not as a preferred-leader repair.

use tracing::{info, warn};

use super::journal::{ActionKind, ActionOutcome, Journal};
use super::ops::ClusterOps;
use super::run::Run;
use super::status::Status;
use super::{ExecError, ExecPlan, Executor};
use crate::observe::TopicPartition;
use crate::plan::ElectionReason;

/// What an election is for, as the log line and the action record say it ("leaders elected
/// to ..."): Kafka elects the first replica in every case, but a spread or a relief is not a
/// preferred-leader repair and must not read as one.
pub(super) fn purpose(reason: &ElectionReason) -> &'static str {
    match reason {
        ElectionReason::Balance { .. } => "move leadership off overloaded brokers",
        ElectionReason::SpreadLeaders { .. } => "spread topics' leaders across racks",
        ElectionReason::LeaderCount { .. } | ElectionReason::LeaderChain { .. } => {
            "balance leader counts"
        }
        ElectionReason::Preferred { .. } => "restore preferred leaders",
    }
}

impl ExecPlan {
    /// Whether any move adds a replica (copies bytes). A plan of reorders and elections
    /// copies nothing and sets no throttle.
    pub fn copies(&self) -> bool {
        self.moves.iter().any(|m| !m.adding.is_empty())
    }

    /// The throttle a plan's start line shows: `rate`, or none for a plan that copies nothing
    /// (no throttle is set for it).
    pub fn throttle_shown(&self, rate: u64) -> Option<u64> {
        self.copies().then_some(rate)
    }
}

impl<O: ClusterOps, J: Journal> Executor<O, J> {
    /// The plan's elections, each checked on fresh state (Kafka elects the first replica: a
    /// reorder move of the plan put the wanted leader there first).
    pub(super) async fn elect(&mut self, plan: &ExecPlan, run: &mut Run) -> Result<(), ExecError> {
        if plan.elections.is_empty() || *self.cancel.borrow() {
            return Ok(());
        }
        let fresh = match self.ops.fresh().await {
            Ok(f) => f,
            Err(e) => {
                warn!(plan = %plan.plan_id, error = %e, "could not read the cluster; elections skipped");
                return Ok(());
            }
        };
        let mut todo = Vec::new();
        let mut purposes = Vec::new();
        for (tp, leader, after_reorder, why) in &plan.elections {
            let reorder_done = !after_reorder
                || plan
                    .moves
                    .iter()
                    .any(|m| &m.tp == tp && m.status == Status::Done);
            let p = fresh.partitions.get(tp);
            let why_not = match p {
                _ if !reorder_done => Some("its reorder move did not complete".to_string()),
                None => Some("the partition no longer exists".into()),
                Some(p) if p.leader == Some(*leader) => {
                    run.elections_done += 1;
                    None
                }
                Some(p) if p.replicas.first() != Some(leader) => Some(format!(
                    "broker {leader} is not the preferred replica of {:?}",
                    p.replicas
                )),
                Some(p) if !p.isr.contains(leader) || !fresh.live.contains(leader) => {
                    Some(format!("broker {leader} is not alive and in sync"))
                }
                Some(_) => {
                    todo.push(tp.clone());
                    if !purposes.contains(why) {
                        purposes.push(*why);
                    }
                    None
                }
            };
            if let Some(why) = why_not {
                warn!(plan = %plan.plan_id, partition = %tp, leader, %why, "election skipped");
            }
        }
        if todo.is_empty() {
            return Ok(());
        }
        let rec = self.record(
            plan,
            ActionKind::ElectLeaders,
            todo.clone(),
            Vec::new(),
            format!(
                "elect the leaders of {} to {}",
                crate::text::count(todo.len(), "partition", "partitions"),
                purposes.join(" and ")
            ),
            serde_json::Value::Null,
        );
        self.journal.intent(&rec).await?;
        let parts: Vec<(String, i32)> = todo
            .iter()
            .map(|t| (t.topic.clone(), t.partition))
            .collect();
        let outcome = match self.ops.elect_preferred(&parts).await {
            Ok(results) => {
                let mut refused = Vec::new();
                for r in results {
                    match r.result {
                        Ok(_) => run.elections_done += 1,
                        Err(e) => refused.push((
                            TopicPartition {
                                topic: r.topic,
                                partition: r.partition,
                            },
                            e.to_string(),
                        )),
                    }
                }
                info!(plan = %plan.plan_id, elected = todo.len() - refused.len(), refused = refused.len(), "leaders elected to {}", purposes.join(" and "));
                if refused.is_empty() {
                    ActionOutcome::Ok
                } else {
                    ActionOutcome::Partial { refused }
                }
            }
            Err(e) => {
                warn!(plan = %plan.plan_id, error = %e, "elections failed");
                ActionOutcome::Failed {
                    error: e.to_string(),
                }
            }
        };
        self.journal.outcome(&rec, &outcome).await?;
        Ok(())
    }
}

#[cfg(test)]
#[path = "elect_tests.rs"]
mod tests;
