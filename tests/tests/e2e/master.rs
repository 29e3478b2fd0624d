//! End-to-end trials for the master, on the shared cluster.
//!
//! `plan` runs the real `kmedic-master` binary (this crate does not link the master library):
//! it is built on demand with the same profile as this test binary, so the trial always runs
//! the current code.

use std::path::PathBuf;
use std::process::Command;
use std::sync::Arc;
use std::time::Duration;

use anyhow::{ensure, Context};
use kmedic_tests::e2e::{trial, Ctx, Restore};
use kmedic_tests::{metadata, random_topic, wait_until, MetadataView, PartitionView};
use libtest_mimic::Trial;

/// The master's trials.
pub fn trials(ctx: &Arc<Ctx>) -> Vec<Trial> {
    vec![trial(
        ctx,
        "master::plan_heals_killed_broker_within_its_rack",
        plan_heals_killed_broker,
    )]
}

/// Builds (if needed) and locates the `kmedic-master` binary next to this test binary's
/// profile directory (`target/<profile>/kmedic-master`).
fn master_binary() -> anyhow::Result<PathBuf> {
    let exe = std::env::current_exe()?;
    // target/<profile>/deps/e2e-<hash>
    let profile_dir = exe
        .parent()
        .and_then(|d| d.parent())
        .context("test binary has no profile dir")?
        .to_path_buf();
    let release = profile_dir.file_name().is_some_and(|n| n == "release");
    let cargo = std::env::var("CARGO").unwrap_or_else(|_| "cargo".into());
    let mut build = Command::new(cargo);
    build.args([
        "build",
        "--quiet",
        "-p",
        "kmedic-master",
        "--bin",
        "kmedic-master",
    ]);
    if release {
        build.arg("--release");
    }
    let status = build
        .current_dir(env!("CARGO_MANIFEST_DIR"))
        .status()
        .context("running cargo build for kmedic-master")?;
    ensure!(status.success(), "cargo build -p kmedic-master failed");
    let bin = profile_dir.join("kmedic-master");
    ensure!(bin.exists(), "{} not found after build", bin.display());
    Ok(bin)
}

/// Kills broker 2 (rack az-b), waits until Kafka drops it, runs `kmedic-master plan`, and checks
/// the plan: every replica on broker 2 of the test topic gets a new home on an alive broker,
/// in az-b where possible (broker 5), RF kept, racks distinct; the JSON file parses in the
/// kafka-reassign-partitions format. Nothing is executed: the assignment is unchanged after.
fn plan_heals_killed_broker(ctx: &Ctx) -> anyhow::Result<()> {
    const KILLED: i32 = 2;
    let bin = master_binary()?;
    let tb = ctx.shared()?;
    let topic = random_topic("plan-heal");
    tb.create_topic(&topic, 12, 3)?;
    tb.produce(&topic, 256 * 1024)?;
    let timeout = Duration::from_secs(10);
    let before = metadata(&tb.bootstrap(), timeout)?;
    let ours = |md: &MetadataView| -> Vec<PartitionView> {
        let mut v: Vec<_> = md
            .partitions
            .iter()
            .filter(|p| p.topic == topic)
            .cloned()
            .collect();
        v.sort_by_key(|p| p.partition);
        v
    };
    let on_killed: Vec<PartitionView> = ours(&before)
        .into_iter()
        .filter(|p| p.replicas.contains(&KILLED))
        .collect();
    ensure!(
        !on_killed.is_empty(),
        "no replica of {topic} on broker {KILLED}"
    );

    let _restore = Restore::new(&tb, &[KILLED]);
    tb.kill(KILLED)?;
    wait_until(
        Duration::from_secs(60),
        "broker 2 dropped from metadata",
        || {
            Ok(!metadata(&tb.bootstrap(), timeout)?
                .brokers
                .contains(&KILLED))
        },
    )?;

    let dir = tempfile::tempdir()?;
    let json_path = dir.path().join("reassign.json");
    let out = Command::new(&bin)
        .args(["plan", "--cluster", "testbed", "--bootstrap"])
        .arg(tb.bootstrap())
        .args(["--request", "heal"])
        // Every testbed broker reports this host's one volume, which Kafka can see above the
        // planner's default 0.85 used (then every target is "disk full"): this trial is about
        // racks, not disk.
        .args(["--max-disk-utilization", "0.99", "--json-out"])
        .arg(&json_path)
        .output()
        .context("running kmedic-master plan")?;
    let stdout = String::from_utf8_lossy(&out.stdout);
    ensure!(
        out.status.success(),
        "plan failed: {}\n{stdout}",
        String::from_utf8_lossy(&out.stderr)
    );
    tracing::info!("plan output:\n{stdout}");
    ensure!(
        stdout.contains("MOVES") && stdout.contains("dead: broker 2"),
        "{stdout}"
    );

    let json: serde_json::Value = serde_json::from_str(&std::fs::read_to_string(&json_path)?)?;
    ensure!(json["version"] == 1, "{json}");
    let entries = json["partitions"]
        .as_array()
        .context("no partitions array")?;
    let rack = |id: i32| tb.config().rack(id);
    for p in &on_killed {
        let e = entries
            .iter()
            .find(|e| e["topic"] == topic.as_str() && e["partition"] == p.partition)
            .with_context(|| format!("no move for {topic}-{} in {json}", p.partition))?;
        let new: Vec<i32> = serde_json::from_value(e["replicas"].clone())?;
        let dirs = e["log_dirs"].as_array().context("log_dirs")?;
        ensure!(
            dirs.len() == new.len() && dirs.iter().all(|d| d == "any"),
            "{e}"
        );
        ensure!(
            new.len() == p.replicas.len(),
            "RF changed: {:?} -> {new:?}",
            p.replicas
        );
        ensure!(
            !new.contains(&KILLED),
            "still on the killed broker: {new:?}"
        );
        let live = metadata(&tb.bootstrap(), timeout)?.brokers;
        ensure!(
            new.iter().all(|b| live.contains(b)),
            "{new:?} not all alive ({live:?})"
        );
        let mut racks: Vec<String> = new.iter().map(|&b| rack(b)).collect();
        racks.sort();
        racks.dedup();
        ensure!(racks.len() == new.len(), "racks not distinct: {new:?}");
        let slot = p
            .replicas
            .iter()
            .position(|&b| b == KILLED)
            .context("slot")?;
        ensure!(
            rack(new[slot]) == rack(KILLED),
            "{topic}-{}: replacement {} in {} instead of {}",
            p.partition,
            new[slot],
            rack(new[slot]),
            rack(KILLED)
        );
    }
    // `plan` must not execute anything.
    let after = ours(&metadata(&tb.bootstrap(), timeout)?);
    for (a, b) in after.iter().zip(ours(&before)) {
        ensure!(
            a.replicas == b.replicas,
            "assignment changed: {a:?} vs {b:?}"
        );
    }
    Ok(())
}
