//! `kmedic-master status`: a running master's fleet summary in the terminal, read from its
//! REST API (`GET /api/clusters`).

use std::fmt::Write as _;

use serde_json::Value;

/// Fetches `GET {url}/api/clusters`.
pub async fn fetch(url: &str) -> Result<Value, String> {
    get_json(url, "/api/clusters", "JSON").await
}

/// `GET {url}{path}` from a running master's REST API, decoded (also `cross-az`'s reader).
/// Errors name the URL, and `what` was expected when the body does not decode.
pub(super) async fn get_json<T: serde::de::DeserializeOwned>(
    url: &str,
    path: &str,
    what: &str,
) -> Result<T, String> {
    let u = format!("{}{path}", url.trim_end_matches('/'));
    let resp = reqwest::get(&u)
        .await
        .map_err(|e| format!("{u}: {e}; is the master running with [serve] at that address?"))?;
    let status = resp.status();
    let text = resp.text().await.map_err(|e| format!("{u}: {e}"))?;
    if !status.is_success() {
        return Err(format!("{u}: HTTP {status}: {text}"));
    }
    serde_json::from_str(&text).map_err(|e| format!("{u}: not {what}: {e}"))
}

/// One line per cluster. `suspect` counts suspect and hung brokers; `stale` brokers whose
/// registration outlived their process (the API's `brokers.stale`).
pub fn render(v: &Value) -> String {
    let mut out = String::new();
    let _ = writeln!(
        out,
        "{:<16} {:<9} {:<18} {:>6} {:>4} {:>5} {:>8} {:>5} {:>10} {:>5} {:>7} {:>8}  {:<20}  decommission",
        "cluster",
        "health",
        "status",
        "round",
        "ok",
        "dead",
        "suspect",
        "stale",
        "partitions",
        "URPs",
        "offline",
        "findings",
        "modes"
    );
    let n = |x: &Value| x.as_u64().unwrap_or(0);
    for c in v["clusters"].as_array().into_iter().flatten() {
        let b = &c["brokers"];
        let mut modes = Vec::new();
        if c["maintenance"] == Value::Bool(true) {
            modes.push("MAINTENANCE");
        }
        if c["dry_run"] == Value::Bool(true) {
            modes.push("dry-run");
        }
        let _ = writeln!(
            out,
            "{:<16} {:<9} {:<18} {:>6} {:>4} {:>5} {:>8} {:>5} {:>10} {:>5} {:>7} {:>8}  {:<20}  {}",
            c["cluster"].as_str().unwrap_or("?"),
            c["health"].as_str().unwrap_or("?"),
            c["status"]["status"].as_str().unwrap_or("?"),
            n(&c["round"]),
            n(&b["ok"]),
            n(&b["dead"]),
            n(&b["suspect"]) + n(&b["hung"]),
            n(&b["stale"]),
            n(&c["partitions"]),
            n(&c["under_replicated"]),
            n(&c["offline"]),
            n(&c["findings"]),
            if modes.is_empty() {
                "-".to_string()
            } else {
                modes.join(", ")
            },
            decommission(&c["decommission"])
        );
    }
    out
}

/// The decommission column: each listed broker (and one being uncordoned) with its phase and,
/// while draining, what is left; why it is paused; `-` when none.
fn decommission(d: &Value) -> String {
    let mut ids: std::collections::BTreeSet<i64> = d["wanted"]
        .as_array()
        .into_iter()
        .flatten()
        .filter_map(Value::as_i64)
        .collect();
    let progress = d["brokers"].as_object();
    ids.extend(
        progress
            .into_iter()
            .flat_map(|m| m.keys())
            .filter_map(|k| k.parse::<i64>().ok()),
    );
    if ids.is_empty() {
        return "-".into();
    }
    let parts: Vec<String> = ids
        .iter()
        .map(|id| {
            let b = progress.and_then(|m| m.get(&id.to_string()));
            match b.map(|b| (b["phase"].as_str().unwrap_or("?"), b)) {
                None => format!("{id} waiting"),
                Some(("draining", b)) => format!(
                    "{id} draining ({}, {} left)",
                    crate::text::count(
                        b["replicas_left"].as_u64().unwrap_or(0) as usize,
                        "replica",
                        "replicas"
                    ),
                    crate::text::bytes(b["bytes_left"].as_u64().unwrap_or(0))
                ),
                Some((phase, _)) => format!("{id} {phase}"),
            }
        })
        .collect();
    let mut s = parts.join(", ");
    if let Some(why) = d["paused"].as_str() {
        let _ = write!(s, " [paused: {why}]");
    }
    s
}

#[cfg(test)]
mod tests {
    #[test]
    fn renders_one_line_per_cluster_with_modes() {
        let v = serde_json::json!({"clusters": [
            {"cluster": "prod", "health": "critical", "status": {"status": "ran"}, "round": 7,
             "brokers": {"ok": 5, "dead": 1, "suspect": 0, "hung": 1, "stale": 3}, "partitions": 100,
             "under_replicated": 4, "offline": 0, "findings": 2, "maintenance": true,
             "dry_run": false}
        ]});
        let s = super::render(&v);
        let line = s.lines().nth(1).expect("a line");
        assert!(line.starts_with("prod"), "{s}");
        assert!(line.contains("critical"));
        assert!(line.contains("MAINTENANCE"));
        assert!(!line.contains("dry-run"));
        assert_eq!(
            line.split_whitespace().collect::<Vec<_>>()[3..12],
            ["7", "5", "1", "1", "3", "100", "4", "0", "2"]
        );
        assert!(line.trim_end().ends_with(" -"), "no decommission: {s}");
    }

    #[test]
    fn shows_each_decommissioned_broker_and_its_progress() {
        let v = serde_json::json!({"clusters": [
            {"cluster": "prod", "health": "ok", "status": {"status": "ran"}, "round": 7,
             "brokers": {"ok": 6}, "partitions": 100, "findings": 0, "maintenance": true,
             "decommission": {"wanted": [3, 5, 7, 8], "paused": "maintenance", "brokers": {
                 "3": {"phase": "draining", "cordoned": true, "replicas_left": 12,
                       "bytes_left": 3_000_000_000u64},
                 "5": {"phase": "drained", "cordoned": true, "replicas_left": 0, "bytes_left": 0},
                 "4": {"phase": "uncordoning", "cordoned": true, "replicas_left": 0,
                       "bytes_left": 0},
                 "8": {"phase": "draining", "cordoned": true, "replicas_left": 1,
                       "bytes_left": 21_000_000u64}}}}
        ]});
        let s = super::render(&v);
        assert!(
            s.lines().next().is_some_and(|h| h.contains("decommission")),
            "{s}"
        );
        let line = s.lines().nth(1).expect("a line");
        assert!(
            line.ends_with(
                "3 draining (12 replicas, 3.0 GB left), 4 uncordoning, 5 drained, 7 waiting, 8 \
                 draining (1 replica, 21 MB left) [paused: maintenance]"
            ),
            "{s}"
        );
    }
}
