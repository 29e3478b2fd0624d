//! The actor's side of decommissions (see `decommission.rs`): one round's step, and the drain
//! plan. The cordon, uncordon and unregister calls are in `decommission_calls.rs`.

use std::collections::{BTreeMap, BTreeSet};

use tokio::sync::watch;
use tracing::{info, warn};

use super::{BrokerDrain, CordonOps, DecommissionBoard, DrainPhase};
use crate::actionlog::{self, Journal};
use crate::config::{DecommissionConfig, NetworkLimits};
use crate::detect::FindingKind;
use crate::execute::{CancelHandle, ExecPlan};
use crate::observe::{snapshot, ClusterView};
use crate::plan::{self, Request};
use crate::service::board::Board;

#[path = "decommission_calls.rs"]
mod calls;

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
                    info!(cluster = %self.cluster, listed = %crate::text::list(&d.wanted), reason = %why,
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
                warn!(cluster = %self.cluster, brokers = %crate::text::list(&stopped),
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
            listed = %crate::text::list(&d.wanted), "decommission step");
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
        let stuck = crate::service::round::needs_a_person(&p);
        let msg = format!(
            "{}, {} unplaceable",
            crate::text::count(p.moves.len(), "move", "moves"),
            stuck.len()
        );
        if let Some(u) = stuck.first() {
            if self.once(-2, "unplaceable", msg.clone()) {
                warn!(cluster = %self.cluster, brokers = %crate::text::list(&brokers), count = stuck.len(),
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
                info!(cluster = %self.cluster, brokers = %crate::text::list(&brokers),
                    unplaceable = p.unplaceable.len(), first = first.as_deref().unwrap_or("-"),
                    warnings = p.warnings.len(), "decommission: nothing to move this round");
            }
            return None;
        }
        self.said.remove(&(-2, "nothing"));
        info!(cluster = %self.cluster, brokers = %crate::text::list(&brokers), moves = p.moves.len(),
            bytes = p.totals.bytes_moved, unplaceable = p.unplaceable.len(),
            first = %p.moves[0], "decommission: draining (planned on this round's view)");
        let mut ex = ExecPlan::new(cluster_id, None, &p);
        ex.plan_id = format!("{cluster_id}-decommission");
        Some((brokers, ex))
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
