//! Bounded state: partitions, topics and agents the cluster's metadata no longer knows are
//! dropped (DESIGN.md rule 9). Names and ids in stats are keys only, so a deleted topic, a
//! removed broker or a bogus name from a stats record would otherwise be held forever.

use std::collections::{BTreeSet, HashMap, HashSet};

use super::window::{PartitionKey, Windows};
use super::ClusterModel;
use crate::observe::ClusterView;

/// What one [`ClusterModel::prune`] removed.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct Pruned {
    /// Partition windows dropped.
    pub partitions: usize,
    /// Topic names dropped from the intern table.
    pub topics: usize,
    /// Agent states dropped.
    pub agents: usize,
}

impl Pruned {
    /// Whether anything was removed.
    pub fn is_empty(&self) -> bool {
        *self == Self::default()
    }
}

impl ClusterModel {
    /// Drops every partition window for which `keep_partition(topic, partition)` is false,
    /// every topic no kept partition uses, and every agent for which `keep_broker(id)` is false.
    /// Cheap when nothing goes (one look-up per partition); rebuilds the windows' flat layout
    /// once when something does.
    pub fn prune(
        &mut self,
        keep_partition: impl Fn(&str, i32) -> bool,
        keep_broker: impl Fn(i32) -> bool,
    ) -> Pruned {
        let before = self.agents.len();
        self.agents.retain(|&id, _| keep_broker(id));
        self.history.retain(&keep_broker);
        let (partitions, topics) = self.windows.retain(keep_partition);
        Pruned {
            partitions,
            topics,
            agents: before - self.agents.len(),
        }
    }

    /// [`ClusterModel::prune`] to what `view` reports: its partitions, and brokers that are
    /// registered or host a replica. A view with no broker at all (a failed or empty
    /// observation) prunes nothing: it must never wipe the model.
    pub fn prune_to_view(&mut self, view: &ClusterView) -> Pruned {
        if view.brokers.is_empty() {
            return Pruned::default();
        }
        let parts: HashSet<(&str, i32)> = view
            .partitions
            .iter()
            .map(|p| (p.topic.as_str(), p.partition))
            .collect();
        let mut brokers: BTreeSet<i32> = view.brokers.keys().copied().collect();
        brokers.extend(view.hosting_brokers());
        self.prune(|t, p| parts.contains(&(t, p)), |id| brokers.contains(&id))
    }
}

impl Windows {
    /// Keeps the partitions for which `keep(topic, partition)` holds and the topics they use;
    /// returns (partitions, topics) removed.
    pub fn retain(&mut self, keep: impl Fn(&str, i32) -> bool) -> (usize, usize) {
        let kept: Vec<bool> = self
            .keys
            .iter()
            .map(|k| {
                self.topics
                    .get(k.topic as usize)
                    .is_some_and(|t| keep(t, k.partition))
            })
            .collect();
        let used: HashSet<u32> = self
            .keys
            .iter()
            .zip(&kept)
            .filter(|(_, &k)| k)
            .map(|(k, _)| k.topic)
            .collect();
        let dropped_parts = kept.iter().filter(|k| !**k).count();
        let dropped_topics = self.topics.len() - used.len();
        if dropped_parts == 0 && dropped_topics == 0 {
            return (0, 0);
        }
        // Re-intern the surviving topics in their old order, then compact the slots.
        let mut remap: HashMap<u32, u32> = HashMap::new();
        let mut topics = Vec::with_capacity(used.len());
        for (i, t) in std::mem::take(&mut self.topics).into_iter().enumerate() {
            if used.contains(&(i as u32)) {
                remap.insert(i as u32, topics.len() as u32);
                topics.push(t);
            }
        }
        let n2 = 2 * self.n;
        let survivors = kept.len() - dropped_parts;
        let (mut keys, mut meta, mut buckets) = (
            Vec::with_capacity(survivors),
            Vec::with_capacity(survivors),
            Vec::with_capacity(survivors * n2),
        );
        for (s, _) in kept.iter().enumerate().filter(|(_, k)| **k) {
            let k = self.keys[s];
            keys.push(PartitionKey {
                topic: remap[&k.topic],
                partition: k.partition,
            });
            meta.push(self.meta[s]);
            buckets.extend_from_slice(&self.buckets[s * n2..(s + 1) * n2]);
        }
        self.topic_ids = topics
            .iter()
            .enumerate()
            .map(|(i, t)| (t.clone(), i as u32))
            .collect();
        self.index = keys
            .iter()
            .enumerate()
            .map(|(i, k)| (*k, i as u32))
            .collect();
        self.topics = topics;
        self.keys = keys;
        self.meta = meta;
        self.buckets = buckets;
        (dropped_parts, dropped_topics)
    }
}
