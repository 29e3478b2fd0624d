//! Chains of elections on a four-broker cluster: racks a (brokers 1, 2), b (3) and c (4).

use std::collections::HashMap;

use super::super::pair::LedByTopic;
use super::super::TopicRacks;
use super::{from_over, into_under, Link};
use crate::plan::state::State;
use crate::plan::{Capacity, Limits};
use crate::sim::{Cluster, DEFAULT_CAPACITY};

/// Topic `t`: p0 [1, 3, 4] led by 1 and p1 [3, 2, 4] led by 3, so racks a and b each lead one
/// of `t` and no single election of either keeps the topic's spread except into rack c. Broker
/// 2's net-out capacity is `cap2`; each partition's leader carries 1,000 B/s of net out.
fn cluster(cap2: u64) -> Cluster {
    let mut c = Cluster::new();
    let small = Capacity {
        net_out_bytes_per_sec: cap2,
        ..DEFAULT_CAPACITY
    };
    c.add_broker(1, "a")
        .add_broker_with(2, "a", small)
        .add_broker(3, "b")
        .add_broker(4, "c");
    let p0 = c.add_partition("t", 1, &[1, 3, 4], 1_000);
    let p1 = c.add_partition("t", 3, &[3, 2, 4], 1_000);
    c.set_rates(p0, 0, 1_000).set_rates(p1, 0, 1_000);
    c
}

/// Leader counts as the step would see them: broker 1 above the top (4), 3 and 4 at it, 2 far
/// below.
fn counts(st: &State) -> Vec<u32> {
    let mut count = vec![0u32; st.ids.len()];
    for (id, n) in [(1, 5), (2, 0), (3, 4), (4, 4)] {
        count[st.idx(id).unwrap() as usize] = n;
    }
    count
}

fn ids(st: &State, chain: &[Link]) -> Vec<(u32, i32, i32)> {
    chain
        .iter()
        .map(|l| (l.p, st.ids[l.from as usize], st.ids[l.to as usize]))
        .collect()
}

/// Broker 1's only partition has its other replicas on brokers at the top (3, 4): no single or
/// paired election helps. A round trip through broker 3 (p0 to 3, p1 from 3 to 2) moves one
/// leadership inside rack a, and topic t still leads one in a and one in b.
#[test]
fn a_round_trip_moves_a_leadership_inside_a_rack_through_a_broker_at_the_top() {
    let c = cluster(DEFAULT_CAPACITY.net_out_bytes_per_sec);
    let limits = Limits::default();
    let st = State::new(&c.snapshot, &limits, &[]);
    let (az, led, count) = (TopicRacks::new(&st), LedByTopic::new(&st), counts(&st));
    let h = st.idx(1).unwrap();
    let chain = from_over(&st, &az, &led, &count, 4, h).expect("a chain");
    assert_eq!(ids(&st, &chain), [(0, 1, 3), (1, 3, 2)]);
    // The same chain, searched back from the broker below the band.
    let u = st.idx(2).unwrap();
    let back = into_under(&st, &az, &led, &count, 3.0, u).expect("a chain");
    assert_eq!(back, chain);
}

/// The chain's last receiver must stay within its net-out limit: with broker 2's net-out
/// capacity below p1's leader load, there is no chain.
#[test]
fn no_chain_ends_on_a_broker_without_net_out_room() {
    let c = cluster(500);
    let limits = Limits::default();
    let st = State::new(&c.snapshot, &limits, &[]);
    let (az, led, count) = (TopicRacks::new(&st), LedByTopic::new(&st), counts(&st));
    assert_eq!(
        from_over(&st, &az, &led, &count, 4, st.idx(1).unwrap()),
        None
    );
    assert_eq!(
        into_under(&st, &az, &led, &count, 3.0, st.idx(2).unwrap()),
        None
    );
}

/// A chain's net effect on a topic's leaders per rack: the most no higher and the fewest no
/// lower than before.
#[test]
fn a_chain_may_not_widen_a_topics_spread_across_racks() {
    let c = cluster(DEFAULT_CAPACITY.net_out_bytes_per_sec);
    let limits = Limits::default();
    let st = State::new(&c.snapshot, &limits, &[]);
    let az = TopicRacks::new(&st);
    // Topic t leads a: 1, b: 1, c: 0 (racks in order of first appearance).
    // Topic t is topic 0: its slots are the racks' indexes.
    let slot = |rack: &str| st.rack_names.iter().position(|n| n == rack).unwrap();
    let delta = |pairs: &[(&str, i64)]| -> HashMap<usize, i64> {
        pairs.iter().map(|&(r, d)| (slot(r), d)).collect()
    };
    // (1, 1, 0) -> (0, 1, 1): kept.
    assert!(az.spread_kept(&delta(&[("a", -1), ("c", 1)])));
    // (1, 1, 0) -> (0, 2, 0): the most goes up.
    assert!(!az.spread_kept(&delta(&[("a", -1), ("b", 1)])));
    // A round trip (a -> b, b -> a) leaves the topic as it is.
    assert!(az.spread_kept(&delta(&[("a", 0), ("b", 0)])));
    assert!(az.spread_kept(&HashMap::new()));
}
