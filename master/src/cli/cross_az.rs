//! `kmedic-master cross-az --cluster NAME [--url URL] [--json]`: a running master's cross-AZ
//! traffic report (`GET /api/clusters/{c}/cross-az`, computed by [`crate::xaz`] from the live
//! agents' rates), as a table for a terminal or as JSON.

use std::fmt::Write as _;

use crate::xaz::Report;

/// Fetches the report of `cluster` from the master at `url`.
pub async fn fetch(url: &str, cluster: &str) -> Result<Report, String> {
    let path = format!("/api/clusters/{cluster}/cross-az");
    super::status::get_json(url, &path, "a cross-AZ report").await
}

/// Bytes per second for people: B/s, kB/s, MB/s, GB/s (decimal).
fn rate(b: f64) -> String {
    let units = [("GB/s", 1e9), ("MB/s", 1e6), ("kB/s", 1e3)];
    for (u, f) in units {
        if b >= f {
            return format!("{:.2} {u}", b / f);
        }
    }
    format!("{b:.0} B/s")
}

/// The report as text: one line per kind, the top flows, the assumptions.
pub fn render(cluster: &str, r: &Report) -> String {
    let mut out = String::new();
    let _ = writeln!(
        out,
        "cluster {cluster}: cross-AZ traffic {} over racks {}",
        rate(r.cross_az_bytes_per_sec),
        r.racks.join(", ")
    );
    let leaders: Vec<String> = r
        .leaders_per_rack
        .iter()
        .map(|(k, v)| format!("{k}={v}"))
        .collect();
    let _ = writeln!(out, "  leaders per rack: {}", leaders.join(" "));
    let _ = writeln!(
        out,
        "\n{:<12} {:>14} {:>14} {:>7}  basis",
        "kind", "total", "cross-AZ", "share"
    );
    for (kind, t) in [
        ("replication", &r.replication),
        ("produce", &r.produce),
        ("consume", &r.consume),
    ] {
        let _ = writeln!(
            out,
            "{kind:<12} {:>14} {:>14} {:>6.1}%  {}",
            rate(t.total_bytes_per_sec),
            rate(t.cross_az_bytes_per_sec),
            t.cross_az_share * 100.0,
            t.basis
        );
    }
    if r.unknown_rack_bytes_per_sec > 0.0 {
        let _ = writeln!(
            out,
            "not counted (broker without rack or partition without leader): {}",
            rate(r.unknown_rack_bytes_per_sec)
        );
    }
    if !r.flows.is_empty() {
        let _ = writeln!(out, "\nlargest flows:");
        for f in r.flows.iter().take(12) {
            let _ = writeln!(
                out,
                "  {:<12} {:>8} -> {:<8} {:>14}",
                f.kind,
                f.from,
                f.to,
                rate(f.bytes_per_sec)
            );
        }
    }
    let _ = writeln!(out, "\nassumptions:");
    for a in &r.assumptions {
        let _ = writeln!(out, "  - {a}");
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::sim::Cluster;
    use crate::xaz::{report, ClientAzConfig};

    #[test]
    fn renders_kinds_flows_and_assumptions_and_round_trips_json() {
        let mut c = Cluster::new();
        c.add_broker(1, "az-a").add_broker(2, "az-b");
        let i = c.add_partition("t", 1, &[1, 2], 0);
        c.set_rates(i, 2_000_000, 1_000_000);
        let r = report(&c.snapshot, &ClientAzConfig::default());
        let back: Report = serde_json::from_str(&serde_json::to_string(&r).unwrap()).unwrap();
        assert_eq!(back, r);
        let text = render("prod", &r);
        assert!(
            text.contains("cluster prod: cross-AZ traffic 3.50 MB/s"),
            "{text}"
        );
        assert!(text.contains("replication"), "{text}");
        assert!(text.contains("az-a -> az-b"), "{text}");
        assert!(text.contains("uniform over the 2 racks"), "{text}");
    }
}
