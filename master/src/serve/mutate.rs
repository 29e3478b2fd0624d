//! Mutations and manual plan requests. Every non-GET route needs the bearer token; the token is
//! checked first, then the input, and only then is anything changed, so a 401 or a 400 leaves
//! everything as it was.
//!
//! A manual plan request is a dry run: it plans on the cluster's last view and keeps the result
//! as a proposal (`p1`, `p2`, ...). Approving it re-plans on the newest view and refuses (409)
//! when the plan would differ: an operator approves exactly what they saw, never a plan made on
//! a cluster that has since changed.

use std::sync::Arc;

use axum::extract::rejection::JsonRejection;
use axum::extract::{Path, State};
use axum::http::{HeaderMap, Method, StatusCode};
use axum::Json;
use serde::Deserialize;
use serde_json::{json, Value};
use tokio::sync::mpsc::error::TrySendError;

use super::api::{broker_id, context};
use super::{
    authorize, lock, ApiError, Approved, ClusterHandle, Command, Proposal, Routes, Shared,
};
use crate::plan::{self, Request};

type Res = Result<Json<Value>, ApiError>;
type Body<T> = Result<Json<T>, JsonRejection>;

/// The mutation routes (and the GETs of the controls they change).
pub fn routes(r: Routes) -> Routes {
    r.get("/api/clusters/{cluster}/maintenance", get_controls)
        .put("/api/clusters/{cluster}/maintenance", put_maintenance)
        .get("/api/clusters/{cluster}/dry-run", get_controls)
        .put("/api/clusters/{cluster}/dry-run", put_dry_run)
        .get(
            "/api/clusters/{cluster}/mass-failure-override",
            get_controls,
        )
        .put(
            "/api/clusters/{cluster}/mass-failure-override",
            put_override,
        )
        .put(
            "/api/clusters/{cluster}/brokers/{broker}/decommission",
            decommission,
        )
        .delete(
            "/api/clusters/{cluster}/brokers/{broker}/decommission",
            decommission,
        )
        .get("/api/clusters/{cluster}/plans", list_plans)
        .post("/api/clusters/{cluster}/plans", request_plan)
        .post("/api/clusters/{cluster}/plans/{plan}/approve", approve)
}

/// `{"enabled": true|false}`.
#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
struct Toggle {
    enabled: bool,
}

/// A manual plan request.
#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
struct PlanBody {
    /// `balance`, `spread_leaders`, `preferred_leaders` or `decommission`.
    request: String,
    /// The brokers to drain (`decommission` only).
    #[serde(default)]
    brokers: Vec<i32>,
}

fn body<T>(b: Body<T>) -> Result<T, ApiError> {
    b.map(|Json(t)| t).map_err(|e| {
        ApiError::bad_request(format!(
            "bad request body: {}; nothing changed",
            e.body_text()
        ))
    })
}

/// Sends `cmd` to the cluster's loop (503 when it is not running or is backed up).
fn send(h: &ClusterHandle, cmd: Command) -> Result<(), ApiError> {
    h.commands.try_send(cmd).map_err(|e| {
        let why = match e {
            TrySendError::Full(_) => "the cluster's loop is busy (commands queued); retry",
            TrySendError::Closed(_) => "the cluster's loop is not running",
        };
        ApiError::new(
            StatusCode::SERVICE_UNAVAILABLE,
            format!("{why}; nothing changed"),
        )
    })
}

async fn get_controls(State(s): State<Arc<Shared>>, Path(c): Path<String>) -> Res {
    let h = s.cluster(&c)?;
    let controls = lock(&h.controls).clone();
    Ok(Json(serde_json::to_value(controls).unwrap_or(Value::Null)))
}

/// Sends `cmd` to the cluster's loop and, once it is queued, makes the same change to the
/// controls the API shows; answers with the controls as they now are.
fn change_controls(
    h: &ClusterHandle,
    cmd: Command,
    apply: impl FnOnce(&mut super::Controls),
) -> Res {
    send(h, cmd)?;
    let mut controls = lock(&h.controls);
    apply(&mut controls);
    Ok(Json(
        serde_json::to_value(&*controls).unwrap_or(Value::Null),
    ))
}

/// A `PUT {"enabled": bool}` handler for one on/off control: the command to the cluster's loop
/// and the field of the controls it sets.
macro_rules! toggle_handler {
    ($name:ident, $cmd:path, $field:ident) => {
        async fn $name(
            State(s): State<Arc<Shared>>,
            headers: HeaderMap,
            Path(c): Path<String>,
            b: Body<Toggle>,
        ) -> Res {
            authorize(&s, &headers)?;
            let h = s.cluster(&c)?;
            let on = body(b)?.enabled;
            change_controls(h, $cmd(on), |controls| controls.$field = on)
        }
    };
}

toggle_handler!(put_maintenance, Command::SetMaintenance, maintenance);
toggle_handler!(put_dry_run, Command::SetDryRun, dry_run);
toggle_handler!(
    put_override,
    Command::SetMassFailureOverride,
    mass_failure_override
);

/// `PUT` starts decommissioning the broker, `DELETE` stops it (one handler for both: they differ
/// only in the check and the value). Starting needs a broker the cluster registers and that is not
/// fenced; stopping needs one being decommissioned.
async fn decommission(
    method: Method,
    State(s): State<Arc<Shared>>,
    headers: HeaderMap,
    Path((c, id)): Path<(String, String)>,
) -> Res {
    authorize(&s, &headers)?;
    let h = s.cluster(&c)?;
    let id = broker_id(&id)?;
    let on = method == Method::PUT;
    if on {
        may_decommission(h, &c, id)?;
    } else if !lock(&h.controls).decommission.contains(&id) {
        return Err(ApiError::not_found(format!(
            "broker {id} is not being decommissioned in cluster {c}; nothing changed"
        )));
    }
    let cmd = Command::Decommission { broker: id, on };
    change_controls(h, cmd, |controls| {
        if on {
            controls.decommission.insert(id);
        } else {
            controls.decommission.remove(&id);
        }
    })
}

/// Whether broker `id` of cluster `c` may start a decommission: registered and not fenced (a
/// dead broker is healed, not decommissioned).
fn may_decommission(h: &ClusterHandle, c: &str, id: i32) -> Result<(), ApiError> {
    let board = h.board.borrow().clone();
    let Some(view) = board.cluster_view.as_ref() else {
        return Err(ApiError::new(
            StatusCode::SERVICE_UNAVAILABLE,
            format!("cluster {c} not observed yet; nothing changed"),
        ));
    };
    let Some(b) = view.brokers.get(&id) else {
        return Err(ApiError::bad_request(format!(
            "broker {id} is not registered in cluster {c}; nothing changed"
        )));
    };
    if b.fenced {
        return Err(ApiError::bad_request(format!(
            "broker {id} is fenced: a dead broker is healed, not decommissioned; nothing changed"
        )));
    }
    Ok(())
}

fn parse_request(b: &PlanBody) -> Result<Request, ApiError> {
    let no_brokers = |r: Request| {
        if b.brokers.is_empty() {
            Ok(r)
        } else {
            Err(ApiError::bad_request(format!(
                "request {:?} takes no brokers; nothing planned",
                b.request
            )))
        }
    };
    match b.request.as_str() {
        "balance" => no_brokers(Request::Balance),
        "spread_leaders" => no_brokers(Request::SpreadLeaders),
        "preferred_leaders" => no_brokers(Request::PreferredLeaders),
        "decommission" if b.brokers.is_empty() => Err(ApiError::bad_request(
            "decommission needs \"brokers\": [ids]; nothing planned",
        )),
        "decommission" => Ok(Request::Decommission {
            brokers: b.brokers.clone(),
        }),
        other => Err(ApiError::bad_request(format!(
            "unknown request {other:?}: use balance, spread_leaders, preferred_leaders or \
             decommission; nothing planned"
        ))),
    }
}

fn proposal_json(p: &Proposal) -> Value {
    json!({
        "id": format!("p{}", p.id), "request": p.request.to_string(), "round": p.round,
        "approved": p.approved, "plan": p.plan,
        "reassignment_json": p.plan.reassignment_json(),
    })
}

async fn list_plans(State(s): State<Arc<Shared>>, Path(c): Path<String>) -> Res {
    let h = s.cluster(&c)?;
    let ps: Vec<Value> = lock(&h.proposals).iter().map(proposal_json).collect();
    Ok(Json(json!({ "proposals": ps })))
}

async fn request_plan(
    State(s): State<Arc<Shared>>,
    headers: HeaderMap,
    Path(c): Path<String>,
    b: Body<PlanBody>,
) -> Res {
    authorize(&s, &headers)?;
    let h = s.cluster(&c)?;
    let request = parse_request(&body(b)?)?;
    let cx = context(&s, h)?;
    if let Request::Decommission { brokers } = &request {
        if let Some(x) = brokers.iter().find(|b| !cx.view.brokers.contains_key(b)) {
            return Err(ApiError::bad_request(format!(
                "broker {x} is not registered in cluster {c}; nothing planned"
            )));
        }
    }
    let plan = plan::plan(&cx.snap, &h.planner, &request);
    let p = Proposal {
        id: s.proposal_id(),
        request,
        plan,
        round: cx.board.round,
        approved: false,
    };
    let out = proposal_json(&p);
    h.keep(p);
    Ok(Json(out))
}

async fn approve(
    State(s): State<Arc<Shared>>,
    headers: HeaderMap,
    Path((c, id)): Path<(String, String)>,
) -> Res {
    authorize(&s, &headers)?;
    let h = s.cluster(&c)?;
    let num: u64 =
        id.strip_prefix('p').unwrap_or(&id).parse().map_err(|_| {
            ApiError::bad_request(format!("plan id {id:?}: use the id given, p<n>"))
        })?;
    let p = lock(&h.proposals)
        .iter()
        .find(|p| p.id == num)
        .cloned()
        .ok_or_else(|| ApiError::not_found(format!("no proposal {id} in cluster {c}")))?;
    if p.approved {
        return Err(ApiError::new(
            StatusCode::CONFLICT,
            format!("proposal {id} is already approved"),
        ));
    }
    let cx = context(&s, h)?;
    let now = plan::plan(&cx.snap, &h.planner, &p.request);
    if now != p.plan {
        return Err(ApiError::new(
            StatusCode::CONFLICT,
            format!(
                "cluster {c} changed since {id} was planned (round {} -> {}): request a new \
                 plan and review it; nothing approved",
                p.round, cx.board.round
            ),
        ));
    }
    send(
        h,
        Command::Approve(Box::new(Approved {
            id: p.id,
            request: p.request.clone(),
            plan: p.plan.clone(),
        })),
    )?;
    let mut ps = lock(&h.proposals);
    let mut out = Value::Null;
    if let Some(q) = ps.iter_mut().find(|q| q.id == num) {
        q.approved = true;
        out = proposal_json(q);
    }
    Ok(Json(out))
}
