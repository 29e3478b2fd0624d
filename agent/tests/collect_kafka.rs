//! The collectors against a real Kafka 4.3 cluster (3 brokers and a controller, four JVMs on one
//! host): the process finder picks this broker's JVM among them, the ApiVersions probe answers,
//! replica roles match the cluster's metadata, the bytes-in rate matches what was produced, and
//! a hung or killed broker shows as stopped or gone.
//!
//! Ports: `KMEDIC_TESTBED_PORT_BASE` + 100 (19600 by default), away from the e2e suite's range.

use std::collections::BTreeMap;
use std::sync::Arc;
use std::time::{Duration, Instant};

use kmedic_agent::collect::{CollectSettings, ImdsSettings, Sampler};
use kmedic_common::admin::AdminClient;
use kmedic_common::connection::ConnectionSettings;
use kmedic_common::stats::{Collector, Probe, ProcessState, ReplicaRole};
use kmedic_tests::{random_topic, Testbed, TestbedConfig};

const BROKER: i32 = 2;

fn sampler_for(tb: &Testbed, admin: Arc<AdminClient>) -> Sampler {
    let settings = CollectSettings {
        primary_interface: Some("lo".into()),
        probe_timeout_ms: 1_000,
        imds: ImdsSettings {
            enabled: false,
            ..ImdsSettings::default()
        },
        ..CollectSettings::default()
    };
    let mut sampler = Sampler::new(
        settings,
        vec![tb.log_dir(BROKER)],
        BROKER,
        Some(tb.broker_addr(BROKER)),
    );
    sampler.set_server_properties(&tb.server_properties(BROKER));
    sampler.set_admin(admin);
    sampler
}

#[test]
fn collectors_on_a_real_cluster() {
    let _ = tracing_subscriber::fmt()
        .with_env_filter("kmedic_agent=debug,kmedic_common=info")
        .with_test_writer()
        .try_init();
    let cfg = TestbedConfig::from_env();
    let port_base = cfg.port_base + 100;
    let tb = Testbed::start(cfg.with_port_base(port_base).with_brokers(3)).unwrap();
    let rt = tokio::runtime::Runtime::new().unwrap();
    let topic = random_topic("collect");
    tb.create_topic(&topic, 6, 2).unwrap();
    let admin = Arc::new(
        AdminClient::new(ConnectionSettings::plaintext(tb.bootstrap().split(','))).unwrap(),
    );
    let mut sampler = sampler_for(&tb, admin);

    // The right JVM among four, and a healthy probe.
    let hb = rt.block_on(sampler.heartbeat());
    assert_eq!(hb.process.state, ProcessState::Running, "{hb:?}");
    assert_eq!(hb.process.pid, tb.pid(BROKER));
    assert!(
        matches!(hb.process.probe, Probe::Ok { .. }),
        "{:?}",
        hb.process.probe
    );
    assert!(hb.process.rss_bytes.unwrap() > 50 * 1024 * 1024);
    assert!(hb.process.threads.unwrap() > 20);
    assert!(hb.process.open_fds.unwrap() > 10);

    // Replicas on disk match this broker's replicas in the metadata, with their roles. A
    // follower creates its log a moment after the leader is elected, so poll for it.
    let md = tb.metadata().unwrap();
    let expected: BTreeMap<i32, ReplicaRole> = md
        .partitions
        .iter()
        .filter(|p| p.topic == topic && p.replicas.contains(&BROKER))
        .map(|p| {
            let role = if p.leader == BROKER {
                ReplicaRole::Leader
            } else {
                ReplicaRole::Follower
            };
            (p.partition, role)
        })
        .collect();
    let deadline = Instant::now() + Duration::from_secs(30);
    let (first, topic_index, got) = loop {
        let sample = rt.block_on(sampler.full());
        let index = sample
            .topics
            .iter()
            .position(|t| *t == topic)
            .map(|i| i as u32);
        let got: BTreeMap<i32, ReplicaRole> = sample
            .replicas
            .iter()
            .filter(|r| Some(r.topic) == index)
            .map(|r| (r.partition, r.role))
            .collect();
        let all_in_sync = sample
            .replicas
            .iter()
            .filter(|r| Some(r.topic) == index)
            .all(|r| r.in_sync == Some(true) && r.reassigning == Some(false));
        if (got == expected && all_in_sync) || Instant::now() > deadline {
            break (sample, index.unwrap(), got);
        }
        std::thread::sleep(Duration::from_millis(500));
    };
    assert!(first.missing.is_empty(), "{:?}", first.missing);
    assert_eq!(got, expected);
    assert!(first
        .replicas
        .iter()
        .filter(|r| r.topic == topic_index)
        .all(|r| r.in_sync == Some(true) && r.reassigning == Some(false)));

    // Bytes appended on disk match what was produced (acks=all: followers have it too).
    let payload = 4 * 1024 * 1024;
    let produce_started = Instant::now();
    tb.produce(&topic, payload).unwrap();
    eprintln!(
        "produced {payload} bytes in {:?}",
        produce_started.elapsed()
    );
    let second = rt.block_on(sampler.full());
    assert!(second.interval_ms > 0);
    let appended: f64 = second
        .replicas
        .iter()
        .filter(|r| r.topic == topic_index)
        .map(|r| r.bytes_in_per_sec.unwrap() as f64 * second.interval_ms as f64 / 1000.0)
        .sum();
    // Produce spreads evenly over 6 partitions; this broker holds `expected.len()` replicas.
    let want = payload as f64 * expected.len() as f64 / 6.0;
    eprintln!("appended on broker {BROKER}: {appended:.0} bytes, payload share {want:.0}");
    assert!(
        appended >= want * 0.98 && appended <= want * 1.10,
        "appended {appended:.0} vs payload share {want:.0}"
    );
    assert_eq!(
        second.bytes_out_provenance,
        kmedic_common::stats::Provenance::Estimated
    );
    assert!(!second.missing.contains(&Collector::BytesOut));

    // Hung: the JVM is stopped and the probe fails. SIGSTOP takes effect asynchronously (every
    // JVM thread must stop), so allow a few heartbeats.
    tb.hang(BROKER).unwrap();
    let deadline = Instant::now() + Duration::from_secs(10);
    let hb = loop {
        let hb = rt.block_on(sampler.heartbeat());
        if hb.process.state == ProcessState::Stopped || Instant::now() > deadline {
            break hb;
        }
    };
    assert_eq!(hb.process.state, ProcessState::Stopped);
    assert!(
        matches!(hb.process.probe, Probe::Failed { .. }),
        "{:?}",
        hb.process.probe
    );
    tb.resume(BROKER).unwrap();
    let hb = rt.block_on(sampler.heartbeat());
    assert_eq!(hb.process.state, ProcessState::Running);

    // Killed: gone, and the probe says why.
    tb.kill(BROKER).unwrap();
    let hb = rt.block_on(sampler.heartbeat());
    assert_eq!(hb.process.state, ProcessState::Gone);
    assert_eq!(hb.process.pid, None);
    assert!(matches!(hb.process.probe, Probe::Failed { .. }));
    assert!(!hb.missing.contains(&Collector::Process));
}
