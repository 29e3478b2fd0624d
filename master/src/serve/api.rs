//! Read-only JSON endpoints, all from the status boards (and the model for agents' figures).
//! The routes are listed in `openapi.json`; a test checks the two agree.

use std::collections::BTreeMap;
use std::sync::Arc;

use axum::extract::rejection::QueryRejection;
use axum::extract::{Path, Query, State};
use axum::Json;
use serde::Serialize;
use serde_json::{json, Value};

use super::figures::{self, BrokerRow};
use super::{lock, ApiError, ClusterHandle, Routes, Shared};
use crate::model::ClusterModel;
use crate::observe::ClusterView;
use crate::plan::Snapshot;
use crate::service::Board;

/// A handler's answer.
pub type Res<T = Json<Value>> = Result<T, ApiError>;
/// A handler's query parameters (a malformed query is a 400, not axum's text answer).
pub type Params = Result<Query<BTreeMap<String, String>>, QueryRejection>;

/// The OpenAPI document (hand-written; checked against [`routes`] by a test).
pub const OPENAPI: &str = include_str!("openapi.json");

/// The most partitions one page holds.
pub const MAX_PAGE: usize = 10_000;

/// The read-only routes.
pub fn routes(r: Routes) -> Routes {
    r.get("/api/openapi.json", openapi)
        .get("/api/clusters", fleet)
        .get("/api/clusters/{cluster}", cluster)
        .get("/api/clusters/{cluster}/brokers", brokers)
        .get("/api/clusters/{cluster}/brokers/{broker}", broker)
        .get("/api/clusters/{cluster}/partitions", partitions)
        .get("/api/clusters/{cluster}/topics", topics)
        .get("/api/clusters/{cluster}/findings", findings)
        .get("/api/clusters/{cluster}/decisions", decisions)
        .get("/api/clusters/{cluster}/plan", plan)
        .get("/api/clusters/{cluster}/in-flight", in_flight)
        .get("/api/clusters/{cluster}/headroom", headroom)
        .get("/api/clusters/{cluster}/cross-az", cross_az)
        .get("/api/clusters/{cluster}/actions", super::actions::list)
        .get(
            "/api/clusters/{cluster}/brokers/{broker}/history",
            super::broker_history::get,
        )
}

async fn openapi() -> Res {
    serde_json::from_str(OPENAPI)
        .map(Json)
        .map_err(|e| ApiError::new(axum::http::StatusCode::INTERNAL_SERVER_ERROR, e.to_string()))
}

/// One line per cluster: what the fleet page shows.
#[derive(Debug, Serialize)]
struct FleetRow {
    cluster: String,
    health: &'static str,
    status: Value,
    round: u64,
    brokers: crate::service::board::BrokerCounts,
    partitions: usize,
    under_replicated: usize,
    offline: usize,
    findings: usize,
    maintenance: bool,
    dry_run: bool,
    /// The brokers being decommissioned and their progress (`kmedic-master status` shows it).
    decommission: crate::service::decommission::DecommissionBoard,
}

/// `ok` (nothing found), `warning` (findings), `critical` (dead brokers or offline
/// partitions), `unknown` (no full round yet or observing fails).
pub fn health(b: &Board) -> &'static str {
    use crate::service::board::Status;
    let offline = b.view.as_ref().map_or(0, |v| v.offline);
    match b.status {
        Status::Ran if b.brokers.dead > 0 || offline > 0 => "critical",
        Status::Ran if b.findings.is_empty() => "ok",
        Status::Ran => "warning",
        _ => "unknown",
    }
}

async fn fleet(State(s): State<Arc<Shared>>) -> Res {
    let rows: Vec<FleetRow> = s
        .clusters
        .iter()
        .map(|(name, h)| {
            let b = h.board.borrow();
            let c = lock(&h.controls).clone();
            let v = b.view.clone().unwrap_or_default();
            FleetRow {
                cluster: name.clone(),
                health: health(&b),
                status: serde_json::to_value(&b.status).unwrap_or(Value::Null),
                round: b.round,
                brokers: b.brokers,
                partitions: v.partitions,
                under_replicated: v.under_replicated,
                offline: v.offline,
                findings: b.findings.len(),
                maintenance: c.maintenance,
                dry_run: c.dry_run,
                decommission: b.decommission.clone(),
            }
        })
        .collect();
    Ok(Json(json!({ "clusters": rows })))
}

async fn cluster(State(s): State<Arc<Shared>>, Path(c): Path<String>) -> Res {
    let h = s.cluster(&c)?;
    let b = h.board.borrow().clone();
    let controls = lock(&h.controls).clone();
    // Field by field: the board's in-flight map is keyed by partition, which JSON cannot key.
    let in_flight: Vec<Value> = b
        .in_flight
        .reassignments
        .iter()
        .map(|(tp, r)| flight_row(&b, tp, r, None))
        .collect();
    Ok(Json(json!({
        "cluster": b.cluster, "health": health(&b), "round": b.round, "at": b.at,
        "status": b.status, "view": b.view, "brokers": b.brokers, "findings": b.findings,
        "decisions": b.decisions, "plan": b.plan, "in_flight": in_flight, "controls": controls,
        "decommission": b.decommission,
    })))
}

/// The board, its view, the model and the planner snapshot, for the figure endpoints.
pub struct Context {
    /// The board.
    pub board: Board,
    /// The last view.
    pub view: Arc<ClusterView>,
    /// The model of the view's cluster id, when there is one.
    pub model: Option<ClusterModel>,
    /// The snapshot built as the round builds it.
    pub snap: Snapshot,
}

/// The context of a cluster, or a 503 when no view has been observed yet.
pub fn context(s: &Shared, h: &ClusterHandle) -> Res<Context> {
    let board = h.board.borrow().clone();
    let Some(view) = board.cluster_view.clone() else {
        return Err(ApiError::new(
            axum::http::StatusCode::SERVICE_UNAVAILABLE,
            format!(
                "cluster {} not observed yet (status: {:?}); retry after the first round",
                board.cluster, board.status
            ),
        ));
    };
    let model = s
        .fleet
        .as_ref()
        .and_then(|f| f.get(&view.cluster_id))
        .map(|m| crate::model::lock(&m).clone());
    let snap = figures::snapshot_of(&view, &board.findings, &h.limits, model.as_ref());
    Ok(Context {
        board,
        view,
        model,
        snap,
    })
}

fn broker_rows(s: &Shared, c: &str) -> Res<Vec<BrokerRow>> {
    let h = s.cluster(c)?;
    let cx = context(s, h)?;
    Ok(figures::brokers(
        &cx.view,
        &cx.board,
        &cx.snap,
        &h.limits,
        cx.model.as_ref(),
    ))
}

async fn brokers(State(s): State<Arc<Shared>>, Path(c): Path<String>) -> Res {
    Ok(Json(json!({ "brokers": broker_rows(&s, &c)? })))
}

/// Parses a broker id from the path (400 with a message when it is not a number).
pub fn broker_id(raw: &str) -> Res<i32> {
    raw.parse().map_err(|_| {
        ApiError::bad_request(format!(
            "broker id {raw:?} is not a number (use the broker's node.id)"
        ))
    })
}

async fn broker(State(s): State<Arc<Shared>>, Path((c, id)): Path<(String, String)>) -> Res {
    let id = broker_id(&id)?;
    let rows = broker_rows(&s, &c)?;
    let row = rows
        .into_iter()
        .find(|r| r.id == id)
        .ok_or_else(|| ApiError::not_found(format!("cluster {c} has no broker {id}")))?;
    let h = s.cluster(&c)?;
    let b = h.board.borrow().clone();
    let findings: Vec<_> = b.findings.iter().filter(|f| f.broker == Some(id)).collect();
    let decisions: Vec<_> = b
        .decisions
        .iter()
        .filter(|d| d.broker == Some(id) || d.brokers.contains(&id))
        .collect();
    Ok(Json(
        json!({ "broker": row, "findings": findings, "decisions": decisions }),
    ))
}

/// Reads `key` of `q` as a number, with a default; a 400 naming the key when it is not one.
pub fn number(q: &BTreeMap<String, String>, key: &str, default: usize) -> Res<usize> {
    q.get(key).map_or(Ok(default), |v| {
        v.parse().map_err(|_| {
            ApiError::bad_request(format!(
                "query parameter {key}={v:?} is not a non-negative number"
            ))
        })
    })
}

async fn partitions(State(s): State<Arc<Shared>>, Path(c): Path<String>, q: Params) -> Res {
    let Query(q) = q.map_err(|e| ApiError::bad_request(e.body_text()))?;
    for k in q.keys() {
        if !["topic", "under_replicated", "offset", "limit"].contains(&k.as_str()) {
            return Err(ApiError::bad_request(format!(
                "unknown query parameter {k:?}; use topic, under_replicated, offset, limit"
            )));
        }
    }
    let offset = number(&q, "offset", 0)?;
    let limit = number(&q, "limit", 1000)?;
    if limit == 0 || limit > MAX_PAGE {
        return Err(ApiError::bad_request(format!(
            "limit={limit}: use 1 to {MAX_PAGE}"
        )));
    }
    let urp_only = match q.get("under_replicated").map(String::as_str) {
        None | Some("false") => false,
        Some("true") => true,
        Some(v) => {
            return Err(ApiError::bad_request(format!(
                "under_replicated={v:?}: use true or false"
            )))
        }
    };
    let h = s.cluster(&c)?;
    let b = h.board.borrow().clone();
    let view = b.cluster_view.clone().ok_or_else(|| {
        ApiError::new(
            axum::http::StatusCode::SERVICE_UNAVAILABLE,
            format!("cluster {c} not observed yet; retry after the first round"),
        )
    })?;
    let topic = q.get("topic");
    let matching = view
        .partitions
        .iter()
        .filter(|p| topic.is_none_or(|t| *t == p.topic))
        .filter(|p| !urp_only || p.isr.len() < p.replicas.len());
    let total = matching.clone().count();
    let page: Vec<Value> = matching
        .skip(offset)
        .take(limit)
        .map(|p| {
            let tp = crate::observe::TopicPartition {
                topic: p.topic.clone(),
                partition: p.partition,
            };
            json!({
                "topic": p.topic, "partition": p.partition, "leader": p.leader,
                "replicas": p.replicas, "isr": p.isr, "offline_replicas": p.offline_replicas,
                "under_replicated": p.isr.len() < p.replicas.len(),
                "reassigning": view.reassignments.contains_key(&tp),
                "size_bytes": view.sizes_bytes.get(&tp),
            })
        })
        .collect();
    Ok(Json(
        json!({ "total": total, "offset": offset, "limit": limit, "partitions": page }),
    ))
}

async fn topics(State(s): State<Arc<Shared>>, Path(c): Path<String>) -> Res {
    let h = s.cluster(&c)?;
    let cx = context(&s, h)?;
    Ok(Json(
        json!({ "topics": figures::topics(&cx.view, &cx.snap) }),
    ))
}

async fn findings(State(s): State<Arc<Shared>>, Path(c): Path<String>) -> Res {
    let b = s.cluster(&c)?.board.borrow().clone();
    Ok(Json(json!({ "round": b.round, "findings": b.findings })))
}

async fn decisions(State(s): State<Arc<Shared>>, Path(c): Path<String>) -> Res {
    let b = s.cluster(&c)?.board.borrow().clone();
    let rows: Vec<Value> = b
        .decisions
        .iter()
        .map(|d| {
            let mut v = serde_json::to_value(d).unwrap_or(Value::Null);
            v["rule_sentence"] = json!(d.rule.to_string());
            v
        })
        .collect();
    Ok(Json(json!({ "round": b.round, "decisions": rows })))
}

async fn plan(State(s): State<Arc<Shared>>, Path(c): Path<String>) -> Res {
    let b = s.cluster(&c)?.board.borrow().clone();
    let reassignment = b.plan.as_ref().map(|w| w.plan.reassignment_json());
    Ok(Json(
        json!({ "round": b.round, "plan": b.plan, "reassignment_json": reassignment }),
    ))
}

async fn in_flight(State(s): State<Arc<Shared>>, Path(c): Path<String>) -> Res {
    let b = s.cluster(&c)?.board.borrow().clone();
    let sizes = b.cluster_view.as_ref().map(|v| &v.sizes_bytes);
    let rows: Vec<Value> = b
        .in_flight
        .reassignments
        .iter()
        .map(|(tp, r)| flight_row(&b, tp, r, sizes.and_then(|s| s.get(tp)).copied()))
        .collect();
    Ok(Json(json!({ "round": b.round, "reassignments": rows })))
}

/// One reassignment Kafka has in flight. When it is a move of the plan kmedic's executor is
/// carrying out, its bytes come from the executor's progress (the new replicas' sizes): bytes
/// done and to copy, and an ETA at the plan's rate shared by its running moves. A
/// reassignment kmedic did not start has `null` figures (`plan_id` null).
fn flight_row(
    b: &crate::service::board::Board,
    tp: &crate::observe::TopicPartition,
    r: &crate::observe::ReassignmentView,
    size_bytes: Option<u64>,
) -> Value {
    let ours = b
        .executing
        .as_ref()
        .filter(|p| !p.finished)
        .and_then(|p| p.moves.iter().find(|m| m.partition == *tp).map(|m| (p, m)));
    let (plan_id, done, total, eta) = match ours {
        Some((p, m)) => {
            let share = p.rate_bytes_per_sec / p.running.max(1) as f64;
            let left = m.total_bytes.saturating_sub(m.copied_bytes);
            let eta = (share > 0.0).then(|| (left as f64 / share).ceil() as u64);
            (
                Some(p.plan_id.clone()),
                Some(m.copied_bytes),
                Some(m.total_bytes),
                eta,
            )
        }
        None => (None, None, None, None),
    };
    json!({
        "topic": tp.topic, "partition": tp.partition, "adding": r.adding, "removing": r.removing,
        "size_bytes": size_bytes, "plan_id": plan_id, "bytes_done": done, "bytes_total": total,
        "eta_secs": eta,
    })
}

async fn headroom(State(s): State<Arc<Shared>>, Path(c): Path<String>) -> Res {
    let h = s.cluster(&c)?;
    context(&s, h)?;
    // One heal plan per broker and rack: off the async threads, cached per round.
    let s2 = s.clone();
    let report = tokio::task::spawn_blocking(move || {
        let h = s2.cluster(&c).ok()?;
        s2.metrics.headroom(&s2, &c, h)
    })
    .await
    .ok()
    .flatten()
    .ok_or_else(|| {
        ApiError::new(
            axum::http::StatusCode::SERVICE_UNAVAILABLE,
            "headroom not available yet; retry after the next round",
        )
    })?;
    let (round, report) = report;
    let mut v = serde_json::to_value(&*report).unwrap_or(Value::Null);
    // Headroom is recomputed at most every `HEADROOM_MIN_INTERVAL`: say which round it is of.
    v["round"] = json!(round);
    Ok(Json(v))
}

/// `GET /api/clusters/{c}/cross-az`: the cross-AZ traffic report of the newest round (pure,
/// from the same snapshot as the other figures; `xaz.rs` states the assumptions).
async fn cross_az(State(s): State<Arc<Shared>>, Path(c): Path<String>) -> Res {
    let h = s.cluster(&c)?;
    let cx = context(&s, h)?;
    let mut v =
        serde_json::to_value(crate::xaz::report(&cx.snap, &h.cross_az)).unwrap_or(Value::Null);
    v["round"] = json!(cx.board.round);
    Ok(Json(v))
}
