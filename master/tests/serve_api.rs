//! The REST API against a board made by a real round: every endpoint, a missing and a wrong
//! token (401, nothing changed), bad input (400, nothing changed), and the OpenAPI document
//! checked against the server's routes.

mod serve_common;

use kmedic_master::serve::{Command, Server};
use serde_json::Value;
use serve_common::{call, drain, start, TOKEN};

#[tokio::test]
async fn fleet_and_cluster_come_from_the_board() {
    let mut r = start(Some(TOKEN)).await;
    let (st, v) = call("GET", &format!("{}/api/clusters", r.base), None, None).await;
    assert_eq!(st, 200, "{v}");
    let cs = v["clusters"].as_array().expect("clusters");
    assert_eq!(cs.len(), 2);
    let board = r.boards.subscribe("c1").expect("board").borrow().clone();
    let c1 = &cs[0];
    assert_eq!(c1["cluster"], "c1");
    assert_eq!(c1["round"], board.round, "the round that made the board");
    assert_eq!(c1["partitions"], 7);
    assert_eq!(c1["under_replicated"], 1);
    assert_eq!(c1["findings"], board.findings.len());
    assert_eq!(c1["maintenance"], false);
    assert_eq!(
        c1["decommission"],
        serde_json::to_value(&board.decommission).expect("json"),
        "kmedic-master status reads the decommission column from here"
    );
    assert_eq!(cs[1]["health"], "unknown", "c2 was never observed");

    let (st, v) = call("GET", &format!("{}/api/clusters/c1", r.base), None, None).await;
    assert_eq!(st, 200);
    assert_eq!(v["round"], board.round);
    assert_eq!(v["view"]["under_replicated"], 1);
    assert_eq!(
        v["findings"].as_array().map(Vec::len),
        Some(board.findings.len())
    );
    assert_eq!(v["controls"]["dry_run"], false);
    assert!(
        v.get("cluster_view").is_none(),
        "the full view is not dumped"
    );

    let (st, v) = call("GET", &format!("{}/api/clusters/nope", r.base), None, None).await;
    assert_eq!(st, 404);
    assert!(
        v["message"]
            .as_str()
            .unwrap_or("")
            .contains("clusters: c1, c2"),
        "{v}"
    );
    assert!(drain(&mut r.rx).is_empty());
}

#[tokio::test]
async fn brokers_topics_partitions_in_flight() {
    let r = start(Some(TOKEN)).await;
    let (st, v) = call(
        "GET",
        &format!("{}/api/clusters/c1/brokers", r.base),
        None,
        None,
    )
    .await;
    assert_eq!(st, 200, "{v}");
    let bs = v["brokers"].as_array().expect("brokers");
    assert_eq!(bs.len(), 6);
    assert_eq!(bs[0]["id"], 1);
    assert_eq!(bs[0]["rack"], "az-a");
    assert_eq!(bs[0]["host"], "127.0.0.1:9001");
    assert_eq!(bs[0]["leaders"], 3);
    assert_eq!(bs[0]["net_in_limit_bytes_per_sec"], 125_000_000u64);
    assert_eq!(bs[0]["disk_total_bytes"], 1u64 << 40);
    let replicas: u64 = bs.iter().map(|b| b["replicas"].as_u64().unwrap_or(0)).sum();
    assert_eq!(replicas, 21);

    let (st, v) = call(
        "GET",
        &format!("{}/api/clusters/c1/brokers/4", r.base),
        None,
        None,
    )
    .await;
    assert_eq!(st, 200);
    assert_eq!(v["broker"]["id"], 4);
    let (st, v) = call(
        "GET",
        &format!("{}/api/clusters/c1/brokers/x", r.base),
        None,
        None,
    )
    .await;
    assert_eq!(st, 400);
    assert!(v["message"].as_str().unwrap_or("").contains("not a number"));
    let (st, _) = call(
        "GET",
        &format!("{}/api/clusters/c1/brokers/99", r.base),
        None,
        None,
    )
    .await;
    assert_eq!(st, 404);

    let (st, v) = call(
        "GET",
        &format!("{}/api/clusters/c1/topics", r.base),
        None,
        None,
    )
    .await;
    assert_eq!(st, 200);
    let ts = v["topics"].as_array().expect("topics");
    assert_eq!(ts.len(), 2);
    assert_eq!(ts[1]["topic"], "orders");
    assert_eq!(ts[1]["partitions"], 6);
    assert_eq!(ts[1]["replication_factor"], 3);
    assert_eq!(ts[1]["under_replicated"], 1);
    assert_eq!(ts[1]["leaders_per_rack"]["az-a"], 6);

    let url = format!(
        "{}/api/clusters/c1/partitions?under_replicated=true",
        r.base
    );
    let (st, v) = call("GET", &url, None, None).await;
    assert_eq!(st, 200, "{v}");
    assert_eq!(v["total"], 1);
    assert_eq!(v["partitions"][0]["partition"], 5);
    assert_eq!(v["partitions"][0]["size_bytes"], 6_000_000);
    let url = format!(
        "{}/api/clusters/c1/partitions?topic=orders&offset=4&limit=10",
        r.base
    );
    let (_, v) = call("GET", &url, None, None).await;
    assert_eq!(v["total"], 6);
    assert_eq!(v["partitions"].as_array().map(Vec::len), Some(2));
    for bad in [
        "limit=0",
        "limit=abc",
        "under_replicated=maybe",
        "colour=red",
        "limit=10001",
    ] {
        let url = format!("{}/api/clusters/c1/partitions?{bad}", r.base);
        let (st, v) = call("GET", &url, None, None).await;
        assert_eq!(st, 400, "{bad}: {v}");
        assert!(!v["message"].as_str().unwrap_or("").is_empty(), "{bad}");
    }

    let (st, v) = call(
        "GET",
        &format!("{}/api/clusters/c1/in-flight", r.base),
        None,
        None,
    )
    .await;
    assert_eq!(st, 200);
    assert_eq!(v["reassignments"][0]["topic"], "events");
    assert_eq!(v["reassignments"][0]["adding"][0], 1);
    // Not kmedic's: no byte figures.
    assert_eq!(v["reassignments"][0]["bytes_done"], Value::Null, "{v}");
    assert_eq!(v["reassignments"][0]["plan_id"], Value::Null, "{v}");
    // kmedic's executor carrying it out: bytes done and to copy, and an ETA at the plan's rate
    // shared by its running moves (here 2: 30 MB left at 10 MB/s / 2 = 6 s).
    let partition = v["reassignments"][0]["partition"]
        .as_i64()
        .expect("partition") as i32;
    let tp = kmedic_master::observe::TopicPartition {
        topic: "events".into(),
        partition,
    };
    let mv = |tp: kmedic_master::observe::TopicPartition| kmedic_master::execute::MoveProgress {
        partition: tp,
        old_replicas: vec![2, 3, 4],
        new_replicas: vec![1, 3, 4],
        total_bytes: 50_000_000,
        copied_bytes: 20_000_000,
        status: kmedic_master::execute::Status::Running,
    };
    r.boards.sender("c1").expect("c1").send_modify(|b| {
        b.executing = Some(kmedic_master::execute::PlanProgress {
            plan_id: "cid-d3".into(),
            rate_bytes_per_sec: 10_000_000.0,
            running: 2,
            moves: vec![mv(tp.clone())],
            ..Default::default()
        })
    });
    let (_, v) = call(
        "GET",
        &format!("{}/api/clusters/c1/in-flight", r.base),
        None,
        None,
    )
    .await;
    let row = &v["reassignments"][0];
    assert_eq!(row["plan_id"], "cid-d3", "{v}");
    assert_eq!(row["bytes_done"], 20_000_000, "{v}");
    assert_eq!(row["bytes_total"], 50_000_000, "{v}");
    assert_eq!(row["eta_secs"], 6, "{v}");
    let (_, c) = call("GET", &format!("{}/api/clusters/c1", r.base), None, None).await;
    assert_eq!(c["in_flight"][0]["bytes_done"], 20_000_000, "{c}");

    // c2 has not been observed: figures that need a view say so.
    let (st, v) = call(
        "GET",
        &format!("{}/api/clusters/c2/brokers", r.base),
        None,
        None,
    )
    .await;
    assert_eq!(st, 503);
    assert!(v["message"]
        .as_str()
        .unwrap_or("")
        .contains("not observed yet"));
}

#[tokio::test]
async fn findings_decisions_plan_headroom() {
    let r = start(Some(TOKEN)).await;
    let board = r.boards.subscribe("c1").expect("board").borrow().clone();
    let (st, v) = call(
        "GET",
        &format!("{}/api/clusters/c1/findings", r.base),
        None,
        None,
    )
    .await;
    assert_eq!(st, 200);
    assert_eq!(
        v["findings"],
        serde_json::to_value(&board.findings).expect("json")
    );
    let (st, v) = call(
        "GET",
        &format!("{}/api/clusters/c1/decisions", r.base),
        None,
        None,
    )
    .await;
    assert_eq!(st, 200);
    assert_eq!(
        v["decisions"].as_array().map(Vec::len),
        Some(board.decisions.len())
    );
    for d in v["decisions"].as_array().into_iter().flatten() {
        assert!(
            d["rule_sentence"].as_str().is_some_and(|s| !s.is_empty()),
            "{d}"
        );
    }
    let (st, v) = call(
        "GET",
        &format!("{}/api/clusters/c1/plan", r.base),
        None,
        None,
    )
    .await;
    assert_eq!(st, 200);
    assert_eq!(v["plan"], serde_json::to_value(&board.plan).expect("json"));
    let (st, v) = call(
        "GET",
        &format!("{}/api/clusters/c1/headroom", r.base),
        None,
        None,
    )
    .await;
    assert_eq!(st, 200, "{v}");
    assert!(v["brokers"].is_array());
    assert!(v["racks"].is_array());
    assert!(v["absorbs_any_broker"].is_boolean());
}

#[tokio::test]
async fn toggles_need_the_token_and_good_input() {
    let mut r = start(Some(TOKEN)).await;
    let url = format!("{}/api/clusters/c1/maintenance", r.base);
    let on = Some(r#"{"enabled": true}"#);
    for (token, want) in [
        (None, "missing token"),
        (Some("wrong-token-0123456789"), "wrong token"),
    ] {
        let (st, v) = call("PUT", &url, token, on).await;
        assert_eq!(st, 401, "{v}");
        assert!(v["message"].as_str().unwrap_or("").contains(want), "{v}");
    }
    for bad in [
        "{}",
        r#"{"enabled": "yes"}"#,
        r#"{"enabled": true, "x": 1}"#,
        "not json",
    ] {
        let (st, v) = call("PUT", &url, Some(TOKEN), Some(bad)).await;
        assert_eq!(st, 400, "{bad}: {v}");
        assert!(
            v["message"]
                .as_str()
                .unwrap_or("")
                .contains("nothing changed"),
            "{v}"
        );
    }
    assert!(drain(&mut r.rx).is_empty(), "nothing sent on 401/400");
    let (_, v) = call("GET", &url, None, None).await;
    assert_eq!(v["maintenance"], false, "nothing changed");

    let (st, v) = call("PUT", &url, Some(TOKEN), on).await;
    assert_eq!(st, 200, "{v}");
    assert_eq!(v["maintenance"], true);
    assert_eq!(v["persisted"], false);
    assert_eq!(drain(&mut r.rx), vec![Command::SetMaintenance(true)]);
    let (_, v) = call("GET", &url, None, None).await;
    assert_eq!(v["maintenance"], true);

    let url = format!("{}/api/clusters/c1/dry-run", r.base);
    let (st, v) = call("PUT", &url, Some(TOKEN), on).await;
    assert_eq!((st, &v["dry_run"]), (200, &Value::Bool(true)));
    let url = format!("{}/api/clusters/c1/mass-failure-override", r.base);
    let (st, v) = call("PUT", &url, Some(TOKEN), on).await;
    assert_eq!((st, &v["mass_failure_override"]), (200, &Value::Bool(true)));
    assert_eq!(
        drain(&mut r.rx),
        vec![
            Command::SetDryRun(true),
            Command::SetMassFailureOverride(true)
        ]
    );
    let (_, v) = call("GET", &format!("{}/api/clusters", r.base), None, None).await;
    assert_eq!(v["clusters"][0]["maintenance"], true);
    assert_eq!(v["clusters"][0]["dry_run"], true);
}

#[tokio::test]
async fn commands_reach_the_policy() {
    // What the loop does with the commands: apply them to the round's policy. The policy has
    // no getters; its Debug shows its config.
    let mut r = start(Some(TOKEN)).await;
    let before = format!("{:?}", r.round.policy_mut());
    assert!(before.contains("maintenance: false"), "{before}");
    let url = format!("{}/api/clusters/c1/maintenance", r.base);
    let (st, _) = call("PUT", &url, Some(TOKEN), Some(r#"{"enabled": true}"#)).await;
    assert_eq!(st, 200);
    let url = format!("{}/api/clusters/c1/dry-run", r.base);
    let (st, _) = call("PUT", &url, Some(TOKEN), Some(r#"{"enabled": true}"#)).await;
    assert_eq!(st, 200);
    for c in drain(&mut r.rx) {
        c.apply("c1", r.round.policy_mut());
    }
    let after = format!("{:?}", r.round.policy_mut());
    assert!(after.contains("maintenance: true"), "{after}");
    assert!(after.contains("dry_run: true"), "{after}");
}

#[tokio::test]
async fn decommission_put_and_delete() {
    let mut r = start(Some(TOKEN)).await;
    let url = |b: &str| format!("{}/api/clusters/c1/brokers/{b}/decommission", r.base);
    let (st, _) = call("PUT", &url("3"), None, None).await;
    assert_eq!(st, 401);
    let (st, v) = call("PUT", &url("77"), Some(TOKEN), None).await;
    assert_eq!(st, 400, "{v}");
    assert!(v["message"]
        .as_str()
        .unwrap_or("")
        .contains("not registered"));
    let (st, _) = call("PUT", &url("three"), Some(TOKEN), None).await;
    assert_eq!(st, 400);
    let (st, _) = call("DELETE", &url("3"), Some(TOKEN), None).await;
    assert_eq!(st, 404, "not being decommissioned");
    assert!(drain(&mut r.rx).is_empty());
    let (st, v) = call("PUT", &url("3"), Some(TOKEN), None).await;
    assert_eq!(st, 200, "{v}");
    assert_eq!(v["decommission"], serde_json::json!([3]));
    let (st, _) = call("DELETE", &url("3"), None, None).await;
    assert_eq!(st, 401);
    let (st, v) = call("DELETE", &url("3"), Some(TOKEN), None).await;
    assert_eq!(st, 200);
    assert_eq!(v["decommission"], serde_json::json!([]));
    assert_eq!(
        drain(&mut r.rx),
        vec![
            Command::Decommission {
                broker: 3,
                on: true
            },
            Command::Decommission {
                broker: 3,
                on: false
            }
        ]
    );
}

#[tokio::test]
async fn manual_plans_are_dry_runs_until_approved() {
    let mut r = start(Some(TOKEN)).await;
    let url = format!("{}/api/clusters/c1/plans", r.base);
    let body = Some(r#"{"request": "decommission", "brokers": [4]}"#);
    let (st, _) = call("POST", &url, None, body).await;
    assert_eq!(st, 401);
    for bad in [
        r#"{"request": "explode"}"#,
        r#"{"request": "decommission"}"#,
        r#"{"request": "balance", "brokers": [1]}"#,
        r#"{"request": "decommission", "brokers": [42]}"#,
        r#"{"brokers": [1]}"#,
    ] {
        let (st, v) = call("POST", &url, Some(TOKEN), Some(bad)).await;
        assert_eq!(st, 400, "{bad}: {v}");
    }
    let (_, v) = call("GET", &url, None, None).await;
    assert_eq!(
        v["proposals"],
        serde_json::json!([]),
        "nothing planned on bad input"
    );

    let (st, v) = call("POST", &url, Some(TOKEN), body).await;
    assert_eq!(st, 200, "{v}");
    let id = v["id"].as_str().expect("id").to_string();
    assert_eq!(v["approved"], false);
    let moves = v["plan"]["moves"].as_array().expect("moves");
    assert!(!moves.is_empty(), "broker 4 hosts replicas: {v}");
    assert!(v["reassignment_json"]["partitions"].is_array());
    assert!(drain(&mut r.rx).is_empty(), "a dry run sends nothing");

    let approve = format!("{url}/{id}/approve");
    let (st, _) = call("POST", &approve, Some("wrong-token-0123456789"), None).await;
    assert_eq!(st, 401);
    let (st, _) = call("POST", &format!("{url}/p999/approve"), Some(TOKEN), None).await;
    assert_eq!(st, 404);
    let (st, v) = call("POST", &approve, Some(TOKEN), None).await;
    assert_eq!(st, 200, "{v}");
    assert_eq!(v["approved"], true);
    let sent = drain(&mut r.rx);
    assert!(matches!(&sent[..], [Command::Approve(a)] if a.plan.moves.len() == moves.len()));
    let (st, _) = call("POST", &approve, Some(TOKEN), None).await;
    assert_eq!(st, 409, "approved once");

    // The cluster changes (broker 4 leaves every ISR): the old proposal is refused.
    let (_, v) = call("POST", &url, Some(TOKEN), body).await;
    let id2 = v["id"].as_str().expect("id").to_string();
    let mut changed = serve_common::view();
    changed
        .sizes_bytes
        .insert(serve_common::tp("orders", 5), 9_000_000);
    let fleet = r.fleet.clone();
    r.round
        .run(&changed, &fleet, || true, kmedic_master::clock::Now::read)
        .await;
    let (st, v) = call("POST", &format!("{url}/{id2}/approve"), Some(TOKEN), None).await;
    assert_eq!(st, 409, "{v}");
    assert!(
        v["message"]
            .as_str()
            .unwrap_or("")
            .contains("changed since"),
        "{v}"
    );
    assert!(drain(&mut r.rx).is_empty());
}

#[tokio::test]
async fn without_a_token_mutations_are_off() {
    let mut r = start(None).await;
    let url = format!("{}/api/clusters/c1/maintenance", r.base);
    let (st, v) = call("PUT", &url, Some(TOKEN), Some(r#"{"enabled": true}"#)).await;
    assert_eq!(st, 403);
    assert!(v["message"]
        .as_str()
        .unwrap_or("")
        .contains("serve.token_file"));
    assert!(drain(&mut r.rx).is_empty());
    let (st, _) = call("GET", &url, None, None).await;
    assert_eq!(st, 200, "reads stay open");
}

#[tokio::test]
async fn a_stopped_loop_is_a_503_and_changes_nothing() {
    let mut r = start(Some(TOKEN)).await;
    r.rx.clear();
    let url = format!("{}/api/clusters/c1/dry-run", r.base);
    let (st, v) = call("PUT", &url, Some(TOKEN), Some(r#"{"enabled": true}"#)).await;
    assert_eq!(st, 503, "{v}");
    let (_, v) = call("GET", &url, None, None).await;
    assert_eq!(v["dry_run"], false);
}

#[tokio::test]
async fn unknown_paths_are_json_404s() {
    let r = start(Some(TOKEN)).await;
    let (st, v) = call("GET", &format!("{}/api/nothing", r.base), None, None).await;
    assert_eq!(st, 404);
    assert!(v["message"].as_str().unwrap_or("").contains("openapi"));
}

/// Every route the server registers is in the OpenAPI document with its method, and every
/// operation in the document is served (answers something other than the 404/405 of an
/// unknown route).
#[tokio::test]
async fn openapi_matches_the_routes() {
    let r = start(Some(TOKEN)).await;
    let (st, doc) = call("GET", &format!("{}/api/openapi.json", r.base), None, None).await;
    assert_eq!(st, 200);
    let paths = doc["paths"].as_object().expect("paths");
    let mut documented: Vec<(String, String)> = paths
        .iter()
        .flat_map(|(p, ops)| {
            ops.as_object()
                .into_iter()
                .flat_map(|o| o.keys())
                .map(move |m| (m.to_uppercase(), p.clone()))
        })
        .collect();
    documented.sort();
    let mut served: Vec<(String, String)> = Server::api_routes()
        .into_iter()
        .map(|(m, p)| (m.to_string(), p.to_string()))
        .collect();
    served.sort();
    assert_eq!(documented, served);
    for (m, p) in &documented {
        let url = format!(
            "{}{}",
            r.base,
            p.replace("{cluster}", "c1")
                .replace("{broker}", "1")
                .replace("{plan}", "p1")
        );
        let (st, v) = call(m, &url, None, None).await;
        assert!(st != 405, "{m} {p}: {st} {v}");
        if st == 404 {
            assert!(
                !v["message"].as_str().unwrap_or("").contains("no such path"),
                "{m} {p}"
            );
        }
        let op = &paths[p][m.to_lowercase()];
        let secured = op.get("security").is_some();
        assert_eq!(secured, m != "GET", "{m} {p}: security only on mutations");
        if secured {
            assert_eq!(st, 401, "{m} {p} without a token");
        }
    }
}
