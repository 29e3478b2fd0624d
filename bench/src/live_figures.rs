//! Scores a proposed reassignment on a live cluster (for `kmedic-bench live`): what it moves and
//! how even it leaves the brokers, computed here from the assignment and bytes on disk, so both
//! tools are judged by the same code.

use std::collections::BTreeMap;
use std::path::Path;

use anyhow::{Context, Result};
use kmedic_tests::Testbed;
use serde::Deserialize;

/// (topic, partition) to replicas, first the preferred leader.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Assignment(pub BTreeMap<(String, i32), Vec<i32>>);

/// The `kafka-reassign-partitions` JSON (both tools write it).
#[derive(Deserialize)]
struct Reassignment {
    partitions: Vec<Entry>,
}

#[derive(Deserialize)]
struct Entry {
    topic: String,
    partition: i32,
    replicas: Vec<i32>,
}

impl Assignment {
    /// The testbed's assignment now (internal topics left out).
    pub fn live(tb: &Testbed) -> Result<Assignment> {
        let md = tb.metadata().context("reading the testbed's metadata")?;
        Ok(Assignment(
            md.partitions
                .into_iter()
                .filter(|p| !p.topic.starts_with("__"))
                .map(|p| ((p.topic, p.partition), p.replicas))
                .collect(),
        ))
    }

    /// Replica lists of `topic`'s partitions.
    pub fn replicas_of_topic<'a>(&'a self, topic: &'a str) -> impl Iterator<Item = &'a Vec<i32>> {
        self.0
            .iter()
            .filter(move |((t, _), _)| t == topic)
            .map(|(_, r)| r)
    }

    /// This assignment with a `kafka-reassign-partitions` JSON applied (partitions it does not
    /// name keep their replicas).
    pub fn with_reassignment(&self, json: &str) -> Result<Assignment> {
        let r: Reassignment = serde_json::from_str(json.trim())
            .with_context(|| format!("parsing a reassignment JSON: {json:?}"))?;
        let mut after = self.clone();
        for e in r.partitions {
            let slot = after
                .0
                .get_mut(&(e.topic.clone(), e.partition))
                .with_context(|| {
                    format!("the proposal names unknown {}-{}", e.topic, e.partition)
                })?;
            *slot = e.replicas;
        }
        Ok(after)
    }

    /// Each partition's bytes: the largest of its replicas' `.log` segment bytes on disk (what
    /// a new replica copies; a dead broker's files are still there).
    pub fn sizes_on_disk(&self, tb: &Testbed) -> BTreeMap<(String, i32), u64> {
        self.0
            .iter()
            .map(|((t, p), replicas)| {
                let size = replicas
                    .iter()
                    .map(|&r| segment_bytes(&tb.log_dir(r).join(format!("{t}-{p}"))))
                    .max()
                    .unwrap_or(0);
                ((t.clone(), *p), size)
            })
            .collect()
    }
}

/// Sum of the `.log` files' lengths in a partition folder (0 when it is missing).
fn segment_bytes(dir: &Path) -> u64 {
    kmedic_tests::product::segment_bytes(dir)
}

/// The figures of one assignment.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct Figures {
    /// Replicas added somewhere (each is a copy).
    pub replicas_moved: u64,
    /// Bytes those copies move.
    pub bytes_moved: u64,
    /// Replicas per broker: (max/mean, max/min).
    pub replicas: (f64, f64),
    /// Bytes per broker: (max/mean, max/min).
    pub bytes: (f64, f64),
    /// Preferred leaders (first replicas) per broker, max/mean.
    pub leaders_max_over_mean: f64,
    /// Partitions with two replicas in one rack although the brokers span enough racks.
    pub rack_violations: usize,
    /// Replicas left on dead brokers.
    pub on_dead: usize,
}

impl Figures {
    /// `after` against `before`; per-broker spreads over `brokers` only.
    pub fn of(
        before: &Assignment,
        after: &Assignment,
        sizes: &BTreeMap<(String, i32), u64>,
        racks: &BTreeMap<i32, String>,
        brokers: &[i32],
        dead: &[i32],
    ) -> Figures {
        let mut f = Figures::default();
        let mut count: BTreeMap<i32, f64> = brokers.iter().map(|&b| (b, 0.0)).collect();
        let mut bytes = count.clone();
        let mut leaders = count.clone();
        let rack_count = brokers
            .iter()
            .filter_map(|b| racks.get(b))
            .collect::<std::collections::BTreeSet<_>>()
            .len();
        for (key, replicas) in &after.0 {
            let size = sizes.get(key).copied().unwrap_or(0);
            let old = before.0.get(key).map_or(&[][..], Vec::as_slice);
            let added = replicas.iter().filter(|r| !old.contains(r)).count() as u64;
            f.replicas_moved += added;
            f.bytes_moved += added * size;
            for r in replicas {
                if let Some(c) = count.get_mut(r) {
                    *c += 1.0;
                }
                if let Some(b) = bytes.get_mut(r) {
                    *b += size as f64;
                }
            }
            if let Some(l) = replicas.first().and_then(|r| leaders.get_mut(r)) {
                *l += 1.0;
            }
            let distinct = replicas
                .iter()
                .filter_map(|r| racks.get(r))
                .collect::<std::collections::BTreeSet<_>>()
                .len();
            if distinct < replicas.len().min(rack_count) {
                f.rack_violations += 1;
            }
            f.on_dead += replicas.iter().filter(|r| dead.contains(r)).count();
        }
        f.replicas = spread(&count);
        f.bytes = spread(&bytes);
        f.leaders_max_over_mean = spread(&leaders).0;
        f
    }
}

/// (max/mean, max/min); max/min is infinite when some broker has none.
fn spread(v: &BTreeMap<i32, f64>) -> (f64, f64) {
    if v.is_empty() {
        return (0.0, 0.0);
    }
    let max = v.values().copied().fold(f64::MIN, f64::max);
    let min = v.values().copied().fold(f64::MAX, f64::min);
    let mean = v.values().sum::<f64>() / v.len() as f64;
    (
        if mean > 0.0 { max / mean } else { 0.0 },
        if min > 0.0 { max / min } else { f64::INFINITY },
    )
}

#[cfg(test)]
mod tests {
    use super::*;

    fn assignment(parts: &[(&str, i32, &[i32])]) -> Assignment {
        Assignment(
            parts
                .iter()
                .map(|(t, p, r)| ((t.to_string(), *p), r.to_vec()))
                .collect(),
        )
    }

    #[test]
    fn a_reassignment_is_scored_by_copies_bytes_spread_racks_and_dead_replicas() {
        let before = assignment(&[("a", 0, &[1, 2]), ("a", 1, &[2, 3]), ("b", 0, &[3, 1])]);
        let sizes: BTreeMap<_, _> = [
            (("a".to_string(), 0), 100),
            (("a".to_string(), 1), 10),
            (("b".to_string(), 0), 1),
        ]
        .into_iter()
        .collect();
        let racks: BTreeMap<_, _> = [(1, "x"), (2, "y"), (3, "x"), (4, "y")]
            .into_iter()
            .map(|(b, r)| (b, r.to_string()))
            .collect();
        // Kafka's tool writes compact JSON with log_dirs; ours pretty JSON.
        let json = r#"{"version":1,"partitions":[
            {"topic":"a","partition":0,"replicas":[4,2],"log_dirs":["any","any"]},
            {"topic":"b","partition":0,"replicas":[3,4]}]}"#;
        let after = before.with_reassignment(json).unwrap();
        assert_eq!(after.0[&("a".to_string(), 1)], vec![2, 3], "unnamed kept");
        let f = Figures::of(&before, &after, &sizes, &racks, &[2, 3, 4], &[1]);
        // a-0 gains 4 (100 bytes), b-0 gains 4 (1 byte).
        assert_eq!((f.replicas_moved, f.bytes_moved), (2, 101));
        // Counts on 2, 3, 4: a-0 [4,2], a-1 [2,3], b-0 [3,4] -> 2, 2, 2.
        assert_eq!(f.replicas, (1.0, 1.0));
        // Bytes: 2 -> 110, 3 -> 11, 4 -> 101; mean 74.
        assert!((f.bytes.0 - 110.0 / 74.0).abs() < 1e-9);
        assert!((f.bytes.1 - 10.0).abs() < 1e-9);
        // Two racks among 2,3,4: a-1 [2 y, 3 x] fine, b-0 [3 x, 4 y] fine, a-0 [4 y, 2 y] not.
        assert_eq!(f.rack_violations, 1);
        assert_eq!(f.on_dead, 0);
        let still = Figures::of(&before, &before, &sizes, &racks, &[2, 3, 4], &[1]);
        assert_eq!((still.replicas_moved, still.on_dead), (0, 2));
        assert_eq!(still.replicas.1, f64::INFINITY, "broker 4 holds none");
        assert!(before
            .with_reassignment(
                r#"{"version":1,"partitions":[{"topic":"z","partition":0,"replicas":[1]}]}"#
            )
            .is_err());
    }
}
