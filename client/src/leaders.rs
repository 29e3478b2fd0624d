//! Which AZ leads each partition: broker ids to racks (`broker.rack`) and partition leaders,
//! both from one Metadata answer.

use std::collections::{BTreeMap, HashMap};

use kmedic_common::admin::ClusterMetadata;

/// One partition's leader and the leader's AZ, as Metadata said.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct PartitionLeader {
    /// The partition.
    pub partition: i32,
    /// The leader's broker id; `None` while the partition has no leader.
    pub leader: Option<i32>,
    /// The leader's `broker.rack`; `None` without a leader or when the broker has no rack.
    pub az: Option<String>,
}

/// One topic's partitions and, per AZ, the partitions led there (sorted).
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct TopicLeaders {
    partitions: Vec<PartitionLeader>,
    by_az: HashMap<String, Vec<i32>>,
}

impl TopicLeaders {
    /// Every partition, in partition order.
    pub fn partitions(&self) -> &[PartitionLeader] {
        &self.partitions
    }

    /// The partitions whose leader is in `az`, sorted; empty when there are none.
    pub fn led_in(&self, az: &str) -> &[i32] {
        self.by_az.get(az).map(Vec::as_slice).unwrap_or(&[])
    }

    /// The AZ of `partition`'s leader, when known.
    pub fn leader_az(&self, partition: i32) -> Option<&str> {
        let i = usize::try_from(partition).ok()?;
        match self.partitions.get(i) {
            Some(p) if p.partition == partition => p.az.as_deref(),
            _ => self
                .partitions
                .iter()
                .find(|p| p.partition == partition)
                .and_then(|p| p.az.as_deref()),
        }
    }

    /// Number of partitions led per AZ (partitions without a leader or rack are not counted).
    pub fn leaders_per_az(&self) -> BTreeMap<&str, usize> {
        self.by_az
            .iter()
            .map(|(az, p)| (az.as_str(), p.len()))
            .collect()
    }
}

/// Leaders and their AZs for a set of topics.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct LeaderMap {
    topics: HashMap<String, TopicLeaders>,
}

impl LeaderMap {
    /// The topics of `md` that it describes without error, with each leader's rack.
    pub fn from_metadata(md: &ClusterMetadata) -> Self {
        let racks: HashMap<i32, &str> = md
            .brokers
            .iter()
            .filter_map(|b| b.rack.as_deref().map(|r| (b.id, r)))
            .collect();
        let mut topics = HashMap::new();
        for t in md.topics.iter().filter(|t| t.error.is_none()) {
            let mut partitions: Vec<PartitionLeader> = t
                .partitions
                .iter()
                .map(|p| {
                    let leader = p.leader.filter(|l| *l >= 0);
                    PartitionLeader {
                        partition: p.partition,
                        leader,
                        az: leader.and_then(|l| racks.get(&l)).map(|r| r.to_string()),
                    }
                })
                .collect();
            partitions.sort_by_key(|p| p.partition);
            topics.insert(t.name.clone(), TopicLeaders::new(partitions));
        }
        LeaderMap { topics }
    }

    /// A map built by hand: `(topic, [(partition, leader AZ)])`, for tests and simulations.
    /// Broker ids are not given, so every `leader` is `None`; routing only reads the AZ.
    pub fn from_parts<'a>(
        topics: impl IntoIterator<Item = (&'a str, Vec<(i32, Option<&'a str>)>)>,
    ) -> Self {
        let topics = topics
            .into_iter()
            .map(|(name, parts)| {
                let mut partitions: Vec<PartitionLeader> = parts
                    .into_iter()
                    .map(|(partition, az)| PartitionLeader {
                        partition,
                        leader: None,
                        az: az.map(str::to_string),
                    })
                    .collect();
                partitions.sort_by_key(|p| p.partition);
                (name.to_string(), TopicLeaders::new(partitions))
            })
            .collect();
        LeaderMap { topics }
    }

    /// One topic, if known.
    pub fn topic(&self, name: &str) -> Option<&TopicLeaders> {
        self.topics.get(name)
    }

    /// The topics known.
    pub fn topic_names(&self) -> impl Iterator<Item = &str> {
        self.topics.keys().map(String::as_str)
    }

    /// Replaces the topics `newer` describes; keeps the others.
    pub fn merge(&mut self, newer: LeaderMap) {
        self.topics.extend(newer.topics);
    }
}

impl TopicLeaders {
    fn new(partitions: Vec<PartitionLeader>) -> Self {
        let mut by_az: HashMap<String, Vec<i32>> = HashMap::new();
        for p in &partitions {
            if let Some(az) = &p.az {
                by_az.entry(az.clone()).or_default().push(p.partition);
            }
        }
        TopicLeaders { partitions, by_az }
    }
}

#[cfg(test)]
mod tests {
    use kmedic_common::admin::{BrokerInfo, PartitionMetadata, TopicMetadata};

    use super::*;

    fn broker(id: i32, rack: Option<&str>) -> BrokerInfo {
        BrokerInfo {
            id,
            host: "127.0.0.1".into(),
            port: 9092,
            rack: rack.map(str::to_string),
        }
    }

    fn partition(partition: i32, leader: Option<i32>) -> PartitionMetadata {
        PartitionMetadata {
            partition,
            leader,
            leader_epoch: 0,
            replicas: vec![1, 2, 3],
            isr: vec![1, 2, 3],
            offline_replicas: vec![],
            error: None,
        }
    }

    fn metadata(leaders: &[Option<i32>]) -> ClusterMetadata {
        ClusterMetadata {
            cluster_id: None,
            controller_id: None,
            brokers: vec![
                broker(1, Some("az-a")),
                broker(2, Some("az-b")),
                broker(3, Some("az-c")),
                broker(4, None),
            ],
            topics: vec![TopicMetadata {
                name: "t".into(),
                topic_id: String::new(),
                is_internal: false,
                error: None,
                // Out of order on purpose: the map sorts.
                partitions: leaders
                    .iter()
                    .enumerate()
                    .rev()
                    .map(|(p, l)| partition(p as i32, *l))
                    .collect(),
            }],
        }
    }

    #[test]
    fn leaders_are_grouped_by_their_brokers_rack() {
        let map = LeaderMap::from_metadata(&metadata(&[Some(1), Some(2), Some(1), None, Some(4)]));
        let t = map.topic("t").expect("topic t");
        assert_eq!(t.led_in("az-a"), &[0, 2]);
        assert_eq!(t.led_in("az-b"), &[1]);
        assert!(t.led_in("az-c").is_empty());
        assert_eq!(t.leader_az(1), Some("az-b"));
        // No leader, and a leader without a rack: in no AZ.
        assert_eq!(t.leader_az(3), None);
        assert_eq!(t.leader_az(4), None);
        assert_eq!(t.partitions().len(), 5);
    }

    #[test]
    fn a_newer_answer_replaces_its_topics_only() {
        let mut map = LeaderMap::from_parts([("a", vec![(0, Some("az-a"))]), ("b", vec![])]);
        map.merge(LeaderMap::from_parts([("a", vec![(0, Some("az-c"))])]));
        assert_eq!(map.topic("a").and_then(|t| t.leader_az(0)), Some("az-c"));
        assert!(map.topic("b").is_some());
    }
}
