//! The history endpoints (action history, broker net history), the controls restored from the
//! action log (`persisted`), and failure headroom on the board: over HTTP on loopback.

mod serve_common;

use kmedic_master::actionlog::{
    ActionHistory, ActionKind, ActionRecord, ClusterState, Mode, Outcome, OutcomeStatus,
};
use kmedic_master::model::history::NetPoint;
use serde_json::Value;
use serve_common::{call, start, TOKEN};

fn record(cluster: &str, id: &str, kind: ActionKind, brokers: &[i32]) -> ActionRecord {
    let mut r = ActionRecord::intent(cluster, id, None, kind, format!("because {id}"), "m1");
    r.brokers = brokers.to_vec();
    r
}

/// Five records of `cid-1` (the fixture's cluster id) and one of another cluster.
fn history() -> ActionHistory {
    let h = ActionHistory::default();
    let throttle = record(
        "cid-1",
        "a1",
        ActionKind::SetThrottle {
            rate_bytes_per_sec: 1_000_000,
        },
        &[],
    );
    let moved = record(
        "cid-1",
        "a2",
        ActionKind::Reassign {
            targets: vec![vec![1, 2, 3]],
            bytes: 42,
        },
        &[6],
    );
    let failed = moved.outcome_of(Outcome {
        status: OutcomeStatus::Failed,
        detail: "destination 3 died".into(),
        command: None,
    });
    let mode = ActionRecord::state(
        "cid-1",
        "a3",
        ActionKind::SetMode {
            mode: Mode::DryRun,
            on: true,
        },
        "operator set dry-run on through the API",
        "m1",
    );
    let other = record("cid-other", "x1", ActionKind::ClearThrottle, &[]);
    h.push(&[throttle, moved, failed, mode, other]);
    h
}

async fn get(url: &str) -> (u16, Value) {
    call("GET", url, None, None).await
}

#[tokio::test]
async fn actions_are_paged_newest_first_and_filtered() {
    let r = start(Some(TOKEN)).await;
    let url = format!("{}/api/clusters/c1/actions", r.base);
    // No action log attached: a 503 that says so.
    let (st, v) = get(&url).await;
    assert_eq!(st, 503, "{v}");
    assert!(v["message"]
        .as_str()
        .is_some_and(|m| m.contains("no action log")));

    r.server.attach_actions(history());
    let (st, v) = get(&url).await;
    assert_eq!(st, 200, "{v}");
    assert_eq!(v["cluster_id"], "cid-1");
    assert_eq!(v["total"], 4, "only this cluster's records: {v}");
    let ids: Vec<(&str, &str)> = v["actions"]
        .as_array()
        .expect("actions")
        .iter()
        .map(|a| {
            (
                a["action_id"].as_str().unwrap_or(""),
                a["phase"].as_str().unwrap_or(""),
            )
        })
        .collect();
    assert_eq!(
        ids,
        [
            ("a3", "state"),
            ("a2", "outcome"),
            ("a2", "intent"),
            ("a1", "intent")
        ]
    );
    assert_eq!(v["actions"][0]["kind_name"], "set_mode");
    // a1 has no outcome: pending; a2's intent was answered.
    let pending: Vec<(&str, bool)> = v["actions"]
        .as_array()
        .expect("actions")
        .iter()
        .map(|a| {
            (
                a["action_id"].as_str().unwrap_or(""),
                a["pending"].as_bool().unwrap_or(true),
            )
        })
        .collect();
    assert_eq!(
        pending,
        [("a3", false), ("a2", false), ("a2", false), ("a1", true)]
    );

    let (_, v) = get(&format!("{url}?kind=reassign&outcome=failed")).await;
    assert_eq!(v["total"], 1, "{v}");
    assert_eq!(
        v["actions"][0]["outcome"]["detail"], "destination 3 died",
        "{v}"
    );
    // Broker 6 is in `brokers`, broker 2 a move target; 5 is in nothing.
    for (b, n) in [(6, 2), (2, 2), (5, 0)] {
        let (st, v) = get(&format!("{url}?broker={b}")).await;
        assert_eq!((st, v["total"].as_u64()), (200, Some(n)), "broker {b}: {v}");
    }
    let (_, v) = get(&format!("{url}?offset=1&limit=2")).await;
    assert_eq!(v["actions"].as_array().map(Vec::len), Some(2));
    assert_eq!(v["actions"][0]["phase"], "outcome");
    let (_, v) = get(&format!("{url}?since=99999999999999")).await;
    assert_eq!(v["total"], 0, "{v}");
    let (_, v) = get(&format!("{url}?outcome=state")).await;
    assert_eq!(v["total"], 1, "{v}");

    for bad in [
        "kind=nuke",
        "outcome=ok",
        "broker=x",
        "since=yesterday",
        "limit=0",
        "limit=10001",
        "offset=-1",
        "colour=red",
    ] {
        let (st, v) = get(&format!("{url}?{bad}")).await;
        let key = bad.split('=').next().unwrap_or("");
        assert_eq!(st, 400, "{bad}: {v}");
        assert!(
            v["message"].as_str().is_some_and(|m| m.contains(key)),
            "{bad}: the message names the parameter: {v}"
        );
    }
    let (st, _) = get(&format!("{}/api/clusters/nope/actions", r.base)).await;
    assert_eq!(st, 404);
    // c2 was never observed and has no configured cluster id.
    let (st, v) = get(&format!("{}/api/clusters/c2/actions", r.base)).await;
    assert_eq!(st, 503, "{v}");
}

#[tokio::test]
async fn broker_history_serves_the_models_points() {
    let r = start(Some(TOKEN)).await;
    {
        let m = r
            .fleet
            .get("cid-1")
            .expect("the round registered the model");
        let mut m = kmedic_master::model::lock(&m);
        for i in 0..3u64 {
            m.history.record(
                2,
                NetPoint {
                    at_ms: 1_000 + i * 10_000,
                    rx_bytes_per_sec: Some(100 * (i + 1)),
                    tx_bytes_per_sec: Some(7),
                },
            );
        }
    }
    let url = |b: &str| format!("{}/api/clusters/c1/brokers/{b}/history", r.base);
    let (st, v) = get(&url("2")).await;
    assert_eq!(st, 200, "{v}");
    assert_eq!(v["broker"], 2);
    assert_eq!(v["span_secs"], 3600);
    let rx: Vec<u64> = v["points"]
        .as_array()
        .expect("points")
        .iter()
        .filter_map(|p| p["rx_bytes_per_sec"].as_u64())
        .collect();
    assert_eq!(rx, [100, 200, 300]);
    // A registered broker with no samples yet: empty, not an error.
    let (st, v) = get(&url("3")).await;
    assert_eq!((st, v["points"].as_array().map(Vec::len)), (200, Some(0)));
    let (st, v) = get(&url("x")).await;
    assert_eq!(st, 400, "{v}");
    let (st, v) = get(&url("99")).await;
    assert_eq!(st, 404, "{v}");
    let (st, _) = get(&format!("{}/api/clusters/c2/brokers/1/history", r.base)).await;
    assert_eq!(st, 503);
}

#[tokio::test]
async fn controls_say_persisted_once_the_action_log_records_them() {
    let r = start(Some(TOKEN)).await;
    let url = format!("{}/api/clusters/c1", r.base);
    let (_, v) = get(&url).await;
    assert_eq!(v["controls"]["persisted"], false, "no action log yet: {v}");
    assert_eq!(v["controls"]["maintenance"], false);
    // As the service does at start: the log says maintenance on and broker 4 decommissioning.
    let st = ClusterState {
        maintenance: Some(true),
        dry_run: Some(false),
        mass_failure_override: Some(true),
        decommissioning: [4].into_iter().collect(),
        ..ClusterState::default()
    };
    r.server
        .restore_controls("c1", Some("cid-1"), Some(&st), true);
    let (_, v) = get(&url).await;
    let c = &v["controls"];
    assert_eq!(c["persisted"], true, "{v}");
    assert_eq!(c["maintenance"], true, "{v}");
    assert_eq!(c["dry_run"], false, "{v}");
    assert_eq!(c["mass_failure_override"], true, "{v}");
    assert_eq!(c["decommission"], serde_json::json!([4]), "{v}");
    // Without a log (or without a cluster id) nothing is restored and nothing persists.
    r.server.restore_controls("c2", None, None, false);
    let (_, v) = get(&format!("{}/api/clusters/c2", r.base)).await;
    assert_eq!(v["controls"]["persisted"], false, "{v}");
}

#[tokio::test]
async fn headroom_comes_from_the_rounds_what_ifs_with_an_expected_rack_loss() {
    let r = start(Some(TOKEN)).await;
    let board = r.boards.subscribe("c1").expect("board").borrow().clone();
    let made = board.headroom.clone().expect("the round made the what-ifs");
    let (st, v) = get(&format!("{}/api/clusters/c1/headroom", r.base)).await;
    assert_eq!(st, 200, "{v}");
    assert_eq!(
        v["took_ms"], made.took_ms,
        "served from the board, not recomputed"
    );
    // RF 3 in 3 AZs: losing an AZ leaves one replica short by design, shown as expected.
    assert_eq!(v["rack_loss_expected"], true, "{v}");
    for w in v["racks"].as_array().expect("racks") {
        assert_eq!(w["verdict"], "expected", "{w}");
    }
    // Each broker loss that is not absorbed is a finding, and only those.
    let unabsorbed: Vec<i64> = v["unabsorbable_brokers"]
        .as_array()
        .expect("list")
        .iter()
        .filter_map(Value::as_i64)
        .collect();
    let found: Vec<i64> = board
        .findings
        .iter()
        .filter(|f| format!("{:?}", f.kind) == "NoFailureHeadroom")
        .filter_map(|f| f.broker.map(i64::from))
        .collect();
    assert_eq!(found, unabsorbed);
}
