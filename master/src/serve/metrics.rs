//! Prometheus `/metrics` for the master. Figures are read from the boards at scrape time into a
//! fresh registry (a collector, not counters kept in step with the round), so a scrape always
//! shows the newest round and costs nothing between scrapes.
//!
//! Headroom is the expensive figure (one heal plan per broker and per rack); it is computed once
//! per board round and cached here, for `/metrics` and the API alike.

use std::collections::BTreeMap;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex};

use axum::extract::State;
use axum::http::header;
use axum::response::IntoResponse;
use prometheus_client::encoding::text::encode;
use prometheus_client::metrics::counter::Counter;
use prometheus_client::metrics::family::Family;
use prometheus_client::metrics::gauge::Gauge;
use prometheus_client::registry::Registry;

use super::{api, figures, lock, ClusterHandle, Shared};
use crate::headroom::{self, Report};
use crate::policy::Verdict;

type Labels = Vec<(&'static str, String)>;
type IntFamily = Family<Labels, Gauge>;
type FloatFamily = Family<Labels, Gauge<f64, AtomicU64>>;

/// Headroom is recomputed at most this often (it plans once per broker and rack: about 18 s of
/// CPU at 200 brokers and 1M replicas on one core, see BENCHMARKS.md), and only when a new
/// round has run.
pub const HEADROOM_MIN_INTERVAL: std::time::Duration = std::time::Duration::from_secs(60);

/// The headroom cache: per cluster, the board round it was computed for, when, and the report.
#[derive(Debug, Default)]
pub struct Metrics {
    headroom: Mutex<BTreeMap<String, Cached>>,
}

/// A cached headroom report: the round it was computed on, when, and the report.
type Cached = (u64, std::time::Instant, Arc<Report>);

impl Metrics {
    /// An empty cache.
    pub fn new() -> Self {
        Self::default()
    }

    /// The headroom of `cluster`: the cached report while no round has run since, or while it
    /// is younger than [`HEADROOM_MIN_INTERVAL`]; else computed anew (`None` before the first
    /// observation).
    /// Returns the round the report was computed on, and the report.
    pub fn headroom(
        &self,
        s: &Shared,
        cluster: &str,
        h: &ClusterHandle,
    ) -> Option<(u64, Arc<Report>)> {
        // The round's own what-ifs (the headroom finding's) when it has made them.
        {
            let b = h.board.borrow();
            if let Some(rep) = &b.headroom {
                return Some((b.round, rep.clone()));
            }
        }
        let round = h.board.borrow().round;
        if let Some((r, at, rep)) = lock(&self.headroom).get(cluster) {
            if *r == round || at.elapsed() < HEADROOM_MIN_INTERVAL {
                return Some((*r, rep.clone()));
            }
        }
        let cx = api::context(s, h).ok()?;
        let rep = Arc::new(headroom::report(&cx.snap, &h.planner));
        let entry = (cx.board.round, std::time::Instant::now(), rep.clone());
        lock(&self.headroom).insert(cluster.to_string(), entry);
        Some((cx.board.round, rep))
    }
}

fn gauge(reg: &mut Registry, name: &str, help: &str) -> IntFamily {
    let f = IntFamily::default();
    reg.register(name, help, f.clone());
    f
}

fn fgauge(reg: &mut Registry, name: &str, help: &str) -> FloatFamily {
    let f = FloatFamily::default();
    reg.register(name, help, f.clone());
    f
}

fn verdict_name(v: &Verdict) -> &'static str {
    match v {
        Verdict::Alert => "alert",
        Verdict::Act(_) => "act",
        Verdict::DryRun(_) => "dry_run",
        Verdict::Hold => "hold",
    }
}

/// `GET /metrics`.
pub async fn handler(State(s): State<Arc<Shared>>) -> impl IntoResponse {
    let s2 = s.clone();
    // Headroom may plan for a while on a big cluster: off the async threads.
    let text = tokio::task::spawn_blocking(move || render(&s2))
        .await
        .unwrap_or_else(|e| format!("# metrics failed: {e}\n"));
    (
        [(
            header::CONTENT_TYPE,
            "application/openmetrics-text; version=1.0.0; charset=utf-8",
        )],
        text,
    )
}

/// The metrics text (OpenMetrics).
pub fn render(s: &Shared) -> String {
    let mut reg = Registry::default();
    let brokers = gauge(&mut reg, "kmedic_brokers", "Brokers by state");
    let partitions = gauge(&mut reg, "kmedic_partitions", "Partitions");
    let urp = gauge(
        &mut reg,
        "kmedic_under_replicated_partitions",
        "Partitions whose ISR is smaller than the replica set",
    );
    let offline = gauge(
        &mut reg,
        "kmedic_offline_partitions",
        "Partitions without a leader",
    );
    let findings = gauge(&mut reg, "kmedic_findings", "Findings by kind, last round");
    let decisions = gauge(
        &mut reg,
        "kmedic_decisions",
        "Decisions by verdict, last round",
    );
    let in_flight = gauge(
        &mut reg,
        "kmedic_in_flight_reassignments",
        "Partition reassignments in progress",
    );
    let plan_moves = gauge(
        &mut reg,
        "kmedic_planned_moves",
        "Moves in the last round's plan",
    );
    let rounds = gauge(&mut reg, "kmedic_rounds", "Rounds run since start");
    let controls = gauge(
        &mut reg,
        "kmedic_control",
        "Operator controls (1 = on): maintenance, dry_run, mass_failure_override",
    );
    let stats_age = fgauge(
        &mut reg,
        "kmedic_stats_age_seconds",
        "Seconds since a broker's agent was last heard (master's monotonic clock)",
    );
    let skew = fgauge(
        &mut reg,
        "kmedic_agent_clock_skew_seconds",
        "Agent clock minus master clock",
    );
    let net_util = fgauge(
        &mut reg,
        "kmedic_broker_net_utilization",
        "Projected net load over the broker's limit, by direction",
    );
    let head_ok = gauge(
        &mut reg,
        "kmedic_headroom_absorbs_any_broker",
        "1 when the loss of any one broker can be healed within limits",
    );
    let head_bad = gauge(
        &mut reg,
        "kmedic_headroom_unabsorbable_brokers",
        "Brokers whose loss could not be healed within limits",
    );
    let head_unplaceable = gauge(
        &mut reg,
        "kmedic_headroom_unplaceable_replicas",
        "Replicas the worst single-broker loss would leave unplaced",
    );
    let head_secs = fgauge(
        &mut reg,
        "kmedic_headroom_seconds",
        "Time the headroom what-ifs took (the heal planner run once per broker and rack)",
    );
    let xaz = fgauge(
        &mut reg,
        "kmedic_cross_az_bytes_per_second",
        "Bytes/s crossing AZs by kind: replication (measured), produce and consume (estimates; \
         see GET /api/clusters/{c}/cross-az for the assumptions)",
    );
    let xaz_total = fgauge(
        &mut reg,
        "kmedic_az_traffic_bytes_per_second",
        "All bytes/s by kind (replication, produce, consume), crossing AZs or not",
    );
    for (name, h) in &s.clusters {
        let b = h.board.borrow().clone();
        let l = |extra: &[(&'static str, String)]| {
            let mut v: Labels = vec![("cluster", name.clone())];
            v.extend_from_slice(extra);
            v
        };
        let k = b.brokers;
        for (state, n) in [
            ("ok", k.ok),
            ("dead", k.dead),
            ("suspect", k.suspect),
            ("hung", k.hung),
            ("stale", k.stale),
            ("no_stats", k.no_stats),
        ] {
            brokers
                .get_or_create(&l(&[("state", state.into())]))
                .set(n as i64);
        }
        let v = b.view.clone().unwrap_or_default();
        partitions.get_or_create(&l(&[])).set(v.partitions as i64);
        urp.get_or_create(&l(&[])).set(v.under_replicated as i64);
        offline.get_or_create(&l(&[])).set(v.offline as i64);
        for f in &b.findings {
            findings
                .get_or_create(&l(&[("kind", format!("{:?}", f.kind))]))
                .inc();
        }
        for d in &b.decisions {
            decisions
                .get_or_create(&l(&[("verdict", verdict_name(&d.verdict).into())]))
                .inc();
        }
        in_flight
            .get_or_create(&l(&[]))
            .set(b.in_flight.reassignments.len() as i64);
        plan_moves
            .get_or_create(&l(&[]))
            .set(b.plan.as_ref().map_or(0, |w| w.plan.moves.len()) as i64);
        rounds.get_or_create(&l(&[])).set(b.round as i64);
        let c = lock(&h.controls).clone();
        for (what, on) in [
            ("maintenance", c.maintenance),
            ("dry_run", c.dry_run),
            ("mass_failure_override", c.mass_failure_override),
        ] {
            controls
                .get_or_create(&l(&[("control", what.into())]))
                .set(i64::from(on));
        }
        if let Ok(cx) = api::context(s, h) {
            for r in figures::brokers(&cx.view, &cx.board, &cx.snap, &h.limits, cx.model.as_ref()) {
                let bl = |extra: &[(&'static str, String)]| {
                    let mut v = l(&[("broker", r.id.to_string())]);
                    v.extend_from_slice(extra);
                    v
                };
                if let Some(a) = r.stats_age_secs {
                    stats_age.get_or_create(&bl(&[])).set(a as f64);
                }
                if let Some(ms) = r.clock_skew_ms {
                    skew.get_or_create(&bl(&[])).set(ms as f64 / 1000.0);
                }
                let util = |load: u64, lim: u64| load as f64 / lim.max(1) as f64;
                net_util
                    .get_or_create(&bl(&[("direction", "in".into())]))
                    .set(util(r.net_in_bytes_per_sec, r.net_in_limit_bytes_per_sec));
                net_util
                    .get_or_create(&bl(&[("direction", "out".into())]))
                    .set(util(r.net_out_bytes_per_sec, r.net_out_limit_bytes_per_sec));
            }
            let x = crate::xaz::report(&cx.snap, &h.cross_az);
            for (kind, t) in [
                ("replication", &x.replication),
                ("produce", &x.produce),
                ("consume", &x.consume),
            ] {
                let kl = l(&[("kind", kind.into())]);
                xaz.get_or_create(&kl).set(t.cross_az_bytes_per_sec);
                xaz_total.get_or_create(&kl).set(t.total_bytes_per_sec);
            }
        }
        if let Some((_, rep)) = s.metrics.headroom(s, name, h) {
            head_ok
                .get_or_create(&l(&[]))
                .set(i64::from(rep.absorbs_any_broker));
            head_bad
                .get_or_create(&l(&[]))
                .set(rep.unabsorbable_brokers.len() as i64);
            let worst = rep.brokers.iter().map(|w| w.unplaceable).max().unwrap_or(0);
            head_unplaceable.get_or_create(&l(&[])).set(worst as i64);
            head_secs
                .get_or_create(&l(&[]))
                .set(rep.took_ms as f64 / 1000.0);
        }
    }
    if let Some(c) = s.ingest.as_ref().map(|i| &i.counters) {
        let records = Family::<Labels, Counter>::default();
        reg.register(
            "kmedic_ingest_records",
            "Stats records consumed, by outcome",
            records.clone(),
        );
        for (outcome, n) in [
            ("applied", &c.applied),
            ("undecodable", &c.undecodable),
            ("unknown_cluster", &c.unknown_cluster),
            ("empty", &c.empty),
            ("refused_clock_skew", &c.skewed),
            ("refused_too_large", &c.too_large),
        ] {
            records
                .get_or_create(&vec![("outcome", outcome.to_string())])
                .inc_by(n.load(Ordering::Relaxed));
        }
    }
    process(&mut reg);
    let mut out = String::new();
    if let Err(e) = encode(&mut out, &reg) {
        return format!("# metrics encoding failed: {e}\n");
    }
    out
}

/// The standard process metrics, from `/proc/self` (Linux; absent elsewhere).
fn process(reg: &mut Registry) {
    let Ok(stat) = std::fs::read_to_string("/proc/self/stat") else {
        return;
    };
    // Fields after the command name (which may hold spaces) start at ')'.
    let Some(rest) = stat.rfind(')').map(|i| &stat[i + 2..]) else {
        return;
    };
    let f: Vec<&str> = rest.split_whitespace().collect();
    let num = |i: usize| f.get(i).and_then(|v| v.parse::<f64>().ok()).unwrap_or(0.0);
    // Indexes are field numbers from proc(5) minus 3 (state is field 3).
    let ticks = 100.0; // USER_HZ on Linux
    let page = 4096.0;
    let cpu = Counter::<f64, AtomicU64>::default();
    reg.register(
        "process_cpu_seconds",
        "User and system CPU time",
        cpu.clone(),
    );
    cpu.inc_by((num(11) + num(12)) / ticks);
    plain(
        reg,
        "process_resident_memory_bytes",
        "Resident memory",
        num(21) * page,
    );
    plain(
        reg,
        "process_virtual_memory_bytes",
        "Virtual memory",
        num(20),
    );
    plain(reg, "process_threads", "OS threads", num(17));
    if let Ok(d) = std::fs::read_dir("/proc/self/fd") {
        plain(
            reg,
            "process_open_fds",
            "Open file descriptors",
            d.count() as f64,
        );
    }
    let boot = std::fs::read_to_string("/proc/stat").ok().and_then(|s| {
        s.lines()
            .find_map(|l| l.strip_prefix("btime "))
            .and_then(|v| v.trim().parse::<f64>().ok())
    });
    if let Some(boot) = boot {
        plain(
            reg,
            "process_start_time_seconds",
            "Start time since the Unix epoch",
            boot + num(19) / ticks,
        );
    }
}

/// A gauge without labels.
fn plain(reg: &mut Registry, name: &str, help: &str, v: f64) {
    let g = Gauge::<f64, AtomicU64>::default();
    g.set(v);
    reg.register(name, help, g);
}
