//! `az_bench`'s tables: medians per mode, and the paired verdicts.

use crate::bench_run::Row;
use crate::paired;
use crate::{label, Mode, RACKS};

/// The medians of each mode over the pairs, as a Markdown table.
pub fn summary(pairs: &[(Row, Row)], azs: usize) {
    println!(
        "| producers ({}) | records/s | MB/s | latency p50 ms | latency p99 ms | cross-AZ produce bytes | disk check: largest gap |",
        RACKS[..azs].join(", ")
    );
    println!("|---|---:|---:|---:|---:|---:|---:|");
    for (name, side) in [
        (label(Mode::Default), 0usize),
        (label(Mode::AzAware), 1usize),
    ] {
        let rows: Vec<Row> = pairs
            .iter()
            .map(|p| if side == 0 { p.0 } else { p.1 })
            .collect();
        let m = |f: fn(&Row) -> f64| {
            paired::median(&rows.iter().map(f).collect::<Vec<_>>()).unwrap_or(f64::NAN)
        };
        println!(
            "| {name} | {:.0} | {:.1} | {:.2} | {:.2} | {:.1} % | {:.1} pp |",
            m(|r| r.records_per_sec),
            m(|r| r.mb_per_sec),
            m(|r| r.p50_ms),
            m(|r| r.p99_ms),
            m(|r| r.cross_az_pct),
            m(|r| r.disk_gap_pp)
        );
    }
}

/// The paired verdicts: per pair, AZ-aware / default; the median's 95 % sign-test interval
/// against the 5 % tolerance; and the cut of cross-AZ bytes against its 60 % target.
pub fn verdicts(pairs: &[(Row, Row)]) {
    const ALPHA: f64 = 0.05;
    const TOLERANCE: f64 = 0.05;
    let ratios = |f: fn(&Row) -> f64| -> Vec<f64> {
        pairs.iter().map(|(d, a)| f(a) / f(d).max(1e-9)).collect()
    };
    println!("\n| AZ-aware / default, per pair | median | 95 % interval (sign test) | target | verdict |");
    println!("|---|---:|---|---|---|");
    let lines: [(&str, Vec<f64>, bool); 4] = [
        ("throughput", ratios(|r| r.records_per_sec), true),
        ("latency p50", ratios(|r| r.p50_ms), false),
        ("latency p99", ratios(|r| r.p99_ms), false),
        ("latency p99 after 1 s", ratios(|r| r.p99_steady_ms), false),
    ];
    for (what, xs, higher_is_better) in lines {
        match paired::median_ci(&xs, ALPHA) {
            Some(ci) => {
                let (target, verdict) = if higher_is_better {
                    (">= 0.95", paired::at_least(&ci, TOLERANCE))
                } else {
                    ("<= 1.05", paired::at_most(&ci, TOLERANCE))
                };
                println!(
                    "| {what} | {:.3} | {:.3} to {:.3} ({:.1} %) | {target} | **{}** |",
                    ci.median,
                    ci.lo,
                    ci.hi,
                    100.0 * ci.coverage,
                    verdict.as_str()
                );
            }
            None => println!(
                "| {what} | - | too few pairs ({}; 95 % needs 6) | | **inconclusive** |",
                xs.len()
            ),
        }
    }
    // The cut of cross-AZ produce bytes: 1 - AZ-aware share / default share, per pair.
    let cuts: Vec<f64> = pairs
        .iter()
        .map(|(d, a)| 1.0 - a.cross_az_pct / d.cross_az_pct.max(1e-9))
        .collect();
    match paired::median_ci(&cuts, ALPHA) {
        Some(ci) => println!(
            "| cross-AZ produce bytes cut | {:.1} % | {:.1} to {:.1} % ({:.1} %) | >= 60 % | **{}** |",
            100.0 * ci.median,
            100.0 * ci.lo,
            100.0 * ci.hi,
            100.0 * ci.coverage,
            if ci.lo >= 0.60 {
                "met"
            } else if ci.hi < 0.60 {
                "missed"
            } else {
                "inconclusive"
            }
        ),
        None => println!("| cross-AZ produce bytes cut | - | too few pairs | >= 60 % | **inconclusive** |"),
    }
    let worst_gap = pairs
        .iter()
        .flat_map(|(d, a)| [d.disk_gap_pp, a.disk_gap_pp])
        .fold(0.0, f64::max);
    println!("\ndisk cross-check: largest gap between an AZ's share of leader bytes on disk and of delivered bytes, over all runs: {worst_gap:.2} pp");
}

/// The 1-minute load average, or NaN where /proc/loadavg cannot be read.
pub fn load_average() -> f64 {
    std::fs::read_to_string("/proc/loadavg")
        .ok()
        .and_then(|s| s.split_whitespace().next()?.parse().ok())
        .unwrap_or(f64::NAN)
}
