//! `kmedic-bench live`: the real `kafka-reassign-partitions --generate` (Kafka's own tool, from
//! the jars in `tests/kafka/jars`, run with the machine's Java) and `kmedic-master plan`, both
//! against the same live 6-broker testbed, for the three scenarios (issue 10 item 2). Neither
//! executes anything: both only propose, and the proposals are scored here, independently of
//! either tool, from the live assignment and the partitions' bytes on disk.
//!
//! One cluster, three phases (each tool sees the same cluster state in a phase):
//! 1. **add empty brokers**: topics are created on brokers 1 to 4 only (rack-correct), so 5 and
//!    6 are registered and empty, as freshly added brokers are. Kafka: every topic over brokers
//!    1 to 6; ours: `--request balance`.
//! 2. **full rebalance**: one more topic placed by Kafka over all six brokers; Kafka: every
//!    topic over 1 to 6; ours: `--request balance`.
//! 3. **dead broker**: broker 1 is SIGKILLed and the controller fences it. Kafka: the topics
//!    with a replica on broker 1, `--broker-list` without it (what an operator would type);
//!    ours: `--request heal` (the dead broker is taken from Kafka's fencing).
//!
//! CI never runs this (it needs Kafka and a minute); `report --quick` is the CI smoke.

use std::collections::BTreeMap;
use std::fmt::Write as _;
use std::path::{Path, PathBuf};
use std::process::Command;
use std::time::{Duration, Instant};

use anyhow::{bail, Context, Result};
use kmedic_tests::{wait_until, Testbed, TestbedConfig};

use crate::live_figures::{Assignment, Figures};

/// What `kmedic-bench live` was asked.
pub struct Opts {
    /// The testbed's port base (controller; broker N on base + N).
    pub port_base: u16,
    /// Timed runs per tool and scenario (median wall time reported).
    pub runs: usize,
    /// The `kmedic-master` binary to run.
    pub master: PathBuf,
    /// Average MiB written per partition.
    pub mib_per_partition: usize,
}

/// One tool's proposal in one scenario, scored.
struct Row {
    scenario: &'static str,
    tool: &'static str,
    wall: Option<Duration>,
    fig: Figures,
    /// Ours only: leader elections and unplaceable replicas the plan reports.
    extra: Option<(usize, usize)>,
}

/// Runs the three scenarios and returns the markdown section.
pub fn run(o: &Opts) -> Result<String> {
    let load_start = crate::loadavg();
    let t0 = Instant::now();
    if !o.master.exists() {
        bail!(
            "{} missing: build it with `cargo build --release -p kmedic-master` (or pass --master)",
            o.master.display()
        );
    }
    let work = tempfile::tempdir().context("creating a work dir")?;
    let cfg = TestbedConfig::from_env()
        .with_brokers(6)
        .with_port_base(o.port_base);
    eprintln!(
        "live: starting a 6-broker testbed on port base {}",
        o.port_base
    );
    let tb = Testbed::start(cfg).context("starting the testbed")?;
    let jars = kmedic_tests::jars_dir();
    let mut rows = Vec::new();

    // Phase 1: brokers 5 and 6 empty. Rack-correct triples over 1 (az-a), 2 (az-b), 3 (az-c),
    // 4 (az-a), leaders rotating.
    let mut topics = Vec::new();
    for (name, parts) in [("live-orders", 12), ("live-clicks", 8), ("live-logs", 6)] {
        let assignment: Vec<Vec<i32>> = (0..parts)
            .map(|p| {
                let a = if p % 2 == 0 { 1 } else { 4 };
                let mut r = vec![a, 2, 3];
                r.rotate_left(p as usize % 3);
                r
            })
            .collect();
        tb.create_topic_with_assignment(name, &assignment)?;
        fill(&tb, name, parts, o.mib_per_partition)?;
        topics.push(name.to_owned());
    }
    let all: Vec<i32> = tb.broker_ids();
    rows.extend(scenario(
        &tb,
        o,
        work.path(),
        &jars,
        "add empty brokers",
        &topics,
        &all,
        "balance",
        &[],
    )?);

    // Phase 2: one more topic over all six brokers (Kafka's own placement at creation).
    tb.create_topic("live-events", 12, 3)?;
    fill(&tb, "live-events", 12, o.mib_per_partition)?;
    topics.push("live-events".to_owned());
    rows.extend(scenario(
        &tb,
        o,
        work.path(),
        &jars,
        "full rebalance",
        &topics,
        &all,
        "balance",
        &[],
    )?);

    // Phase 3: broker 1 dies and is fenced.
    tb.kill(1)?;
    wait_until(Duration::from_secs(60), "broker 1 fenced", || {
        Ok(!tb.metadata()?.brokers.contains(&1))
    })?;
    let current = Assignment::live(&tb)?;
    let on_dead: Vec<String> = topics
        .iter()
        .filter(|t| current.replicas_of_topic(t).any(|r| r.contains(&1)))
        .cloned()
        .collect();
    let alive: Vec<i32> = all.iter().copied().filter(|&b| b != 1).collect();
    rows.extend(scenario(
        &tb,
        o,
        work.path(),
        &jars,
        "dead broker 1",
        &on_dead,
        &alive,
        "heal",
        &[1],
    )?);
    drop(tb);

    let mut md = String::new();
    let _ = writeln!(
        md,
        "Machine: {}; load average (1, 5, 15 min) {} at the start and {} at the end; {:.0} s \
         in all (testbed start and data included).\n",
        crate::machine(),
        load_start,
        crate::loadavg(),
        t0.elapsed().as_secs_f64()
    );
    let _ = writeln!(
        md,
        "Wall time: median of {} runs of the whole process (Kafka's tool: JVM start, admin \
         calls, placement; ours: connect, observe, plan). Per-broker figures are over the \
         brokers each tool was given (for a dead broker, the five alive ones); MB are the \
         partitions' segment bytes on disk.\n",
        o.runs
    );
    md.push_str(
        "All six brokers' log dirs share this machine's one volume, so DescribeLogDirs reports the \
         same used bytes for each of them and kmedic (which counts a volume's used bytes as its \
         brokers' disk load) sees no disk imbalance; `plan` is one-shot, without agent stats, \
         so traffic is 0 too. Replica counts and bytes per broker below are computed here from \
         the assignment and the partitions' own bytes.\n\n",
    );
    md.push_str(&table(&rows));
    Ok(md)
}

/// Writes about `mib` MiB per partition on average, uneven (0.25× to 1.75×) so bytes and
/// replica counts disagree, as on real clusters.
fn fill(tb: &Testbed, topic: &str, parts: i32, mib: usize) -> Result<()> {
    for p in 0..parts {
        let quarters = 1 + (p as usize * 5) % 7;
        tb.produce_to(topic, p, mib * quarters * (1 << 20) / 4)?;
    }
    Ok(())
}

/// Both tools on the current cluster; `topics` and `brokers` are what Kafka's tool is given.
#[allow(clippy::too_many_arguments)]
fn scenario(
    tb: &Testbed,
    o: &Opts,
    work: &Path,
    jars: &Path,
    name: &'static str,
    topics: &[String],
    brokers: &[i32],
    request: &str,
    dead: &[i32],
) -> Result<Vec<Row>> {
    eprintln!("live: {name}");
    let before = Assignment::live(tb)?;
    let sizes = before.sizes_on_disk(tb);
    let racks: BTreeMap<i32, String> = tb.broker_ids().iter().map(|&b| (b, tb.rack(b))).collect();
    let score = |after: &Assignment| Figures::of(&before, after, &sizes, &racks, brokers, dead);
    let mut rows = vec![Row {
        scenario: name,
        tool: "before",
        wall: None,
        fig: score(&before),
        extra: None,
    }];

    let topics_file = work.join("topics.json");
    let json = serde_json::json!({
        "version": 1,
        "topics": topics.iter().map(|t| serde_json::json!({"topic": t})).collect::<Vec<_>>(),
    });
    std::fs::write(&topics_file, json.to_string())?;
    let list: Vec<String> = brokers.iter().map(i32::to_string).collect();
    let mut kafka = Command::new("java");
    kafka
        .arg("-cp")
        .arg(format!("{}/*", jars.display()))
        .arg("org.apache.kafka.tools.reassign.ReassignPartitionsCommand")
        .args(["--bootstrap-server", &tb.bootstrap()])
        .arg("--topics-to-move-json-file")
        .arg(&topics_file)
        .args(["--broker-list", &list.join(","), "--generate"]);
    let (wall, out) = timed(&mut kafka, o.runs)?;
    let proposed = out
        .lines()
        .skip_while(|l| !l.starts_with("Proposed partition reassignment configuration"))
        .nth(1)
        .with_context(|| format!("no proposal in kafka-reassign-partitions' output:\n{out}"))?;
    rows.push(Row {
        scenario: name,
        tool: "kafka-reassign-partitions --generate",
        wall: Some(wall),
        fig: score(&before.with_reassignment(proposed)?),
        extra: None,
    });

    let plan_file = work.join("plan.json");
    let mut ours = Command::new(&o.master);
    ours.args(["plan", "--cluster", "live", "--bootstrap", &tb.bootstrap()])
        .args(["--request", request])
        // The testbed's brokers share the host's one volume; Kafka counts it used to its
        // reserved blocks (90 % on the bench machine), over the default 0.85, so at the
        // default every target would be "disk full" (as in the e2e trials).
        .args(["--max-disk-utilization", "0.99"])
        .arg("--json-out")
        .arg(&plan_file);
    let (wall, table) = timed(&mut ours, o.runs)?;
    let plan = std::fs::read_to_string(&plan_file).context("reading the plan's JSON")?;
    rows.push(Row {
        scenario: name,
        tool: "kmedic-master plan",
        wall: Some(wall),
        fig: score(&before.with_reassignment(&plan)?),
        extra: Some((
            heading_count(&table, "ELECTIONS"),
            heading_count(&table, "UNPLACEABLE"),
        )),
    });
    Ok(rows)
}

/// Runs `cmd` `runs` times; the median wall time and the last run's stdout. Fails on a
/// non-zero exit, with its stderr.
fn timed(cmd: &mut Command, runs: usize) -> Result<(Duration, String)> {
    let mut times = Vec::with_capacity(runs);
    let mut stdout = String::new();
    for _ in 0..runs.max(1) {
        let t = Instant::now();
        let out = cmd
            .output()
            .with_context(|| format!("running {:?}", cmd.get_program()))?;
        times.push(t.elapsed());
        if !out.status.success() {
            bail!(
                "{:?} failed ({}): {}",
                cmd.get_program(),
                out.status,
                String::from_utf8_lossy(&out.stderr)
            );
        }
        stdout = String::from_utf8_lossy(&out.stdout).into_owned();
    }
    times.sort();
    Ok((times[times.len() / 2], stdout))
}

/// `n` from a `HEADING (n)` line of `kmedic-master plan`'s table (0 when absent: the
/// elections heading is only printed when there are some).
fn heading_count(table: &str, heading: &str) -> usize {
    table
        .lines()
        .find_map(|l| {
            l.strip_prefix(heading)?
                .trim()
                .strip_prefix('(')?
                .strip_suffix(')')
        })
        .and_then(|n| n.parse().ok())
        .unwrap_or(0)
}

fn table(rows: &[Row]) -> String {
    let mut s = String::from(
        "| scenario | tool | wall ms | replicas moved | MB moved | replicas max/mean | max/min | \
         MB max/mean | max/min | leaders max/mean | rack viol. | on dead | elections | unplaceable |\n\
         |---|---|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|\n",
    );
    for r in rows {
        let f = &r.fig;
        let _ = writeln!(
            s,
            "| {} | {} | {} | {} | {:.1} | {:.3} | {} | {:.3} | {} | {:.3} | {} | {} | {} | {} |",
            r.scenario,
            r.tool,
            r.wall
                .map(|w| format!("{:.0}", w.as_secs_f64() * 1e3))
                .unwrap_or_default(),
            f.replicas_moved,
            f.bytes_moved as f64 / 1e6,
            f.replicas.0,
            ratio(f.replicas.1),
            f.bytes.0,
            ratio(f.bytes.1),
            f.leaders_max_over_mean,
            f.rack_violations,
            f.on_dead,
            r.extra.map(|e| e.0.to_string()).unwrap_or_default(),
            r.extra.map(|e| e.1.to_string()).unwrap_or_default(),
        );
    }
    s
}

fn ratio(x: f64) -> String {
    if x.is_infinite() {
        "∞".to_owned()
    } else {
        format!("{x:.2}")
    }
}

#[cfg(test)]
mod tests {
    #[test]
    fn plan_table_headings_are_counted() {
        let t = "cluster live (x): heal\n\nMOVES (3)\nPARTITION ...\n\nUNPLACEABLE (2)\n  a\n";
        assert_eq!(super::heading_count(t, "MOVES"), 3);
        assert_eq!(super::heading_count(t, "UNPLACEABLE"), 2);
        assert_eq!(super::heading_count(t, "ELECTIONS"), 0);
    }
}
