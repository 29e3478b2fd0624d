//! Builds the planner's [`Snapshot`] from a [`ClusterView`], the health verdicts and the model's
//! demand windows.

use std::collections::BTreeSet;

use crate::config::NetworkLimits;
use crate::model::ClusterModel;
use crate::plan::{BrokerInfo, BrokerState, Capacity, PartitionInfo, Snapshot, TopicTable};

use super::{ClusterView, TopicPartition};

/// Disk capacity assumed for a broker that does not report its volume size (DescribeLogDirs
/// before v4): 1 PiB, so disk never constrains a plan on a guess.
pub const UNKNOWN_DISK_BYTES: u64 = 1 << 50;

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
            BrokerInfo {
                id,
                rack: b.and_then(|b| b.rack.clone()).unwrap_or_default(),
                state,
                capacity: Capacity {
                    net_in_bytes_per_sec: net_in,
                    net_out_bytes_per_sec: net_out,
                    disk_bytes: view
                        .disk_total_bytes
                        .get(&id)
                        .copied()
                        .unwrap_or(UNKNOWN_DISK_BYTES),
                },
            }
        })
        .collect();
    let mut topics = TopicTable::default();
    let partitions = view
        .partitions
        .iter()
        .map(|p| {
            let tp = TopicPartition {
                topic: p.topic.clone(),
                partition: p.partition,
            };
            let demand = model.and_then(|m| m.windows.demand(&p.topic, p.partition, now_ms));
            PartitionInfo {
                topic: topics.intern(&p.topic),
                partition: p.partition,
                replicas: p.replicas.clone(),
                leader: p.leader,
                isr: p.isr.clone(),
                size_bytes: view.sizes_bytes.get(&tp).copied().unwrap_or(0),
                bytes_in_per_sec: demand.map_or(0, |d| d.in_bytes_per_sec),
                bytes_out_per_sec: demand.map_or(0, |d| d.out_bytes_per_sec),
                reassigning: view.reassignments.contains_key(&tp),
            }
        })
        .collect();
    Snapshot {
        brokers,
        topics,
        partitions,
        in_flight: Vec::new(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::config::WindowConfig;
    use crate::detect::tests::{Fake, NOW};

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
        m.windows.record("t", 0, NOW, Some(500), Some(800), false);
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
}
