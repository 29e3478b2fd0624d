//! The executor's logic against the fake cluster: steps, throttle always cleared, limits,
//! cancel-on-changed-view, partial cancel when a destination dies, the journal fence, resume.

use std::sync::{Arc, Mutex};

use super::fake::{tp, FakeCluster};
use super::*;
use crate::config::ExecuteConfig;

/// Records every intent and outcome; refuses the intent number `fail_at` (1-based).
#[derive(Default)]
struct Recorder {
    log: Mutex<Vec<(String, ActionKind, Vec<TopicPartition>)>>,
    /// Every intent's reason, in order.
    reasons: Mutex<Vec<String>>,
    fail_at: Option<usize>,
}

impl Journal for Recorder {
    async fn intent(&self, a: &ActionRecord) -> Result<(), JournalError> {
        let mut log = self.log.lock().unwrap();
        let n = log.iter().filter(|(k, ..)| k == "intent").count() + 1;
        if self.fail_at == Some(n) {
            return Err(JournalError::Fenced);
        }
        log.push(("intent".into(), a.kind, a.partitions.clone()));
        self.reasons.lock().unwrap().push(a.reason.clone());
        Ok(())
    }
    async fn outcome(&self, a: &ActionRecord, _: &ActionOutcome) -> Result<(), JournalError> {
        self.log
            .lock()
            .unwrap()
            .push(("outcome".into(), a.kind, a.partitions.clone()));
        Ok(())
    }
}

impl Recorder {
    fn kinds(&self) -> Vec<(String, ActionKind)> {
        self.log
            .lock()
            .unwrap()
            .iter()
            .map(|(s, k, _)| (s.clone(), *k))
            .collect()
    }
}

fn cfg() -> ExecuteConfig {
    ExecuteConfig {
        poll_interval_ms: 100,
        throttle_bytes_per_sec: 1000,
        ..ExecuteConfig::default()
    }
}

/// Broker 1 dead; `n` partitions of topic t on [1, 2, 3] of 1000 B each move 1 -> 4.
fn heal(n: i32) -> (Arc<FakeCluster>, Plan) {
    let fake = Arc::new(FakeCluster::new(&[2, 3, 4, 5, 6], 400));
    let mut plan = Plan::default();
    for p in 0..n {
        fake.partition("t", p, &[1, 2, 3], 1000);
        plan.moves.push(crate::plan::Move {
            topic: "t".into(),
            partition: p,
            old_replicas: vec![1, 2, 3],
            new_replicas: vec![4, 2, 3],
            bytes_to_copy: 1000,
            reason: crate::plan::MoveReason::Heal { from: 1 },
        });
    }
    (fake, plan)
}

/// How many calls the fake cluster saw whose text starts with `prefix` (`submit`, `cancel`...).
fn calls(s: &super::fake::State, prefix: &str) -> usize {
    s.calls.iter().filter(|c| c.starts_with(prefix)).count()
}

fn exec(
    fake: &Arc<FakeCluster>,
    cfg: ExecuteConfig,
) -> (Executor<Arc<FakeCluster>, Arc<Recorder>>, Arc<Recorder>) {
    let rec = Arc::new(Recorder::default());
    (Executor::new(fake.clone(), rec.clone(), cfg), rec)
}

/// Runs `plan` (id `c1`, no decision) on `fake` with `cfg` to its end: the outcome and the journal.
async fn run(fake: &Arc<FakeCluster>, plan: &Plan, cfg: ExecuteConfig) -> (Outcome, Arc<Recorder>) {
    let (mut ex, rec) = exec(fake, cfg);
    let out = ex.execute(ExecPlan::new("c1", None, plan)).await.unwrap();
    (out, rec)
}

/// [`heal`] of `n` partitions, those of `frozen` never finishing their copy.
fn heal_frozen(n: i32, frozen: &[i32]) -> (Arc<FakeCluster>, Plan) {
    let (fake, plan) = heal(n);
    fake.with(|s| s.frozen.extend(frozen.iter().map(|&p| tp("t", p))));
    (fake, plan)
}

/// At most one move per broker at once.
fn one_move_per_broker() -> ExecuteConfig {
    ExecuteConfig {
        max_moves_per_broker: 1,
        ..cfg()
    }
}

/// A one-partition heal copying 100 B a tick (long enough to change the rate mid-plan), run with
/// the throttle band 500..=4000 B/s, adaptive or not.
fn heal_in_band(adaptive: bool) -> (Arc<FakeCluster>, Plan, ExecuteConfig) {
    let (fake, plan) = heal(1);
    fake.with(|s| s.copy_per_tick = 100);
    let cfg = ExecuteConfig {
        throttle_min_bytes_per_sec: 500,
        throttle_max_bytes_per_sec: 4000,
        adaptive_throttle: adaptive,
        ..cfg()
    };
    (fake, plan, cfg)
}

/// The broker-default rate settings the fake cluster saw on the `side` (leader or follower).
fn rates_set(s: &super::fake::State, side: &str) -> Vec<String> {
    let prefix = format!("set broker default {side}");
    s.calls
        .iter()
        .filter(|c| c.starts_with(&prefix))
        .cloned()
        .collect()
}

/// How many throttle settings were journalled.
fn throttle_intents(rec: &Recorder) -> usize {
    rec.kinds()
        .iter()
        .filter(|k| **k == ("intent".to_string(), ActionKind::SetThrottle))
        .count()
}

#[tokio::test]
async fn heal_runs_throttled_in_order_and_always_clears_the_throttle() {
    let (fake, plan) = heal(3);
    let (mut ex, rec) = exec(&fake, cfg());
    let progress = ex.progress();
    let out = ex
        .execute(ExecPlan::new("c1", Some(DecisionId(7)), &plan))
        .await
        .unwrap();
    assert!(out.replan.is_empty(), "{:?}", out.replan);
    assert_eq!(out.progress.done, 3);
    assert_eq!(out.progress.copied_bytes, 3000);
    assert_eq!(out.progress.total_bytes, 3000);
    assert!(progress.borrow().finished);
    fake.with(|s| {
        for p in 0..3 {
            assert_eq!(s.partitions[&tp("t", p)].replicas, vec![4, 2, 3]);
        }
        assert!(s.configs.is_empty(), "throttle left: {:?}", s.configs);
        let first_submit = s
            .calls
            .iter()
            .position(|c| c.starts_with("submit"))
            .unwrap();
        let rate = s
            .calls
            .iter()
            .position(|c| c == "set broker default leader.replication.throttled.rate=1000")
            .unwrap();
        let topic = s
            .calls
            .iter()
            .position(|c| c == "set topic t follower.replication.throttled.replicas=0:4,1:4,2:4")
            .unwrap();
        assert!(rate < first_submit && topic < first_submit, "{:?}", s.calls);
        assert!(
            s.calls.last().unwrap().starts_with("delete topic t"),
            "{:?}",
            s.calls
        );
    });
    // Every action has its intent first and its outcome after.
    let kinds = rec.kinds();
    assert_eq!(
        kinds.first().unwrap(),
        &("intent".into(), ActionKind::SetThrottle)
    );
    assert_eq!(
        kinds.last().unwrap(),
        &("outcome".into(), ActionKind::ClearThrottle)
    );
    for pair in kinds.chunks(2) {
        assert_eq!(pair[0].0, "intent");
        assert_eq!(pair[1], ("outcome".into(), pair[0].1));
    }
}

#[tokio::test]
async fn moves_per_broker_bound_what_is_submitted_at_once() {
    let (fake, plan) = heal(3);
    let (out, rec) = run(&fake, &plan, one_move_per_broker()).await;
    assert_eq!(out.progress.done, 3);
    let batches: Vec<usize> = rec
        .log
        .lock()
        .unwrap()
        .iter()
        .filter(|(s, k, _)| s == "intent" && *k == ActionKind::SubmitReassignments)
        .map(|(_, _, p)| p.len())
        .collect();
    assert_eq!(
        batches,
        vec![1, 1, 1],
        "every move shares broker 4: one at a time"
    );
}

#[tokio::test]
async fn a_submission_of_one_move_says_one_move() {
    let (fake, plan) = heal(3);
    let (_, rec) = run(&fake, &plan, one_move_per_broker()).await;
    let reasons = rec.reasons.lock().unwrap();
    let submit: Vec<&String> = reasons.iter().filter(|r| r.contains("timeout")).collect();
    assert_eq!(submit.len(), 3, "{reasons:?}");
    for r in submit {
        assert!(r.starts_with("1 move, "), "{r}");
    }
}

#[tokio::test]
async fn a_dead_destination_cancels_only_its_partitions_and_the_rest_finishes() {
    let (fake, mut plan) = heal(2);
    // Partition 1 goes to broker 5 instead; 5 dies at the third tick, mid-copy.
    plan.moves[1].new_replicas = vec![5, 2, 3];
    fake.with(|s| {
        s.copy_per_tick = 200;
        s.kill_at = Some((3, 5));
    });
    let (out, _) = run(&fake, &plan, cfg()).await;
    assert_eq!(
        out.replan,
        vec![(tp("t", 1), CancelReason::DestinationDead { broker: 5 })]
    );
    assert_eq!(out.progress.done, 1);
    fake.with(|s| {
        assert_eq!(s.partitions[&tp("t", 0)].replicas, vec![4, 2, 3]);
        assert_eq!(s.partitions[&tp("t", 1)].replicas, vec![1, 2, 3]);
        let cancels: Vec<&String> = s.calls.iter().filter(|c| c.starts_with("cancel")).collect();
        assert_eq!(cancels, vec!["cancel t-1"]);
        assert!(s.configs.is_empty());
    });
}

#[tokio::test]
async fn work_planned_on_a_view_that_changed_is_dropped_and_others_reassignments_left_alone() {
    let (fake, plan) = heal(3);
    fake.with(|s| {
        // t-0 changed under the plan; t-1 is being reassigned by someone else.
        s.partitions.get_mut(&tp("t", 0)).unwrap().replicas = vec![6, 2, 3];
        s.reassigning
            .insert(tp("t", 1), (vec![5, 2, 3], vec![1, 2, 3]));
        s.frozen.insert(tp("t", 1));
    });
    let (out, _) = run(&fake, &plan, cfg()).await;
    assert_eq!(out.replan.len(), 2);
    assert!(matches!(out.replan[0], (ref t, CancelReason::ViewChanged { .. }) if *t == tp("t", 0)));
    assert_eq!(
        out.replan[1],
        (tp("t", 1), CancelReason::ReassigningByOthers)
    );
    fake.with(|s| {
        assert_eq!(calls(s, "submit"), 1, "{:?}", s.calls);
        assert_eq!(calls(s, "cancel"), 0, "{:?}", s.calls);
        assert!(
            s.reassigning.contains_key(&tp("t", 1)),
            "not ours: untouched"
        );
    });
}

#[tokio::test]
async fn a_refused_intent_stops_every_further_action() {
    let (fake, plan) = heal(2);
    // Intent 1 = throttle, 2 = submit: refuse the submit.
    let rec = Arc::new(Recorder {
        fail_at: Some(2),
        ..Recorder::default()
    });
    let mut ex = Executor::new(fake.clone(), rec.clone(), cfg());
    let err = ex
        .execute(ExecPlan::new("c1", None, &plan))
        .await
        .unwrap_err();
    assert!(
        matches!(err, ExecError::Journal(JournalError::Fenced)),
        "{err}"
    );
    fake.with(|s| {
        assert_eq!(calls(s, "submit"), 0, "{:?}", s.calls);
        assert_eq!(calls(s, "delete"), 0, "a fenced master acts no more");
    });
}

#[tokio::test]
async fn a_stuck_move_is_reported_and_cancelled_by_policy() {
    let (fake, plan) = heal_frozen(2, &[1]);
    let stuck = ExecuteConfig {
        stuck_after_secs: 1,
        cancel_stuck: true,
        ..cfg()
    };
    let (out, _) = run(&fake, &plan, stuck).await;
    assert!(out
        .events
        .iter()
        .any(|e| matches!(e, Event::Stuck { partition, .. } if *partition == tp("t", 1))));
    assert_eq!(out.replan.len(), 1);
    assert!(matches!(out.replan[0].1, CancelReason::Stuck { .. }));
    assert_eq!(out.progress.done, 1);
}

#[tokio::test]
async fn a_move_past_its_timeout_is_cancelled() {
    let (fake, plan) = heal_frozen(1, &[0]);
    let floor = ExecuteConfig {
        timeout_floor_secs: 1,
        ..cfg()
    };
    let (out, _) = run(&fake, &plan, floor).await;
    // 1000 B at 1000 B/s x 3 = 3 s > the 1 s floor.
    assert_eq!(
        out.replan,
        vec![(tp("t", 0), CancelReason::TimedOut { limit_secs: 3 })]
    );
}

#[tokio::test]
async fn resume_tracks_a_running_move_without_resubmitting_it() {
    let (fake, _) = heal(2);
    fake.with(|s| {
        s.reassigning
            .insert(tp("t", 0), (vec![4, 2, 3], vec![1, 2, 3]));
        s.partitions.get_mut(&tp("t", 0)).unwrap().replicas = vec![4, 2, 3, 1];
    });
    let (mut ex, _rec) = exec(&fake, cfg());
    let moves = (0..2)
        .map(|p| ResumeMove {
            partition: tp("t", p),
            old_replicas: vec![1, 2, 3],
            new_replicas: vec![4, 2, 3],
            bytes: 1000,
        })
        .collect();
    let out = ex.resume("c1", None, moves).await.unwrap();
    assert_eq!(out.progress.done, 1);
    // t-1 was no longer running and not at its target: reported, not resubmitted.
    assert_eq!(
        out.replan,
        vec![(
            tp("t", 1),
            CancelReason::EndedBeforeResume {
                found: vec![1, 2, 3]
            }
        )]
    );
    fake.with(|s| {
        assert_eq!(calls(s, "submit"), 0, "{:?}", s.calls);
        assert_eq!(s.partitions[&tp("t", 0)].replicas, vec![4, 2, 3]);
        assert!(s.configs.is_empty());
    });
}

#[tokio::test]
async fn cancel_handle_cancels_running_moves_and_clears_the_throttle() {
    let (fake, plan) = heal(2);
    fake.with(|s| s.copy_per_tick = 10);
    let (mut ex, _rec) = exec(&fake, cfg());
    let handle = ex.cancel_handle();
    tokio::spawn(async move {
        tokio::time::sleep(std::time::Duration::from_millis(350)).await;
        handle.cancel();
    });
    let out = ex.execute(ExecPlan::new("c1", None, &plan)).await.unwrap();
    assert_eq!(out.progress.cancelled, 2);
    assert!(
        out.replan.is_empty(),
        "an operator's cancel is not re-planned"
    );
    fake.with(|s| {
        assert!(s.reassigning.is_empty());
        assert_eq!(s.partitions[&tp("t", 0)].replicas, vec![1, 2, 3]);
        assert!(s.configs.is_empty());
    });
}

#[tokio::test]
async fn leftover_throttles_are_cleared_unless_a_reassignment_is_running() {
    let fake = FakeCluster::new(&[1, 2, 3], 100);
    fake.partition("a", 0, &[1, 2, 3], 10);
    fake.partition("b", 0, &[1, 2, 3], 10);
    fake.with(|s| {
        for (r, k, v) in [
            ("broker default", LEADER_RATE, "1000"),
            ("broker default", FOLLOWER_RATE, "1000"),
            ("topic a", LEADER_REPLICAS, "0:1"),
            ("topic a", FOLLOWER_REPLICAS, "0:4"),
            ("topic b", FOLLOWER_REPLICAS, "0:4"),
        ] {
            s.configs.insert((r.into(), k.into()), v.into());
        }
        s.reassigning
            .insert(tp("b", 0), (vec![4, 2, 3], vec![1, 2, 3]));
        s.frozen.insert(tp("b", 0));
    });
    let found = clear_leftovers(&fake, &LogJournal, "c1", 1000)
        .await
        .unwrap();
    assert!(!found.rates, "a reassignment is running: the rates stay");
    assert_eq!(found.topics, vec!["a".to_string()]);
    fake.with(|s| {
        assert_eq!(s.configs.len(), 3, "{:?}", s.configs);
        s.reassigning.clear();
    });
    let found = clear_leftovers(&fake, &LogJournal, "c1", 1000)
        .await
        .unwrap();
    assert!(found.rates);
    fake.with(|s| assert!(s.configs.is_empty(), "{:?}", s.configs));
}

#[tokio::test]
async fn elections_follow_their_reorder_and_are_checked_on_fresh_state() {
    let fake = Arc::new(FakeCluster::new(&[1, 2, 3], 100));
    fake.partition("t", 0, &[1, 2, 3], 10);
    fake.partition("t", 1, &[2, 3, 1], 10);
    let plan = Plan {
        moves: vec![crate::plan::Move {
            topic: "t".into(),
            partition: 0,
            old_replicas: vec![1, 2, 3],
            new_replicas: vec![3, 2, 1],
            bytes_to_copy: 0,
            reason: crate::plan::MoveReason::Reorder { preferred: 3 },
        }],
        elections: vec![
            crate::plan::Election {
                topic: "t".into(),
                partition: 0,
                old_leader: Some(1),
                new_leader: 3,
                after_reorder: true,
                reason: crate::plan::ElectionReason::Preferred { preferred: 3 },
            },
            // Not the preferred replica of t-1: skipped, not forced.
            crate::plan::Election {
                topic: "t".into(),
                partition: 1,
                old_leader: Some(2),
                new_leader: 3,
                after_reorder: false,
                reason: crate::plan::ElectionReason::Preferred { preferred: 3 },
            },
        ],
        ..Plan::default()
    };
    let (out, _) = run(&fake, &plan, cfg()).await;
    assert_eq!(out.progress.elections_done, 1);
    fake.with(|s| {
        assert_eq!(s.partitions[&tp("t", 0)].leader, Some(3));
        assert_eq!(s.partitions[&tp("t", 1)].leader, Some(2));
        assert!(
            !s.calls.iter().any(|c| c.contains("throttled")),
            "a reorder copies nothing"
        );
    });
}

#[tokio::test]
async fn the_throttle_rate_adapts_mid_plan_through_the_journal_within_the_band() {
    let (fake, plan, band) = heal_in_band(false);
    let (mut ex, rec) = exec(&fake, band);
    let handle = ex.throttle_handle();
    tokio::spawn(async move {
        tokio::time::sleep(std::time::Duration::from_millis(250)).await;
        handle.set(1050); // within 10 %: not worth a change
        tokio::time::sleep(std::time::Duration::from_millis(250)).await;
        handle.set(9000); // clamped to the band's 4000
    });
    let out = ex.execute(ExecPlan::new("c1", None, &plan)).await.unwrap();
    assert_eq!(out.progress.done, 1);
    fake.with(|s| {
        assert_eq!(
            rates_set(s, "leader"),
            vec![
                "set broker default leader.replication.throttled.rate=1000",
                "set broker default leader.replication.throttled.rate=4000"
            ]
        );
        assert!(s.configs.is_empty());
    });
    assert_eq!(throttle_intents(&rec), 2, "each rate change is journalled");
}

#[tokio::test]
async fn the_adaptive_throttle_follows_the_agents_spare_network_with_hysteresis() {
    use super::adaptive::BrokerNet;
    let (fake, plan, band) = heal_in_band(true);
    let (mut ex, rec) = exec(&fake, band);
    let handle = ex.throttle_handle();
    let net = |rx: u64, heard_mono_ms: u64| {
        // Broker 4 receives the copy; 3000 B/s in x 0.8 share = 2400 B/s for replication
        // and clients together.
        let n = BrokerNet {
            limit_in: 3000,
            limit_out: 3000,
            rx,
            tx: 0,
            heard_mono_ms,
        };
        std::collections::BTreeMap::from([(4, n)])
    };
    tokio::spawn(async move {
        let sleep = |ms| tokio::time::sleep(std::time::Duration::from_millis(ms));
        sleep(250).await;
        // 1500 in: 1000 is kmedic's copy at the throttle, 500 other: 2400 - 500 = 1900.
        let first = crate::clock::Now::read().mono_ms;
        handle.observe(net(1500, first));
        sleep(250).await;
        // Sampled before the change: still the old copy rate, not used.
        handle.observe(net(100, first - 1));
        sleep(150).await;
        // Fresh: 1900 copy + 480 other = 1920, within 10 % of 1900: no change.
        handle.observe(net(2380, crate::clock::Now::read().mono_ms));
    });
    let out = ex.execute(ExecPlan::new("c1", None, &plan)).await.unwrap();
    assert_eq!(out.progress.done, 1);
    fake.with(|s| {
        assert_eq!(
            rates_set(s, "follower"),
            vec![
                "set broker default follower.replication.throttled.rate=1000",
                "set broker default follower.replication.throttled.rate=1900"
            ]
        );
        assert!(s.configs.is_empty(), "throttle left: {:?}", s.configs);
    });
    assert_eq!(throttle_intents(&rec), 2, "one change, journalled");
}

/// The executor's own start and end lines are debug: the service logs the one start line (with
/// the cluster and the decision) and the one `plan finished` line (before, each plan said both
/// twice: "executing the plan" and "executing plan", and "plan finished" two times).
#[test]
fn the_executor_leaves_the_start_and_end_lines_to_the_service() {
    let (fake, plan) = heal(2);
    let (out, lines) = crate::service::testlog::capture(|| {
        let rt = tokio::runtime::Builder::new_current_thread()
            .enable_all()
            .build()
            .expect("a runtime");
        rt.block_on(async {
            let (mut ex, _) = exec(&fake, cfg());
            ex.execute(ExecPlan::new("c1", Some(DecisionId(7)), &plan))
                .await
        })
    });
    assert_eq!(out.map(|o| o.progress.done).ok(), Some(2));
    let said = |m: &str| lines.iter().filter(|l| l.contains(m)).count();
    assert_eq!(said("executing plan"), 0, "{lines:#?}");
    assert_eq!(said("plan finished"), 0, "{lines:#?}");
}
