//! Shared by the serve_* tests: a board made by a real round over a fixed view, and the server
//! on an ephemeral loopback port.
#![allow(dead_code)]

use kmedic_master::clock::Now;
use kmedic_master::config::MasterConfig;
use kmedic_master::model::Fleet;
use kmedic_master::observe::{
    BrokerView, ClusterView, PartitionView, ReassignmentView, TopicPartition,
};
use kmedic_master::serve::{Receivers, Server};
use kmedic_master::service::{Boards, Round, RoundConfig};

#[path = "../fixture/brokers.rs"]
mod brokers;

/// The token the tests configure.
pub const TOKEN: &str = "test-token-0123456789abcdef";

/// Six brokers in az-a, az-b, az-c; topic `orders` with 6 partitions RF 3; partition 5 is
/// under-replicated (broker 6 out of its ISR); `events-0` is reassigning.
pub fn view() -> ClusterView {
    let mut v = ClusterView {
        cluster_id: "cid-1".into(),
        controller_id: Some(1),
        observed_at_ms: 1,
        ..ClusterView::default()
    };
    brokers::add_six_brokers(&mut v, &[]);
    for id in 1..=6 {
        v.disk_total_bytes.insert(id, 1 << 40);
    }
    for p in 0..6 {
        let a = [1, 4][p as usize % 2];
        let replicas = vec![a, 2 + 3 * (p % 2), 3 + 3 * ((p / 2) % 2)];
        let mut isr = replicas.clone();
        if p == 5 {
            isr.pop();
        }
        v.partitions.push(PartitionView {
            topic: "orders".into(),
            partition: p,
            leader: Some(a),
            replicas,
            isr,
            offline_replicas: vec![],
        });
        v.sizes_bytes
            .insert(tp("orders", p), 1_000_000 * (p as u64 + 1));
    }
    v.partitions.push(PartitionView {
        topic: "events".into(),
        partition: 0,
        leader: Some(2),
        replicas: vec![2, 3, 4],
        isr: vec![2, 3, 4],
        offline_replicas: vec![],
    });
    v.reassignments.insert(
        tp("events", 0),
        ReassignmentView {
            adding: vec![1],
            removing: vec![4],
        },
    );
    v
}

pub fn tp(t: &str, p: i32) -> TopicPartition {
    TopicPartition {
        topic: t.into(),
        partition: p,
    }
}

/// A config with clusters `c1` and `c2` (c2 never observed).
pub fn config() -> MasterConfig {
    let toml = r#"
        [[clusters]]
        name = "c1"
        [clusters.connection]
        bootstrap_servers = ["127.0.0.1:1"]
        [[clusters]]
        name = "c2"
        [clusters.connection]
        bootstrap_servers = ["127.0.0.1:1"]
        [stats.connection]
        bootstrap_servers = ["127.0.0.1:1"]
    "#;
    toml::from_str(toml).expect("test config")
}

/// A server with its boards, command receivers and base URL.
pub struct Running {
    pub base: String,
    pub boards: Boards,
    pub rx: Receivers,
    pub server: Server,
    pub round: Round,
    pub fleet: Fleet,
    stop: Option<tokio::sync::oneshot::Sender<()>>,
}

impl Drop for Running {
    fn drop(&mut self) {
        if let Some(s) = self.stop.take() {
            let _ = s.send(());
        }
    }
}

/// Runs one round of `c1` on [`view`], then serves on 127.0.0.1:0 with `token`.
pub async fn start(token: Option<&str>) -> Running {
    let cfg = config();
    let boards = Boards::new(&cfg);
    let fleet = Fleet::new();
    let rc = RoundConfig {
        cluster: cfg.clusters[0].clone(),
        window: cfg.window,
        ingest: cfg.ingest,
        summary_every_ms: 0,
    };
    let mut round = Round::new(rc, boards.sender("c1").expect("c1 board"));
    round.run(&view(), &fleet, || true, Now::read).await;
    // The round never waits for the failure-headroom what-ifs: later rounds pick the finished
    // run up. Serve once it is on the board, as a running master does a few rounds in.
    let mut headroom = boards.subscribe("c1").expect("board");
    for _ in 0..500 {
        if headroom.borrow_and_update().headroom.is_some() {
            break;
        }
        tokio::time::sleep(std::time::Duration::from_millis(10)).await;
        round.run(&view(), &fleet, || true, Now::read).await;
    }
    let (server, rx) = Server::new(
        &boards,
        &cfg,
        token.map(str::to_string),
        Some(fleet.clone()),
        None,
    );
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0")
        .await
        .expect("bind");
    let base = format!("http://{}", listener.local_addr().expect("addr"));
    let (tx, rx_stop) = tokio::sync::oneshot::channel();
    let s = server.clone();
    tokio::spawn(async move {
        let _ = s
            .serve(listener, async move {
                let _ = rx_stop.await;
            })
            .await;
    });
    Running {
        base,
        boards,
        rx,
        server,
        round,
        fleet,
        stop: Some(tx),
    }
}

/// An HTTP client (the master's reqwest has no default TLS provider: install ring's, as the
/// master does).
pub fn client() -> reqwest::Client {
    let _ = rustls::crypto::ring::default_provider().install_default();
    reqwest::Client::new()
}

/// Sends a request; returns the status and the body parsed as JSON (Null if it is not JSON).
pub async fn call(
    method: &str,
    url: &str,
    token: Option<&str>,
    body: Option<&str>,
) -> (u16, serde_json::Value) {
    let c = client();
    let m = reqwest::Method::from_bytes(method.as_bytes()).expect("method");
    let mut r = c.request(m, url);
    if let Some(t) = token {
        r = r.header("authorization", format!("Bearer {t}"));
    }
    if let Some(b) = body {
        r = r
            .header("content-type", "application/json")
            .body(b.to_string());
    }
    let resp = r.send().await.expect("request");
    let status = resp.status().as_u16();
    let text = resp.text().await.expect("body");
    (
        status,
        serde_json::from_str(&text).unwrap_or(serde_json::Value::Null),
    )
}

/// Every pending command of `c1`.
pub fn drain(rx: &mut Receivers) -> Vec<kmedic_master::serve::Command> {
    let r = rx.get_mut("c1").expect("c1 receiver");
    let mut out = Vec::new();
    while let Ok(c) = r.try_recv() {
        out.push(c);
    }
    out
}
