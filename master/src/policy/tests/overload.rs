//! The overload's stages when elections cannot relieve the broker (Y3 M3): the elections-only
//! plan makes none and says so (`plan::Warning::ElectionsCannotRelieve`), and the policy goes
//! to relief at the next round instead of waiting `heal_grace_secs` for nothing.

use super::*;
use crate::plan::{Plan, Resource, Warning};

fn cannot(broker: i32) -> Plan {
    Plan {
        warnings: vec![Warning::ElectionsCannotRelieve {
            broker,
            resource: Resource::NetOut,
            load_bytes_per_sec: 9_000,
            limit_bytes_per_sec: 2_000,
            clearable_bytes_per_sec: 40,
        }],
        ..Plan::default()
    }
}

fn overloaded(brokers: &[i32]) -> Fake {
    let mut f = Fake::six();
    f.limits.default_out_bytes_per_sec = 2_000;
    for b in brokers {
        f.agents.get_mut(b).unwrap().net_tx_bytes_per_sec = Some(9_000);
    }
    f
}

/// Broker 3's elections-only plan made no election (they could not bring it under its limit):
/// the next round asks for its relief and says why, with the plan's figures; broker 4, whose
/// elections were made, stays at the elections stage. Before: relief came only a
/// `heal_grace_secs` (300 s) later, after a useless wait.
#[test]
fn elections_that_cannot_relieve_go_to_relief_at_the_next_round() {
    let f = overloaded(&[3, 4]);
    let mut p = Policy::new("c", cfg());
    round(&mut p, &f, NOW);
    let ds = round(&mut p, &f, NOW + 300 * S);
    assert_eq!(acts(&ds), vec![&Action::Plan(Request::BalanceLeaders)]);
    p.elections_cannot_relieve(&cannot(3));
    let ds = round(&mut p, &f, NOW + 305 * S);
    assert_relief_for_3_and_elections_for_4(&ds);
    let relief = ds
        .iter()
        .find(|d| d.brokers == vec![3] && matches!(d.verdict, Verdict::Act(_)))
        .unwrap();
    assert!(
        relief.reason.contains(
            "elections alone cannot relieve it (net out 7000 B/s over its configured limit \
             2000 B/s, elections could clear 40 B/s of it"
        ),
        "{}",
        relief.reason
    );
}

/// The note lasts while the overload does: once it clears and comes back, elections come first
/// again. A plan's note about a broker with no overload at the elections stage changes nothing.
#[test]
fn elections_cannot_relieve_is_forgotten_with_the_overload() {
    let mut f = overloaded(&[3]);
    let mut p = Policy::new("c", cfg());
    round(&mut p, &f, NOW);
    // Not at the elections stage yet (still within the grace): the note is not kept.
    p.elections_cannot_relieve(&cannot(3));
    let ds = round(&mut p, &f, NOW + 300 * S);
    assert_eq!(acts(&ds), vec![&Action::Plan(Request::BalanceLeaders)]);
    p.elections_cannot_relieve(&cannot(3));
    let ds = round(&mut p, &f, NOW + 301 * S);
    assert_eq!(
        acts(&ds),
        vec![&Action::Plan(Request::Relieve { brokers: vec![3] })]
    );
    f.agents.get_mut(&3).unwrap().net_tx_bytes_per_sec = Some(1_000);
    round(&mut p, &f, NOW + 302 * S);
    f.agents.get_mut(&3).unwrap().net_tx_bytes_per_sec = Some(9_000);
    round(&mut p, &f, NOW + 303 * S);
    let ds = round(&mut p, &f, NOW + 603 * S);
    assert_eq!(acts(&ds), vec![&Action::Plan(Request::BalanceLeaders)]);
}
