//! Builds the planner's [`Snapshot`] from a [`ClusterView`], the health verdicts and the model's
//! demand windows.
//!
//! - **Bytes out.** The model keeps the leader's bytes out as the stats define it (replication
//!   to followers plus consumers, see `kmedic_common::stats`). The planner wants the consumer
//!   part alone, since it moves with leadership while replication depends on the followers, so
//!   `bytes_in x (RF - 1)` is taken off here and the planner adds it back once per follower.
//! - **Disk.** A broker whose log dirs were not described this round has unknown capacity: it is
//!   marked so, and the planner places no replica on it (it used to count as 1 PiB and attract
//!   every move). Used disk is the volume's size minus its usable bytes (DescribeLogDirs v4)
//!   when reported, so data other than replicas counts too. Brokers whose agents report one
//!   hostname share that host's volume: its used bytes are the host's, not any one broker's,
//!   and read the same for all of them (so every broker sat at the disk peak and balance could
//!   place nothing on a test bed). For them used disk is the sizes of the replicas they host.
//! - **In flight.** Each reassignment Kafka reports becomes an [`InFlightMove`] (old = replicas
//!   without the adding ones, new = replicas without the removing ones): the partition is left
//!   alone and the adding replicas' load counts on their brokers.
//! - **In flux.** A partition with more replicas than its topic usually has ([`usual_count`]),
//!   and no reassignment listed, is read mid-reassignment (Metadata can still show old + new
//!   replicas after the list dropped it, seen live): it is marked reassigning, so no plan this
//!   round takes its extra replica as its replication factor (DESIGN.md rule 1). Said at debug
//!   level only: it clears by itself within a poll or two.

use std::collections::BTreeSet;

use crate::config::NetworkLimits;
use crate::model::ClusterModel;
use crate::plan::{
    BrokerInfo, BrokerState, Capacity, InFlightMove, PartitionInfo, Snapshot, TopicTable,
};

use super::{ClusterView, TopicPartition};

/// Health verdicts that decide each broker's [`BrokerState`].
#[derive(Debug, Clone, Default)]
pub struct Verdicts {
    /// Confirmed dead (or, for the CLI, assumed dead).
    pub dead: BTreeSet<i32>,
    /// Suspect or hung: keep what they have, give them nothing.
    pub suspect: BTreeSet<i32>,
    /// Being drained.
    pub decommissioning: BTreeSet<i32>,
}

/// Builds a snapshot. Brokers absent from DescribeCluster but hosting replicas are included
/// (with an empty rack) so their replicas can be healed. Fenced brokers not in `dead` count as
/// suspect: the planner must not place anything on them. Partition rates come from `model`'s
/// windows when it has them, else 0 (the plan then balances by count and size only).
pub fn build(
    view: &ClusterView,
    limits: &NetworkLimits,
    verdicts: &Verdicts,
    model: Option<&ClusterModel>,
    now_ms: u64,
) -> Snapshot {
    let mut ids: BTreeSet<i32> = view.brokers.keys().copied().collect();
    ids.extend(view.hosting_brokers());
    let shared = model.map(shared_host).unwrap_or_default();
    let brokers = ids
        .into_iter()
        .map(|id| {
            let b = view.brokers.get(&id);
            let state = if verdicts.dead.contains(&id) {
                BrokerState::Dead
            } else if verdicts.decommissioning.contains(&id) {
                BrokerState::Decommissioning
            } else if verdicts.suspect.contains(&id) || b.is_none_or(|b| b.fenced) {
                BrokerState::Suspect
            } else {
                BrokerState::Alive
            };
            let (net_in, net_out) = limits.for_broker(id);
            let disk_total = view.disk_total_bytes.get(&id).copied();
            BrokerInfo {
                id,
                rack: b.and_then(|b| b.rack.clone()).unwrap_or_default(),
                state,
                capacity: Capacity {
                    net_in_bytes_per_sec: net_in,
                    net_out_bytes_per_sec: net_out,
                    disk_bytes: disk_total.unwrap_or(0),
                },
                disk_known: disk_total.is_some(),
                disk_used_bytes: disk_total
                    .zip(view.disk_usable_bytes.get(&id))
                    .map(|(total, usable)| total.saturating_sub(*usable))
                    .filter(|_| !shared.contains(&id)),
            }
        })
        .collect();
    let mut topics = TopicTable::default();
    let mut in_flight = Vec::new();
    let mut counts: std::collections::BTreeMap<&str, Vec<usize>> = Default::default();
    for p in &view.partitions {
        counts.entry(&p.topic).or_default().push(p.replicas.len());
    }
    let usual: std::collections::BTreeMap<&str, usize> = counts
        .into_iter()
        .filter_map(|(t, c)| usual_count(c).map(|n| (t, n)))
        .collect();
    let partitions = view
        .partitions
        .iter()
        .map(|p| {
            let tp = TopicPartition {
                topic: p.topic.clone(),
                partition: p.partition,
            };
            let demand = model.and_then(|m| m.windows.demand(&p.topic, p.partition, now_ms));
            let bytes_in = demand.map_or(0, |d| d.in_bytes_per_sec);
            let followers = p.replicas.len().saturating_sub(1) as u64;
            let consumers = demand.map_or(0, |d| {
                d.out_bytes_per_sec
                    .saturating_sub(bytes_in.saturating_mul(followers))
            });
            let topic = topics.intern(&p.topic);
            let reassignment = view.reassignments.get(&tp);
            if let Some(r) = reassignment {
                in_flight.push(InFlightMove {
                    topic,
                    partition: p.partition,
                    old_replicas: without(&p.replicas, &r.adding),
                    new_replicas: without(&p.replicas, &r.removing),
                });
            }
            let rf = usual.get(p.topic.as_str()).copied().unwrap_or(0);
            let in_flux = reassignment.is_none() && p.replicas.len() > rf;
            if in_flux {
                tracing::debug!(partition = %tp, replicas = ?p.replicas, topic_rf = rf,
                    "in flux: more replicas than its topic's replication factor and no \
                     reassignment listed (Metadata lagging one); not planned this round");
            }
            PartitionInfo {
                topic,
                partition: p.partition,
                replicas: p.replicas.clone(),
                leader: p.leader,
                isr: p.isr.clone(),
                size_bytes: view.sizes_bytes.get(&tp).copied().unwrap_or(0),
                bytes_in_per_sec: bytes_in,
                bytes_out_per_sec: consumers,
                reassigning: reassignment.is_some() || in_flux,
            }
        })
        .collect();
    Snapshot {
        brokers,
        topics,
        partitions,
        in_flight,
    }
}

/// A topic's replication factor as its partitions show it: the replica count most of them
/// have, the smaller on a tie (so a partition read with an extra replica never sets it);
/// `None` for no partitions. The executor checks moves against it too.
pub fn usual_count(counts: impl IntoIterator<Item = usize>) -> Option<usize> {
    let mut by_count: std::collections::BTreeMap<usize, usize> = Default::default();
    for c in counts {
        *by_count.entry(c).or_default() += 1;
    }
    // max_by_key keeps the last of equal keys: iterate from the largest count down.
    by_count
        .into_iter()
        .rev()
        .max_by_key(|&(_, n)| n)
        .map(|(c, _)| c)
}

/// Brokers whose agents report a hostname another broker's agent reports too.
fn shared_host(model: &ClusterModel) -> BTreeSet<i32> {
    let mut by_host: std::collections::BTreeMap<&str, Vec<i32>> = Default::default();
    for (&id, a) in &model.agents {
        if !a.hostname.is_empty() {
            by_host.entry(a.hostname.as_str()).or_default().push(id);
        }
    }
    by_host
        .into_values()
        .filter(|v| v.len() > 1)
        .flatten()
        .collect()
}

/// `replicas` without the ids in `drop`, order kept.
fn without(replicas: &[i32], drop: &[i32]) -> Vec<i32> {
    replicas
        .iter()
        .copied()
        .filter(|r| !drop.contains(r))
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::config::WindowConfig;
    use crate::detect::tests::{Fake, NOW};

    /// Broker 1 judged dead: the snapshot built from `f` (and `model`, if any), and the heal
    /// plan made on it with default limits.
    fn heal_broker_1(f: &Fake, model: Option<&ClusterModel>) -> (Snapshot, crate::plan::Plan) {
        let v = Verdicts {
            dead: [1].into(),
            ..Verdicts::default()
        };
        let s = build(&f.view, &f.limits, &v, model, NOW);
        let p = crate::plan::plan(
            &s,
            &crate::plan::Limits::default(),
            &crate::plan::Request::Heal { dead: vec![1] },
        );
        (s, p)
    }

    #[test]
    fn snapshot_carries_states_sizes_demand_and_reassignments() {
        let mut f = Fake::six();
        f.add_partition("t", 0, &[1, 2, 3])
            .add_partition("t", 1, &[4, 5, 7]);
        f.fence(2);
        f.view.sizes_bytes.insert(
            TopicPartition {
                topic: "t".into(),
                partition: 0,
            },
            4096,
        );
        f.view.reassignments.insert(
            TopicPartition {
                topic: "t".into(),
                partition: 1,
            },
            crate::observe::ReassignmentView {
                adding: vec![],
                removing: vec![],
            },
        );
        let mut m = ClusterModel::new("c", &WindowConfig::default());
        // Leader bytes out 1800 = replication 2 x 500 + consumers 800.
        m.windows.record("t", 0, NOW, Some(500), Some(1800), false);
        let v = Verdicts {
            dead: [1].into(),
            ..Verdicts::default()
        };
        let s = build(&f.view, &f.limits, &v, Some(&m), NOW);
        let state = |id| s.broker(id).unwrap().state;
        assert_eq!(state(1), BrokerState::Dead);
        assert_eq!(state(2), BrokerState::Suspect); // fenced, not confirmed
        assert_eq!(state(3), BrokerState::Alive);
        // Broker 7 hosts a replica but is not registered: present, suspect, rack unknown.
        assert_eq!(state(7), BrokerState::Suspect);
        assert_eq!(s.broker(7).unwrap().rack, "");
        assert_eq!(s.broker(4).unwrap().rack, "az-a");
        let p0 = &s.partitions[0];
        assert_eq!(
            (p0.size_bytes, p0.bytes_in_per_sec, p0.bytes_out_per_sec),
            (4096, 500, 800)
        );
        assert!(!p0.reassigning);
        assert!(s.partitions[1].reassigning);
        assert_eq!(s.partitions[1].bytes_in_per_sec, 0);
        assert_eq!(s.replica_count(), 6);
    }

    /// Issue 7 item 7: the agent's leader bytes out already holds replication (estimate:
    /// bytes in x ((RF - 1) + fan-out)). A leader at 1 MiB/s in, RF 3, fan-out 1 sends 3 MiB/s,
    /// and the planner must project 3 MiB/s on its broker, not 3 + 2 = 5.
    #[test]
    fn leader_net_out_counts_replication_once() {
        const MIB: u64 = 1 << 20;
        let mut f = Fake::six();
        f.add_partition("t", 0, &[1, 2, 3]);
        f.limits.default_out_bytes_per_sec = 10 * MIB;
        let mut m = ClusterModel::new("c", &WindowConfig::default());
        m.windows
            .record("t", 0, NOW, Some(MIB), Some(MIB * (2 + 1)), false);
        let s = build(&f.view, &f.limits, &Verdicts::default(), Some(&m), NOW);
        let p0 = &s.partitions[0];
        assert_eq!(p0.bytes_in_per_sec, MIB);
        assert_eq!(p0.bytes_out_per_sec, MIB, "consumer part only");
        let plan = crate::plan::plan(
            &s,
            &crate::plan::Limits::default(),
            &crate::plan::Request::PreferredLeaders,
        );
        let leader_out = plan.totals.before.net_out_max_utilization * (10 * MIB) as f64;
        assert!(
            (leader_out - (3 * MIB) as f64).abs() < 1.0,
            "leader projected at {leader_out} B/s out, not 3 MiB/s"
        );
    }

    /// Kafka's reassignments become in-flight moves: the partition is left alone and the
    /// adding replica's load counts on its broker.
    #[test]
    fn reassignments_in_kafka_are_in_flight() {
        let mut f = Fake::six();
        // Moving t-0 from [1, 2, 3] to [4, 2, 3]: Kafka lists target + removing replicas.
        f.add_partition("t", 0, &[4, 2, 3, 1]);
        let tp = TopicPartition {
            topic: "t".into(),
            partition: 0,
        };
        f.view.reassignments.insert(
            tp,
            crate::observe::ReassignmentView {
                adding: vec![4],
                removing: vec![1],
            },
        );
        let s = build(&f.view, &f.limits, &Verdicts::default(), None, NOW);
        assert_eq!(s.in_flight.len(), 1);
        let m = &s.in_flight[0];
        assert_eq!(&**s.topic_name(m.topic), "t");
        assert_eq!(
            (m.partition, &m.old_replicas, &m.new_replicas),
            (0, &vec![2, 3, 1], &vec![4, 2, 3])
        );
        let (_, p) = heal_broker_1(&f, None);
        assert!(p.moves.is_empty(), "{p}");
        assert_eq!(
            p.unplaceable[0].reason,
            crate::plan::UnplaceableReason::Reassigning
        );
    }

    /// Issue 7 item 10: a broker whose log dirs were not described this round has unknown
    /// disk capacity: it must not look like 1 PiB of free space and attract every heal move.
    #[test]
    fn a_broker_without_described_log_dirs_gets_no_replicas() {
        let mut f = Fake::six();
        // az-a holds 1 and 4. 1 dies; 4 is the only same-rack target, and its DescribeLogDirs
        // failed this round. Every other broker reports 1 TB.
        f.add_partition("t", 0, &[1, 2, 3]);
        for id in [2, 3, 5, 6] {
            f.view.disk_total_bytes.insert(id, 1_000_000_000_000);
        }
        f.view.log_dirs_failed.push(4);
        let (s, p) = heal_broker_1(&f, None);
        assert!(p.moves.is_empty(), "{p}");
        let text = p.to_string();
        assert!(
            text.contains("1 disk capacity unknown this round"),
            "{text}"
        );
        assert!(!s.broker(4).unwrap().disk_known);
        assert!(s.broker(2).unwrap().disk_known);
    }

    /// Issue 7 item 10: used disk comes from the volume (size minus usable), not only from the
    /// replicas' sizes: a broker whose volume is full of other data takes no replica.
    #[test]
    fn used_disk_counts_what_the_volume_reports() {
        let mut f = Fake::six();
        // 1 dies; az-a also holds 4, whose 1 TB volume has 20 GB left, though it hosts nothing.
        f.add_partition("t", 0, &[1, 2, 3]);
        for id in [2, 3, 4, 5, 6] {
            f.view.disk_total_bytes.insert(id, 1_000_000_000_000);
            f.view.disk_usable_bytes.insert(id, 900_000_000_000);
        }
        f.view.disk_usable_bytes.insert(4, 20_000_000_000);
        let (s, p) = heal_broker_1(&f, None);
        assert!(p.moves.is_empty(), "{p}");
        let text = p.to_string();
        assert!(text.contains("1 disk full"), "{text}");
        assert_eq!(s.broker(4).unwrap().disk_used_bytes, Some(980_000_000_000));
        assert_eq!(s.broker(2).unwrap().disk_used_bytes, Some(100_000_000_000));
    }

    /// Brokers sharing one host (their agents report one hostname) share its volume: its used
    /// bytes are no one broker's, so each one's used disk is its replicas' sizes; a broker alone
    /// on its host keeps the volume's figure. Failed before: every broker of the shared host
    /// read the volume's 100 GB, so all sat at the disk peak and balance could place nothing.
    #[test]
    fn brokers_on_one_host_count_their_replicas_not_the_shared_volume() {
        let mut f = Fake::six();
        f.add_partition("t", 0, &[1, 2]);
        f.view.sizes_bytes.insert(
            TopicPartition {
                topic: "t".into(),
                partition: 0,
            },
            4096,
        );
        let mut m = ClusterModel::new("c", &WindowConfig::default());
        for id in 1..=6 {
            f.view.disk_total_bytes.insert(id, 1_000_000_000_000);
            f.view.disk_usable_bytes.insert(id, 900_000_000_000);
            let mut a = f.agents[&id].clone();
            a.hostname = if id == 6 { "other" } else { "testbed" }.into();
            m.agents.insert(id, a);
        }
        let s = build(&f.view, &f.limits, &Verdicts::default(), Some(&m), NOW);
        for id in 1..=5 {
            assert_eq!(s.broker(id).unwrap().disk_used_bytes, None, "broker {id}");
        }
        assert_eq!(s.broker(6).unwrap().disk_used_bytes, Some(100_000_000_000));
        // Without agents (the CLI's one-shot plan) nothing is known to be shared.
        let s = build(&f.view, &f.limits, &Verdicts::default(), None, NOW);
        assert_eq!(s.broker(1).unwrap().disk_used_bytes, Some(100_000_000_000));
    }

    /// Seen live: metadata still showed orders-5 mid-reassignment as [5, 6, 4, 2] when the
    /// reassignment list no longer had it, and the heal planned [5, 6, 4, 2] -> [5, 6, 4, 1]:
    /// RF 4 kept. A partition with more replicas than its topic's usual count is in flux: not
    /// planned this round. Failed before: the heal moved it.
    #[test]
    fn a_partition_with_more_replicas_than_its_topic_is_in_flux() {
        let mut f = Fake::six();
        f.add_partition("orders", 0, &[2, 3, 4])
            .add_partition("orders", 1, &[3, 5, 6])
            .add_partition("orders", 2, &[4, 5, 6])
            .add_partition("orders", 5, &[5, 6, 4, 1])
            .add_partition("pairs", 0, &[2, 3]);
        for id in 1..=6 {
            f.view.disk_total_bytes.insert(id, 1_000_000_000_000);
        }
        let (s, p) = heal_broker_1(&f, None);
        assert!(p.moves.is_empty(), "{p}");
        let flux: Vec<bool> = s.partitions.iter().map(|p| p.reassigning).collect();
        assert_eq!(flux, [false, false, false, true, false]);
        assert_eq!(
            p.unplaceable[0].reason,
            crate::plan::UnplaceableReason::Reassigning
        );
        assert_eq!(
            usual_count([3, 4, 4, 3]),
            Some(3),
            "a tie takes the smaller"
        );
        assert_eq!(usual_count([4, 3, 4]), Some(4));
        assert_eq!(usual_count([]), None);
    }

    /// The adding replica of a reassignment in Kafka counts on its broker: broker 4 is filling
    /// up with t-0 and has no net-in room left for a heal.
    #[test]
    fn an_adding_replica_counts_on_its_target() {
        let mut f = Fake::six();
        f.add_partition("t", 0, &[4, 2, 3, 1]);
        f.add_partition("u", 0, &[1, 5, 3]);
        f.view.reassignments.insert(
            TopicPartition {
                topic: "t".into(),
                partition: 0,
            },
            crate::observe::ReassignmentView {
                adding: vec![4],
                removing: vec![1],
            },
        );
        f.limits.default_in_bytes_per_sec = 10_000;
        for id in 1..=6 {
            f.view.disk_total_bytes.insert(id, 1_000_000_000_000);
        }
        let mut m = ClusterModel::new("c", &WindowConfig::default());
        m.windows.record("t", 0, NOW, Some(8_000), Some(0), false);
        m.windows.record("u", 0, NOW, Some(4_000), Some(0), false);
        let (_, p) = heal_broker_1(&f, Some(&m));
        assert!(p.moves.is_empty(), "{p}");
        let u = p.unplaceable.iter().find(|u| &*u.topic == "u").unwrap();
        assert!(
            matches!(u.reason, crate::plan::UnplaceableReason::NoTarget(r) if r.net_in_full == 1),
            "{u}"
        );
    }
}
