//! The executor's loop: check, throttle, submit in batches, track, elect, clear.

use std::collections::BTreeSet;
use std::time::Duration;

use tokio::time::Instant;
use tracing::{info, warn};

use super::adaptive;
use super::batch;
use super::journal::{ActionKind, ActionOutcome, ActionRecord, Journal};
use super::ops::{ClusterOps, Fresh};
use super::progress::{Cadence, RateMeter};
use super::status::{CancelReason, Status};
use super::throttle::{self, Throttled};
use super::track::{admission, observe, Admission, Observed, Tracked};
use super::{Event, ExecError, ExecPlan, Executor, Outcome};
use crate::observe::TopicPartition;

/// What one run collects besides the moves.
pub(super) struct Run {
    pub(super) start: Instant,
    pub(super) events: Vec<Event>,
    pub(super) replan: Vec<(TopicPartition, CancelReason)>,
    pub(super) meter: RateMeter,
    pub(super) cadence: Cadence,
    pub(super) elections_done: usize,
    /// Cancelled moves whose replica order to restore (Kafka's cancel brings the old replica
    /// set back in another order), with the polls waited so far.
    pub(super) restore: Vec<(usize, u32)>,
    /// The throttle rate in force (None while no throttle is set).
    pub(super) rate: Option<u64>,
    /// Brokers receiving (destinations) and sending (leaders) kmedic's copy at the last poll.
    pub(super) copying: (BTreeSet<i32>, BTreeSet<i32>),
    /// Master monotonic ms of the last rate change (agents' samples from before are stale).
    pub(super) rate_changed_mono_ms: u64,
}

impl Run {
    pub(super) fn now_ms(&self) -> u64 {
        u64::try_from(self.start.elapsed().as_millis()).unwrap_or(u64::MAX)
    }
}

/// Moves `m` to `to`. The loop only asks for transitions the table allows; a refusal is a bug,
/// logged and otherwise ignored rather than panicking the service.
pub(super) fn set(m: &mut Tracked, to: Status) {
    if let Err(e) = m.status.transition(to) {
        warn!(partition = %m.tp, error = %e, "executor bug: status transition refused");
    }
}

impl<O: ClusterOps, J: Journal> Executor<O, J> {
    pub(super) fn record(
        &mut self,
        plan: &ExecPlan,
        kind: ActionKind,
        partitions: Vec<TopicPartition>,
        brokers: Vec<i32>,
        reason: String,
        detail: serde_json::Value,
    ) -> ActionRecord {
        self.seq += 1;
        ActionRecord {
            action_id: format!("{}-{}", plan.plan_id, self.seq),
            cluster_id: plan.cluster_id.clone(),
            decision: plan.decision,
            kind,
            partitions,
            brokers,
            reason,
            detail,
        }
    }

    /// Carries out `plan`; see the module docs for the steps.
    pub(super) async fn run(&mut self, mut plan: ExecPlan) -> Result<Outcome, ExecError> {
        let mut run = Run {
            start: Instant::now(),
            events: Vec::new(),
            replan: Vec::new(),
            meter: RateMeter::new(60_000),
            cadence: Cadence::new(self.cfg.progress_log_secs.saturating_mul(1000)),
            elections_done: 0,
            restore: Vec::new(),
            rate: None,
            copying: Default::default(),
            rate_changed_mono_ms: 0,
        };
        // Debug: the service logs the one start line (with the cluster) and the one end line.
        tracing::debug!(
            plan = %plan.plan_id,
            decision = plan.decision.map(tracing::field::display),
            moves = plan.moves.len(),
            elections = plan.elections.len(),
            bytes = plan.moves.iter().map(|m| m.planned_bytes).sum::<u64>(),
            throttle_bytes_per_sec = self.cfg.throttle_bytes_per_sec,
            "executing plan"
        );
        let fresh = self
            .ops
            .fresh()
            .await
            .map_err(|e| ExecError::Admin(Box::new(e)))?;
        // Drop what no longer holds before throttling anything.
        self.check_pending(&mut plan, &fresh, &mut run);
        let moving: Vec<Throttled<'_>> = plan
            .moves
            .iter()
            .filter(|m| !m.status.is_terminal() && !m.adding.is_empty())
            .map(|m| Throttled {
                topic: &m.tp.topic,
                partition: m.tp.partition,
                old: &m.old,
                new: &m.new,
            })
            .collect();
        let topics = throttle::topic_values(&moving);
        let throttled: Vec<String> = topics.keys().cloned().collect();
        let mut in_force = None;
        if !topics.is_empty() {
            let rate = *self.rate.borrow_and_update();
            in_force = Some(rate);
            let rec = self.record(
                &plan,
                ActionKind::SetThrottle,
                Vec::new(),
                Vec::new(),
                format!("throttle replication to {rate} B/s while the plan moves data"),
                serde_json::json!({ "rate_bytes_per_sec": rate, "topics": topics }),
            );
            self.journal.intent(&rec).await?;
            if let Err(e) = throttle::set(&self.ops, rate, &topics).await {
                let out = ActionOutcome::Failed {
                    error: e.to_string(),
                };
                self.journal.outcome(&rec, &out).await?;
                warn!(plan = %plan.plan_id, error = %e, "could not set the throttle; nothing submitted");
                self.clear_throttle(&plan, &throttled).await?;
                return Err(ExecError::Throttle(Box::new(e)));
            }
            self.journal.outcome(&rec, &ActionOutcome::Ok).await?;
        }
        run.rate = in_force;
        run.rate_changed_mono_ms = crate::clock::Now::read().mono_ms;
        self.track(&mut plan, Some(fresh), &mut run, in_force)
            .await?;
        self.elect(&plan, &mut run).await?;
        let throttle_clear_errors = if throttled.is_empty() {
            Vec::new()
        } else {
            self.clear_throttle(&plan, &throttled).await?
        };
        let mut progress = self.snapshot(&plan, &mut run);
        progress.finished = true;
        self.progress.send_replace(progress.clone());
        tracing::debug!(
            plan = %plan.plan_id,
            done = progress.done,
            cancelled = progress.cancelled,
            elections = progress.elections_done,
            copied_bytes = progress.copied_bytes,
            replan = run.replan.len(),
            secs = run.now_ms() / 1000,
            "plan finished"
        );
        Ok(Outcome {
            progress,
            replan: run.replan,
            events: run.events,
            throttle_clear_errors,
        })
    }

    /// Judges every pending move on `fresh`: drops, adopts, or leaves it to submit.
    /// Returns the indexes left to submit.
    fn check_pending(&mut self, plan: &mut ExecPlan, fresh: &Fresh, run: &mut Run) -> Vec<usize> {
        let now = run.now_ms();
        let mut submit = Vec::new();
        for (i, m) in plan.moves.iter_mut().enumerate() {
            if m.status != Status::Pending {
                continue;
            }
            match admission(m, fresh) {
                Admission::Submit => submit.push(i),
                Admission::Adopt => {
                    info!(plan = %plan.plan_id, partition = %m.tp, target = ?m.new, "tracking a reassignment kmedic started");
                    set(m, Status::Running);
                    m.started_ms = now;
                    m.progress_ms = now;
                    m.timeout_secs = batch::timeout_secs(m.planned_bytes, &self.cfg);
                }
                Admission::AlreadyDone => {
                    info!(plan = %plan.plan_id, partition = %m.tp, replicas = ?m.new, "move already done");
                    set(m, Status::Running);
                    set(m, Status::Done);
                    m.copied_bytes = m.total_bytes;
                }
                Admission::Drop(reason) => {
                    warn!(plan = %plan.plan_id, partition = %m.tp, old = ?m.old, new = ?m.new, %reason, "move not submitted");
                    Self::cancelled(m, reason, run);
                }
            }
        }
        submit
    }

    pub(super) fn cancelled(m: &mut Tracked, reason: CancelReason, run: &mut Run) {
        set(m, Status::Cancelled(reason.clone()));
        let replan = reason.replan();
        if replan {
            run.replan.push((m.tp.clone(), reason.clone()));
        }
        run.events.push(Event::Cancelled {
            partition: m.tp.clone(),
            reason,
            replan,
        });
    }

    /// The tracking loop: until nothing is pending or running.
    async fn track(
        &mut self,
        plan: &mut ExecPlan,
        mut fresh: Option<Fresh>,
        run: &mut Run,
        mut in_force: Option<u64>,
    ) -> Result<(), ExecError> {
        let poll = Duration::from_millis(self.cfg.poll_interval_ms);
        let mut cancel_logged = false;
        loop {
            if *self.cancel.borrow() {
                let running: Vec<(usize, CancelReason)> = plan
                    .moves
                    .iter()
                    .enumerate()
                    .filter(|(_, m)| m.status == Status::Running)
                    .map(|(i, _)| (i, CancelReason::Operator))
                    .collect();
                self.cancel_moves(plan, running, run).await?;
                for m in plan.moves.iter_mut() {
                    if m.status == Status::Pending {
                        Self::cancelled(m, CancelReason::Operator, run);
                    }
                }
                if !cancel_logged {
                    cancel_logged = true;
                    warn!(plan = %plan.plan_id, "plan cancelled");
                }
                // Go on polling: a refused cancel is tried again, and the cancelled
                // partitions get their replica order back (see `restore_order`).
            }
            if let Some(f) = fresh.take() {
                self.step(plan, &f, run).await?;
            }
            // A rate asked for through the handle (only when one was asked for since: the
            // adaptive throttle's own changes must not be undone by an old request).
            if let (Some(current), true) = (in_force, self.rate.has_changed().unwrap_or(false)) {
                let wanted = *self.rate.borrow_and_update();
                if adaptive::worth_changing(current, wanted) {
                    let why = format!("rate asked for: {wanted} B/s");
                    in_force = Some(self.change_rate(plan, current, wanted, why).await?);
                    run.rate = in_force;
                    run.rate_changed_mono_ms = crate::clock::Now::read().mono_ms;
                }
            }
            if let (Some(current), true) = (in_force, self.cfg.adaptive_throttle) {
                if let Some((wanted, why)) = self.adaptive_rate(current, run) {
                    in_force = Some(self.change_rate(plan, current, wanted, why).await?);
                    run.rate = in_force;
                    run.rate_changed_mono_ms = crate::clock::Now::read().mono_ms;
                }
            }
            let progress = self.snapshot(plan, run);
            self.progress.send_replace(progress.clone());
            let now = run.now_ms();
            if progress.running + progress.pending == 0 && run.restore.is_empty() {
                return Ok(());
            }
            // A plan that copies nothing (reorders) has no progress to tell: 100 % of 0 B.
            if plan.copies() && run.cadence.due(now, progress.percent()) {
                info!(
                    plan = %plan.plan_id,
                    percent = format!("{:.1}", progress.percent()),
                    copied_bytes = progress.copied_bytes,
                    total_bytes = progress.total_bytes,
                    rate_bytes_per_sec = progress.rate_bytes_per_sec as u64,
                    eta_secs = progress.eta_secs.map(|s| s.to_string()).unwrap_or_default(),
                    running = progress.running,
                    pending = progress.pending,
                    done = progress.done,
                    cancelled = progress.cancelled,
                    "plan progress"
                );
            }
            tokio::select! {
                _ = tokio::time::sleep(poll) => {}
                _ = self.cancel.changed() => {}
            }
            match self.ops.fresh().await {
                Ok(f) => fresh = Some(f),
                Err(e) => {
                    warn!(plan = %plan.plan_id, error = %e, "could not read the cluster; retrying")
                }
            }
        }
    }

    /// The adaptive throttle's new rate, when it moved by more than the hysteresis step:
    /// from the agents' figures received since the last change, less kmedic's own copy, over
    /// the brokers the copy runs between (see [`adaptive`]). None without usable figures.
    fn adaptive_rate(&mut self, current: u64, run: &Run) -> Option<(u64, String)> {
        if !self.net.has_changed().unwrap_or(false) {
            return None;
        }
        let nets = self.net.borrow_and_update().clone();
        let (dest, src) = &run.copying;
        let others = adaptive::others(&nets, dest, src, current, run.rate_changed_mono_ms);
        if others.is_empty() {
            return None;
        }
        let traffic: Vec<adaptive::BrokerTraffic> = others.iter().map(|(_, t)| *t).collect();
        let wanted = adaptive::rate(&traffic, &self.cfg);
        if !adaptive::worth_changing(current, wanted) {
            return None;
        }
        let share = self.cfg.adaptive_network_share;
        let (b, t) = others
            .iter()
            .min_by_key(|(_, t)| ((t.limit as f64 * share) as u64).saturating_sub(t.other))?;
        Some((
            wanted,
            format!(
                "broker {b}: limit {} B/s x share {share} less {} B/s of other traffic, within                  the band [{}, {}]",
                t.limit,
                t.other,
                self.cfg.throttle_min_bytes_per_sec,
                self.cfg.throttle_max_bytes_per_sec
            ),
        ))
    }

    /// One poll on fresh state: finish, cancel, measure, detect stuck, admit.
    async fn step(
        &mut self,
        plan: &mut ExecPlan,
        fresh: &Fresh,
        run: &mut Run,
    ) -> Result<(), ExecError> {
        let now = run.now_ms();
        let mut to_cancel: Vec<(usize, CancelReason)> = Vec::new();
        for (i, m) in plan.moves.iter_mut().enumerate() {
            if m.status != Status::Running {
                continue;
            }
            let seen = observe(m, fresh);
            if !matches!(seen, Observed::EndedElsewhere { .. }) {
                m.ended_once = false;
            }
            match seen {
                Observed::Done => {
                    set(m, Status::Done);
                    m.copied_bytes = m.total_bytes;
                    info!(plan = %plan.plan_id, partition = %m.tp, replicas = ?m.new, bytes = m.total_bytes, secs = now.saturating_sub(m.started_ms) / 1000, "move done");
                }
                // Metadata can lag the reassignment list: believe it on the second poll.
                Observed::EndedElsewhere { .. } if !m.ended_once => m.ended_once = true,
                Observed::EndedElsewhere { found } => {
                    warn!(plan = %plan.plan_id, partition = %m.tp, target = ?m.new, ?found, "reassignment ended without reaching its target");
                    let reason = CancelReason::ViewChanged {
                        expected: m.new.clone(),
                        found,
                    };
                    Self::cancelled(m, reason, run);
                }
                Observed::DestinationDead { broker } => {
                    warn!(plan = %plan.plan_id, partition = %m.tp, broker, "destination died during the move: cancelling this partition only");
                    to_cancel.push((i, CancelReason::DestinationDead { broker }));
                }
                Observed::Running => {
                    let limit = m.timeout_secs;
                    if now.saturating_sub(m.started_ms) >= limit.saturating_mul(1000) {
                        warn!(plan = %plan.plan_id, partition = %m.tp, limit_secs = limit, copied = m.copied_bytes, total = m.total_bytes, "move timed out");
                        to_cancel.push((i, CancelReason::TimedOut { limit_secs: limit }));
                    }
                }
            }
        }
        run.copying = Default::default();
        for m in plan.moves.iter().filter(|m| {
            m.status == Status::Running && !m.adding.is_empty() && m.copied_bytes < m.total_bytes
        }) {
            run.copying.0.extend(m.adding.iter().copied());
            run.copying
                .1
                .extend(fresh.partitions.get(&m.tp).and_then(|p| p.leader));
        }
        self.restore_order(plan, fresh, run).await?;
        self.cancel_moves(plan, std::mem::take(&mut to_cancel), run)
            .await?;
        self.measure(plan, fresh, now).await;
        let stuck_ms = self.cfg.stuck_after_secs.saturating_mul(1000);
        for (i, m) in plan.moves.iter_mut().enumerate() {
            if m.status != Status::Running || m.adding.is_empty() {
                continue;
            }
            let idle = now.saturating_sub(m.progress_ms);
            if idle >= stuck_ms && !m.stuck_reported {
                m.stuck_reported = true;
                warn!(plan = %plan.plan_id, partition = %m.tp, idle_secs = idle / 1000, copied = m.copied_bytes, total = m.total_bytes, cancel = self.cfg.cancel_stuck, "move stuck: no byte progress");
                run.events.push(Event::Stuck {
                    partition: m.tp.clone(),
                    secs: idle / 1000,
                    copied_bytes: m.copied_bytes,
                    total_bytes: m.total_bytes,
                });
                if self.cfg.cancel_stuck {
                    to_cancel.push((i, CancelReason::Stuck { secs: idle / 1000 }));
                }
            }
        }
        self.cancel_moves(plan, to_cancel, run).await?;
        let pending = self.check_pending(plan, fresh, run);
        self.submit(plan, fresh, pending, run).await
    }
}
