//! Decommission and cordon (issue 8 item 4, KIP-1066) on real brokers.
//!
//! - `cordon_keeps_new_topics_off_and_uncordon_lets_them_back`: the admin client's
//!   `cordon_broker` sets `cordoned.log.dirs = *` on the broker (DescribeConfigs shows it as a
//!   dynamic broker config), topics created while it is cordoned get no replica on it, and
//!   `uncordon_broker` removes the value.
//! - `master_drains_a_decommissioned_broker_and_delete_uncordons`: the BUILT master, asked
//!   through its API (`PUT /api/clusters/{c}/brokers/{b}/decommission`), records the intent,
//!   cordons the broker, drains it through the planner and the executor until it holds no
//!   replica, and `DELETE` uncordons it.
//!
//! Run: `KMEDIC_TESTBED_PORT_BASE=19800 cargo test -p kmedic-tests --test e2e -- decommission::`

use std::io::{Read, Write};
use std::path::Path;
use std::process::{Command, Stdio};
use std::sync::Arc;
use std::time::{Duration, Instant};

use anyhow::{ensure, Context};
use kmedic_common::admin::{AdminClient, ConfigResource, ConfigSource, CORDONED_LOG_DIRS};
use kmedic_common::connection::ConnectionSettings;
use kmedic_master::actionlog::{replay, ActionRecord, Phase};
use kmedic_tests::e2e::{trial, Ctx};
use kmedic_tests::{random_topic, wait_until, OwnedChild, Testbed};
use libtest_mimic::Trial;
use serde_json::Value;

use super::product::binary;

/// The decommission trials.
pub fn trials(ctx: &Arc<Ctx>) -> Vec<Trial> {
    vec![
        trial(
            ctx,
            "decommission::cordon_keeps_new_topics_off_and_uncordon_lets_them_back",
            cordon_facts,
        ),
        trial(
            ctx,
            "decommission::master_drains_a_decommissioned_broker_and_delete_uncordons",
            master_drains,
        ),
    ]
}

pub(crate) fn runtime() -> anyhow::Result<tokio::runtime::Runtime> {
    Ok(tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()?)
}

pub(crate) fn admin(tb: &Testbed) -> anyhow::Result<AdminClient> {
    let mut conn = ConnectionSettings::plaintext(tb.bootstrap().split(','));
    conn.request_timeout_ms = 5_000;
    conn.retry.deadline_ms = 20_000;
    Ok(AdminClient::new(conn)?)
}

/// Brokers holding any replica of `topic`.
fn hosts(tb: &Testbed, topic: &str) -> anyhow::Result<Vec<i32>> {
    let md = tb.metadata()?;
    let mut out: Vec<i32> = md
        .partitions
        .iter()
        .filter(|p| p.topic == topic)
        .flat_map(|p| p.replicas.clone())
        .collect();
    out.sort_unstable();
    out.dedup();
    Ok(out)
}

/// Waits until `topic` has `n` partitions in metadata.
fn wait_topic(tb: &Testbed, topic: &str, n: usize) -> anyhow::Result<()> {
    wait_until(Duration::from_secs(30), "topic in metadata", || {
        Ok(tb
            .metadata()?
            .partitions
            .iter()
            .filter(|p| p.topic == topic)
            .count()
            == n)
    })?;
    Ok(())
}

/// Cordons broker 2 with the admin client, checks the config as DescribeConfigs shows it, that
/// 12 new partitions (RF 3 over 6 brokers would use every broker) avoid it, and that uncordon
/// removes the value and lets new topics back on it.
fn cordon_facts(ctx: &Ctx) -> anyhow::Result<()> {
    const B: i32 = 2;
    let tb = ctx.shared()?;
    let rt = runtime()?;
    let a = admin(&tb)?;
    // Uncordon even if an assertion fails: the cluster is shared.
    struct Uncordon<'a>(&'a tokio::runtime::Runtime, &'a AdminClient);
    impl Drop for Uncordon<'_> {
        fn drop(&mut self) {
            if let Err(e) = self.0.block_on(self.1.uncordon_broker(B)) {
                tracing::error!(error = %e, "could not uncordon broker {B} after the trial");
            }
        }
    }
    let guard = Uncordon(&rt, &a);
    rt.block_on(a.cordon_broker(B)).context("cordon")?;
    // The broker forwards the change to the controller and learns it back from the metadata
    // log: DescribeConfigs right after the alter may still show the old value (seen: "").
    let mut last = None;
    wait_until(
        Duration::from_secs(10),
        "DescribeConfigs shows the cordon",
        || {
            let entries = rt.block_on(
                a.describe_configs(&ConfigResource::Broker(B), Some(&[CORDONED_LOG_DIRS])),
            )?;
            last = entries.into_iter().find(|e| e.name == CORDONED_LOG_DIRS);
            Ok(last.as_ref().is_some_and(|e| {
                e.value.as_deref() == Some("*") && e.source == ConfigSource::DynamicBroker
            }))
        },
    )
    .with_context(|| format!("cordoned.log.dirs on broker {B}: {last:?}"))?;
    ensure!(rt.block_on(a.is_broker_cordoned(B))?, "not cordoned");
    // The controller learns the cordon from the broker's next heartbeat: give it a moment by
    // retrying the placement check on fresh topics.
    let mut seen = Vec::new();
    wait_until(
        Duration::from_secs(20),
        "a new topic placed off the cordoned broker",
        || {
            let topic = random_topic("decom-cordon");
            tb.create_topic(&topic, 12, 3)?;
            wait_topic(&tb, &topic, 12)?;
            let h = hosts(&tb, &topic)?;
            seen = h.clone();
            Ok(!h.contains(&B))
        },
    )
    .with_context(|| format!("last topic's brokers: {seen:?}"))?;
    drop(guard);
    wait_until(Duration::from_secs(10), "the cordon removed", || {
        Ok(!rt.block_on(a.is_broker_cordoned(B))?)
    })?;
    wait_until(
        Duration::from_secs(20),
        "a new topic placed on the uncordoned broker",
        || {
            let topic = random_topic("decom-uncordon");
            tb.create_topic(&topic, 12, 3)?;
            wait_topic(&tb, &topic, 12)?;
            Ok(hosts(&tb, &topic)?.contains(&B))
        },
    )?;
    Ok(())
}

const TOKEN: &str = "decommission-e2e-token-0123456789";
const STATS_TOPIC: &str = "__kmedic_stats";
const MB: usize = 1024 * 1024;

/// One HTTP/1.1 request to the master (Connection: close): the status and the JSON body.
fn http(port: u16, method: &str, path: &str) -> anyhow::Result<(u16, Value)> {
    let mut s = std::net::TcpStream::connect(("127.0.0.1", port))?;
    s.set_read_timeout(Some(Duration::from_secs(10)))?;
    write!(
        s,
        "{method} {path} HTTP/1.1\r\nHost: 127.0.0.1\r\nConnection: close\r\n\
         Authorization: Bearer {TOKEN}\r\nContent-Length: 0\r\n\r\n"
    )?;
    let mut text = String::new();
    s.read_to_string(&mut text)?;
    let status: u16 = text
        .split_whitespace()
        .nth(1)
        .context("no HTTP status")?
        .parse()?;
    let body = text.split_once("\r\n\r\n").map_or("", |(_, b)| b);
    Ok((status, serde_json::from_str(body).unwrap_or(Value::Null)))
}

fn tail(log: &Path) -> String {
    let text = std::fs::read_to_string(log).unwrap_or_default();
    let lines: Vec<&str> = text.lines().collect();
    let ours: Vec<&str> = lines
        .iter()
        .copied()
        .filter(|l| l.contains("decommission") || l.contains("execut") || l.contains("plan"))
        .collect();
    let last = &lines[lines.len().saturating_sub(15)..];
    format!(
        "{}\n...\n{}",
        ours[ours.len().saturating_sub(40)..].join("\n"),
        last.join("\n")
    )
}

/// The BUILT master on a private 6-broker cluster, asked through its API to decommission
/// broker 2: the request and a cordon are in the action log, DescribeConfigs shows the cordon,
/// a topic created meanwhile avoids the broker, every replica moves off it rack-correct
/// (RF kept), the board shows it drained and still cordoned; DELETE uncordons it.
fn master_drains(ctx: &Ctx) -> anyhow::Result<()> {
    const B: i32 = 2;
    let started = Instant::now();
    let tb = ctx.own(6)?;
    let rt = runtime()?;
    let a = admin(&tb)?;
    tb.create_topic(STATS_TOPIC, 3, 3)?;
    let topic = random_topic("decom-data");
    tb.create_topic(&topic, 6, 3)?;
    tb.produce(&topic, 2 * MB)?;
    ensure!(
        hosts(&tb, &topic)?.contains(&B),
        "setup: broker {B} holds nothing"
    );
    let log_topic = random_topic("decom-log");
    let dir = tempfile::tempdir()?;
    let port = tb.controller_port() + 9;
    let servers: Vec<String> = tb
        .bootstrap()
        .split(',')
        .map(|s| format!("{s:?}"))
        .collect();
    let servers = format!("[{}]", servers.join(", "));
    let config = format!(
        "poll_interval_secs = 1\n\
         [stats.connection]\nbootstrap_servers = {servers}\n\
         [checkpoint]\npath = {:?}\n\
         [serve]\nbind = \"127.0.0.1:{port}\"\ntoken = {TOKEN:?}\n\
         [action_log]\ntopic = {log_topic:?}\ntransactional_id = \"{log_topic}-txn\"\n\
         [execute]\nthrottle_bytes_per_sec = 52428800\npoll_interval_ms = 500\n\
         [[clusters]]\nname = \"testbed\"\n\
         [clusters.connection]\nbootstrap_servers = {servers}\n\
         [clusters.planner]\nmax_disk_utilization = 0.99\nmax_moves_per_broker = 50\n",
        dir.path().join("master.checkpoint"),
    );
    let path = dir.path().join("master.toml");
    std::fs::write(&path, config)?;
    let log = dir.path().join("master.log");
    let mut cmd = Command::new(binary("kmedic-master")?);
    cmd.args(["run", "--config"])
        .arg(&path)
        .env(
            "RUST_LOG",
            "info,kmedic_master::service::decommission=debug",
        )
        .stdout(Stdio::null())
        .stderr(std::fs::File::create(&log)?);
    let _master = OwnedChild::spawn(cmd).context("starting kmedic-master")?;
    let status = |what: &str| -> anyhow::Result<Value> {
        let (code, v) = http(port, "GET", "/api/clusters/testbed")?;
        ensure!(code == 200, "{what}: GET cluster answered {code}: {v}");
        Ok(v)
    };
    let check = |r: anyhow::Result<()>| r.with_context(|| format!("master log:\n{}", tail(&log)));
    check(
        wait_until(
            Duration::from_secs(60),
            "the master's first full round",
            || Ok(status("first round")?["status"]["status"] == "ran"),
        )
        .map_err(Into::into),
    )?;
    let (code, v) = http(
        port,
        "PUT",
        &format!("/api/clusters/testbed/brokers/{B}/decommission"),
    )?;
    ensure!(code == 200, "PUT decommission answered {code}: {v}");
    check(
        wait_until(Duration::from_secs(20), "the broker cordoned", || {
            Ok(rt.block_on(a.is_broker_cordoned(B))?)
        })
        .map_err(Into::into),
    )?;
    // Created while the broker drains: Kafka's own placement keeps it off the cordoned broker
    // (retried on fresh topics for the controller to hear the broker's heartbeat).
    let mut late = String::new();
    wait_until(
        Duration::from_secs(10),
        "a topic created during the drain avoids it",
        || {
            late = random_topic("decom-late");
            tb.create_topic(&late, 12, 3)?;
            wait_topic(&tb, &late, 12)?;
            Ok(!hosts(&tb, &late)?.contains(&B))
        },
    )?;
    check(
        wait_until(
            Duration::from_secs(60),
            "no replica left on the broker",
            || {
                let md = tb.metadata()?;
                Ok(!md.partitions.iter().any(|p| p.replicas.contains(&B)))
            },
        )
        .map_err(Into::into),
    )?;
    let md = tb.metadata()?;
    for p in &md.partitions {
        let mut racks: Vec<String> = p.replicas.iter().map(|&r| tb.rack(r)).collect();
        racks.sort();
        racks.dedup();
        ensure!(
            racks.len() == p.replicas.len() && p.replicas.len() == 3,
            "{}-{} replicas {:?} not rack-distinct RF 3",
            p.topic,
            p.partition,
            p.replicas
        );
    }
    let mut drained = Value::Null;
    check(
        wait_until(
            Duration::from_secs(20),
            "the board shows it drained",
            || {
                drained = status("drained")?["decommission"]["brokers"][B.to_string()].clone();
                Ok(drained["phase"] == "drained" && drained["cordoned"] == true)
            },
        )
        .map_err(Into::into),
    )
    .with_context(|| format!("board: {drained}"))?;
    ensure!(
        rt.block_on(a.is_broker_cordoned(B))?,
        "drained but not cordoned"
    );
    let (code, v) = http(
        port,
        "DELETE",
        &format!("/api/clusters/testbed/brokers/{B}/decommission"),
    )?;
    ensure!(code == 200, "DELETE decommission answered {code}: {v}");
    check(
        wait_until(Duration::from_secs(20), "the broker uncordoned", || {
            Ok(!rt.block_on(a.is_broker_cordoned(B))?)
        })
        .map_err(Into::into),
    )?;
    // The action log tells it in order: request, cordon, the drain's moves, stop, uncordon.
    let conn = ConnectionSettings::plaintext(tb.bootstrap().split(','));
    let (records, _) = rt.block_on(replay::read_records(
        &conn,
        &log_topic,
        Duration::from_secs(20),
    ))?;
    let story: Vec<(String, Phase)> = records
        .iter()
        .filter(|r: &&ActionRecord| r.brokers.contains(&B) || r.kind.name() == "reassign")
        .map(|r| (r.kind.name().to_string(), r.phase))
        .collect();
    let pos = |k: &str, ph: Phase| story.iter().position(|(n, p)| n == k && *p == ph);
    let order = [
        pos("decommission", Phase::State),
        pos("cordon", Phase::Outcome),
        pos("reassign", Phase::Intent),
        pos("recommission", Phase::State),
        pos("uncordon", Phase::Outcome),
    ];
    ensure!(
        order.iter().all(Option::is_some) && order.windows(2).all(|w| w[0] < w[1]),
        "action log out of order or incomplete: {story:?}"
    );
    tracing::info!(
        secs = started.elapsed().as_secs_f64(),
        "decommission trial done"
    );
    Ok(())
}
