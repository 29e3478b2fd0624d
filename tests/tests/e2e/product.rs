//! The product end to end: the BUILT `kmedic-agent` (one per broker) and `kmedic-master`
//! binaries as processes on the shared cluster, configured only with what a user must give.
//!
//! The master runs with `--log-format json`; the trials read its log as a log shipper would.
//! Every child is an [`OwnedChild`]: SIGTERM then SIGKILL on drop (a failed trial included), and
//! PR_SET_PDEATHSIG so none outlives a SIGKILLed test run.

use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};
use std::sync::{Arc, Mutex, OnceLock};
use std::time::{Duration, SystemTime, UNIX_EPOCH};

use anyhow::{ensure, Context};
use kmedic_common::codec;
use kmedic_common::stats::{
    AzSource, Heartbeat, HostStats, Identity, ProcessState, ProcessStats, StatsRecord,
};
use kmedic_tests::e2e::{trial, Ctx, Restore};
use kmedic_tests::{wait_until, OwnedChild, Testbed};
use libtest_mimic::Trial;
use rdkafka::producer::{BaseProducer, BaseRecord, Producer};
use rdkafka::ClientConfig;
use serde_json::Value;

/// The default stats topic of both binaries.
const STATS_TOPIC: &str = "__kmedic_stats";
/// The broker the kill trial breaks; the stats topic keeps no replica on it, so the trial sees
/// the broker die rather than the stats path stall.
const VICTIM: i32 = 6;

/// The product trials.
pub fn trials(ctx: &Arc<Ctx>) -> Vec<Trial> {
    vec![
        trial(
            ctx,
            "product::agents_and_master_with_defaults_see_every_broker",
            defaults_see_every_broker,
        ),
        trial(
            ctx,
            "product::heartbeat_a_day_ahead_then_sigkill_is_healed",
            future_heartbeat_then_kill,
        ),
    ]
}

/// Builds (once per run; a no-op when fresh) `package`'s binary of the same name next to this
/// test binary, with the same profile, and returns its path.
pub fn binary(package: &'static str) -> anyhow::Result<PathBuf> {
    static BUILT: OnceLock<Mutex<Vec<(&'static str, PathBuf)>>> = OnceLock::new();
    let built = BUILT.get_or_init(Mutex::default);
    let mut built = built.lock().unwrap_or_else(|e| e.into_inner());
    if let Some((_, p)) = built.iter().find(|(n, _)| *n == package) {
        return Ok(p.clone());
    }
    // target/<profile>/deps/e2e-xxxx -> target/<profile>/<package>
    let exe = std::env::current_exe()?;
    let profile_dir = exe
        .parent()
        .and_then(Path::parent)
        .context("test binary has no target dir")?;
    let mut cmd = Command::new(std::env::var("CARGO").unwrap_or_else(|_| "cargo".into()));
    cmd.args(["build", "-q", "-p", package, "--bin", package])
        .current_dir(concat!(env!("CARGO_MANIFEST_DIR"), "/.."));
    if profile_dir.file_name().is_some_and(|n| n == "release") {
        cmd.arg("--release");
    }
    let status = cmd.status().context("running cargo build")?;
    ensure!(status.success(), "cargo build -p {package} failed");
    let bin = profile_dir.join(package);
    ensure!(bin.is_file(), "no binary at {}", bin.display());
    built.push((package, bin.clone()));
    Ok(bin)
}

fn toml_list(bootstrap: &str) -> String {
    let v: Vec<String> = bootstrap.split(',').map(|s| format!("{s:?}")).collect();
    format!("[{}]", v.join(", "))
}

/// One agent per broker, each with only what a user must give: the broker's
/// server.properties and the stats cluster. Two lines more because six agents share this host
/// and it is no cloud VM: a free metrics port, and no instance-metadata lookup (it would leave
/// loopback).
fn start_agents(tb: &Testbed, dir: &Path) -> anyhow::Result<Vec<OwnedChild>> {
    let bin = binary("kmedic-agent")?;
    let mut out = Vec::new();
    for id in tb.broker_ids() {
        let config = format!(
            "server_properties = {:?}\n\
             [stats.connection]\nbootstrap_servers = {}\n\
             [collect.imds]\nenabled = false\n\
             [metrics]\nlisten_address = \"127.0.0.1:0\"\n",
            tb.server_properties(id),
            toml_list(&tb.bootstrap())
        );
        let path = dir.join(format!("agent-{id}.toml"));
        std::fs::write(&path, config)?;
        let mut cmd = Command::new(&bin);
        cmd.arg("run")
            .arg("--config")
            .arg(&path)
            .env_remove("RUST_LOG")
            .stdout(Stdio::null())
            .stderr(std::fs::File::create(dir.join(format!("agent-{id}.log")))?);
        out.push(OwnedChild::spawn(cmd).context("starting kmedic-agent")?);
    }
    Ok(out)
}

/// The master with the stats cluster, a checkpoint path and one cluster's bootstrap, plus
/// `extra` top-level keys and `policy` keys for the cluster. Logs JSON to `dir/master.log`.
fn start_master(
    tb: &Testbed,
    dir: &Path,
    extra: &str,
    policy: &str,
) -> anyhow::Result<(OwnedChild, PathBuf)> {
    let bin = binary("kmedic-master")?;
    let servers = toml_list(&tb.bootstrap());
    let config = format!(
        "{extra}\n[stats.connection]\nbootstrap_servers = {servers}\n\
         [checkpoint]\npath = {:?}\n\
         [[clusters]]\nname = \"testbed\"\n\
         [clusters.connection]\nbootstrap_servers = {servers}\n\
         [clusters.policy]\n{policy}\n",
        dir.join("master.checkpoint")
    );
    let path = dir.join("master.toml");
    std::fs::write(&path, config)?;
    let log = dir.join("master.log");
    let mut cmd = Command::new(bin);
    cmd.args(["--log-format", "json", "run", "--config"])
        .arg(&path)
        .env_remove("RUST_LOG")
        .stdout(Stdio::null())
        .stderr(std::fs::File::create(&log)?);
    let child = OwnedChild::spawn(cmd).context("starting kmedic-master")?;
    Ok((child, log))
}

/// The master's log lines, parsed (a line that is not JSON fails the trial: `--log-format
/// json` must give nothing else).
fn log_lines(path: &Path) -> anyhow::Result<Vec<Value>> {
    let text = std::fs::read_to_string(path)?;
    text.lines()
        .filter(|l| !l.trim().is_empty())
        .map(|l| serde_json::from_str(l).with_context(|| format!("not JSON: {l}")))
        .collect()
}

fn field<'a>(v: &'a Value, k: &str) -> &'a str {
    v.get(k).and_then(Value::as_str).unwrap_or("")
}

fn num(v: &Value, k: &str) -> Option<u64> {
    v.get(k).and_then(Value::as_u64)
}

/// The stats topic, created as an operator would (both binaries default to it; neither creates
/// it unless told), with no replica on [`VICTIM`].
fn ensure_stats_topic(tb: &Testbed) -> anyhow::Result<()> {
    if tb
        .metadata()?
        .partitions
        .iter()
        .any(|p| p.topic == STATS_TOPIC)
    {
        return Ok(());
    }
    let ids: Vec<i32> = tb
        .broker_ids()
        .into_iter()
        .filter(|&b| b != VICTIM)
        .collect();
    let assignment: Vec<Vec<i32>> = (0..3)
        .map(|p| (0..3).map(|k| ids[(p + k) % ids.len()]).collect())
        .collect();
    tb.create_topic_with_assignment(STATS_TOPIC, &assignment)?;
    Ok(())
}

/// Waits for a master summary line saying every broker is fine (so each one's agent stats are
/// in the master's model: a broker without them is counted `no_stats`).
fn wait_all_ok(tb: &Testbed, log: &Path, master: &mut OwnedChild) -> anyhow::Result<()> {
    let n = tb.broker_ids().len() as u64;
    let mut last = String::new();
    wait_until(
        Duration::from_secs(150),
        "a master summary with every broker ok (its stats in the model)",
        || {
            ensure!(!master.exited(), "the master exited:\n{}", tail(log));
            let lines = log_lines(log)?;
            if let Some(s) = lines
                .iter()
                .rev()
                .find(|l| field(l, "message") == "summary")
            {
                last = s.to_string();
                return Ok(num(s, "ok") == Some(n) && num(s, "no_stats") == Some(0));
            }
            Ok(false)
        },
    )
    .with_context(|| format!("last summary: {last}\nlog tail:\n{}", tail(log)))
}

fn tail(log: &Path) -> String {
    let text = std::fs::read_to_string(log).unwrap_or_default();
    let lines: Vec<&str> = text.lines().collect();
    lines[lines.len().saturating_sub(40)..].join("\n")
}

/// Issue 7 item 13: with defaults, the agents publish where the master reads, and the master's
/// model holds every broker's stats.
fn defaults_see_every_broker(ctx: &Ctx) -> anyhow::Result<()> {
    let tb = ctx.shared()?;
    ensure_stats_topic(&tb)?;
    let dir = tempfile::tempdir()?;
    let _agents = start_agents(&tb, dir.path())?;
    let (mut master, log) = start_master(&tb, dir.path(), "", "")?;
    wait_all_ok(&tb, &log, &mut master)?;
    ensure!(
        master.stop(Duration::from_secs(20)),
        "the master did not stop on SIGTERM"
    );
    let lines = log_lines(&log)?;
    ensure!(
        lines.iter().any(|l| field(l, "message") == "shutting down"),
        "no clean shutdown in the log:\n{}",
        tail(&log)
    );
    Ok(())
}

fn now_ms() -> u64 {
    SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map(|d| d.as_millis() as u64)
        .unwrap_or(0)
}

/// Publishes one heartbeat for `broker` stamped `ahead_ms` in the future, as its agent would
/// (same key, same hostname), saying the broker runs.
fn publish_future_heartbeat(tb: &Testbed, broker: i32, ahead_ms: u64) -> anyhow::Result<()> {
    // What the agent reports (uname's node name) on Linux.
    let hostname = std::fs::read_to_string("/proc/sys/kernel/hostname")
        .map(|h| h.trim().to_string())
        .unwrap_or_else(|_| "unknown".into());
    let rec = StatsRecord::Heartbeat(Heartbeat {
        identity: Identity {
            cluster_id: tb.cluster_id(),
            broker_id: broker,
            rack: Some(tb.rack(broker)),
            hostname,
            az: None,
            az_source: AzSource::Unknown,
            instance_type: None,
            instance_id: None,
            agent_version: "e2e-future".into(),
        },
        timestamp_ms: now_ms() + ahead_ms,
        seq: u64::MAX / 2,
        process: ProcessStats::bare(ProcessState::Running),
        host: HostStats::default(),
        missing: vec![],
    });
    let bytes = codec::encode(&rec);
    let key = format!("{}/{broker}", tb.cluster_id());
    let p: BaseProducer = ClientConfig::new()
        .set("bootstrap.servers", tb.bootstrap())
        .create()?;
    p.send(BaseRecord::to(STATS_TOPIC).key(&key).payload(&bytes))
        .map_err(|(e, _)| e)?;
    p.flush(Duration::from_secs(10))?;
    Ok(())
}

/// Issue 7 "must show": a heartbeat stamped one day ahead, then SIGKILL of that broker. Before
/// the fix the future record froze the agent's state (fresh and running forever), so the broker
/// stayed suspect and was never healed. Now the master confirms it dead and plans the heal.
fn future_heartbeat_then_kill(ctx: &Ctx) -> anyhow::Result<()> {
    let tb = ctx.shared()?;
    ensure_stats_topic(&tb)?;
    let dir = tempfile::tempdir()?;
    let _agents = start_agents(&tb, dir.path())?;
    // Short graces so the trial stays short (and the override says so, as a user must). Every
    // testbed broker reports this host's one volume, whose use on a busy build box can pass the
    // default 0.85 disk limit: then no heal target fits, rightly, and the trial would test the
    // build box. Dry-run: this trial shows the decision and the plan; executing it is act.rs's
    // trial, and a heal stopped half-way here would leave its throttle to the shared cluster.
    let (mut master, log) = start_master(
        &tb,
        dir.path(),
        "poll_interval_secs = 2",
        "heal_grace_secs = 10\nallow_short_heal_grace = true\nagent_silence_secs = 20\n\
         dry_run = true\n[clusters.planner]\nmax_disk_utilization = 0.99",
    )?;
    wait_all_ok(&tb, &log, &mut master)?;
    publish_future_heartbeat(&tb, VICTIM, 24 * 3600 * 1000)?;
    // Let ingest see it before the kill.
    std::thread::sleep(Duration::from_secs(3));
    let _restore = Restore::new(&tb, &[VICTIM]);
    tb.kill(VICTIM)?;
    let mut heal = None;
    wait_until(
        Duration::from_secs(150),
        "the master to decide and plan the heal of the killed broker",
        || {
            ensure!(!master.exited(), "the master exited:\n{}", tail(&log));
            let lines = log_lines(&log)?;
            heal = lines
                .iter()
                .find(|l| {
                    field(l, "message").starts_with("planned")
                        && field(l, "requests") == format!("heal dead brokers [{VICTIM}]")
                })
                .cloned();
            Ok(heal.is_some())
        },
    )
    .with_context(|| format!("log tail:\n{}", tail(&log)))?;
    let lines = log_lines(&log)?;
    let dead = lines
        .iter()
        .find(|l| field(l, "finding") == "DeadBroker" && num(l, "broker") == Some(VICTIM as u64))
        .with_context(|| format!("no DeadBroker finding logged:\n{}", tail(&log)))?;
    tracing::info!(%dead, heal = %heal.unwrap_or_default(), "the master confirmed the broker dead and planned its heal");
    Ok(())
}
