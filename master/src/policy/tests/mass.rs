//! A single kill with other agents late by one poll (a short `agent_silence_secs`) is not a
//! mass failure; a mass failure that lasts still is, and no data moves in between.

use crate::detect::tests::{Fake, NOW};
use crate::detect::FindingKind as K;
use crate::plan::Request;
use crate::policy::tests::{acts, cfg, round};
use crate::policy::{Action, Decision, Policy, Rule, Verdict};
use crate::service::testlog::capture;

const S: u64 = 1000;

fn cluster() -> Fake {
    let mut f = Fake::six();
    f.add_partition("t", 0, &[1, 2, 3])
        .add_partition("t", 1, &[4, 5, 1]);
    f
}

fn mass(ds: &[Decision]) -> bool {
    ds.iter()
        .any(|d| d.finding == K::MassFailure || d.rule == Rule::MassFailure)
}

#[test]
fn a_kill_with_an_agent_late_by_one_poll_is_not_a_mass_failure() {
    let mut late = cluster();
    late.kill(1).silence_agent(2);
    let mut on_time = cluster();
    on_time.kill(1);
    let mut p = Policy::new("c", cfg());
    let (ds, lines) = capture(|| round(&mut p, &late, NOW));
    assert!(!mass(&ds), "{ds:#?}");
    assert!(
        !lines.iter().any(|l| l.contains("ERROR")),
        "no ERROR line: {lines:#?}"
    );
    // The late agent reports again at the next poll: a single dead broker, healed in time.
    let ds = round(&mut p, &on_time, NOW + 5 * S);
    assert!(!mass(&ds), "{ds:#?}");
    let ds = round(&mut p, &on_time, NOW + 300 * S);
    assert_eq!(
        acts(&ds),
        vec![&Action::Plan(Request::Heal { dead: vec![1] })]
    );
}

#[test]
fn a_mass_failure_that_lasts_a_second_poll_is_declared_and_nothing_moves_before() {
    let mut f = cluster();
    f.kill(1).silence_agent(2).silence_agent(3);
    let mut p = Policy::new("c", cfg());
    let ds = round(&mut p, &f, NOW);
    assert!(acts(&ds).is_empty(), "{ds:#?}");
    let ds = round(&mut p, &f, NOW + 5 * S);
    assert!(
        ds.iter()
            .any(|d| d.verdict == Verdict::Alert && d.rule == Rule::MassFailure),
        "declared at the second poll: {ds:#?}"
    );
    let ds = round(&mut p, &f, NOW + 400 * S);
    assert!(acts(&ds).is_empty(), "{ds:#?}");
}

/// A heal due in the very round other agents fall silent waits one poll: they may be the
/// start of a mass failure.
#[test]
fn a_heal_due_when_agents_fall_silent_waits_one_poll() {
    let mut dead = cluster();
    dead.kill(1);
    let mut silent = cluster();
    silent.kill(1).silence_agent(2);
    let mut p = Policy::new("c", cfg());
    round(&mut p, &dead, NOW);
    let ds = round(&mut p, &silent, NOW + 300 * S);
    assert!(acts(&ds).is_empty(), "{ds:#?}");
    let hold = ds
        .iter()
        .find(|d| d.finding == K::DeadBroker && d.verdict == Verdict::Hold)
        .map(|d| d.reason.clone())
        .unwrap_or_default();
    assert!(hold.contains("waits one more poll"), "{hold}");
    // Still silent: a mass failure, held; back: the heal.
    assert!(mass(&round(&mut p, &silent, NOW + 305 * S)));
    let mut p2 = Policy::new("c", cfg());
    round(&mut p2, &dead, NOW);
    round(&mut p2, &silent, NOW + 300 * S);
    let ds = round(&mut p2, &dead, NOW + 305 * S);
    assert_eq!(
        acts(&ds),
        vec![&Action::Plan(Request::Heal { dead: vec![1] })]
    );
}
