//! Shared by the plan_* tests: small clusters, partitions with rates, a heal plan, and the
//! elections-only check.
#![allow(dead_code)] // each test binary uses a different subset

use kmedic_master::plan::{plan, Limits, Plan, Request};
use kmedic_master::sim::Cluster;

/// Brokers `(id, rack)` with the default capacity, nothing else.
pub fn brokers(list: &[(i32, &str)]) -> Cluster {
    let mut c = Cluster::new();
    for &(id, rack) in list {
        c.add_broker(id, rack);
    }
    c
}

/// Six brokers, two per rack: 1,2 in az-a; 3,4 in az-b; 5,6 in az-c.
pub fn six() -> Cluster {
    brokers(&[
        (1, "az-a"),
        (2, "az-a"),
        (3, "az-b"),
        (4, "az-b"),
        (5, "az-c"),
        (6, "az-c"),
    ])
}

/// One partition of `topic` per replica list of `rows`, led by `leader` (`None`: its first
/// replica), of `size` bytes, at `bytes_in` and `bytes_out` per second.
pub fn add_rated<const N: usize>(
    c: &mut Cluster,
    topic: &str,
    leader: Option<i32>,
    rows: &[[i32; N]],
    size: u64,
    (bytes_in, bytes_out): (u64, u64),
) {
    for r in rows {
        let i = c.add_partition(topic, leader.unwrap_or(r[0]), r, size);
        c.set_rates(i, bytes_in, bytes_out);
    }
}

/// The heal plan for `dead` with the default limits.
pub fn heal(c: &Cluster, dead: &[i32]) -> Plan {
    plan(
        &c.snapshot,
        &Limits::default(),
        &Request::Heal {
            dead: dead.to_vec(),
        },
    )
}

/// No data moved: bytes 0, every move a reorder of the same replica set.
pub fn assert_elections_only(p: &Plan) {
    assert_eq!(p.totals.bytes_moved, 0, "{p}");
    for m in &p.moves {
        let (mut a, mut b) = (m.old_replicas.clone(), m.new_replicas.clone());
        a.sort_unstable();
        b.sort_unstable();
        assert_eq!(a, b, "a replica set changed: {m}");
        assert_eq!(m.bytes_to_copy, 0, "{m}");
    }
}

/// The size of a random cluster for the property tests (plan_props, plan_relieve): broker,
/// rack and partition counts, RF (at most the broker count), and the seed of the rest.
#[derive(Debug, Clone, Copy)]
pub struct Shape {
    pub seed: u64,
    pub brokers: usize,
    pub racks: usize,
    pub partitions: usize,
    pub rf: usize,
}

/// Random [`Shape`]s with counts in the given ranges, `rf` clamped to `brokers`. Drawn in the
/// order seed, brokers, racks, partitions, rf, as the tests' own arguments were, so the seeds
/// kept in their proptest-regressions files give the same clusters.
pub fn shape(
    brokers: std::ops::Range<usize>,
    racks: std::ops::Range<usize>,
    partitions: std::ops::Range<usize>,
    rf: std::ops::Range<usize>,
) -> impl proptest::strategy::Strategy<Value = Shape> {
    use proptest::prelude::*;
    (any::<u64>(), brokers, racks, partitions, rf).prop_map(
        |(seed, brokers, racks, partitions, rf)| Shape {
            seed,
            brokers,
            racks,
            partitions,
            rf: rf.min(brokers),
        },
    )
}

/// Seeds the random number generator of `s` and adds its brokers: ids 1 to `s.brokers`,
/// round-robin over `s.racks` racks (az-a, az-b, ...), each with a random capacity (net in 50 to
/// 200 MB/s, net out 50 to 300 MB/s, disk `disk_100gb` x 100 GB); `then(rng, cluster, id, cap)`
/// draws the rest of each broker (state, disk use) right after it. Returns the generator for
/// the partitions.
pub fn random_brokers(
    s: &Shape,
    disk_100gb: std::ops::Range<u64>,
    mut then: impl FnMut(&mut rand::rngs::StdRng, &mut Cluster, i32, kmedic_master::plan::Capacity),
) -> (rand::rngs::StdRng, Cluster) {
    use rand::{Rng, SeedableRng};
    let mut rng = rand::rngs::StdRng::seed_from_u64(s.seed);
    let mut c = Cluster::new();
    for i in 0..s.brokers {
        let cap = kmedic_master::plan::Capacity {
            net_in_bytes_per_sec: rng.random_range(50..200) * 1_000_000,
            net_out_bytes_per_sec: rng.random_range(50..300) * 1_000_000,
            disk_bytes: rng.random_range(disk_100gb.clone()) * 100_000_000_000,
        };
        let id = i as i32 + 1;
        c.add_broker_with(id, &kmedic_master::sim::rack_name(i % s.racks), cap);
        then(&mut rng, &mut c, id, cap);
    }
    (rng, c)
}
