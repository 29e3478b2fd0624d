use super::*;
use crate::plan::Capacity;
use crate::sim::{cluster::DEFAULT_CAPACITY, Cluster};

/// Six brokers in three racks, 60 partitions RF 3 across racks, 1 MB/s in each; broker 4 (az-a)
/// has `cap_of_4`, the others the default capacity. Also the detect headroom tests' cluster.
pub(crate) fn six(cap_of_4: Capacity) -> Cluster {
    let mut c = Cluster::new();
    for id in 1..=6 {
        let rack = ["az-a", "az-b", "az-c"][(id as usize - 1) % 3];
        let cap = if id == 4 { cap_of_4 } else { DEFAULT_CAPACITY };
        c.add_broker_with(id, rack, cap);
    }
    for i in 0..60 {
        // Replicas in racks a, b, c: brokers {1,4}, {2,5}, {3,6}.
        let a = if i % 2 == 0 { 1 } else { 4 };
        let b = if i % 3 == 0 { 2 } else { 5 };
        let cc = if i % 5 == 0 { 3 } else { 6 };
        let p = c.add_partition("t", a, &[a, b, cc], 1 << 20);
        c.set_rates(p, 1_000_000, 1_000_000);
    }
    c
}

#[test]
fn a_roomy_cluster_absorbs_any_one_broker_but_not_a_rack_at_rf3() {
    let c = six(DEFAULT_CAPACITY);
    let r = report(&c.snapshot, &Limits::default());
    assert_eq!(r.brokers.len(), 6);
    assert!(r.absorbs_any_broker, "{:#?}", r.brokers);
    assert!(r.unabsorbable_brokers.is_empty());
    for w in &r.brokers {
        assert_eq!(w.unplaceable, 0, "{w:?}");
        assert_eq!(w.placed, w.replicas, "{w:?}");
    }
    // Three racks, RF 3: a lost rack's replicas have nowhere to go without co-locating.
    assert_eq!(r.racks.len(), 3);
    assert!(!r.absorbs_any_rack);
    for w in &r.racks {
        assert_eq!(
            w.reasons.get("rack_unavailable"),
            Some(&w.unplaceable),
            "{w:?}"
        );
        assert_eq!(w.unplaceable, w.replicas);
        // The design working (never co-locate), not a lack of capacity.
        assert!(w.expected, "{w:?}");
        assert_eq!(w.verdict, "expected");
    }
    assert!(r.rack_loss_expected);
    for w in &r.brokers {
        assert_eq!((w.expected, w.verdict), (false, "absorbed"), "{w:?}");
    }
}

#[test]
fn a_small_broker_makes_its_rack_mates_loss_unabsorbable() {
    // Broker 4 (az-a) can take 1 MB/s in: when broker 1 dies, its replicas must stay in az-a
    // (racks distinct), and broker 4 has no room for them.
    let small = Capacity {
        net_in_bytes_per_sec: 1_000_000 * 31,
        ..DEFAULT_CAPACITY
    };
    let c = six(small);
    let r = report(&c.snapshot, &Limits::default());
    assert!(!r.absorbs_any_broker);
    assert_eq!(r.unabsorbable_brokers, vec![1]);
    let w = &r.brokers[0];
    assert_eq!(w.lost, Lost::Broker(1));
    assert!(w.unplaceable > 0);
    assert_eq!(w.reasons.get("no_target"), Some(&w.unplaceable), "{w:?}");
    // A lack of capacity: critical, never "expected".
    assert_eq!((w.expected, w.verdict), (false, "critical"), "{w:?}");
    assert!(
        w.examples[0].contains("no target broker"),
        "{:?}",
        w.examples
    );
    // The what-ifs leave the snapshot as it was.
    let again = report(&c.snapshot, &Limits::default());
    assert_eq!(again.brokers, r.brokers);
}

#[test]
fn each_what_if_is_judged_on_the_whole_cluster() {
    // Broker 4 is judged after brokers 1-3 on the one working copy: its answer must be the
    // same as killing 4 alone on a fresh copy (nothing of the earlier what-ifs left behind).
    let c = six(DEFAULT_CAPACITY);
    let r = report(&c.snapshot, &Limits::default());
    let mut fresh = c.clone();
    fresh.kill(4);
    let lifted = Limits {
        max_bytes_to_move: u64::MAX,
        max_moves_per_broker: u32::MAX,
        ..Limits::default()
    };
    let p = plan::plan(&fresh.snapshot, &lifted, &Request::Heal { dead: vec![4] });
    let w = r
        .brokers
        .iter()
        .find(|w| w.lost == Lost::Broker(4))
        .expect("broker 4 what-if");
    assert_eq!(w.placed, p.moves.len());
    assert_eq!(w.placed, 30);
    assert_eq!(w.bytes_to_move, p.totals.bytes_moved);
    assert_eq!(
        r,
        report(&c.snapshot, &Limits::default()).with_took_ms(r.took_ms)
    );
}

#[test]
fn a_busy_partition_is_not_a_lack_of_capacity() {
    let mut c = six(DEFAULT_CAPACITY);
    c.set_reassigning(0);
    let r = report(&c.snapshot, &Limits::default());
    let w = &r.brokers[0];
    assert_eq!(w.lost, Lost::Broker(1));
    assert_eq!(w.reasons.get("reassigning"), Some(&1), "{w:?}");
    assert!(w.absorbable, "{w:?}");
    assert!(r.absorbs_any_broker);
}
