//! Synthetic clusters: brokers over racks, rack-aware random placement, Zipf-skewed traffic.
//!
//! Seeded (`StdRng::seed_from_u64`), so a spec always gives the same cluster.
//!
//! - Topic weights follow Zipf(`topic_skew`) over a shuffled topic order; hot topics also get
//!   more partitions, as operators give them.
//! - Within a topic, partition weights follow Zipf(`partition_skew`) (keyed producers).
//! - A partition's bytes in is its share of `mean_broker_net_in` x brokers / RF; consumer bytes
//!   out is bytes in times a per-topic fan-out in [0.5, 3).
//! - Size is bytes in x retention (one day) x a jitter in [0.5, 1.5), so bytes per unit of load
//!   varies and "fewest bytes first" has something to choose.
//! - Replicas: the leader on a uniformly random broker, each follower on a random broker of
//!   another rack (Kafka's rack-aware rule), so counts and load are unevenly spread.

use rand::rngs::StdRng;
use rand::seq::{IndexedRandom, SliceRandom};
use rand::{Rng, SeedableRng};

use super::cluster::{Cluster, DEFAULT_CAPACITY};
use crate::plan::PartitionInfo;

/// What to generate.
#[derive(Debug, Clone)]
pub struct Spec {
    /// RNG seed.
    pub seed: u64,
    /// Brokers that get replicas; ids 1..=brokers.
    pub brokers: usize,
    /// Extra brokers added empty afterwards (a scale-out), ids after the loaded ones.
    pub empty_brokers: usize,
    /// Number of racks, named az-a, az-b, ... Brokers go round-robin over racks.
    pub racks: usize,
    /// Partitions in all.
    pub partitions: usize,
    /// Number of topics.
    pub topics: usize,
    /// Replication factor.
    pub rf: usize,
    /// Zipf exponent over topics.
    pub topic_skew: f64,
    /// Zipf exponent over partitions within a topic.
    pub partition_skew: f64,
    /// Mean net in per loaded broker, bytes/s (sets total traffic).
    pub mean_broker_net_in: u64,
    /// Fraction of partitions led by a non-preferred replica.
    pub non_preferred_leaders: f64,
}

impl Spec {
    /// A cluster of `brokers` over 3 racks with `replicas` replicas at RF 3 (about 200
    /// partitions per topic), moderately skewed, at about 40% net-in utilization.
    pub fn new(brokers: usize, replicas: usize, seed: u64) -> Spec {
        let partitions = (replicas / 3).max(1);
        Spec {
            seed,
            brokers,
            empty_brokers: 0,
            racks: 3,
            partitions,
            topics: (partitions / 200).max(1),
            rf: 3,
            topic_skew: 0.8,
            partition_skew: 0.3,
            mean_broker_net_in: 40_000_000,
            non_preferred_leaders: 0.02,
        }
    }
}

/// Rack name of rack number `i`: az-a, az-b, ... az-z, az-aa ...
pub fn rack_name(i: usize) -> String {
    let letter = (b'a' + (i % 26) as u8) as char;
    if i < 26 {
        format!("az-{letter}")
    } else {
        format!("az-{letter}{}", i / 26)
    }
}

/// Weights 1/rank^s for ranks 1..=n, normalized to sum 1.
fn zipf_weights(n: usize, s: f64) -> Vec<f64> {
    let w: Vec<f64> = (1..=n).map(|k| (k as f64).powf(-s)).collect();
    let sum: f64 = w.iter().sum();
    w.into_iter().map(|x| x / sum).collect()
}

/// Generates the cluster described by `spec`.
pub fn generate(spec: &Spec) -> Cluster {
    let mut rng = StdRng::seed_from_u64(spec.seed);
    let racks = spec.racks.max(1);
    let mut c = Cluster::new();
    let mut by_rack: Vec<Vec<i32>> = vec![Vec::new(); racks];
    for i in 0..spec.brokers {
        let id = i as i32 + 1;
        c.add_broker(id, &rack_name(i % racks));
        by_rack[i % racks].push(id);
    }
    let topics = spec.topics.clamp(1, spec.partitions.max(1));
    let topic_w = zipf_weights(topics, spec.topic_skew);
    // Partition counts follow the weights (hot topics get more), at least one each.
    let spare = spec.partitions.saturating_sub(topics) as f64;
    let mut counts: Vec<usize> = topic_w.iter().map(|w| 1 + (w * spare) as usize).collect();
    let missing = spec.partitions.saturating_sub(counts.iter().sum());
    for i in 0..missing {
        counts[i % topics] += 1;
    }
    let mut order: Vec<usize> = (0..topics).collect();
    order.shuffle(&mut rng);
    let total_in = spec.mean_broker_net_in as f64 * spec.brokers as f64 / spec.rf.max(1) as f64;
    for (rank, &t) in order.iter().enumerate() {
        let name = format!("topic-{t:05}");
        let tid = c.snapshot.topics.intern(&name);
        let n = counts[rank];
        let fanout = rng.random_range(0.5..3.0);
        let mut part_w = zipf_weights(n, spec.partition_skew);
        part_w.shuffle(&mut rng);
        for (pi, w) in part_w.iter().enumerate() {
            let bytes_in = (total_in * topic_w[rank] * w) as u64;
            let replicas = place(&mut rng, &by_rack, spec.rf);
            let leader = if rng.random_bool(spec.non_preferred_leaders.clamp(0.0, 1.0)) {
                replicas.last().copied()
            } else {
                replicas.first().copied()
            };
            let retention = 86_400.0 * rng.random_range(0.5..1.5);
            c.snapshot.partitions.push(PartitionInfo {
                topic: tid,
                partition: pi as i32,
                isr: replicas.clone(),
                replicas,
                leader,
                size_bytes: (bytes_in as f64 * retention) as u64 + 1_000_000,
                bytes_in_per_sec: bytes_in,
                bytes_out_per_sec: (bytes_in as f64 * fanout) as u64,
                reassigning: false,
            });
        }
    }
    for i in spec.brokers..spec.brokers + spec.empty_brokers {
        c.add_broker_with(i as i32 + 1, &rack_name(i % racks), DEFAULT_CAPACITY);
    }
    c
}

/// A rack-aware replica list: leader on a random broker, followers on random brokers of other
/// racks while racks last, then of any rack (distinct brokers).
fn place(rng: &mut StdRng, by_rack: &[Vec<i32>], rf: usize) -> Vec<i32> {
    let mut racks: Vec<usize> = (0..by_rack.len())
        .filter(|&r| !by_rack[r].is_empty())
        .collect();
    racks.shuffle(rng);
    let mut out: Vec<i32> = Vec::with_capacity(rf);
    for &r in racks.iter().take(rf) {
        if let Some(&b) = by_rack[r].choose(rng) {
            out.push(b);
        }
    }
    let all: Vec<i32> = by_rack.iter().flatten().copied().collect();
    let want = rf.min(all.len());
    while out.len() < want {
        if let Some(&b) = all.choose(rng) {
            if !out.contains(&b) {
                out.push(b);
            }
        }
    }
    out
}
