//! Default partitioner vs the AZ-aware one, on a real 6-broker testbed with 3 racks.
//!
//! For each run and each mode (the order alternates between runs), a fresh topic of 12
//! partitions, RF 3, one leader per broker (4 per AZ), and one producer in each of the first
//! `--azs` racks (default 3: az-a, az-b, az-c), all at once, sharing the load equally:
//!
//! - saturated: `--records` unkeyed records of `--size` bytes in all, as fast as the producers
//!   take them: throughput (records/s, MB/s) from the first send to the last delivery report;
//! - paced: `--paced-secs` at `--rate` records/s in all: delivery latency p50/p99 (send to
//!   delivery report).
//!
//! Cross-AZ produce bytes (both phases): payload bytes whose partition's leader (per the testbed's
//! own metadata, not the router's) is in another rack than the producer that sent them. Cross-
//! checked against the leader replicas' bytes on disk (DescribeLogDirs): each AZ's share of those
//! must match its share of the delivered bytes by leader rack (the largest gap is printed).
//!
//! Producers wait for each other between the two phases; each run's topic is deleted after it.
//! `--warmup` runs of each mode go first and are not counted.
//!
//! # Deciding "no worse than 5 %" on a loaded machine
//!
//! `--runs` is the number of pairs, in ABBA order (default then AZ-aware, then AZ-aware then
//! default, ...). Each pair gives one ratio per figure (AZ-aware / default), so load that drifts
//! between pairs cancels; the median ratio gets a 95 % sign-test interval
//! (`support/paired.rs`), and each target is **met** only when the whole interval is within
//! 5 % (latency p50 and p99: upper bound <= 1.05; throughput: lower bound >= 0.95), **missed**
//! when the whole interval is beyond it, else **inconclusive**. The cut of cross-AZ produce
//! bytes (1 - AZ-aware share / default share, per pair) is judged the same way against 60 %.
//! Prints per-pair rows with the 1-minute load average, the medians, and the verdicts as
//! Markdown tables. Many short pairs decide more than a few long ones; `--minutes` stops
//! starting new pairs after that long (the warm-up not counted). `--routers-in-both 1` gives
//! the default mode the same (unused) routers, so only where the records go differs.
//! `--sticky-everywhere 1` gives the AZ-aware side the same partitioner with every partition
//! `--local-topics 1` replaces the AZ-aware side by librdkafka's default partitioner on one topic
//! per AZ whose partitions are all led in that AZ: the same placement with no kmedic code and
//! no partition set by the application.
//! counted local (no router): it then differs from AZ-aware only in writing to 6 brokers, not 2.
//! `--max-in-flight N` sets `max.in.flight.requests.per.connection` on both modes' producers.
//! The paced phase uses the saturated phase's producer (warm, as a long-lived one is);
//! `--fresh-paced 1` starts a new producer for it, so p99 includes a producer's start-up.
//!
//! Run: `KMEDIC_TESTBED_PORT_BASE=20500 cargo run --release -p kmedic-client --example az_bench -- --runs 30 --records 20000 --rate 1500 --paced-secs 4`

use std::collections::HashMap;
use std::time::{Duration, Instant};

use anyhow::Context;
use kmedic_common::admin::AdminClient;
use kmedic_common::connection::ConnectionSettings;
use kmedic_tests::{Testbed, TestbedConfig};

#[path = "support/bench_args.rs"]
mod bench_args;
#[path = "support/bench_producer.rs"]
mod bench_producer;
#[path = "support/bench_report.rs"]
mod bench_report;
#[path = "support/bench_run.rs"]
mod bench_run;
#[path = "support/paired.rs"]
mod paired;

use bench_report::load_average;
use bench_run::{one_run, Row};

/// The testbed's racks; producers run in the first `--azs` of them.
const RACKS: [&str; 3] = ["az-a", "az-b", "az-c"];
const PARTITIONS: i32 = 12;

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Mode {
    Default,
    AzAware,
}

fn label(mode: Mode) -> &'static str {
    match mode {
        Mode::Default => "default",
        Mode::AzAware => "AZ-aware",
    }
}

fn main() -> anyhow::Result<()> {
    kmedic_tests::init_logs("warn");
    let args = bench_args::args()?;
    let mut config = TestbedConfig::from_env();
    // Diagnostic: broker properties for the testbed, `key=value,key=value`.
    for prop in std::env::var("AZ_BENCH_BROKER_PROPS")
        .unwrap_or_default()
        .split(',')
        .filter(|p| !p.is_empty())
    {
        let (k, v) = prop
            .split_once('=')
            .with_context(|| format!("AZ_BENCH_BROKER_PROPS: {prop} is not key=value"))?;
        config = config.with_broker_prop(k, v);
    }
    let tb = Testbed::start(config)?;
    let rt = tokio::runtime::Builder::new_multi_thread()
        .worker_threads(1)
        .enable_all()
        .build()?;
    let admin = AdminClient::new(ConnectionSettings::plaintext(tb.bootstrap().split(',')))?;
    // Warm-up runs (brokers' JIT, page cache, connections): run, not counted.
    for _ in 0..args.warmup {
        for mode in [Mode::Default, Mode::AzAware] {
            one_run(&tb, &rt, &admin, mode, &args)?;
        }
    }
    // Pairs in ABBA order (pair 0 default first, pair 1 AZ-aware first, ...), so a load that
    // rises or falls steadily favours neither mode. A pair whose run fails (a delivery timeout
    // on an overloaded machine) is dropped whole and counted.
    let mut pairs: Vec<(Row, Row)> = Vec::new();
    let mut failed_pairs = 0usize;
    let (mut load_lo, mut load_hi) = (f64::MAX, 0.0f64);
    let begun = Instant::now();
    for run in 0..args.runs {
        if args.minutes > 0 && begun.elapsed() >= Duration::from_secs(60 * args.minutes) {
            println!("--minutes {}: no new pair after pair {run}", args.minutes);
            break;
        }
        let order = if run % 2 == 0 {
            [Mode::Default, Mode::AzAware]
        } else {
            [Mode::AzAware, Mode::Default]
        };
        let load = load_average();
        load_lo = load_lo.min(load);
        load_hi = load_hi.max(load);
        let mut got: HashMap<&'static str, Row> = HashMap::new();
        for mode in order {
            let name = label(mode);
            match one_run(&tb, &rt, &admin, mode, &args) {
                Ok(row) => {
                    println!(
                        "pair {run} {name:>9}: {:>8.0} rec/s {:>6.1} MB/s  p50 {:>7.2} ms  p99 {:>8.2} ms (after 1 s {:>8.2})  cross-AZ {:>5.1} % (disk gap {:>4.1} pp)  load {load:.1}",
                        row.records_per_sec, row.mb_per_sec, row.p50_ms, row.p99_ms, row.p99_steady_ms, row.cross_az_pct, row.disk_gap_pp
                    );
                    got.insert(name, row);
                }
                Err(e) => {
                    println!("pair {run} {name:>9}: failed ({e:#}); the pair is dropped");
                    break;
                }
            }
        }
        match (got.get(label(Mode::Default)), got.get(label(Mode::AzAware))) {
            (Some(d), Some(a)) => pairs.push((*d, *a)),
            _ => failed_pairs += 1,
        }
    }
    let load = load_average();
    load_lo = load_lo.min(load);
    load_hi = load_hi.max(load);
    println!();
    bench_report::summary(&pairs, args.azs);
    println!(
        "\n{} pairs after {} warm-up pair(s), {failed_pairs} dropped; saturated: {} records of {} B; paced: {} records/s for {} s; load average (1 min) {load_lo:.1} to {load_hi:.1}",
        pairs.len(), args.warmup, args.records, args.size, args.rate, args.paced_secs
    );
    bench_report::verdicts(&pairs);
    Ok(())
}
