//! End-to-end trials for the agent: the real `kmedic-agent` binary, one per broker, pointed at
//! the testbed brokers' own server.properties, publishing to a real stats topic that the trials
//! consume and decode with the codec.

use std::collections::BTreeSet;
use std::io::{Read, Write};
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::sync::{Arc, OnceLock};
use std::time::{Duration, Instant, SystemTime, UNIX_EPOCH};

use anyhow::{bail, ensure, Context};
use kmedic_common::codec;
use kmedic_common::stats::{FullStats, Heartbeat, ProcessState, ReplicaRole, StatsRecord};
use kmedic_tests::e2e::{trial, Ctx, Restore};
use kmedic_tests::{random_topic, Testbed};
use libtest_mimic::Trial;
use rand::RngCore;
use rdkafka::config::ClientConfig;
use rdkafka::consumer::{BaseConsumer, Consumer};
use rdkafka::producer::{BaseProducer, BaseRecord, Producer};
use rdkafka::Message;

/// The agent's trials.
pub fn trials(ctx: &Arc<Ctx>) -> Vec<Trial> {
    vec![
        trial(ctx, "agent::replicas_and_bytes_in", replicas_and_bytes_in),
        trial(ctx, "agent::heartbeat_after_kill", heartbeat_after_kill),
        trial(ctx, "agent::stats_cluster_outage", stats_cluster_outage),
    ]
}

fn now_ms() -> u64 {
    SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map(|d| d.as_millis() as u64)
        .unwrap_or(0)
}

/// Builds the agent binary (a no-op when fresh) next to this test binary and returns its path.
fn agent_binary() -> anyhow::Result<PathBuf> {
    static BUILT: OnceLock<Result<PathBuf, String>> = OnceLock::new();
    let built = BUILT.get_or_init(|| {
        let build = || -> anyhow::Result<PathBuf> {
            // target/<profile>/deps/e2e-xxxx -> target/<profile>/kmedic-agent
            let exe = std::env::current_exe()?;
            let profile_dir = exe
                .parent()
                .and_then(Path::parent)
                .context("test binary has no target dir")?;
            let mut cmd = Command::new(std::env::var("CARGO").unwrap_or_else(|_| "cargo".into()));
            cmd.args(["build", "-q", "-p", "kmedic-agent", "--bin", "kmedic-agent"])
                .current_dir(concat!(env!("CARGO_MANIFEST_DIR"), "/.."));
            if profile_dir.file_name().is_some_and(|n| n == "release") {
                cmd.arg("--release");
            }
            let status = cmd
                .status()
                .context("running cargo build -p kmedic-agent")?;
            ensure!(status.success(), "cargo build -p kmedic-agent failed");
            let bin = profile_dir.join("kmedic-agent");
            ensure!(bin.is_file(), "no agent binary at {}", bin.display());
            Ok(bin)
        };
        build().map_err(|e| format!("{e:#}"))
    });
    built.clone().map_err(|e| anyhow::anyhow!(e))
}

/// A running agent process; SIGTERM and reaped on drop.
struct Agent {
    child: Child,
    log: PathBuf,
    _dir: tempfile::TempDir,
}

impl Agent {
    /// Starts an agent for the broker whose server.properties is `props`, publishing to `topic`
    /// at `bootstrap`. `stats_extra` is appended to the `[stats]` table.
    fn start(
        props: &Path,
        bootstrap: &str,
        topic: &str,
        stats_extra: &str,
    ) -> anyhow::Result<Agent> {
        let dir = tempfile::tempdir()?;
        let servers: Vec<String> = bootstrap.split(',').map(|s| format!("{s:?}")).collect();
        let config = format!(
            "server_properties = {props:?}\n\
             [stats]\ntopic = {topic:?}\nheartbeat_interval_secs = 1\nfull_interval_secs = 5\n\
             message_timeout_ms = 2000\n{stats_extra}\n\
             [stats.connection]\nbootstrap_servers = [{}]\n\
             [collect.imds]\nenabled = false\n\
             [metrics]\nlisten_address = \"127.0.0.1:0\"\n",
            servers.join(", ")
        );
        let config_path = dir.path().join("agent.toml");
        std::fs::write(&config_path, config)?;
        let log = dir.path().join("agent.log");
        let child = Command::new(agent_binary()?)
            .arg("run")
            .arg("--config")
            .arg(&config_path)
            .env("RUST_LOG", "info,rdkafka=warn")
            .stdout(Stdio::null())
            .stderr(std::fs::File::create(&log)?)
            .spawn()
            .context("starting kmedic-agent")?;
        Ok(Agent {
            child,
            log,
            _dir: dir,
        })
    }

    fn log_text(&self) -> String {
        std::fs::read_to_string(&self.log).unwrap_or_default()
    }

    /// The agent's `/metrics` text (the address is taken from its start-up log line).
    fn metrics(&self) -> anyhow::Result<String> {
        let log = self.log_text();
        let addr = log
            .lines()
            .find(|l| l.contains("serving the agent's metrics"))
            .and_then(|l| l.split("addr=").nth(1))
            .and_then(|s| s.split_whitespace().next())
            .with_context(|| format!("no metrics address in the agent log:\n{log}"))?;
        let mut s = std::net::TcpStream::connect(addr)?;
        s.set_read_timeout(Some(Duration::from_secs(5)))?;
        s.write_all(b"GET /metrics HTTP/1.0\r\nHost: localhost\r\n\r\n")?;
        let mut out = String::new();
        s.read_to_string(&mut out)?;
        Ok(out)
    }

    /// One counter or gauge value from `/metrics`.
    fn metric(&self, name: &str) -> anyhow::Result<u64> {
        let text = self.metrics()?;
        text.lines()
            .find_map(|l| l.strip_prefix(name)?.strip_prefix(' ')?.trim().parse().ok())
            .with_context(|| format!("no {name} in /metrics:\n{text}"))
    }
}

impl Drop for Agent {
    fn drop(&mut self) {
        let pid = nix::unistd::Pid::from_raw(self.child.id() as i32);
        let _ = nix::sys::signal::kill(pid, nix::sys::signal::Signal::SIGTERM);
        let deadline = Instant::now() + Duration::from_secs(10);
        while Instant::now() < deadline {
            if let Ok(Some(_)) = self.child.try_wait() {
                return;
            }
            std::thread::sleep(Duration::from_millis(50));
        }
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

/// Consumes a stats topic from the beginning and decodes every record.
struct StatsReader {
    consumer: BaseConsumer,
    records: Vec<StatsRecord>,
}

impl StatsReader {
    fn new(bootstrap: &str, topic: &str) -> anyhow::Result<StatsReader> {
        let consumer: BaseConsumer = ClientConfig::new()
            .set("bootstrap.servers", bootstrap)
            .set("group.id", random_topic("kmedic-e2e-agent"))
            .set("auto.offset.reset", "earliest")
            .set("enable.auto.commit", "false")
            .set("reconnect.backoff.max.ms", "500")
            .set("log_level", "3")
            .create()?;
        consumer.subscribe(&[topic])?;
        Ok(StatsReader {
            consumer,
            records: Vec::new(),
        })
    }

    /// Polls for `for_`, decoding what arrives; an undecodable record fails the trial.
    fn poll(&mut self, for_: Duration) -> anyhow::Result<()> {
        let deadline = Instant::now() + for_;
        loop {
            let wait = deadline
                .saturating_duration_since(Instant::now())
                .min(Duration::from_millis(200));
            // Errors (a stats broker that is down on purpose) are transient here.
            if let Some(Ok(m)) = self.consumer.poll(wait) {
                let payload = m.payload().unwrap_or_default();
                self.records
                    .push(codec::decode(payload).context("decoding a stats record")?);
                continue;
            }
            if Instant::now() >= deadline {
                return Ok(());
            }
        }
    }

    /// Polls until `f` holds on what was read, or fails after `timeout`.
    fn until(
        &mut self,
        timeout: Duration,
        what: &str,
        mut f: impl FnMut(&[StatsRecord]) -> bool,
    ) -> anyhow::Result<()> {
        let deadline = Instant::now() + timeout;
        loop {
            if f(&self.records) {
                return Ok(());
            }
            if Instant::now() > deadline {
                bail!("timed out after {timeout:?} waiting for {what}");
            }
            self.poll(Duration::from_millis(500))?;
        }
    }

    fn fulls(&self, broker: i32) -> impl Iterator<Item = &FullStats> {
        self.records.iter().filter_map(move |r| match r {
            StatsRecord::Full(f) if f.identity.broker_id == broker => Some(f),
            _ => None,
        })
    }

    fn heartbeats(&self, broker: i32) -> impl Iterator<Item = &Heartbeat> {
        self.records.iter().filter_map(move |r| match r {
            StatsRecord::Heartbeat(h) if h.identity.broker_id == broker => Some(h),
            _ => None,
        })
    }
}

/// Replicas a full record lists as assigned to its broker, with their role (the metadata log
/// excluded: it is a KRaft internal directory, not a partition in Metadata).
fn listed_replicas(f: &FullStats) -> BTreeSet<(String, i32, String)> {
    f.replicas
        .iter()
        .filter(|r| r.role != ReplicaRole::NotAssigned && !r.future)
        .filter_map(|r| {
            let topic = f.topics.get(r.topic as usize)?.clone();
            Some((topic, r.partition, format!("{:?}", r.role)))
        })
        .filter(|(t, _, _)| t != "__cluster_metadata")
        .collect()
}

fn start_agents(tb: &Testbed, topic: &str, ids: &[i32]) -> anyhow::Result<Vec<Agent>> {
    ids.iter()
        .map(|id| Agent::start(&tb.server_properties(*id), &tb.bootstrap(), topic, ""))
        .collect()
}

/// Every broker's full sample lists exactly its replicas in the metadata, with the leader or
/// follower role the metadata gives them, and a partition's
/// bytes-in rate tracks a steady, known produce rate within 10 % on its leader and followers.
fn replicas_and_bytes_in(ctx: &Ctx) -> anyhow::Result<()> {
    let tb = ctx.shared()?;
    let stats_topic = random_topic("kmedic-stats");
    tb.create_topic(&stats_topic, 3, 3)?;
    let data_topic = random_topic("agent-bytes-in");
    tb.create_topic(&data_topic, 6, 3)?;
    let ids = tb.broker_ids();
    let agents = start_agents(&tb, &stats_topic, &ids)?;
    let mut reader = StatsReader::new(&tb.bootstrap(), &stats_topic)?;

    // Produce 10 KiB records to partition 0 every 100 ms (about 100 KiB/s) for 22 s: more than
    // four 5 s full intervals. Random bytes and no compression, so disk growth equals payload
    // plus about 1 % of batch headers.
    const RECORD: usize = 10 * 1024;
    const EVERY: Duration = Duration::from_millis(100);
    let producer: BaseProducer = ClientConfig::new()
        .set("bootstrap.servers", tb.bootstrap())
        .set("acks", "all")
        .set("linger.ms", "0")
        .set("compression.type", "none")
        .create()?;
    let mut payload = vec![0u8; RECORD];
    let started = now_ms();
    let start = Instant::now();
    let mut sent = 0usize;
    while start.elapsed() < Duration::from_secs(22) {
        rand::rng().fill_bytes(&mut payload);
        producer
            .send(
                BaseRecord::<(), _>::to(&data_topic)
                    .partition(0)
                    .payload(&payload),
            )
            .map_err(|(e, _)| e)?;
        sent += RECORD;
        producer.poll(Duration::ZERO);
        let next = start + EVERY * (sent / RECORD) as u32;
        std::thread::sleep(next.saturating_duration_since(Instant::now()));
        reader.poll(Duration::ZERO)?;
    }
    producer.flush(Duration::from_secs(10))?;
    let stopped = now_ms();
    let rate = sent as f64 * 1000.0 / (stopped - started) as f64;

    let md = tb.metadata()?;
    let p0 = md
        .partitions
        .iter()
        .find(|p| p.topic == data_topic && p.partition == 0)
        .context("partition 0 not in metadata")?;
    // Full samples whose whole interval lies inside the steady production.
    let in_window = |f: &FullStats| {
        f.interval_ms > 0
            && f.timestamp_ms.saturating_sub(f.interval_ms) >= started + 500
            && f.timestamp_ms <= stopped
    };
    reader.poll(Duration::from_secs(2))?;
    for id in &p0.replicas {
        let rates: Vec<u64> = reader
            .fulls(*id)
            .filter(|f| in_window(f))
            .filter_map(|f| {
                let t = f.topics.iter().position(|t| *t == data_topic)? as u32;
                f.replicas
                    .iter()
                    .find(|r| r.topic == t && r.partition == 0)?
                    .bytes_in_per_sec
            })
            .collect();
        ensure!(
            rates.len() >= 2,
            "broker {id}: only {} full samples inside the produce window",
            rates.len()
        );
        for r in &rates {
            let err = (*r as f64 - rate).abs() / rate;
            ensure!(
                err <= 0.10,
                "broker {id}: bytes_in {r}/s vs produced {rate:.0}/s ({:.1} % off); all: {rates:?}",
                err * 100.0
            );
        }
    }

    // Replica lists: compare each broker's next full sample after a metadata snapshot; topics
    // other trials create or delete meanwhile can make one comparison stale, so retry a few.
    for id in &ids {
        let mut last = String::new();
        let mut ok = false;
        for _ in 0..4 {
            let md = tb.metadata()?;
            let expected: BTreeSet<(String, i32, String)> = md
                .partitions
                .iter()
                .filter(|p| p.replicas.contains(id))
                .map(|p| {
                    let role = if p.leader == *id {
                        ReplicaRole::Leader
                    } else {
                        ReplicaRole::Follower
                    };
                    (p.topic.clone(), p.partition, format!("{role:?}"))
                })
                .collect();
            let after = now_ms();
            reader.until(Duration::from_secs(20), "a fresh full sample", |recs| {
                recs.iter().any(|r| {
                    matches!(r, StatsRecord::Full(f)
                    if f.identity.broker_id == *id && f.timestamp_ms > after)
                })
            })?;
            let f = reader
                .fulls(*id)
                .filter(|f| f.timestamp_ms > after)
                .last()
                .context("no fresh full sample")?;
            let got = listed_replicas(f);
            if got == expected {
                ok = true;
                break;
            }
            last = format!(
                "broker {id}: agent lists {} replicas, metadata {}; only agent: {:?}; only metadata: {:?}",
                got.len(),
                expected.len(),
                got.difference(&expected).collect::<Vec<_>>(),
                expected.difference(&got).collect::<Vec<_>>()
            );
        }
        ensure!(ok, "{last}");
    }
    drop(agents);
    Ok(())
}

/// After kill(id), the next heartbeat from that broker's agent says the Kafka process is gone.
fn heartbeat_after_kill(ctx: &Ctx) -> anyhow::Result<()> {
    let tb = ctx.shared()?;
    let id = *tb.broker_ids().last().context("no brokers")?;
    let stats_topic = random_topic("kmedic-stats");
    tb.create_topic(&stats_topic, 1, 3)?;
    let agent = Agent::start(&tb.server_properties(id), &tb.bootstrap(), &stats_topic, "")?;
    let mut reader = StatsReader::new(&tb.bootstrap(), &stats_topic)?;
    reader
        .until(
            Duration::from_secs(60),
            "a heartbeat saying Running",
            |recs| {
                recs.iter().any(|r| {
                    matches!(r, StatsRecord::Heartbeat(h)
                if h.identity.broker_id == id && h.process.state == ProcessState::Running)
                })
            },
        )
        .with_context(|| agent.log_text())?;

    let _restore = Restore::new(&tb, &[id]);
    tb.kill(id)?;
    let killed = now_ms();
    reader.until(
        Duration::from_secs(30),
        "a heartbeat after the kill",
        |recs| {
            recs.iter().any(|r| {
                matches!(r, StatsRecord::Heartbeat(h)
            if h.identity.broker_id == id && h.timestamp_ms > killed)
            })
        },
    )?;
    let next = reader
        .heartbeats(id)
        .find(|h| h.timestamp_ms > killed)
        .context("no heartbeat after the kill")?;
    ensure!(
        next.process.state == ProcessState::Gone,
        "first heartbeat after kill says {:?} (pid {:?}, probe {:?})",
        next.process.state,
        next.process.pid,
        next.process.probe
    );
    drop(agent);
    Ok(())
}

/// With the stats cluster down for longer than the buffer holds, the agent drops only the
/// oldest records beyond its buffer (its drop counter equals the gap in seqs), and recovers by
/// itself when the stats cluster is back.
fn stats_cluster_outage(ctx: &Ctx) -> anyhow::Result<()> {
    let tb = ctx.shared()?;
    let stats = ctx.own(1)?;
    let stats_topic = random_topic("kmedic-stats");
    stats.create_topic(&stats_topic, 1, 1)?;
    let id = tb.broker_ids()[0];
    const BUFFER: u64 = 5;
    let agent = Agent::start(
        &tb.server_properties(id),
        &stats.bootstrap(),
        &stats_topic,
        &format!("buffer_max_records = {BUFFER}"),
    )?;
    let mut reader = StatsReader::new(&stats.bootstrap(), &stats_topic)?;
    let max_seq = |recs: &[StatsRecord]| {
        recs.iter()
            .map(|r| match r {
                StatsRecord::Heartbeat(h) => h.seq,
                StatsRecord::Full(f) => f.seq,
            })
            .max()
            .unwrap_or(0)
    };
    reader
        .until(
            Duration::from_secs(60),
            "3 records before the outage",
            |r| max_seq(r) >= 3,
        )
        .with_context(|| agent.log_text())?;

    stats.stop(1)?;
    // About 15 records at one per second: three times the buffer.
    std::thread::sleep(Duration::from_secs(15));
    ensure!(
        agent.metric("kmedic_agent_records_dropped_total")? > 0,
        "nothing dropped while down"
    );
    let restarted = Instant::now();
    stats.restart(1)?;
    let before = max_seq(&reader.records);
    reader
        .until(Duration::from_secs(90), "records after the outage", |r| {
            max_seq(r) >= before + 15
        })
        .with_context(|| agent.log_text())?;
    let recovery = restarted.elapsed();

    let seqs: BTreeSet<u64> = reader
        .records
        .iter()
        .map(|r| match r {
            StatsRecord::Heartbeat(h) => h.seq,
            StatsRecord::Full(f) => f.seq,
        })
        .collect();
    let (lo, hi) = (*seqs.first().unwrap_or(&0), *seqs.last().unwrap_or(&0));
    ensure!(
        lo == 1,
        "first seq read is {lo}: the first records were lost"
    );
    let gap = hi - lo + 1 - seqs.len() as u64;
    let dropped = agent.metric("kmedic_agent_records_dropped_total")?;
    ensure!(
        gap == dropped,
        "seq gap {gap} != dropped {dropped} (missing seqs: {:?})",
        (lo..=hi).filter(|s| !seqs.contains(s)).collect::<Vec<_>>()
    );
    ensure!(
        gap > 0,
        "the outage lost nothing: the buffer bound was not exercised"
    );
    eprintln!(
        "agent::stats_cluster_outage: dropped {dropped} (buffer {BUFFER}), recovered {:.1} s after restart",
        recovery.as_secs_f64()
    );
    drop(agent);
    Ok(())
}
