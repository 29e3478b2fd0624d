//! The built `kmedic-master`'s read-only tools on real brokers: `actions` prints the records an
//! `ActionLog` committed (readable and `--json`), and `stats tail` decodes codec records and
//! reports an undecodable one without stopping. Each trial uses its own topics.

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
    vec![trial(
        ctx,
        "cli_tools::actions_prints_the_committed_records",
        actions_prints_the_committed_records,
    )]
}

fn toml_list(bootstrap: &str) -> String {
    let items: Vec<String> = bootstrap.split(',').map(|s| format!("{s:?}")).collect();
    format!("[{}]", items.join(", "))
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

    let dir = tempfile::tempdir()?;
    let path = dir.path().join("master.toml");
    let servers = toml_list(&tb.bootstrap());
    std::fs::write(
        &path,
        format!(
            "[stats.connection]\nbootstrap_servers = {servers}\n\
             [checkpoint]\npath = {:?}\n\
             [action_log]\ntopic = {topic:?}\nreplay_timeout_secs = 30\n\
             [[clusters]]\nname = \"testbed\"\ncluster_id = \"cli-cluster\"\n\
             [clusters.connection]\nbootstrap_servers = {servers}\n",
            dir.path().join("ck"),
        ),
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
