//! Issue 7 detector cases: reassignments explain their own URPs, stale registrations, mass
//! failure figures.

use super::tests::{of, tp, Fake};
use super::*;
use crate::config::PolicyConfig;
use crate::observe::ReassignmentView;

/// Broker 1 dead; partition r-0 is being moved from 2 to 5 (5 is being added, not yet in sync).
fn dead_broker_during_a_reassignment() -> Fake {
    let mut f = Fake::six();
    f.add_partition("t", 0, &[1, 2, 3]);
    f.add_partition("r", 0, &[3, 4, 2, 5]);
    f.view.partitions.last_mut().unwrap().isr = vec![3, 4, 2];
    f.view.reassignments.insert(
        tp("r", 0),
        ReassignmentView {
            adding: vec![5],
            removing: vec![2],
        },
    );
    f.kill(1);
    f
}

#[test]
fn a_replica_being_added_by_a_reassignment_explains_its_urp() {
    let f = dead_broker_during_a_reassignment();
    let fs = f.findings();
    assert!(
        of(&fs, FindingKind::UnderReplicatedUnexplained).is_empty(),
        "{fs:#?}"
    );
    let ex = of(&fs, FindingKind::UnderReplicatedExplained);
    assert_eq!(ex[0].partitions, vec![tp("t", 0), tp("r", 0)]);
}

#[test]
fn a_replica_being_added_to_an_unhealthy_broker_explains_nothing() {
    // The adding broker is hung: its catch-up is not progress.
    let mut f = dead_broker_during_a_reassignment();
    f.agents.get_mut(&5).unwrap().process = kmedic_common::stats::ProcessState::Stopped;
    let fs = f.findings();
    let un = of(&fs, FindingKind::UnderReplicatedUnexplained);
    assert_eq!(un[0].partitions, vec![tp("r", 0)]);
    assert!(un[0].evidence.contains("on broker 5 that is not"));
    // An out-of-sync replica the reassignment is not adding stays unexplained.
    let mut g = dead_broker_during_a_reassignment();
    g.view.partitions.last_mut().unwrap().isr = vec![3, 2];
    let un = of(&g.findings(), FindingKind::UnderReplicatedUnexplained).len();
    assert_eq!(un, 1);
}

#[test]
fn a_fenced_silent_broker_hosting_nothing_is_a_stale_registration_not_dead() {
    let mut f = Fake::six();
    f.add_partition("t", 0, &[1, 2, 3]);
    f.add_broker(7, "az-a");
    f.kill(7);
    f.add_broker(8, "az-b");
    f.agents.remove(&8);
    f.fence(8); // no agent ever seen: still a stale registration
    let fs = f.findings();
    let stale = of(&fs, FindingKind::StaleRegistration);
    assert_eq!(
        stale.iter().map(|s| s.broker).collect::<Vec<_>>(),
        vec![Some(7), Some(8)]
    );
    assert!(stale[0].evidence.contains("unregister --id 7"));
    assert!(of(&fs, FindingKind::DeadBroker).is_empty());
    assert!(of(&fs, FindingKind::SuspectBroker).is_empty());
    // A fenced broker that still hosts replicas is dead, as before.
    let mut g = Fake::six();
    g.add_partition("t", 0, &[1, 2, 3]);
    g.kill(1);
    assert_eq!(of(&g.findings(), FindingKind::DeadBroker).len(), 1);
    assert!(of(&g.findings(), FindingKind::StaleRegistration).is_empty());
}

#[test]
fn mass_failure_counts_per_rack_and_share_but_not_stale_registrations() {
    let cfg = PolicyConfig::default();
    // Nine brokers in three racks of three; two fail in az-a (not the whole rack).
    let mut f = Fake::new();
    for id in 1..=9 {
        f.add_broker(id, ["az-a", "az-b", "az-c"][(id as usize - 1) % 3]);
        f.add_partition("t", id, &[id]);
    }
    f.kill(1).kill(4);
    let m = mass_failure::detect(&f.findings(), &f.view, &cfg).expect("mass failure");
    assert!(
        m.evidence
            .contains("2 of 3 brokers failed in rack az-a > mass_failure_max_per_rack 1"),
        "{}",
        m.evidence
    );
    assert!(m.evidence.contains("2 of 9 brokers failed (22 %)"));
    assert_eq!(m.partitions, vec![tp("t", 1), tp("t", 4)]);
    // Raised thresholds: not a mass failure.
    let lax = PolicyConfig {
        mass_failure_max_per_rack: 2,
        mass_failure_max_percent: 30,
        ..cfg.clone()
    };
    assert!(mass_failure::detect(&f.findings(), &f.view, &lax).is_none());

    // Stale registrations are neither failed nor counted.
    let mut g = Fake::six();
    g.add_partition("t", 0, &[1, 2, 3]);
    g.add_broker(7, "az-a").add_broker(8, "az-a");
    g.kill(7).kill(8);
    assert!(mass_failure::detect(&g.findings(), &g.view, &cfg).is_none());
    // A rack of one broker losing it is a single broker failure.
    let mut h = Fake::new();
    for (id, rack) in [(1, "a"), (2, "b"), (3, "c")] {
        h.add_broker(id, rack);
    }
    h.add_partition("t", 0, &[1, 2, 3]);
    h.kill(1);
    assert!(mass_failure::detect(&h.findings(), &h.view, &cfg).is_none());
}
