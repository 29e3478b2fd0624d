//! The running master against real Kafka 4.3 brokers, with agents simulated by heartbeats on
//! the stats topic (master/tests/support). Each test starts its own 4-broker testbed on the
//! master's port range (KMEDIC_MASTER_TEST_PORT_BASE, default 19400, + 20 / + 40).

mod support;

use std::time::{Duration, Instant};

use kmedic_master::detect::FindingKind;
use kmedic_master::model::checkpoint;
use kmedic_master::plan::Request;
use kmedic_master::policy::{self, Action, Verdict};
use kmedic_master::service::Board;
use kmedic_tests::random_topic;
use support::*;

/// Waits for a round with no dead or suspect broker while every agent reports. (NoStats is
/// expected: these agents send heartbeats only.)
fn wait_healthy_round(m: &mut Master) {
    let deadline = Instant::now() + Duration::from_secs(60);
    loop {
        let r = m.next(deadline).expect("a healthy round within 60 s");
        if !r
            .findings
            .iter()
            .any(|f| matches!(f.kind, FindingKind::DeadBroker | FindingKind::SuspectBroker))
        {
            return;
        }
    }
}

fn acts(r: &Board) -> bool {
    r.decisions
        .iter()
        .any(|d| matches!(d.verdict, Verdict::Act(_) | Verdict::DryRun(_)))
}

/// A killed broker whose agent falls silent is found dead, held through the heal grace, then
/// healed (planned, not executed) within its rack; the final checkpoint holds the model.
#[test]
fn killed_broker_is_held_through_the_grace_then_healed_in_its_rack() {
    const KILLED: i32 = 4;
    let _serial = serial();
    init_logs();
    let tb = testbed(20, 4);
    let stats = stats_topic_avoiding(&tb, KILLED);
    let data = random_topic("orders");
    tb.create_topic(&data, 8, 3).unwrap();
    tb.produce(&data, 64 * 1024).unwrap();
    let agents = Agents::start(&tb, &stats, 4);
    let dir = tempfile::tempdir().unwrap();
    let cfg = config(&tb, &stats, dir.path());
    let mut m = Master::start(cfg.clone());
    wait_healthy_round(&mut m);

    tb.kill(KILLED).unwrap();
    agents.set(KILLED, SILENT);
    let mut held_in_grace = false;
    let mut healed = None;
    let deadline = Instant::now() + Duration::from_secs(90);
    while healed.is_none() {
        let r = m.next(deadline).expect("a heal decision within 90 s");
        for d in &r.decisions {
            if d.finding == FindingKind::DeadBroker && d.rule == policy::Rule::HealGrace {
                held_in_grace = true;
            }
            if d.verdict == Verdict::Act(Action::Plan(Request::Heal { dead: vec![KILLED] })) {
                healed = Some(r.clone());
            }
        }
    }
    assert!(held_in_grace, "the heal must wait for the grace first");
    let r = healed.unwrap();
    let work = r.plan.as_ref().expect("a plan");
    let heal = Request::Heal { dead: vec![KILLED] };
    // The plan records the decision it answers.
    let asked = r
        .decisions
        .iter()
        .find(|d| d.request() == Some(&heal))
        .expect("the heal decision");
    assert_eq!(work.decision_for(&heal), Some(asked.id));
    let plan = &work.plan;
    let ours: Vec<_> = plan.moves.iter().filter(|m| *m.topic == *data).collect();
    assert!(!ours.is_empty(), "no move for {data}: {plan:?}");
    for mv in ours {
        assert!(!mv.new_replicas.contains(&KILLED));
        let slot = mv.old_replicas.iter().position(|&b| b == KILLED).unwrap();
        // Broker 1 is the other broker of broker 4's rack (az-a).
        assert_eq!(mv.new_replicas[slot], 1, "{mv}");
    }

    m.shutdown().unwrap();
    drop(agents);
    let ck = checkpoint::load(&cfg.checkpoint.path, &cfg.window)
        .unwrap()
        .expect("a checkpoint after shutdown");
    let model = ck
        .models
        .iter()
        .find(|m| m.cluster_id == tb.cluster_id())
        .unwrap();
    assert_eq!(
        model.agents.keys().copied().collect::<Vec<_>>(),
        vec![1, 2, 3, 4]
    );
    assert!(ck.watermark_ms > 0);
}

/// A SIGSTOPped broker whose agent reports the process stopped is hung, not dead: Kafka fences
/// it, but no round ever asks to move data.
#[test]
fn hung_broker_is_alerted_but_never_healed() {
    const HUNG: i32 = 3;
    let _serial = serial();
    init_logs();
    let tb = testbed(40, 4);
    // This test is about the hung broker, not about the stats path through it.
    let stats = stats_topic_avoiding(&tb, HUNG);
    let data = random_topic("orders");
    tb.create_topic(&data, 4, 3).unwrap();
    let agents = Agents::start(&tb, &stats, 4);
    let dir = tempfile::tempdir().unwrap();
    let mut m = Master::start(config(&tb, &stats, dir.path()));
    wait_healthy_round(&mut m);

    tb.hang(HUNG).unwrap();
    agents.set(HUNG, STOPPED);
    let hung_since = Instant::now();
    let mut rounds_hung = 0;
    // Well past the heal grace (4 s) and Kafka's fencing: still no action. Rounds may be slow
    // while the hung broker swallows requests, so each gets its own deadline.
    while hung_since.elapsed() < Duration::from_secs(30) {
        let r = m
            .next(Instant::now() + Duration::from_secs(60))
            .expect("rounds keep coming");
        assert!(!acts(&r), "acted on a hung broker: {:?}", r.decisions);
        assert!(!r.findings.iter().any(|f| f.kind == FindingKind::DeadBroker));
        if r.findings
            .iter()
            .any(|f| f.kind == FindingKind::HungBroker && f.broker == Some(HUNG))
        {
            rounds_hung += 1;
        }
    }
    assert!(rounds_hung >= 2, "hung seen in {rounds_hung} rounds only");
    tb.resume(HUNG).unwrap();
    m.shutdown().unwrap();
}
