//! The running master against a real 4-broker Kafka 4.3 cluster, with agents simulated by
//! publishing heartbeats to the stats topic: a killed broker whose agent falls silent is found
//! dead, held through the heal grace, then healed (planned, not executed) within its rack; the
//! final checkpoint holds the model.
//!
//! Starts its own testbed on KMEDIC_MASTER_TEST_PORT_BASE + 20 (default 19420).

use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::Arc;
use std::time::{Duration, Instant, SystemTime, UNIX_EPOCH};

use kmedic_common::codec;
use kmedic_common::connection::ConnectionSettings;
use kmedic_common::stats::*;
use kmedic_master::config::*;
use kmedic_master::detect::FindingKind;
use kmedic_master::model::checkpoint;
use kmedic_master::plan::Request;
use kmedic_master::policy::{self, Action, Verdict};
use kmedic_master::service::{self, RoundReport};
use kmedic_tests::{random_topic, Testbed, TestbedConfig};
use rdkafka::producer::{BaseProducer, BaseRecord, Producer};
use rdkafka::ClientConfig;

const KILLED: i32 = 4;

fn now_ms() -> u64 {
    SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .unwrap()
        .as_millis() as u64
}

fn heartbeat(cluster: &str, broker: i32, seq: u64) -> Vec<u8> {
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
            state: ProcessState::Running,
            pid: Some(1),
            cpu_percent: None,
            rss_bytes: None,
            threads: None,
            open_fds: None,
            uptime_secs: None,
            probe: Probe::Ok { latency_us: 100 },
        },
        host: HostStats::default(),
        missing: vec![],
    }))
}

#[test]
fn killed_broker_is_held_through_the_grace_then_healed_in_its_rack() {
    let _ = tracing_subscriber::fmt()
        .with_env_filter(
            tracing_subscriber::EnvFilter::try_from_default_env()
                .unwrap_or_else(|_| "info,rdkafka=warn".into()),
        )
        .with_test_writer()
        .try_init();
    let base: u16 = std::env::var("KMEDIC_MASTER_TEST_PORT_BASE")
        .ok()
        .and_then(|v| v.parse().ok())
        .unwrap_or(19400)
        + 20;
    let tb = Testbed::start(
        TestbedConfig::from_env()
            .with_port_base(base)
            .with_brokers(4),
    )
    .expect("testbed");
    let cluster_id = tb.cluster_id();
    let stats_topic = random_topic("kmedic-stats");
    tb.create_topic(&stats_topic, 1, 1).unwrap();
    let data = random_topic("orders");
    tb.create_topic(&data, 8, 3).unwrap();
    tb.produce(&data, 64 * 1024).unwrap();

    // Simulated agents: a heartbeat per broker per second; broker 4's stops when it dies.
    let killed = Arc::new(AtomicBool::new(false));
    let stop_agents = Arc::new(AtomicBool::new(false));
    let agents = {
        let (bootstrap, topic, cid) = (tb.bootstrap(), stats_topic.clone(), cluster_id.clone());
        let (killed, stop) = (killed.clone(), stop_agents.clone());
        std::thread::spawn(move || {
            let p: BaseProducer = ClientConfig::new()
                .set("bootstrap.servers", &bootstrap)
                .create()
                .unwrap();
            let mut seq = 0;
            while !stop.load(Ordering::Relaxed) {
                seq += 1;
                for b in 1..=4 {
                    if b == KILLED && killed.load(Ordering::Relaxed) {
                        continue;
                    }
                    let bytes = heartbeat(&cid, b, seq);
                    let _ = p.send(BaseRecord::<(), [u8]>::to(&topic).payload(&bytes));
                }
                p.flush(Duration::from_secs(5)).ok();
                std::thread::sleep(Duration::from_secs(1));
            }
        })
    };

    let dir = tempfile::tempdir().unwrap();
    let conn = ConnectionSettings::plaintext(tb.bootstrap().split(','));
    let cfg: MasterConfig = MasterConfig {
        clusters: vec![ClusterConfig {
            name: "e2e".into(),
            // Not configured: the master must learn it before replaying stats.
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
            },
            planner: Default::default(),
        }],
        stats: StatsConfig {
            connection: conn,
            topic: stats_topic.clone(),
        },
        checkpoint: CheckpointConfig {
            path: dir.path().join("master.checkpoint"),
            interval_secs: 2,
        },
        window: WindowConfig::default(),
        poll_interval_secs: 1,
    };
    cfg.validate().unwrap();

    let rt = tokio::runtime::Builder::new_multi_thread()
        .worker_threads(2)
        .enable_all()
        .build()
        .unwrap();
    let (tx, mut rx) = tokio::sync::mpsc::unbounded_channel::<RoundReport>();
    let (stop, stopped) = tokio::sync::oneshot::channel::<()>();
    let master = rt.spawn(service::run_with(
        cfg.clone(),
        async {
            let _ = stopped.await;
        },
        Some(tx),
    ));
    let next = |rx: &mut tokio::sync::mpsc::UnboundedReceiver<RoundReport>, until: Instant| {
        rt.block_on(async {
            tokio::time::timeout(until.saturating_duration_since(Instant::now()), rx.recv())
                .await
                .ok()
                .flatten()
        })
    };

    // A healthy round first: no dead or suspect broker while every agent reports.
    let deadline = Instant::now() + Duration::from_secs(60);
    loop {
        let r = next(&mut rx, deadline).expect("a healthy round within 60 s");
        // (NoStats is expected: these agents send heartbeats only, no full stats.)
        let bad = r
            .findings
            .iter()
            .any(|f| matches!(f.kind, FindingKind::DeadBroker | FindingKind::SuspectBroker));
        if !bad {
            break;
        }
    }

    tb.kill(KILLED).unwrap();
    killed.store(true, Ordering::Relaxed);
    let mut held_in_grace = false;
    let mut healed = None;
    let deadline = Instant::now() + Duration::from_secs(90);
    while healed.is_none() {
        let r = next(&mut rx, deadline).expect("a heal decision within 90 s");
        for d in &r.decisions {
            if d.finding == FindingKind::DeadBroker && d.rule == policy::RULE_HEAL_GRACE {
                held_in_grace = true;
            }
            if d.verdict == Verdict::Act(Action::Plan(Request::Heal { dead: vec![KILLED] })) {
                healed = Some(r.clone());
            }
        }
    }
    assert!(held_in_grace, "the heal must wait for the grace first");
    let r = healed.unwrap();
    let (_, plan) = r
        .plans
        .iter()
        .find(|(q, _)| matches!(q, Request::Heal { .. }))
        .expect("a heal plan");
    let ours: Vec<_> = plan.moves.iter().filter(|m| *m.topic == *data).collect();
    assert!(!ours.is_empty(), "no move for {data}: {plan:?}");
    for m in ours {
        assert!(!m.new_replicas.contains(&KILLED));
        let slot = m.old_replicas.iter().position(|&b| b == KILLED).unwrap();
        // Broker 1 is the other broker of broker 4's rack (az-a).
        assert_eq!(m.new_replicas[slot], 1, "{m}");
    }

    stop.send(()).unwrap();
    rt.block_on(master).unwrap().unwrap();
    stop_agents.store(true, Ordering::Relaxed);
    agents.join().unwrap();
    let ck = checkpoint::load(&cfg.checkpoint.path, &cfg.window)
        .unwrap()
        .expect("a checkpoint after shutdown");
    let m = ck
        .models
        .iter()
        .find(|m| m.cluster_id == cluster_id)
        .unwrap();
    assert_eq!(
        m.agents.keys().copied().collect::<Vec<_>>(),
        vec![1, 2, 3, 4]
    );
    assert!(ck.watermark_ms > 0);
}
