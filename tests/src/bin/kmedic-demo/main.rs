//! kmedic-demo: the README's live demo (run through deploy/demo.sh).
//!
//! Starts the real Kafka testbed (one controller, 6 brokers in 3 racks), creates a topic with
//! data, starts the built `kmedic-agent` on every broker and the built `kmedic-master`, SIGKILLs
//! a broker, and narrates what the master does from its JSON log: the broker confirmed dead
//! (Kafka's signal and the agent's), the heal grace counting down, the heal plan, and the
//! throttled reassignment with a progress bar, until no partition is under-replicated. Then it
//! reads the action log back from its topic, checks the throttles are gone, and stops every
//! process (also on Ctrl-C or an error: the testbed and each child stop on drop). It fails when
//! the heal does not finish within `--heal-timeout-secs`.

mod kmedic;
mod show;

use std::path::{Path, PathBuf};
use std::process::ExitCode;
use std::sync::atomic::{AtomicBool, Ordering};
use std::time::{Duration, Instant};

use anyhow::{bail, Context};
use clap::Parser;
use kmedic_tests::product::{spawn_agents, AgentStats, Master};
use kmedic_tests::{wait_until, OwnedChild, Testbed, TestbedConfig};

use kmedic::{field, num, LogTail, ACTION_LOG_TOPIC, STATS_TOPIC};
use show::{LiveLine, Progress};

const TOPIC: &str = "orders";
const MIB: u64 = 1024 * 1024;

#[derive(Parser)]
#[command(
    name = "kmedic-demo",
    about = "kmedic's live demo on a local Kafka 4.3 cluster"
)]
struct Cli {
    /// The kmedic-master binary.
    #[arg(long)]
    master_bin: PathBuf,
    /// The kmedic-agent binary.
    #[arg(long)]
    agent_bin: PathBuf,
    /// The broker to kill.
    #[arg(long, default_value_t = 2)]
    victim: i32,
    /// MiB produced to the `orders` topic (RF 3: the victim holds about half of it).
    #[arg(long, default_value_t = 160)]
    data_mib: u64,
    /// The replication throttle the master is given, in MiB/s.
    #[arg(long, default_value_t = 4)]
    throttle_mib: u64,
    /// The heal grace: how long the broker must stay dead before the master heals it.
    #[arg(long, default_value_t = 10)]
    grace_secs: u64,
    /// Fail when the heal has not finished this long after the kill.
    #[arg(long, default_value_t = 300)]
    heal_timeout_secs: u64,
    /// Folder for the cluster's node folders (a temporary one when not given).
    #[arg(long)]
    work_dir: Option<PathBuf>,
    /// Controller port; broker N listens on port_base + N.
    #[arg(long, default_value_t = 19300)]
    port_base: u16,
}

/// Set by SIGINT/SIGTERM: the demo's loops then stop, and drops stop every process.
static INTERRUPTED: AtomicBool = AtomicBool::new(false);

fn main() -> ExitCode {
    // librdkafka's own WARN lines (REQTMOUT "Timed out N in-flight" on a loaded machine: the
    // requests are retried) are spam in the demo's terminal: a record that is not acknowledged
    // fails `produce` and stops the demo, which says so; its errors still show.
    kmedic_tests::init_logs("warn,rdkafka=error,librdkafka=error");
    catch_signals();
    match demo(Cli::parse()) {
        Ok(()) => ExitCode::SUCCESS,
        Err(e) => {
            eprintln!("\nkmedic-demo: {e:#}");
            ExitCode::FAILURE
        }
    }
}

/// Catches SIGINT and SIGTERM on a thread of its own, so Ctrl-C ends the demo through its
/// drops (every JVM and child stopped, the temporary folder removed) instead of killing it.
fn catch_signals() {
    let _ = std::thread::Builder::new()
        .name("signals".into())
        .spawn(|| {
            let Ok(rt) = tokio::runtime::Builder::new_current_thread()
                .enable_all()
                .build()
            else {
                return;
            };
            rt.block_on(async {
                use tokio::signal::unix::{signal, SignalKind};
                let (Ok(mut int), Ok(mut term)) = (
                    signal(SignalKind::interrupt()),
                    signal(SignalKind::terminate()),
                ) else {
                    return;
                };
                tokio::select! {
                    _ = int.recv() => {},
                    _ = term.recv() => {},
                }
                INTERRUPTED.store(true, Ordering::SeqCst);
            });
        });
}

fn check_interrupted() -> anyhow::Result<()> {
    if INTERRUPTED.load(Ordering::SeqCst) {
        bail!("interrupted: stopping every process");
    }
    Ok(())
}

fn step(started: Instant, what: &str) {
    println!("\n[{:>5.1}s] == {what}", started.elapsed().as_secs_f64());
}

fn binary(path: &Path, package: &str) -> anyhow::Result<()> {
    if !path.is_file() {
        bail!(
            "no {package} at {} (build it: cargo build -p {package})",
            path.display()
        );
    }
    Ok(())
}

/// The partitions under-replicated now (ISR smaller than the replica set), on the whole cluster.
fn urps(tb: &Testbed) -> anyhow::Result<usize> {
    Ok(tb
        .metadata()?
        .partitions
        .iter()
        .filter(|p| p.isr.len() < p.replicas.len())
        .count())
}

/// `assignment(n)`: n partitions of RF 3 on every broker but `victim`, one replica per rack, so
/// kmedic's own topics keep working through the kill and the demo shows the broker dying, not
/// its stats stalling (and the master finds no rack violation on them).
fn off_victim(tb: &Testbed, victim: i32, n: usize) -> Vec<Vec<i32>> {
    let brokers: Vec<(i32, String)> = tb
        .broker_ids()
        .into_iter()
        .map(|b| (b, tb.rack(b)))
        .collect();
    kmedic::off_victim_assignment(&brokers, victim, n)
}

fn demo(cli: Cli) -> anyhow::Result<()> {
    binary(&cli.master_bin, "kmedic-master")?;
    binary(&cli.agent_bin, "kmedic-agent")?;
    let started = Instant::now();
    step(
        started,
        "starting Kafka 4.3: 1 controller + 6 brokers in racks az-a, az-b, az-c",
    );
    let mut cfg = TestbedConfig::from_env().with_brokers(6);
    cfg.port_base = cli.port_base;
    if let Some(dir) = &cli.work_dir {
        cfg = cfg.with_work_dir(dir.clone());
    }
    // Dropping the testbed kills every JVM, so `?` anywhere below still cleans up.
    let tb = Testbed::start(cfg)?;
    if !tb.broker_ids().contains(&cli.victim) {
        bail!(
            "--victim {}: the brokers are {:?}",
            cli.victim,
            tb.broker_ids()
        );
    }
    for id in tb.broker_ids() {
        println!(
            "  broker {id}  {}  rack {}",
            tb.broker_addr(id),
            tb.rack(id)
        );
    }
    check_interrupted()?;

    step(
        started,
        &format!(
            "creating topic `{TOPIC}` (12 partitions, RF 3) and producing {} MiB",
            cli.data_mib
        ),
    );
    tb.create_topic(TOPIC, 12, 3)?;
    tb.produce(TOPIC, (cli.data_mib * MIB) as usize)?;
    let hosted = tb
        .metadata()?
        .partitions
        .iter()
        .filter(|p| p.topic == TOPIC && p.replicas.contains(&cli.victim))
        .count();
    println!(
        "  broker {} (rack {}) holds {hosted} of the 36 replicas: about {} MiB to copy if it dies",
        cli.victim,
        tb.rack(cli.victim),
        cli.data_mib * hosted as u64 / 12
    );
    check_interrupted()?;

    step(
        started,
        "starting kmedic: an agent on every broker, and the master",
    );
    // kmedic's own topics, created as an operator would, off the broker the demo kills.
    tb.create_topic_with_assignment(STATS_TOPIC, &off_victim(&tb, cli.victim, 3))?;
    tb.create_topic_with_assignment(ACTION_LOG_TOPIC, &off_victim(&tb, cli.victim, 1))?;
    let dir = tempfile::tempdir()?;
    let spec = kmedic::master_spec(cli.grace_secs, cli.throttle_mib * MIB);
    let _agents = spawn_agents(&cli.agent_bin, &tb, dir.path(), AgentStats::Quick)?;
    let Master {
        child: mut master,
        log,
    } = Master::spawn(&cli.master_bin, &tb, dir.path(), &spec)?;
    println!(
        "  configs and logs in {} (agent-N.toml, master.toml, *.log; removed at the end)",
        dir.path().display()
    );
    println!(
        "  master: heal grace {} s (the default is 300 s), throttle {} MiB/s, action log `{ACTION_LOG_TOPIC}`",
        cli.grace_secs, cli.throttle_mib
    );
    println!("  (stats topic `{STATS_TOPIC}` and the action log have no replica on broker {}: the demo shows the broker dying, not kmedic's own topics recovering)", cli.victim);
    let _keep = KeepLog(log.clone());
    let mut tail = LogTail::new(log);
    wait_all_ok(&tb, &mut tail, &mut master)?;

    step(
        started,
        &format!(
            "SIGKILL broker {} (rack {})",
            cli.victim,
            tb.rack(cli.victim)
        ),
    );
    tb.kill(cli.victim)?;
    let killed = Instant::now();
    follow_heal(&tb, &cli, &mut tail, &mut master, killed, started)?;

    step(started, "checking: throttles gone");
    let left = show::throttles_left(&tb.bootstrap(), TOPIC)?;
    if !left.is_empty() {
        bail!("throttles left after the heal: {left:?}");
    }
    println!("  no replication throttle left on the brokers or on `{TOPIC}`");
    let moved_off = tb
        .metadata()?
        .partitions
        .iter()
        .filter(|p| p.replicas.contains(&cli.victim))
        .count();
    println!(
        "  replicas still on broker {}: {moved_off}; under-replicated partitions: {}",
        cli.victim,
        urps(&tb)?
    );

    step(
        started,
        &format!("the action log, read back from `{ACTION_LOG_TOPIC}` (written before each action, outcome after)"),
    );
    let live: Vec<String> = tb
        .broker_ids()
        .into_iter()
        .filter(|&b| b != cli.victim)
        .map(|b| tb.broker_addr(b))
        .collect();
    for line in show::action_log(&live.join(","), ACTION_LOG_TOPIC, &tb.cluster_id())? {
        println!("  {line}");
    }

    step(
        started,
        &format!(
            "healed {:.0} s after the kill: stopping the master, the agents and every JVM",
            killed.elapsed().as_secs_f64()
        ),
    );
    if !master.stop(Duration::from_secs(20)) {
        println!("  (the master did not stop on SIGTERM within 20 s: killed)");
    }
    drop(_agents);
    drop(tb);
    println!("  done in {:.0} s", started.elapsed().as_secs_f64());
    Ok(())
}

/// Copies the master's log out of the demo's temporary folder when the demo ends (also on an
/// error or Ctrl-C), so it can be read afterwards.
struct KeepLog(PathBuf);

impl Drop for KeepLog {
    fn drop(&mut self) {
        let to = std::env::temp_dir().join("kmedic-demo-master.log");
        if std::fs::copy(&self.0, &to).is_ok() {
            println!("  the master's full log (JSON lines): {}", to.display());
        }
    }
}

/// Waits for the master's summary to count every broker ok with stats (its model has every
/// agent's stats): before that, a kill would find a broker without stats.
fn wait_all_ok(tb: &Testbed, tail: &mut LogTail, master: &mut OwnedChild) -> anyhow::Result<()> {
    let n = tb.broker_ids().len() as u64;
    let mut last = String::from("no summary yet");
    let r = wait_until(
        Duration::from_secs(150),
        "the master to see every broker's agent stats",
        || {
            check_interrupted()?;
            if master.exited() {
                return Ok(true);
            }
            for l in tail.next_lines() {
                if field(&l, "message") == "summary" {
                    last = format!(
                        "status {}, ok {}, no stats {}",
                        field(&l, "status"),
                        num(&l, "ok").unwrap_or(0),
                        num(&l, "no_stats").unwrap_or(0)
                    );
                    if num(&l, "ok") == Some(n) && num(&l, "no_stats") == Some(0) {
                        return Ok(true);
                    }
                }
            }
            Ok(false)
        },
    );
    check_interrupted()?;
    if master.exited() {
        bail!("the master exited; its log ends:\n{}", tail.tail(30));
    }
    r.with_context(|| format!("last summary: {last}"))?;
    println!("  master: all {n} brokers ok, each agent's stats in its model");
    Ok(())
}

/// Narrates the master from the kill until the heal is done: the plan finished and no
/// partition under-replicated.
fn follow_heal(
    tb: &Testbed,
    cli: &Cli,
    tail: &mut LogTail,
    master: &mut OwnedChild,
    killed: Instant,
    started: Instant,
) -> anyhow::Result<()> {
    let mut live = LiveLine::default();
    let mut dead_at: Option<Instant> = None;
    let mut acting = false;
    let mut progress: Option<Progress> = None;
    let mut finished = false;
    let mut executing = false;
    let mut last_urps = 0;
    let deadline = killed + Duration::from_secs(cli.heal_timeout_secs);
    loop {
        check_interrupted()?;
        if master.exited() {
            live.finish();
            bail!("the master exited; its log ends:\n{}", tail.tail(30));
        }
        for l in tail.next_lines() {
            let msg = field(&l, "message");
            if msg.starts_with("finding")
                && field(&l, "finding") == "DeadBroker"
                && num(&l, "broker") == Some(cli.victim as u64)
                && dead_at.is_none()
            {
                dead_at = Some(Instant::now());
            }
            if field(&l, "verdict").starts_with("act") {
                acting = true;
            }
            if msg == "plan progress" {
                progress = Some(Progress::from_line(&l));
            }
            if msg.starts_with("executing") && progress.is_none() {
                progress = Some(Progress::default());
            }
            if msg.starts_with("plan finished") {
                finished = true;
                if let Some(p) = progress.as_mut() {
                    p.copied = num(&l, "copied_bytes").unwrap_or(p.copied).max(p.copied);
                    p.total = p.total.max(p.copied);
                    p.eta = "0".into();
                }
            }
            if msg.starts_with("executing") {
                executing = true;
            }
            if msg.starts_with("plan finished") {
                executing = false;
            }
            let rack = |b: i32| tb.rack(b);
            let cx = show::Context {
                victim: cli.victim,
                executing: executing || finished,
                rack: &rack,
            };
            if let Some(s) = show::narrate(&l, &cx) {
                live.println(&format!(
                    "[{:>5.1}s] master: {s}",
                    started.elapsed().as_secs_f64()
                ));
            }
        }
        last_urps = urps(tb).unwrap_or(last_urps);
        if let Some(p) = &progress {
            live.set(p.line(last_urps));
        } else if let (Some(t), false) = (dead_at, acting) {
            let left = Duration::from_secs(cli.grace_secs).saturating_sub(t.elapsed());
            live.set(format!(
                "broker {} confirmed dead: heal grace, {} s left (URPs {last_urps})",
                cli.victim,
                left.as_secs()
            ));
        } else if dead_at.is_none() {
            live.set(format!(
                "{:.0} s since the kill: waiting for the master to confirm the broker dead (URPs {last_urps})",
                killed.elapsed().as_secs_f64()
            ));
        }
        if finished && last_urps == 0 {
            live.finish();
            println!(
                "  healed: 0 under-replicated partitions, {:.0} s after the kill",
                killed.elapsed().as_secs_f64()
            );
            return Ok(());
        }
        if Instant::now() >= deadline {
            live.finish();
            bail!(
                "the heal did not finish within {} s of the kill (plan finished: {finished}, URPs {last_urps}); the master's log ends:\n{}",
                cli.heal_timeout_secs,
                tail.tail(30)
            );
        }
        std::thread::sleep(Duration::from_millis(500));
    }
}
