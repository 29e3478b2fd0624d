use super::*;
use kmedic_common::stats::*;

pub(crate) fn identity(cluster: &str, broker: i32) -> Identity {
    Identity {
        cluster_id: cluster.into(),
        broker_id: broker,
        rack: Some("az-a".into()),
        hostname: format!("host-{broker}"),
        az: Some("az-a".into()),
        az_source: AzSource::BrokerRack,
        instance_type: None,
        instance_id: None,
        agent_version: "0".into(),
    }
}

fn process(state: ProcessState) -> ProcessStats {
    ProcessStats {
        state,
        pid: Some(1),
        cpu_percent: None,
        rss_bytes: None,
        threads: None,
        open_fds: None,
        uptime_secs: None,
        probe: Probe::Ok { latency_us: 300 },
    }
}

fn replica(topic: u32, partition: i32, role: ReplicaRole, rate: u64) -> ReplicaStats {
    ReplicaStats {
        topic,
        partition,
        log_dir: 0,
        size_bytes: 10,
        segments: 1,
        bytes_in_per_sec: Some(rate),
        bytes_out_per_sec: Some(rate * 3),
        role,
        in_sync: Some(true),
        under_replicated: Some(false),
        reassigning: Some(false),
        future: false,
    }
}

fn full(broker: i32, ts: u64, replicas: Vec<ReplicaStats>) -> StatsRecord {
    StatsRecord::Full(FullStats {
        identity: identity("c", broker),
        timestamp_ms: ts,
        seq: 2,
        interval_ms: 60_000,
        process: process(ProcessState::Running),
        host: HostStats {
            net_rx_bytes_per_sec: Some(5),
            ..HostStats::default()
        },
        log_dirs: vec![],
        topics: vec!["t".into()],
        replicas,
        bytes_out_provenance: Provenance::Estimated,
        missing: vec![],
    })
}

const T0: u64 = 1_800_000_000_000;

#[test]
fn full_stats_feed_windows_with_leader_only_bytes_out() {
    let mut m = ClusterModel::new("c", &crate::config::WindowConfig::default());
    m.apply(&full(1, T0, vec![replica(0, 0, ReplicaRole::Leader, 100)]));
    m.apply(&full(
        2,
        T0,
        vec![replica(0, 0, ReplicaRole::Follower, 100)],
    ));
    let d = m.windows.demand("t", 0, T0).unwrap();
    assert_eq!(d.in_bytes_per_sec, 100);
    // The follower's 300 B/s estimate is not averaged in: only the leader serves consumers.
    assert_eq!(d.out_bytes_per_sec, 300);
    assert_eq!(m.counts.recorded, 2);
    assert_eq!(m.agents[&1].last_full_ms, Some(T0));
    assert_eq!(m.agents[&1].net_rx_bytes_per_sec, Some(5));
}

#[test]
fn bad_topic_index_is_counted_not_fatal() {
    let mut m = ClusterModel::new("c", &crate::config::WindowConfig::default());
    m.apply(&full(1, T0, vec![replica(7, 0, ReplicaRole::Leader, 1)]));
    assert_eq!(m.counts.malformed, 1);
    assert!(m.windows.is_empty());
}

#[test]
fn an_older_heartbeat_does_not_overwrite_a_newer_one() {
    let mut m = ClusterModel::new("c", &crate::config::WindowConfig::default());
    let hb = |ts, state| {
        StatsRecord::Heartbeat(Heartbeat {
            identity: identity("c", 4),
            timestamp_ms: ts,
            seq: 1,
            process: process(state),
            host: HostStats::default(),
            missing: vec![],
        })
    };
    m.apply(&hb(T0 + 10, ProcessState::Stopped));
    m.apply(&hb(T0, ProcessState::Running));
    assert_eq!(m.agents[&4].process, ProcessState::Stopped);
    assert_eq!(m.agents[&4].last_seen_ms, T0 + 10);
}

#[test]
fn fleet_registers_once_per_cluster_id() {
    let f = Fleet::new();
    let a = f.register("x", &crate::config::WindowConfig::default());
    let b = f.register("x", &crate::config::WindowConfig::default());
    assert!(Arc::ptr_eq(&a, &b));
    assert!(f.get("y").is_none());
    assert_eq!(f.all().len(), 1);
}
