//! The product end to end: the BUILT `kmedic-agent` (one per broker) and `kmedic-master`
//! binaries as processes on the shared cluster, configured only with what a user must give.
//!
//! Also the plumbing the product trials share that needs the master's library (the action
//! log's records, the throttle configs); the rest is `kmedic_tests::product`.
//!
//! The master runs with `--log-format json`; the trials read its log as a log shipper would.
//! Every child is an [`OwnedChild`]: SIGTERM then SIGKILL on drop (a failed trial included), and
//! PR_SET_PDEATHSIG so none outlives a SIGKILLed test run.

use std::sync::Arc;
use std::time::{Duration, SystemTime, UNIX_EPOCH};

use anyhow::{ensure, Context};
use kmedic_common::admin::{AdminClient, ConfigResource, ConfigSource};
use kmedic_common::codec;
use kmedic_common::connection::ConnectionSettings;
use kmedic_common::stats::{
    AzSource, Heartbeat, HostStats, Identity, ProcessState, ProcessStats, StatsRecord,
};
use kmedic_master::actionlog::{replay, ActionRecord};
use kmedic_master::execute::{FOLLOWER_RATE, FOLLOWER_REPLICAS, LEADER_RATE, LEADER_REPLICAS};
use kmedic_tests::e2e::{trial, Ctx, Restore};
/// The other trials' way to the built binaries (`cli_tools`, `decommission`).
pub use kmedic_tests::product::binary;
use kmedic_tests::product::{
    field, has_topic, num, spawn_agents, strict_log_lines, AgentStats, Master, MasterSpec, Policy,
    STATS_TOPIC,
};
use kmedic_tests::Testbed;
use libtest_mimic::Trial;
use rdkafka::producer::{BaseProducer, BaseRecord, Producer};
use rdkafka::ClientConfig;

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

/// The stats topic, created as an operator would (both binaries default to it; neither creates
/// it unless told), with no replica on [`VICTIM`].
fn ensure_stats_topic(tb: &Testbed) -> anyhow::Result<()> {
    if has_topic(tb, STATS_TOPIC)? {
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

/// Issue 7 item 13: with defaults, the agents publish where the master reads, and the master's
/// model holds every broker's stats.
fn defaults_see_every_broker(ctx: &Ctx) -> anyhow::Result<()> {
    let tb = ctx.shared()?;
    ensure_stats_topic(&tb)?;
    let dir = tempfile::tempdir()?;
    let bin = binary("kmedic-agent")?;
    let _agents = spawn_agents(&bin, &tb, dir.path(), AgentStats::Defaults)?;
    let mut m = Master::start(&tb, dir.path(), &MasterSpec::new("master"))?;
    m.wait_all_ok(&tb, Duration::from_secs(150))?;
    ensure!(
        m.child.stop(Duration::from_secs(20)),
        "the master did not stop on SIGTERM"
    );
    let lines = strict_log_lines(&m.log)?;
    ensure!(
        lines.iter().any(|l| field(l, "message") == "shutting down"),
        "no clean shutdown in the log:\n{}",
        m.tail()
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
    let bin = binary("kmedic-agent")?;
    let _agents = spawn_agents(&bin, &tb, dir.path(), AgentStats::Defaults)?;
    // Short graces so the trial stays short (and the override says so, as a user must). Every
    // testbed broker reports this host's one volume, whose use on a busy build box can pass the
    // default 0.85 disk limit: then no heal target fits, rightly, and the trial would test the
    // build box. Dry-run: this trial shows the decision and the plan; executing it is act.rs's
    // trial, and a heal stopped half-way here would leave its throttle to the shared cluster.
    let spec = MasterSpec {
        poll_interval_secs: Some(2),
        max_disk_utilization: Some(0.99),
        policy: Policy {
            agent_silence_secs: Some(20),
            ..Policy::default()
        },
        ..MasterSpec::new("master")
    };
    let mut m = Master::start(&tb, dir.path(), &spec.heal_grace(10).dry_run(true))?;
    m.wait_all_ok(&tb, Duration::from_secs(150))?;
    publish_future_heartbeat(&tb, VICTIM, 24 * 3600 * 1000)?;
    // Let ingest see it before the kill.
    std::thread::sleep(Duration::from_secs(3));
    let _restore = Restore::new(&tb, &[VICTIM]);
    tb.kill(VICTIM)?;
    let heal = m.wait_line(
        Duration::from_secs(150),
        "the master to decide and plan the heal of the killed broker",
        |l| {
            field(l, "message").starts_with("planned")
                && field(l, "requests") == format!("heal dead brokers {VICTIM}")
        },
    )?;
    let lines = strict_log_lines(&m.log)?;
    let dead = lines
        .iter()
        .find(|l| field(l, "finding") == "DeadBroker" && num(l, "broker") == Some(VICTIM as u64))
        .with_context(|| format!("no DeadBroker finding logged:\n{}", m.tail()))?;
    tracing::info!(%dead, %heal, "the master confirmed the broker dead and planned its heal");
    Ok(())
}

/// The action log's committed records on `log_topic` about `tb`'s cluster.
pub fn action_records(tb: &Testbed, log_topic: &str) -> anyhow::Result<Vec<ActionRecord>> {
    let conn = ConnectionSettings::plaintext(tb.bootstrap().split(','));
    let rt = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()?;
    let (recs, _) = rt.block_on(replay::read_records(
        &conn,
        log_topic,
        Duration::from_secs(30),
    ))?;
    let id = tb.cluster_id();
    Ok(recs.into_iter().filter(|r| r.cluster_id == id).collect())
}

/// Every throttle config kmedic sets that is set (dynamically) on the broker default and on
/// `topic`: (resource, key, value).
pub async fn throttle_configs(
    admin: &AdminClient,
    topic: &str,
) -> anyhow::Result<Vec<(String, String, String)>> {
    let mut out = Vec::new();
    for (res, keys) in [
        (ConfigResource::BrokerDefault, [LEADER_RATE, FOLLOWER_RATE]),
        (
            ConfigResource::Topic(topic.to_string()),
            [LEADER_REPLICAS, FOLLOWER_REPLICAS],
        ),
    ] {
        for e in admin.describe_configs(&res, Some(&keys)).await? {
            let dynamic = matches!(
                e.source,
                ConfigSource::DynamicDefaultBroker | ConfigSource::DynamicTopic
            );
            if let Some(v) = e.value.filter(|v| dynamic && !v.is_empty()) {
                out.push((res.to_string(), e.name, v));
            }
        }
    }
    Ok(out)
}
