//! The executor: the only code that changes a cluster (DESIGN "Decision stream").
//!
//! A plan runs as steps, each judged done from FRESH cluster state (never from what was sent):
//!
//! 1. check each move against fresh state: a move planned on a view that no longer holds (the
//!    replicas changed), on a partition someone else is reassigning (rule 2), or to a dead
//!    destination is dropped with a typed [`CancelReason`], never forced;
//! 2. set the throttle ([`throttle`]): rates on the broker-DEFAULT resource, so a dead broker
//!    never blocks it (rule 10), and the throttled replicas on each moving topic;
//! 3. submit moves in batches within the concurrency limits ([`batch`]: moves per broker and per
//!    cluster, bytes in flight); each move has a timeout of max(bytes / rate x factor, floor);
//! 4. track: ListPartitionReassignments and Metadata say when a move is done; DescribeLogDirs
//!    sizes of the new replicas (against the leader's) give progress in bytes, a rate and an
//!    ETA ([`progress`]), published on a `watch` channel and logged every 30 s or 10 %;
//!    a move with no byte progress for `stuck_after_secs` is reported ([`Event::Stuck`]) and,
//!    with `cancel_stuck`, cancelled; a destination that dies cancels ONLY its partitions
//!    (CancelPartitionReassignments), reported in [`Outcome::replan`]; the rest carries on;
//! 5. elect preferred leaders (each checked on fresh state: the target leads the replica list,
//!    is alive and in sync);
//! 6. clear the throttle, always: after success, a cancel, or an error. After a crash, the next
//!    start either resumes the moves ([`Executor::resume`]) and clears at the end, or clears
//!    what it finds left ([`clear_leftovers`]).
//!
//! Every action is preceded by [`Journal::intent`] and followed by [`Journal::outcome`]; when
//! either fails, the executor takes no further action (the fence, rule 8).
//!
//! Status of moves and steps: [`Status`] with an allowed-transition table.

mod actions;
pub mod adaptive;
mod batch;
mod elect;
mod journal;
mod ops;
mod progress;
mod run;
mod status;
mod throttle;
mod track;

#[cfg(test)]
mod fake;
#[cfg(test)]
mod tests;

pub use actions::clear_leftovers;
pub use batch::{admit, timeout_secs, Candidate, Load};
pub use journal::{ActionKind, ActionOutcome, ActionRecord, Journal, JournalError, LogJournal};
pub use ops::{AdminError, ClusterOps, Fresh, PartitionState};
pub use progress::{MoveProgress, PlanProgress};
pub use status::{CancelReason, IllegalTransition, Status};
pub use throttle::{Leftovers, FOLLOWER_RATE, FOLLOWER_REPLICAS, LEADER_RATE, LEADER_REPLICAS};
pub use track::Tracked;

use std::collections::BTreeMap;

use serde::Serialize;
use tokio::sync::watch;

use crate::config::ExecuteConfig;
use crate::observe::TopicPartition;
use crate::plan::Plan;
use crate::policy::DecisionId;

/// A plan to carry out: the moves and elections of a [`Plan`], with the decision it answers.
#[derive(Debug, Clone, PartialEq)]
pub struct ExecPlan {
    /// An id for logs and the journal (`<cluster id>-<decision>` by default).
    pub plan_id: String,
    /// The cluster id.
    pub cluster_id: String,
    /// The decision the plan answers.
    pub decision: Option<DecisionId>,
    /// The moves, in plan order.
    pub moves: Vec<Tracked>,
    /// Preferred-leader elections: (partition, the leader it elects, whether a reorder move
    /// of the same plan must complete first, what it is for: `actions::purpose`).
    pub elections: Vec<(TopicPartition, i32, bool, &'static str)>,
}

impl ExecPlan {
    /// The moves and elections of `plan`, answering `decision`.
    pub fn new(cluster_id: &str, decision: Option<DecisionId>, plan: &Plan) -> Self {
        let moves = plan
            .moves
            .iter()
            .map(|m| {
                Tracked::new(
                    TopicPartition {
                        topic: m.topic.to_string(),
                        partition: m.partition,
                    },
                    m.old_replicas.clone(),
                    m.new_replicas.clone(),
                    m.bytes_to_copy,
                )
            })
            .collect();
        let elections = plan
            .elections
            .iter()
            .map(|e| {
                (
                    TopicPartition {
                        topic: e.topic.to_string(),
                        partition: e.partition,
                    },
                    e.new_leader,
                    e.after_reorder,
                    elect::purpose(&e.reason),
                )
            })
            .collect();
        let plan_id = match decision {
            Some(d) => format!("{cluster_id}-{d}"),
            None => format!("{cluster_id}-plan"),
        };
        Self {
            plan_id,
            cluster_id: cluster_id.to_string(),
            decision,
            moves,
            elections,
        }
    }
}

/// A move kmedic started and has not seen complete (from the action log after a restart).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ResumeMove {
    /// The partition.
    pub partition: TopicPartition,
    /// Replicas before.
    pub old_replicas: Vec<i32>,
    /// Replicas submitted.
    pub new_replicas: Vec<i32>,
    /// Bytes planned.
    pub bytes: u64,
}

/// Something alerts care about.
#[derive(Debug, Clone, PartialEq, Serialize)]
#[serde(tag = "event", rename_all = "snake_case")]
pub enum Event {
    /// No byte progress for `secs`.
    Stuck {
        /// The partition.
        partition: TopicPartition,
        /// Seconds without progress.
        secs: u64,
        /// Bytes copied so far.
        copied_bytes: u64,
        /// Bytes to copy.
        total_bytes: u64,
    },
    /// A move was cancelled or dropped; `replan` says whether the planner should see it again.
    Cancelled {
        /// The partition.
        partition: TopicPartition,
        /// Why.
        reason: CancelReason,
        /// Whether it needs a new plan.
        replan: bool,
    },
}

/// How a plan ended.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct Outcome {
    /// The final progress (every move's status).
    pub progress: PlanProgress,
    /// Partitions to plan again, and why they were not moved.
    pub replan: Vec<(TopicPartition, CancelReason)>,
    /// Events raised during the run, in order.
    pub events: Vec<Event>,
    /// Throttle configs that could not be removed (resource, error); empty when all were.
    pub throttle_clear_errors: Vec<String>,
}

/// Why the executor stopped before the plan was through.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum ExecError {
    /// The journal refused a record: no further action was taken (not even clearing the
    /// throttle: whoever owns the action log now does that).
    #[error("stopped acting: {0}")]
    Journal(#[from] JournalError),
    /// The cluster could not be read before anything was done.
    #[error("reading the cluster: {0}")]
    Admin(Box<AdminError>),
    /// The throttle could not be set, so nothing was submitted (never move unthrottled).
    #[error("setting the throttle failed, nothing was submitted: {0}")]
    Throttle(Box<AdminError>),
}

/// A handle to cancel a running plan.
#[derive(Debug, Clone)]
pub struct CancelHandle(watch::Sender<bool>);

impl CancelHandle {
    /// Cancels: kmedic's running reassignments are cancelled, nothing more is submitted, the
    /// throttle is cleared.
    pub fn cancel(&self) {
        self.0.send_replace(true);
    }
}

/// Carries out plans on one cluster through `O`, recording every action in `J`.
pub struct Executor<O, J> {
    ops: O,
    journal: J,
    cfg: ExecuteConfig,
    progress: watch::Sender<PlanProgress>,
    cancel: watch::Receiver<bool>,
    cancel_tx: watch::Sender<bool>,
    rate_tx: watch::Sender<u64>,
    rate: watch::Receiver<u64>,
    net_tx: watch::Sender<BTreeMap<i32, adaptive::BrokerNet>>,
    net: watch::Receiver<BTreeMap<i32, adaptive::BrokerNet>>,
    seq: u64,
}

/// A handle to change the throttle rate of the running plan (adaptive throttle).
#[derive(Debug, Clone)]
pub struct ThrottleHandle {
    tx: watch::Sender<u64>,
    net: watch::Sender<BTreeMap<i32, adaptive::BrokerNet>>,
    cfg: ExecuteConfig,
}

impl ThrottleHandle {
    /// Asks for `rate` bytes per second (clamped to the configured band, see
    /// [`adaptive::rate`]); the executor applies it at its next poll, through the journal, and
    /// only when it differs by more than 10 % from the rate in force.
    pub fn set(&self, rate: u64) {
        self.tx.send_replace(adaptive::clamp(rate, &self.cfg));
    }

    /// The brokers' latest network figures (from their agents), for the adaptive throttle:
    /// with `execute.adaptive_throttle`, the running plan re-computes its rate from them at its
    /// next poll (see [`adaptive`]). Without it, they are ignored.
    pub fn observe(&self, nets: BTreeMap<i32, adaptive::BrokerNet>) {
        self.net.send_replace(nets);
    }
}

impl<O: ClusterOps, J: Journal> Executor<O, J> {
    /// An executor with `cfg` (validated by the config loader).
    pub fn new(ops: O, journal: J, cfg: ExecuteConfig) -> Self {
        let (cancel_tx, cancel) = watch::channel(false);
        let (rate_tx, rate) = watch::channel(cfg.throttle_bytes_per_sec);
        let (net_tx, net) = watch::channel(BTreeMap::new());
        Self {
            ops,
            journal,
            cfg,
            progress: watch::Sender::new(PlanProgress::default()),
            cancel,
            cancel_tx,
            rate_tx,
            rate,
            net_tx,
            net,
            seq: 0,
        }
    }

    /// Progress of the plan being carried out (the board and the UI subscribe).
    pub fn progress(&self) -> watch::Receiver<PlanProgress> {
        self.progress.subscribe()
    }

    /// A handle that cancels the running plan.
    pub fn cancel_handle(&self) -> CancelHandle {
        CancelHandle(self.cancel_tx.clone())
    }

    /// A handle that changes the throttle rate while a plan runs.
    pub fn throttle_handle(&self) -> ThrottleHandle {
        ThrottleHandle {
            tx: self.rate_tx.clone(),
            net: self.net_tx.clone(),
            cfg: self.cfg.clone(),
        }
    }

    /// The cluster operations (for tests and the caller's own reads).
    pub fn ops(&self) -> &O {
        &self.ops
    }

    /// Carries out `plan` to its end.
    pub async fn execute(&mut self, plan: ExecPlan) -> Result<Outcome, ExecError> {
        self.run(plan).await
    }

    /// Tracks moves kmedic submitted before a restart to completion without submitting them
    /// again: a move Kafka still runs with exactly this target is followed; one Kafka shows
    /// done is done; one that ended otherwise is reported for re-planning. The throttle is
    /// set again (idempotent) and cleared at the end.
    pub async fn resume(
        &mut self,
        cluster_id: &str,
        decision: Option<DecisionId>,
        moves: Vec<ResumeMove>,
    ) -> Result<Outcome, ExecError> {
        let mut plan = ExecPlan::new(cluster_id, decision, &Plan::default());
        plan.plan_id = format!("{}-resume", plan.plan_id);
        plan.moves = moves
            .into_iter()
            .map(|m| {
                let mut t = Tracked::new(m.partition, m.old_replicas, m.new_replicas, m.bytes);
                t.submitted = true;
                t.resumed = true;
                t
            })
            .collect();
        self.run(plan).await
    }
}
