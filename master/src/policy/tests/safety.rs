//! Issue 7 safety cases: mass failure, the monotonic clock, the last copy, stale registrations,
//! preferred leaders, and the decision shape (ids, rules).

use super::*;

fn alerts(ds: &[Decision]) -> Vec<&Decision> {
    ds.iter().filter(|d| d.verdict == Verdict::Alert).collect()
}

/// No heal, balance or replacement at any later time.
fn assert_no_data_moves(ds: &[Decision]) {
    assert!(
        !ds.iter().any(|d| matches!(
            d.verdict.action(),
            Some(Action::ReplaceHost { .. } | Action::Plan(Request::Heal { .. }))
                | Some(Action::Plan(Request::Balance | Request::Relieve { .. }))
        )),
        "{ds:#?}"
    );
}

/// Six brokers in az-a, az-b, az-c; partitions on every broker, one replica per rack, leaders
/// spread over the racks.
fn spread_six() -> Fake {
    let mut f = Fake::six();
    f.add_partition("t", 0, &[1, 2, 3])
        .add_partition("t", 1, &[5, 6, 4])
        .add_partition("t", 2, &[6, 4, 5])
        .add_partition("t", 3, &[4, 2, 3]);
    f
}

#[test]
fn a_whole_az_lost_is_an_outage_alerted_once_with_no_data_moves() {
    let mut f = spread_six();
    f.kill(1).kill(4); // az-a, both brokers
    let mut p = Policy::new("c", cfg());
    let ds = round(&mut p, &f, NOW);
    let mass: Vec<_> = alerts(&ds)
        .into_iter()
        .filter(|d| d.finding == K::MassFailure)
        .collect();
    assert_eq!(mass.len(), 1, "{ds:#?}");
    assert_eq!(mass[0].rule, Rule::MassFailure);
    assert_eq!(mass[0].brokers, vec![1, 4]);
    assert!(mass[0]
        .reason
        .contains("whole rack az-a failed (2 of 2 brokers)"));
    assert!(mass[0].reason.contains("az-a=2/2"));
    for t in [300, 1800, 100_000] {
        let ds = round(&mut p, &f, NOW + t * S);
        assert_no_data_moves(&ds);
        assert!(alerts(&ds).is_empty(), "alert once: {ds:#?}");
        let held: Vec<_> = holds(&ds)
            .into_iter()
            .filter(|d| d.finding == K::DeadBroker)
            .collect();
        assert_eq!(held.len(), 2);
        assert!(held.iter().all(|d| d.rule == Rule::MassFailure));
    }
    // Broker 4 comes back: one dead broker is a broker failure again, healed at once (its
    // grace ran during the outage).
    let mut g = spread_six();
    g.kill(1);
    let ds = round(&mut p, &g, NOW + 100_100 * S);
    assert!(
        acts(&ds).contains(&&Action::Plan(Request::Heal { dead: vec![1] })),
        "{ds:#?}"
    );
}

#[test]
fn a_partitioned_az_looks_suspect_and_still_counts() {
    let mut f = spread_six();
    f.kill(1);
    f.fence(4); // agent of 4 still reporting: suspect, not dead
    let mut p = Policy::new("c", cfg());
    round(&mut p, &f, NOW);
    let ds = round(&mut p, &f, NOW + 400 * S);
    assert_no_data_moves(&ds);
    let d1 = holds(&ds)
        .into_iter()
        .find(|d| d.finding == K::DeadBroker)
        .unwrap();
    assert_eq!(d1.rule, Rule::MassFailure);
    assert!(
        d1.reason.contains("4 (az-a, SuspectBroker)"),
        "{}",
        d1.reason
    );
}

#[test]
fn the_operator_override_heals_through_a_mass_failure() {
    let mut f = spread_six();
    f.kill(1).kill(4);
    let mut p = Policy::new("c", cfg());
    round(&mut p, &f, NOW);
    p.set_mass_failure_override(true);
    let ds = round(&mut p, &f, NOW + 300 * S);
    assert_eq!(
        acts(&ds),
        vec![&Action::Plan(Request::Heal { dead: vec![1, 4] })]
    );
    let heal = ds.iter().find(|d| d.verdict.action().is_some()).unwrap();
    assert_eq!(heal.rule, Rule::MassFailureOverride);
    assert_eq!(heal.brokers, vec![1, 4]);
}

/// Twenty brokers in five racks of four (az-0 .. az-4), one partition per broker.
fn twenty() -> Fake {
    let mut f = Fake::new();
    for id in 1..=20 {
        f.add_broker(id, &format!("az-{}", (id - 1) % 5));
    }
    for id in 1..=20 {
        f.add_partition("t", id, &[id, id % 20 + 1, (id + 1) % 20 + 1]);
    }
    f
}

#[test]
fn more_than_ten_percent_of_brokers_is_an_outage() {
    // Three brokers in three racks: at most one per rack, 15 % of 20.
    let mut f = twenty();
    f.kill(1).kill(2).kill(3);
    let mut p = Policy::new("c", cfg());
    let ds = round(&mut p, &f, NOW);
    let m = alerts(&ds)
        .into_iter()
        .find(|d| d.finding == K::MassFailure)
        .expect("mass failure alert");
    assert!(
        m.reason
            .contains("3 of 20 brokers failed (15 %) > mass_failure_max_percent 10 %"),
        "{}",
        m.reason
    );
    assert_no_data_moves(&round(&mut p, &f, NOW + 400 * S));

    // Two of twenty is 10 %, not more: healed as broker failures.
    let mut g = twenty();
    g.kill(1).kill(2);
    let mut p = Policy::new("c", cfg());
    assert!(round(&mut p, &g, NOW)
        .iter()
        .all(|d| d.finding != K::MassFailure));
    let ds = round(&mut p, &g, NOW + 400 * S);
    assert_eq!(
        acts(&ds),
        vec![&Action::Plan(Request::Heal { dead: vec![1, 2] })]
    );
}

#[test]
fn one_dead_broker_is_never_a_mass_failure_even_in_a_small_cluster() {
    // 1 of 6 is 17 % > 10 %, but one broker alone is what healing is for.
    let mut f = spread_six();
    f.kill(1);
    let mut p = Policy::new("c", cfg());
    round(&mut p, &f, NOW);
    let ds = round(&mut p, &f, NOW + 300 * S);
    assert!(ds.iter().all(|d| d.finding != K::MassFailure));
    assert_eq!(acts(&ds).len(), 1);
}

#[test]
fn grace_runs_on_the_monotonic_clock_not_the_wall_clock() {
    let f = spread_six();
    let mut dead = spread_six();
    dead.kill(1);
    let mut p = Policy::new("c", cfg());
    round(&mut p, &f, NOW);
    p.decide(&dead.findings(), &dead.view, at(NOW));
    // 20 s later on the monotonic clock, but NTP stepped the wall clock an hour ahead.
    let stepped = Now {
        wall_ms: NOW + 3_600 * S,
        mono_ms: NOW + 20 * S,
    };
    let ds = p.decide(&dead.findings(), &dead.view, stepped);
    assert!(acts(&ds).is_empty(), "a wall step must not heal: {ds:#?}");
    // And a wall clock stepped back does not delay a heal that is due.
    let back = Now {
        wall_ms: NOW - 3_600 * S,
        mono_ms: NOW + 300 * S,
    };
    let ds = p.decide(&dead.findings(), &dead.view, back);
    assert_eq!(acts(&ds).len(), 1);
}

#[test]
fn a_host_with_the_last_in_sync_copy_is_never_replaced() {
    let mut f = spread_six();
    f.add_partition("rf1", 0, &[1])
        .add_partition("rf1", 1, &[1]);
    f.kill(1);
    // Kafka keeps the last in-sync replica in the ISR and the partition goes offline; with
    // eligible leader replicas (KIP-966) the ISR may be empty instead.
    for p in f.view.partitions.iter_mut().filter(|p| p.topic == "rf1") {
        p.isr = if p.partition == 0 { vec![1] } else { vec![] };
        p.leader = None;
    }
    let mut p = Policy::new("c", cfg());
    round(&mut p, &f, NOW);
    let ds = round(&mut p, &f, NOW + 1800 * S);
    assert!(
        !acts(&ds).contains(&&Action::ReplaceHost { broker: 1 }),
        "{ds:#?}"
    );
    let h = holds(&ds)
        .into_iter()
        .find(|d| d.rule == Rule::LastCopy)
        .expect("a last-copy hold");
    assert_eq!(h.broker, Some(1));
    assert_eq!(h.partitions, 2);
    assert!(h.reason.contains("rf1-0, rf1-1"), "{}", h.reason);

    // With another in-sync copy, the host is replaced.
    let mut g = spread_six();
    g.kill(1);
    let mut p = Policy::new("c", cfg());
    round(&mut p, &g, NOW);
    let ds = round(&mut p, &g, NOW + 1800 * S);
    assert!(acts(&ds).contains(&&Action::ReplaceHost { broker: 1 }));
}

#[test]
fn a_stale_registration_is_alerted_and_does_not_block_balance() {
    let mut f = spread_six();
    f.add_broker(7, "az-a");
    f.kill(7); // registered, fenced, silent, hosts nothing
    f.limits.default_in_bytes_per_sec = 2_000;
    f.agents.get_mut(&3).unwrap().net_rx_bytes_per_sec = Some(9_000);
    let mut p = Policy::new("c", cfg());
    let ds = round(&mut p, &f, NOW);
    assert!(ds
        .iter()
        .any(|d| d.verdict == Verdict::Alert && d.finding == K::StaleRegistration));
    assert!(ds.iter().all(|d| d.finding != K::DeadBroker));
    let ds = round(&mut p, &f, NOW + 300 * S);
    // An overload is answered by elections first (`overload_stages_*` in policy tests).
    assert_eq!(acts(&ds), vec![&Action::Plan(Request::BalanceLeaders)]);
}

#[test]
fn preferred_leaders_not_leading_ask_for_preferred_elections() {
    let mut f = spread_six();
    f.add_partition("s", 0, &[2, 1, 3]);
    f.view.partitions.last_mut().unwrap().leader = Some(1);
    let mut p = Policy::new("c", cfg());
    round(&mut p, &f, NOW);
    let ds = round(&mut p, &f, NOW + 300 * S);
    assert!(
        acts(&ds).contains(&&Action::Plan(Request::PreferredLeaders)),
        "{ds:#?}"
    );
    assert!(!acts(&ds).contains(&&Action::Plan(Request::SpreadLeaders)));
}

#[test]
fn balance_and_leader_requests_of_one_round_come_back_together() {
    let mut f = spread_six();
    // Topic "s": three partitions all led from az-a; one preferred leader not leading.
    f.add_partition("s", 0, &[1, 2, 3])
        .add_partition("s", 1, &[4, 5, 6])
        .add_partition("s", 2, &[2, 1, 3]);
    f.view.partitions.last_mut().unwrap().leader = Some(1);
    f.limits.default_in_bytes_per_sec = 2_000;
    f.agents.get_mut(&3).unwrap().net_rx_bytes_per_sec = Some(9_000);
    let mut p = Policy::new("c", cfg());
    round(&mut p, &f, NOW);
    let ds = round(&mut p, &f, NOW + 300 * S);
    let rs = requests(&ds);
    // The spread and the preferred elections wait while broker 3 is overloaded (they would
    // fight the overload's elections).
    assert_eq!(rs, vec![Request::BalanceLeaders], "each request once");
    // Once the overload clears, the spread comes back with the preferred elections.
    f.agents.get_mut(&3).unwrap().net_rx_bytes_per_sec = Some(1_000);
    let ds = round(&mut p, &f, NOW + 600 * S);
    let rs = requests(&ds);
    assert!(rs.contains(&Request::SpreadLeaders), "{rs:?}");
    assert!(rs.contains(&Request::PreferredLeaders), "{rs:?}");
    assert_eq!(rs.len(), 2, "each request once: {rs:?}");
}

#[test]
fn a_decision_keeps_its_id_while_unchanged_and_gets_a_new_one_when_it_changes() {
    let mut f = spread_six();
    f.kill(1);
    let mut p = Policy::new("c", cfg());
    let hold_id = |ds: &[Decision]| {
        ds.iter()
            .find(|d| d.finding == K::DeadBroker && d.verdict == Verdict::Hold)
            .map(|d| d.id)
    };
    let a = round(&mut p, &f, NOW);
    let b = round(&mut p, &f, NOW + 10 * S);
    assert_eq!(hold_id(&a), hold_id(&b));
    assert!(hold_id(&a).is_some());
    let heal = |ds: &[Decision]| ds.iter().find(|d| d.rule == Rule::Heal).map(|d| d.id);
    let c = round(&mut p, &f, NOW + 300 * S);
    let d = round(&mut p, &f, NOW + 310 * S);
    assert!(heal(&c).is_some());
    assert_eq!(heal(&c), heal(&d), "one heal decision, not one per round");
    assert!(heal(&c) > hold_id(&a), "ids increase");
    // Every id of a round is distinct.
    let mut ids: Vec<_> = d.iter().map(|d| d.id).collect();
    ids.dedup();
    assert_eq!(ids.len(), d.len());
}

#[test]
fn rules_serialize_as_stable_names_and_display_as_sentences() {
    let names: BTreeSet<&str> = Rule::ALL.iter().map(|r| r.name()).collect();
    assert_eq!(names.len(), Rule::ALL.len(), "names are unique");
    for r in Rule::ALL {
        assert_eq!(
            serde_json::to_string(&r).unwrap(),
            format!("\"{}\"", r.name())
        );
        assert!(r.name().chars().all(|c| c.is_ascii_lowercase() || c == '_'));
        assert_eq!(r.to_string(), r.sentence());
    }
    let mut f = spread_six();
    f.kill(1);
    let mut p = Policy::new("c", cfg());
    let ds = round(&mut p, &f, NOW);
    let j = serde_json::to_value(&ds[0]).unwrap();
    assert!(j["id"].is_u64() && j["rule"].is_string(), "{j}");
}

#[test]
fn a_mass_failure_that_spreads_is_a_new_decision_but_not_a_new_alert() {
    let mut f = spread_six();
    f.kill(1).kill(4);
    let mut p = Policy::new("c", cfg());
    let hold = |ds: &[Decision]| {
        ds.iter()
            .find(|d| d.finding == K::MassFailure && d.verdict == Verdict::Hold)
            .map(|d| (d.id, d.brokers.clone()))
            .unwrap()
    };
    let a = hold(&round(&mut p, &f, NOW));
    assert_eq!(
        a,
        hold(&round(&mut p, &f, NOW + 10 * S)),
        "unchanged: same id"
    );
    f.kill(2);
    let ds = round(&mut p, &f, NOW + 20 * S);
    let b = hold(&ds);
    assert!(b.0 > a.0, "spread: a new decision, logged again");
    assert_eq!(b.1, vec![1, 2, 4]);
    assert!(!ds
        .iter()
        .any(|d| d.finding == K::MassFailure && d.verdict == Verdict::Alert));
}
