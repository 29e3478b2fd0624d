//! Decommission and cordon (issue 8 item 4, KIP-1066): an operator's
//! `PUT /api/clusters/{c}/brokers/{b}/decommission` drains the broker, `DELETE` stops it.
//!
//! Who does what:
//! - the cluster loop writes the request to the action log FIRST ([`record`], a `decommission`
//!   or `recommission` state record; a start that cannot be recorded is refused), then puts the
//!   broker on the board's list ([`on_command`]); the round plans nothing onto listed brokers
//!   (the snapshot marks them `Decommissioning`), so a heal or a balance never refills them;
//! - the actor ([`Decommissions`], once per round): cordons each listed broker
//!   (`cordoned.log.dirs = *`: Kafka places no new partition on it), plans the drain with the
//!   planner (`Request::Decommission`: every replica replaced in place, rack-correct, within the
//!   move and byte limits) and runs it through the executor, the only code that moves data;
//!   later rounds plan what is left until the broker holds no replica. A decommissioned broker
//!   stays cordoned. With `decommission.unregister`, once it holds nothing and has been shut
//!   down (fenced or gone), it is unregistered (UnregisterBroker) and leaves the list.
//! - `DELETE`: the running drain is cancelled (the executor cancels kmedic's in-flight
//!   reassignments and restores replica order), then the broker is uncordoned.
//! - Maintenance and dry-run: no cordon, drain, uncordon or unregister while either is on.
//!
//! Every cordon, uncordon and unregister is an intent record before and an outcome after (the
//! fence: a refused write stops the actor). After a restart the list comes back from the log
//! ([`restore`]), and so do the brokers kmedic cordoned, so a DELETE that arrived before a crash
//! still uncordons.
//!
//! Not done here: moving leadership off the broker by election before its replicas move (Kafka
//! elects a new leader when a reassignment drops the leader's replica), the demand rates in the
//! drain plan (planned by size and count only: the actor has no model), and cordoning a broker
//! whose host is being replaced.

use std::collections::{BTreeMap, BTreeSet};

use serde::Serialize;
use tokio::sync::watch;
use tracing::{info, warn};

use super::board::Board;
use crate::actionlog::{self, ActionKind, ActionRecord, Journal, OutcomeStatus, Phase};
use crate::config::{DecommissionConfig, NetworkLimits};
use crate::detect::FindingKind;
use crate::execute::{CancelHandle, ExecPlan};
use crate::observe::{snapshot, ClusterView};
use crate::plan::{self, Request};

/// The board's decommission part.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize)]
pub struct DecommissionBoard {
    /// Brokers the operator asked to decommission (API, or the action log after a restart).
    pub wanted: BTreeSet<i32>,
    /// Why nothing is done now (`maintenance`, `dry-run`), if so.
    pub paused: Option<String>,
    /// Each listed broker's progress (and a broker being uncordoned), set by the actor.
    pub brokers: BTreeMap<i32, BrokerDrain>,
}

/// One broker's decommission, as the board shows it.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct BrokerDrain {
    /// Where it is.
    pub phase: DrainPhase,
    /// Whether kmedic cordoned it (`cordoned.log.dirs = *`).
    pub cordoned: bool,
    /// Replicas still on it.
    pub replicas_left: usize,
    /// Bytes of those replicas (as DescribeLogDirs last reported them).
    pub bytes_left: u64,
}

/// A broker's decommission phase.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum DrainPhase {
    /// Listed; its replicas are being moved off.
    Draining,
    /// Holds no replica; stays cordoned (and, with `unregister`, waits to be shut down).
    Drained,
    /// Unregistered from the cluster: done.
    Unregistered,
    /// Taken off the list; waiting for its drain to stop and its cordon to be removed.
    Uncordoning,
}

/// The cordon and unregister calls (the admin client; a fake in tests).
pub trait CordonOps: Sync {
    /// `cordoned.log.dirs = *` on the broker.
    fn cordon(&self, broker: i32) -> futures::future::BoxFuture<'_, Result<(), String>>;
    /// Removes the broker's dynamic cordon.
    fn uncordon(&self, broker: i32) -> futures::future::BoxFuture<'_, Result<(), String>>;
    /// UnregisterBroker.
    fn unregister(&self, broker: i32) -> futures::future::BoxFuture<'_, Result<(), String>>;
}

impl CordonOps for kmedic_common::admin::AdminClient {
    fn cordon(&self, broker: i32) -> futures::future::BoxFuture<'_, Result<(), String>> {
        Box::pin(async move { self.cordon_broker(broker).await.map_err(|e| e.to_string()) })
    }
    fn uncordon(&self, broker: i32) -> futures::future::BoxFuture<'_, Result<(), String>> {
        Box::pin(async move {
            self.uncordon_broker(broker)
                .await
                .map_err(|e| e.to_string())
        })
    }
    fn unregister(&self, broker: i32) -> futures::future::BoxFuture<'_, Result<(), String>> {
        Box::pin(async move {
            self.unregister_broker(broker)
                .await
                .map_err(|e| e.to_string())
        })
    }
}

/// What the log says about one cluster's decommissions.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Restored {
    /// The list: decommissioned, not recommissioned, not unregistered since.
    pub wanted: BTreeSet<i32>,
    /// Brokers kmedic cordoned and has not uncordoned (or unregistered) since.
    pub cordoned: BTreeSet<i32>,
}

/// Folds `records` (log order) of `cluster_id` into the list and kmedic's cordons.
pub fn restore(records: &[ActionRecord], cluster_id: &str) -> Restored {
    let mut out = Restored::default();
    let ok = |r: &ActionRecord| {
        r.phase == Phase::Outcome
            && r.outcome
                .as_ref()
                .is_some_and(|o| o.status == OutcomeStatus::Succeeded)
    };
    for r in records.iter().filter(|r| r.cluster_id == cluster_id) {
        match (&r.kind, r.phase) {
            (ActionKind::Decommission { brokers }, Phase::State) => out.wanted.extend(brokers),
            (ActionKind::Recommission { brokers }, Phase::State) => {
                for b in brokers {
                    out.wanted.remove(b);
                }
            }
            (ActionKind::Cordon, _) if ok(r) => out.cordoned.extend(&r.brokers),
            (ActionKind::Uncordon, _) if ok(r) => {
                for b in &r.brokers {
                    out.cordoned.remove(b);
                }
            }
            (ActionKind::Unregister, _) if ok(r) => r.brokers.iter().for_each(|b| {
                out.wanted.remove(b);
                out.cordoned.remove(b);
            }),
            _ => {}
        }
    }
    out
}

/// Writes an operator's decommission start or stop to the action log BEFORE it is applied.
/// Returns whether to apply it: a start that cannot be recorded is refused (a restart would
/// forget a drain half done); a stop is applied even then (it only makes the master do less),
/// and said loudly. Other commands: `true`.
pub async fn record(
    log: Option<&super::act::ModeLog>,
    cluster: &str,
    cmd: &crate::serve::Command,
) -> bool {
    let crate::serve::Command::Decommission { broker, on } = cmd else {
        return true;
    };
    let (broker, on) = (*broker, *on);
    let Some(m) = log else {
        warn!(
            cluster,
            broker,
            on,
            "decommission change not recorded: no action log (the \
            master does not act without one, so nothing is drained or uncordoned)"
        );
        return true;
    };
    let (kind, what) = if on {
        (
            ActionKind::Decommission {
                brokers: vec![broker],
            },
            "start",
        )
    } else {
        (
            ActionKind::Recommission {
                brokers: vec![broker],
            },
            "stop",
        )
    };
    let mut rec = ActionRecord::state(
        &m.cluster_id,
        actionlog::record::new_action_id(&m.master_id),
        kind,
        format!("operator asked to {what} decommissioning broker {broker} through the API"),
        &m.master_id,
    );
    rec.brokers = vec![broker];
    match m.log.record(&rec).await {
        Ok(()) => true,
        Err(e) if on => {
            tracing::error!(cluster, broker, error = %e, "decommission REFUSED: it must be \
                recorded in the action log first (a restart would forget it); fix the log and \
                send it again");
            false
        }
        Err(e) => {
            tracing::error!(cluster, broker, error = %e, "decommission stop applied but not \
                recorded: after a restart the drain would start again; DELETE again then");
            true
        }
    }
}

/// Mirrors an applied operator command onto the board: the list, and the modes that pause
/// decommissions.
pub fn on_command(board: &watch::Sender<Board>, cmd: &crate::serve::Command) {
    use crate::serve::Command;
    board.send_modify(|b| {
        let d = &mut b.decommission;
        match cmd {
            Command::Decommission { broker, on: true } => {
                d.wanted.insert(*broker);
            }
            Command::Decommission { broker, on: false } => {
                d.wanted.remove(broker);
            }
            Command::SetMaintenance(on) => set_paused(d, "maintenance", *on),
            Command::SetDryRun(on) => set_paused(d, "dry-run", *on),
            _ => {}
        }
    });
}

fn set_paused(d: &mut DecommissionBoard, mode: &str, on: bool) {
    let mut modes: BTreeSet<String> = d
        .paused
        .iter()
        .flat_map(|p| p.split(", ").map(str::to_string))
        .collect();
    if on {
        modes.insert(mode.to_string());
    } else {
        modes.remove(mode);
    }
    d.paused = (!modes.is_empty()).then(|| modes.into_iter().collect::<Vec<_>>().join(", "));
}

/// Seeds the board at start: the list from the log, and the modes in force.
pub fn seed(
    board: &watch::Sender<Board>,
    wanted: &BTreeSet<i32>,
    maintenance: bool,
    dry_run: bool,
) {
    board.send_modify(|b| {
        let d = &mut b.decommission;
        d.wanted.clone_from(wanted);
        set_paused(d, "maintenance", maintenance);
        set_paused(d, "dry-run", dry_run);
    });
}

/// At start: the list and kmedic's cordons restored from the log (when acting), the modes in
/// force (config OR log) put on the board, and the actor's side built.
pub fn start(
    board: &watch::Sender<Board>,
    c: &crate::config::ClusterConfig,
    cfg: &crate::config::MasterConfig,
    master_id: &str,
    acting: &super::act::Acting,
    cluster_id: &Option<String>,
) -> Decommissions {
    let (mut maintenance, mut dry_run) = (c.policy.maintenance, c.policy.dry_run);
    let mut restored = Restored::default();
    if let (super::act::Acting::Enabled { records, .. }, Some(id)) = (acting, cluster_id) {
        restored = restore(records, id);
        let st = actionlog::restore(records.iter().cloned()).cluster(id);
        maintenance |= st.maintenance == Some(true);
        dry_run |= st.dry_run == Some(true);
        if !restored.wanted.is_empty() || !restored.cordoned.is_empty() {
            info!(cluster = %c.name, decommissioning = ?restored.wanted,
                cordoned_by_kmedic = ?restored.cordoned,
                "decommissions restored from the action log");
        }
    }
    seed(board, &restored.wanted, maintenance, dry_run);
    Decommissions::new(
        &c.name,
        master_id,
        cfg.decommission.clone(),
        c.limits.clone(),
        c.planner.clone(),
        restored.cordoned,
    )
}

/// The brokers drained by the round's snapshot (`Verdicts::decommissioning`).
pub fn listed(board: &Board) -> BTreeSet<i32> {
    board.decommission.wanted.clone()
}

/// What the actor should do after [`Decommissions::step`].
#[derive(Debug, Default)]
pub struct Step {
    /// The drain plan to run now (when no plan runs).
    pub drain: Option<(BTreeSet<i32>, ExecPlan)>,
}

/// One cluster's decommissions, on the actor's side.
pub struct Decommissions {
    cluster: String,
    master_id: String,
    cfg: DecommissionConfig,
    limits: NetworkLimits,
    planner: plan::Limits,
    /// Brokers kmedic cordoned and has not uncordoned.
    cordoned: BTreeSet<i32>,
    /// The brokers the running drain drains, and its cancel handle.
    running: Option<(BTreeSet<i32>, CancelHandle)>,
    cancelled: bool,
    /// Log-once memory: (broker, what) -> the last message.
    said: BTreeMap<(i32, &'static str), String>,
}

impl Decommissions {
    /// Decommissions of `cluster` with what the log says kmedic cordoned.
    pub fn new(
        cluster: &str,
        master_id: &str,
        cfg: DecommissionConfig,
        limits: NetworkLimits,
        planner: plan::Limits,
        cordoned: BTreeSet<i32>,
    ) -> Self {
        Self {
            cluster: cluster.to_string(),
            master_id: master_id.to_string(),
            cfg,
            limits,
            planner,
            cordoned,
            running: None,
            cancelled: false,
            said: BTreeMap::new(),
        }
    }

    /// Logs `msg` about `broker` once, until it changes.
    fn once(&mut self, broker: i32, what: &'static str, msg: String) -> bool {
        if self.said.get(&(broker, what)) == Some(&msg) {
            return false;
        }
        self.said.insert((broker, what), msg);
        true
    }

    /// A drain plan started: `brokers` it drains, `cancel` to stop it.
    pub fn started(&mut self, brokers: BTreeSet<i32>, cancel: CancelHandle) {
        self.running = Some((brokers, cancel));
    }

    /// The running plan ended. True when it was a drain this cancelled (the executor's cancel
    /// stays set: the caller makes a fresh executor).
    pub fn ended(&mut self) -> bool {
        self.running = None;
        std::mem::take(&mut self.cancelled)
    }

    /// One round: cancel a drain the operator stopped, cordon listed brokers, uncordon
    /// unlisted ones, unregister drained and shut-down ones (if configured), publish progress,
    /// and return the drain to run when `idle` (no plan running). An `Err` is a refused
    /// action-log write: stop acting.
    pub async fn step(
        &mut self,
        board_tx: &watch::Sender<Board>,
        board: &Board,
        journal: &dyn Journal,
        ops: &dyn CordonOps,
        cluster_id: &str,
        idle: bool,
    ) -> Result<Step, actionlog::Error> {
        let d = &board.decommission;
        let Some(view) = board.cluster_view.clone() else {
            return Ok(Step::default());
        };
        if let Some(why) = &d.paused {
            if !d.wanted.is_empty() || !self.unlisted(d).is_empty() {
                let msg = format!("decommissions paused: {why} is on");
                if self.once(-1, "paused", msg.clone()) {
                    info!(cluster = %self.cluster, listed = ?d.wanted, reason = %why,
                        "decommissions paused: no cordon, drain, uncordon or unregister while \
                         {why} is on");
                }
            }
            return Ok(Step::default());
        }
        self.said.remove(&(-1, "paused"));
        // A stopped decommission cancels the drain that includes it, first.
        if let Some((brokers, cancel)) = &self.running {
            let stopped: Vec<i32> = brokers.difference(&d.wanted).copied().collect();
            if !stopped.is_empty() && !self.cancelled {
                warn!(cluster = %self.cluster, brokers = ?stopped,
                    "decommission stopped by the operator: cancelling the running drain (its \
                     in-flight moves are cancelled; the rest is not submitted)");
                cancel.cancel();
                self.cancelled = true;
            }
        }
        for &b in &d.wanted {
            if !self.cordoned.contains(&b) {
                self.cordon(journal, ops, cluster_id, &view, b).await?;
            }
        }
        let draining: BTreeSet<i32> = self
            .running
            .as_ref()
            .map(|(b, _)| b.clone())
            .unwrap_or_default();
        for b in self.unlisted(d) {
            if !draining.contains(&b) {
                self.uncordon(journal, ops, cluster_id, &view, b).await?;
            }
        }
        let mut unregistered = Vec::new();
        let mut progress = BTreeMap::new();
        for &b in &d.wanted {
            let (replicas, bytes) = load_on(&view, b);
            let busy = view
                .reassignments
                .iter()
                .any(|(_, r)| r.adding.contains(&b) || r.removing.contains(&b));
            let mut phase = DrainPhase::Draining;
            if replicas == 0 && !busy {
                phase = DrainPhase::Drained;
                let down = view.brokers.get(&b).is_none_or(|x| x.fenced);
                let msg = format!("drained (unregister {}, down {down})", self.cfg.unregister);
                if self.once(b, "drained", msg) {
                    info!(cluster = %self.cluster, broker = b, unregister = self.cfg.unregister,
                    shut_down = down, "decommissioned broker holds no replica: it stays \
                    cordoned{}", if self.cfg.unregister {
                        "; it is unregistered once it is shut down"
                    } else {
                        " until the decommission is deleted (decommission.unregister is off)"
                    });
                }
                if self.cfg.unregister
                    && down
                    && self.unregister(journal, ops, cluster_id, b).await?
                {
                    phase = DrainPhase::Unregistered;
                    unregistered.push(b);
                }
            }
            progress.insert(
                b,
                BrokerDrain {
                    phase,
                    cordoned: self.cordoned.contains(&b),
                    replicas_left: replicas,
                    bytes_left: bytes,
                },
            );
        }
        for b in self.unlisted(d) {
            let (replicas, bytes) = load_on(&view, b);
            progress.insert(
                b,
                BrokerDrain {
                    phase: DrainPhase::Uncordoning,
                    cordoned: true,
                    replicas_left: replicas,
                    bytes_left: bytes,
                },
            );
        }
        board_tx.send_modify(|bd| {
            for b in &unregistered {
                bd.decommission.wanted.remove(b);
            }
            bd.decommission.brokers = progress;
        });
        tracing::debug!(cluster = %self.cluster, idle, running = self.running.is_some(),
            listed = ?d.wanted, "decommission step");
        let drain = if idle && self.running.is_none() {
            self.drain_plan(board, &view, cluster_id, &unregistered)
        } else {
            None
        };
        Ok(Step { drain })
    }

    /// Brokers kmedic cordoned that are no longer listed.
    fn unlisted(&self, d: &DecommissionBoard) -> Vec<i32> {
        self.cordoned.difference(&d.wanted).copied().collect()
    }

    /// The drain of every listed broker that still hosts replicas, planned on the board's view.
    fn drain_plan(
        &mut self,
        board: &Board,
        view: &ClusterView,
        cluster_id: &str,
        skip: &[i32],
    ) -> Option<(BTreeSet<i32>, ExecPlan)> {
        let hosting = view.hosting_brokers();
        let brokers: BTreeSet<i32> = board
            .decommission
            .wanted
            .iter()
            .copied()
            .filter(|b| hosting.contains(b) && !skip.contains(b))
            .collect();
        if brokers.is_empty() {
            return None;
        }
        let mut verdicts = snapshot::Verdicts::default();
        for f in &board.findings {
            match (f.kind, f.broker) {
                (FindingKind::DeadBroker, Some(b)) => {
                    verdicts.dead.insert(b);
                }
                (FindingKind::SuspectBroker | FindingKind::HungBroker, Some(b)) => {
                    verdicts.suspect.insert(b);
                }
                _ => {}
            }
        }
        verdicts
            .decommissioning
            .clone_from(&board.decommission.wanted);
        let snap = snapshot::build(view, &self.limits, &verdicts, None, view.observed_at_ms);
        let request = Request::Decommission {
            brokers: brokers.iter().copied().collect(),
        };
        let p = plan::plan(&snap, &self.planner, &request);
        let stuck = super::round::needs_a_person(&p);
        let msg = format!("{} moves, {} unplaceable", p.moves.len(), stuck.len());
        if let Some(u) = stuck.first() {
            if self.once(-2, "unplaceable", msg.clone()) {
                warn!(cluster = %self.cluster, brokers = ?brokers, count = stuck.len(),
                    first = %u, "decommission: replicas cannot be placed; a person must look");
            }
        }
        if p.moves.is_empty() {
            let first = p.unplaceable.first().map(ToString::to_string);
            let msg = format!(
                "no move: {} unplaceable, first {first:?}",
                p.unplaceable.len()
            );
            if self.once(-2, "nothing", msg) {
                info!(cluster = %self.cluster, brokers = ?brokers,
                    unplaceable = p.unplaceable.len(), first = first.as_deref().unwrap_or("-"),
                    warnings = p.warnings.len(), "decommission: nothing to move this round");
            }
            return None;
        }
        self.said.remove(&(-2, "nothing"));
        info!(cluster = %self.cluster, brokers = ?brokers, moves = p.moves.len(),
            bytes = p.totals.bytes_moved, unplaceable = p.unplaceable.len(),
            first = %p.moves[0], "decommission: draining (planned on this round's view)");
        let mut ex = ExecPlan::new(cluster_id, None, &p);
        ex.plan_id = format!("{cluster_id}-decommission");
        Some((brokers, ex))
    }

    async fn cordon(
        &mut self,
        journal: &dyn Journal,
        ops: &dyn CordonOps,
        cluster_id: &str,
        view: &ClusterView,
        b: i32,
    ) -> Result<(), actionlog::Error> {
        if view.brokers.get(&b).is_none_or(|x| x.fenced) {
            if self.once(b, "cordon", "down".into()) {
                warn!(cluster = %self.cluster, broker = b, "decommission: cannot cordon a broker \
                    that is down (the request goes to the broker itself); its replicas are \
                    still drained, and it is cordoned when it is back");
            }
            return Ok(());
        }
        let why = format!(
            "decommission of broker {b}: cordon it (cordoned.log.dirs = *) so Kafka places no new \
             partition on it while it is drained"
        );
        let out = self
            .act(
                journal,
                cluster_id,
                ActionKind::Cordon,
                b,
                why,
                ops.cordon(b),
            )
            .await?;
        match out {
            Ok(()) => {
                self.cordoned.insert(b);
                self.said.remove(&(b, "cordon"));
                info!(cluster = %self.cluster, broker = b, "cordoned (KIP-1066): no new \
                    partition is placed on it");
            }
            Err(e) => {
                if self.once(b, "cordon", e.clone()) {
                    warn!(cluster = %self.cluster, broker = b, error = %e, "cordon failed; \
                        retried every round; the drain goes on (new topics may still land on \
                        it meanwhile)");
                }
            }
        }
        Ok(())
    }

    async fn uncordon(
        &mut self,
        journal: &dyn Journal,
        ops: &dyn CordonOps,
        cluster_id: &str,
        view: &ClusterView,
        b: i32,
    ) -> Result<(), actionlog::Error> {
        if view.brokers.get(&b).is_none_or(|x| x.fenced) {
            if self.once(b, "uncordon", "down".into()) {
                warn!(cluster = %self.cluster, broker = b, "decommission deleted, but the \
                    broker is down: it is uncordoned when it is back");
            }
            return Ok(());
        }
        let why = format!("decommission of broker {b} deleted by the operator: uncordon it");
        let out = self
            .act(
                journal,
                cluster_id,
                ActionKind::Uncordon,
                b,
                why,
                ops.uncordon(b),
            )
            .await?;
        match out {
            Ok(()) => {
                self.cordoned.remove(&b);
                self.said.retain(|(x, _), _| *x != b);
                info!(cluster = %self.cluster, broker = b, "uncordoned: Kafka may place new \
                    partitions on it again");
            }
            Err(e) => {
                if self.once(b, "uncordon", e.clone()) {
                    warn!(cluster = %self.cluster, broker = b, error = %e,
                        "uncordon failed; retried every round");
                }
            }
        }
        Ok(())
    }

    /// Unregisters drained, shut-down `b`; true when it is done.
    async fn unregister(
        &mut self,
        journal: &dyn Journal,
        ops: &dyn CordonOps,
        cluster_id: &str,
        b: i32,
    ) -> Result<bool, actionlog::Error> {
        let why = format!(
            "decommission of broker {b}: it holds no replica and is shut down; unregister it \
             (decommission.unregister = true)"
        );
        let out = self
            .act(
                journal,
                cluster_id,
                ActionKind::Unregister,
                b,
                why,
                ops.unregister(b),
            )
            .await?;
        match out {
            Ok(()) => {
                self.cordoned.remove(&b);
                self.said.retain(|(x, _), _| *x != b);
                info!(cluster = %self.cluster, broker = b, "decommissioned broker unregistered \
                    (its cordon stays in the cluster metadata: a new broker with this id starts \
                    cordoned)");
                Ok(true)
            }
            Err(e) => {
                if self.once(b, "unregister", e.clone()) {
                    warn!(cluster = %self.cluster, broker = b, error = %e,
                        "unregister failed; retried every round");
                }
                Ok(false)
            }
        }
    }

    /// Intent, the call, outcome. `Err` only when the log refused a record.
    async fn act(
        &self,
        journal: &dyn Journal,
        cluster_id: &str,
        kind: ActionKind,
        b: i32,
        why: String,
        call: futures::future::BoxFuture<'_, Result<(), String>>,
    ) -> Result<Result<(), String>, actionlog::Error> {
        let id = actionlog::record::new_action_id(&self.master_id);
        let mut intent = ActionRecord::intent(cluster_id, id, None, kind, why, &self.master_id);
        intent.brokers = vec![b];
        journal.record(&intent).await?;
        let out = call.await;
        let outcome = actionlog::Outcome {
            status: if out.is_ok() {
                OutcomeStatus::Succeeded
            } else {
                OutcomeStatus::Failed
            },
            detail: out.as_ref().err().cloned().unwrap_or_default(),
            command: None,
        };
        journal.record(&intent.outcome_of(outcome)).await?;
        Ok(out)
    }
}

/// Replicas on `b` and their bytes.
fn load_on(view: &ClusterView, b: i32) -> (usize, u64) {
    let mut n = 0;
    let mut bytes = 0u64;
    for p in view.partitions.iter().filter(|p| p.replicas.contains(&b)) {
        n += 1;
        let tp = crate::observe::TopicPartition {
            topic: p.topic.clone(),
            partition: p.partition,
        };
        bytes = bytes.saturating_add(view.sizes_bytes.get(&tp).copied().unwrap_or(0));
    }
    (n, bytes)
}

#[cfg(test)]
#[path = "decommission_tests.rs"]
mod tests;
