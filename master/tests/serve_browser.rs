//! The web UI in a real headless Chromium (Debian's `chromium`, installed by `.ci/run`) against
//! the server fed by a board from a real round: each page renders, and its figures (the
//! `data-k` / `data-v` attributes) match the API. Screenshots go to
//! `target/ui-screenshots/` (artifacts, not committed).

mod serve_common;

use std::path::PathBuf;
use std::time::Duration;

use serde_json::Value;
use serve_common::{call, start, TOKEN};

fn chromium() -> String {
    if let Ok(c) = std::env::var("KMEDIC_CHROMIUM") {
        return c;
    }
    for c in ["chromium", "chromium-browser", "google-chrome"] {
        if std::process::Command::new(c)
            .arg("--version")
            .output()
            .is_ok_and(|o| o.status.success())
        {
            return c.to_string();
        }
    }
    panic!(
        "no headless Chromium: install Debian's `chromium` (`apt-get install -y chromium`, as \
         .ci/run does) or set KMEDIC_CHROMIUM"
    );
}

fn shots_dir() -> PathBuf {
    let d = PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("../target/ui-screenshots");
    std::fs::create_dir_all(&d).expect("screenshot dir");
    d
}

/// Runs headless Chromium on `url` with `extra` args; returns stdout. Killed after 60 s.
async fn headless(url: &str, extra: &[String]) -> String {
    let profile = tempfile::tempdir().expect("profile dir");
    let mut cmd = tokio::process::Command::new(chromium());
    cmd.args([
        "--headless",
        "--no-sandbox",
        "--disable-gpu",
        "--disable-dev-shm-usage",
        "--no-first-run",
        "--hide-scrollbars",
        "--virtual-time-budget=4000",
    ])
    .arg(format!("--user-data-dir={}", profile.path().display()))
    .args(extra)
    .arg(url)
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
    let shot = shots_dir().join(format!("{name}.png"));
    let _ = std::fs::remove_file(&shot);
    headless(
        url,
        &[
            format!("--screenshot={}", shot.display()),
            "--window-size=1400,1500".to_string(),
        ],
    )
    .await;
    assert!(
        std::fs::metadata(&shot).is_ok_and(|m| m.len() > 10_000),
        "no screenshot at {}",
        shot.display()
    );
    dom
}

/// The element opened by the first `<... {attr}="{val}"`, up to its closing tag `</{tag}>`.
fn element<'a>(dom: &'a str, attr: &str, val: &str, tag: &str) -> &'a str {
    let needle = format!("{attr}=\"{val}\"");
    let i = dom
        .find(&needle)
        .unwrap_or_else(|| panic!("no {needle} in the page"));
    let end = dom[i..]
        .find(&format!("</{tag}>"))
        .map_or(dom.len(), |j| i + j);
    &dom[i..end]
}

/// The `data-v` of the first `data-k="{k}"` in `html`.
fn value(html: &str, k: &str) -> String {
    let needle = format!("data-k=\"{k}\" data-v=\"");
    let i = html
        .find(&needle)
        .unwrap_or_else(|| panic!("no figure {k} in {html}"))
        + needle.len();
    let end = html[i..].find('"').map_or(html.len(), |j| i + j);
    html[i..end].to_string()
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
    assert_eq!(value(&dom, "absorbs_any_rack"), yes(&h["absorbs_any_rack"]));
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

    let dom = render(&format!("{}/#/c/c1/b/4", r.base), "broker").await;
    let (_, b4) = call(
        "GET",
        &format!("{}/api/clusters/c1/brokers/4", r.base),
        None,
        None,
    )
    .await;
    assert_eq!(value(&dom, "replicas"), s(&b4["broker"]["replicas"]));
    assert_eq!(value(&dom, "leaders"), s(&b4["broker"]["leaders"]));

    // A cluster never observed shows the API's message, not a blank page.
    let dom = render(&format!("{}/#/c/c2", r.base), "cluster-unobserved").await;
    assert!(dom.contains("not observed yet"), "{dom}");
}
