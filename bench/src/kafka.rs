//! Kafka's own `--generate` algorithm (`bench/java/KafkaGenerate.java`, the released 4.3.1 jars)
//! over a cluster file, and its result applied to our simulator cluster.

use std::collections::HashMap;
use std::path::{Path, PathBuf};
use std::process::Command;
use std::time::{Duration, Instant};

use anyhow::{bail, Context, Result};
use kmedic_master::sim::Cluster;

/// The compiled driver: a class dir plus the Kafka jars.
pub struct Driver {
    classpath: String,
}

/// What one `--generate` run gave.
pub struct Generated {
    /// The cluster after the assignment, leaders on the preferred (first) replica.
    pub after: Cluster,
    /// Median of the in-JVM placement time over the runs.
    pub place: Duration,
    /// Wall time of the whole java process (JVM start, read the file, place, write).
    pub process: Duration,
}

/// The Kafka jars: `KAFKA_JARS`, else `tests/kafka/jars` (tests/kafka/fetch-jars.sh).
pub fn jars_dir() -> PathBuf {
    std::env::var_os("KAFKA_JARS")
        .map(PathBuf::from)
        .unwrap_or_else(|| Path::new(env!("CARGO_MANIFEST_DIR")).join("../tests/kafka/jars"))
}

impl Driver {
    /// Compiles the driver into `work`. Fails (the report then says why Kafka's column is
    /// missing) without javac or the jars.
    pub fn build(work: &Path) -> Result<Driver> {
        let jars = jars_dir();
        let server_common = jars.join("kafka-metadata-4.3.1.jar");
        if !server_common.exists() {
            bail!(
                "{} missing: run tests/kafka/fetch-jars.sh (or set KAFKA_JARS)",
                server_common.display()
            );
        }
        let classes = work.join("java-classes");
        std::fs::create_dir_all(&classes)?;
        let jars_glob = format!("{}/*", jars.display());
        let source = Path::new(env!("CARGO_MANIFEST_DIR")).join("java/KafkaGenerate.java");
        let out = Command::new("javac")
            .arg("-cp")
            .arg(&jars_glob)
            .arg("-d")
            .arg(&classes)
            .arg(&source)
            .output()
            .context("running javac (is a JDK 17+ installed?)")?;
        if !out.status.success() {
            bail!("javac failed: {}", String::from_utf8_lossy(&out.stderr));
        }
        Ok(Driver {
            classpath: format!("{}:{}", classes.display(), jars_glob),
        })
    }

    /// Runs `--generate` over `file` (written from `cluster`): brokers alive only, and either
    /// every topic or only those with a replica on a broker that is not alive.
    pub fn generate(
        &self,
        cluster: &Cluster,
        file: &Path,
        runs: usize,
        only_topics_on_dead: bool,
    ) -> Result<Generated> {
        let out = file.with_extension("kafka.tsv");
        let t = Instant::now();
        let res = Command::new("java")
            .args([
                "-Xmx6g",
                "-XX:+UseParallelGC",
                "-cp",
                &self.classpath,
                "KafkaGenerate",
            ])
            .arg(file)
            .arg(&out)
            .args(["42", &runs.to_string(), "alive"])
            .arg(if only_topics_on_dead {
                "on-dead"
            } else {
                "all"
            })
            .output()
            .context("running java")?;
        let process = t.elapsed();
        if !res.status.success() {
            bail!(
                "KafkaGenerate failed: {}",
                String::from_utf8_lossy(&res.stderr)
            );
        }
        let stdout = String::from_utf8_lossy(&res.stdout);
        let ms: f64 = stdout
            .split_whitespace()
            .find_map(|w| w.strip_prefix("place_ms_median="))
            .and_then(|v| v.parse().ok())
            .with_context(|| format!("no place_ms_median in {stdout:?}"))?;
        let text = std::fs::read_to_string(&out).with_context(|| format!("{}", out.display()))?;
        let _ = std::fs::remove_file(&out);
        Ok(Generated {
            after: apply(cluster, &text)?,
            place: Duration::from_secs_f64(ms / 1e3),
            process,
        })
    }
}

/// `cluster` with the driver's `topic TAB partition TAB r1,r2` lines applied as Kafka would
/// leave it once the reassignment completes and the automatic preferred-leader election ran
/// (`auto.leader.rebalance.enable`, on by default): replicas replaced, all in sync, leader first.
fn apply(cluster: &Cluster, text: &str) -> Result<Cluster> {
    let mut after = cluster.clone();
    let s = &mut after.snapshot;
    let index: HashMap<(u32, i32), usize> = s
        .partitions
        .iter()
        .enumerate()
        .map(|(i, p)| ((p.topic.0, p.partition), i))
        .collect();
    for line in text.lines() {
        let mut f = line.split('\t');
        let (Some(topic), Some(part), Some(reps)) = (f.next(), f.next(), f.next()) else {
            bail!("bad line from KafkaGenerate: {line:?}");
        };
        let t = s
            .topics
            .get(topic)
            .with_context(|| format!("topic {topic}"))?;
        let part: i32 = part.parse()?;
        let replicas: Vec<i32> = reps.split(',').map(str::parse).collect::<Result<_, _>>()?;
        let i = *index
            .get(&(t.0, part))
            .with_context(|| format!("{topic}-{part}"))?;
        let p = &mut s.partitions[i];
        p.leader = replicas.first().copied();
        p.isr = replicas.clone();
        p.replicas = replicas;
    }
    Ok(after)
}
