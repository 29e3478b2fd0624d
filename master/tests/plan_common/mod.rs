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
