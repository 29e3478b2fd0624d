//! Shared pieces of the master's real-Kafka tests: a testbed on the master's port range,
//! simulated agents publishing heartbeats, a config, and a master running in the background.

#![allow(dead_code)] // each test binary uses a different subset

use std::sync::atomic::{AtomicBool, AtomicU8, Ordering};
use std::sync::Arc;
use std::time::{Duration, Instant, SystemTime, UNIX_EPOCH};

use kmedic_common::codec;
use kmedic_common::connection::ConnectionSettings;
use kmedic_common::stats::*;
use kmedic_master::config::*;
use kmedic_master::service::{self, board::Status, Board, Boards};
use kmedic_tests::{random_topic, Testbed, TestbedConfig};
use rdkafka::producer::{BaseProducer, BaseRecord, Producer};
use rdkafka::ClientConfig;

/// Serializes the tests of one binary: two testbeds at once on 2 cores make timings flaky.
pub fn serial() -> std::sync::MutexGuard<'static, ()> {
    static LOCK: std::sync::Mutex<()> = std::sync::Mutex::new(());
    LOCK.lock().unwrap_or_else(|e| e.into_inner())
}

/// Milliseconds since the epoch.
pub fn now_ms() -> u64 {
    SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .unwrap()
        .as_millis() as u64
}

/// Logs to the test's output (shown for failing tests).
pub fn init_logs() {
    let _ = tracing_subscriber::fmt()
        .with_env_filter(
            tracing_subscriber::EnvFilter::try_from_default_env()
                .unwrap_or_else(|_| "info,rdkafka=warn".into()),
        )
        .with_test_writer()
        .try_init();
}

/// A testbed of `brokers` on KMEDIC_MASTER_TEST_PORT_BASE (default 19400) + `offset`.
pub fn testbed(offset: u16, brokers: usize) -> Testbed {
    let base: u16 = std::env::var("KMEDIC_MASTER_TEST_PORT_BASE")
        .ok()
        .and_then(|v| v.parse().ok())
        .unwrap_or(19400)
        + offset;
    Testbed::start(
        TestbedConfig::from_env()
            .with_port_base(base)
            .with_brokers(brokers),
    )
    .expect("testbed")
}

/// An encoded heartbeat.
pub fn heartbeat(cluster: &str, broker: i32, seq: u64, state: ProcessState) -> Vec<u8> {
    codec::encode(&StatsRecord::Heartbeat(Heartbeat {
        identity: Identity {
            cluster_id: cluster.into(),
            broker_id: broker,
            rack: None,
            hostname: format!("host-{broker}"),
            az: None,
            az_source: AzSource::Unknown,
            instance_type: None,
            instance_id: None,
            agent_version: "e2e".into(),
        },
        timestamp_ms: now_ms(),
        seq,
        process: ProcessStats {
            pid: Some(1),
            probe: Probe::Ok { latency_us: 100 },
            ..ProcessStats::bare(state)
        },
        host: HostStats::default(),
        missing: vec![],
    }))
}

/// What a simulated agent reports.
pub const RUNNING: u8 = 0;
/// The agent reports the Kafka process stopped (SIGSTOP).
pub const STOPPED: u8 = 1;
/// The agent is silent (its host died).
pub const SILENT: u8 = 2;

/// Simulated agents for brokers 1..=n: one heartbeat each per second.
pub struct Agents {
    /// Per broker (index id - 1): RUNNING, STOPPED or SILENT.
    pub state: Arc<Vec<AtomicU8>>,
    stop: Arc<AtomicBool>,
    thread: Option<std::thread::JoinHandle<()>>,
}

impl Agents {
    /// Starts publishing to `topic` on `tb`.
    pub fn start(tb: &Testbed, topic: &str, n: i32) -> Self {
        let state: Arc<Vec<AtomicU8>> = Arc::new((0..n).map(|_| AtomicU8::new(RUNNING)).collect());
        let stop = Arc::new(AtomicBool::new(false));
        let (bootstrap, topic, cid) = (tb.bootstrap(), topic.to_string(), tb.cluster_id());
        let (st, sp) = (state.clone(), stop.clone());
        let thread = std::thread::spawn(move || {
            let p: BaseProducer = ClientConfig::new()
                .set("bootstrap.servers", &bootstrap)
                .create()
                .unwrap();
            let mut seq = 0;
            while !sp.load(Ordering::Relaxed) {
                seq += 1;
                for b in 1..=n {
                    let s = match st[(b - 1) as usize].load(Ordering::Relaxed) {
                        RUNNING => ProcessState::Running,
                        STOPPED => ProcessState::Stopped,
                        _ => continue,
                    };
                    let bytes = heartbeat(&cid, b, seq, s);
                    let _ = p.send(BaseRecord::<(), [u8]>::to(&topic).payload(&bytes));
                }
                p.flush(Duration::from_secs(5)).ok();
                std::thread::sleep(Duration::from_secs(1));
            }
        });
        Agents {
            state,
            stop,
            thread: Some(thread),
        }
    }

    /// Sets what broker `id`'s agent reports.
    pub fn set(&self, id: i32, s: u8) {
        self.state[(id - 1) as usize].store(s, Ordering::Relaxed);
    }
}

impl Drop for Agents {
    fn drop(&mut self) {
        self.stop.store(true, Ordering::Relaxed);
        if let Some(t) = self.thread.take() {
            let _ = t.join();
        }
    }
}

/// A master config for `tb` with fast polls and short graces; the cluster id is not
/// configured (the master learns it).
pub fn config(tb: &Testbed, stats_topic: &str, dir: &std::path::Path) -> MasterConfig {
    let conn = ConnectionSettings::plaintext(tb.bootstrap().split(','));
    let cfg = MasterConfig {
        clusters: vec![ClusterConfig {
            name: "e2e".into(),
            cluster_id: None,
            connection: conn.clone(),
            limits: NetworkLimits::default(),
            policy: PolicyConfig {
                alert_grace_secs: 0,
                heal_grace_secs: 4,
                replace_grace_secs: 3600,
                agent_silence_secs: 4,
                dry_run: false,
                maintenance: false,
                // Seconds-long graces keep the test short; the fake agents beat every second.
                allow_short_heal_grace: true,
                agent_heartbeat_secs: 1,
                ..PolicyConfig::default()
            },
            // Every testbed broker sits on this host's one volume, so each reports the whole
            // volume's use (DescribeLogDirs total - usable): on a busy build box that can pass
            // the default 0.85 and every heal target is then (rightly) "disk full".
            planner: kmedic_master::plan::Limits {
                max_disk_utilization: 0.99,
                ..Default::default()
            },
            cross_az: Default::default(),
        }],
        stats: StatsConfig {
            connection: conn,
            topic: stats_topic.to_string(),
        },
        checkpoint: CheckpointConfig {
            path: dir.join("master.checkpoint"),
            interval_secs: 2,
        },
        window: WindowConfig::default(),
        poll_interval_secs: 1,
        log_summary_secs: 300,
        ingest: Default::default(),
        action_log: Default::default(),
        alert: Default::default(),
        replace: Default::default(),
        decommission: Default::default(),
        // An ephemeral port: several masters may run at once.
        serve: kmedic_master::config::ServeConfig {
            bind: std::net::SocketAddr::from(([127, 0, 0, 1], 0)),
            ..Default::default()
        },
        execute: Default::default(),
    };
    cfg.validate().unwrap();
    cfg
}

/// A stats topic on `tb` (RF 3) with no replica on broker `avoid`, the broker the test breaks.
/// A killed or hung (SIGSTOPped) leader of the stats topic stalls the agents' producer and the
/// master's consumer for seconds to tens of seconds, so every agent would look silent and the
/// test would see the stats path down instead of the broker it broke.
pub fn stats_topic_avoiding(tb: &Testbed, avoid: i32) -> String {
    let t = random_topic("kmedic-stats");
    let replicas: Vec<i32> = tb
        .broker_ids()
        .into_iter()
        .filter(|&b| b != avoid)
        .take(3)
        .collect();
    tb.create_topic_with_assignment(&t, &[replicas]).unwrap();
    t
}

/// A master running in the background, with its cluster's status board.
pub struct Master {
    rt: Option<tokio::runtime::Runtime>,
    board: tokio::sync::watch::Receiver<Board>,
    stop: Option<tokio::sync::oneshot::Sender<()>>,
    task: Option<tokio::task::JoinHandle<Result<(), service::Error>>>,
}

impl Master {
    /// Starts `service::run_with(cfg)`, subscribed to the board of its first cluster.
    pub fn start(cfg: MasterConfig) -> Self {
        let rt = tokio::runtime::Builder::new_multi_thread()
            .worker_threads(2)
            .enable_all()
            .build()
            .unwrap();
        let boards = Boards::new(&cfg);
        let board = boards
            .subscribe(&cfg.clusters[0].name)
            .expect("a board per configured cluster");
        let (stop, stopped) = tokio::sync::oneshot::channel::<()>();
        let task = rt.spawn(service::run_with(
            cfg,
            async {
                let _ = stopped.await;
            },
            boards,
        ));
        Master {
            rt: Some(rt),
            board,
            stop: Some(stop),
            task: Some(task),
        }
    }

    /// The board after the next full round (observe, detect, decide, plan), or `None` at
    /// `until`.
    pub fn next(&mut self, until: Instant) -> Option<Board> {
        let board = &mut self.board;
        self.rt.as_ref()?.block_on(async {
            let wait = async {
                loop {
                    board.changed().await.ok()?;
                    let b = board.borrow_and_update().clone();
                    if b.status == Status::Ran {
                        return Some(b);
                    }
                }
            };
            tokio::time::timeout(until.saturating_duration_since(Instant::now()), wait)
                .await
                .ok()
                .flatten()
        })
    }

    /// Stops the master (it writes a last checkpoint) and returns its result.
    pub fn shutdown(mut self) -> Result<(), service::Error> {
        if let Some(s) = self.stop.take() {
            let _ = s.send(());
        }
        match (self.task.take(), self.rt.as_ref()) {
            (Some(t), Some(rt)) => rt.block_on(t).expect("master task"),
            _ => Ok(()),
        }
    }
}

impl Drop for Master {
    /// After a failed assertion: stop the master and do not wait on it for long.
    fn drop(&mut self) {
        if let Some(s) = self.stop.take() {
            let _ = s.send(());
        }
        if let Some(rt) = self.rt.take() {
            rt.shutdown_timeout(Duration::from_secs(5));
        }
    }
}
