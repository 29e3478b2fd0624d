//! Operator controls: what the API's mutations change, and the [`Command`]s that carry each
//! change to the cluster's loop.
//!
//! The server validates a mutation, updates its [`Controls`] (what `GET` answers) and sends the
//! command; the cluster loop applies it to its policy between rounds ([`Command::apply`]), so a
//! round never sees a half-applied change.
//!
//! Persistence: maintenance, dry-run and the mass-failure override survive a restart (DESIGN.md
//! rule 5). The cluster loop writes each change to the action log before applying it; at start
//! the log is read back into the policy and into these [`Controls`]
//! (`Server::restore_controls`), and `persisted` answers true. Without an action log (it could
//! not be opened or read, or the cluster id is unknown) changes are held in memory only and
//! `persisted` is false.

use std::collections::BTreeSet;

use serde::{Deserialize, Serialize};
use tracing::info;

use crate::config::PolicyConfig;
use crate::plan::{Plan, Request};
use crate::policy::Policy;

/// One cluster's operator controls.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct Controls {
    /// Maintenance: the master alerts and acts on nothing.
    pub maintenance: bool,
    /// Dry-run: the master plans and logs, and executes nothing.
    pub dry_run: bool,
    /// The operator's override of the mass-failure hold.
    pub mass_failure_override: bool,
    /// Brokers an operator asked to decommission (drained by the executor, issue 8).
    pub decommission: BTreeSet<i32>,
    /// Whether these controls survive a restart: true when mode changes are recorded in the
    /// action log; false when this master has no action log (changes are held in memory only).
    pub persisted: bool,
}

impl Controls {
    /// The controls a cluster starts with: its configured policy.
    pub fn from_config(p: &PolicyConfig) -> Self {
        Self {
            maintenance: p.maintenance,
            dry_run: p.dry_run,
            mass_failure_override: p.mass_failure_override,
            decommission: BTreeSet::new(),
            persisted: false,
        }
    }
}

/// A plan an operator approved through the API.
#[derive(Debug, Clone, PartialEq)]
pub struct Approved {
    /// The proposal's id (`p1`, `p2`, ...).
    pub id: u64,
    /// What was asked.
    pub request: Request,
    /// The plan, as shown to the operator and re-checked at approval.
    pub plan: Plan,
}

/// A change for a cluster's loop.
#[derive(Debug, Clone, PartialEq)]
#[non_exhaustive]
pub enum Command {
    /// Maintenance on or off.
    SetMaintenance(bool),
    /// Dry-run on or off.
    SetDryRun(bool),
    /// Mass-failure override on or off.
    SetMassFailureOverride(bool),
    /// Start (`true`) or stop decommissioning a broker.
    Decommission {
        /// The broker.
        broker: i32,
        /// Start or stop.
        on: bool,
    },
    /// Execute an approved plan (the cluster's actor runs it: `service::approved`).
    Approve(Box<Approved>),
}

impl Command {
    /// Applies the command to `policy` and logs it once. Decommission and approved plans are
    /// for the executor; until it is wired in they are logged and recorded in [`Controls`] only.
    pub fn apply(&self, cluster: &str, policy: &mut Policy) {
        match self {
            Command::SetMaintenance(on) => {
                policy.set_maintenance(*on);
                info!(
                    cluster,
                    maintenance = on,
                    "operator set maintenance (API): the master acts on nothing while it is on"
                );
            }
            Command::SetDryRun(on) => {
                policy.set_dry_run(*on);
                info!(cluster, dry_run = on, "operator set dry-run (API)");
            }
            Command::SetMassFailureOverride(on) => {
                policy.set_mass_failure_override(*on);
                info!(
                    cluster,
                    mass_failure_override = on,
                    "operator set the mass-failure override (API)"
                );
            }
            Command::Decommission { broker, on: true } => info!(
                cluster,
                broker,
                "operator asked to decommission (API); recorded, the actor cordons and drains it"
            ),
            Command::Decommission { broker, on: false } => info!(
                cluster,
                broker,
                "operator stopped a decommission (API); recorded, the actor cancels the drain and \
                 uncordons it"
            ),
            Command::Approve(a) => info!(
                cluster,
                proposal = a.id,
                request = %a.request,
                moves = a.plan.moves.len(),
                elections = a.plan.elections.len(),
                "operator approved a plan (API); the actor runs it once no plan of kmedic's own \
                 is running (held while maintenance, dry-run or a mass failure stands)"
            ),
        }
    }
}
