//! The running master: warm start from the checkpoint, stats ingest, a poll loop per cluster
//! (observe, detect, decide), and periodic checkpoints, until the shutdown future resolves.
//!
//! Detectors are held until the stats replay has caught up: before that, every agent looks
//! silent, and "silent" is half of a death verdict. Execution is a later issue: an `Act`
//! decision is planned and the plan logged, nothing is changed on the cluster.

use std::sync::atomic::Ordering;
use std::sync::Arc;
use std::time::Duration;

use kmedic_common::admin::AdminClient;
use tokio::sync::watch;
use tracing::{error, info, warn};

use crate::config::{ClusterConfig, MasterConfig};
use crate::detect::{self, DetectInput, Finding, FindingKind};
use crate::ingest::{self, Ingest};
use crate::model::{checkpoint, lock, Fleet};
use crate::observe::{self, now_ms, snapshot};
use crate::plan;
use crate::policy::{Action, Decision, Policy, Verdict};

/// What one poll round of one cluster found, decided and planned (for tests, and later the
/// REST API and UI).
#[derive(Debug, Clone)]
pub struct RoundReport {
    /// The configured cluster name.
    pub cluster: String,
    /// The detectors' findings.
    pub findings: Vec<Finding>,
    /// The policy's decisions.
    pub decisions: Vec<Decision>,
    /// Plans made for `Act` and `DryRun` decisions (not executed).
    pub plans: Vec<(plan::Request, plan::Plan)>,
}

/// Where round reports go, if anywhere.
pub type Reports = Option<tokio::sync::mpsc::UnboundedSender<RoundReport>>;

/// Errors that stop the master from starting.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum Error {
    /// The stats consumer could not be set up.
    #[error(transparent)]
    Ingest(#[from] ingest::Error),
    /// A cluster's admin client could not be built.
    #[error("cluster {0}: {1}")]
    Admin(String, Box<kmedic_common::admin::Error>),
}

/// Runs the master until `shutdown` resolves, then writes a last checkpoint.
pub async fn run(
    cfg: MasterConfig,
    shutdown: impl std::future::Future<Output = ()> + Send,
) -> Result<(), Error> {
    run_with(cfg, shutdown, None).await
}

/// [`run`], also sending a [`RoundReport`] per cluster per round to `reports`.
pub async fn run_with(
    cfg: MasterConfig,
    shutdown: impl std::future::Future<Output = ()> + Send,
    reports: Reports,
) -> Result<(), Error> {
    let started = std::time::Instant::now();
    let fleet = Fleet::new();
    let mut start_ms = now_ms().saturating_sub(cfg.window.window_secs * 1000);
    match checkpoint::load(&cfg.checkpoint.path, &cfg.window) {
        Ok(Some(ck)) => {
            info!(
                path = %cfg.checkpoint.path.display(),
                clusters = ck.models.len(),
                watermark_ms = ck.watermark_ms,
                load_ms = started.elapsed().as_millis() as u64,
                "warm start from checkpoint; replaying only newer stats"
            );
            start_ms = start_ms.max(ck.watermark_ms);
            for m in ck.models {
                fleet.insert(m);
            }
        }
        Ok(None) => info!("no checkpoint: cold start, replaying one window of stats"),
        Err(e) => warn!(error = %e, "checkpoint unusable: cold start, replaying one window"),
    }
    // Models must exist before the replay starts, or the replayed stats of a cluster whose id
    // is not configured would be dropped as "unknown cluster". Learn such ids now.
    let mut admins = Vec::new();
    for c in &cfg.clusters {
        let admin = AdminClient::new(c.connection.clone())
            .map_err(|e| Error::Admin(c.name.clone(), Box::new(e)))?;
        match &c.cluster_id {
            Some(id) => {
                fleet.register(id, &cfg.window);
            }
            None => match admin.describe_cluster(false).await {
                Ok(d) => {
                    info!(cluster = %c.name, cluster_id = %d.cluster_id, "learned cluster id");
                    fleet.register(&d.cluster_id, &cfg.window);
                }
                Err(e) => warn!(cluster = %c.name, error = %e,
                    "cluster id unknown at start: its stats are skipped until it answers; set \
                     cluster_id in the config to avoid this"),
            },
        }
        admins.push((c.clone(), admin));
    }
    let ingest = Arc::new(Ingest::new(fleet.clone()));
    ingest
        .counters
        .watermark_ms
        .fetch_max(start_ms, Ordering::Relaxed);
    let consumer = ingest::consumer(&cfg.stats.connection, "kmedic-master")?;
    let ends = ingest::assign_from(
        &consumer,
        &cfg.stats.topic,
        start_ms,
        cfg.stats.connection.request_timeout(),
    )?;

    let (stop_tx, stop_rx) = watch::channel(false);
    let stopped = |mut rx: watch::Receiver<bool>| async move {
        let _ = rx.wait_for(|s| *s).await;
    };
    let mut tasks = tokio::task::JoinSet::new();
    tasks.spawn(ingest::run(
        consumer,
        ingest.clone(),
        ends,
        stopped(stop_rx.clone()),
    ));
    for (c, admin) in admins {
        tasks.spawn(cluster_loop(
            c,
            cfg.clone(),
            admin,
            fleet.clone(),
            ingest.clone(),
            stop_rx.clone(),
            reports.clone(),
        ));
    }
    let ck_every = Duration::from_secs(cfg.checkpoint.interval_secs);
    let mut tick = tokio::time::interval_at(tokio::time::Instant::now() + ck_every, ck_every);
    tokio::pin!(shutdown);
    loop {
        tokio::select! {
            _ = &mut shutdown => break,
            _ = tick.tick() => save_checkpoint(&cfg, &fleet, &ingest).await,
        }
    }
    info!("shutting down");
    let _ = stop_tx.send(true);
    while tasks.join_next().await.is_some() {}
    save_checkpoint(&cfg, &fleet, &ingest).await;
    Ok(())
}

/// Writes a checkpoint of every model. Each model is encoded under its own lock (short), the
/// file is written off the async threads.
pub async fn save_checkpoint(cfg: &MasterConfig, fleet: &Fleet, ingest: &Ingest) {
    let t = std::time::Instant::now();
    let watermark = ingest.counters.watermark_ms.load(Ordering::Relaxed);
    let models: Vec<_> = fleet.all().into_iter().map(|m| lock(&m).clone()).collect();
    let refs: Vec<_> = models.iter().collect();
    let path = cfg.checkpoint.path.clone();
    let bytes = match checkpoint::encode(&refs, now_ms(), watermark) {
        Ok(b) => b,
        Err(e) => return error!(error = %e, "checkpoint not written"),
    };
    let len = bytes.len();
    match tokio::task::spawn_blocking(move || checkpoint::write_atomic(&path, &bytes)).await {
        Ok(Ok(())) => info!(
            bytes = len,
            clusters = models.len(),
            watermark_ms = watermark,
            took_ms = t.elapsed().as_millis() as u64,
            "checkpoint written"
        ),
        Ok(Err(e)) => error!(error = %e, "checkpoint not written"),
        Err(e) => error!(error = %e, "checkpoint task failed"),
    }
}

async fn cluster_loop(
    c: ClusterConfig,
    cfg: MasterConfig,
    admin: AdminClient,
    fleet: Fleet,
    ingest: Arc<Ingest>,
    mut stop: watch::Receiver<bool>,
    reports: Reports,
) {
    let mut policy = Policy::new(c.name.clone(), c.policy.clone());
    let mut tick = tokio::time::interval(Duration::from_secs(cfg.poll_interval_secs));
    tick.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
    loop {
        tokio::select! {
            _ = stop.wait_for(|s| *s) => return,
            _ = tick.tick() => {}
        }
        // A round must end even if a dying broker swallows admin requests.
        let budget = c.connection.request_timeout() * 3;
        let observed = tokio::time::timeout(
            budget,
            observe::observe_once(&c.name, c.cluster_id.as_deref(), &admin),
        )
        .await;
        let view = match observed {
            Ok(Ok(v)) => v,
            Ok(Err(e)) => {
                warn!(cluster = %c.name, error = %e, "observe failed; no decisions this round");
                continue;
            }
            Err(_) => {
                warn!(cluster = %c.name, budget_ms = budget.as_millis() as u64,
                    "observe timed out; no decisions this round");
                continue;
            }
        };
        let model = fleet.register(&view.cluster_id, &cfg.window);
        if !ingest.counters.caught_up.load(Ordering::Relaxed) {
            info!(cluster = %c.name, "holding detectors: stats replay not caught up yet, so \
                agents would look silent");
            continue;
        }
        let now = now_ms();
        let (findings, snap) = {
            let mut m = lock(&model);
            for tp in view.reassignments.keys() {
                m.windows.mark_reassigning(&tp.topic, tp.partition, now);
            }
            let input = DetectInput {
                view: &view,
                agents: &m.agents,
                now_ms: now,
                agent_silence_ms: c.policy.agent_silence_secs * 1000,
                limits: &c.limits,
            };
            let findings = detect::run_all(&input);
            let mut v = snapshot::Verdicts::default();
            for f in &findings {
                let Some(b) = f.broker else { continue };
                match f.kind {
                    FindingKind::DeadBroker => v.dead.insert(b),
                    FindingKind::SuspectBroker | FindingKind::HungBroker => v.suspect.insert(b),
                    _ => false,
                };
            }
            let snap = snapshot::build(&view, &c.limits, &v, Some(&m), now);
            (findings, snap)
        };
        let decisions = policy.decide(&findings, &view, crate::clock::Now::read());
        let mut plans = Vec::new();
        for d in &decisions {
            let (Verdict::Act(Action::Plan(req)) | Verdict::DryRun(Action::Plan(req))) = &d.verdict
            else {
                continue;
            };
            let p = plan::plan(&snap, &c.planner, req);
            info!(cluster = %c.name, request = %req, moves = p.moves.len(),
                elections = p.elections.len(), unplaceable = p.unplaceable.len(),
                bytes = p.totals.bytes_moved,
                "planned; execution is not built yet, nothing was changed");
            plans.push((req.clone(), p));
        }
        if let Some(tx) = &reports {
            let _ = tx.send(RoundReport {
                cluster: c.name.clone(),
                findings,
                decisions,
                plans,
            });
        }
    }
}
