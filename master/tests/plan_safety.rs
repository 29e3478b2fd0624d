//! Planner safety cases from issue 7: rack diversity when healing, net out counted once,
//! preferred-leader elections, one plan per round, in-flight partitions.

use kmedic_master::plan::{
    plan, BrokerState, ElectionReason, Limits, Request, UnplaceableReason, Warning,
};
use kmedic_master::sim::{assert_elects, assert_moves, health, Cluster};

/// Six brokers, two per rack: 1,2 in az-a; 3,4 in az-b; 5,6 in az-c.
fn six() -> Cluster {
    let mut c = Cluster::new();
    for (id, rack) in [
        (1, "az-a"),
        (2, "az-a"),
        (3, "az-b"),
        (4, "az-b"),
        (5, "az-c"),
        (6, "az-c"),
    ] {
        c.add_broker(id, rack);
    }
    c
}

#[test]
fn preferred_leaders_elects_an_alive_in_sync_preferred_leader_only() {
    let mut c = six();
    c.add_partition("t", 3, &[1, 3, 5], 1_000); // 1 preferred, alive, in sync: elected
    c.add_partition("t", 2, &[2, 4, 6], 1_000); // already led by its preferred leader
    c.add_partition("t", 5, &[4, 2, 5], 1_000); // 4 suspect: left alone
    let lagging = c.add_partition("t", 3, &[6, 3, 1], 1_000); // 6 out of sync: left alone
    let moving = c.add_partition("t", 5, &[1, 5, 3], 1_000); // reassigning: left alone
    c.snapshot.partitions[lagging].isr = vec![3, 1];
    c.set_reassigning(moving);
    c.set_state(4, BrokerState::Suspect);
    let p = plan(&c.snapshot, &Limits::default(), &Request::PreferredLeaders);
    assert!(p.moves.is_empty(), "{:#?}", p.moves);
    assert_eq!(p.elections.len(), 1, "{:#?}", p.elections);
    assert_elects(&p, "t", 0, 1);
    let e = &p.elections[0];
    assert_eq!(e.old_leader, Some(3));
    assert!(!e.after_reorder);
    assert_eq!(e.reason, ElectionReason::Preferred { preferred: 1 });
    assert!(e.to_string().contains("preferred leader 1"), "{e}");
    c.apply(&p);
    let again = plan(&c.snapshot, &Limits::default(), &Request::PreferredLeaders);
    assert!(again.is_empty(), "{again}");
}

#[test]
fn preferred_leaders_skips_an_election_that_would_overload_with_a_warning() {
    let mut c = six();
    let a = c.add_partition("t", 3, &[1, 3, 5], 1_000);
    c.set_rates(a, 0, 150_000_000);
    let b = c.add_partition("u", 1, &[1, 4, 6], 1_000);
    c.set_rates(b, 0, 100_000_000);
    // Broker 1 leads u at 100 MB/s out; leading t too would make 250 MB/s over its 200 MB/s.
    let p = plan(&c.snapshot, &Limits::default(), &Request::PreferredLeaders);
    assert!(p.elections.is_empty(), "{:#?}", p.elections);
    assert_eq!(
        p.warnings,
        vec![Warning::PreferredWouldOverload {
            topic: "t".into(),
            partition: 0,
            broker: 1,
            load_bytes_per_sec: 250_000_000,
            limit_bytes_per_sec: 200_000_000,
        }]
    );
}

/// Issue 7 item 1: the dead broker's only rack-mate is suspect (hung or restarting). Healing
/// into another rack would put two replicas in one AZ for good: the replica stays unplaced.
#[test]
fn heal_never_co_locates_when_the_rack_mate_is_suspect() {
    let mut c = six();
    c.add_partition("t", 3, &[1, 3, 5], 1_000);
    c.set_state(2, BrokerState::Suspect).kill(1);
    let p = plan(
        &c.snapshot,
        &Limits::default(),
        &Request::Heal { dead: vec![1] },
    );
    assert!(p.moves.is_empty(), "{p}");
    assert_eq!(p.unplaceable.len(), 1, "{p}");
    assert_eq!(
        p.unplaceable[0].reason,
        UnplaceableReason::RackUnavailable {
            racks: vec!["az-a".into()]
        }
    );
    assert!(p.to_string().contains("rack has no healthy broker"), "{p}");
}

/// A whole AZ down: nothing is healed into the surviving AZs.
#[test]
fn heal_never_co_locates_when_a_whole_rack_is_dead() {
    let mut c = six();
    c.add_partition("t", 3, &[1, 3, 5], 1_000);
    c.add_partition("t", 2, &[2, 4, 6], 1_000);
    c.kill(1).kill(2);
    let p = plan(
        &c.snapshot,
        &Limits::default(),
        &Request::Heal { dead: vec![1, 2] },
    );
    assert!(p.moves.is_empty(), "{p}");
    assert_eq!(p.unplaceable.len(), 2, "{p}");
    assert!(p.unplaceable.iter().all(
        |u| matches!(&u.reason, UnplaceableReason::RackUnavailable { racks } if racks == &["az-a"])
    ));
}

/// With more racks than RF, a rack the partition does not use is a fine target.
#[test]
fn heal_uses_an_unused_healthy_rack_when_its_own_rack_has_none() {
    let mut c = six();
    c.add_broker(7, "az-d");
    c.add_partition("t", 3, &[1, 3, 5], 1_000);
    c.set_state(2, BrokerState::Suspect).kill(1);
    let p = plan(
        &c.snapshot,
        &Limits::default(),
        &Request::Heal { dead: vec![1] },
    );
    assert_moves(&p, "t", 0, 1, 7);
    c.apply(&p);
    assert_eq!(health(&c.snapshot).rack_violations, 0);
}

/// Fewer racks than RF: diversity is impossible, so replicas may share racks (RF is kept).
#[test]
fn heal_with_fewer_racks_than_rf_may_share_a_rack() {
    let mut c = Cluster::new();
    for (id, rack) in [(1, "az-a"), (2, "az-a"), (3, "az-b"), (4, "az-b")] {
        c.add_broker(id, rack);
    }
    c.add_partition("t", 3, &[1, 3, 4], 1_000);
    c.kill(1);
    let p = plan(
        &c.snapshot,
        &Limits::default(),
        &Request::Heal { dead: vec![1] },
    );
    assert_moves(&p, "t", 0, 1, 2);
}
