//! The executor on real brokers (issue 8 item 1): a heal planned by the real planner on the real
//! view after a kill, carried out throttled; and a destination killed mid-move, which cancels
//! only its partitions while the others finish.
//!
//! Run: `KMEDIC_TESTBED_PORT_BASE=19700 cargo test -p kmedic-tests --test e2e -- execute::`

use std::sync::Arc;
use std::time::Duration;

use anyhow::{ensure, Context};
use kmedic_common::admin::AdminClient;
use kmedic_common::connection::ConnectionSettings;
use kmedic_master::cli::{plan_view, PlanTarget, RequestKind};
use kmedic_master::config::ExecuteConfig;
use kmedic_master::execute::{
    self, ActionKind, ActionOutcome, ActionRecord, CancelReason, ExecPlan, Executor, Journal,
    JournalError, LogJournal, PlanProgress, ResumeMove, Status, FOLLOWER_RATE, FOLLOWER_REPLICAS,
};
use kmedic_master::observe::{self, TopicPartition};
use kmedic_master::plan::{Move, MoveReason, Plan};
use kmedic_tests::e2e::{trial, Ctx, Restore};
use kmedic_tests::{random_topic, Testbed};
use libtest_mimic::Trial;
use tokio::sync::watch;

use super::product::throttle_configs;

/// The executor's trials.
pub fn trials(ctx: &Arc<Ctx>) -> Vec<Trial> {
    vec![
        trial(
            ctx,
            "execute::heal_after_kill_runs_throttled_and_clears_the_throttle",
            heal_after_kill,
        ),
        trial(
            ctx,
            "execute::dead_destination_cancels_only_its_partitions",
            dead_destination,
        ),
        trial(
            ctx,
            "execute::resume_after_a_crash_tracks_without_resubmitting",
            resume_after_crash,
        ),
    ]
}

const MB: usize = 1024 * 1024;

fn runtime() -> anyhow::Result<tokio::runtime::Runtime> {
    Ok(tokio::runtime::Builder::new_multi_thread()
        .worker_threads(2)
        .enable_all()
        .build()?)
}

fn admin(tb: &Testbed) -> anyhow::Result<Arc<AdminClient>> {
    let conn = ConnectionSettings::plaintext(tb.bootstrap().split(','));
    Ok(Arc::new(AdminClient::new(conn)?))
}

fn exec_cfg(rate: u64) -> ExecuteConfig {
    ExecuteConfig {
        throttle_bytes_per_sec: rate,
        poll_interval_ms: 500,
        progress_log_secs: 2,
        ..ExecuteConfig::default()
    }
}

/// Whether some progress snapshot showed a move part-way (bytes copied, not all), and the
/// highest rate seen.
async fn watch_progress(mut rx: watch::Receiver<PlanProgress>) -> (bool, f64) {
    let (mut partway, mut rate) = (false, 0.0f64);
    while rx.changed().await.is_ok() {
        let p = rx.borrow().clone();
        partway |= p.running > 0 && p.copied_bytes > 0 && p.copied_bytes < p.total_bytes;
        rate = rate.max(p.rate_bytes_per_sec);
        if p.finished {
            break;
        }
    }
    (partway, rate)
}

/// Kills broker 3 (az-c), plans the heal with the real planner on the real view, and executes
/// the moves of this trial's topic at 4 MiB/s: the throttle is seen set while copying, progress
/// is reported part-way, every move completes, the topic's URPs reach 0, and afterwards no
/// throttle config is left.
fn heal_after_kill(ctx: &Ctx) -> anyhow::Result<()> {
    const KILLED: i32 = 3;
    const RATE: u64 = 4 * MB as u64;
    let tb = ctx.shared()?;
    let topic = random_topic("exec-heal");
    tb.create_topic(&topic, 6, 3)?;
    tb.produce(&topic, 24 * MB)?;
    let _restore = Restore::new(&tb, &[KILLED]);
    tb.kill(KILLED)?;
    let rt = runtime()?;
    let admin = admin(&tb)?;
    let mut target = PlanTarget::resolve("testbed", None, Some(&tb.bootstrap()))?;
    // Every testbed broker reports the same shared volume of this machine (other builds and
    // testbeds fill it): the planner's 85 % default would call every broker full here.
    target.planner.max_disk_utilization = 0.99;
    rt.block_on(async {
        let view = tokio::time::timeout(Duration::from_secs(60), async {
            loop {
                let v = observe::observe_once("testbed", None, &admin).await?;
                if v.brokers.get(&KILLED).is_none_or(|b| b.fenced) {
                    return anyhow::Ok(v);
                }
                tokio::time::sleep(Duration::from_millis(500)).await;
            }
        })
        .await
        .context("broker 3 never fenced")??;
        let report = plan_view(&target, &view, None, RequestKind::Heal, &[], &[])?;
        let mut plan: Plan = report.plan;
        plan.moves.retain(|m| *m.topic == *topic);
        plan.elections.clear();
        ensure!(!plan.moves.is_empty(), "no heal move for {topic}: {plan}");
        ensure!(
            plan.moves.iter().all(|m| !m.new_replicas.contains(&KILLED)),
            "{plan}"
        );
        tracing::info!("heal plan:\n{plan}");
        let moves = plan.moves.len();

        let mut ex = Executor::new(admin.clone(), LogJournal, exec_cfg(RATE));
        let watcher = tokio::spawn(watch_progress(ex.progress()));
        let seen = tokio::spawn({
            let admin = admin.clone();
            let topic = topic.clone();
            async move {
                let mut seen = Vec::new();
                for _ in 0..120 {
                    if let Ok(c) = throttle_configs(&admin, &topic).await {
                        if c.len() == 4 {
                            seen = c;
                            break;
                        }
                    }
                    tokio::time::sleep(Duration::from_millis(250)).await;
                }
                seen
            }
        });
        let started = std::time::Instant::now();
        let out = ex
            .execute(ExecPlan::new(&view.cluster_id, None, &plan))
            .await?;
        let secs = started.elapsed().as_secs_f64();
        let (partway, max_rate) = watcher.await?;
        let seen = seen.await?;
        tracing::info!(
            secs,
            copied = out.progress.copied_bytes,
            max_rate,
            "heal executed"
        );
        ensure!(out.replan.is_empty(), "{:?}", out.replan);
        ensure!(out.progress.done == moves, "{:?}", out.progress);
        ensure!(
            out.progress.copied_bytes > 0 && out.progress.copied_bytes == out.progress.total_bytes,
            "{:?}",
            out.progress
        );
        ensure!(partway, "no progress snapshot showed a move part-way");
        ensure!(
            seen.iter()
                .any(|(_, k, v)| k == FOLLOWER_RATE && *v == RATE.to_string())
                && seen.iter().any(|(_, k, _)| k == FOLLOWER_REPLICAS),
            "the throttle was never seen set: {seen:?}"
        );
        ensure!(
            out.throttle_clear_errors.is_empty(),
            "{:?}",
            out.throttle_clear_errors
        );
        let left = throttle_configs(&admin, &topic).await?;
        ensure!(left.is_empty(), "throttle configs left behind: {left:?}");
        let md = admin.metadata().await?;
        let t = md.topic(&topic).context("topic gone")?;
        let urps: Vec<i32> = t
            .partitions
            .iter()
            .filter(|p| p.isr.len() < p.replicas.len() || p.replicas.contains(&KILLED))
            .map(|p| p.partition)
            .collect();
        ensure!(urps.is_empty(), "under-replicated after the heal: {urps:?}");
        anyhow::Ok(())
    })
}

fn mv(topic: &str, partition: i32, old: &[i32], new: &[i32], bytes: u64) -> Move {
    Move {
        topic: topic.into(),
        partition,
        old_replicas: old.to_vec(),
        new_replicas: new.to_vec(),
        bytes_to_copy: bytes,
        reason: MoveReason::Heal { from: old[0] },
    }
}

/// Four moves at 2 MiB/s: partitions 0 and 1 replace broker 1 with 4 (az-a), 2 and 3 replace
/// broker 2 with 5 (az-b). Broker 5 is killed as soon as its moves are copying: partitions 2 and
/// 3 are cancelled (back on their old replicas) and reported for re-planning, 0 and 1 finish,
/// and the throttle is cleared though broker 5 is dead.
fn dead_destination(ctx: &Ctx) -> anyhow::Result<()> {
    const DEAD: i32 = 5;
    let tb = ctx.shared()?;
    let topic = random_topic("exec-dest");
    let a = vec![1, 2, 3];
    let b = vec![2, 3, 1];
    tb.create_topic_with_assignment(&topic, &[a.clone(), a.clone(), b.clone(), b.clone()])?;
    tb.produce(&topic, 24 * MB)?;
    let per = (6 * MB) as u64;
    let plan = Plan {
        moves: vec![
            mv(&topic, 0, &a, &[4, 2, 3], per),
            mv(&topic, 1, &a, &[4, 2, 3], per),
            mv(&topic, 2, &b, &[5, 3, 1], per),
            mv(&topic, 3, &b, &[5, 3, 1], per),
        ],
        ..Plan::default()
    };
    let _restore = Restore::new(&tb, &[DEAD]);
    let rt = runtime()?;
    let admin = admin(&tb)?;
    let mut ex = Executor::new(admin.clone(), LogJournal, exec_cfg(2 * MB as u64));
    let mut rx = ex.progress();
    let out = rt.block_on(async {
        let run = ex.execute(ExecPlan::new(&tb.cluster_id(), None, &plan));
        let kill = async {
            // Kill broker 5 once its moves copy.
            loop {
                if rx.changed().await.is_err() {
                    return anyhow::Ok(());
                }
                let copying = rx.borrow().moves.iter().any(|m| {
                    m.new_replicas.contains(&DEAD)
                        && m.status == Status::Running
                        && m.copied_bytes > 0
                });
                if copying {
                    tracing::info!("killing destination broker {DEAD} mid-move");
                    return tokio::task::block_in_place(|| tb.kill(DEAD)).map_err(Into::into);
                }
            }
        };
        let (out, killed) = tokio::join!(run, kill);
        killed?;
        anyhow::Ok(out?)
    })?;
    let tp = |p| TopicPartition {
        topic: topic.clone(),
        partition: p,
    };
    ensure!(
        out.replan
            == vec![
                (tp(2), CancelReason::DestinationDead { broker: DEAD }),
                (tp(3), CancelReason::DestinationDead { broker: DEAD }),
            ],
        "{:?}",
        out.replan
    );
    ensure!(out.progress.done == 2, "{:?}", out.progress);
    rt.block_on(async {
        let md = admin.metadata().await?;
        let t = md.topic(&topic).context("topic gone")?;
        // Kafka's cancel restores the old replica SET, not its order (it drops the adding
        // replica from [5, 3, 1, 2]: [3, 1, 2]); the executor then restores the order.
        let replicas: Vec<Vec<i32>> = t.partitions.iter().map(|p| p.replicas.clone()).collect();
        ensure!(
            replicas == vec![vec![4, 2, 3], vec![4, 2, 3], b.clone(), b.clone()],
            "{replicas:?}"
        );
        let left = throttle_configs(&admin, &topic).await?;
        ensure!(left.is_empty(), "throttle configs left behind: {left:?}");
        let ongoing = admin.list_partition_reassignments(None).await?;
        ensure!(
            !ongoing.iter().any(|r| r.topic == topic),
            "still reassigning: {ongoing:?}"
        );
        anyhow::Ok(())
    })?;
    Ok(())
}

/// Counts the executor's submit intents.
#[derive(Default)]
struct CountSubmits(std::sync::atomic::AtomicUsize);

impl Journal for CountSubmits {
    async fn intent(&self, a: &ActionRecord) -> Result<(), JournalError> {
        if a.kind == ActionKind::SubmitReassignments {
            self.0.fetch_add(1, std::sync::atomic::Ordering::SeqCst);
        }
        LogJournal.intent(a).await
    }
    async fn outcome(&self, a: &ActionRecord, o: &ActionOutcome) -> Result<(), JournalError> {
        LogJournal.outcome(a, o).await
    }
}

/// A "crash" (the executor's task aborted) mid-move leaves two reassignments running and the
/// throttle set. A new executor resumes the moves: it submits nothing, tracks both to
/// completion, and clears the throttle; a leftover scan afterwards finds nothing.
fn resume_after_crash(ctx: &Ctx) -> anyhow::Result<()> {
    let tb = ctx.shared()?;
    let topic = random_topic("exec-resume");
    let a = vec![1, 2, 3];
    tb.create_topic_with_assignment(&topic, &[a.clone(), a.clone()])?;
    tb.produce(&topic, 8 * MB)?;
    let per = (4 * MB) as u64;
    let plan = Plan {
        moves: vec![
            mv(&topic, 0, &a, &[4, 2, 3], per),
            mv(&topic, 1, &a, &[4, 2, 3], per),
        ],
        ..Plan::default()
    };
    let rt = runtime()?;
    let admin = admin(&tb)?;
    let cluster_id = tb.cluster_id();
    let cfg = exec_cfg(MB as u64);
    rt.block_on(async {
        let mut ex = Executor::new(admin.clone(), LogJournal, cfg.clone());
        let mut rx = ex.progress();
        let exec_plan = ExecPlan::new(&cluster_id, None, &plan);
        let task = tokio::spawn(async move { ex.execute(exec_plan).await });
        loop {
            ensure!(
                rx.changed().await.is_ok(),
                "the executor ended before copying"
            );
            let p = rx.borrow().clone();
            if p.running == 2 && p.copied_bytes > 0 {
                break;
            }
        }
        task.abort();
        let _ = task.await;
        tracing::info!("executor 'crashed' mid-move");
        let left = throttle_configs(&admin, &topic).await?;
        ensure!(
            left.len() == 4,
            "the crash should leave the throttle: {left:?}"
        );
        let ongoing = admin.list_partition_reassignments(None).await?;
        ensure!(
            ongoing.iter().filter(|r| r.topic == topic).count() == 2,
            "{ongoing:?}"
        );

        let journal = Arc::new(CountSubmits::default());
        let mut ex = Executor::new(admin.clone(), journal.clone(), cfg.clone());
        let moves = plan
            .moves
            .iter()
            .map(|m| ResumeMove {
                partition: TopicPartition {
                    topic: topic.clone(),
                    partition: m.partition,
                },
                old_replicas: m.old_replicas.clone(),
                new_replicas: m.new_replicas.clone(),
                bytes: m.bytes_to_copy,
            })
            .collect();
        let out = ex.resume(&cluster_id, None, moves).await?;
        ensure!(out.progress.done == 2, "{:?}", out.progress);
        ensure!(out.replan.is_empty(), "{:?}", out.replan);
        ensure!(
            journal.0.load(std::sync::atomic::Ordering::SeqCst) == 0,
            "resume submitted a reassignment again"
        );
        let left = throttle_configs(&admin, &topic).await?;
        ensure!(left.is_empty(), "throttle configs left behind: {left:?}");
        let found = execute::clear_leftovers(
            &*admin,
            &LogJournal,
            &cluster_id,
            cfg.throttle_bytes_per_sec,
        )
        .await?;
        ensure!(found.is_empty(), "leftovers after resume: {found:?}");
        let md = admin.metadata().await?;
        let t = md.topic(&topic).context("topic gone")?;
        ensure!(
            t.partitions.iter().all(|p| p.replicas == [4, 2, 3]),
            "{:?}",
            t.partitions
        );
        anyhow::Ok(())
    })
}
