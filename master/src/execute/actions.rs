//! The executor's actions (submit, cancel, elect, clear the throttle) and measurements
//! (sizes, progress), each action between a journal intent and outcome.

use std::collections::{BTreeMap, BTreeSet};

use kmedic_common::admin::ResponseError;
use tracing::{debug, info, warn};

use super::batch::{self, Candidate, Load};
use super::journal::{ActionKind, ActionOutcome, ActionRecord, Journal};
use super::ops::{ClusterOps, Fresh, SIZES_TIMEOUT};
use super::progress::{self, PlanProgress};
use super::run::{set, Run};
use super::status::{CancelReason, Status};
use super::throttle::{self, Leftovers};
use super::track::Tracked;
use super::{ExecError, ExecPlan, Executor};
use crate::observe::TopicPartition;

impl<O: ClusterOps, J: Journal> Executor<O, J> {
    /// Admits what fits the limits and submits it as one batch. A move that copies less than
    /// one poll's worth at the throttle in force holds no per-broker slot (see `batch`), and
    /// a dead broker (a heal's source of every move) is not counted: it does no work.
    pub(super) async fn submit(
        &mut self,
        plan: &mut ExecPlan,
        fresh: &Fresh,
        pending: Vec<usize>,
        run: &mut Run,
    ) -> Result<(), ExecError> {
        let rate = run.rate.unwrap_or(self.cfg.throttle_bytes_per_sec);
        let mut load = Load::new(batch::one_poll_bytes(rate, &self.cfg));
        let working = |m: &Tracked| -> Vec<i32> {
            let mut b = m.brokers();
            b.retain(|b| fresh.live.contains(b));
            b
        };
        for m in plan.moves.iter().filter(|m| m.status == Status::Running) {
            load.add(&Candidate {
                brokers: working(m),
                bytes: m.total_bytes.saturating_sub(m.copied_bytes),
            });
        }
        let cands: Vec<Candidate> = pending
            .iter()
            .map(|&i| Candidate {
                brokers: working(&plan.moves[i]),
                bytes: plan.moves[i].planned_bytes,
            })
            .collect();
        let admitted: Vec<usize> = batch::admit(&cands, &mut load, &self.cfg)
            .into_iter()
            .map(|k| pending[k])
            .collect();
        if admitted.is_empty() {
            return Ok(());
        }
        let timeout = batch::timeout_secs(load.bytes, &self.cfg);
        let moves: Vec<(String, i32, Vec<i32>)> = admitted
            .iter()
            .map(|&i| {
                (
                    plan.moves[i].tp.topic.clone(),
                    plan.moves[i].tp.partition,
                    plan.moves[i].new.clone(),
                )
            })
            .collect();
        let brokers: BTreeSet<i32> = admitted
            .iter()
            .flat_map(|&i| plan.moves[i].adding.clone())
            .collect();
        let bytes: u64 = admitted.iter().map(|&i| plan.moves[i].planned_bytes).sum();
        let detail: Vec<serde_json::Value> = admitted
            .iter()
            .map(|&i| {
                let m = &plan.moves[i];
                serde_json::json!({"partition": m.tp.to_string(), "old": m.old, "new": m.new, "bytes": m.planned_bytes})
            })
            .collect();
        let rec = self.record(
            plan,
            ActionKind::SubmitReassignments,
            admitted.iter().map(|&i| plan.moves[i].tp.clone()).collect(),
            brokers.iter().copied().collect(),
            format!(
                "{}, {bytes} B, timeout {timeout} s",
                crate::text::count(admitted.len(), "move", "moves")
            ),
            serde_json::json!({
                "moves": detail,
                "targets": moves.iter().map(|(_, _, r)| r).collect::<Vec<_>>(),
                "bytes": bytes,
                "timeout_secs": timeout,
            }),
        );
        self.journal.intent(&rec).await?;
        let now = run.now_ms();
        let outcome = match self.ops.submit(&moves).await {
            Ok(results) => {
                let mut refused = Vec::new();
                for r in results {
                    let Some(m) = plan
                        .moves
                        .iter_mut()
                        .find(|m| m.tp.topic == r.topic && m.tp.partition == r.partition)
                    else {
                        continue;
                    };
                    m.submitted = true;
                    match r.result {
                        Ok(()) => {
                            set(m, Status::Running);
                            m.started_ms = now;
                            m.progress_ms = now;
                            m.timeout_secs = timeout;
                        }
                        Err(e) => {
                            refused.push((m.tp.clone(), e.to_string()));
                            Self::cancelled(
                                m,
                                CancelReason::Refused {
                                    error: e.to_string(),
                                },
                                run,
                            );
                        }
                    }
                }
                info!(plan = %plan.plan_id, moves = admitted.len(), refused = refused.len(), bytes, timeout_secs = timeout, brokers = %crate::text::list(&brokers), "reassignments submitted");
                if refused.is_empty() {
                    ActionOutcome::Ok
                } else {
                    ActionOutcome::Partial { refused }
                }
            }
            Err(e) => {
                // The answer was lost or refused as a whole: it may have been applied. The
                // next poll adopts a reassignment to exactly this target, or submits again.
                for &i in &admitted {
                    plan.moves[i].submitted = true;
                }
                warn!(plan = %plan.plan_id, error = %e, "submitting reassignments failed; checking again next poll");
                ActionOutcome::Failed {
                    error: e.to_string(),
                }
            }
        };
        self.journal.outcome(&rec, &outcome).await?;
        Ok(())
    }

    /// Kafka's cancel brings a partition's old replica set back, but not its order (the
    /// adding replicas are dropped from target + removing), so the preferred leader can change.
    /// Once fresh state shows the old set in another order, a zero-copy reorder to the old
    /// list restores it. A partition that changed otherwise is left alone; one that stays
    /// unsettled for 10 polls is given up (logged).
    pub(super) async fn restore_order(
        &mut self,
        plan: &ExecPlan,
        fresh: &Fresh,
        run: &mut Run,
    ) -> Result<(), ExecError> {
        let sorted = |v: &[i32]| {
            let mut v = v.to_vec();
            v.sort_unstable();
            v
        };
        let mut todo = Vec::new();
        let mut keep = Vec::new();
        for (i, waited) in std::mem::take(&mut run.restore) {
            let m = &plan.moves[i];
            let settled = !fresh.reassigning.contains_key(&m.tp);
            match fresh.partitions.get(&m.tp) {
                Some(p) if settled && p.replicas == m.old => {}
                Some(p) if settled && sorted(&p.replicas) == sorted(&m.old) => todo.push(i),
                Some(_) if waited < 10 => keep.push((i, waited + 1)),
                found => {
                    let found = found.map(|p| p.replicas.clone());
                    warn!(plan = %plan.plan_id, partition = %m.tp, old = ?m.old, ?found, "replica order after the cancel not restored: the partition did not settle on its old replicas");
                }
            }
        }
        run.restore = keep;
        if todo.is_empty() {
            return Ok(());
        }
        let moves: Vec<(String, i32, Vec<i32>)> = todo
            .iter()
            .map(|&i| {
                let m = &plan.moves[i];
                (m.tp.topic.clone(), m.tp.partition, m.old.clone())
            })
            .collect();
        let rec = self.record(
            plan,
            ActionKind::SubmitReassignments,
            todo.iter().map(|&i| plan.moves[i].tp.clone()).collect(),
            Vec::new(),
            format!(
                "restore the replica order (preferred leader) of {} cancelled moves; copies nothing",
                todo.len()
            ),
            serde_json::json!({
                "targets": moves.iter().map(|(_, _, r)| r).collect::<Vec<_>>(),
                "bytes": 0,
                "reorder": true,
            }),
        );
        self.journal.intent(&rec).await?;
        let outcome = match self.ops.submit(&moves).await {
            Ok(results) => {
                let refused: Vec<(TopicPartition, String)> = results
                    .into_iter()
                    .filter_map(|r| {
                        r.result.err().map(|e| {
                            (
                                TopicPartition {
                                    topic: r.topic,
                                    partition: r.partition,
                                },
                                e.to_string(),
                            )
                        })
                    })
                    .collect();
                info!(plan = %plan.plan_id, partitions = todo.len(), refused = refused.len(), "replica order restored after cancel");
                if refused.is_empty() {
                    ActionOutcome::Ok
                } else {
                    ActionOutcome::Partial { refused }
                }
            }
            Err(e) => {
                warn!(plan = %plan.plan_id, error = %e, "restoring the replica order failed");
                ActionOutcome::Failed {
                    error: e.to_string(),
                }
            }
        };
        self.journal.outcome(&rec, &outcome).await?;
        Ok(())
    }

    /// Re-applies the broker-default rates at `wanted` (adaptive throttle); returns the rate
    /// in force afterwards.
    pub(super) async fn change_rate(
        &mut self,
        plan: &ExecPlan,
        current: u64,
        wanted: u64,
        why: String,
    ) -> Result<u64, ExecError> {
        let rec = self.record(
            plan,
            ActionKind::SetThrottle,
            Vec::new(),
            Vec::new(),
            format!("adapt the replication throttle from {current} to {wanted} B/s: {why}"),
            serde_json::json!({ "rate_bytes_per_sec": wanted, "previous_bytes_per_sec": current, "adaptive": true, "why": why }),
        );
        self.journal.intent(&rec).await?;
        let r = wanted.to_string();
        let ops = [
            kmedic_common::admin::ConfigOp::Set(throttle::LEADER_RATE.into(), r.clone()),
            kmedic_common::admin::ConfigOp::Set(throttle::FOLLOWER_RATE.into(), r),
        ];
        let (outcome, now) = match self
            .ops
            .alter_configs(&kmedic_common::admin::ConfigResource::BrokerDefault, &ops)
            .await
        {
            Ok(()) => {
                info!(plan = %plan.plan_id, from = current, to = wanted, %why, "throttle rate adapted");
                (ActionOutcome::Ok, wanted)
            }
            Err(e) => {
                warn!(plan = %plan.plan_id, error = %e, from = current, to = wanted, %why, "could not adapt the throttle rate");
                (
                    ActionOutcome::Failed {
                        error: e.to_string(),
                    },
                    current,
                )
            }
        };
        self.journal.outcome(&rec, &outcome).await?;
        Ok(now)
    }

    /// Cancels kmedic's own running reassignments of `items` (and only those partitions).
    pub(super) async fn cancel_moves(
        &mut self,
        plan: &mut ExecPlan,
        items: Vec<(usize, CancelReason)>,
        run: &mut Run,
    ) -> Result<(), ExecError> {
        if items.is_empty() {
            return Ok(());
        }
        let parts: Vec<(String, i32)> = items.iter().map(|(i, _)| plan.moves[*i].key()).collect();
        let reasons: BTreeMap<String, String> = items
            .iter()
            .map(|(i, r)| (plan.moves[*i].tp.to_string(), r.to_string()))
            .collect();
        let rec = self.record(
            plan,
            ActionKind::CancelReassignments,
            items
                .iter()
                .map(|(i, _)| plan.moves[*i].tp.clone())
                .collect(),
            items
                .iter()
                .flat_map(|(i, _)| plan.moves[*i].adding.clone())
                .collect(),
            format!("cancel {} of kmedic's moves", items.len()),
            serde_json::json!({ "reasons": reasons }),
        );
        self.journal.intent(&rec).await?;
        let outcome = match self.ops.cancel(&parts).await {
            Ok(results) => {
                let mut refused = Vec::new();
                for (i, reason) in items {
                    let m = &mut plan.moves[i];
                    let r = results
                        .iter()
                        .find(|r| r.topic == m.tp.topic && r.partition == m.tp.partition);
                    match r.map(|r| &r.result) {
                        Some(Ok(())) => {
                            info!(plan = %plan.plan_id, partition = %m.tp, %reason, "move cancelled");
                            Self::cancelled(m, reason, run);
                            run.restore.push((i, 0));
                        }
                        Some(Err(e))
                            if e.kafka_error() == Some(ResponseError::NoReassignmentInProgress) =>
                        {
                            // It ended meanwhile: the next poll sees how.
                            debug!(partition = %m.tp, "nothing to cancel: the move ended");
                        }
                        Some(Err(e)) => refused.push((m.tp.clone(), e.to_string())),
                        None => refused.push((m.tp.clone(), "no answer for this partition".into())),
                    }
                }
                if refused.is_empty() {
                    ActionOutcome::Ok
                } else {
                    warn!(plan = %plan.plan_id, ?refused, "cancel refused; trying again next poll");
                    ActionOutcome::Partial { refused }
                }
            }
            Err(e) => {
                warn!(plan = %plan.plan_id, error = %e, "cancelling reassignments failed; trying again next poll");
                ActionOutcome::Failed {
                    error: e.to_string(),
                }
            }
        };
        self.journal.outcome(&rec, &outcome).await?;
        Ok(())
    }

    /// Reads the new replicas' and the leaders' sizes and updates each running move's bytes.
    pub(super) async fn measure(&mut self, plan: &mut ExecPlan, fresh: &Fresh, now: u64) {
        let leader = |m: &Tracked| fresh.partitions.get(&m.tp).and_then(|p| p.leader);
        let mut brokers = BTreeSet::new();
        for m in plan
            .moves
            .iter()
            .filter(|m| m.status == Status::Running && !m.adding.is_empty())
        {
            brokers.extend(m.adding.iter().copied());
            brokers.extend(leader(m));
        }
        let ops = &self.ops;
        let answers = futures::future::join_all(brokers.into_iter().map(|b| async move {
            match tokio::time::timeout(SIZES_TIMEOUT, ops.replica_sizes(b)).await {
                Ok(Ok(s)) => Some((b, s)),
                Ok(Err(e)) => {
                    debug!(broker = b, error = %e, "replica sizes unavailable");
                    None
                }
                Err(_) => None,
            }
        }))
        .await;
        let sizes: BTreeMap<i32, BTreeMap<TopicPartition, u64>> =
            answers.into_iter().flatten().collect();
        for m in plan
            .moves
            .iter_mut()
            .filter(|m| m.status == Status::Running && !m.adding.is_empty())
        {
            let Some(leader_size) = leader(m)
                .and_then(|l| sizes.get(&l))
                .and_then(|s| s.get(&m.tp))
                .copied()
            else {
                continue;
            };
            let Some(new): Option<Vec<u64>> = m
                .adding
                .iter()
                .map(|b| sizes.get(b).map(|s| s.get(&m.tp).copied().unwrap_or(0)))
                .collect()
            else {
                continue;
            };
            m.total_bytes = leader_size.saturating_mul(m.adding.len() as u64);
            let copied = progress::copied(leader_size, &new);
            if copied > m.copied_bytes {
                m.progress_ms = now;
            }
            m.copied_bytes = copied;
            // Per poll, so debug: the raw data of a copy-rate measurement (bytes over time per
            // source and destination).
            debug!(plan = %plan.plan_id, partition = %m.tp, source = ?leader(m),
                destinations = ?m.adding, copied_bytes = copied, total_bytes = m.total_bytes,
                t_ms = now, "move bytes");
        }
    }

    /// The progress snapshot (and a rate sample).
    pub(super) fn snapshot(&self, plan: &ExecPlan, run: &mut Run) -> PlanProgress {
        let mut p = PlanProgress {
            plan_id: plan.plan_id.clone(),
            decision: plan.decision,
            elections_done: run.elections_done,
            ..PlanProgress::default()
        };
        for m in &plan.moves {
            match m.status {
                Status::Pending => p.pending += 1,
                Status::Running => p.running += 1,
                Status::Done => p.done += 1,
                Status::Cancelled(_) | Status::Failed { .. } => p.cancelled += 1,
            }
            if matches!(m.status, Status::Pending | Status::Running | Status::Done) {
                p.total_bytes = p.total_bytes.saturating_add(m.total_bytes);
                p.copied_bytes = p
                    .copied_bytes
                    .saturating_add(m.copied_bytes.min(m.total_bytes));
            }
            p.moves.push(m.progress());
        }
        run.meter.sample(run.now_ms(), p.copied_bytes);
        p.rate_bytes_per_sec = run.meter.rate();
        p.eta_secs = progress::eta_secs(
            p.total_bytes.saturating_sub(p.copied_bytes),
            p.rate_bytes_per_sec,
        );
        p
    }

    /// Removes the throttle: the broker-default rates and `topics`' throttled replicas.
    pub(super) async fn clear_throttle(
        &mut self,
        plan: &ExecPlan,
        topics: &[String],
    ) -> Result<Vec<String>, ExecError> {
        let rec = self.record(
            plan,
            ActionKind::ClearThrottle,
            Vec::new(),
            Vec::new(),
            "the plan's moves are over: remove the replication throttle".into(),
            serde_json::json!({ "topics": topics }),
        );
        self.journal.intent(&rec).await?;
        let errors = throttle::clear_verified(&self.ops, true, topics).await;
        let outcome = if errors.is_empty() {
            info!(plan = %plan.plan_id, topics = topics.len(), "throttle cleared");
            ActionOutcome::Ok
        } else {
            warn!(plan = %plan.plan_id, ?errors, "throttle not fully cleared");
            ActionOutcome::Failed {
                error: errors.join("; "),
            }
        };
        self.journal.outcome(&rec, &outcome).await?;
        Ok(errors)
    }
}

/// At start (when nothing is resumed): finds the throttle configs kmedic left behind (see
/// `throttle::find_leftovers`) and removes them, through the journal.
pub async fn clear_leftovers<O: ClusterOps, J: Journal>(
    ops: &O,
    journal: &J,
    cluster_id: &str,
    rate: u64,
) -> Result<Leftovers, ExecError> {
    let fresh = ops
        .fresh()
        .await
        .map_err(|e| ExecError::Admin(Box::new(e)))?;
    let found = throttle::find_leftovers(ops, &fresh, rate)
        .await
        .map_err(|e| ExecError::Admin(Box::new(e)))?;
    if found.is_empty() {
        return Ok(found);
    }
    let rec = ActionRecord {
        action_id: format!("{cluster_id}-leftover-throttle"),
        cluster_id: cluster_id.to_string(),
        decision: None,
        kind: ActionKind::ClearThrottle,
        partitions: Vec::new(),
        brokers: Vec::new(),
        reason: "throttle left behind by an earlier run (no reassignment in progress)".into(),
        detail: serde_json::json!({ "rates": found.rates, "topics": found.topics }),
    };
    journal.intent(&rec).await?;
    let errors = throttle::clear_verified(ops, found.rates, &found.topics).await;
    let outcome = if errors.is_empty() {
        let topics = crate::text::list(&found.topics);
        info!(cluster_id, rates = found.rates, %topics, "leftover throttle cleared");
        ActionOutcome::Ok
    } else {
        let error = errors.join("; ");
        warn!(cluster_id, %error, "leftover throttle not fully cleared");
        ActionOutcome::Failed { error }
    };
    journal.outcome(&rec, &outcome).await?;
    Ok(found)
}
