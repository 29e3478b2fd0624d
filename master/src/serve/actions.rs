//! `GET /api/clusters/{c}/actions`: the action history, from the action log's in-memory copy
//! (`actionlog::history`: seeded from the log read back at start, appended to as each record
//! commits), newest first, paged and filtered. A request never reads the topic.

use std::collections::BTreeMap;
use std::sync::Arc;

use axum::extract::{Path, Query, State};
use axum::http::StatusCode;
use axum::Json;
use serde_json::{json, Value};

use super::api::{broker_id, number, Params, MAX_PAGE};
use super::{lock, ApiError, Shared};
use crate::actionlog::history::{Filter, OUTCOMES};
use crate::actionlog::Phase;

/// The kinds the `kind` filter accepts (`ActionKind::name`; a test pins them).
pub const KINDS: &[&str] = &[
    "set_throttle",
    "clear_throttle",
    "reassign",
    "cancel_reassign",
    "elect_leaders",
    "cordon",
    "uncordon",
    "unregister",
    "replace_host",
    "caught_up",
    "set_mode",
    "decommission",
    "recommission",
];

const KEYS: &[&str] = &["kind", "outcome", "broker", "since", "offset", "limit"];

/// The filter and page a query asks for (400 naming the parameter when one is bad).
pub fn parse(q: &BTreeMap<String, String>) -> Result<(Filter, usize, usize), ApiError> {
    for k in q.keys() {
        if !KEYS.contains(&k.as_str()) {
            return Err(ApiError::bad_request(format!(
                "unknown query parameter {k:?}; use {}",
                KEYS.join(", ")
            )));
        }
    }
    let one_of = |key: &str, allowed: &[&str]| -> Result<Option<String>, ApiError> {
        match q.get(key) {
            None => Ok(None),
            Some(v) if allowed.contains(&v.as_str()) => Ok(Some(v.clone())),
            Some(v) => Err(ApiError::bad_request(format!(
                "{key}={v:?}: use one of {}",
                allowed.join(", ")
            ))),
        }
    };
    let kind = one_of("kind", KINDS)?;
    let outcome = one_of("outcome", OUTCOMES)?;
    let broker = q.get("broker").map(|b| broker_id(b)).transpose()?;
    let since_wall_ms = q
        .get("since")
        .map(|v| {
            v.parse::<u64>().map_err(|_| {
                ApiError::bad_request(format!(
                    "since={v:?}: use milliseconds since the Unix epoch (UTC)"
                ))
            })
        })
        .transpose()?;
    let offset = number(q, "offset", 0)?;
    let limit = number(q, "limit", 100)?;
    if limit == 0 || limit > MAX_PAGE {
        return Err(ApiError::bad_request(format!(
            "limit={limit}: use 1 to {MAX_PAGE}"
        )));
    }
    let f = Filter {
        cluster_id: String::new(),
        kind,
        outcome,
        broker,
        since_wall_ms,
    };
    Ok((f, offset, limit))
}

/// The handler.
pub async fn list(
    State(s): State<Arc<Shared>>,
    Path(c): Path<String>,
    q: Params,
) -> super::api::Res {
    let Query(q) = q.map_err(|e| ApiError::bad_request(e.body_text()))?;
    let (mut f, offset, limit) = parse(&q)?;
    let h = s.cluster(&c)?;
    let Some(history) = s.actions.get() else {
        return Err(ApiError::new(
            StatusCode::SERVICE_UNAVAILABLE,
            "no action log: this master could not open or read it (see its log), so it records \
             and acts on nothing; `kmedic-master actions` reads the topic directly",
        ));
    };
    let seen = h.board.borrow().view.as_ref().map(|v| v.cluster_id.clone());
    let Some(id) = seen.or_else(|| lock(&h.cluster_id).clone()) else {
        return Err(ApiError::new(
            StatusCode::SERVICE_UNAVAILABLE,
            format!(
                "cluster {c}: its cluster id is not known yet (not observed, not in the config); \
                 retry after the first round or set cluster_id"
            ),
        ));
    };
    f.cluster_id = id.clone();
    let page = history.query(&f, offset, limit);
    let rows: Vec<Value> = page
        .records
        .iter()
        .map(|r| {
            let mut v = serde_json::to_value(r).unwrap_or(Value::Null);
            v["kind_name"] = json!(r.kind.name());
            // An intent with no outcome yet: running (or the master stopped while it ran).
            v["pending"] = json!(page.pending.contains(&r.action_id) && r.phase == Phase::Intent);
            v
        })
        .collect();
    Ok(Json(json!({
        "cluster_id": id, "total": page.total, "offset": offset, "limit": limit,
        "truncated": page.truncated, "actions": rows,
    })))
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::actionlog::ActionKind;

    #[test]
    fn kinds_are_the_action_kinds_names() {
        let all = crate::actionlog::record::one_of_each_kind();
        let names: Vec<&str> = all.iter().map(ActionKind::name).collect();
        assert_eq!(names, KINDS);
    }

    #[test]
    fn bad_parameters_name_themselves() {
        let q = |pairs: &[(&str, &str)]| {
            let m: BTreeMap<String, String> = pairs
                .iter()
                .map(|(k, v)| (k.to_string(), v.to_string()))
                .collect();
            parse(&m).map(|_| ()).map_err(|e| e.message)
        };
        assert!(q(&[("kind", "reassign"), ("outcome", "failed"), ("broker", "3")]).is_ok());
        for (k, v) in [
            ("kind", "nuke"),
            ("outcome", "ok"),
            ("broker", "x"),
            ("since", "yesterday"),
            ("limit", "0"),
            ("offset", "-1"),
            ("color", "red"),
        ] {
            let e = q(&[(k, v)]).expect_err(k);
            assert!(e.contains(k), "{e}");
        }
    }
}
