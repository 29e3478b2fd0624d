use super::*;
use crate::detect::tests::{Fake, NOW};
use crate::detect::FindingKind as K;

mod log_lines;
mod overload;
mod props;
mod safety;

const S: u64 = 1000;

pub(super) fn cfg() -> PolicyConfig {
    PolicyConfig {
        alert_grace_secs: 0,
        heal_grace_secs: 300,
        replace_grace_secs: 1800,
        agent_silence_secs: 60,
        ..PolicyConfig::default()
    }
}

/// Both clocks at `ms` (no step).
pub(super) fn at(ms: u64) -> Now {
    Now {
        wall_ms: ms,
        mono_ms: ms,
    }
}

/// One round: the fake's findings, decided at `t` on both clocks.
pub(super) fn round(p: &mut Policy, f: &Fake, t: u64) -> Vec<Decision> {
    p.decide(&f.findings(), &f.view, at(t))
}

pub(super) fn dead_cluster() -> Fake {
    let mut f = Fake::six();
    f.add_partition("t", 0, &[1, 2, 3])
        .add_partition("t", 1, &[4, 5, 1]);
    f.kill(1);
    f
}

pub(super) fn acts(ds: &[Decision]) -> Vec<&Action> {
    ds.iter()
        .filter_map(|d| match &d.verdict {
            Verdict::Act(a) => Some(a),
            _ => None,
        })
        .collect()
}

pub(super) fn holds(ds: &[Decision]) -> Vec<&Decision> {
    ds.iter().filter(|d| d.verdict == Verdict::Hold).collect()
}

/// The acting decisions are broker 3's relief and broker 4's elections (the overload's stages
/// are per broker), each naming its one broker.
#[track_caller]
pub(super) fn assert_relief_for_3_and_elections_for_4(ds: &[Decision]) {
    let mut got: Vec<(&Action, Vec<i32>)> = ds
        .iter()
        .filter_map(|d| match &d.verdict {
            Verdict::Act(a) => Some((a, d.brokers.clone())),
            _ => None,
        })
        .collect();
    got.sort_by_key(|g| g.1.clone());
    assert_eq!(
        got,
        vec![
            (
                &Action::Plan(Request::Relieve { brokers: vec![3] }),
                vec![3]
            ),
            (&Action::Plan(Request::BalanceLeaders), vec![4]),
        ],
        "{ds:#?}"
    );
}

#[test]
fn dead_broker_alerts_at_once_heals_after_grace_and_replaces_later() {
    let f = dead_cluster();
    let mut p = Policy::new("c", cfg());

    let ds = round(&mut p, &f, NOW);
    assert!(ds
        .iter()
        .any(|d| d.verdict == Verdict::Alert && d.finding == K::DeadBroker));
    assert!(acts(&ds).is_empty());
    let h = holds(&ds);
    let grace = h.iter().find(|d| d.finding == K::DeadBroker).unwrap();
    assert_eq!(grace.rule, Rule::HealGrace);
    assert!(grace.reason.contains("dead for 0 s < heal_grace_secs 300"));

    // Still inside the grace: hold, and no second alert.
    let ds = round(&mut p, &f, NOW + 299 * S);
    assert!(acts(&ds).is_empty());
    assert!(!ds.iter().any(|d| d.verdict == Verdict::Alert));

    let ds = round(&mut p, &f, NOW + 300 * S);
    assert_eq!(
        acts(&ds),
        vec![&Action::Plan(Request::Heal { dead: vec![1] })]
    );

    let ds = round(&mut p, &f, NOW + 1800 * S);
    assert!(acts(&ds).contains(&&Action::ReplaceHost { broker: 1 }));
}

#[test]
fn a_restart_within_the_grace_resets_the_clock() {
    let dead = dead_cluster();
    let healthy = Fake::six();
    let mut p = Policy::new("c", cfg());
    round(&mut p, &dead, NOW);
    round(&mut p, &healthy, NOW + 200 * S); // it came back
    let ds = round(&mut p, &dead, NOW + 400 * S); // and failed again
    assert!(acts(&ds).is_empty(), "grace must restart: {ds:?}");
    let ds = round(&mut p, &dead, NOW + 700 * S);
    assert_eq!(acts(&ds).len(), 1);
}

#[test]
fn the_confidence_gate_holds_healing_while_urps_are_unexplained() {
    let mut f = dead_cluster();
    f.add_partition("u", 0, &[2, 3, 5]);
    f.view.partitions.last_mut().unwrap().isr = vec![2, 3]; // 5 is alive but out of sync
    let mut p = Policy::new("c", cfg());
    round(&mut p, &f, NOW);
    let ds = round(&mut p, &f, NOW + 10_000 * S);
    assert!(acts(&ds).is_empty());
    let gate = holds(&ds)
        .into_iter()
        .find(|d| d.finding == K::DeadBroker)
        .unwrap();
    assert_eq!(gate.rule, Rule::Gate);
    assert!(gate
        .reason
        .contains("1 under-replicated partition is explained neither"));
}

#[test]
fn maintenance_holds_and_dry_run_marks_without_acting() {
    let f = dead_cluster();
    let mut p = Policy::new("c", cfg());
    p.set_maintenance(true);
    round(&mut p, &f, NOW);
    let ds = round(&mut p, &f, NOW + 400 * S);
    assert!(acts(&ds).is_empty());
    // In prose, not Rust's Debug form (`would Plan(Heal { dead: [1] })`).
    assert!(
        holds(&ds).iter().any(|d| d.rule == Rule::Maintenance
            && d.reason
                .starts_with("maintenance mode, not acting: would heal dead brokers")),
        "{ds:#?}"
    );

    p.set_maintenance(false);
    p.set_dry_run(true);
    let ds = round(&mut p, &f, NOW + 500 * S);
    assert!(acts(&ds).is_empty());
    assert!(ds
        .iter()
        .any(|d| d.verdict == Verdict::DryRun(Action::Plan(Request::Heal { dead: vec![1] }))));
}

#[test]
fn one_signal_never_moves_data() {
    let mut f = Fake::six();
    f.add_partition("t", 0, &[1, 2, 3]);
    f.fence(1);
    let mut p = Policy::new("c", cfg());
    let ds = round(&mut p, &f, NOW + 100_000 * S);
    let ds2 = round(&mut p, &f, NOW + 200_000 * S);
    assert!(acts(&ds).is_empty() && acts(&ds2).is_empty());
    assert!(ds2
        .iter()
        .any(|d| d.finding == K::SuspectBroker && d.rule == Rule::OneSignal));
}

#[test]
fn sustained_overload_asks_for_elections_then_a_relief() {
    let mut f = Fake::six();
    f.limits.default_in_bytes_per_sec = 2_000;
    f.agents.get_mut(&3).unwrap().net_rx_bytes_per_sec = Some(2_001);
    f.agents.get_mut(&4).unwrap().net_rx_bytes_per_sec = Some(9_000);
    let mut p = Policy::new("c", cfg());
    let ds = round(&mut p, &f, NOW);
    assert!(acts(&ds).is_empty());
    assert!(holds(&ds).iter().any(|d| d.rule == Rule::Sustained));
    // Elections first: two overloaded brokers, one elections-only request naming both.
    let ds = round(&mut p, &f, NOW + 300 * S);
    assert_eq!(acts(&ds), vec![&Action::Plan(Request::BalanceLeaders)]);
    let act = ds
        .iter()
        .find(|d| matches!(d.verdict, Verdict::Act(_)))
        .unwrap();
    assert!(act.reason.contains("broker 3") && act.reason.contains("broker 4"));
    assert!(act.reason.contains("elections first"), "{}", act.reason);
    assert_eq!(act.brokers, vec![3, 4]);
    // Still over a grace later: one relief naming both (moves off them alone, not a balance).
    let ds = round(&mut p, &f, NOW + 599 * S);
    assert_eq!(acts(&ds), vec![&Action::Plan(Request::BalanceLeaders)]);
    let ds = round(&mut p, &f, NOW + 600 * S);
    let relieve = Request::Relieve {
        brokers: vec![3, 4],
    };
    assert_eq!(acts(&ds), vec![&Action::Plan(relieve)]);
    let act = ds
        .iter()
        .find(|d| matches!(d.verdict, Verdict::Act(_)))
        .unwrap();
    assert!(act.reason.contains("still over"), "{}", act.reason);
    assert_eq!(act.brokers, vec![3, 4]);
}

/// The elections-first stage starts again for an overload that cleared and came back, and a
/// broker whose overload began later starts at elections while another is at moves.
#[test]
fn overload_stages_are_per_broker_and_restart_after_it_clears() {
    let mut f = Fake::six();
    f.limits.default_in_bytes_per_sec = 2_000;
    f.agents.get_mut(&3).unwrap().net_rx_bytes_per_sec = Some(9_000);
    let mut p = Policy::new("c", cfg());
    round(&mut p, &f, NOW);
    round(&mut p, &f, NOW + 300 * S);
    f.agents.get_mut(&4).unwrap().net_rx_bytes_per_sec = Some(9_000);
    round(&mut p, &f, NOW + 400 * S);
    let ds = round(&mut p, &f, NOW + 700 * S);
    assert_relief_for_3_and_elections_for_4(&ds);
    // Broker 3 recovers for a round: its next overload starts at elections again.
    f.agents.get_mut(&3).unwrap().net_rx_bytes_per_sec = Some(1_000);
    round(&mut p, &f, NOW + 701 * S);
    f.agents.get_mut(&3).unwrap().net_rx_bytes_per_sec = Some(9_000);
    round(&mut p, &f, NOW + 702 * S);
    let ds = round(&mut p, &f, NOW + 1_002 * S);
    let three = ds
        .iter()
        .find(|d| matches!(d.verdict, Verdict::Act(_)) && d.brokers.contains(&3))
        .unwrap();
    assert_eq!(
        three.verdict,
        Verdict::Act(Action::Plan(Request::BalanceLeaders))
    );
}

#[test]
fn every_finding_gets_a_decision_with_a_reason() {
    let mut f = dead_cluster();
    f.agents.remove(&6);
    f.add_partition("x", 0, &[2]);
    f.view.partitions.last_mut().unwrap().leader = None;
    let fs = f.findings();
    let mut p = Policy::new("c", cfg());
    let ds = p.decide(&fs, &f.view, at(NOW));
    for finding in &fs {
        assert!(
            ds.iter().any(|d| d.finding == finding.kind
                && d.broker == finding.broker
                && d.verdict != Verdict::Alert
                && !d.reason.is_empty()),
            "no decision for {finding:?}"
        );
    }
}

#[test]
fn balance_and_spread_wait_for_a_stable_cluster() {
    let mut f = dead_cluster();
    f.limits.default_in_bytes_per_sec = 2_000;
    f.agents.get_mut(&3).unwrap().net_rx_bytes_per_sec = Some(9_000);
    let mut p = Policy::new("c", cfg());
    round(&mut p, &f, NOW);
    let ds = round(&mut p, &f, NOW + 400 * S);
    // The heal goes ahead; the balance waits.
    assert_eq!(
        acts(&ds),
        vec![&Action::Plan(Request::Heal { dead: vec![1] })]
    );
    assert!(holds(&ds)
        .iter()
        .any(|d| d.finding == K::Overloaded && d.rule == Rule::Stable));
}

/// The heal moves a dead broker's replicas away, so after it the broker hosts nothing and reads
/// as a stale registration. The replacement must still come after `replace_grace_secs` counted
/// from the death (found by the end-to-end run: with the defaults, heal 300 s and replace
/// 1,800 s, a healed broker was never replaced).
#[test]
fn a_broker_healed_away_is_still_replaced_after_the_replace_grace() {
    let dead = dead_cluster();
    // The same cluster after the heal: broker 1's replicas now on 6 and 2.
    let mut healed = Fake::six();
    healed
        .add_partition("t", 0, &[6, 2, 3])
        .add_partition("t", 1, &[4, 5, 2]);
    healed.kill(1);
    let mut p = Policy::new("c", cfg());
    round(&mut p, &dead, NOW);
    let ds = round(&mut p, &dead, NOW + 300 * S);
    assert!(acts(&ds).contains(&&Action::Plan(Request::Heal { dead: vec![1] })));
    let ds = round(&mut p, &healed, NOW + 400 * S);
    assert!(
        ds.iter().any(|d| d.finding == K::StaleRegistration),
        "{ds:#?}"
    );
    assert!(
        !acts(&ds).contains(&&Action::ReplaceHost { broker: 1 }),
        "not before the grace: {ds:#?}"
    );
    let ds = round(&mut p, &healed, NOW + 1800 * S);
    assert!(
        acts(&ds).contains(&&Action::ReplaceHost { broker: 1 }),
        "replaced 1,800 s after it died: {ds:#?}"
    );
    let r = ds
        .iter()
        .find(|d| d.verdict == Verdict::Act(Action::ReplaceHost { broker: 1 }))
        .map(|d| d.reason.clone())
        .unwrap_or_default();
    assert!(r.contains("dead for 1800 s"), "{r}");
}

/// A broker kmedic never saw die with data on it (shut down and left registered, perhaps on
/// purpose) is alerted, never replaced.
#[test]
fn a_stale_registration_kmedic_did_not_see_die_is_not_replaced() {
    let mut f = Fake::six();
    f.add_partition("t", 0, &[6, 2, 3]);
    f.kill(1);
    let mut p = Policy::new("c", cfg());
    round(&mut p, &f, NOW);
    let ds = round(&mut p, &f, NOW + 100_000 * S);
    assert!(acts(&ds).is_empty(), "{ds:#?}");
}

/// The leader spread waits while a broker is overloaded (the e2e run's loop: the overload's
/// elections took leaders off broker 2, the spread handed them back); the overload acts.
#[test]
fn the_spread_waits_while_a_broker_is_overloaded() {
    let mut f = Fake::six();
    // Topic "s": every leader in az-a (brokers 1 and 4).
    f.add_partition("s", 0, &[1, 2, 3]);
    f.add_partition("s", 1, &[4, 5, 6]);
    f.add_partition("s", 2, &[1, 2, 3]);
    // The spread is held while broker 3 is overloaded, and goes ahead once it is not.
    waits_while_broker_3_is_overloaded(f, K::LeaderRackSkew, Request::SpreadLeaders);
}

/// Preferred-leader elections wait while a broker is overloaded too: they add net out to the
/// preferred leaders, and the overload may be the host NIC's figure, which the planner does
/// not see; while it lasts the overload's elections and relief move leadership alone.
#[test]
fn preferred_elections_wait_while_a_broker_is_overloaded() {
    let mut f = Fake::six();
    f.add_partition("t", 0, &[1, 2, 3]);
    f.add_partition("t", 1, &[5, 6, 4]);
    f.add_partition("s", 0, &[2, 1, 3]);
    f.view.partitions.last_mut().unwrap().leader = Some(1);
    // The preferred elections are held while broker 3 is overloaded, and go ahead once it is not.
    waits_while_broker_3_is_overloaded(f, K::PreferredLeaderNotLeading, Request::PreferredLeaders);
}

/// With broker 3 overloaded (net in 9000 B/s over 2000 B/s), at 400 s the overload's elections
/// act alone and the `held` finding is held (rule Stable, the reason says `overloaded`); once the
/// overload is gone the next round acts on it with `then`, alone.
#[track_caller]
fn waits_while_broker_3_is_overloaded(mut f: Fake, held: K, then: Request) {
    f.limits.default_in_bytes_per_sec = 2_000;
    f.agents.get_mut(&3).unwrap().net_rx_bytes_per_sec = Some(9_000);
    let mut p = Policy::new("c", cfg());
    round(&mut p, &f, NOW);
    let ds = round(&mut p, &f, NOW + 400 * S);
    assert_eq!(acts(&ds), vec![&Action::Plan(Request::BalanceLeaders)]);
    let waiting = holds(&ds)
        .into_iter()
        .find(|d| d.finding == held)
        .unwrap_or_else(|| panic!("{held:?} is held: {ds:#?}"));
    assert_eq!(waiting.rule, Rule::Stable);
    assert!(waiting.reason.contains("overloaded"), "{}", waiting.reason);
    f.agents.get_mut(&3).unwrap().net_rx_bytes_per_sec = Some(1_000);
    let ds = round(&mut p, &f, NOW + 800 * S);
    assert_eq!(acts(&ds), vec![&Action::Plan(then)]);
}

/// Reasons are prose for a person: no Rust Debug text (`DeadBroker`, `[1]`) in them.
#[test]
fn decision_reasons_name_brokers_and_findings_in_prose() {
    let mut f = dead_cluster();
    // Topic "s": every leader in az-a (brokers 1 and 4), skewed while broker 1 is dead.
    f.add_partition("s", 0, &[4, 2, 3]);
    f.add_partition("s", 1, &[4, 5, 6]);
    f.add_partition("s", 2, &[4, 2, 3]);
    let mut p = Policy::new("c", cfg());
    round(&mut p, &f, NOW);
    let ds = round(&mut p, &f, NOW + 300 * S);
    let heal = ds
        .iter()
        .find(|d| d.verdict == Verdict::Act(Action::Plan(Request::Heal { dead: vec![1] })))
        .expect("heal");
    assert!(
        heal.reason
            .starts_with("broker 1 confirmed dead past heal_grace_secs 300"),
        "{}",
        heal.reason
    );
    let skew = holds(&ds)
        .into_iter()
        .find(|d| d.finding == K::LeaderRackSkew)
        .expect("the spread is held");
    assert!(
        skew.reason.contains("cluster not stable: broker 1"),
        "{}",
        skew.reason
    );
    for d in &ds {
        assert!(!d.reason.contains("DeadBroker"), "{}", d.reason);
        assert!(!d.reason.contains("[1]"), "{}", d.reason);
    }
}

/// A hold for a finding kmedic does not act on says why in words: URPs explained by a dead
/// broker are restored by that broker's heal (not "alert only", which read as if nothing would
/// happen); other alert-only findings say that no data moves for them.
#[test]
fn alert_only_holds_say_why_nothing_is_done_for_them() {
    let f = dead_cluster();
    let mut p = Policy::new("c", cfg());
    let ds = round(&mut p, &f, NOW);
    let urp = holds(&ds)
        .into_iter()
        .find(|d| d.finding == K::UnderReplicatedExplained)
        .expect("the explained URPs are held");
    assert!(
        urp.reason.ends_with(
            "(nothing of their own to do: the dead brokers' heal, or the reassignment adding \
             the replicas, restores them)"
        ),
        "{}",
        urp.reason
    );
    let mut f = Fake::six();
    f.add_partition("t", 0, &[1, 2, 3]);
    f.agents.get_mut(&2).unwrap().process = kmedic_common::stats::ProcessState::Stopped;
    let ds = round(&mut p, &f, NOW + 10 * S);
    let hung = holds(&ds)
        .into_iter()
        .find(|d| d.finding == K::HungBroker)
        .expect("the hung broker is held");
    assert!(
        hung.reason
            .ends_with("(alert only: kmedic moves no data for it)"),
        "{}",
        hung.reason
    );
}

#[test]
fn decision_ids_continue_after_the_action_log_of_an_earlier_master() {
    use crate::actionlog::{replay::last_decision_id, ActionKind, ActionRecord};
    // An earlier process acted on d9 (its plan's actions are `<cluster id>-d9-<seq>`).
    let log = vec![ActionRecord::intent(
        "cid",
        "cid-d9-0",
        Some(DecisionId(9)),
        ActionKind::ElectLeaders,
        "",
        "m",
    )];
    let mut p = Policy::new("c", cfg());
    p.continue_ids_after(last_decision_id(&log).unwrap_or(0));
    let ds = round(&mut p, &dead_cluster(), NOW);
    let ids: Vec<u64> = ds.iter().map(|d| d.id.0).collect();
    assert!(!ids.is_empty());
    assert!(
        ids.iter().all(|&id| id > 9),
        "ids {ids:?} reuse the earlier master's"
    );
    assert_eq!(ids.iter().min(), Some(&10));
    // Never back: a lower figure read later changes nothing.
    let mut q = Policy::new("c", cfg());
    q.continue_ids_after(9);
    q.continue_ids_after(3);
    let ds = round(&mut q, &dead_cluster(), NOW);
    assert_eq!(ds.iter().map(|d| d.id.0).min(), Some(10));
}
