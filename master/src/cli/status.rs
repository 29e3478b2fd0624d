//! `kmedic-master status`: a running master's fleet summary in the terminal, read from its
//! REST API (`GET /api/clusters`).

use std::fmt::Write as _;

use serde_json::Value;

/// Fetches `GET {url}/api/clusters`.
pub async fn fetch(url: &str) -> Result<Value, String> {
    let u = format!("{}/api/clusters", url.trim_end_matches('/'));
    let resp = reqwest::get(&u)
        .await
        .map_err(|e| format!("{u}: {e}; is the master running with [serve] at that address?"))?;
    let status = resp.status();
    let text = resp.text().await.map_err(|e| format!("{u}: {e}"))?;
    if !status.is_success() {
        return Err(format!("{u}: HTTP {status}: {text}"));
    }
    serde_json::from_str(&text).map_err(|e| format!("{u}: not JSON: {e}"))
}

/// One line per cluster.
pub fn render(v: &Value) -> String {
    let mut out = String::new();
    let _ = writeln!(
        out,
        "{:<16} {:<9} {:<18} {:>6} {:>4} {:>5} {:>8} {:>10} {:>5} {:>7} {:>8}  modes",
        "cluster",
        "health",
        "status",
        "round",
        "ok",
        "dead",
        "suspect",
        "partitions",
        "URPs",
        "offline",
        "findings"
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
            "{:<16} {:<9} {:<18} {:>6} {:>4} {:>5} {:>8} {:>10} {:>5} {:>7} {:>8}  {}",
            c["cluster"].as_str().unwrap_or("?"),
            c["health"].as_str().unwrap_or("?"),
            c["status"]["status"].as_str().unwrap_or("?"),
            n(&c["round"]),
            n(&b["ok"]),
            n(&b["dead"]),
            n(&b["suspect"]) + n(&b["hung"]),
            n(&c["partitions"]),
            n(&c["under_replicated"]),
            n(&c["offline"]),
            n(&c["findings"]),
            modes.join(", ")
        );
    }
    out
}

#[cfg(test)]
mod tests {
    #[test]
    fn renders_one_line_per_cluster_with_modes() {
        let v = serde_json::json!({"clusters": [
            {"cluster": "prod", "health": "critical", "status": {"status": "ran"}, "round": 7,
             "brokers": {"ok": 5, "dead": 1, "suspect": 0, "hung": 1}, "partitions": 100,
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
            line.split_whitespace().collect::<Vec<_>>()[3..11],
            ["7", "5", "1", "1", "100", "4", "0", "2"]
        );
    }
}
