//! The operator surfaces against a master watching a live testbed (real Kafka 4.3, 6 brokers in
//! az-a/b/c): one broker's net-in limit makes a single failure unabsorbable, and the headroom
//! API, `/metrics` and the web UI (real headless Chromium) all say so, with the figures the API
//! gives. Screenshots: `target/ui-screenshots/live-*.png`.
//!
//! Run: `KMEDIC_MASTER_TEST_PORT_BASE=20000 cargo test -p kmedic-master --test serve_e2e`.

mod chromium;
mod support;

use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::Arc;
use std::time::{Duration, Instant};

use kmedic_common::codec;
use kmedic_common::stats::*;
use kmedic_master::config::BrokerLimitOverride;
use rdkafka::producer::{BaseProducer, BaseRecord, Producer};
use rdkafka::ClientConfig;
use support::*;

/// Bytes appended per second to each partition of the loaded topic.
const RATE: u64 = 10_000_000;

/// Replica sets of topic `load`: broker N is in rack az-(a,b,c)[(N-1) % 3], so each set spans
/// the three racks and every broker hosts three partitions (30 MB/s of net in each).
const ASSIGNMENT: [[i32; 3]; 6] = [
    [1, 2, 3],
    [4, 5, 6],
    [1, 5, 3],
    [4, 2, 6],
    [1, 2, 6],
    [4, 5, 3],
];

/// Full stats for `broker`: its replicas of `load` at [`RATE`], as an agent would report them.
fn full(cid: &str, broker: i32, rack: &str, seq: u64) -> Vec<u8> {
    let replicas = ASSIGNMENT
        .iter()
        .enumerate()
        .filter(|(_, r)| r.contains(&broker))
        .map(|(p, r)| {
            let leader = r[0] == broker;
            ReplicaStats {
                topic: 0,
                partition: p as i32,
                log_dir: 0,
                size_bytes: 1_000_000,
                segments: 1,
                bytes_in_per_sec: Some(RATE),
                // A leader's bytes out holds replication to its two followers plus consumers.
                bytes_out_per_sec: leader.then_some(RATE * 3),
                role: if leader {
                    ReplicaRole::Leader
                } else {
                    ReplicaRole::Follower
                },
                in_sync: Some(true),
                under_replicated: Some(false),
                reassigning: Some(false),
                future: false,
            }
        })
        .collect();
    codec::encode(&StatsRecord::Full(FullStats {
        identity: Identity {
            cluster_id: cid.into(),
            broker_id: broker,
            rack: Some(rack.into()),
            hostname: format!("host-{broker}"),
            az: Some(rack.into()),
            az_source: AzSource::BrokerRack,
            instance_type: None,
            instance_id: None,
            agent_version: "e2e".into(),
        },
        timestamp_ms: now_ms(),
        seq,
        interval_ms: 1000,
        process: ProcessStats::bare(ProcessState::Running),
        // The host's counters: what the broker page charts (three replicas at RATE in).
        host: HostStats {
            net_rx_bytes_per_sec: Some(3 * RATE + seq % 7 * 100_000),
            net_tx_bytes_per_sec: Some(2 * RATE),
            ..HostStats::default()
        },
        log_dirs: vec![],
        topics: vec!["load".into()],
        replicas,
        bytes_out_provenance: Provenance::Measured,
        missing: vec![],
    }))
}

/// Publishes [`full`] for every broker every second until dropped.
struct FullAgents {
    stop: Arc<AtomicBool>,
    thread: Option<std::thread::JoinHandle<()>>,
}

impl FullAgents {
    fn start(tb: &kmedic_tests::Testbed, topic: &str) -> Self {
        let stop = Arc::new(AtomicBool::new(false));
        let (bootstrap, topic, cid) = (tb.bootstrap(), topic.to_string(), tb.cluster_id());
        let racks: Vec<(i32, String)> = tb
            .broker_ids()
            .into_iter()
            .map(|b| (b, tb.rack(b)))
            .collect();
        let s = stop.clone();
        let thread = std::thread::spawn(move || {
            let p: BaseProducer = ClientConfig::new()
                .set("bootstrap.servers", &bootstrap)
                .create()
                .expect("producer");
            let mut seq = 1_000_000;
            while !s.load(Ordering::Relaxed) {
                seq += 1;
                for (b, rack) in &racks {
                    let bytes = full(&cid, *b, rack, seq);
                    let _ = p.send(BaseRecord::<(), [u8]>::to(&topic).payload(&bytes));
                }
                p.flush(Duration::from_secs(5)).ok();
                std::thread::sleep(Duration::from_secs(1));
            }
        });
        Self {
            stop,
            thread: Some(thread),
        }
    }
}

impl Drop for FullAgents {
    fn drop(&mut self) {
        self.stop.store(true, Ordering::Relaxed);
        if let Some(t) = self.thread.take() {
            let _ = t.join();
        }
    }
}

fn free_port() -> std::net::SocketAddr {
    let l = std::net::TcpListener::bind("127.0.0.1:0").expect("bind");
    l.local_addr().expect("addr")
}

fn get(url: &str) -> serde_json::Value {
    let out = std::process::Command::new("curl")
        .args(["-sf", "--max-time", "30", url])
        .output()
        .expect("curl");
    serde_json::from_slice(&out.stdout).unwrap_or(serde_json::Value::Null)
}

#[test]
fn one_small_broker_makes_a_single_failure_unabsorbable_and_every_surface_says_so() {
    let _serial = serial();
    init_logs();
    let tb = testbed(60, 6);
    let stats = stats_topic_avoiding(&tb, 0);
    tb.create_topic_with_assignment(
        "load",
        &ASSIGNMENT.iter().map(|r| r.to_vec()).collect::<Vec<_>>(),
    )
    .expect("topic load");
    let _agents = Agents::start(&tb, &stats, 6);
    let _full = FullAgents::start(&tb, &stats);
    let dir = tempfile::tempdir().expect("dir");
    let mut cfg = config(&tb, &stats, dir.path());
    // Broker 4 (az-a) can take 35 MB/s in and carries 30: when broker 1 (its only rack mate)
    // dies, 30 MB/s of replicas have nowhere to go in az-a.
    cfg.clusters[0].limits.overrides.push(BrokerLimitOverride {
        broker_id: 4,
        in_bytes_per_sec: Some(35_000_000),
        out_bytes_per_sec: None,
    });
    // The testbed's log dirs share this machine's disk, whose fill level is not the test's
    // business: only the network limit should bind.
    cfg.clusters[0].planner.max_disk_utilization = 1.0;
    let addr = free_port();
    cfg.serve.bind = addr;
    let base = format!("http://{addr}");
    let cfg_path = dir.path().join("master.toml");
    std::fs::write(&cfg_path, toml::to_string(&cfg).expect("config as TOML")).expect("write");
    let mut master = Master::start(cfg);

    let deadline = Instant::now() + Duration::from_secs(180);
    let mut h = serde_json::Value::Null;
    // The round never waits for its what-ifs (a later round picks them up, while the API may
    // answer from its own run meanwhile): wait for the finding too.
    let has_finding = |f: &serde_json::Value| {
        f["findings"]
            .as_array()
            .is_some_and(|a| a.iter().any(|x| x["kind"] == "NoFailureHeadroom"))
    };
    while Instant::now() < deadline {
        let _ = master.next(Instant::now() + Duration::from_secs(5));
        h = get(&format!("{base}/api/clusters/e2e/headroom"));
        if h["unabsorbable_brokers"] == serde_json::json!([1])
            && has_finding(&get(&format!("{base}/api/clusters/e2e/findings")))
        {
            break;
        }
    }
    assert_eq!(
        h["unabsorbable_brokers"],
        serde_json::json!([1]),
        "headroom: {h:#}"
    );
    assert_eq!(h["absorbs_any_broker"], serde_json::Value::Bool(false));
    // ... and it is a finding of the round, alert only: never a reason to move data.
    let findings = get(&format!("{base}/api/clusters/e2e/findings"));
    let nfh: Vec<&serde_json::Value> = findings["findings"]
        .as_array()
        .into_iter()
        .flatten()
        .filter(|f| f["kind"] == "NoFailureHeadroom")
        .collect();
    assert_eq!(nfh.len(), 1, "{findings:#}");
    assert_eq!(nfh[0]["broker"], 1);
    assert!(
        nfh[0]["evidence"]
            .as_str()
            .is_some_and(|e| e.contains("if broker 1 were lost") && e.contains("no_target")),
        "{:#}",
        nfh[0]
    );
    let decisions = get(&format!("{base}/api/clusters/e2e/decisions"));
    for d in decisions["decisions"].as_array().into_iter().flatten() {
        if d["finding"] == "NoFailureHeadroom" {
            assert!(d["verdict"] == "Hold" || d["verdict"] == "Alert", "{d:#}");
        }
    }
    let w = h["brokers"]
        .as_array()
        .and_then(|ws| ws.iter().find(|w| w["lost"]["broker"] == 1))
        .expect("broker 1 what-if");
    assert!(w["reasons"]["no_target"].as_u64().unwrap_or(0) > 0, "{w:#}");
    assert!(
        w["examples"][0]
            .as_str()
            .unwrap_or("")
            .contains("no target broker"),
        "{w:#}"
    );
    // The brokers' figures behind it: broker 1 carries 30 MB/s in, broker 4's limit is 35.
    let bs = get(&format!("{base}/api/clusters/e2e/brokers"));
    let b = |id: i64| {
        bs["brokers"]
            .as_array()
            .and_then(|v| v.iter().find(|b| b["id"] == id))
            .cloned()
            .unwrap_or_default()
    };
    // Demand windows hold 16-bit minifloats: the figure is RATE x 3 within 0.1 %.
    let in1 = b(1)["net_in_bytes_per_sec"].as_u64().unwrap_or(0);
    assert!(in1.abs_diff(3 * RATE) <= 3 * RATE / 1000, "{bs:#}");
    assert_eq!(b(4)["net_in_limit_bytes_per_sec"], 35_000_000);

    // /metrics says the same.
    let out = std::process::Command::new("curl")
        .args(["-sf", "--max-time", "30", &format!("{base}/metrics")])
        .output()
        .expect("curl");
    let text = String::from_utf8_lossy(&out.stdout);
    let scrape = prometheus_parse::Scrape::parse(text.lines().map(|l| Ok(l.to_string())))
        .expect("metrics parse");
    let unabsorbable = scrape
        .samples
        .iter()
        .find(|s| s.metric == "kmedic_headroom_unabsorbable_brokers")
        .map(|s| format!("{:?}", s.value));
    assert_eq!(unabsorbable.as_deref(), Some("Gauge(1.0)"), "{text}");

    // The UI, in headless Chromium.
    let dom = browser::render(&format!("{base}/#/c/e2e"), "live-cluster");
    assert_eq!(browser::value(&dom, "absorbs_any_broker"), "NO");
    let row = browser::element(&dom, "data-broker", "1", "tr");
    assert_eq!(browser::value(row, "net_in"), in1.to_string());
    assert!(
        dom.contains("data-lost=\"{&quot;broker&quot;:1}\""),
        "broker 1's what-if row"
    );
    // Broker 1's page charts its host traffic from the agent's records.
    let hist = get(&format!("{base}/api/clusters/e2e/brokers/1/history"));
    let points = hist["points"].as_array().map_or(0, Vec::len);
    assert!(points > 0, "{hist:#}");
    let dom = browser::render(&format!("{base}/#/c/e2e/b/1"), "live-broker");
    let shown: usize = browser::value(&dom, "chart_points").parse().unwrap_or(0);
    assert!(shown > 0, "the chart draws the samples");
    // The action history answers from the master's action log (open on the testbed).
    let acts = get(&format!("{base}/api/clusters/e2e/actions"));
    assert!(acts["total"].is_u64(), "{acts:#}");
    let dom = browser::render(&format!("{base}/#/c/e2e/actions"), "live-actions");
    // The master may record an action while the page loads: the page shows a total between
    // what the API said just before and just after.
    let after = get(&format!("{base}/api/clusters/e2e/actions"));
    let (lo, hi) = (
        acts["total"].as_u64().unwrap_or(0),
        after["total"].as_u64().unwrap_or(0),
    );
    let shown: u64 = browser::value(&dom, "actions_total")
        .parse()
        .unwrap_or(u64::MAX);
    assert!(
        (lo..=hi).contains(&shown),
        "the page shows {shown} actions, the API {lo} before and {hi} after"
    );
    // The cluster is live: its health may change while the page loads, so the page must show
    // what the API said just before or just after.
    let health = || {
        get(&format!("{base}/api/clusters"))["clusters"][0]["health"]
            .as_str()
            .unwrap_or("?")
            .to_string()
    };
    let before = health();
    let dom = browser::render(&format!("{base}/#/"), "live-fleet");
    let after = health();
    let row = browser::element(&dom, "data-cluster", "e2e", "tr");
    let shown = browser::value(row, "health");
    assert!(
        shown == before || shown == after,
        "{shown} vs {before}/{after}"
    );

    // The CLI: `status` reads the running master's API; `headroom` observes the cluster itself
    // (no checkpoint given, so no rates: only disk and racks bind, and it says so).
    let bin = env!("CARGO_BIN_EXE_kmedic-master");
    let text = cli_ok(std::process::Command::new(bin).args(["status", "--url", &base]));
    assert!(
        text.lines().nth(1).is_some_and(|l| l.starts_with("e2e")),
        "{text}"
    );
    // `headroom` with the master's config: the same limits, and rates from its checkpoint.
    let text = cli_ok(
        std::process::Command::new(bin)
            .args(["headroom", "--cluster", "e2e", "--config"])
            .arg(&cfg_path),
    );
    assert!(
        text.contains("absorbs the loss of any one broker: NO"),
        "{text}"
    );
    let failing: Vec<&str> = text.lines().filter(|l| l.starts_with("broker ")).collect();
    assert_eq!(failing.len(), 1, "{text}");
    assert!(failing[0].starts_with("broker 1 "), "{text}");
    master.shutdown().expect("master stops cleanly");
}

/// Runs a CLI command to its end; checks that it succeeded and returns its stdout.
fn cli_ok(cmd: &mut std::process::Command) -> String {
    let out = cmd.output().expect("the CLI runs");
    assert!(
        out.status.success(),
        "{:?}: {}",
        cmd,
        String::from_utf8_lossy(&out.stderr)
    );
    String::from_utf8_lossy(&out.stdout).into_owned()
}

/// Headless Chromium, blocking (this test has no async runtime of its own).
mod browser {
    use super::chromium::{args, binary, screenshot_args, shots_dir};
    pub use super::chromium::{element, value};

    fn run(url: &str, extra: &[String]) -> String {
        let profile = tempfile::tempdir().expect("profile");
        let out = std::process::Command::new("timeout")
            .arg("60")
            .arg(binary())
            .args(args(url, extra, profile.path()))
            .output()
            .expect("chromium (apt-get install -y chromium)");
        assert!(
            out.status.success(),
            "{}",
            String::from_utf8_lossy(&out.stderr)
        );
        String::from_utf8_lossy(&out.stdout).into_owned()
    }

    pub fn render(url: &str, name: &str) -> String {
        let dom = run(url, &["--dump-dom".into()]);
        assert!(dom.contains("data-ready=\"1\""), "{dom}");
        let shot = shots_dir().join(format!("{name}.png"));
        run(url, &screenshot_args(&shot));
        assert!(shot.exists());
        dom
    }
}
