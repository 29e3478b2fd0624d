//! Failure headroom at scale: every what-if (lose each broker, lose each rack) on a simulated
//! cluster of 200 brokers in 3 racks with 1M replicas; prints the time and the outcome.
//!
//! Run: `cargo bench -p kmedic-master --bench headroom` (release profile). `HEADROOM_BENCH_RUNS`
//! sets the timed runs (default 1; the median is shown). `HEADROOM_BENCH_BROKERS` and
//! `HEADROOM_BENCH_REPLICAS` change the size.

use std::time::Instant;

use kmedic_master::headroom::report;
use kmedic_master::plan::Limits;
use kmedic_master::sim::{generate, Spec};

fn env(key: &str, default: usize) -> usize {
    std::env::var(key)
        .ok()
        .and_then(|v| v.parse().ok())
        .unwrap_or(default)
        .max(1)
}

fn main() {
    // `cargo bench` passes --bench; nothing to parse.
    let brokers = env("HEADROOM_BENCH_BROKERS", 200);
    let replicas = env("HEADROOM_BENCH_REPLICAS", 1_000_000);
    let runs = env("HEADROOM_BENCH_RUNS", 1);
    let t = Instant::now();
    let c = generate(&Spec::new(brokers, replicas, 7));
    println!(
        "## headroom: {} brokers, {} partitions, {} replicas (generated in {:.1} s)",
        c.snapshot.brokers.len(),
        c.snapshot.partitions.len(),
        c.snapshot.replica_count(),
        t.elapsed().as_secs_f64()
    );
    let mut times = Vec::new();
    let mut last = None;
    for _ in 0..runs {
        let t = Instant::now();
        let r = report(&c.snapshot, &Limits::default());
        times.push(t.elapsed());
        last = Some(r);
    }
    times.sort();
    let median = times[times.len() / 2];
    let Some(r) = last else { return };
    let what_ifs = r.brokers.len() + r.racks.len();
    let worst = r.brokers.iter().max_by_key(|w| w.unplaceable);
    println!(
        "what-ifs {} ({} brokers + {} racks) | total (median of {runs}) {:.2} s | per what-if {:.0} ms",
        what_ifs,
        r.brokers.len(),
        r.racks.len(),
        median.as_secs_f64(),
        median.as_secs_f64() * 1e3 / what_ifs as f64
    );
    println!(
        "absorbs any broker: {} (unabsorbable: {}) | absorbs any rack: {} | worst broker loss: {:?} unplaceable {} of {} replicas | max net-in after heal {:.2}",
        r.absorbs_any_broker,
        r.unabsorbable_brokers.len(),
        r.absorbs_any_rack,
        worst.map(|w| &w.lost),
        worst.map_or(0, |w| w.unplaceable),
        worst.map_or(0, |w| w.replicas),
        r.brokers
            .iter()
            .map(|w| w.net_in_max_utilization_after)
            .fold(0.0, f64::max),
    );
    for w in &r.racks {
        println!(
            "rack {:?}: {} replicas, {} unplaceable {:?}",
            w.lost, w.replicas, w.unplaceable, w.reasons
        );
    }
}
