//! Per-broker figures of a cluster under the planner's load model (see `kmedic_master::plan`),
//! and what a new assignment moved. Computed here, independently of either tool.

use kmedic_master::plan::{BrokerState, Snapshot};
use kmedic_master::sim::health;

/// max/mean and max/min over alive brokers of one per-broker figure.
#[derive(Debug, Clone, Copy, Default)]
pub struct Spread {
    /// Largest over the mean.
    pub max_over_mean: f64,
    /// Largest over the smallest (infinite when some alive broker has none).
    pub max_over_min: f64,
}

impl Spread {
    fn of(values: &[f64]) -> Spread {
        if values.is_empty() {
            return Spread::default();
        }
        let max = values.iter().copied().fold(f64::MIN, f64::max);
        let min = values.iter().copied().fold(f64::MAX, f64::min);
        let mean = values.iter().sum::<f64>() / values.len() as f64;
        Spread {
            max_over_mean: if mean > 0.0 { max / mean } else { 0.0 },
            max_over_min: if min > 0.0 { max / min } else { f64::INFINITY },
        }
    }
}

/// How evenly a cluster is spread, over alive brokers (utilization: load / capacity).
#[derive(Debug, Clone, Copy, Default)]
pub struct Balance {
    /// Replica counts.
    pub replicas: Spread,
    /// Net in utilization.
    pub net_in: Spread,
    /// Net out utilization.
    pub net_out: Spread,
    /// Partitions whose replicas share a rack although there are enough racks.
    pub rack_violations: usize,
    /// Replicas on brokers that are not alive.
    pub on_unhealthy: usize,
}

/// The figures of `snap`.
pub fn balance(snap: &Snapshot) -> Balance {
    let pos = snap.broker_positions();
    let n = snap.brokers.len();
    let (mut count, mut net_in, mut net_out) = (vec![0f64; n], vec![0f64; n], vec![0f64; n]);
    for p in &snap.partitions {
        for r in &p.replicas {
            if let Some(&i) = pos.get(r) {
                count[i] += 1.0;
                net_in[i] += p.bytes_in_per_sec as f64;
            }
        }
        if let Some(&i) = p.leader.and_then(|l| pos.get(&l)) {
            let followers = p.replicas.len().saturating_sub(1) as f64;
            net_out[i] += p.bytes_out_per_sec as f64 + p.bytes_in_per_sec as f64 * followers;
        }
    }
    let alive: Vec<usize> = (0..n)
        .filter(|&i| snap.brokers[i].state == BrokerState::Alive)
        .collect();
    let util = |load: &[f64], cap: &dyn Fn(usize) -> u64| -> Vec<f64> {
        alive
            .iter()
            .map(|&i| load[i] / (cap(i) as f64).max(1.0))
            .collect()
    };
    let caps = |i: usize| snap.brokers[i].capacity;
    let h = health(snap);
    Balance {
        replicas: Spread::of(&alive.iter().map(|&i| count[i]).collect::<Vec<_>>()),
        net_in: Spread::of(&util(&net_in, &|i| caps(i).net_in_bytes_per_sec)),
        net_out: Spread::of(&util(&net_out, &|i| caps(i).net_out_bytes_per_sec)),
        rack_violations: h.rack_violations,
        on_unhealthy: h.replicas_on_unhealthy,
    }
}

/// Replicas and bytes a change from `before` to `after` copies: every replica of a partition on
/// a broker that did not hold one before (partitions matched by position: same snapshot order).
pub fn moved(before: &Snapshot, after: &Snapshot) -> (u64, u64) {
    let (mut replicas, mut bytes) = (0u64, 0u64);
    for (a, b) in before.partitions.iter().zip(&after.partitions) {
        let new = b
            .replicas
            .iter()
            .filter(|r| !a.replicas.contains(r))
            .count() as u64;
        replicas += new;
        bytes += new * a.size_bytes;
    }
    (replicas, bytes)
}

#[cfg(test)]
mod tests {
    use super::*;
    use kmedic_master::sim::Cluster;

    #[test]
    fn spreads_and_moves_count_what_they_say() {
        let mut c = Cluster::new();
        c.add_broker(1, "a").add_broker(2, "b").add_broker(3, "c");
        let p = c.add_partition("t", 1, &[1, 2], 100);
        c.set_rates(p, 10, 5);
        let b = balance(&c.snapshot);
        assert_eq!(b.replicas.max_over_mean, 1.5);
        assert!(b.replicas.max_over_min.is_infinite());
        let mut after = c.clone();
        after.snapshot.partitions[0].replicas = vec![3, 2];
        assert_eq!(moved(&c.snapshot, &after.snapshot), (1, 100));
    }
}
