//! `GET /api/clusters/{c}/brokers/{b}/history`: the broker's host net in/out over the last hour,
//! as its agent reported them (`model::history`), for the broker page's charts.

use std::sync::Arc;

use axum::extract::{Path, State};
use axum::http::StatusCode;
use axum::Json;
use serde_json::json;

use super::api::{broker_id, Res};
use super::{lock, ApiError, Shared};
use crate::model::history::{NetPoint, SPAN_MS};

/// The handler.
pub async fn get(State(s): State<Arc<Shared>>, Path((c, b)): Path<(String, String)>) -> Res {
    let id = broker_id(&b)?;
    let h = s.cluster(&c)?;
    let (seen, known) = {
        let board = h.board.borrow();
        let id_seen = board.view.as_ref().map(|v| v.cluster_id.clone());
        let known = board
            .cluster_view
            .as_ref()
            .map(|v| v.brokers.contains_key(&id) || v.hosting_brokers().contains(&id));
        (id_seen, known)
    };
    let Some(cluster_id) = seen.or_else(|| lock(&h.cluster_id).clone()) else {
        return Err(ApiError::new(
            StatusCode::SERVICE_UNAVAILABLE,
            format!("cluster {c} not observed yet; retry after the first round"),
        ));
    };
    let points: Vec<NetPoint> = s
        .fleet
        .as_ref()
        .and_then(|f| f.get(&cluster_id))
        .map(|m| crate::model::lock(&m).history.of(id))
        .unwrap_or_default();
    if points.is_empty() && known == Some(false) {
        return Err(ApiError::not_found(format!(
            "cluster {c} has no broker {id} (not registered, hosts nothing, no stats)"
        )));
    }
    Ok(Json(json!({
        "broker": id,
        "span_secs": SPAN_MS / 1000,
        "source": "the agent's host network counters (all interfaces), one point per record",
        "points": points,
    })))
}
