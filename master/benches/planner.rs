//! Planner benchmarks on simulated clusters; prints a table.
//!
//! Run: `cargo bench -p kmedic-master --bench planner` (release profile). Set
//! `PLANNER_BENCH_RUNS` to change the number of timed runs per case (default 3; the table shows
//! the median). Cases:
//! - heal one dead broker at 200 brokers, 3 racks, 1M replicas (target <= 50 ms);
//! - `heal-balanced`: the scale curve's heal at 200 brokers / 1M replicas (heavy skew, balanced
//!   to 1.05 first, then broker 1 killed; target <= 50 ms), and `heal-2000` the same at
//!   2,000 brokers / 10M replicas (target <= 1 s; needs ~1.5 GB and a minute to generate);
//! - full balance at 270 brokers, 1.3M replicas, where 27 of the brokers were just added empty
//!   (a scale-out), with target ratio 1.05 (target <= 10 s, max/mean <= 1.05, no rack violation);
//! - full balance at the same size with heavy traffic skew and no empty brokers;
//! - spread leaders at the same size (10% of partitions led by a non-preferred replica);
//! - Cruise Control's generator clusters (`../shared/clusters`, issue 12), median of 5 runs:
//!   `cc-skewed` full balance at target 1.10 with no move cap (as Cruise Control runs it),
//!   `cc-dead1` heal of broker 0. Skipped with a note when the files are missing.

use std::time::{Duration, Instant};

use kmedic_master::plan::{plan, Limits, Plan, Request};
use kmedic_master::sim::{bytes_lower_bound, cc_tsv, generate, health, Cluster, Spec};

fn runs() -> usize {
    std::env::var("PLANNER_BENCH_RUNS")
        .ok()
        .and_then(|v| v.parse().ok())
        .unwrap_or(3)
        .max(1)
}

/// Median time of `runs` plans, and the last plan.
fn time_plan(c: &Cluster, limits: &Limits, req: &Request, runs: usize) -> (Duration, Plan) {
    let mut times = Vec::new();
    let mut last = None;
    for _ in 0..runs {
        let t = Instant::now();
        let p = plan(&c.snapshot, limits, req);
        times.push(t.elapsed());
        last = Some(p);
    }
    times.sort();
    (times[times.len() / 2], last.unwrap())
}

fn gb(b: u64) -> f64 {
    b as f64 / 1e9
}

/// Replicas added by `p` (each is one copy).
fn replicas_moved(p: &Plan) -> usize {
    p.moves
        .iter()
        .map(|m| {
            m.new_replicas
                .iter()
                .filter(|r| !m.old_replicas.contains(r))
                .count()
        })
        .sum()
}

fn report(name: &str, c: &Cluster, limits: &Limits, req: &Request) {
    report_runs(name, c, limits, req, runs());
}

fn report_runs(name: &str, c: &Cluster, limits: &Limits, req: &Request, runs: usize) {
    let t = Instant::now();
    let before = health(&c.snapshot);
    let bound = bytes_lower_bound(&c.snapshot, limits.target_ratio);
    let setup = t.elapsed();
    let (time, p) = time_plan(c, limits, req, runs);
    let mut after = c.clone();
    after.apply(&p);
    let h = health(&after.snapshot);
    println!("## {name}");
    println!(
        "brokers {} partitions {} replicas {} | plan time (median of {}) {:.1} ms | check setup {:.0} ms",
        c.snapshot.brokers.len(),
        c.snapshot.partitions.len(),
        c.snapshot.replica_count(),
        runs,
        time.as_secs_f64() * 1e3,
        setup.as_secs_f64() * 1e3
    );
    println!(
        "moves {} (replicas copied {}) elections {} unplaceable {} warnings {} | bytes moved {:.1} GB, lower bound {:.1} GB (x{:.2})",
        p.moves.len(),
        replicas_moved(&p),
        p.elections.len(),
        p.unplaceable.len(),
        p.warnings.len(),
        gb(p.totals.bytes_moved),
        gb(bound),
        if bound > 0 { p.totals.bytes_moved as f64 / bound as f64 } else { 0.0 }
    );
    println!("| figure | before | after |\n|---|---|---|");
    println!(
        "| net in max/mean | {:.3} | {:.3} |",
        before.net_in_max_over_mean, h.net_in_max_over_mean
    );
    println!(
        "| net out max/mean | {:.3} | {:.3} |",
        before.net_out_max_over_mean, h.net_out_max_over_mean
    );
    println!(
        "| disk max/mean | {:.3} | {:.3} |",
        before.disk_max_over_mean, h.disk_max_over_mean
    );
    println!(
        "| replicas max/mean | {:.3} | {:.3} |",
        before.replicas_max_over_mean, h.replicas_max_over_mean
    );
    println!(
        "| leaders max/mean | {:.3} | {:.3} |",
        before.leaders_max_over_mean, h.leaders_max_over_mean
    );
    println!(
        "| rack violations | {} | {} |",
        before.rack_violations, h.rack_violations
    );
    println!(
        "| replicas on unhealthy brokers | {} | {} |",
        before.replicas_on_unhealthy, h.replicas_on_unhealthy
    );
    println!();
}

/// The scale curve's heal (`kmedic-bench report --scale-only`): the heavy-skew cluster balanced
/// to 1.05 with no move cap, then broker 1 killed and healed. A balanced cluster is the hard
/// case: every broker sits near the pre-failure peak, so the heal's peak limits bind.
fn heal_balanced(brokers: usize, replicas: usize) {
    let mut spec = Spec::new(brokers, replicas, 5);
    spec.topic_skew = 1.0;
    spec.partition_skew = 0.6;
    spec.non_preferred_leaders = 0.10;
    let mut c = generate(&spec);
    let full = Limits {
        target_ratio: 1.05,
        max_moves_per_broker: u32::MAX,
        ..Limits::default()
    };
    let p = plan(&c.snapshot, &full, &Request::Balance);
    c.apply(&p);
    c.kill(1);
    report(
        &format!("heal after balance: 1 dead broker, {brokers} brokers, {replicas} replicas (scale curve)"),
        &c,
        &Limits::default(),
        &Request::Heal { dead: vec![1] },
    );
}

fn main() {
    // `cargo bench` passes --bench; a filter argument selects cases by name.
    let filter: Option<String> = std::env::args().skip(1).find(|a| !a.starts_with('-'));
    let want = |n: &str| filter.as_deref().is_none_or(|f| n.contains(f));

    if want("heal") {
        let mut c = generate(&Spec::new(200, 1_000_000, 7));
        c.kill(1);
        report(
            "heal: 1 dead broker, 200 brokers, 1M replicas",
            &c,
            &Limits::default(),
            &Request::Heal { dead: vec![1] },
        );
    }
    if want("heal-balanced") {
        heal_balanced(200, 1_000_000);
    }
    // Only by name: it takes a minute and ~1.5 GB.
    if filter.as_deref() == Some("heal-2000") {
        heal_balanced(2_000, 10_000_000);
    }
    // A full balance: no per-plan move cap (the executor throttles), ratio 1.05.
    let limits = Limits {
        target_ratio: 1.05,
        max_moves_per_broker: u32::MAX,
        ..Limits::default()
    };
    if want("scaleout") {
        let mut spec = Spec::new(243, 1_300_000, 11);
        spec.empty_brokers = 27;
        let c = generate(&spec);
        report(
            "balance (scale-out): 243 loaded + 27 empty brokers, 1.3M replicas, ratio 1.05",
            &c,
            &limits,
            &Request::Balance,
        );
        if want("scaleout-nocounts") {
            // The same without the count bands: what the count step costs (issue 12).
            let no_counts = Limits {
                replica_count_band: 0.0,
                leader_count_band: 0.0,
                ..limits.clone()
            };
            report(
                "balance (scale-out), count bands off: 243 + 27 empty brokers, ratio 1.05",
                &c,
                &no_counts,
                &Request::Balance,
            );
        }
    }
    if want("spread") {
        let mut spec = Spec::new(270, 1_300_000, 17);
        spec.non_preferred_leaders = 0.10;
        let c = generate(&spec);
        report(
            "spread leaders: 270 brokers, 1.3M replicas",
            &c,
            &Limits::default(),
            &Request::SpreadLeaders,
        );
    }
    if want("skew") {
        // Heavier skew: Zipf 1.0 over topics and 0.6 within them, 10% non-preferred leaders
        // (at 1.1 and 1.0 single partitions outgrow a broker and no plan can reach 1.05).
        let mut spec = Spec::new(270, 1_300_000, 13);
        spec.topic_skew = 1.0;
        spec.partition_skew = 0.6;
        spec.non_preferred_leaders = 0.10;
        let c = generate(&spec);
        report(
            "balance (heavy skew): 270 brokers, 1.3M replicas, ratio 1.05",
            &c,
            &limits,
            &Request::Balance,
        );
    }
    let cc = |file: &str| {
        let path = concat!(env!("CARGO_MANIFEST_DIR"), "/../../shared/clusters/").to_owned() + file;
        match cc_tsv::load(&path) {
            Ok(c) => Some(c),
            Err(e) => {
                println!("## {file}: skipped ({e})\n");
                None
            }
        }
    };
    if want("cc-skewed") {
        if let Some(c) = cc("cc-b50-r50k-skewed.tsv.gz") {
            let full = Limits {
                max_moves_per_broker: u32::MAX,
                ..Limits::default()
            };
            report_runs(
                "cc-b50-r50k-skewed: full balance, target 1.10, no move cap",
                &c,
                &full,
                &Request::Balance,
                5,
            );
        }
    }
    if want("cc-dead1") {
        if let Some(c) = cc("cc-b50-r50k-dead1.tsv.gz") {
            report_runs(
                "cc-b50-r50k-dead1: heal broker 0 (dead)",
                &c,
                &Limits::default(),
                &Request::Heal { dead: vec![0] },
                5,
            );
        }
    }
}
