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
use crate::actionlog::{self, ActionKind, ActionRecord, OutcomeStatus, Phase};

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
            info!(cluster = %c.name, decommissioning = %crate::text::list(&restored.wanted),
                cordoned_by_kmedic = %crate::text::list(&restored.cordoned),
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

/// The brokers the operator is removing: listed, or drained and unregistered (not those being
/// uncordoned: the operator took them back). The policy heals them if they die, never
/// replaces them.
pub fn removing(board: &Board) -> BTreeSet<i32> {
    let d = &board.decommission;
    let done = d
        .brokers
        .iter()
        .filter(|(_, b)| matches!(b.phase, DrainPhase::Drained | DrainPhase::Unregistered))
        .map(|(&id, _)| id);
    d.wanted.iter().copied().chain(done).collect()
}

#[path = "decommission_drain.rs"]
mod drain;
pub use drain::{Decommissions, Step};

#[cfg(test)]
#[path = "decommission_tests.rs"]
mod tests;
