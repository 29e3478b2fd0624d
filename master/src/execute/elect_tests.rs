//! The executor's operator text for plans that copy nothing (Y3 L2): elections named by what
//! they are for, no throttle figure and no progress line when no byte is copied.

use std::sync::Arc;

use super::super::fake::{tp, FakeCluster};
use super::super::{ExecPlan, Executor, LogJournal};
use crate::config::ExecuteConfig;
use crate::plan::{Election, ElectionReason, Move, MoveReason, Plan};

fn cfg() -> ExecuteConfig {
    ExecuteConfig {
        poll_interval_ms: 50,
        throttle_bytes_per_sec: 52_428_800,
        ..ExecuteConfig::default()
    }
}

fn election(p: i32, old: i32, new: i32, after_reorder: bool, reason: ElectionReason) -> Election {
    Election {
        topic: "t".into(),
        partition: p,
        old_leader: Some(old),
        new_leader: new,
        after_reorder,
        reason,
    }
}

/// Moves t-0 from [1, 2, 3] to `new`, copying `bytes`.
fn t0_move(new: &[i32], bytes: u64, reason: MoveReason) -> Move {
    Move {
        topic: "t".into(),
        partition: 0,
        old_replicas: vec![1, 2, 3],
        new_replicas: new.to_vec(),
        bytes_to_copy: bytes,
        reason,
    }
}

fn spread() -> ElectionReason {
    ElectionReason::SpreadLeaders {
        from_rack: "az-a".into(),
        to_rack: "az-c".into(),
        from_rack_leaders: 5,
        to_rack_leaders: 3,
    }
}

/// Runs `plan` on `fake` to its end and returns the INFO lines written meanwhile.
fn run_logged(fake: &Arc<FakeCluster>, plan: &Plan) -> Vec<String> {
    let (done, lines) = crate::service::testlog::capture(|| {
        let rt = tokio::runtime::Builder::new_current_thread()
            .enable_all()
            .build()
            .expect("a runtime");
        rt.block_on(async {
            let mut ex = Executor::new(fake.clone(), LogJournal, cfg());
            ex.execute(ExecPlan::new("c1", None, plan)).await
        })
    });
    assert!(done.is_ok(), "{done:?}");
    lines
}

/// Brokers 1-3; t-0 ([3, 1]) and t-1 ([3, 2]) are led by their second replica (1 and 2).
fn led_by_their_second_replica() -> Arc<FakeCluster> {
    let fake = Arc::new(FakeCluster::new(&[1, 2, 3], 100));
    fake.partition("t", 0, &[3, 1], 10);
    fake.partition("t", 1, &[3, 2], 10);
    fake.with(|s| {
        s.partitions.get_mut(&tp("t", 0)).expect("added").leader = Some(1);
        s.partitions.get_mut(&tp("t", 1)).expect("added").leader = Some(2);
    });
    fake
}

/// Elections-only spread plan: t-0 and t-1 are led by their second replica, whose first
/// replica sits in the rack that leads too few. Before, the line read `preferred leaders
/// elected` and the record `elect the preferred leader of 2 partitions`, as if the finding
/// were PreferredLeaderNotLeading.
#[test]
fn an_elections_only_spread_plan_names_its_elections_by_their_reason() {
    let fake = led_by_their_second_replica();
    let plan = Plan {
        elections: vec![
            election(0, 1, 3, false, spread()),
            election(1, 2, 3, false, spread()),
        ],
        ..Plan::default()
    };
    let lines = run_logged(&fake, &plan);
    fake.with(|s| assert_eq!(s.partitions[&tp("t", 0)].leader, Some(3)));
    let said = |m: &str| lines.iter().filter(|l| l.contains(m)).count();
    assert_eq!(said("preferred leader"), 0, "{lines:#?}");
    assert_eq!(
        said("leaders elected to spread topics' leaders across racks"),
        1,
        "{lines:#?}"
    );
    assert_eq!(
        said("elect the leaders of 2 partitions to spread topics' leaders across racks"),
        1,
        "{lines:#?}"
    );
}

/// A plan of two purposes says both, each once.
#[test]
fn a_plan_of_two_purposes_names_both() {
    let fake = led_by_their_second_replica();
    let plan = Plan {
        elections: vec![
            election(0, 1, 3, false, spread()),
            election(1, 2, 3, false, ElectionReason::Preferred { preferred: 3 }),
        ],
        ..Plan::default()
    };
    let lines = run_logged(&fake, &plan);
    let said = |m: &str| lines.iter().filter(|l| l.contains(m)).count();
    assert_eq!(
        said(
            "leaders elected to spread topics' leaders across racks and restore preferred leaders"
        ),
        1,
        "{lines:#?}"
    );
}

/// Reorder then elect (zero bytes): before, `plan progress percent="100.0" ... total_bytes=0`
/// was logged although nothing was copied, and the start line showed a throttle that is never
/// set. A plan that copies nothing shows no throttle and no progress line; one that copies does.
#[test]
fn a_plan_that_copies_nothing_shows_no_throttle_and_no_progress() {
    let fake = Arc::new(FakeCluster::new(&[1, 2, 3], 100));
    fake.partition("t", 0, &[1, 2, 3], 10);
    let plan = Plan {
        moves: vec![t0_move(&[3, 2, 1], 0, MoveReason::Reorder { preferred: 3 })],
        elections: vec![election(0, 1, 3, true, spread())],
        ..Plan::default()
    };
    let rate = cfg().throttle_bytes_per_sec;
    assert_eq!(ExecPlan::new("c1", None, &plan).throttle_shown(rate), None);
    let lines = run_logged(&fake, &plan);
    fake.with(|s| assert_eq!(s.partitions[&tp("t", 0)].leader, Some(3)));
    let said = |m: &str| lines.iter().filter(|l| l.contains(m)).count();
    assert_eq!(said("plan progress"), 0, "{lines:#?}");
    assert_eq!(said("leaders elected to spread"), 1, "{lines:#?}");
    // A heal copies: the throttle is shown, and progress is logged.
    let fake = Arc::new(FakeCluster::new(&[2, 3, 4], 400));
    fake.partition("t", 0, &[1, 2, 3], 1000);
    let heal = Plan {
        moves: vec![t0_move(&[4, 2, 3], 1000, MoveReason::Heal { from: 1 })],
        ..Plan::default()
    };
    assert_eq!(
        ExecPlan::new("c1", None, &heal).throttle_shown(rate),
        Some(rate)
    );
    let lines = run_logged(&fake, &heal);
    assert!(
        lines.iter().any(|l| l.contains("plan progress")),
        "{lines:#?}"
    );
}
