//! Same-AZ partition assignment for consumers, pure: each consumer gets the partitions led in its
//! AZ, balanced within the AZ; partitions nobody in their AZ can take go to the least loaded
//! consumers, first those whose own AZ leads nothing.
//!
//! Locality comes before balance across AZs: with 10 partitions led in az-a, one consumer there
//! and five in az-b, the az-a consumer takes all 10. Run as many consumers per AZ as the AZ has
//! leaders to share (the master spreads leaders evenly over AZs).
//!
//! With KIP-392 (`client.rack`, see [`crate::consumer_rack`]) a consumer fetches from a replica in
//! its AZ whoever leads; this helper is for clients that pick partitions themselves
//! (`assign()` rather than `subscribe()`) or brokers without a rack-aware replica selector.

use std::collections::{BTreeMap, HashMap};

use crate::leaders::LeaderMap;

/// A partition and the AZ of its leader.
#[derive(Debug, Clone, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub struct PartitionAz {
    /// The topic.
    pub topic: String,
    /// The partition.
    pub partition: i32,
    /// Its leader's AZ; `None` without a leader or rack.
    pub az: Option<String>,
}

/// A consumer and its AZ.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ConsumerAz {
    /// A unique id (member id, host name...).
    pub id: String,
    /// Its AZ; `None` when unknown (it only takes partitions no local consumer can).
    pub az: Option<String>,
}

/// The partitions of `topics` in `leaders`, each with its leader's AZ.
pub fn partitions_of(leaders: &LeaderMap, topics: &[&str]) -> Vec<PartitionAz> {
    topics
        .iter()
        .filter_map(|t| leaders.topic(t).map(|l| (*t, l)))
        .flat_map(|(t, l)| {
            l.partitions().iter().map(move |p| PartitionAz {
                topic: t.to_string(),
                partition: p.partition,
                az: p.az.clone(),
            })
        })
        .collect()
}

/// Consumer id to its partitions (`(topic, partition)`, sorted). Every partition goes to exactly
/// one consumer when there is at least one; every consumer appears, maybe with none.
pub fn assign_by_az(
    partitions: &[PartitionAz],
    consumers: &[ConsumerAz],
) -> BTreeMap<String, Vec<(String, i32)>> {
    let mut out: BTreeMap<String, Vec<(String, i32)>> = consumers
        .iter()
        .map(|c| (c.id.clone(), Vec::new()))
        .collect();
    if consumers.is_empty() {
        return out;
    }
    let mut by_az: HashMap<&str, Vec<&str>> = HashMap::new();
    for c in consumers {
        if let Some(az) = &c.az {
            by_az.entry(az.as_str()).or_default().push(c.id.as_str());
        }
    }
    for ids in by_az.values_mut() {
        ids.sort_unstable();
        ids.dedup();
    }
    let mut sorted: Vec<&PartitionAz> = partitions.iter().collect();
    sorted.sort_unstable();
    // Local first: round-robin over the AZ's consumers, so counts within an AZ differ by one.
    let mut turn: HashMap<&str, usize> = HashMap::new();
    let mut orphans = Vec::new();
    for p in sorted {
        match p
            .az
            .as_deref()
            .and_then(|az| by_az.get(az).map(|ids| (az, ids)))
        {
            Some((az, ids)) => {
                let t = turn.entry(az).or_default();
                let id = ids[*t % ids.len()];
                *t += 1;
                if let Some(v) = out.get_mut(id) {
                    v.push((p.topic.clone(), p.partition));
                }
            }
            None => orphans.push(p),
        }
    }
    // The rest: to the least loaded; ties go to consumers whose AZ leads nothing (they are
    // idle otherwise), then by id.
    let leads: std::collections::HashSet<&str> =
        partitions.iter().filter_map(|p| p.az.as_deref()).collect();
    let has_local = |c: &ConsumerAz| c.az.as_deref().is_some_and(|az| leads.contains(az));
    for p in orphans {
        let target = consumers
            .iter()
            .min_by_key(|c| {
                (
                    out.get(&c.id).map_or(0, Vec::len),
                    has_local(c),
                    c.id.clone(),
                )
            })
            .map(|c| c.id.clone());
        if let Some(v) = target.and_then(|id| out.get_mut(&id)) {
            v.push((p.topic.clone(), p.partition));
        }
    }
    for v in out.values_mut() {
        v.sort_unstable();
    }
    out
}

#[cfg(test)]
mod tests {
    use proptest::prelude::*;

    use super::*;

    fn p(partition: i32, az: Option<&str>) -> PartitionAz {
        PartitionAz {
            topic: "t".into(),
            partition,
            az: az.map(str::to_string),
        }
    }

    fn c(id: &str, az: Option<&str>) -> ConsumerAz {
        ConsumerAz {
            id: id.into(),
            az: az.map(str::to_string),
        }
    }

    fn parts(v: &[(String, i32)]) -> Vec<i32> {
        v.iter().map(|(_, p)| *p).collect()
    }

    #[test]
    fn each_consumer_gets_the_partitions_led_in_its_az_balanced() {
        let partitions = [
            p(0, Some("a")),
            p(1, Some("b")),
            p(2, Some("a")),
            p(3, Some("b")),
            p(4, Some("a")),
        ];
        let consumers = [c("a1", Some("a")), c("a2", Some("a")), c("b1", Some("b"))];
        let got = assign_by_az(&partitions, &consumers);
        assert_eq!(parts(&got["a1"]), [0, 4]);
        assert_eq!(parts(&got["a2"]), [2]);
        assert_eq!(parts(&got["b1"]), [1, 3]);
    }

    #[test]
    fn partitions_without_a_local_consumer_fall_back_to_the_idle_first() {
        let partitions = [
            p(0, Some("a")),
            p(1, Some("c")),
            p(2, None),
            p(3, Some("c")),
        ];
        let consumers = [c("a1", Some("a")), c("x", None), c("z1", Some("z"))];
        let got = assign_by_az(&partitions, &consumers);
        assert_eq!(parts(&got["a1"]), [0]);
        // x (AZ unknown) and z1 (its AZ leads nothing) share the rest; a1 keeps its local one.
        let mut rest = parts(&got["x"]);
        rest.extend(parts(&got["z1"]));
        rest.sort_unstable();
        assert_eq!(rest, [1, 2, 3]);
        assert!(got["x"].len().abs_diff(got["z1"].len()) <= 1);
    }

    #[test]
    fn no_consumers_no_assignment() {
        assert!(assign_by_az(&[p(0, Some("a"))], &[]).is_empty());
    }

    proptest! {
        #[test]
        fn every_partition_once_local_when_possible_balanced_within_an_az(
            leaders in prop::collection::vec(prop::option::weighted(0.9, 0u8..4), 0..60),
            members in prop::collection::vec(prop::option::weighted(0.8, 0u8..4), 1..12),
        ) {
            let az = |i: u8| ["a", "b", "c", "d"][usize::from(i)];
            let partitions: Vec<PartitionAz> = leaders
                .iter()
                .enumerate()
                .map(|(i, l)| p(i as i32, l.map(az)))
                .collect();
            let consumers: Vec<ConsumerAz> = members
                .iter()
                .enumerate()
                .map(|(i, m)| c(&format!("c{i:02}"), m.map(az)))
                .collect();
            let got = assign_by_az(&partitions, &consumers);
            prop_assert_eq!(got.len(), consumers.len());
            let mut all: Vec<i32> = got.values().flat_map(|v| parts(v)).collect();
            all.sort_unstable();
            prop_assert_eq!(all, (0..partitions.len() as i32).collect::<Vec<_>>());
            let owner: HashMap<i32, &ConsumerAz> = got
                .iter()
                .flat_map(|(id, v)| {
                    let cons = consumers.iter().find(|c| &c.id == id);
                    v.iter().filter_map(move |(_, part)| cons.map(|c| (*part, c)))
                })
                .collect();
            for part in &partitions {
                let local_exists = consumers.iter().any(|c| c.az.is_some() && c.az == part.az);
                if local_exists {
                    prop_assert_eq!(&owner[&part.partition].az, &part.az);
                }
            }
            // Within an AZ, local shares differ by at most one.
            for zone in ["a", "b", "c", "d"] {
                let shares: Vec<usize> = consumers
                    .iter()
                    .filter(|c| c.az.as_deref() == Some(zone))
                    .map(|c| got[&c.id].iter().filter(|(_, q)| partitions[*q as usize].az.as_deref() == Some(zone)).count())
                    .collect();
                if let (Some(max), Some(min)) = (shares.iter().max(), shares.iter().min()) {
                    prop_assert!(max - min <= 1, "{zone}: {shares:?}");
                }
            }
        }
    }
}
