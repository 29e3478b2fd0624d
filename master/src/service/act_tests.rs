//! The actor's pure parts: which board runs a plan, which moves a restart resumes, how mode
//! changes are persisted. (The actor on real brokers: tests/tests/e2e/act.rs and
//! act_heal.rs.)

use std::sync::Arc;

use super::*;
use crate::actionlog::{ActionKind, MemoryJournal, Mode, Outcome, OutcomeStatus, Phase};
use crate::detect::FindingKind;
use crate::plan::{Move, Plan, Request};
use crate::policy::{Decision, Rule};
use crate::service::board::{PlannedWork, Status};

fn heal_move() -> Move {
    Move {
        topic: Arc::from("t"),
        partition: 0,
        old_replicas: vec![1, 2, 3],
        new_replicas: vec![4, 2, 3],
        bytes_to_copy: 100,
        reason: crate::plan::MoveReason::Heal { from: 1 },
    }
}

fn decision(id: u64, verdict: Verdict) -> Decision {
    Decision {
        id: DecisionId(id),
        verdict,
        finding: FindingKind::DeadBroker,
        broker: Some(1),
        brokers: vec![1],
        topic: None,
        partitions: 1,
        reason: "broker 1 dead".into(),
        rule: Rule::Heal,
    }
}

fn heal() -> Request {
    Request::Heal { dead: vec![1] }
}

fn board(verdict: Verdict, moves: Vec<Move>) -> Board {
    Board {
        round: 3,
        status: Status::Ran,
        decisions: vec![decision(7, verdict)],
        plan: Some(PlannedWork {
            requests: vec![heal()],
            decisions: vec![DecisionId(7)],
            plan: Plan {
                moves,
                ..Plan::default()
            },
            since_round: 3,
        }),
        ..Board::default()
    }
}

#[test]
fn an_act_decision_with_work_runs_and_nothing_else_does() {
    let b = board(Verdict::Act(Action::Plan(heal())), vec![heal_move()]);
    let (id, plan) = runnable(&b, "cid").expect("an Act plan runs");
    assert_eq!(id, DecisionId(7));
    assert_eq!(plan.plan_id, "cid-d7");
    assert_eq!(plan.moves.len(), 1);
    assert_eq!(plan.moves[0].new, vec![4, 2, 3]);

    // Dry-run, hold and alert verdicts never run, even with a plan on the board.
    for v in [
        Verdict::DryRun(Action::Plan(heal())),
        Verdict::Hold,
        Verdict::Alert,
    ] {
        assert!(
            runnable(&board(v.clone(), vec![heal_move()]), "cid").is_none(),
            "{v:?}"
        );
    }
    // An Act plan with nothing to do does not run.
    assert!(runnable(&board(Verdict::Act(Action::Plan(heal())), vec![]), "cid").is_none());
    // A plan whose decision is no longer on the board does not run.
    let mut gone = b.clone();
    gone.decisions.clear();
    assert!(runnable(&gone, "cid").is_none());
    // A merged plan with one Act and one DryRun decision does not run.
    let mut mixed = b;
    mixed
        .decisions
        .push(decision(8, Verdict::DryRun(Action::Plan(Request::Balance))));
    if let Some(w) = mixed.plan.as_mut() {
        w.requests.push(Request::Balance);
        w.decisions.push(DecisionId(8));
    }
    assert!(runnable(&mixed, "cid").is_none());
}

/// A submit intent of one move `(partition, old replicas, new replicas, bytes)`, as the executor
/// writes its evidence.
fn submit(
    cluster: &str,
    action: &str,
    decision: u64,
    (partition, old, new, bytes): (&str, &[i32], &[i32], u64),
) -> ActionRecord {
    let moves =
        serde_json::json!([{"partition": partition, "old": old, "new": new, "bytes": bytes}]);
    let mut r = ActionRecord::intent(
        cluster,
        action,
        Some(DecisionId(decision)),
        ActionKind::Reassign {
            targets: vec![],
            bytes: 0,
        },
        "heal",
        "m",
    );
    r.evidence = serde_json::json!({ "moves": moves });
    r
}

fn ok() -> Outcome {
    Outcome {
        status: OutcomeStatus::Succeeded,
        detail: String::new(),
        command: None,
    }
}

fn clear(cluster: &str, action: &str) -> ActionRecord {
    ActionRecord::intent(
        cluster,
        action,
        None,
        ActionKind::ClearThrottle,
        "done",
        "m",
    )
    .outcome_of(ok())
}

#[test]
fn a_restart_resumes_every_submitted_move_of_the_unfinished_plan_only() {
    let old = submit("cid", "p1-1", 3, ("a-0", &[1, 2], &[3, 2], 5));
    let batch1 = submit("cid", "p2-1", 9, ("my-topic-4", &[1, 2, 3], &[4, 2, 3], 50));
    let batch2 = submit("cid", "p2-2", 9, ("b-1", &[1, 5], &[6, 5], 7));
    let other = submit("other", "x-1", 1, ("c-0", &[1], &[2], 1));
    // Plan 1 finished (its throttle cleared); plan 2's first batch has its submit outcome
    // (the move is still running in Kafka), its second has none: both are resumed.
    let records = vec![
        old.clone(),
        old.outcome_of(ok()),
        clear("cid", "p1-2"),
        batch1.clone(),
        batch1.outcome_of(ok()),
        other,
        batch2,
    ];
    let (decision, moves) = resume_moves(&records, "cid");
    assert_eq!(decision, Some(DecisionId(9)));
    let parts: Vec<String> = moves.iter().map(|m| m.partition.to_string()).collect();
    assert_eq!(parts.len(), 2, "{parts:?}");
    let m = moves
        .iter()
        .find(|m| m.partition.topic == "my-topic")
        .expect("topic names with dashes parse");
    assert_eq!(m.partition.partition, 4);
    assert_eq!(
        (m.old_replicas.clone(), m.new_replicas.clone(), m.bytes),
        (vec![1, 2, 3], vec![4, 2, 3], 50)
    );

    // Once plan 2's throttle is cleared, nothing is in flight.
    let mut done = records;
    done.push(clear("cid", "p2-3"));
    assert!(resume_moves(&done, "cid").1.is_empty());
    // A failed clear does not end the plan.
    let failed = ActionRecord::intent("cid", "p3", None, ActionKind::ClearThrottle, "x", "m")
        .outcome_of(Outcome {
            status: OutcomeStatus::Failed,
            detail: "timeout".into(),
            command: None,
        });
    let mut after = done.clone();
    after.push(submit("cid", "p3-1", 11, ("d-2", &[1], &[2], 1)));
    after.push(failed);
    assert_eq!(resume_moves(&after, "cid").1.len(), 1);
}

/// An in-memory action log and the mode log of cluster `cid` writing to it.
fn mode_log() -> (Arc<MemoryJournal>, ModeLog) {
    let mem = Arc::new(MemoryJournal::default());
    let ml = ModeLog {
        log: mem.clone(),
        cluster_id: "cid".into(),
        master_id: "m".into(),
    };
    (mem, ml)
}

#[tokio::test]
async fn a_mode_change_is_recorded_before_it_is_applied_and_off_needs_the_record() {
    let (mem, ml) = mode_log();
    let cmd = crate::serve::Command::SetDryRun(true);
    assert!(record_mode(Some(&ml), "c", &cmd).await);
    let recs = mem.records();
    assert_eq!(recs.len(), 1);
    assert_eq!(recs[0].phase, Phase::State);
    assert_eq!(
        recs[0].kind,
        ActionKind::SetMode {
            mode: Mode::DryRun,
            on: true
        }
    );
    assert_eq!(
        actionlog::restore(recs).cluster("cid").dry_run,
        Some(true),
        "a restart restores it"
    );
    // Fenced log: switching ON still applies (does less), switching OFF is refused.
    mem.fence();
    assert!(record_mode(Some(&ml), "c", &crate::serve::Command::SetMaintenance(true)).await);
    assert!(
        !record_mode(
            Some(&ml),
            "c",
            &crate::serve::Command::SetMaintenance(false)
        )
        .await
    );
    assert!(!record_mode(Some(&ml), "c", &crate::serve::Command::SetDryRun(false)).await);
    // Other commands are not mode changes.
    assert!(
        record_mode(
            Some(&ml),
            "c",
            &crate::serve::Command::SetMassFailureOverride(false)
        )
        .await
    );
}

#[tokio::test]
async fn the_mass_failure_override_is_recorded_restored_and_on_needs_the_record() {
    use crate::serve::Command::SetMassFailureOverride;
    let (mem, ml) = mode_log();
    assert!(record_mode(Some(&ml), "c", &SetMassFailureOverride(true)).await);
    let recs = mem.records();
    assert_eq!(recs.len(), 1, "the override is written to the action log");
    assert_eq!(
        recs[0].kind,
        ActionKind::SetMode {
            mode: Mode::MassFailureOverride,
            on: true
        }
    );
    assert_eq!(
        actionlog::restore(recs)
            .cluster("cid")
            .mass_failure_override,
        Some(true),
        "a restart restores it"
    );
    // The override lets the master act more: ON needs the record, OFF (does less) does not.
    mem.fence();
    assert!(!record_mode(Some(&ml), "c", &SetMassFailureOverride(true)).await);
    assert!(record_mode(Some(&ml), "c", &SetMassFailureOverride(false)).await);
}

#[tokio::test]
async fn a_mode_change_reason_names_the_mode_in_operator_words() {
    use crate::serve::Command::{SetDryRun, SetMaintenance, SetMassFailureOverride};
    let (mem, ml) = mode_log();
    for cmd in [
        SetDryRun(true),
        SetMaintenance(false),
        SetMassFailureOverride(true),
    ] {
        assert!(record_mode(Some(&ml), "c", &cmd).await);
    }
    let reasons: Vec<String> = mem.records().into_iter().map(|r| r.reason).collect();
    assert_eq!(
        reasons,
        [
            "operator set dry-run on through the API",
            "operator set maintenance off through the API",
            "operator set the mass-failure override on through the API",
        ]
    );
}

/// The progress of plan `c1-d7` finished with `done` moves done and nothing else.
fn finished(done: usize) -> crate::execute::PlanProgress {
    crate::execute::PlanProgress {
        plan_id: "c1-d7".into(),
        done,
        finished: true,
        ..Default::default()
    }
}

/// The lines the actor logs when the plan of decision d7 of cluster c1 ends with `progress`
/// after 12 s.
fn finished_lines(progress: crate::execute::PlanProgress) -> Vec<String> {
    let out = crate::execute::Outcome {
        progress,
        replan: Vec::new(),
        events: Vec::new(),
        throttle_clear_errors: Vec::new(),
    };
    let ((), lines) = crate::service::testlog::capture(|| {
        super::run::log_finished("c1", Some(DecisionId(7)), &out, 12)
    });
    lines
}

/// One line ends a plan, `plan finished` exactly, with every figure the demo and the trials
/// read (before, the executor and the actor each logged one, with different figures).
#[test]
fn a_plan_ends_in_one_line_with_its_figures() {
    let lines = finished_lines(crate::execute::PlanProgress {
        cancelled: 1,
        elections_done: 2,
        copied_bytes: 3000,
        ..finished(3)
    });
    assert_eq!(lines.len(), 1, "{lines:#?}");
    let l = &lines[0];
    assert!(l.contains(": plan finished cluster=\"c1\""), "{l}");
    for f in [
        "decision=d7",
        "plan=c1-d7",
        "done=3",
        "cancelled=1",
        "elections=2",
        "copied_bytes=3000",
        "replan=0",
        "secs=12",
    ] {
        assert!(l.contains(f), "{f} in {l}");
    }
}

/// `then` (the left-over partitions are planned again) is said only when something was left:
/// a plan that moved everything does not claim partitions it did not move.
#[test]
fn a_plan_that_moved_everything_says_no_then() {
    let lines = finished_lines(finished(3));
    assert_eq!(lines.len(), 1, "{lines:#?}");
    assert!(!lines[0].contains("then="), "{}", lines[0]);
    let lines = finished_lines(crate::execute::PlanProgress {
        cancelled: 1,
        ..finished(3)
    });
    assert!(lines[0].contains("then="), "{}", lines[0]);
}
