//! The web UI in a real headless Chromium (Debian's `chromium`, installed by `.ci/run`) against
//! the server fed by a board from a real round: each page renders, and its figures (the
//! `data-k` / `data-v` attributes) match the API. Screenshots go to
//! `target/ui-screenshots/` (artifacts, not committed).

mod chromium;
mod serve_common;

use std::time::Duration;

use chromium::{element, value};
use serde_json::Value;
use serve_common::{call, start, TOKEN};

/// Runs headless Chromium on `url` with `extra` args; returns stdout. Killed after 60 s.
async fn headless(url: &str, extra: &[String]) -> String {
    let profile = tempfile::tempdir().expect("profile dir");
    let mut cmd = tokio::process::Command::new(chromium::binary());
    cmd.args(chromium::args(url, extra, profile.path()))
        .kill_on_drop(true)
        .stdin(std::process::Stdio::null());
    let out = tokio::time::timeout(Duration::from_secs(60), cmd.output())
        .await
        .expect("chromium finished within 60 s")
        .expect("chromium ran");
    assert!(
        out.status.success(),
        "chromium failed: {}",
        String::from_utf8_lossy(&out.stderr)
    );
    String::from_utf8_lossy(&out.stdout).into_owned()
}

/// The rendered DOM of `url`, and a screenshot of it saved as `name`.png.
async fn render(url: &str, name: &str) -> String {
    let dom = headless(url, &["--dump-dom".to_string()]).await;
    assert!(
        dom.contains("data-ready=\"1\""),
        "page did not finish: {dom}"
    );
    let shot = chromium::shots_dir().join(format!("{name}.png"));
    let _ = std::fs::remove_file(&shot);
    headless(url, &chromium::screenshot_args(&shot)).await;
    assert!(
        std::fs::metadata(&shot).is_ok_and(|m| m.len() > 10_000),
        "no screenshot at {}",
        shot.display()
    );
    dom
}

fn s(v: &Value) -> String {
    match v {
        Value::String(s) => s.clone(),
        Value::Null => String::new(),
        other => other.to_string(),
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn pages_render_and_match_the_api() {
    let r = start(Some(TOKEN)).await;
    // Maintenance on through the API: the fleet page must show it.
    let url = format!("{}/api/clusters/c1/maintenance", r.base);
    let (st, _) = call("PUT", &url, Some(TOKEN), Some(r#"{"enabled": true}"#)).await;
    assert_eq!(st, 200);

    let dom = render(&format!("{}/#/", r.base), "fleet").await;
    let (_, fleet) = call("GET", &format!("{}/api/clusters", r.base), None, None).await;
    for c in fleet["clusters"].as_array().expect("clusters") {
        let row = element(
            &dom,
            "data-cluster",
            c["cluster"].as_str().unwrap_or(""),
            "tr",
        );
        assert_eq!(value(row, "health"), s(&c["health"]));
        assert_eq!(value(row, "round"), s(&c["round"]));
        assert_eq!(value(row, "partitions"), s(&c["partitions"]));
        assert_eq!(value(row, "urp"), s(&c["under_replicated"]));
        assert_eq!(value(row, "findings"), s(&c["findings"]));
        assert_eq!(value(row, "maintenance"), s(&c["maintenance"]));
    }
    assert_eq!(
        value(element(&dom, "data-cluster", "c1", "tr"), "maintenance"),
        "true"
    );

    let dom = render(&format!("{}/#/c/c1", r.base), "cluster").await;
    let (_, c1) = call("GET", &format!("{}/api/clusters/c1", r.base), None, None).await;
    assert_eq!(value(&dom, "partitions"), s(&c1["view"]["partitions"]));
    assert_eq!(value(&dom, "urp"), s(&c1["view"]["under_replicated"]));
    assert_eq!(value(&dom, "in_flight"), "1");
    let (_, bs) = call(
        "GET",
        &format!("{}/api/clusters/c1/brokers", r.base),
        None,
        None,
    )
    .await;
    for b in bs["brokers"].as_array().expect("brokers") {
        let row = element(&dom, "data-broker", &s(&b["id"]), "tr");
        assert_eq!(value(row, "state"), s(&b["state"]));
        assert_eq!(value(row, "replicas"), s(&b["replicas"]));
        assert_eq!(value(row, "leaders"), s(&b["leaders"]));
        assert_eq!(value(row, "net_in"), s(&b["net_in_bytes_per_sec"]));
        assert_eq!(value(row, "net_out"), s(&b["net_out_bytes_per_sec"]));
    }
    let (_, h) = call(
        "GET",
        &format!("{}/api/clusters/c1/headroom", r.base),
        None,
        None,
    )
    .await;
    let yes = |v: &Value| {
        if v.as_bool() == Some(true) {
            "yes"
        } else {
            "NO"
        }
    };
    assert_eq!(
        value(&dom, "absorbs_any_broker"),
        yes(&h["absorbs_any_broker"])
    );
    // A lost AZ at RF = AZ count is expected (never co-locate), not a NO.
    let rack_card = if h["rack_loss_expected"].as_bool() == Some(true)
        && h["absorbs_any_rack"].as_bool() != Some(true)
    {
        "expected"
    } else {
        yes(&h["absorbs_any_rack"])
    };
    assert_eq!(value(&dom, "absorbs_any_rack"), rack_card);
    let racks_table = element(&dom, "id", "headroom-racks", "table");
    for w in h["racks"].as_array().expect("racks") {
        let row = element(racks_table, "data-lost", &html_json(&w["lost"]), "tr");
        assert_eq!(value(row, "verdict"), s(&w["verdict"]));
    }
    let (_, ts) = call(
        "GET",
        &format!("{}/api/clusters/c1/topics", r.base),
        None,
        None,
    )
    .await;
    for t in ts["topics"].as_array().expect("topics") {
        let row = element(&dom, "data-topic", t["topic"].as_str().unwrap_or(""), "tr");
        assert_eq!(value(row, "partitions"), s(&t["partitions"]));
        assert_eq!(value(row, "urp"), s(&t["under_replicated"]));
    }
    assert_eq!(value(&dom, "reassignment"), "events-0");

    // An hour of broker 4's host traffic in the model: the chart draws every point.
    let now = kmedic_master::clock::wall_ms();
    {
        let m = r.fleet.get("cid-1").expect("model");
        let mut m = kmedic_master::model::lock(&m);
        for i in 0..360u64 {
            let wave = (i as f64 / 20.0).sin().abs();
            m.history.record(
                4,
                kmedic_master::model::history::NetPoint {
                    at_ms: now - (360 - i) * 10_000,
                    rx_bytes_per_sec: Some(20_000_000 + (wave * 30_000_000.0) as u64),
                    tx_bytes_per_sec: Some(35_000_000 + (i * 40_000)),
                },
            );
        }
    }
    let dom = render(&format!("{}/#/c/c1/b/4", r.base), "broker").await;
    let (_, hist) = call(
        "GET",
        &format!("{}/api/clusters/c1/brokers/4/history", r.base),
        None,
        None,
    )
    .await;
    let points = hist["points"].as_array().expect("points");
    assert_eq!(value(&dom, "chart_points"), points.len().to_string());
    let last = points.last().expect("a point");
    assert_eq!(value(&dom, "chart_rx"), s(&last["rx_bytes_per_sec"]));
    assert_eq!(value(&dom, "chart_tx"), s(&last["tx_bytes_per_sec"]));
    let (_, b4) = call(
        "GET",
        &format!("{}/api/clusters/c1/brokers/4", r.base),
        None,
        None,
    )
    .await;
    assert_eq!(value(&dom, "replicas"), s(&b4["broker"]["replicas"]));
    assert_eq!(value(&dom, "leaders"), s(&b4["broker"]["leaders"]));

    // The action history page, all and filtered, against the API.
    r.server.attach_actions(actions());
    let dom = render(&format!("{}/#/c/c1/actions", r.base), "actions").await;
    let (_, all) = call(
        "GET",
        &format!("{}/api/clusters/c1/actions?limit=50", r.base),
        None,
        None,
    )
    .await;
    assert_eq!(value(&dom, "actions_total"), s(&all["total"]));
    let table = element(&dom, "id", "actions", "table");
    assert_eq!(
        table.matches("data-action=").count(),
        all["actions"].as_array().map_or(0, Vec::len)
    );
    let first = &all["actions"][0];
    let row = element(table, "data-action", &s(&first["action_id"]), "tr");
    assert_eq!(value(row, "kind"), s(&first["kind_name"]));
    let dom = render(
        &format!("{}/#/c/c1/actions?kind=reassign&outcome=failed", r.base),
        "actions-filtered",
    )
    .await;
    let (_, some) = call(
        "GET",
        &format!(
            "{}/api/clusters/c1/actions?kind=reassign&outcome=failed",
            r.base
        ),
        None,
        None,
    )
    .await;
    assert_eq!(value(&dom, "actions_total"), s(&some["total"]));
    assert_eq!(s(&some["total"]), "1");
    assert_eq!(value(&dom, "status"), "failed");

    // A cluster never observed shows the API's message, not a blank page.
    let dom = render(&format!("{}/#/c/c2", r.base), "cluster-unobserved").await;
    assert!(dom.contains("not observed yet"), "{dom}");
}

/// `v` as the page writes it in an attribute (JSON, HTML-escaped).
fn html_json(v: &Value) -> String {
    v.to_string().replace('"', "&quot;")
}

/// A small action history of `cid-1`: a heal's throttle, a batch that failed, its clear, a mode.
fn actions() -> kmedic_master::actionlog::ActionHistory {
    use kmedic_master::actionlog::{
        ActionHistory, ActionKind, ActionRecord, Mode, Outcome, OutcomeStatus, PartitionRef,
    };
    let ok = |r: &ActionRecord, status, detail: &str| {
        r.outcome_of(Outcome {
            status,
            detail: detail.into(),
            command: None,
        })
    };
    let throttle = ActionRecord::intent(
        "cid-1",
        "m1-1",
        Some(kmedic_master::policy::DecisionId(3)),
        ActionKind::SetThrottle {
            rate_bytes_per_sec: 4 << 20,
        },
        "heal broker 6: throttle before moving",
        "m1",
    );
    let mut batch = ActionRecord::intent(
        "cid-1",
        "m1-2",
        Some(kmedic_master::policy::DecisionId(3)),
        ActionKind::Reassign {
            targets: vec![vec![1, 2, 3], vec![4, 5, 3]],
            bytes: 3_000_000,
        },
        "heal broker 6: its replicas to rack-correct brokers",
        "m1",
    );
    batch.partitions = vec![
        PartitionRef {
            topic: "orders".into(),
            partition: 0,
        },
        PartitionRef {
            topic: "orders".into(),
            partition: 5,
        },
    ];
    batch.brokers = vec![6];
    let clear = ActionRecord::intent(
        "cid-1",
        "m1-3",
        None,
        ActionKind::ClearThrottle,
        "plan ended: throttles off",
        "m1",
    );
    let mode = ActionRecord::state(
        "cid-1",
        "m1-4",
        ActionKind::SetMode {
            mode: Mode::Maintenance,
            on: true,
        },
        "operator set maintenance on through the API",
        "m1",
    );
    let h = ActionHistory::default();
    h.push(&[
        throttle.clone(),
        ok(
            &throttle,
            OutcomeStatus::Succeeded,
            "4 MiB/s on every broker",
        ),
        batch.clone(),
        ok(
            &batch,
            OutcomeStatus::Failed,
            "destination 3 died: cancelled",
        ),
        clear.clone(),
        ok(&clear, OutcomeStatus::Succeeded, "verified gone"),
        mode,
    ]);
    h
}
