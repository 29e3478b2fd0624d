//! The built `kmedic-master`'s read-only tools on real brokers: `actions` prints the records an
//! `ActionLog` committed (readable and `--json`), and `stats tail` decodes codec records and
//! reports an undecodable one without stopping. Each trial uses its own topics.

use std::path::PathBuf;
use std::process::Command;
use std::sync::Arc;
use std::time::Duration;

use anyhow::{ensure, Context};
use kmedic_common::connection::ConnectionSettings;
use kmedic_master::actionlog::record::{new_action_id, ActionKind, ActionRecord, Outcome};
use kmedic_master::actionlog::{ActionLog, OutcomeStatus};
use kmedic_master::config::ActionLogConfig;
use kmedic_tests::e2e::{trial, Ctx};
use kmedic_tests::random_topic;
use libtest_mimic::Trial;

use super::product::binary;

/// The tools' trials.
pub fn trials(ctx: &Arc<Ctx>) -> Vec<Trial> {
    vec![
        trial(
            ctx,
            "cli_tools::actions_prints_the_committed_records",
            actions_prints_the_committed_records,
        ),
        trial(
            ctx,
            "cli_tools::stats_tail_decodes_and_reports_undecodable_records",
            stats_tail_decodes_and_reports_undecodable,
        ),
    ]
}

fn toml_list(bootstrap: &str) -> String {
    let items: Vec<String> = bootstrap.split(',').map(|s| format!("{s:?}")).collect();
    format!("[{}]", items.join(", "))
}

/// A master config file in a new temp dir (removed when the returned dir drops): the testbed
/// (`bootstrap`) as the stats cluster and as the cluster `testbed`, the checkpoint in the dir,
/// `stats` keys in `[stats]`, `tables` after the checkpoint, `cluster` keys in the cluster.
fn master_config(
    bootstrap: &str,
    stats: &str,
    tables: &str,
    cluster: &str,
) -> anyhow::Result<(tempfile::TempDir, PathBuf)> {
    let dir = tempfile::tempdir()?;
    let path = dir.path().join("master.toml");
    let servers = toml_list(bootstrap);
    std::fs::write(
        &path,
        format!(
            "[stats]\n{stats}[stats.connection]\nbootstrap_servers = {servers}\n\
             [checkpoint]\npath = {:?}\n{tables}\
             [[clusters]]\nname = \"testbed\"\n{cluster}\
             [clusters.connection]\nbootstrap_servers = {servers}\n",
            dir.path().join("ck"),
        ),
    )?;
    Ok((dir, path))
}

fn actions_prints_the_committed_records(ctx: &Ctx) -> anyhow::Result<()> {
    let tb = ctx.shared()?;
    let conn = ConnectionSettings::plaintext(tb.bootstrap().split(','));
    let topic = random_topic("cli-actions");
    let cfg = ActionLogConfig {
        transactional_id: format!("{topic}-txn"),
        topic: topic.clone(),
        master_id: Some("e2e-master".into()),
        write_timeout_ms: 20_000,
        ..ActionLogConfig::default()
    };
    let intent = ActionRecord::intent(
        "cli-cluster",
        new_action_id("e2e-master"),
        None,
        ActionKind::ElectLeaders,
        "e2e: leaders off their preferred broker",
        "e2e-master",
    );
    let other = ActionRecord::intent(
        "other-cluster",
        new_action_id("e2e-master"),
        None,
        ActionKind::ClearThrottle,
        "",
        "e2e-master",
    );
    tokio::runtime::Builder::new_multi_thread()
        .worker_threads(2)
        .enable_all()
        .build()?
        .block_on(async {
            let log = ActionLog::open(&conn, &cfg).await.context("open")?;
            log.write_all(&[intent.clone(), other])
                .await
                .context("write intents")?;
            log.write(&intent.outcome_of(Outcome {
                status: OutcomeStatus::Succeeded,
                detail: "elected".into(),
                command: None,
            }))
            .await
            .context("write outcome")?;
            anyhow::Ok(())
        })?;

    let action_log = format!("[action_log]\ntopic = {topic:?}\nreplay_timeout_secs = 30\n");
    let (_dir, path) = master_config(
        &tb.bootstrap(),
        "",
        &action_log,
        "cluster_id = \"cli-cluster\"\n",
    )?;
    let run = |extra: &[&str]| -> anyhow::Result<String> {
        let out = Command::new(binary("kmedic-master")?)
            .args(["actions", "--config"])
            .arg(&path)
            .args(["--cluster", "testbed"])
            .args(extra)
            .env_remove("RUST_LOG")
            .output()
            .context("running kmedic-master actions")?;
        ensure!(
            out.status.success(),
            "actions failed: {}",
            String::from_utf8_lossy(&out.stderr)
        );
        Ok(String::from_utf8(out.stdout)?)
    };
    let started = std::time::Instant::now();
    let text = run(&[])?;
    let lines: Vec<&str> = text.lines().collect();
    ensure!(lines.len() == 2, "two records of cli-cluster, got:\n{text}");
    ensure!(
        lines[0].contains(&intent.action_id)
            && lines[0].contains(" intent ")
            && lines[0].contains("elect_leaders")
            && lines[0].contains("reason: e2e: leaders off"),
        "intent line: {}",
        lines[0]
    );
    ensure!(
        lines[1].contains("outcome=succeeded (elected)"),
        "outcome line: {}",
        lines[1]
    );
    let json = run(&["--json"])?;
    let back: Vec<ActionRecord> = json
        .lines()
        .map(|l| ActionRecord::from_json(l.as_bytes()))
        .collect::<Result<_, _>>()
        .context("--json lines parse as records")?;
    ensure!(back.len() == 2 && back[0] == intent, "json: {json}");
    ensure!(
        started.elapsed() < Duration::from_secs(60),
        "actions took {:?}",
        started.elapsed()
    );
    Ok(())
}

fn heartbeat() -> kmedic_common::stats::StatsRecord {
    use kmedic_common::stats::*;
    StatsRecord::Heartbeat(Heartbeat {
        identity: Identity {
            cluster_id: "cli-cluster".into(),
            broker_id: 4,
            rack: None,
            hostname: "h4".into(),
            az: None,
            az_source: AzSource::Unknown,
            instance_type: None,
            instance_id: None,
            agent_version: "0".into(),
        },
        timestamp_ms: 1_700_000_000_000,
        seq: 1,
        process: ProcessStats::bare(ProcessState::Running),
        host: HostStats::default(),
        missing: vec![],
    })
}

fn stats_tail_decodes_and_reports_undecodable(ctx: &Ctx) -> anyhow::Result<()> {
    use rdkafka::producer::{BaseProducer, BaseRecord, Producer};
    let tb = ctx.shared()?;
    let topic = random_topic("cli-stats");
    tb.create_topic(&topic, 1, 1)?;
    let producer: BaseProducer = rdkafka::ClientConfig::new()
        .set("bootstrap.servers", tb.bootstrap())
        .set("acks", "all")
        .create()?;
    let good = kmedic_common::codec::encode(&heartbeat());
    for payload in [&b"not stats"[..], &good[..]] {
        producer
            .send(BaseRecord::<(), [u8]>::to(&topic).payload(payload))
            .map_err(|(e, _)| e)?;
    }
    producer.flush(Duration::from_secs(30))?;

    let (_dir, path) = master_config(&tb.bootstrap(), &format!("topic = {topic:?}\n"), "", "")?;
    let mut child = Command::new(binary("kmedic-master")?)
        .args([
            "stats",
            "tail",
            "--from-beginning",
            "--max",
            "2",
            "--config",
        ])
        .arg(&path)
        .env_remove("RUST_LOG")
        .stdout(std::process::Stdio::piped())
        .stderr(std::process::Stdio::piped())
        .spawn()
        .context("running kmedic-master stats tail")?;
    let deadline = std::time::Instant::now() + Duration::from_secs(60);
    while child.try_wait()?.is_none() {
        if std::time::Instant::now() > deadline {
            let _ = child.kill();
            let _ = child.wait();
            anyhow::bail!("stats tail --max 2 did not stop within 60 s");
        }
        std::thread::sleep(Duration::from_millis(200));
    }
    let out = child.wait_with_output()?;
    let stdout = String::from_utf8(out.stdout)?;
    let stderr = String::from_utf8_lossy(&out.stderr);
    ensure!(out.status.success(), "stats tail failed: {stderr}");
    let lines: Vec<&str> = stdout.lines().collect();
    ensure!(lines.len() == 1, "one decoded record, got:\n{stdout}");
    let v: serde_json::Value = serde_json::from_str(lines[0])?;
    ensure!(
        v["offset"] == 1 && v["broker_id"] == 4 && v["cluster_id"] == "cli-cluster",
        "decoded line: {}",
        lines[0]
    );
    ensure!(
        stderr.contains("partition 0 offset 0: cannot decode a 9 byte record"),
        "error line on stderr: {stderr}"
    );
    Ok(())
}
