//! Running plans, a child of `act`: which plan a board asks to run ([`runnable`]), which moves
//! a restart resumes ([`resume_moves`]), and the actor's side of it: starting the round's plan
//! or an operator-approved one through one [`Actor::launch`], copying progress to the board,
//! and what the actor does when a plan ends.

use std::collections::BTreeMap;

use tokio::task::JoinHandle;
use tracing::{error, info};

use super::{Actor, Exec};
use crate::actionlog::{self, ActionKind, ActionRecord, Phase};
use crate::alert::{Alert, AlertKind};
use crate::clock::Now;
use crate::execute::{self, ExecError, ExecPlan, Outcome, ResumeMove};
use crate::observe::TopicPartition;
use crate::policy::{Action, DecisionId, Verdict};
use crate::service::board::Board;

/// The plan a board asks to run now, if any: its decision (the first it answers) and the
/// executor's plan. `None` when there is no plan, it has no work, or any decision it answers
/// is not `Act` (dry-run, hold, or no longer decided).
pub fn runnable(board: &Board, cluster_id: &str) -> Option<(DecisionId, ExecPlan)> {
    let work = board.plan.as_ref()?;
    if work.plan.moves.is_empty() && work.plan.elections.is_empty() {
        return None;
    }
    let all_act = !work.decisions.is_empty()
        && work.decisions.iter().all(|id| {
            board
                .decisions
                .iter()
                .any(|d| d.id == *id && matches!(d.verdict, Verdict::Act(Action::Plan(_))))
        });
    if !all_act {
        return None;
    }
    let first = work.decisions[0];
    Some((first, ExecPlan::new(cluster_id, Some(first), &work.plan)))
}

/// The moves of the last plan the log shows unfinished: every move of its submitted batches
/// (`reassign` intents) after the last throttle clear that succeeded. The executor's `resume`
/// checks each against Kafka: a finished one is marked done, nothing is submitted again.
pub fn resume_moves(
    records: &[ActionRecord],
    cluster_id: &str,
) -> (Option<DecisionId>, Vec<ResumeMove>) {
    let mine: Vec<&ActionRecord> = records
        .iter()
        .filter(|r| r.cluster_id == cluster_id)
        .collect();
    let start = mine
        .iter()
        .rposition(|r| {
            r.phase == Phase::Outcome
                && matches!(r.kind, ActionKind::ClearThrottle)
                && r.outcome
                    .as_ref()
                    .is_some_and(|o| o.status == actionlog::OutcomeStatus::Succeeded)
        })
        .map_or(0, |i| i + 1);
    let mut decision = None;
    let mut moves: BTreeMap<TopicPartition, ResumeMove> = BTreeMap::new();
    for r in &mine[start..] {
        if r.phase != Phase::Intent || !matches!(r.kind, ActionKind::Reassign { .. }) {
            continue;
        }
        decision = r.decision_id.map(DecisionId).or(decision);
        let Some(list) = r.evidence.get("moves").and_then(|m| m.as_array()) else {
            continue;
        };
        for m in list {
            if let Some(rm) = parse_move(m) {
                moves.insert(rm.partition.clone(), rm);
            }
        }
    }
    (decision, moves.into_values().collect())
}

fn parse_move(m: &serde_json::Value) -> Option<ResumeMove> {
    let (topic, partition) = m.get("partition")?.as_str()?.rsplit_once('-')?;
    let ids = |k: &str| -> Option<Vec<i32>> { serde_json::from_value(m.get(k)?.clone()).ok() };
    Some(ResumeMove {
        partition: TopicPartition {
            topic: topic.to_string(),
            partition: partition.parse().ok()?,
        },
        old_replicas: ids("old")?,
        new_replicas: ids("new")?,
        bytes: m
            .get("bytes")
            .and_then(serde_json::Value::as_u64)
            .unwrap_or(0),
    })
}

/// What a launched executor task does.
pub(super) enum Job {
    /// Carries out a plan to its end.
    Execute(ExecPlan),
    /// Tracks the moves the action log shows in flight to their end (nothing is submitted
    /// again).
    Resume {
        cluster_id: String,
        decision: Option<DecisionId>,
        moves: Vec<ResumeMove>,
    },
}

impl Actor {
    pub(super) fn maybe_execute(&mut self, board: &Board, cluster_id: &str) {
        if self.running.is_some() {
            return;
        }
        let Some((id, plan)) = runnable(board, cluster_id) else {
            self.last_blocked = None;
            self.maybe_execute_approved(board, cluster_id);
            return;
        };
        let Some(ex) = self.executor.take() else {
            return;
        };
        info!(cluster = %self.cfg.cluster, decision = %id, round = board.round,
            moves = plan.moves.len(), elections = plan.elections.len(),
            bytes = plan.moves.iter().map(|m| m.planned_bytes).sum::<u64>(),
            throttle_bytes_per_sec = plan.throttle_shown(self.cfg.execute.throttle_bytes_per_sec),
            "executing the plan");
        self.launch(Some(id), ex, Job::Execute(plan));
    }

    /// Runs the plan an operator approved, once, when no plan of kmedic's own is due; logs
    /// once why it waits.
    fn maybe_execute_approved(&mut self, board: &Board, cluster_id: &str) {
        let (proposal, plan) = match crate::service::approved::next(board, cluster_id) {
            crate::service::approved::Next::Nothing => return,
            crate::service::approved::Next::Held(why) => {
                if self.approved_held.as_deref() != Some(why.as_str()) {
                    info!(cluster = %self.cfg.cluster, reason = %why,
                        "the approved plan waits");
                    self.approved_held = Some(why);
                }
                return;
            }
            crate::service::approved::Next::Run(p, plan) => (p, plan),
        };
        let Some(ex) = self.executor.take() else {
            return;
        };
        self.approved_held = None;
        self.board_tx.send_modify(|b| b.approved = None);
        info!(cluster = %self.cfg.cluster, proposal = proposal, round = board.round,
            moves = plan.moves.len(), elections = plan.elections.len(),
            bytes = plan.moves.iter().map(|m| m.planned_bytes).sum::<u64>(),
            throttle_bytes_per_sec = plan.throttle_shown(self.cfg.execute.throttle_bytes_per_sec),
            "executing the plan an operator approved (API)");
        self.launch(None, ex, Job::Execute(plan));
    }

    /// Hands `ex` to a task that does `job`, tracked as the running plan under `id` (its end
    /// comes back to `Actor::run`): its progress goes on the board and each round's broker
    /// network figures to its throttle. Every plan the actor runs starts here.
    pub(super) fn launch(&mut self, id: Option<DecisionId>, mut ex: Exec, job: Job) {
        let progress = self.forward_progress(&ex);
        self.throttle = Some(ex.throttle_handle());
        let h = tokio::spawn(async move {
            let r = match job {
                Job::Execute(plan) => ex.execute(plan).await,
                Job::Resume {
                    cluster_id,
                    decision,
                    moves,
                } => ex.resume(&cluster_id, decision, moves).await,
            };
            progress.abort();
            (ex, r)
        });
        self.running = Some((id, h));
        self.plan_started_mono_ms = Now::read().mono_ms;
    }

    /// Copies the executor's progress onto the board while a plan runs.
    fn forward_progress(&self, ex: &Exec) -> JoinHandle<()> {
        let mut rx = ex.progress();
        let tx = self.board_tx.clone();
        tokio::spawn(async move {
            while rx.changed().await.is_ok() {
                let p = rx.borrow_and_update().clone();
                tx.send_modify(|b| b.executing = Some(p));
            }
        })
    }

    pub(super) fn plan_ended(
        &mut self,
        id: Option<DecisionId>,
        result: Result<Outcome, ExecError>,
    ) {
        // A plan without a decision (resumed, approved, a drain) logs none: never a made-up id.
        let decision = id.map(tracing::field::display);
        let cluster = self.cfg.cluster.clone();
        let now = Now::read();
        match result {
            Ok(out) => {
                self.log_write_error = None;
                let secs = now.mono_ms.saturating_sub(self.plan_started_mono_ms) / 1000;
                log_finished(&cluster, id, &out, secs);
                for e in &out.events {
                    if let execute::Event::Stuck {
                        partition,
                        secs,
                        copied_bytes,
                        total_bytes,
                    } = e
                    {
                        let mut a = Alert::new(
                            AlertKind::StuckMove,
                            &cluster,
                            partition.to_string(),
                            format!(
                                "move of {partition} made no progress for {secs} s \
                                     ({copied_bytes} of {total_bytes} bytes copied)"
                            ),
                        );
                        a.details = serde_json::json!({"decision": id.map(|d| d.0)});
                        self.cfg.alerter.event_and_send(&a, now.mono_ms);
                    }
                }
                for err in &out.throttle_clear_errors {
                    error!(%cluster, error = %err, "a throttle could not be removed; the next \
                        start clears leftovers");
                }
            }
            Err(ExecError::Journal(execute::JournalError::Fenced)) => {
                self.fence("the action log refused an executor record")
            }
            Err(ExecError::Journal(execute::JournalError::Write(e))) => {
                error!(%cluster, decision, error = %e,
                    "plan stopped: the action log refused a record (the executor takes no \
                     action it cannot record); the next round plans again");
                self.log_write_error = Some(format!("a write failed: {e}"));
            }
            Err(e) => error!(%cluster, decision, error = %e,
                "plan failed; the next round plans again from fresh state"),
        }
        self.board_tx.send_modify(|b| {
            if let Some(p) = b.executing.as_mut() {
                p.finished = true;
            }
        });
    }
}

/// The one line that says a plan ended (the executor's own is debug), with every figure: the
/// demo and the end-to-end trials read `plan finished` and its fields.
pub(super) fn log_finished(cluster: &str, decision: Option<DecisionId>, out: &Outcome, secs: u64) {
    let p = &out.progress;
    // Said only when something was left: a plan that moved everything did not leave any.
    let left = p.cancelled + p.pending + p.running + out.replan.len() > 0;
    let then = left.then_some(
        "the partitions it did not move are planned again from fresh state by the next round",
    );
    info!(cluster, decision = decision.map(tracing::field::display), plan = %p.plan_id,
        done = p.done, cancelled = p.cancelled, elections = p.elections_done,
        copied_bytes = p.copied_bytes, replan = out.replan.len(),
        throttle_clear_errors = out.throttle_clear_errors.len(), secs, then,
        "plan finished");
}
