//! The per-cluster status board: what the last round of one cluster saw, found, decided and
//! planned, and what is in flight. One `tokio::sync::watch` per cluster: the round publishes,
//! tests (and later the HTTP server and the executor) subscribe and always read the newest board
//! without holding up the round.

use std::collections::BTreeMap;

use serde::Serialize;
use tokio::sync::watch;

use crate::clock::Now;
use crate::config::MasterConfig;
use crate::detect::{Finding, FindingKind};
use crate::observe::{ClusterView, ReassignmentView, TopicPartition};
use crate::plan::{Plan, Request};
use crate::policy::{Decision, DecisionId};

/// Where the last round got to.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize)]
#[serde(tag = "status", content = "detail", rename_all = "snake_case")]
pub enum Status {
    /// No round has run yet.
    #[default]
    Starting,
    /// Observed, but the detectors are held until the stats replay has caught up (before that,
    /// every agent looks silent).
    WaitingForStats,
    /// Observation failed: no findings or decisions this round (the last ones are kept).
    ObserveFailed(String),
    /// A full round: observe, detect, decide, plan.
    Ran,
}

/// A short summary of the last view.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize)]
pub struct ViewSummary {
    /// `cluster.id`.
    pub cluster_id: String,
    /// The active controller.
    pub controller: Option<i32>,
    /// Registered brokers.
    pub brokers: usize,
    /// Registered and fenced.
    pub fenced: Vec<i32>,
    /// Partitions.
    pub partitions: usize,
    /// Under-replicated partitions (ISR smaller than the replica set).
    pub under_replicated: usize,
    /// Partitions with no leader.
    pub offline: usize,
}

impl ViewSummary {
    /// Summarizes `view`.
    pub fn of(view: &ClusterView) -> Self {
        Self {
            cluster_id: view.cluster_id.clone(),
            controller: view.controller_id,
            brokers: view.brokers.len(),
            fenced: view
                .brokers
                .values()
                .filter(|b| b.fenced)
                .map(|b| b.id)
                .collect(),
            partitions: view.partitions.len(),
            under_replicated: view
                .partitions
                .iter()
                .filter(|p| p.isr.len() < p.replicas.len())
                .count(),
            offline: view
                .partitions
                .iter()
                .filter(|p| p.leader.is_none())
                .count(),
        }
    }
}

/// The round's plan (every request planned together, `plan::plan_round`), and the decisions it
/// answers.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct PlannedWork {
    /// The requests planned, in planning order.
    pub requests: Vec<Request>,
    /// The decision that asked for each request (same order as `requests`).
    pub decisions: Vec<DecisionId>,
    /// The plan (the actor, `service::act`, executes it when every decision it answers is Act).
    pub plan: Plan,
    /// The round that first made this exact plan (a plan repeated unchanged keeps it).
    pub since_round: u64,
}

impl PlannedWork {
    /// The decision that asked for `request`, if it was planned.
    pub fn decision_for(&self, request: &Request) -> Option<DecisionId> {
        self.requests
            .iter()
            .position(|r| r == request)
            .and_then(|i| self.decisions.get(i).copied())
    }
}

/// Work being carried out now. No executor exists yet, so this is what Kafka reports: the
/// partition reassignments in progress (started by anyone).
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize)]
pub struct InFlight {
    /// Reassignments in progress, by partition.
    pub reassignments: BTreeMap<TopicPartition, ReassignmentView>,
}

/// Broker counts by state, from the view and the findings.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Serialize)]
pub struct BrokerCounts {
    /// Registered, unfenced, and no broker finding against it.
    pub ok: usize,
    /// Confirmed dead.
    pub dead: usize,
    /// One signal only.
    pub suspect: usize,
    /// Process stopped or probe failing.
    pub hung: usize,
    /// Registered, fenced, hosting nothing.
    pub stale: usize,
    /// No stats from its agent.
    pub no_stats: usize,
}

impl BrokerCounts {
    /// Counts `view`'s brokers (and absent brokers hosting replicas) by their finding.
    pub fn of(view: &ClusterView, findings: &[Finding]) -> Self {
        let mut c = Self::default();
        let mut ids: std::collections::BTreeSet<i32> = view.brokers.keys().copied().collect();
        ids.extend(view.hosting_brokers());
        for id in ids {
            let kind = findings
                .iter()
                .find(|f| f.broker == Some(id) && f.topic.is_none())
                .map(|f| f.kind);
            match kind {
                Some(FindingKind::DeadBroker) => c.dead += 1,
                Some(FindingKind::SuspectBroker) => c.suspect += 1,
                Some(FindingKind::HungBroker) => c.hung += 1,
                Some(FindingKind::StaleRegistration) => c.stale += 1,
                Some(FindingKind::NoStats) => c.no_stats += 1,
                _ => c.ok += 1,
            }
        }
        c
    }
}

/// One cluster's board.
#[derive(Debug, Clone, Default, PartialEq, Serialize)]
pub struct Board {
    /// The configured cluster name.
    pub cluster: String,
    /// Rounds run so far (1 after the first).
    pub round: u64,
    /// When the last round ran (wall for people, mono for ordering).
    pub at: Option<Now>,
    /// Where the last round got to.
    pub status: Status,
    /// The last successful observation, summarized.
    pub view: Option<ViewSummary>,
    /// Brokers by state, from the last full round.
    pub brokers: BrokerCounts,
    /// The last full round's findings.
    pub findings: Vec<Finding>,
    /// The last full round's decisions (every one, repeats included).
    pub decisions: Vec<Decision>,
    /// The last full round's plan, with the decisions it answers (`None`: nothing asked for).
    pub plan: Option<PlannedWork>,
    /// What is being carried out now.
    pub in_flight: InFlight,
    /// The plan kmedic's executor is carrying out (or last carried out: `finished`), with
    /// bytes, rate and ETA; set by the cluster's actor (`service::act`), not by the round.
    pub executing: Option<crate::execute::PlanProgress>,
    /// Brokers being decommissioned: the operator's list (written by the cluster loop when a
    /// command arrives), and each broker's cordon and drain progress (written by the actor,
    /// `service::decommission`).
    pub decommission: super::decommission::DecommissionBoard,
    /// The last failure-headroom report (the round's what-ifs, at most every minute:
    /// `detect::headroom`); the API, `/metrics` and the UI read it instead of recomputing.
    #[serde(skip)]
    pub headroom: Option<std::sync::Arc<crate::headroom::Report>>,
    /// The last successful observation in full (for the HTTP server's brokers, partitions,
    /// topics and headroom; shared, not copied, by readers).
    #[serde(skip)]
    pub cluster_view: Option<std::sync::Arc<ClusterView>>,
    /// Each broker's network as its agent last measured it, against `[limits]` (set by the
    /// round; the actor passes it to a running plan's adaptive throttle).
    #[serde(skip)]
    pub broker_net: std::collections::BTreeMap<i32, crate::execute::adaptive::BrokerNet>,
    /// A plan an operator approved through the API, waiting for the actor to run it once
    /// (`service::approved`); `None` once taken.
    #[serde(skip)]
    pub approved: Option<crate::serve::Approved>,
}

/// The boards of every configured cluster: the senders stay with the service, anyone may
/// subscribe.
#[derive(Debug, Clone)]
pub struct Boards {
    by_cluster: BTreeMap<String, watch::Sender<Board>>,
}

impl Boards {
    /// An empty board per cluster of `cfg`.
    pub fn new(cfg: &MasterConfig) -> Self {
        let by_cluster = cfg
            .clusters
            .iter()
            .map(|c| {
                let board = Board {
                    cluster: c.name.clone(),
                    ..Board::default()
                };
                (c.name.clone(), watch::Sender::new(board))
            })
            .collect();
        Self { by_cluster }
    }

    /// Subscribes to the board of `cluster` (a configured name).
    pub fn subscribe(&self, cluster: &str) -> Option<watch::Receiver<Board>> {
        self.by_cluster.get(cluster).map(watch::Sender::subscribe)
    }

    /// The sender of `cluster`'s board (for its round).
    pub fn sender(&self, cluster: &str) -> Option<watch::Sender<Board>> {
        self.by_cluster.get(cluster).cloned()
    }
}
