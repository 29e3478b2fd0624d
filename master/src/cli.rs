//! `kmedic-master plan`: observe a real cluster once, build a snapshot, run the planner, and
//! show the plan as a table and in the `kafka-reassign-partitions` JSON format. It never
//! executes anything.
//!
//! Which brokers are dead: the running master needs two signals (Kafka's and the agent's); this
//! one-shot command has no agent stats, so it takes **Kafka's signal only** (fenced, or absent
//! from DescribeCluster while hosting replicas) plus any `--assume-dead` ids, and says so.

use std::collections::BTreeSet;
use std::fmt::Write as _;
use std::path::PathBuf;

use serde::Serialize;

pub mod actions;
pub mod cross_az;
pub mod headroom;
pub mod reassign_io;
pub mod stats_tail;
pub mod status;

use crate::config::{ConnectionSettings, MasterConfig, NetworkLimits};
use crate::model::{checkpoint, ClusterModel};
use crate::observe::{self, snapshot, ClusterView};
use crate::plan::{self, Limits, Plan, Request, Snapshot};

/// Errors of the plan command.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum Error {
    /// The config file was unusable.
    #[error(transparent)]
    Config(#[from] crate::config::Error),
    /// The cluster name is not in the config.
    #[error("no cluster named {0:?} in the config; names: {1}")]
    UnknownCluster(String, String),
    /// The connection settings were unusable.
    #[error("connection settings: {0}")]
    Admin(Box<kmedic_common::admin::Error>),
    /// Observing the cluster failed.
    #[error(transparent)]
    Observe(Box<observe::Error>),
    /// The request needs brokers and none were given.
    #[error("{0}")]
    Usage(String),
    /// Writing the JSON file failed.
    #[error("writing {path}: {source}")]
    Write {
        /// The file.
        path: PathBuf,
        /// The cause.
        source: std::io::Error,
    },
}

/// `Result` with this module's [`Error`].
pub type Result<T, E = Error> = std::result::Result<T, E>;

/// What to plan.
#[derive(Debug, Clone, Copy, PartialEq, Eq, clap::ValueEnum)]
pub enum RequestKind {
    /// Move every replica off the dead brokers.
    Heal,
    /// Bring brokers under their network limits.
    Balance,
    /// Drain the `--brokers`.
    Decommission,
    /// Spread each topic's leaders across racks.
    SpreadLeaders,
    /// Bring the overloaded `--brokers` under their own limits, fewest bytes moved, nothing
    /// else touched (what the master asks when elections did not clear an overload).
    Relieve,
}

/// Everything the plan command needs, resolved from the command line and config.
#[derive(Debug, Clone)]
pub struct PlanTarget {
    /// The cluster's name (for messages).
    pub name: String,
    /// How to reach it.
    pub connection: ConnectionSettings,
    /// The expected cluster id, if configured.
    pub cluster_id: Option<String>,
    /// Network limits.
    pub limits: NetworkLimits,
    /// Planner limits.
    pub planner: Limits,
    /// A checkpoint to take partition rates from, if any.
    pub checkpoint: Option<(PathBuf, crate::config::WindowConfig)>,
}

impl PlanTarget {
    /// Resolves `--cluster NAME` with `--config F`, or a bare `--bootstrap HOST:PORT` with
    /// default limits.
    pub fn resolve(
        name: &str,
        config: Option<&std::path::Path>,
        bootstrap: Option<&str>,
    ) -> Result<Self> {
        if let Some(path) = config {
            let cfg = MasterConfig::load(path)?;
            let c = cfg.cluster(name).ok_or_else(|| {
                let names: Vec<&str> = cfg.clusters.iter().map(|c| c.name.as_str()).collect();
                Error::UnknownCluster(name.into(), names.join(", "))
            })?;
            let mut connection = c.connection.clone();
            if let Some(b) = bootstrap {
                connection.bootstrap_servers = split_list(b);
            }
            return Ok(Self {
                name: name.into(),
                connection,
                cluster_id: c.cluster_id.clone(),
                limits: c.limits.clone(),
                planner: c.planner.clone(),
                checkpoint: Some((cfg.checkpoint.path.clone(), cfg.window)),
            });
        }
        let Some(b) = bootstrap else {
            return Err(Error::Usage(
                "give --config FILE (with the cluster in it) or --bootstrap HOST:PORT".into(),
            ));
        };
        Ok(Self {
            name: name.into(),
            connection: ConnectionSettings::plaintext(split_list(b)),
            cluster_id: None,
            limits: NetworkLimits::default(),
            planner: Limits::default(),
            checkpoint: None,
        })
    }
}

impl PlanTarget {
    /// Overrides the planner's disk limit for this one plan (`plan --max-disk-utilization`).
    /// Refuses NaN and values outside (0, 1], naming the flag.
    pub fn with_max_disk_utilization(mut self, limit: f64) -> Result<Self> {
        if !limit.is_finite() || limit <= 0.0 || limit > 1.0 {
            return Err(Error::Usage(format!(
                "--max-disk-utilization {limit} must be a fraction in (0, 1], for example 0.95 \
                 (the config's planner.max_disk_utilization, default 0.85, applies without it)"
            )));
        }
        self.planner.max_disk_utilization = limit;
        Ok(self)
    }
}

fn split_list(s: &str) -> Vec<String> {
    s.split(',')
        .map(str::trim)
        .filter(|x| !x.is_empty())
        .map(String::from)
        .collect()
}

/// The outcome of one planning run.
#[derive(Debug, Clone, Serialize)]
pub struct PlanReport {
    /// The cluster's name.
    pub cluster: String,
    /// The cluster id observed.
    pub cluster_id: String,
    /// The request planned.
    pub request: Request,
    /// Brokers treated as dead, and why each.
    pub dead: Vec<(i32, String)>,
    /// Notes for the reader (where figures came from).
    pub notes: Vec<String>,
    /// The plan.
    pub plan: Plan,
}

/// Observes the cluster once and plans `kind`. `brokers` are for decommission;
/// `assume_dead` adds to the brokers Kafka reports dead.
pub async fn plan_once(
    target: &PlanTarget,
    kind: RequestKind,
    brokers: &[i32],
    assume_dead: &[i32],
) -> Result<PlanReport> {
    let (view, model) = observe_with_model(target).await?;
    plan_view(target, &view, model.as_ref(), kind, brokers, assume_dead)
}

/// Observes the cluster of `target` once (the one-shot commands: `plan`, `headroom`), with its
/// model from the master's checkpoint when the config names one and it holds this cluster. A
/// checkpoint that cannot be read is logged and skipped: rates are then 0.
pub async fn observe_with_model(
    target: &PlanTarget,
) -> Result<(ClusterView, Option<ClusterModel>)> {
    let admin = kmedic_common::admin::AdminClient::new(target.connection.clone())
        .map_err(|e| Error::Admin(Box::new(e)))?;
    let view = observe::observe_once(&target.name, target.cluster_id.as_deref(), &admin)
        .await
        .map_err(|e| Error::Observe(Box::new(e)))?;
    let model = target
        .checkpoint
        .as_ref()
        .and_then(|(path, w)| match checkpoint::load(path, w) {
            Ok(Some(ck)) => ck
                .models
                .into_iter()
                .find(|m| m.cluster_id == view.cluster_id),
            Ok(None) => None,
            Err(e) => {
                tracing::warn!(error = %e, "ignoring the checkpoint; rates will be 0");
                None
            }
        });
    Ok((view, model))
}

/// Plans on an already observed view (the pure half of [`plan_once`]).
pub fn plan_view(
    target: &PlanTarget,
    view: &ClusterView,
    model: Option<&ClusterModel>,
    kind: RequestKind,
    brokers: &[i32],
    assume_dead: &[i32],
) -> Result<PlanReport> {
    let mut dead: Vec<(i32, String)> = Vec::new();
    for id in view
        .hosting_brokers()
        .union(&view.brokers.keys().copied().collect())
    {
        match view.brokers.get(id) {
            Some(b) if b.fenced => dead.push((*id, "fenced by the controller".into())),
            None => dead.push((*id, "absent from DescribeCluster, hosts replicas".into())),
            _ => {}
        }
    }
    for &id in assume_dead {
        if !dead.iter().any(|d| d.0 == id) {
            dead.push((id, "--assume-dead".into()));
        }
    }
    let mut notes = vec![
        "dead brokers are taken from Kafka's signal only (fenced or absent) plus --assume-dead; \
         the running master also requires its agent to agree"
            .to_string(),
    ];
    notes.push(match model {
        Some(m) => format!(
            "partition rates from the checkpoint's demand windows ({} partitions known)",
            m.windows.len()
        ),
        None => "no stats available: partition rates are 0, placement uses sizes and counts".into(),
    });
    if !view.log_dirs_failed.is_empty() {
        notes.push(format!(
            "DescribeLogDirs failed on brokers {:?}: their replica sizes are missing",
            view.log_dirs_failed
        ));
    }
    let request = match kind {
        RequestKind::Heal => Request::Heal {
            dead: dead.iter().map(|d| d.0).collect(),
        },
        RequestKind::Balance => Request::Balance,
        RequestKind::SpreadLeaders => Request::SpreadLeaders,
        RequestKind::Decommission => {
            if brokers.is_empty() {
                return Err(Error::Usage(
                    "--request decommission needs --brokers 1,2".into(),
                ));
            }
            Request::Decommission {
                brokers: brokers.to_vec(),
            }
        }
        RequestKind::Relieve => {
            if brokers.is_empty() {
                return Err(Error::Usage("--request relieve needs --brokers 1,2".into()));
            }
            Request::Relieve {
                brokers: brokers.to_vec(),
            }
        }
    };
    let verdicts = snapshot::Verdicts {
        dead: dead.iter().map(|d| d.0).collect::<BTreeSet<_>>(),
        suspect: BTreeSet::new(),
        decommissioning: match &request {
            Request::Decommission { brokers } => brokers.iter().copied().collect(),
            _ => BTreeSet::new(),
        },
    };
    let snap: Snapshot = snapshot::build(view, &target.limits, &verdicts, model, observe::now_ms());
    let plan = plan::plan(&snap, &target.planner, &request);
    Ok(PlanReport {
        cluster: target.name.clone(),
        cluster_id: view.cluster_id.clone(),
        request,
        dead,
        notes,
        plan,
    })
}

/// A readable rendering of a report: header, moves, elections, unplaceable, totals.
pub fn render_table(r: &PlanReport) -> String {
    let mut s = String::new();
    let p = &r.plan;
    let _ = writeln!(s, "cluster {} ({}): {}", r.cluster, r.cluster_id, r.request);
    for (id, why) in &r.dead {
        let _ = writeln!(s, "  dead: broker {id} ({why})");
    }
    for n in &r.notes {
        let _ = writeln!(s, "  note: {n}");
    }
    let _ = writeln!(s, "\nMOVES ({})", p.moves.len());
    let _ = writeln!(
        s,
        "{:<40} {:<18} {:<18} {:>14}  REASON",
        "PARTITION", "FROM", "TO", "BYTES"
    );
    for m in &p.moves {
        let _ = writeln!(
            s,
            "{:<40} {:<18} {:<18} {:>14}  {}",
            format!("{}-{}", m.topic, m.partition),
            format!("{:?}", m.old_replicas),
            format!("{:?}", m.new_replicas),
            m.bytes_to_copy,
            m.reason
        );
    }
    if !p.elections.is_empty() {
        let _ = writeln!(s, "\nELECTIONS ({})", p.elections.len());
        for e in &p.elections {
            let _ = writeln!(s, "  {e}");
        }
    }
    let _ = writeln!(s, "\nUNPLACEABLE ({})", p.unplaceable.len());
    for u in &p.unplaceable {
        let _ = writeln!(s, "  {u}");
    }
    for w in &p.warnings {
        let _ = writeln!(s, "warning: {w}");
    }
    let _ = writeln!(
        s,
        "\nTOTAL: {}, {} bytes to copy, {}",
        crate::text::count(p.moves.len(), "move", "moves"),
        p.totals.bytes_moved,
        crate::text::count(p.elections.len(), "election", "elections")
    );
    for (b, m) in &p.totals.moves_per_broker {
        let _ = writeln!(s, "  broker {b}: {} in, {} out", m.incoming, m.outgoing);
    }
    s
}

#[cfg(test)]
mod tests;
