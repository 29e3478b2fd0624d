//! Replacement and decommission: a broker the operator is removing that dies mid-drain is
//! healed (its replicas must leave anyway) but never replaced, and the policy says so once.

use std::collections::BTreeSet;

use crate::detect::tests::{Fake, NOW};
use crate::detect::FindingKind as K;
use crate::plan::Request;
use crate::policy::tests::{acts, cfg, round};
use crate::policy::{Action, Decision, Policy, Rule};
// Log lines as an operator reads them, whatever tests run alongside (see testlog).
use crate::service::testlog::capture;

const S: u64 = 1000;

fn dead_cluster() -> Fake {
    let mut f = Fake::six();
    f.add_partition("t", 0, &[1, 2, 3])
        .add_partition("t", 1, &[4, 5, 1]);
    f.kill(1);
    f
}

/// The same cluster once the heal moved broker 1's replicas away: a stale registration.
fn healed_cluster() -> Fake {
    let mut f = Fake::six();
    f.add_partition("t", 0, &[6, 2, 3])
        .add_partition("t", 1, &[4, 5, 2]);
    f.kill(1);
    f
}

fn decommission_holds(ds: &[Decision]) -> Vec<&Decision> {
    ds.iter()
        .filter(|d| d.rule == Rule::Decommissioning)
        .collect()
}

/// Killed mid-decommission: healed after the heal grace, never replaced (neither while it is
/// dead nor once it reads as a stale registration), and the hold is logged once, naming the
/// rule and the broker.
#[test]
fn a_broker_killed_mid_decommission_is_healed_never_replaced_and_said_once() {
    let (dead, healed) = (dead_cluster(), healed_cluster());
    let mut p = Policy::new("c", cfg());
    p.set_decommissioning(BTreeSet::from([1]));
    let mut all = Vec::new();
    let mut run = |p: &mut Policy, f: &Fake, t: u64| {
        let (ds, lines) = capture(|| round(p, f, t));
        all.extend(lines);
        ds
    };
    run(&mut p, &dead, NOW);
    let ds = run(&mut p, &dead, NOW + 300 * S);
    assert!(
        acts(&ds).contains(&&Action::Plan(Request::Heal { dead: vec![1] })),
        "healed: {ds:#?}"
    );
    // Past the replace grace, still dead (a slow heal), then healed away, for hours.
    let mut held = 0;
    for (f, t) in [
        (&dead, 1800),
        (&dead, 1900),
        (&healed, 2000),
        (&healed, 9000),
    ] {
        let ds = run(&mut p, f, NOW + t * S);
        assert!(
            !acts(&ds).contains(&&Action::ReplaceHost { broker: 1 }),
            "never replaced (at {t} s): {ds:#?}"
        );
        let h = decommission_holds(&ds);
        assert_eq!(h.len(), 1, "held at {t} s: {ds:#?}");
        assert_eq!(h[0].broker, Some(1));
        assert!(
            h[0].reason.contains("being decommissioned"),
            "{}",
            h[0].reason
        );
        held += 1;
    }
    assert_eq!(held, 4);
    let said: Vec<&String> = all
        .iter()
        .filter(|l| l.contains("rule=\"decommissioning\"") || l.contains("rule=decommissioning"))
        .collect();
    assert_eq!(said.len(), 1, "said once: {said:#?}\n{all:#?}");
    assert!(said[0].contains("broker=1"), "{}", said[0]);
}

/// Already healed away when the operator lists it: no replacement either.
#[test]
fn a_stale_registration_being_decommissioned_is_not_replaced() {
    let (dead, healed) = (dead_cluster(), healed_cluster());
    let mut p = Policy::new("c", cfg());
    round(&mut p, &dead, NOW);
    round(&mut p, &dead, NOW + 300 * S);
    round(&mut p, &healed, NOW + 400 * S);
    p.set_decommissioning(BTreeSet::from([1]));
    let ds = round(&mut p, &healed, NOW + 1800 * S);
    assert!(acts(&ds).is_empty(), "{ds:#?}");
    assert!(ds
        .iter()
        .any(|d| d.rule == Rule::Decommissioning && d.finding == K::StaleRegistration));
    // Taken off the list (DELETE): the replacement is due again.
    p.set_decommissioning(BTreeSet::new());
    let ds = round(&mut p, &healed, NOW + 1900 * S);
    assert!(
        acts(&ds).contains(&&Action::ReplaceHost { broker: 1 }),
        "{ds:#?}"
    );
}
