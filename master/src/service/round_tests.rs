//! Round tests on the fake cluster (`detect::tests::Fake`), no Kafka: what a round publishes,
//! what it logs over time, and that a wall-clock step changes no decision.

use kmedic_common::connection::ConnectionSettings;
use proptest::prelude::*;

use super::*;
use crate::config::PolicyConfig;
use crate::detect::tests::Fake;
use crate::model::AgentState;
use crate::observe::ReassignmentView;
use crate::policy::{Action, Verdict};
// Log lines as an operator reads them, whatever tests run alongside (see testlog).
use crate::service::testlog::capture;

const POLL_MS: u64 = 5_000;
/// The wall clock at the first round; mono starts at 1 s.
const WALL0: u64 = 1_800_000_000_000;

/// 12 brokers (4 per rack, so one failure is under the default mass-failure share), 24
/// partitions of RF 3.
fn twelve() -> Fake {
    let mut f = Fake::six();
    for id in 7..=12 {
        f.add_broker(id, ["az-a", "az-b", "az-c"][(id as usize - 1) % 3]);
    }
    for id in 1..=12 {
        f.view.disk_total_bytes.insert(id, 1 << 40);
    }
    for p in 0..24 {
        let r = |k: i32| (p + k) % 12 + 1;
        f.add_partition("t", p, &[r(0), r(1), r(2)]);
    }
    f
}

fn round_cfg() -> RoundConfig {
    RoundConfig {
        cluster: ClusterConfig {
            name: "fake".into(),
            cluster_id: None,
            connection: ConnectionSettings::plaintext(["127.0.0.1:1"]),
            limits: Default::default(),
            policy: PolicyConfig {
                heal_grace_secs: 60,
                replace_grace_secs: 600,
                agent_silence_secs: 30,
                ..PolicyConfig::default()
            },
            planner: Default::default(),
            cross_az: Default::default(),
        },
        window: WindowConfig::default(),
        ingest: IngestConfig::default(),
        summary_every_ms: 300_000,
    }
}

/// A round over a fleet whose model holds `f`'s agents; `silent` agents stop being heard.
struct Harness {
    round: Round,
    board: watch::Receiver<Board>,
    fleet: Fleet,
}

impl Harness {
    fn new() -> Self {
        let (tx, board) = watch::channel(Board::default());
        Self {
            round: Round::new(round_cfg(), tx),
            board,
            fleet: Fleet::new(),
        }
    }

    /// Runs one round over `view` at `now`; agents not in `silent` were heard 1 s ago.
    fn run(&mut self, view: &ClusterView, agents: &[i32], silent: &[i32], now: Now) -> Board {
        let m = self
            .fleet
            .register(&view.cluster_id, &WindowConfig::default());
        {
            let mut m = lock(&m);
            for &id in agents {
                let a = m.agents.entry(id).or_insert_with(|| {
                    let mut a = AgentState::unknown();
                    a.process = kmedic_common::stats::ProcessState::Running;
                    a.probe = Some(Ok(100));
                    a.hostname = format!("h{id}");
                    a
                });
                if !silent.contains(&id) {
                    a.heard_mono_ms = now.mono_ms as i64 - 1_000;
                    a.full_heard_mono_ms = Some(now.mono_ms as i64 - 1_000);
                    // The agent's own clock is its business: it follows the agent, not us.
                    a.last_seen_ms = WALL0 + now.mono_ms;
                    a.last_full_ms = Some(WALL0 + now.mono_ms);
                }
            }
        }
        futures::executor::block_on(self.round.run(view, &self.fleet, || true, || now));
        self.board.borrow().clone()
    }
}

fn ids(f: &Fake) -> Vec<i32> {
    f.view.brokers.keys().copied().collect()
}

#[test]
fn a_standing_dead_broker_is_logged_when_it_changes_not_every_round() {
    let mut f = twelve();
    let agents = ids(&f);
    let mut h = Harness::new();
    // Three idle minutes, then broker 4 dies, then 20 minutes of nothing changing.
    let rounds = 36 + 240;
    let mut per_minute = vec![0usize; (rounds as usize * POLL_MS as usize) / 60_000 + 1];
    let mut all = Vec::new();
    for i in 0..rounds {
        let mono = 1_000 + i * POLL_MS;
        if i == 36 {
            f.fence(4);
        }
        let silent: &[i32] = if i >= 36 { &[4] } else { &[] };
        let now = Now {
            wall_ms: WALL0 + mono,
            mono_ms: mono,
        };
        let (b, l) = capture(|| h.run(&f.view, &agents, silent, now));
        per_minute[(mono / 60_000) as usize] += l.len();
        all.extend(l);
        if i == rounds - 1 {
            // The heal was decided and planned, and the plan names its decision.
            let work = b
                .plan
                .as_ref()
                .unwrap_or_else(|| panic!("no plan: {:#?}", b.decisions));
            let heal = Request::Heal { dead: vec![4] };
            let id = work.decision_for(&heal).expect("the heal was planned");
            let d = b.decisions.iter().find(|d| d.id == id).unwrap();
            assert_eq!(d.request(), Some(&heal));
            assert!(!work.plan.moves.is_empty(), "{}", work.plan);
            assert_eq!(b.brokers.dead, 1);
        }
    }
    let text = all.join("\n");
    // Idle: the first summary only.
    assert!(per_minute[0] + per_minute[1] + per_minute[2] <= 2, "{text}");
    // From minute 6 (the heal is decided at about minute 4) only a summary every 5 minutes.
    let late: usize = per_minute[6..].iter().sum();
    assert!(
        late <= per_minute[6..].len() / 5 + 1,
        "{per_minute:?}\n{text}"
    );
    assert_eq!(text.matches("planned (").count(), 1, "{text}");
    assert_eq!(
        text.lines()
            .filter(|l| l.contains("finding:") && l.contains("DeadBroker"))
            .count()
            + text
                .lines()
                .filter(|l| l.contains("finding changed") && l.contains("DeadBroker"))
                .count(),
        1,
        "{text}"
    );
}

#[test]
fn findings_log_appear_change_and_clear_once_each() {
    let mut f = twelve();
    let agents = ids(&f);
    let mut h = Harness::new();
    let mut mono = 1_000;
    let mut step = |h: &mut Harness, f: &Fake, silent: &[i32]| {
        mono += POLL_MS;
        let now = Now {
            wall_ms: WALL0 + mono,
            mono_ms: mono,
        };
        capture(|| h.run(&f.view, &agents, silent, now)).1
    };
    step(&mut h, &f, &[]);
    f.fence(4);
    // Fenced, agent still heard: suspect (one signal).
    let l1: Vec<String> = (0..3).flat_map(|_| step(&mut h, &f, &[])).collect();
    // One line for the suspect: its hold decision carries the evidence and names the alert
    // decision made with it (no `finding:` line, no alert line of its own).
    let suspect = |l: &&String| l.contains("finding=SuspectBroker");
    let said: Vec<&String> = l1.iter().filter(suspect).collect();
    assert_eq!(said.len(), 1, "{l1:#?}");
    assert!(
        said[0].contains("verdict=hold")
            && said[0].contains("alert=d")
            && said[0].contains("fenced"),
        "{said:#?}"
    );
    // Agent silent past 30 s: suspect turns dead, one "changed" line.
    let l2: Vec<String> = (0..10).flat_map(|_| step(&mut h, &f, &[4])).collect();
    let changed: Vec<_> = l2
        .iter()
        .filter(|l| l.contains("finding changed"))
        .collect();
    assert_eq!(changed.len(), 1, "{l2:#?}");
    assert!(changed[0].contains("DeadBroker") && changed[0].contains("was=SuspectBroker"));
    // Back: every finding clears, once.
    let open = h.board.borrow().findings.len();
    let g = twelve();
    let l3: Vec<String> = (0..3).flat_map(|_| step(&mut h, &g, &[])).collect();
    assert!(
        l3.iter()
            .any(|l| l.contains("finding cleared") && l.contains("DeadBroker")),
        "{l3:#?}"
    );
    // Whatever was still open clears now, each once, and nothing is left on the board.
    let count = |ls: &[String], what: &str| ls.iter().filter(|l| l.contains(what)).count();
    let before: Vec<String> = l1.iter().chain(&l2).cloned().collect();
    assert_eq!(count(&l3, "finding cleared"), open, "{before:#?}\n{l3:#?}");
    assert!(h.board.borrow().findings.is_empty());
}

#[test]
fn board_shows_waiting_in_flight_and_failed_observations() {
    let mut f = twelve();
    f.view.reassignments.insert(
        crate::observe::TopicPartition {
            topic: "t".into(),
            partition: 3,
        },
        ReassignmentView {
            adding: vec![9],
            removing: vec![4],
        },
    );
    let (tx, rx) = watch::channel(Board::default());
    let mut r = Round::new(round_cfg(), tx);
    let fleet = Fleet::new();
    let now = Now {
        wall_ms: WALL0,
        mono_ms: 1_000,
    };
    futures::executor::block_on(r.run(&f.view, &fleet, || false, || now));
    let b = rx.borrow().clone();
    assert_eq!(b.status, Status::WaitingForStats);
    assert_eq!(b.round, 1);
    assert!(b.findings.is_empty() && b.decisions.is_empty());
    assert_eq!(b.in_flight.reassignments.len(), 1);
    assert_eq!(b.view.as_ref().map(|v| v.brokers), Some(12));

    struct Down;
    impl Source for Down {
        fn observe(&self) -> impl Future<Output = observe::Result<ClusterView>> + Send {
            std::future::ready(Err(observe::Error::TimedOut {
                cluster: "fake".into(),
                budget_ms: 10,
            }))
        }
    }
    let (_, lines) = capture(|| {
        for i in 0..5 {
            let now = Now {
                wall_ms: WALL0,
                mono_ms: 2_000 + i,
            };
            futures::executor::block_on(r.run(&Down, &fleet, || true, || now));
        }
    });
    let b = rx.borrow().clone();
    assert!(matches!(b.status, Status::ObserveFailed(ref e) if e.contains("10 ms")));
    assert_eq!(b.round, 6);
    // The last good view is kept; the failure is logged once, not every round.
    assert_eq!(b.view.as_ref().map(|v| v.brokers), Some(12));
    assert_eq!(
        lines
            .iter()
            .filter(|l| l.contains("observe failed"))
            .count(),
        1,
        "{lines:#?}"
    );
}

/// What a decision is, without its id and reason figures (ages in seconds differ by design
/// when the wall clock is in the text; none may differ in kind).
type Shape = (String, String, Vec<i32>, Option<i32>, String);

fn shape(d: &Decision) -> Shape {
    let v = match &d.verdict {
        Verdict::Alert => "alert".to_string(),
        Verdict::Hold => "hold".to_string(),
        Verdict::Act(Action::Plan(r)) | Verdict::DryRun(Action::Plan(r)) => format!("plan {r}"),
        Verdict::Act(a) | Verdict::DryRun(a) => format!("{a:?}"),
    };
    (
        v,
        format!("{:?}", d.finding),
        d.brokers.clone(),
        d.broker,
        d.rule.name().into(),
    )
}

/// Runs the kill scenario and returns each round's decisions (shape) and plans.
fn scenario(wall_steps: &[i64]) -> Vec<(Vec<Shape>, Vec<Plan>)> {
    let mut f = twelve();
    let agents = ids(&f);
    let mut h = Harness::new();
    let mut offset: i64 = 0;
    let mut out = Vec::new();
    for (i, step) in wall_steps.iter().enumerate() {
        let mono = 1_000 + i as u64 * POLL_MS;
        if i == 4 {
            f.fence(7);
        }
        let silent: &[i32] = if i >= 4 { &[7] } else { &[] };
        offset += step;
        let wall = (WALL0 as i64 + mono as i64 + offset) as u64;
        let b = h.run(
            &f.view,
            &agents,
            silent,
            Now {
                wall_ms: wall,
                mono_ms: mono,
            },
        );
        out.push((
            b.decisions.iter().map(shape).collect(),
            b.plan.into_iter().map(|w| w.plan).collect(),
        ));
    }
    out
}

proptest! {
    #![proptest_config(ProptestConfig { cases: 24, ..ProptestConfig::default() })]

    /// The wall clock stepped forward and back by random amounts (up to two days) between
    /// rounds, while the monotonic clock advances normally: every round decides and plans
    /// exactly as without the steps.
    #[test]
    fn no_decision_flips_on_clock_steps(
        steps in proptest::collection::vec(
            prop_oneof![3 => Just(0i64), 1 => -172_800_000i64..172_800_000i64],
            40,
        )
    ) {
        let calm = scenario(&[0; 40]);
        let stepped = scenario(&steps);
        // The scenario reaches a heal without steps (else the property says little).
        prop_assert!(calm.iter().any(|(_, p)| !p.is_empty()));
        for (i, (a, b)) in calm.iter().zip(&stepped).enumerate() {
            prop_assert_eq!(a, b, "round {}", i);
        }
    }
}

/// A heal of `topic`-`p` from broker 3 to broker 6, copying `bytes`.
fn heal_3_to_6(topic: &str, p: i32, bytes: u64) -> crate::plan::Move {
    crate::plan::Move {
        topic: topic.into(),
        partition: p,
        old_replicas: vec![1, 2, 3],
        new_replicas: vec![1, 2, 6],
        bytes_to_copy: bytes,
        reason: crate::plan::MoveReason::Heal { from: 3 },
    }
}

/// A plan of `moves` and nothing else.
fn plan_of(moves: Vec<crate::plan::Move>) -> Plan {
    Plan {
        moves,
        ..Plan::default()
    }
}

#[test]
fn a_plan_that_only_grew_or_reordered_is_the_same_work() {
    let mv = heal_3_to_6;
    let a = plan_of(vec![mv("a", 0, 100), mv("b", 1, 200)]);
    // Seen on the testbed: the stats topic grows every round and the planner orders moves by
    // size, so the same heal came out reordered and was logged again every poll.
    let b = plan_of(vec![mv("b", 1, 250), mv("a", 0, 120)]);
    assert!(same_work(&a, &b));
    let mut c = b.clone();
    c.moves[0].new_replicas = vec![1, 2, 5];
    assert!(!same_work(&a, &c));
}

#[test]
fn replicas_of_partitions_being_moved_are_neither_news_nor_a_page() {
    use crate::plan::{Unplaceable, UnplaceableReason};
    let mv = |p: i32| heal_3_to_6("a", p, 100);
    let busy = |p: i32| Unplaceable {
        topic: "a".into(),
        partition: p,
        replica: 3,
        reason: UnplaceableReason::Reassigning,
    };
    // Seen in the demo: while kmedic's own heal ran, every round re-planned it, the partitions
    // being moved came back "unplaceable: partition is reassigning", and the round warned "a
    // person must look" 11 times in 25 s.
    let before = Plan {
        moves: vec![mv(0)],
        unplaceable: vec![busy(1)],
        ..Plan::default()
    };
    let later = Plan {
        moves: vec![mv(0)],
        unplaceable: vec![busy(1), busy(2)],
        ..Plan::default()
    };
    assert!(same_work(&before, &later));
    assert!(needs_a_person(&later).is_empty());
    let mut full = later.clone();
    full.unplaceable.push(Unplaceable {
        reason: UnplaceableReason::RackUnavailable {
            racks: vec!["az-c".into()],
        },
        ..busy(3)
    });
    assert!(!same_work(&later, &full));
    assert_eq!(needs_a_person(&full).len(), 1);
}

#[test]
fn a_plan_being_carried_out_is_not_logged_again_as_it_shrinks() {
    let mv = |p: i32| heal_3_to_6("a", p, 100);
    // Seen in the demo: each batch the executor submitted left the next round's heal plan one
    // batch smaller, and the round logged "planned" again for each (9 times in a 25 s heal).
    let full = plan_of(vec![mv(0), mv(1), mv(2)]);
    let after_a_batch = plan_of(vec![mv(2)]);
    assert!(less_or_same_work(&after_a_batch, &full));
    assert!(!same_work(&after_a_batch, &full));
    // New work is news.
    let more = plan_of(vec![mv(2), mv(3)]);
    assert!(!less_or_same_work(&more, &after_a_batch));
}

#[test]
fn a_heal_never_places_replicas_on_a_broker_being_decommissioned() {
    let mut f = twelve();
    let agents = ids(&f);
    let mut h = Harness::new();
    // Broker 7 (az-a, like the dead 4) is on the decommission list: a heal must not refill it.
    h.round.board.send_modify(|b| {
        b.decommission.wanted.insert(7);
    });
    // 7 is the emptiest az-a broker, the one a heal would pick first.
    for (id, used) in [(1, 2), (7, 0), (10, 2)] {
        f.view
            .disk_usable_bytes
            .insert(id, (1u64 << 40) - used * (1u64 << 38));
    }
    f.fence(4);
    let mut last = None;
    for i in 0..30 {
        let mono = 1_000 + i * POLL_MS;
        let now = Now {
            wall_ms: WALL0 + mono,
            mono_ms: mono,
        };
        last = Some(h.run(&f.view, &agents, &[4], now));
    }
    let b = last.unwrap();
    let work = b.plan.as_ref().expect("a heal plan");
    assert!(!work.plan.moves.is_empty(), "{}", work.plan);
    for m in &work.plan.moves {
        assert!(!m.new_replicas.contains(&7), "{m}");
    }
}

/// Killed mid-decommission: the round gives the policy the decommission list, so the broker is
/// healed (its replicas must leave anyway) but its host is never replaced (the operator wants it
/// gone), and a broker only drained (no longer listed while it waits to be unregistered) neither.
#[test]
fn a_broker_killed_mid_decommission_is_healed_but_never_replaced() {
    for listed in [true, false] {
        let mut f = twelve();
        let agents = ids(&f);
        let mut h = Harness::new();
        h.round.board.send_modify(|b| {
            if listed {
                b.decommission.wanted.insert(4);
            } else {
                b.decommission.brokers.insert(
                    4,
                    crate::service::decommission::BrokerDrain {
                        phase: crate::service::decommission::DrainPhase::Drained,
                        cordoned: true,
                        replicas_left: 0,
                        bytes_left: 0,
                    },
                );
            }
        });
        f.fence(4);
        let mut healed = false;
        // Past replace_grace_secs (600 s) by two minutes.
        for i in 0..(720_000 / POLL_MS) {
            let mono = 1_000 + i * POLL_MS;
            let now = Now {
                wall_ms: WALL0 + mono,
                mono_ms: mono,
            };
            let b = h.run(&f.view, &agents, &[4], now);
            healed |= b
                .plan
                .as_ref()
                .is_some_and(|w| w.requests.contains(&Request::Heal { dead: vec![4] }));
            let replace = b
                .decisions
                .iter()
                .find(|d| d.verdict.action() == Some(&Action::ReplaceHost { broker: 4 }));
            assert!(
                replace.is_none(),
                "listed {listed}, round {i}: {replace:#?}"
            );
            if i == 720_000 / POLL_MS - 1 {
                assert!(
                    b.decisions
                        .iter()
                        .any(|d| d.rule == crate::policy::Rule::Decommissioning),
                    "{:#?}",
                    b.decisions
                );
            }
        }
        assert!(healed, "listed {listed}: the heal was planned");
    }
}
