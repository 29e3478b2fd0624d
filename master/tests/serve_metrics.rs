//! `/metrics` scraped over HTTP and parsed by a Prometheus text-format parser: the figures
//! match the board, the model's ingest counters and the headroom report.

mod serve_common;

use std::collections::BTreeMap;
use std::sync::atomic::Ordering;
use std::sync::Arc;

use kmedic_master::ingest::Ingest;
use kmedic_master::serve::Server;
use prometheus_parse::{Sample, Scrape, Value};
use serve_common::{config, start, TOKEN};

async fn scrape(base: &str) -> Scrape {
    let resp = reqwest::get(format!("{base}/metrics"))
        .await
        .expect("scrape");
    assert_eq!(resp.status().as_u16(), 200);
    let ct = resp
        .headers()
        .get("content-type")
        .and_then(|v| v.to_str().ok())
        .unwrap_or("")
        .to_string();
    assert!(
        ct.contains("openmetrics-text") || ct.contains("text/plain"),
        "{ct}"
    );
    let text = resp.text().await.expect("body");
    Scrape::parse(text.lines().map(|l| Ok(l.to_string()))).expect("parses")
}

fn value(v: &Value) -> f64 {
    match v {
        Value::Counter(x) | Value::Gauge(x) | Value::Untyped(x) => *x,
        _ => f64::NAN,
    }
}

fn find<'a>(s: &'a Scrape, metric: &str, labels: &[(&str, &str)]) -> Option<&'a Sample> {
    s.samples
        .iter()
        .find(|x| x.metric == metric && labels.iter().all(|(k, v)| x.labels.get(k) == Some(*v)))
}

fn get(s: &Scrape, metric: &str, labels: &[(&str, &str)]) -> f64 {
    find(s, metric, labels)
        .map(|x| value(&x.value))
        .unwrap_or_else(|| panic!("no {metric} {labels:?}"))
}

#[tokio::test]
async fn metrics_match_the_board() {
    let r = start(Some(TOKEN)).await;
    let s = scrape(&r.base).await;
    let b = r.boards.subscribe("c1").expect("board").borrow().clone();
    let c1 = [("cluster", "c1")];
    assert_eq!(get(&s, "kmedic_partitions", &c1), 7.0);
    assert_eq!(get(&s, "kmedic_under_replicated_partitions", &c1), 1.0);
    assert_eq!(get(&s, "kmedic_offline_partitions", &c1), 0.0);
    assert_eq!(get(&s, "kmedic_in_flight_reassignments", &c1), 1.0);
    assert_eq!(get(&s, "kmedic_rounds", &c1), b.round as f64);
    let states: f64 = s
        .samples
        .iter()
        .filter(|x| x.metric == "kmedic_brokers" && x.labels.get("cluster") == Some("c1"))
        .map(|x| value(&x.value))
        .sum();
    assert_eq!(states, 6.0);
    assert_eq!(
        get(
            &s,
            "kmedic_brokers",
            &[("cluster", "c1"), ("state", "no_stats")]
        ),
        b.brokers.no_stats as f64
    );
    let mut kinds: BTreeMap<String, usize> = BTreeMap::new();
    for f in &b.findings {
        *kinds.entry(format!("{:?}", f.kind)).or_default() += 1;
    }
    assert!(!kinds.is_empty());
    for (kind, n) in &kinds {
        assert_eq!(
            get(&s, "kmedic_findings", &[("cluster", "c1"), ("kind", kind)]),
            *n as f64,
            "{kind}"
        );
    }
    let decisions: f64 = s
        .samples
        .iter()
        .filter(|x| x.metric == "kmedic_decisions")
        .map(|x| value(&x.value))
        .sum();
    assert_eq!(decisions, b.decisions.len() as f64);
    for control in ["maintenance", "dry_run", "mass_failure_override"] {
        assert_eq!(
            get(
                &s,
                "kmedic_control",
                &[("cluster", "c1"), ("control", control)]
            ),
            0.0
        );
    }
    // Per-broker figures: utilization in and out for all six.
    for id in 1..=6 {
        let id = id.to_string();
        for dir in ["in", "out"] {
            let u = get(
                &s,
                "kmedic_broker_net_utilization",
                &[("cluster", "c1"), ("broker", &id), ("direction", dir)],
            );
            assert!((0.0..=1.0).contains(&u), "{id} {dir} {u}");
        }
    }
    // Headroom: the same report the API gives.
    let (_, h) = serve_common::call(
        "GET",
        &format!("{}/api/clusters/c1/headroom", r.base),
        None,
        None,
    )
    .await;
    let absorbs = h["absorbs_any_broker"].as_bool().expect("bool");
    assert_eq!(
        get(&s, "kmedic_headroom_absorbs_any_broker", &c1),
        f64::from(u8::from(absorbs))
    );
    assert_eq!(
        get(&s, "kmedic_headroom_unabsorbable_brokers", &c1),
        h["unabsorbable_brokers"].as_array().map_or(0, Vec::len) as f64
    );
    assert!(find(&s, "kmedic_headroom_seconds", &c1).is_some());
    // c2 was never observed: counts are zero, no per-broker series, no headroom.
    assert_eq!(get(&s, "kmedic_partitions", &[("cluster", "c2")]), 0.0);
    assert!(find(&s, "kmedic_headroom_seconds", &[("cluster", "c2")]).is_none());
    // Process metrics.
    assert!(get(&s, "process_resident_memory_bytes", &[]) > 1e6);
    assert!(get(&s, "process_open_fds", &[]) >= 3.0);
    assert!(get(&s, "process_start_time_seconds", &[]) > 1.6e9);
    assert!(find(&s, "process_cpu_seconds_total", &[]).is_some());
}

#[tokio::test]
async fn ingest_counters_are_exported() {
    let cfg = config();
    let boards = kmedic_master::service::Boards::new(&cfg);
    let ingest = Arc::new(Ingest::with_config(
        kmedic_master::model::Fleet::new(),
        cfg.ingest,
    ));
    let counters = &ingest.counters;
    counters.applied.store(41, Ordering::Relaxed);
    counters.undecodable.store(3, Ordering::Relaxed);
    counters.skewed.store(2, Ordering::Relaxed);
    counters.too_large.store(1, Ordering::Relaxed);
    let (server, _rx) = Server::new(&boards, &cfg, None, None, Some(ingest.clone()));
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0")
        .await
        .expect("bind");
    let base = format!("http://{}", listener.local_addr().expect("addr"));
    let (tx, rx) = tokio::sync::oneshot::channel::<()>();
    tokio::spawn(server.serve(listener, async move {
        let _ = rx.await;
    }));
    let s = scrape(&base).await;
    let n = |o: &str| get(&s, "kmedic_ingest_records_total", &[("outcome", o)]);
    assert_eq!(n("applied"), 41.0);
    assert_eq!(n("undecodable"), 3.0);
    assert_eq!(n("refused_clock_skew"), 2.0);
    assert_eq!(n("refused_too_large"), 1.0);
    let _ = tx.send(());
}
