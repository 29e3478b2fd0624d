//! A fake cluster for tests: small builders (after pd's `mockcluster`) and plan application.

use crate::plan::{
    BrokerInfo, BrokerState, Capacity, InFlightMove, PartitionInfo, Plan, Snapshot, TopicId,
};

/// Capacity given to brokers added with [`Cluster::add_broker`]: 100 MB/s in, 200 MB/s out,
/// 8 TB of disk.
pub const DEFAULT_CAPACITY: Capacity = Capacity {
    net_in_bytes_per_sec: 100_000_000,
    net_out_bytes_per_sec: 200_000_000,
    disk_bytes: 8_000_000_000_000,
};

/// A synthetic cluster: a [`Snapshot`] plus builders and events.
#[derive(Debug, Clone, Default)]
pub struct Cluster {
    /// The cluster as the planner sees it.
    pub snapshot: Snapshot,
}

impl Cluster {
    /// An empty cluster.
    pub fn new() -> Self {
        Self::default()
    }

    /// Adds an alive broker with [`DEFAULT_CAPACITY`].
    pub fn add_broker(&mut self, id: i32, rack: &str) -> &mut Self {
        self.add_broker_with(id, rack, DEFAULT_CAPACITY)
    }

    /// Adds an alive broker with the given capacity.
    pub fn add_broker_with(&mut self, id: i32, rack: &str, capacity: Capacity) -> &mut Self {
        self.snapshot.brokers.push(BrokerInfo {
            id,
            rack: rack.to_owned(),
            state: BrokerState::Alive,
            capacity,
            disk_known: true,
            disk_used_bytes: None,
        });
        self
    }

    /// Marks a broker's disk capacity as not reported this round (its log dirs were not
    /// described). Panics on an unknown id (a test bug).
    pub fn set_disk_unknown(&mut self, id: i32) -> &mut Self {
        self.broker_mut(id).disk_known = false;
        self
    }

    /// Sets the bytes in use on a broker's volumes, as DescribeLogDirs v4 reports them.
    pub fn set_disk_used(&mut self, id: i32, used_bytes: u64) -> &mut Self {
        self.broker_mut(id).disk_used_bytes = Some(used_bytes);
        self
    }

    fn broker_mut(&mut self, id: i32) -> &mut BrokerInfo {
        self.snapshot
            .brokers
            .iter_mut()
            .find(|b| b.id == id)
            .unwrap_or_else(|| panic!("no broker {id}"))
    }

    /// Sets a broker's state. Panics on an unknown id (a test bug).
    pub fn set_state(&mut self, id: i32, state: BrokerState) -> &mut Self {
        self.broker_mut(id).state = state;
        self
    }

    /// Kills a broker as Kafka would see it: dead, and dropped from every ISR; partitions it
    /// led fail over to the first other in-sync replica (offline if none).
    pub fn kill(&mut self, id: i32) -> &mut Self {
        self.set_state(id, BrokerState::Dead);
        for p in &mut self.snapshot.partitions {
            p.isr.retain(|&r| r != id);
            if p.leader == Some(id) {
                p.leader = p.replicas.iter().copied().find(|r| p.isr.contains(r));
            }
        }
        self
    }

    /// Adds a fully in-sync partition of `topic` led by `leader` (which must be in `replicas`),
    /// with `size_bytes` and no traffic. Returns its index in the snapshot.
    pub fn add_partition(
        &mut self,
        topic: &str,
        leader: i32,
        replicas: &[i32],
        size_bytes: u64,
    ) -> usize {
        let t = self.snapshot.topics.intern(topic);
        let partition = self
            .snapshot
            .partitions
            .iter()
            .filter(|p| p.topic == t)
            .count() as i32;
        self.snapshot.partitions.push(PartitionInfo {
            topic: t,
            partition,
            replicas: replicas.to_vec(),
            leader: Some(leader),
            isr: replicas.to_vec(),
            size_bytes,
            bytes_in_per_sec: 0,
            bytes_out_per_sec: 0,
            reassigning: false,
        });
        self.snapshot.partitions.len() - 1
    }

    /// Sets a partition's traffic (bytes in and consumer bytes out per second).
    pub fn set_rates(&mut self, index: usize, bytes_in: u64, bytes_out: u64) -> &mut Self {
        let p = &mut self.snapshot.partitions[index];
        p.bytes_in_per_sec = bytes_in;
        p.bytes_out_per_sec = bytes_out;
        self
    }

    /// Marks a partition as reassigning in Kafka.
    pub fn set_reassigning(&mut self, index: usize) -> &mut Self {
        self.snapshot.partitions[index].reassigning = true;
        self
    }

    /// Records an in-flight move of ours for a partition.
    pub fn add_in_flight(&mut self, index: usize, new_replicas: &[i32]) -> &mut Self {
        let p = &self.snapshot.partitions[index];
        self.snapshot.in_flight.push(InFlightMove {
            topic: p.topic,
            partition: p.partition,
            old_replicas: p.replicas.clone(),
            new_replicas: new_replicas.to_vec(),
        });
        self
    }

    /// The index of `topic`-`partition`, if present.
    pub fn find(&self, topic: &str, partition: i32) -> Option<usize> {
        let t: TopicId = self.snapshot.topics.get(topic)?;
        self.snapshot
            .partitions
            .iter()
            .position(|p| p.topic == t && p.partition == partition)
    }

    /// Applies a plan as if it had been executed to completion: moves land (new replicas in
    /// sync, a removed leader replaced by the first new replica), then elections happen.
    pub fn apply(&mut self, plan: &Plan) -> &mut Self {
        let index = self.index();
        let lookup = |topic: &str, partition: i32| {
            let t = self.snapshot.topics.get(topic)?;
            index
                .binary_search_by_key(&(t, partition), |&(t, p, _)| (t, p))
                .ok()
                .map(|i| index[i].2)
        };
        let mut moves = Vec::with_capacity(plan.moves.len());
        for m in &plan.moves {
            if let Some(i) = lookup(&m.topic, m.partition) {
                moves.push((i, m.new_replicas.clone()));
            }
        }
        let mut elections = Vec::with_capacity(plan.elections.len());
        for e in &plan.elections {
            if let Some(i) = lookup(&e.topic, e.partition) {
                elections.push((i, e.new_leader));
            }
        }
        for (i, new) in moves {
            let p = &mut self.snapshot.partitions[i];
            if !p.leader.is_some_and(|l| new.contains(&l)) {
                p.leader = new.first().copied();
            }
            p.isr = new.clone();
            p.replicas = new;
        }
        for (i, leader) in elections {
            self.snapshot.partitions[i].leader = Some(leader);
        }
        self
    }

    /// (topic, partition, index) sorted, for lookups by name.
    fn index(&self) -> Vec<(TopicId, i32, usize)> {
        let mut v: Vec<_> = self
            .snapshot
            .partitions
            .iter()
            .enumerate()
            .map(|(i, p)| (p.topic, p.partition, i))
            .collect();
        v.sort_unstable();
        v
    }
}
