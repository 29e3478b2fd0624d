use super::*;
use crate::clock::Now;
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
        pid: Some(1),
        probe: Probe::Ok { latency_us: 300 },
        ..ProcessStats::bare(state)
    }
}

/// The master's clocks at T0: wall T0, monotonic 1,000 s into the process.
const NOW: Now = Now {
    wall_ms: T0,
    mono_ms: 1_000_000,
};

fn live() -> Received {
    Received::live(NOW)
}

fn bounds() -> IngestConfig {
    IngestConfig::default()
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
    m.apply(
        &full(1, T0, vec![replica(0, 0, ReplicaRole::Leader, 100)]),
        live(),
        &bounds(),
    );
    m.apply(
        &full(2, T0, vec![replica(0, 0, ReplicaRole::Follower, 100)]),
        live(),
        &bounds(),
    );
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
    m.apply(
        &full(1, T0, vec![replica(7, 0, ReplicaRole::Leader, 1)]),
        live(),
        &bounds(),
    );
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
    m.apply(&hb(T0 + 10, ProcessState::Stopped), live(), &bounds());
    m.apply(&hb(T0, ProcessState::Running), live(), &bounds());
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

fn hb(broker: i32, host: &str, ts: u64) -> StatsRecord {
    StatsRecord::Heartbeat(Heartbeat {
        identity: Identity {
            hostname: host.into(),
            ..identity("c", broker)
        },
        timestamp_ms: ts,
        seq: 1,
        process: process(ProcessState::Running),
        host: HostStats::default(),
        missing: vec![],
    })
}

const DAY: u64 = 24 * 3600 * 1000;

#[test]
fn a_heartbeat_stamped_a_day_ahead_is_refused_and_changes_nothing() {
    let mut m = ClusterModel::new("c", &crate::config::WindowConfig::default());
    m.apply(&hb(4, "h4", T0), live(), &bounds());
    let before = m.agents[&4].clone();
    let later = Now {
        wall_ms: T0 + 10_000,
        mono_ms: NOW.mono_ms + 10_000,
    };
    assert_eq!(
        m.apply(&hb(4, "h4", T0 + DAY), Received::live(later), &bounds()),
        Applied::Skewed {
            skew_ms: (DAY - 10_000) as i64
        }
    );
    // Also one stamped a day behind, and a full record: neither touches the agent or windows.
    assert!(matches!(
        m.apply(&hb(4, "h4", T0 - DAY), Received::live(later), &bounds()),
        Applied::Skewed { .. }
    ));
    assert!(matches!(
        m.apply(
            &full(4, T0 + DAY, vec![replica(0, 0, ReplicaRole::Leader, 9)]),
            Received::live(later),
            &bounds()
        ),
        Applied::Skewed { .. }
    ));
    assert_eq!(m.agents[&4], before);
    assert!(m.windows.is_empty());
    // The agent's next honest heartbeat is applied (its state is not frozen by the future one).
    let on_time = Now {
        wall_ms: T0 + 20_000,
        mono_ms: NOW.mono_ms + 20_000,
    };
    assert_eq!(
        m.apply(
            &hb(4, "h4", T0 + 20_000),
            Received::live(on_time),
            &bounds()
        ),
        Applied::Applied
    );
    assert_eq!(m.agents[&4].last_seen_ms, T0 + 20_000);
    assert_eq!(m.agents[&4].heard_mono_ms, on_time.mono_ms as i64);
}

#[test]
fn freshness_is_the_masters_receive_time_and_skew_is_reported() {
    let mut m = ClusterModel::new("c", &crate::config::WindowConfig::default());
    // Agent clock 40 s ahead (within the 5 min bound): accepted, skew reported.
    m.apply(&hb(2, "h2", T0 + 40_000), live(), &bounds());
    let a = &m.agents[&2];
    assert_eq!(a.clock_skew_ms, 40_000);
    assert_eq!(a.heard_mono_ms, NOW.mono_ms as i64);
    // Silence counts from the master's receive time, whatever the agent's stamp said.
    assert_eq!(a.silent_ms(NOW.mono_ms + 61_000), 61_000);
}

#[test]
fn a_replayed_record_counts_as_old_as_it_is() {
    let mut m = ClusterModel::new("c", &crate::config::WindowConfig::default());
    // Produced 10 min ago, read now during the replay: not evidence of life now.
    let produced = T0 - 600_000;
    let rx = Received::replayed(NOW, Some(produced), produced);
    assert_eq!(
        m.apply(&hb(5, "h5", produced), rx, &bounds()),
        Applied::Applied
    );
    assert_eq!(m.agents[&5].silent_ms(NOW.mono_ms), 600_000);
    // A replayed record whose agent stamp is ahead of its Kafka timestamp (within the bound)
    // is still only as fresh as the older of the two.
    let rx = Received::replayed(NOW, Some(produced), produced + 200_000);
    m.apply(&hb(6, "h6", produced + 200_000), rx, &bounds());
    assert_eq!(m.agents[&6].silent_ms(NOW.mono_ms), 600_000);
    // A replayed record whose agent stamp is far from its Kafka timestamp is refused.
    let rx = Received::replayed(NOW, Some(produced), produced + DAY);
    assert!(matches!(
        m.apply(&hb(7, "h7", produced + DAY), rx, &bounds()),
        Applied::Skewed { .. }
    ));
    // Without a Kafka timestamp: an old record is old, not skewed; a future one is refused.
    let rx = Received::replayed(NOW, None, produced);
    assert_eq!(
        m.apply(&hb(8, "h8", produced), rx, &bounds()),
        Applied::Applied
    );
    assert_eq!(m.agents[&8].silent_ms(NOW.mono_ms), 600_000);
    let rx = Received::replayed(NOW, None, T0 + DAY);
    assert!(matches!(
        m.apply(&hb(8, "h8", T0 + DAY), rx, &bounds()),
        Applied::Skewed { .. }
    ));
}

#[test]
fn two_hosts_for_one_broker_id_are_remembered() {
    let mut m = ClusterModel::new("c", &crate::config::WindowConfig::default());
    m.apply(&hb(3, "host-a", T0), live(), &bounds());
    assert_eq!(m.agents[&3].other_host, None);
    let later = Now {
        wall_ms: T0 + 5_000,
        mono_ms: NOW.mono_ms + 5_000,
    };
    m.apply(
        &hb(3, "host-b", T0 + 5_000),
        Received::live(later),
        &bounds(),
    );
    let a = &m.agents[&3];
    assert_eq!(a.hostname, "host-b");
    assert_eq!(a.other_host, Some(("host-a".into(), NOW.mono_ms as i64)));
    // A clone whose clock is behind is still seen (its records do not overwrite the state).
    m.apply(
        &hb(3, "host-c", T0 + 1_000),
        Received::live(later),
        &bounds(),
    );
    assert_eq!(
        m.agents[&3].other_host,
        Some(("host-c".into(), later.mono_ms as i64))
    );
    assert_eq!(m.agents[&3].hostname, "host-b");
}

#[test]
fn an_out_of_sync_follower_catching_up_is_not_demand() {
    let mut m = ClusterModel::new("c", &crate::config::WindowConfig::default());
    m.apply(
        &full(1, T0, vec![replica(0, 0, ReplicaRole::Leader, 100)]),
        live(),
        &bounds(),
    );
    // Broker 2 restarted and is fetching its backlog at 100x the produce rate.
    let catching_up = ReplicaStats {
        in_sync: Some(false),
        ..replica(0, 0, ReplicaRole::Follower, 10_000)
    };
    let unknown = ReplicaStats {
        in_sync: None,
        ..replica(0, 1, ReplicaRole::Follower, 10_000)
    };
    m.apply(&full(2, T0, vec![catching_up, unknown]), live(), &bounds());
    let d = m.windows.demand("t", 0, T0).unwrap();
    assert_eq!(d.in_bytes_per_sec, 100, "catch-up bytes inflated demand");
    assert_eq!(m.windows.demand("t", 1, T0), None);
    assert_eq!(m.counts.catching_up, 2);
    // An in-sync follower's figure is the partition's rate and still counts.
    m.apply(
        &full(3, T0, vec![replica(0, 0, ReplicaRole::Follower, 100)]),
        live(),
        &bounds(),
    );
    assert_eq!(m.counts.recorded, 2);
}

#[test]
fn records_over_the_caps_are_refused_whole() {
    let mut m = ClusterModel::new("c", &crate::config::WindowConfig::default());
    let caps = IngestConfig {
        max_replicas_per_record: 2,
        max_topics_per_record: 1,
        ..IngestConfig::default()
    };
    let three = (0..3)
        .map(|p| replica(0, p, ReplicaRole::Leader, 1))
        .collect();
    assert_eq!(
        m.apply(&full(1, T0, three), live(), &caps),
        Applied::TooLarge {
            replicas: 3,
            topics: 1
        }
    );
    let StatsRecord::Full(mut two_topics) = full(1, T0, vec![]) else {
        unreachable!()
    };
    two_topics.topics.push("u".into());
    assert!(matches!(
        m.apply(&StatsRecord::Full(two_topics), live(), &caps),
        Applied::TooLarge { topics: 2, .. }
    ));
    assert!(m.agents.is_empty());
    assert!(m.windows.is_empty());
}

#[test]
fn prune_drops_partitions_topics_and_agents_metadata_no_longer_knows() {
    use crate::observe::{BrokerView, ClusterView, PartitionView};
    let mut m = ClusterModel::new("c", &crate::config::WindowConfig::default());
    for (b, t) in [(1, "keep"), (2, "gone"), (9, "keep")] {
        let StatsRecord::Full(mut f) = full(b, T0, vec![]) else {
            unreachable!()
        };
        f.topics = vec![t.into()];
        f.replicas = (0..3)
            .map(|p| replica(0, p, ReplicaRole::Leader, 100 + p as u64))
            .collect();
        m.apply(&StatsRecord::Full(f), live(), &bounds());
    }
    assert_eq!((m.windows.len(), m.agents.len()), (6, 3));
    let before = m.windows.demand("keep", 2, T0);
    let mut view = ClusterView::default();
    for id in [1, 2] {
        view.brokers.insert(
            id,
            BrokerView {
                id,
                rack: None,
                host: "h".into(),
                port: 1,
                fenced: false,
            },
        );
    }
    for p in [0, 2] {
        view.partitions.push(PartitionView {
            topic: "keep".into(),
            partition: p,
            leader: Some(1),
            replicas: vec![1, 3],
            isr: vec![1],
            offline_replicas: vec![],
        });
    }
    let pruned = m.prune_to_view(&view);
    assert_eq!(
        pruned,
        Pruned {
            partitions: 4,
            topics: 1,
            agents: 1
        }
    );
    // Broker 9 is unknown; 1 is registered, 2 registered; 3 hosts a replica (no agent here).
    assert_eq!(m.agents.keys().copied().collect::<Vec<_>>(), vec![1, 2]);
    assert_eq!(m.windows.topics, vec!["keep".to_string()]);
    assert_eq!(
        m.windows.demand("keep", 2, T0),
        before,
        "kept slots keep their data"
    );
    assert_eq!(m.windows.demand("keep", 1, T0), None);
    assert_eq!(m.windows.demand("gone", 0, T0), None);
    // New samples land in the compacted layout.
    let StatsRecord::Full(mut f) = full(1, T0, vec![replica(0, 0, ReplicaRole::Leader, 7)]) else {
        unreachable!()
    };
    f.topics = vec!["keep".into()];
    m.apply(&StatsRecord::Full(f), live(), &bounds());
    assert_eq!(m.counts.recorded, 10);
    assert!(m.prune_to_view(&view).is_empty());
    // An empty view (failed observation) never wipes the model.
    assert!(m.prune_to_view(&ClusterView::default()).is_empty());
    assert_eq!(m.windows.len(), 2);
}
