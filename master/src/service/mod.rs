//! The running master: wiring and shutdown only. Warm start from the checkpoint, the stats
//! ingest task, one task per cluster that runs a [`Round`] every `poll_interval_secs`, and
//! periodic checkpoints, until the shutdown future resolves.
//!
//! - [`round`]: one observe -> detect -> decide -> plan pass of one cluster, as one function.
//! - [`board`]: the per-cluster status board (a `watch`) each round publishes to.
//!
//! - [`act`]: one actor per cluster carries out the round's `Act` decisions (executor,
//!   replacement, alerts), recorded in the action log.
//!
//! Start-up order for acting: the action log is opened FIRST (that fences any older master of
//! the group), then read back: modes are restored (effective = config || log) before the first
//! round, and each actor resumes the moves the log shows in flight (or clears leftover
//! throttles). If the log cannot be opened or read, the master observes, decides and alerts,
//! but acts on nothing.

pub mod act;
pub mod approved;
pub mod board;
pub mod deaths;
pub mod decommission;
pub mod round;
#[cfg(test)]
pub(crate) mod testlog;

use std::sync::atomic::Ordering;
use std::sync::Arc;
use std::time::Duration;

use kmedic_common::admin::AdminClient;
use tokio::sync::watch;
use tracing::{error, info, warn};

use crate::clock::{self, Now};
use crate::config::MasterConfig;
use crate::ingest::{self, Ingest};
use crate::model::{checkpoint, lock, Fleet};
use crate::observe::AdminSource;

pub use board::{Board, Boards};
pub use round::{Round, RoundConfig, Source};

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
    /// The HTTP server could not start (the message names the key to fix).
    #[error("{0}")]
    Serve(String),
    /// The alert sinks could not be set up (the message names the key to fix).
    #[error("alert: {0}")]
    Alert(String),
}

/// Runs the master until `shutdown` resolves, then writes a last checkpoint.
pub async fn run(
    cfg: MasterConfig,
    shutdown: impl std::future::Future<Output = ()> + Send,
) -> Result<(), Error> {
    let boards = Boards::new(&cfg);
    run_with(cfg, shutdown, boards).await
}

/// [`run`], publishing each cluster's rounds on `boards` (subscribe before calling).
pub async fn run_with(
    cfg: MasterConfig,
    shutdown: impl std::future::Future<Output = ()> + Send,
    boards: Boards,
) -> Result<(), Error> {
    let started = std::time::Instant::now();
    let fleet = Fleet::new();
    let mut start_ms = clock::wall_ms().saturating_sub(cfg.window.window_secs * 1000);
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
    let mut sources = Vec::new();
    for c in &cfg.clusters {
        let admin = AdminClient::new(c.connection.clone())
            .map_err(|e| Error::Admin(c.name.clone(), Box::new(e)))?;
        let mut learned = None;
        match &c.cluster_id {
            Some(id) => {
                fleet.register(id, &cfg.window);
            }
            None => match admin.describe_cluster(false).await {
                Ok(d) => {
                    info!(cluster = %c.name, cluster_id = %d.cluster_id, "learned cluster id");
                    fleet.register(&d.cluster_id, &cfg.window);
                    learned = Some(d.cluster_id);
                }
                Err(e) => warn!(cluster = %c.name, error = %e,
                    "cluster id unknown at start: its stats are skipped until it answers; set \
                     cluster_id in the config to avoid this"),
            },
        }
        let source = AdminSource {
            cluster: c.name.clone(),
            expected_id: c.cluster_id.clone(),
            admin,
            // A round must end even if a dying broker swallows admin requests.
            budget: c.connection.request_timeout() * 3,
        };
        let round = RoundConfig {
            cluster: c.clone(),
            window: cfg.window,
            ingest: cfg.ingest,
            summary_every_ms: cfg.log_summary_secs.saturating_mul(1000),
        };
        let board = boards
            .sender(&c.name)
            .unwrap_or_else(|| watch::Sender::new(Board::default()));
        let id = c.cluster_id.clone().or(learned);
        sources.push((Round::new(round, board.clone()), source, id, board));
    }
    let acting = open_action_log(&cfg).await;
    let ingest = Arc::new(Ingest::with_config(fleet.clone(), cfg.ingest));
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
    // The HTTP server (API, UI, /metrics): reads the boards, sends operator commands to the
    // cluster loops.
    let mut commands = crate::serve::Receivers::new();
    let mut served = None;
    if let Some((server, listener, rx)) = crate::serve::start(&cfg, &boards, &fleet, &ingest)
        .await
        .map_err(Error::Serve)?
    {
        commands = rx;
        if let act::Acting::Enabled { log, .. } = &acting {
            server.attach_actions(log.history());
        }
        served = Some(server.clone());
        let stop = stopped(stop_rx.clone());
        tasks.spawn(async move {
            if let Err(e) = server.serve(listener, stop).await {
                error!(error = %e, "HTTP server stopped");
            }
        });
    }
    let poll = Duration::from_secs(cfg.poll_interval_secs);
    let master_id = cfg.action_log.master_id();
    for (mut round, source, cluster_id, board) in sources {
        let rx = commands.remove(round.cluster());
        let name = round.cluster().to_string();
        let Some(c) = cfg.clusters.iter().find(|c| c.name == name) else {
            continue;
        };
        let mut mode_log = None;
        if let act::Acting::Enabled { records, .. } = &acting {
            // Ids go on from the earlier masters' (never d1 again: one id, one decision).
            let last = crate::actionlog::replay::last_decision_id(records).unwrap_or(0);
            round.policy_mut().continue_ids_after(last);
        }
        if let (act::Acting::Enabled { log, records }, Some(id)) = (&acting, &cluster_id) {
            restore_modes(&mut round, c, records, id);
            let seeded = deaths::restore(round.policy_mut(), records, id, Now::read());
            if !seeded.is_empty() {
                info!(cluster = %c.name, brokers = %crate::text::list(seeded.keys()),
                    "brokers kmedic moved replicas off, from the action log: one that reads as a \
                     stale registration is replaced replace_grace_secs after that move (later \
                     than after its death, never earlier)");
            }
            mode_log = Some(act::ModeLog {
                log: log.clone(),
                cluster_id: id.clone(),
                master_id: master_id.clone(),
            });
        }
        if let Some(s) = &served {
            let st = match (&acting, &cluster_id) {
                (act::Acting::Enabled { records, .. }, Some(id)) => {
                    Some(crate::actionlog::restore(records.iter().cloned()).cluster(id))
                }
                _ => None,
            };
            s.restore_controls(
                &name,
                cluster_id.as_deref(),
                st.as_ref(),
                mode_log.is_some(),
            );
        }
        let decommissions = decommission::start(&board, c, &cfg, &master_id, &acting, &cluster_id);
        let admin = AdminClient::new(c.connection.clone())
            .map_err(|e| Error::Admin(c.name.clone(), Box::new(e)))?;
        let actor = act::Actor::new(
            act::ActorConfig {
                cluster: name.clone(),
                cluster_id,
                master_id: master_id.clone(),
                transactional_id: cfg.action_log.transactional_id.clone(),
                execute: cfg.execute.clone(),
                replace: cfg.replace.clone(),
                admin: Arc::new(admin),
                alerter: crate::alert::Alerter::new(&cfg.alert)
                    .map_err(|e| Error::Alert(e.to_string()))?,
                acting: acting.clone(),
            },
            board.clone(),
        )
        .with_decommissions(decommissions);
        tasks.spawn(actor.run(stopped(stop_rx.clone())));
        tasks.spawn(cluster_loop(
            round,
            source,
            poll,
            fleet.clone(),
            ingest.clone(),
            Operator {
                commands: rx,
                mode_log,
                board,
            },
            stopped(stop_rx.clone()),
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
/// file is written off the async threads. Logged at debug when it works (it happens every
/// `checkpoint.interval_secs`); a failure is an error.
pub async fn save_checkpoint(cfg: &MasterConfig, fleet: &Fleet, ingest: &Ingest) {
    let t = std::time::Instant::now();
    let watermark = ingest.counters.watermark_ms.load(Ordering::Relaxed);
    let models: Vec<_> = fleet.all().into_iter().map(|m| lock(&m).clone()).collect();
    let refs: Vec<_> = models.iter().collect();
    let path = cfg.checkpoint.path.clone();
    let bytes = match checkpoint::encode(&refs, clock::wall_ms(), watermark) {
        Ok(b) => b,
        Err(e) => return error!(error = %e, "checkpoint not written"),
    };
    let len = bytes.len();
    match tokio::task::spawn_blocking(move || checkpoint::write_atomic(&path, &bytes)).await {
        Ok(Ok(())) => tracing::debug!(
            bytes = len,
            clusters = models.len(),
            watermark_ms = watermark,
            took_ms = t.elapsed().as_millis() as u64,
            "checkpoint written"
        ),
        Ok(Err(e)) => error!(error = %e, path = %cfg.checkpoint.path.display(),
            "checkpoint not written"),
        Err(e) => error!(error = %e, "checkpoint task failed"),
    }
}

/// A cluster loop's operator side: commands from the HTTP server, and where mode changes are
/// persisted (`None`: no action log; applied, not persisted).
struct Operator {
    commands: Option<tokio::sync::mpsc::Receiver<crate::serve::Command>>,
    mode_log: Option<act::ModeLog>,
    /// The cluster's board (decommission requests and modes go on it for the actor).
    board: watch::Sender<Board>,
}

/// Runs `round` every `poll` until `stop` resolves. Rounds never overlap: a slow round delays
/// the next tick rather than queueing a burst. Operator commands from the HTTP server are
/// applied between rounds, as soon as they arrive (never in the middle of one).
async fn cluster_loop(
    mut round: Round,
    source: AdminSource,
    poll: Duration,
    fleet: Fleet,
    ingest: Arc<Ingest>,
    mut operator: Operator,
    stop: impl std::future::Future<Output = ()>,
) {
    let mut tick = tokio::time::interval(poll);
    tick.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
    tokio::pin!(stop);
    let cluster = round.cluster().to_string();
    loop {
        tokio::select! {
            _ = &mut stop => return,
            cmd = crate::serve::next_command(&mut operator.commands) => {
                // Persisted before it is applied (restored at the next start).
                if act::record_mode(operator.mode_log.as_ref(), &cluster, &cmd).await
                    && decommission::record(operator.mode_log.as_ref(), &cluster, &cmd).await
                {
                    cmd.apply(&cluster, round.policy_mut());
                    decommission::on_command(&operator.board, &cmd);
                    approved::on_command(&operator.board, &cmd);
                }
                continue;
            }
            _ = tick.tick() => {}
        }
        let caught_up = || ingest.counters.caught_up.load(Ordering::Relaxed);
        tokio::select! {
            _ = &mut stop => return,
            _ = round.run(&source, &fleet, caught_up, Now::read) => {}
        }
    }
}

/// Opens the action log (fencing any older master of the group), then reads it back. Either
/// failing leaves the master observing only: logged loudly here, and by each actor.
async fn open_action_log(cfg: &MasterConfig) -> act::Acting {
    let conn = cfg
        .action_log
        .connection
        .clone()
        .unwrap_or_else(|| cfg.stats.connection.clone());
    let log = match crate::actionlog::ActionLog::open(&conn, &cfg.action_log).await {
        Ok(l) => Arc::new(l),
        Err(e) => {
            error!(error = %e, topic = %cfg.action_log.topic,
                "action log cannot be opened: the master will observe and decide but NOT act");
            return act::Acting::Disabled(format!("action log not opened: {e}"));
        }
    };
    let timeout = Duration::from_secs(cfg.action_log.replay_timeout_secs);
    match crate::actionlog::replay::read_records(&conn, &cfg.action_log.topic, timeout).await {
        Ok((records, unparsable)) => {
            // The HTTP server's action history starts from what the log holds.
            log.history().push(&records);
            info!(topic = %cfg.action_log.topic, records = records.len(), unparsable,
                "action log open (older masters of the group fenced) and read back");
            act::Acting::Enabled {
                log,
                records: Arc::new(records),
            }
        }
        Err(e) => {
            error!(error = %e, topic = %cfg.action_log.topic,
                "action log cannot be read back: the master will observe and decide but NOT \
                 act (acting without it would forget in-flight moves and rate limits)");
            act::Acting::Disabled(format!("action log not read: {e}"))
        }
    }
}

/// Restores maintenance and dry-run from the log: effective = config || log (a mode switched
/// on in the config cannot be switched off by the log). The mass-failure override is the log's
/// last word when it has one (an operator switching it off through the API must stay off),
/// else the config's.
fn restore_modes(
    round: &mut Round,
    c: &crate::config::ClusterConfig,
    records: &[crate::actionlog::ActionRecord],
    cluster_id: &str,
) {
    let st = crate::actionlog::restore(records.iter().cloned()).cluster(cluster_id);
    let maintenance = c.policy.maintenance || st.maintenance == Some(true);
    let dry_run = c.policy.dry_run || st.dry_run == Some(true);
    // The operator's last word through the API wins over the config's (it was set later).
    let mass_override = st
        .mass_failure_override
        .unwrap_or(c.policy.mass_failure_override);
    if maintenance != c.policy.maintenance
        || dry_run != c.policy.dry_run
        || mass_override != c.policy.mass_failure_override
    {
        info!(cluster = %c.name, maintenance, dry_run, mass_failure_override = mass_override,
            "modes restored from the action log");
    }
    round.policy_mut().set_maintenance(maintenance);
    round.policy_mut().set_dry_run(dry_run);
    round.policy_mut().set_mass_failure_override(mass_override);
}
