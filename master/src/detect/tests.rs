//! Detector tests over a small fake cluster built like pd's mockcluster.

use std::collections::BTreeMap;

use kmedic_common::stats::ProcessState;

use super::*;
use crate::config::{IngestConfig, NetworkLimits};
use crate::model::AgentState;
use crate::observe::{BrokerView, ClusterView, PartitionView};

pub(crate) const NOW: u64 = 1_800_000_000_000;
const SILENCE: u64 = 60_000;

/// A fake cluster: registered brokers with fresh agents, partitions fully in sync.
pub(crate) struct Fake {
    pub view: ClusterView,
    pub agents: BTreeMap<i32, AgentState>,
    pub limits: NetworkLimits,
    pub ingest: IngestConfig,
}

impl Fake {
    pub fn new() -> Self {
        Self {
            view: ClusterView {
                cluster_id: "c".into(),
                observed_at_ms: NOW,
                ..ClusterView::default()
            },
            agents: BTreeMap::new(),
            limits: NetworkLimits::default(),
            ingest: IngestConfig::default(),
        }
    }

    /// Six brokers 1..=6 in racks az-a, az-b, az-c in turn.
    pub fn six() -> Self {
        let mut f = Self::new();
        for id in 1..=6 {
            f.add_broker(id, ["az-a", "az-b", "az-c"][(id as usize - 1) % 3]);
        }
        f
    }

    pub fn add_broker(&mut self, id: i32, rack: &str) -> &mut Self {
        self.view.brokers.insert(
            id,
            BrokerView {
                id,
                rack: Some(rack.into()),
                host: "127.0.0.1".into(),
                port: 9000 + id,
                fenced: false,
            },
        );
        self.agents.insert(
            id,
            AgentState {
                last_seen_ms: NOW - 5_000,
                last_full_ms: Some(NOW - 30_000),
                // The Fake's monotonic clock reads NOW too (see `input`).
                heard_mono_ms: (NOW - 5_000) as i64,
                full_heard_mono_ms: Some((NOW - 30_000) as i64),
                clock_skew_ms: 0,
                other_host: None,
                hostname: format!("h{id}"),
                rack: Some(rack.into()),
                az: Some(rack.into()),
                seq: 9,
                process: ProcessState::Running,
                probe: Some(Ok(250)),
                net_rx_bytes_per_sec: Some(1_000),
                net_tx_bytes_per_sec: Some(1_000),
            },
        );
        self
    }

    pub fn add_partition(&mut self, topic: &str, partition: i32, replicas: &[i32]) -> &mut Self {
        self.view.partitions.push(PartitionView {
            topic: topic.into(),
            partition,
            leader: replicas.first().copied(),
            replicas: replicas.to_vec(),
            isr: replicas.to_vec(),
            offline_replicas: vec![],
        });
        self
    }

    /// Kafka fences the broker, it drops out of every ISR and loses leadership.
    pub fn fence(&mut self, id: i32) -> &mut Self {
        if let Some(b) = self.view.brokers.get_mut(&id) {
            b.fenced = true;
        }
        for p in &mut self.view.partitions {
            p.isr.retain(|&r| r != id);
            if p.leader == Some(id) {
                p.leader = p.isr.first().copied();
            }
        }
        self
    }

    pub fn silence_agent(&mut self, id: i32) -> &mut Self {
        if let Some(a) = self.agents.get_mut(&id) {
            a.last_seen_ms = NOW - 3 * SILENCE;
            a.heard_mono_ms = (NOW - 3 * SILENCE) as i64;
        }
        self
    }

    /// SIGKILL of the host: both signals.
    pub fn kill(&mut self, id: i32) -> &mut Self {
        self.fence(id).silence_agent(id)
    }

    pub fn input(&self) -> DetectInput<'_> {
        DetectInput {
            view: &self.view,
            agents: &self.agents,
            now_ms: NOW,
            mono_ms: NOW,
            ingest: &self.ingest,
            agent_silence_ms: SILENCE,
            limits: &self.limits,
            windows: None,
            recently_added: None,
            changing: None,
        }
    }

    pub fn findings(&self) -> Vec<Finding> {
        run_all(&self.input())
    }
}

/// The findings of `kind` among `fs`.
pub(crate) fn of(fs: &[Finding], kind: FindingKind) -> Vec<&Finding> {
    fs.iter().filter(|f| f.kind == kind).collect()
}

/// Partition `p` of topic `t`.
pub(crate) fn tp(t: &str, p: i32) -> TopicPartition {
    TopicPartition {
        topic: t.into(),
        partition: p,
    }
}

#[test]
fn healthy_cluster_has_no_findings() {
    let mut f = Fake::six();
    f.add_partition("t", 0, &[1, 2, 3])
        .add_partition("t", 1, &[2, 3, 4]);
    f.add_partition("t", 2, &[3, 4, 5]);
    assert_eq!(f.findings(), vec![]);
}

#[test]
fn two_signals_make_a_dead_broker_and_explain_its_urps() {
    let mut f = Fake::six();
    f.add_partition("t", 0, &[1, 2, 3])
        .add_partition("t", 1, &[4, 5, 6]);
    f.kill(1);
    let fs = f.findings();
    let dead = of(&fs, FindingKind::DeadBroker);
    assert_eq!(dead.len(), 1);
    assert_eq!(dead[0].broker, Some(1));
    assert_eq!(dead[0].partitions, vec![tp("t", 0)]);
    assert!(dead[0].evidence.contains("fenced") && dead[0].evidence.contains("silent for 180 s"));
    let urp = of(&fs, FindingKind::UnderReplicatedExplained);
    assert_eq!(urp[0].partitions, vec![tp("t", 0)]);
    assert!(of(&fs, FindingKind::UnderReplicatedUnexplained).is_empty());
    assert!(of(&fs, FindingKind::SuspectBroker).is_empty());
}

#[test]
fn absent_broker_hosting_replicas_with_gone_process_is_dead() {
    let mut f = Fake::six();
    f.add_partition("t", 0, &[1, 2, 3]);
    f.fence(1);
    f.view.brokers.remove(&1);
    f.agents.get_mut(&1).unwrap().process = ProcessState::Gone;
    let fs = f.findings();
    let dead = of(&fs, FindingKind::DeadBroker);
    assert_eq!(dead.len(), 1);
    assert!(dead[0].evidence.contains("absent from DescribeCluster"));
    assert!(dead[0].evidence.contains("process gone"));
}

#[test]
fn one_signal_is_only_suspect_and_its_urps_are_unexplained() {
    let mut f = Fake::six();
    f.add_partition("t", 0, &[1, 2, 3]);
    f.fence(1); // agent still reporting Running: e.g. a network partition to the controller
    let fs = f.findings();
    assert!(of(&fs, FindingKind::DeadBroker).is_empty());
    assert_eq!(of(&fs, FindingKind::SuspectBroker)[0].broker, Some(1));
    let un = of(&fs, FindingKind::UnderReplicatedUnexplained);
    assert_eq!(un[0].partitions, vec![tp("t", 0)]);
    assert!(un[0].evidence.contains("on broker 1 that is not"));

    let mut g = Fake::six();
    g.add_partition("t", 0, &[1, 2, 3]);
    g.silence_agent(2); // agent down, broker fine
    let fs = g.findings();
    assert_eq!(of(&fs, FindingKind::SuspectBroker)[0].broker, Some(2));
    assert!(of(&fs, FindingKind::DeadBroker).is_empty());
}

#[test]
fn fenced_broker_without_any_agent_is_suspect_not_dead() {
    let mut f = Fake::six();
    f.add_partition("t", 0, &[1, 2, 3]);
    f.agents.remove(&1);
    f.fence(1);
    let fs = f.findings();
    assert!(of(&fs, FindingKind::DeadBroker).is_empty());
    assert_eq!(of(&fs, FindingKind::SuspectBroker)[0].broker, Some(1));
}

#[test]
fn stopped_process_or_failing_probe_is_hung_and_wins_over_suspect() {
    let mut f = Fake::six();
    f.add_partition("t", 0, &[1, 2, 3]);
    f.fence(1);
    f.agents.get_mut(&1).unwrap().process = ProcessState::Stopped;
    f.agents.get_mut(&2).unwrap().probe = Some(Err("timeout after 2s".into()));
    let fs = f.findings();
    let hung = of(&fs, FindingKind::HungBroker);
    assert_eq!(hung.len(), 2);
    assert!(hung[0].evidence.contains("stopped"));
    assert!(hung[1].evidence.contains("timeout after 2s"));
    // First hit wins: broker 1 is not also reported suspect.
    assert!(of(&fs, FindingKind::SuspectBroker).is_empty());
}

#[test]
fn missing_agent_or_full_stats_is_no_stats() {
    let mut f = Fake::six();
    f.agents.remove(&3);
    f.agents.get_mut(&4).unwrap().full_heard_mono_ms = None;
    f.agents.get_mut(&5).unwrap().full_heard_mono_ms = Some((NOW - 10 * SILENCE) as i64);
    let fs = f.findings();
    let ids: Vec<_> = of(&fs, FindingKind::NoStats)
        .iter()
        .map(|f| f.broker.unwrap())
        .collect();
    assert_eq!(ids, vec![3, 4, 5]);
}

#[test]
fn offline_partitions_are_found() {
    let mut f = Fake::six();
    f.add_partition("t", 0, &[1]).add_partition("t", 1, &[2]);
    f.view.partitions[0].leader = None;
    let fs = f.findings();
    assert_eq!(
        of(&fs, FindingKind::OfflinePartitions)[0].partitions,
        vec![tp("t", 0)]
    );
}

#[test]
fn network_over_limit_is_overloaded_with_figures() {
    let mut f = Fake::six();
    f.limits.default_out_bytes_per_sec = 5_000;
    f.agents.get_mut(&2).unwrap().net_tx_bytes_per_sec = Some(6_000);
    f.agents.get_mut(&3).unwrap().net_tx_bytes_per_sec = Some(5_000); // at the limit: fine
    let fs = f.findings();
    let o = of(&fs, FindingKind::Overloaded);
    assert_eq!(o.len(), 1);
    assert_eq!(o[0].broker, Some(2));
    assert!(o[0].evidence.contains("out 6000 B/s > limit 5000 B/s"));
}

#[test]
fn leader_skew_preferred_and_per_rack() {
    let mut f = Fake::six();
    // Topic "s": 3 partitions, all led from az-a (brokers 1 and 4).
    f.add_partition("s", 0, &[1, 2, 3]);
    f.add_partition("s", 1, &[4, 5, 6]);
    f.add_partition("s", 2, &[2, 1, 3]);
    f.view.partitions[2].leader = Some(1);
    let fs = f.findings();
    let p = of(&fs, FindingKind::PreferredLeaderNotLeading);
    assert_eq!(p[0].partitions, vec![tp("s", 2)]);
    let r = of(&fs, FindingKind::LeaderRackSkew);
    assert_eq!(r.len(), 1);
    assert_eq!(r[0].topic.as_deref(), Some("s"));
    assert!(r[0].evidence.contains("az-a=3 az-b=0 az-c=0"));
}

#[test]
fn two_replicas_in_one_rack_is_a_violation_only_with_enough_racks() {
    let mut f = Fake::six();
    f.add_partition("t", 0, &[1, 4, 2]); // 1 and 4 are both az-a
    f.add_partition("t", 1, &[1, 2, 3]);
    let fs = f.findings();
    assert_eq!(
        of(&fs, FindingKind::RackViolation)[0].partitions,
        vec![tp("t", 0)]
    );

    let mut g = Fake::new();
    g.add_broker(1, "az-a")
        .add_broker(2, "az-a")
        .add_broker(3, "az-b");
    g.add_partition("t", 0, &[1, 2, 3]); // only 2 racks for RF 3: unavoidable
    assert!(of(&g.findings(), FindingKind::RackViolation).is_empty());
}

#[test]
fn most_agents_silent_at_once_is_the_stats_path_not_the_hosts() {
    let mut f = Fake::six();
    f.add_partition("t", 0, &[1, 2, 3]);
    f.fence(1);
    for id in 1..=4 {
        f.silence_agent(id);
    }
    let fs = f.findings();
    assert!(of(&fs, FindingKind::DeadBroker).is_empty(), "{fs:?}");
    let s = of(&fs, FindingKind::SuspectBroker);
    assert_eq!(s.len(), 1);
    assert!(s[0].evidence.contains("stats path down"));
    // Half or fewer silent: silence counts again.
    let mut g = Fake::six();
    g.add_partition("t", 0, &[1, 2, 3]);
    g.fence(1);
    for id in 1..=3 {
        g.silence_agent(id);
    }
    assert_eq!(of(&g.findings(), FindingKind::DeadBroker).len(), 1);
}
