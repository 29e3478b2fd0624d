//! One round of one cluster, as one function ([`Round::run`]): observe, detect, decide, plan,
//! and publish the result on the cluster's [status board](super::board).
//!
//! Time: the round reads [`Now`] once, after observing. The monotonic half times everything
//! that decides (agent silence in the detectors, grace periods in the policy); the wall half
//! only dates things for the outside world (demand windows keyed by agent timestamps, logs).
//! So a step of the wall clock changes no decision (`round_tests.rs` checks it as a property).
//!
//! Logs are for an operator who runs the service through them: a finding is logged when it
//! appears, changes class (a broker going from suspect to dead), or clears; a decision when it
//! is made or changes (the policy does that); a plan when it differs from the last one for the
//! same request; and one summary line per cluster every `log_summary_secs` and when the brokers'
//! states change. Nothing else is logged every poll at info.

use std::collections::BTreeMap;
use std::future::Future;

use tokio::sync::watch;
use tracing::{debug, info, warn};

use super::board::{Board, BrokerCounts, InFlight, PlannedWork, Status, ViewSummary};
use crate::clock::Now;
use crate::config::{ClusterConfig, IngestConfig, WindowConfig};
use crate::detect::{self, DetectInput, Finding, FindingKind};
use crate::model::{lock, Fleet};
use crate::observe::{self, snapshot, ClusterView};
use crate::plan::{self, Plan, Request};
use crate::policy::{self, Decision, Policy};

/// Where a round's view comes from: the admin client in the service
/// ([`observe::AdminSource`]), a fixed view in tests.
pub trait Source: Sync {
    /// Observes the cluster once (within the source's own time budget).
    fn observe(&self) -> impl Future<Output = observe::Result<ClusterView>> + Send;
}

impl Source for observe::AdminSource {
    fn observe(&self) -> impl Future<Output = observe::Result<ClusterView>> + Send {
        self.observe_once()
    }
}

/// A fixed view (tests, and the fake clusters built with `detect::tests::Fake`).
impl Source for ClusterView {
    fn observe(&self) -> impl Future<Output = observe::Result<ClusterView>> + Send {
        std::future::ready(Ok(self.clone()))
    }
}

/// What a round needs from the configuration.
#[derive(Debug, Clone)]
pub struct RoundConfig {
    /// The cluster.
    pub cluster: ClusterConfig,
    /// Demand windows.
    pub window: WindowConfig,
    /// Clock-skew and duplicate-host thresholds.
    pub ingest: IngestConfig,
    /// Milliseconds between summary lines (0: never).
    pub summary_every_ms: u64,
}

/// How a finding is tracked for logging: broker health is one subject per broker (so suspect
/// turning dead is a change, not a clear and an appearance); anything else is its own subject.
#[derive(Debug, Clone, PartialEq, Eq, PartialOrd, Ord)]
enum Subject {
    Broker(i32),
    Other(FindingKind, Option<i32>, Option<String>),
}

fn is_health(k: FindingKind) -> bool {
    matches!(
        k,
        FindingKind::DeadBroker
            | FindingKind::SuspectBroker
            | FindingKind::HungBroker
            | FindingKind::NoStats
            | FindingKind::StaleRegistration
    )
}

fn subject(f: &Finding) -> Subject {
    match f.broker {
        Some(b) if is_health(f.kind) && f.topic.is_none() => Subject::Broker(b),
        _ => Subject::Other(f.kind, f.broker, f.topic.clone()),
    }
}

/// A finding's class: what must change for it to be logged again (not its figures).
#[derive(Debug, Clone, PartialEq, Eq)]
struct Seen {
    kind: FindingKind,
    rule: String,
    since_mono_ms: u64,
}

/// One cluster's round state, kept across rounds.
#[derive(Debug)]
pub struct Round {
    cfg: RoundConfig,
    policy: Policy,
    board: watch::Sender<Board>,
    round: u64,
    seen: BTreeMap<Subject, Seen>,
    last_plan: Option<PlannedWork>,
    last_summary_mono_ms: Option<u64>,
    last_summary_brokers: Option<BrokerCounts>,
    waiting_logged: bool,
    observe_failures: u64,
    headroom: detect::headroom::HeadroomCheck,
    /// The replicas reassignments were adding at the last polls (a just-ended move's replica
    /// that lagging metadata still shows out of sync is not an unexplained URP).
    recent_adds: detect::under_replicated::RecentAdds,
}

impl Round {
    /// A round for `cfg.cluster` publishing to `board`.
    pub fn new(cfg: RoundConfig, board: watch::Sender<Board>) -> Self {
        let policy = Policy::new(cfg.cluster.name.clone(), cfg.cluster.policy.clone());
        board.send_modify(|b| b.cluster.clone_from(&cfg.cluster.name));
        Self {
            cfg,
            policy,
            board,
            round: 0,
            seen: BTreeMap::new(),
            last_plan: None,
            last_summary_mono_ms: None,
            last_summary_brokers: None,
            waiting_logged: false,
            observe_failures: 0,
            headroom: detect::headroom::HeadroomCheck::default(),
            recent_adds: Default::default(),
        }
    }

    /// The cluster's name.
    pub fn cluster(&self) -> &str {
        &self.cfg.cluster.name
    }

    /// The policy, for operator commands applied between rounds (`serve::Command::apply`).
    pub fn policy_mut(&mut self) -> &mut Policy {
        &mut self.policy
    }

    /// Runs one round: observes through `source`, then reads the clocks once (`now`), and if
    /// the stats replay has `caught_up`, detects, decides and plans. The board is updated in
    /// every case (a failed observation keeps the last findings and says so).
    pub async fn run(
        &mut self,
        source: &impl Source,
        fleet: &Fleet,
        caught_up: impl FnOnce() -> bool,
        now: impl FnOnce() -> Now,
    ) {
        let observed = source.observe().await;
        // Both read after observing: the view is as of now, and a replay that caught up while
        // we observed already counts.
        let now = now();
        let caught_up = caught_up();
        self.round += 1;
        let view = match observed {
            Ok(v) => v,
            Err(e) => return self.observe_failed(e.to_string(), now),
        };
        if self.observe_failures > 0 {
            info!(
                cluster = self.cluster(),
                failed_rounds = self.observe_failures,
                "observing works again"
            );
            self.observe_failures = 0;
        }
        let model = fleet.register(&view.cluster_id, &self.cfg.window);
        if !caught_up {
            if !self.waiting_logged {
                info!(
                    cluster = self.cluster(),
                    "holding detectors until the stats replay has \
                    caught up: before that every agent would look silent"
                );
                self.waiting_logged = true;
            }
            return self.publish(now, Status::WaitingForStats, Some(&view), None);
        }
        if self.waiting_logged {
            info!(
                cluster = self.cluster(),
                "stats replay caught up: detectors running"
            );
            self.waiting_logged = false;
        }
        self.recent_adds.observe(&view);
        let c = &self.cfg.cluster;
        let (mut findings, snap) = {
            let mut m = lock(&model);
            let pruned = m.prune_to_view(&view);
            if !pruned.is_empty() {
                info!(cluster = %c.name, partitions = pruned.partitions, topics = pruned.topics,
                    agents = pruned.agents, "pruned model state the cluster no longer has");
            }
            for tp in view.reassignments.keys() {
                m.windows
                    .mark_reassigning(&tp.topic, tp.partition, now.wall_ms);
            }
            // The running plan's partitions (a reorder before its election is not a finding).
            let changing =
                detect::leader_skew::changing_now(self.board.borrow().executing.as_ref());
            let input = DetectInput {
                view: &view,
                agents: &m.agents,
                now_ms: now.wall_ms,
                mono_ms: now.mono_ms,
                ingest: &self.cfg.ingest,
                agent_silence_ms: c.policy.agent_silence_secs.saturating_mul(1000),
                limits: &c.limits,
                windows: Some(&m.windows),
                recently_added: Some(&self.recent_adds),
                changing: Some(&changing),
            };
            let findings = detect::run_all(&input);
            let net = crate::execute::adaptive::nets(&m.agents, &c.limits);
            self.board.send_modify(|b| b.broker_net = net);
            let snap = snapshot::build(
                &view,
                &c.limits,
                // Brokers being decommissioned receive nothing from any plan of the round.
                &snapshot::Verdicts {
                    decommissioning: super::decommission::listed(&self.board.borrow()),
                    ..verdicts(&findings)
                },
                Some(&m),
                now.wall_ms,
            );
            (findings, snap)
        };
        // Failure headroom (what-ifs off the async threads, at most every minute): a broker
        // whose loss could not be absorbed is a finding, alert only.
        if let Some(r) = self.headroom.report(&snap, &c.planner, now.mono_ms).await {
            findings.extend(detect::headroom::findings(&r));
        }
        // A broker the operator is removing is healed if it dies, never replaced.
        let removing = super::decommission::removing(&self.board.borrow());
        self.policy.set_decommissioning(removing);
        let decisions = self.policy.decide(&findings, &view, now);
        // After the decisions: a new finding whose evidence a decision line carries is not
        // written twice.
        self.log_findings(&findings, &decisions, now);
        let plan = self.plan(&snap, &decisions, &view);
        // Not fed `Policy::elections_cannot_relieve` (relief at the next round when elections
        // cannot relieve a broker): with it, the e2e overload trial failed once in the whole
        // suite (the hot broker over its net-out limit again 10 s after its relief); relief
        // waits `heal_grace_secs` after the elections as before until that is understood.
        self.publish(
            now,
            Status::Ran,
            Some(&view),
            Some((findings, decisions, plan)),
        );
    }

    fn observe_failed(&mut self, error: String, now: Now) {
        self.observe_failures += 1;
        let same = matches!(&self.board.borrow().status,
            Status::ObserveFailed(e) if *e == error);
        if same {
            debug!(cluster = self.cluster(), failed_rounds = self.observe_failures, %error,
                "observe failed again; no decisions this round");
        } else {
            warn!(cluster = self.cluster(), failed_rounds = self.observe_failures, %error,
                "observe failed; no decisions until it works (logged again only if the error \
                 changes)");
        }
        self.publish(now, Status::ObserveFailed(error), None, None);
    }

    /// Logs findings that appeared, changed class or cleared since the last round. A finding
    /// that appeared is logged at debug when a decision about it, logged at INFO this round,
    /// already carries its evidence (one event, one line: the decision with its rule).
    fn log_findings(&mut self, findings: &[Finding], decisions: &[Decision], now: Now) {
        let cluster = self.cfg.cluster.name.as_str();
        let carried = |f: &Finding| {
            decisions
                .iter()
                .zip(self.policy.logged_at_info())
                .any(|(d, &said)| said && d.finding == f.kind && d.reason.contains(&f.evidence))
        };
        let mut current = BTreeMap::new();
        for f in findings {
            let s = subject(f);
            let class = (f.kind, f.rule.to_string());
            let prev = self.seen.get(&s);
            let since = match prev {
                Some(p) if (p.kind, p.rule.clone()) == class => p.since_mono_ms,
                Some(p) => {
                    info!(cluster, finding = ?f.kind, was = ?p.kind, broker = f.broker,
                        topic = f.topic.as_deref(), partitions = f.partitions.len(), rule = %f.rule,
                        "finding changed: {}", f.evidence);
                    now.mono_ms
                }
                None if carried(f) => {
                    debug!(cluster, finding = ?f.kind, broker = f.broker,
                        topic = f.topic.as_deref(), partitions = f.partitions.len(),
                        rule = %f.rule, "finding: {}", f.evidence);
                    now.mono_ms
                }
                None => {
                    info!(cluster, finding = ?f.kind, broker = f.broker, topic = f.topic.as_deref(),
                        partitions = f.partitions.len(), rule = %f.rule,
                        "finding: {}", f.evidence);
                    now.mono_ms
                }
            };
            current.insert(
                s,
                Seen {
                    kind: f.kind,
                    rule: class.1,
                    since_mono_ms: since,
                },
            );
        }
        for (s, p) in &self.seen {
            if !current.contains_key(s) {
                let (broker, topic) = match s {
                    Subject::Broker(b) => (Some(*b), None),
                    Subject::Other(_, b, t) => (*b, t.clone()),
                };
                info!(cluster, finding = ?p.kind, broker, topic = topic.as_deref(),
                    lasted_secs = now.mono_ms.saturating_sub(p.since_mono_ms) / 1000,
                    "finding cleared");
            }
        }
        self.seen = current;
    }

    /// Plans every request the decisions ask for together (`plan::plan_round`: one after
    /// another on the updated snapshot), recorded with the decisions they answer. A plan
    /// identical to the last round's is not logged again.
    fn plan(
        &mut self,
        snap: &plan::Snapshot,
        decisions: &[Decision],
        view: &ClusterView,
    ) -> Option<PlannedWork> {
        let requests = policy::requests(decisions);
        if requests.is_empty() {
            self.last_plan = None;
            return None;
        }
        let ids: Vec<policy::DecisionId> = requests
            .iter()
            .filter_map(|r| {
                decisions
                    .iter()
                    .find(|d| d.request() == Some(r))
                    .map(|d| d.id)
            })
            .collect();
        let plan = plan::plan_round(snap, &self.cfg.cluster.planner, &requests);
        let since_round = match &self.last_plan {
            Some(w) if w.requests == requests && less_or_same_work(&plan, &w.plan) => w.since_round,
            _ => {
                log_plan(&self.cfg.cluster.name, &ids, &requests, &plan, view);
                self.round
            }
        };
        let work = PlannedWork {
            requests,
            decisions: ids,
            plan,
            since_round,
        };
        self.last_plan = Some(work.clone());
        Some(work)
    }

    fn publish(
        &mut self,
        now: Now,
        status: Status,
        view: Option<&ClusterView>,
        done: Option<(Vec<Finding>, Vec<Decision>, Option<PlannedWork>)>,
    ) {
        let round = self.round;
        let headroom = self.headroom.latest();
        self.board.send_modify(|b| {
            b.round = round;
            b.at = Some(now);
            b.status = status;
            if let Some(v) = view {
                b.view = Some(ViewSummary::of(v));
                b.cluster_view = Some(std::sync::Arc::new(v.clone()));
                b.in_flight = InFlight {
                    reassignments: v.reassignments.clone(),
                };
            }
            if let Some((findings, decisions, plan)) = done {
                if let Some(v) = view {
                    b.brokers = BrokerCounts::of(v, &findings);
                }
                b.findings = findings;
                b.decisions = decisions;
                b.plan = plan;
                b.headroom = headroom;
            }
        });
        self.maybe_summary(now);
    }

    /// One line per cluster every `summary_every_ms`, and when the brokers' states change:
    /// what an operator checks first.
    fn maybe_summary(&mut self, now: Now) {
        let every = self.cfg.summary_every_ms;
        let b = self.board.borrow();
        let changed = b.status == Status::Ran && self.last_summary_brokers != Some(b.brokers);
        let due = match self.last_summary_mono_ms {
            None => true,
            Some(t) => changed || (every > 0 && now.mono_ms.saturating_sub(t) >= every),
        };
        if !due {
            return;
        }
        self.last_summary_mono_ms = Some(now.mono_ms);
        if b.status == Status::Ran {
            self.last_summary_brokers = Some(b.brokers);
        }
        let v = b.view.clone().unwrap_or_default();
        let acting = b
            .decisions
            .iter()
            .filter(|d| d.verdict.action().is_some())
            .count();
        let status = match &b.status {
            Status::Starting => "starting",
            Status::WaitingForStats => "waiting for the stats replay",
            Status::ObserveFailed(_) => "observe failing",
            Status::Ran => "running",
        };
        let k = b.brokers;
        info!(cluster = %b.cluster, status, round = b.round, brokers = v.brokers,
            ok = k.ok, dead = k.dead, suspect = k.suspect, hung = k.hung, stale = k.stale,
            no_stats = k.no_stats, partitions = v.partitions, urp = v.under_replicated,
            offline = v.offline, findings = b.findings.len(), acting,
            plan_moves = b.plan.as_ref().map_or(0, |w| w.plan.moves.len()), reassigning = b.in_flight.reassignments.len(), "summary");
    }
}

/// Whether two plans do the same work: the same moves, elections and unplaceable replicas, in
/// any order. Byte counts, load figures and the order are not compared: sizes and rates tick
/// with every stats record (and the planner orders moves by them), and a plan is not news
/// because a partition grew. (The round logs a plan unless it is [`less_or_same_work`] than the
/// last; tests state their cases with this.)
#[cfg(test)]
pub(crate) fn same_work(a: &Plan, b: &Plan) -> bool {
    less_or_same_work(a, b) && less_or_same_work(b, a)
}

/// Whether `new` does nothing that `old` did not: its moves, elections and unplaceable replicas
/// are all in `old` (compared as in [`same_work`]). While a plan is carried out its moves are
/// submitted and done batch by batch, and the next round's plan only loses work: that is
/// progress (the executor logs it), not a new plan.
pub(crate) fn less_or_same_work(new: &Plan, old: &Plan) -> bool {
    use std::collections::BTreeSet;
    let moves = |p: &Plan| -> BTreeSet<(String, i32, Vec<i32>)> {
        p.moves
            .iter()
            .map(|m| (m.topic.to_string(), m.partition, m.new_replicas.clone()))
            .collect()
    };
    let elections = |p: &Plan| -> BTreeSet<(String, i32, i32)> {
        p.elections
            .iter()
            .map(|e| (e.topic.to_string(), e.partition, e.new_leader))
            .collect()
    };
    // Replicas left for the moment (their partition is being moved, by kmedic or anyone) come
    // and go as a reassignment runs: they are not news.
    let unplaced = |p: &Plan| -> BTreeSet<(String, i32, i32)> {
        p.unplaceable
            .iter()
            .filter(|u| !u.reason.is_transient())
            .map(|u| (u.topic.to_string(), u.partition, u.replica))
            .collect()
    };
    moves(new).is_subset(&moves(old))
        && elections(new).is_subset(&elections(old))
        && unplaced(new).is_subset(&unplaced(old))
}

/// The replicas of `p` that no later round will place by itself (capacity, racks, offline):
/// the ones a person must look at. A replica left because its partition is busy is not one.
pub(crate) fn needs_a_person(p: &Plan) -> Vec<&crate::plan::Unplaceable> {
    p.unplaceable
        .iter()
        .filter(|u| !u.reason.is_transient())
        .collect()
}

/// Dead and suspect (or hung) brokers, as the snapshot builder takes them (also the API's
/// what-if snapshots, `serve::figures::snapshot_of`).
pub(crate) fn verdicts(findings: &[Finding]) -> snapshot::Verdicts {
    let mut v = snapshot::Verdicts::default();
    for f in findings {
        let Some(b) = f.broker else { continue };
        match f.kind {
            FindingKind::DeadBroker => v.dead.insert(b),
            FindingKind::SuspectBroker | FindingKind::HungBroker => v.suspect.insert(b),
            _ => false,
        };
    }
    v
}

fn log_plan(
    cluster: &str,
    decisions: &[policy::DecisionId],
    requests: &[Request],
    p: &Plan,
    view: &ClusterView,
) {
    let decisions = decisions
        .iter()
        .map(ToString::to_string)
        .collect::<Vec<_>>()
        .join(",");
    let requests = requests
        .iter()
        .map(ToString::to_string)
        .collect::<Vec<_>>()
        .join("; ");
    let first = p
        .moves
        .first()
        .map(ToString::to_string)
        .or_else(|| p.elections.first().map(ToString::to_string))
        .unwrap_or_default();
    info!(cluster, %decisions, %requests, moves = p.moves.len(), elections = p.elections.len(),
        unplaceable = p.unplaceable.len(), bytes = p.totals.bytes_moved,
        reassigning = view.reassignments.len(), %first,
        "planned (the actor executes it when every decision it answers is Act)");
    // Only what needs a person is a warning: a replica whose partition is busy (being moved,
    // by kmedic's own executor too) is placed by a later round.
    let stuck = needs_a_person(p);
    if let Some(u) = stuck.first() {
        warn!(cluster, %decisions, count = stuck.len(), first = %u,
            "replicas cannot be placed: a person must look");
    }
    if let Some(u) = p.unplaceable.iter().find(|u| u.reason.is_transient()) {
        debug!(cluster, %decisions, first = %u, "replicas left for a later round");
    }
    for w in &p.warnings {
        warn!(cluster, %decisions, warning = %w, "plan warning");
    }
    for m in &p.moves {
        debug!(cluster, %decisions, "move {m}");
    }
}

#[cfg(test)]
#[path = "round_tests.rs"]
mod tests;
