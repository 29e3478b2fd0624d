//! Ingest against a real Kafka 4.3 broker: encoded stats records published to a stats topic
//! reach the model; undecodable and foreign records are counted; a start time skips older
//! records (the warm-start replay path through `offsets_for_times`); a record stamped a day
//! ahead is refused and counted, and a replayed record counts only as fresh as its age.
//!
//! Starts its own one-broker testbed on KMEDIC_MASTER_TEST_PORT_BASE (default 19400).

use std::sync::atomic::Ordering;
use std::sync::Arc;
use std::time::{Duration, SystemTime, UNIX_EPOCH};

use kmedic_common::codec;
use kmedic_common::connection::ConnectionSettings;
use kmedic_common::stats::*;
use kmedic_master::config::WindowConfig;
use kmedic_master::ingest::{self, Ingest};
use kmedic_master::model::{lock, Fleet};
use kmedic_tests::{random_topic, wait_until, Testbed, TestbedConfig};
use rdkafka::producer::{BaseProducer, BaseRecord, Producer};
use rdkafka::ClientConfig;

const DAY: u64 = 24 * 3600 * 1000;

fn now_ms() -> u64 {
    SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .unwrap()
        .as_millis() as u64
}

fn full(cluster: &str, broker: i32, ts: u64, rate: u64) -> StatsRecord {
    StatsRecord::Full(FullStats {
        identity: Identity {
            cluster_id: cluster.into(),
            broker_id: broker,
            rack: Some("az-a".into()),
            hostname: format!("host-{broker}"),
            az: None,
            az_source: AzSource::BrokerRack,
            instance_type: None,
            instance_id: None,
            agent_version: "e2e".into(),
        },
        timestamp_ms: ts,
        seq: 1,
        interval_ms: 60_000,
        process: ProcessStats {
            pid: Some(42),
            probe: Probe::Ok { latency_us: 100 },
            ..ProcessStats::bare(ProcessState::Running)
        },
        host: HostStats::default(),
        log_dirs: vec![],
        topics: vec!["orders".into()],
        replicas: vec![ReplicaStats {
            topic: 0,
            partition: 0,
            log_dir: 0,
            size_bytes: 1,
            segments: 1,
            bytes_in_per_sec: Some(rate),
            bytes_out_per_sec: Some(rate),
            role: ReplicaRole::Leader,
            in_sync: Some(true),
            under_replicated: Some(false),
            reassigning: Some(false),
            future: false,
        }],
        bytes_out_provenance: Provenance::Measured,
        missing: vec![],
    })
}

fn publish(bootstrap: &str, topic: &str, records: &[(Vec<u8>, u64)]) {
    let p: BaseProducer = ClientConfig::new()
        .set("bootstrap.servers", bootstrap)
        .create()
        .unwrap();
    for (bytes, ts) in records {
        p.send(
            BaseRecord::<(), [u8]>::to(topic)
                .payload(bytes)
                .timestamp(*ts as i64),
        )
        .map_err(|(e, _)| e)
        .unwrap();
    }
    p.flush(Duration::from_secs(10)).unwrap();
}

#[test]
fn stats_on_a_real_topic_update_the_model_and_bad_records_are_counted() {
    let base = std::env::var("KMEDIC_MASTER_TEST_PORT_BASE")
        .ok()
        .and_then(|v| v.parse().ok())
        .unwrap_or(19400);
    let tb = Testbed::start(
        TestbedConfig::from_env()
            .with_port_base(base)
            .with_brokers(1),
    )
    .expect("testbed");
    let cluster_id = tb.cluster_id();
    let topic = random_topic("kmedic-stats");
    tb.create_topic(&topic, 2, 1).unwrap();

    let now = now_ms();
    let old = now - 10 * 60_000;
    publish(
        &tb.bootstrap(),
        &topic,
        &[
            // Older than the start point below: must not be replayed.
            (codec::encode(&full(&cluster_id, 1, old, 99_999)), old),
            (codec::encode(&full(&cluster_id, 1, now, 5_000)), now),
            (b"not a stats record".to_vec(), now),
            (codec::encode(&full("some-other-cluster", 7, now, 1)), now),
            // Stamped a day ahead by a broken agent clock: refused, changes nothing.
            (codec::encode(&full(&cluster_id, 1, now + DAY, 77_777)), now),
        ],
    );

    let rt = tokio::runtime::Builder::new_multi_thread()
        .worker_threads(2)
        .enable_all()
        .build()
        .unwrap();
    // rdkafka's StreamConsumer spawns onto the current tokio runtime when created.
    let _rt_guard = rt.enter();
    let fleet = Fleet::new();
    let model = fleet.register(&cluster_id, &WindowConfig::default());
    let ing = Arc::new(Ingest::new(fleet));
    let consumer = ingest::consumer(
        &ConnectionSettings::plaintext(tb.bootstrap().split(',')),
        "e2e",
    )
    .unwrap();
    let ends =
        ingest::assign_from(&consumer, &topic, now - 5 * 60_000, Duration::from_secs(10)).unwrap();
    let (stop, stopped) = tokio::sync::oneshot::channel::<()>();
    let task = rt.spawn(ingest::run(consumer, ing.clone(), ends, async {
        let _ = stopped.await;
    }));

    let c = ing.counters.clone();
    wait_until(Duration::from_secs(60), "records ingested", || {
        Ok(c.applied.load(Ordering::Relaxed) >= 1
            && c.undecodable.load(Ordering::Relaxed) >= 1
            && c.unknown_cluster.load(Ordering::Relaxed) >= 1
            && c.skewed.load(Ordering::Relaxed) >= 1
            && c.caught_up.load(Ordering::Relaxed))
    })
    .unwrap();
    {
        let m = lock(&model);
        let d = m
            .windows
            .demand("orders", 0, now)
            .expect("demand for orders-0");
        // Only the record newer than the start point was replayed: 5000, not 99999.
        assert_eq!(d.in_bytes_per_sec, 5_000);
        assert_eq!(m.agents[&1].process, ProcessState::Running);
        assert_eq!(m.agents[&1].last_seen_ms, now);
        // Replayed before catch-up: as old as its timestamps, not "heard now" (a little slack
        // for the time the test took since `now`).
        let silent = m.agents[&1].silent_ms(kmedic_master::clock::mono_ms());
        let age = now_ms() - now;
        assert!(
            silent + 1_000 >= age && silent <= age + 1_000,
            "{silent} vs {age}"
        );
    }
    assert_eq!(c.applied.load(Ordering::Relaxed), 1);
    assert_eq!(c.undecodable.load(Ordering::Relaxed), 1);
    assert_eq!(c.unknown_cluster.load(Ordering::Relaxed), 1);
    assert_eq!(c.skewed.load(Ordering::Relaxed), 1);
    assert!(c.watermark_ms.load(Ordering::Relaxed) >= now);

    let _ = stop.send(());
    rt.block_on(task).unwrap();
}
