//! The acting side of one cluster (issue 8): an [`Actor`] follows the cluster's board and
//! carries out what the round decided, off the round (the round keeps polling while a plan
//! runs).
//!
//! - A plan runs only when EVERY decision it answers is `Verdict::Act` (not DryRun, not Hold:
//!   the policy already turns dry-run and maintenance into those), the action log is open and
//!   not fenced, and no plan is running. While one runs, later rounds' plans wait; after it
//!   ends, only a board from a round that started after the end is considered (the round
//!   re-plans the `replan` partitions from fresh state; nothing is repeated from a stale view).
//! - `ReplaceHost` decisions go to the [`Replacer`] once per decision; `replacer.watch` runs
//!   every round.
//! - Alerts: `alert::from_decisions` every round, executor `Stuck` events, failed and held-back
//!   replacements, and a fenced master.
//! - Fenced (the action log refused a write): the actor stops acting for good.
//! - No action log (it could not be opened or read): the actor observes and alerts, never acts.
//!
//! Progress of the running plan goes on the board (`Board::executing`).

use std::collections::{BTreeMap, BTreeSet};
use std::sync::Arc;

use futures::future::BoxFuture;
use kmedic_common::admin::AdminClient;
use tokio::sync::watch;
use tokio::task::JoinHandle;
use tracing::{error, info, warn};

use super::board::Board;
use crate::actionlog::{self, ActionLog, ActionRecord, ExecutorJournal};
use crate::alert::{self, Alert, Alerter};
use crate::clock::{self, Now};
use crate::config::ExecuteConfig;
use crate::execute::{self, ExecError, Executor, Outcome};
use crate::policy::{Action, DecisionId, Verdict};
use crate::replace::{Replaced, Replacer};

type Exec = Executor<Arc<AdminClient>, ExecutorJournal>;
type Running = JoinHandle<(Exec, Result<Outcome, ExecError>)>;

/// What the actor may do, decided once at start.
#[derive(Clone)]
pub enum Acting {
    /// The action log is open and was read back: act.
    Enabled {
        /// The log (the fence).
        log: Arc<ActionLog>,
        /// Every committed record, in log order.
        records: Arc<Vec<ActionRecord>>,
    },
    /// Observe, decide and alert only; the reason is logged once.
    Disabled(String),
}

/// Everything one cluster's actor needs.
pub struct ActorConfig {
    /// The configured cluster name.
    pub cluster: String,
    /// The cluster id, when known at start (else learned from the first view).
    pub cluster_id: Option<String>,
    /// The master's id in records.
    pub master_id: String,
    /// `action_log.transactional_id` (for the fenced-master alert).
    pub transactional_id: String,
    /// `[execute]`.
    pub execute: ExecuteConfig,
    /// `[replace]`.
    pub replace: crate::config::ReplaceConfig,
    /// The admin client the executor changes the cluster through.
    pub admin: Arc<AdminClient>,
    /// The sinks and de-duplication.
    pub alerter: Alerter,
    /// Whether to act.
    pub acting: Acting,
}

/// One cluster's actor.
pub struct Actor {
    cfg: ActorConfig,
    board_tx: watch::Sender<Board>,
    cluster_id: Option<String>,
    executor: Option<Exec>,
    replacer: Option<Replacer>,
    /// The running plan and the decision it carries out (none for a resumed, approved or
    /// decommission plan that has none).
    running: Option<(Option<DecisionId>, Running)>,
    /// Boards of rounds up to this one are not acted on (set when a plan ends).
    acted_through_round: u64,
    replaced: BTreeSet<DecisionId>,
    hosts: BTreeMap<i32, String>,
    fenced: bool,
    started: bool,
    last_blocked: Option<String>,
    /// Why the approved plan waits, as last logged (logged once per reason).
    approved_held: Option<String>,
    /// The last action-log write that failed for another reason than a fence (cleared when a
    /// plan ends without one): raises `action_log_unavailable` while set.
    log_write_error: Option<String>,
    /// Decommissions (cordon, drain, uncordon, unregister): `act_decommission.rs`.
    decommissions: Option<super::decommission::Decommissions>,
    /// The throttle handle of the plan this actor started last: each round's broker network
    /// figures go to it (the adaptive throttle, `execute.adaptive_throttle`).
    throttle: Option<execute::ThrottleHandle>,
    /// When the running plan was launched (monotonic ms): its end line says how long it took.
    plan_started_mono_ms: u64,
}

impl Actor {
    /// An actor publishing progress to `board_tx`.
    pub fn new(cfg: ActorConfig, board_tx: watch::Sender<Board>) -> Self {
        Self {
            cluster_id: cfg.cluster_id.clone(),
            cfg,
            board_tx,
            executor: None,
            replacer: None,
            running: None,
            acted_through_round: 0,
            replaced: BTreeSet::new(),
            hosts: BTreeMap::new(),
            fenced: false,
            started: false,
            last_blocked: None,
            approved_held: None,
            log_write_error: None,
            decommissions: None,
            throttle: None,
            plan_started_mono_ms: 0,
        }
    }

    /// Follows the board until `stop` resolves. A running plan is left to finish in Kafka (its
    /// moves are in the log: the next start resumes them).
    pub async fn run(mut self, stop: impl std::future::Future<Output = ()>) {
        let mut rx = self.board_tx.subscribe();
        tokio::pin!(stop);
        if let Acting::Disabled(why) = &self.cfg.acting {
            error!(cluster = %self.cfg.cluster, reason = %why,
                "NOT ACTING: the master observes, decides and alerts, but changes nothing on \
                 this cluster (no action log to record actions in)");
        }
        loop {
            let finished = async {
                match self.running.as_mut() {
                    Some((_, h)) => Some(h.await),
                    None => std::future::pending().await,
                }
            };
            tokio::select! {
                _ = &mut stop => return,
                joined = finished => {
                    let (id, _) = self.running.take().expect("a plan was running");
                    match joined {
                        Some(Ok((ex, result))) => {
                            self.executor = Some(ex);
                            self.decommission_ended();
                            self.plan_ended(id, result);
                        }
                        Some(Err(e)) => error!(cluster = %self.cfg.cluster, error = %e,
                            "executor task failed; no plan runs until the next start"),
                        None => {}
                    }
                    // The round in progress may have observed before the end: skip it too.
                    self.acted_through_round = rx.borrow().round + 1;
                }
                changed = rx.changed() => {
                    if changed.is_err() {
                        return;
                    }
                    let board = rx.borrow_and_update().clone();
                    self.on_board(&board).await;
                }
            }
        }
    }

    fn on_board<'a>(&'a mut self, board: &'a Board) -> BoxFuture<'a, ()> {
        Box::pin(self.on_board_inner(board))
    }

    async fn on_board_inner(&mut self, board: &Board) {
        // Our own progress updates change the board too: act once per round.
        if board.round <= self.acted_through_round || board.status != super::board::Status::Ran {
            return;
        }
        self.acted_through_round = board.round;
        if let (Some(h), true) = (&self.throttle, self.running.is_some()) {
            h.observe(board.broker_net.clone());
        }
        let now = Now::read();
        let mut active = alert::from_decisions(&self.cfg.cluster, &board.decisions);
        active.extend(self.round_alerts(board));
        self.cfg.alerter.update_and_send(&active, now.mono_ms);
        if let Some(v) = &board.cluster_view {
            for b in v.brokers.values() {
                self.hosts.insert(b.id, b.host.clone());
            }
            if self.cluster_id.is_none() {
                self.cluster_id = Some(v.cluster_id.clone());
            }
        }
        let Acting::Enabled { log, records } = self.cfg.acting.clone() else {
            return;
        };
        if self.fenced || log.is_fenced() {
            return self.fence("the action log is fenced");
        }
        let Some(cluster_id) = self.cluster_id.clone() else {
            return;
        };
        if !self.started {
            self.start(&log, &records, &cluster_id).await;
            if self.running.is_some() {
                return;
            }
        }
        if let (Some(r), Some(v)) = (self.replacer.as_mut(), &board.cluster_view) {
            if let Err(e) = watch_boxed(r, &log, v).await {
                warn!(cluster = %self.cfg.cluster, error = %e, "recording a caught-up replacement failed");
                if e.is_fenced() {
                    return self.fence("the action log refused a caught-up record");
                }
            }
        }
        self.replace_hosts(board, &log).await;
        if self.fenced {
            return;
        }
        self.maybe_execute(board, &cluster_id);
        self.decommission_round(board, &log, &cluster_id).await;
    }

    /// At the first acting round: the executor, the replacer with its history, and either the
    /// moves the log shows in flight (resumed, never resubmitted) or a clean-up of throttles an
    /// earlier run left.
    async fn start(&mut self, log: &Arc<ActionLog>, records: &[ActionRecord], cluster_id: &str) {
        self.started = true;
        let journal = ExecutorJournal::new(log.clone(), self.cfg.master_id.clone());
        let state = actionlog::restore(records.iter().cloned()).cluster(cluster_id);
        self.replacer = Some(Replacer::new(
            self.cfg.replace.clone(),
            cluster_id,
            &self.cfg.master_id,
            state.replacements,
        ));
        let ex = Executor::new(
            self.cfg.admin.clone(),
            journal.clone(),
            self.cfg.execute.clone(),
        );
        let (decision, moves) = resume_moves(records, cluster_id);
        if moves.is_empty() {
            match clear_boxed(
                &self.cfg.admin,
                &journal,
                cluster_id,
                self.cfg.execute.throttle_bytes_per_sec,
            )
            .await
            {
                Ok(l) if l.is_empty() => {}
                Ok(l) => info!(cluster = %self.cfg.cluster, rates = l.rates,
                    topics = %crate::text::list(&l.topics),
                    "cleared throttles an earlier run left (no move of ours in flight)"),
                Err(ExecError::Journal(execute::JournalError::Fenced)) => {
                    return self.fence("the action log refused the leftover-throttle clean-up")
                }
                Err(e) => warn!(cluster = %self.cfg.cluster, error = %e,
                    "checking for leftover throttles failed; retried at the next start"),
            }
            self.executor = Some(ex);
            return;
        }
        info!(cluster = %self.cfg.cluster, moves = moves.len(),
            decision = decision.map(tracing::field::display),
            "resuming the moves the action log shows in flight: tracked to the end, nothing is \
             submitted again");
        let job = run::Job::Resume {
            cluster_id: cluster_id.to_string(),
            decision,
            moves,
        };
        self.launch(decision, ex, job);
    }

    /// `ReplaceHost` decisions, each once.
    async fn replace_hosts(&mut self, board: &Board, log: &Arc<ActionLog>) {
        let now = Now::read();
        for d in &board.decisions {
            let Verdict::Act(Action::ReplaceHost { broker }) = d.verdict else {
                continue;
            };
            if !self.replaced.insert(d.id) {
                continue;
            }
            let Some(r) = self.replacer.as_mut() else {
                return;
            };
            let host = self.hosts.get(&broker).cloned().unwrap_or_default();
            match replace_boxed(r, log, broker, &host, d).await {
                Ok(out) => {
                    if let Some(a) = out.alert(&self.cfg.cluster, broker) {
                        self.cfg.alerter.event_and_send(&a, now.mono_ms);
                    }
                    if let Replaced::Ran {
                        succeeded,
                        action_id,
                        ..
                    } = &out
                    {
                        info!(cluster = %self.cfg.cluster, broker, %action_id, succeeded,
                            "replacement command ran");
                    }
                }
                Err(e) => {
                    error!(cluster = %self.cfg.cluster, broker, error = %e,
                        "replacement not run: the action log refused its intent");
                    if log.is_fenced() {
                        return self.fence("the action log refused a replacement intent");
                    }
                    // Not fenced: try again at the next round.
                    self.replaced.remove(&d.id);
                }
            }
        }
    }

    /// The alerts of this round besides the decisions' (R3): the plan's replicas no round will
    /// place, and an action log this actor cannot use (never opened or read back, or its last
    /// write refused).
    fn round_alerts(&self, board: &Board) -> Vec<Alert> {
        let cluster = &self.cfg.cluster;
        let mut out = Vec::new();
        if let Some(w) = &board.plan {
            out.extend(alert::heal_impossible(cluster, &w.decisions, &w.plan));
        }
        let why = match &self.cfg.acting {
            Acting::Disabled(why) => Some(why.as_str()),
            Acting::Enabled { .. } => self.log_write_error.as_deref(),
        };
        out.extend(why.map(|w| alert::action_log_unavailable(cluster, w)));
        out
    }

    fn fence(&mut self, why: &str) {
        if self.fenced {
            return;
        }
        self.fenced = true;
        error!(cluster = %self.cfg.cluster, master_id = %self.cfg.master_id, reason = why,
            "FENCED: another master with the same action_log.transactional_id took over; this \
             master takes no further action on this cluster");
        let a = Alert::fenced_master(
            &self.cfg.cluster,
            &self.cfg.master_id,
            &self.cfg.transactional_id,
        );
        self.cfg.alerter.event_and_send(&a, Now::read().mono_ms);
    }
}

// Boxed so the actor's future is provably Send (rustc cannot see through the `&dyn Journal`
// held across the replacer's awaits otherwise).
fn clear_boxed<'a>(
    admin: &'a Arc<AdminClient>,
    journal: &'a ExecutorJournal,
    cluster_id: &'a str,
    rate: u64,
) -> BoxFuture<'a, Result<execute::Leftovers, ExecError>> {
    Box::pin(execute::clear_leftovers(admin, journal, cluster_id, rate))
}

fn watch_boxed<'a>(
    r: &'a mut Replacer,
    log: &'a ActionLog,
    view: &'a crate::observe::ClusterView,
) -> BoxFuture<'a, Result<Vec<crate::replace::CatchUp>, actionlog::Error>> {
    Box::pin(r.watch(log, view))
}

fn replace_boxed<'a>(
    r: &'a mut Replacer,
    log: &'a ActionLog,
    broker: i32,
    host: &'a str,
    d: &'a crate::policy::Decision,
) -> BoxFuture<'a, Result<Replaced, crate::replace::Error>> {
    Box::pin(r.replace(log, broker, host, Some(d.id), &d.reason, clock::wall_ms()))
}

#[path = "act_mode.rs"]
mod mode;
#[path = "act_run.rs"]
mod run;

pub use mode::{record_mode, ModeLog};
pub use run::{resume_moves, runnable};

#[path = "act_decommission.rs"]
mod decommission_glue;

#[cfg(test)]
#[path = "act_tests.rs"]
mod tests;
