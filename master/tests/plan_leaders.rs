//! Leader counts on Cruise Control's skewed cluster (`../shared/clusters`, issue 12 item 4):
//! within the band's top after one balance, within the whole band once the copies are done,
//! without giving up net in, net out, disk, replica counts or any topic's spread across racks.

use std::collections::BTreeMap;
use std::sync::OnceLock;

use cc_common::{applied, full_balance, load, print_result};
use kmedic_master::plan::{Limits, Plan, Request, Snapshot};
use kmedic_master::sim::{health, Cluster};

mod cc_common;

/// The skewed cluster after one balance plan, and the plan (made once for both tests).
fn once() -> &'static (Cluster, Cluster, Plan) {
    static ONCE: OnceLock<(Cluster, Cluster, Plan)> = OnceLock::new();
    ONCE.get_or_init(|| {
        let c = load("cc-b50-r50k-skewed.tsv.gz");
        let (after, p) = balanced(&c);
        (c, after, p)
    })
}

/// `c` after a full balance plan, and the plan.
fn balanced(c: &Cluster) -> (Cluster, Plan) {
    applied(c, &full_balance(), &Request::Balance)
}

fn leaders(snap: &Snapshot) -> BTreeMap<i32, u32> {
    let mut n: BTreeMap<i32, u32> = snap.brokers.iter().map(|b| (b.id, 0)).collect();
    for p in &snap.partitions {
        if let Some(l) = p.leader {
            *n.entry(l).or_default() += 1;
        }
    }
    n
}

/// Each topic's most minus fewest leaders in a rack.
fn spreads(snap: &Snapshot) -> BTreeMap<String, u32> {
    let rack: BTreeMap<i32, &str> = snap.brokers.iter().map(|b| (b.id, &*b.rack)).collect();
    let racks: Vec<&str> = {
        let mut v: Vec<&str> = rack.values().copied().collect();
        v.sort_unstable();
        v.dedup();
        v
    };
    let mut per: BTreeMap<String, BTreeMap<&str, u32>> = BTreeMap::new();
    for p in &snap.partitions {
        let t = per.entry(snap.topic_name(p.topic).to_string()).or_default();
        racks.iter().for_each(|r| {
            t.entry(r).or_default();
        });
        if let Some(r) = p.leader.and_then(|l| rack.get(&l)) {
            *t.entry(r).or_default() += 1;
        }
    }
    per.into_iter()
        .map(|(t, c)| {
            let (max, min) = (c.values().max(), c.values().min());
            (t, max.zip(min).map_or(0, |(a, b)| a - b))
        })
        .collect()
}

/// The band as the planner computes it, around the mean per broker.
fn band(mean: f64, band: f64) -> (u32, u32) {
    let low = mean.floor().min(((1.0 - band) * mean).ceil()) as u32;
    let high = mean.ceil().max(((1.0 + band) * mean).floor()) as u32;
    (low, high)
}

/// Leader counts stopped at max/mean 1.337: single and paired elections found no receiver for
/// most leaderships of the brokers above the band, whose other in-sync replicas sat on brokers
/// at the band's top. Chains of elections through those brokers (`counts/leaders/chain.rs`)
/// bring every broker within the top; a replica moved in its preferred slot no longer takes
/// its target above it (1.1007 before). No topic's leaders per rack spread wider.
#[test]
fn skewed_cluster_leader_counts_within_the_band_top_without_losing_anything_else() {
    let (c, after, p) = once();
    let h = health(&after.snapshot);
    print_result(&h, p);
    assert!(h.leaders_max_over_mean <= 1.10 + 1e-6, "{h:?}");
    assert_eq!(h.rack_violations, 0);
    assert_eq!(h.duplicate_replicas, 0);
    for (what, v) in [
        ("net in", h.net_in_max_over_mean),
        ("net out", h.net_out_max_over_mean),
        ("disk", h.disk_max_over_mean),
        ("replicas", h.replicas_max_over_mean),
    ] {
        assert!(v <= 1.10 + 1e-6, "{what}: {h:?}");
    }
    // Cruise Control moves 5.63 TB for its result.
    assert!(p.totals.bytes_moved <= 5_630_000_000_000, "{:?}", p.totals);
    // No topic's leaders per rack further apart than the same balance leaves them without the
    // leader goal (within one where the replicas allow it: the AZ spread runs first).
    let off = Limits {
        leader_count_band: 0.0,
        ..full_balance()
    };
    let (without, _) = applied(c, &off, &Request::Balance);
    let before = spreads(&without.snapshot);
    for (topic, s) in spreads(&after.snapshot) {
        let b = before[&topic];
        assert!(
            s <= b.max(1),
            "topic {topic}: leaders per rack differ by {s}, {b} without the goal"
        );
    }
}

/// The low end of the band needs a second round: a broker below it (broker 1: 182 leaders,
/// band 301..367) received most of its replicas in this plan, and a replica still copying
/// cannot lead (of its 915 replicas 50 were in sync). Once the copies are done, the next
/// balance brings every broker within the band with little more data.
#[test]
fn skewed_cluster_every_broker_within_the_leader_band_after_a_second_round() {
    let (c, once, _) = once();
    let (twice, p2) = balanced(once);
    let n = leaders(&twice.snapshot);
    let mean = c.snapshot.partitions.len() as f64 / n.len() as f64;
    let (low, high) = band(mean, full_balance().leader_count_band);
    println!(
        "round 2: moves {} bytes {} elections {}; band {low}..{high}; leaders {:?}",
        p2.moves.len(),
        p2.totals.bytes_moved,
        p2.elections.len(),
        n.values().collect::<Vec<_>>()
    );
    for (b, &k) in &n {
        assert!(
            (low..=high).contains(&k),
            "broker {b} leads {k}, band {low}..{high}"
        );
    }
    // The second round's bytes: under 1 % of the first's (5.2 TB).
    assert!(p2.totals.bytes_moved <= 50_000_000_000, "{:?}", p2.totals);
    let h = health(&twice.snapshot);
    assert!(h.net_in_max_over_mean <= 1.10 + 1e-6, "{h:?}");
    assert!(h.net_out_max_over_mean <= 1.10 + 1e-6, "{h:?}");
}

/// Replica counts at the band's low end: brokers of each rack with few replicas, each with much
/// traffic, sat at their net-in limit with disk to spare (776 to 853 replicas, band 902..1102),
/// so no single move could give them one. The many-for-one exchange now also runs for them
/// (`counts/exchange.rs`): several small followers of a full rack peer in, one back.
#[test]
fn skewed_cluster_every_broker_within_the_replica_band() {
    let (c, after, _) = once();
    let mut n: BTreeMap<i32, u32> = c.snapshot.brokers.iter().map(|b| (b.id, 0)).collect();
    for p in &after.snapshot.partitions {
        for r in &p.replicas {
            *n.entry(*r).or_default() += 1;
        }
    }
    let total: u32 = n.values().sum();
    // One RF 2 topic: not every partition is in every rack, so the band is the cluster's.
    let (low, high) = band(
        f64::from(total) / n.len() as f64,
        full_balance().replica_count_band,
    );
    for (b, &k) in &n {
        assert!(
            (low..=high).contains(&k),
            "broker {b} holds {k} replicas, band {low}..{high}"
        );
    }
}
