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
//! counted local (no router): it then differs from AZ-aware only in writing to 6 brokers, not 2.
//! `--max-in-flight N` sets `max.in.flight.requests.per.connection` on both modes' producers.
//! The paced phase uses the saturated phase's producer (warm, as a long-lived one is);
//! `--fresh-paced 1` starts a new producer for it, so p99 includes a producer's start-up.
//!
//! Run: `KMEDIC_TESTBED_PORT_BASE=20500 cargo run --release -p kmedic-client --example az_bench -- --runs 30 --records 20000 --rate 1500 --paced-secs 4`

use std::collections::HashMap;
use std::sync::{Arc, Barrier, Mutex};
use std::time::{Duration, Instant};

use anyhow::{ensure, Context};
use kmedic_client::{AzPartitioner, AzProducerOptions, AzRouter, LeaderMap};
use kmedic_common::admin::AdminClient;
use kmedic_common::connection::ConnectionSettings;
use kmedic_tests::{random_topic, Testbed, TestbedConfig};
use rdkafka::error::{KafkaError, RDKafkaErrorCode};
use rdkafka::message::Message;
use rdkafka::producer::{BaseRecord, DeliveryResult, Producer, ProducerContext, ThreadedProducer};
use rdkafka::{ClientConfig, ClientContext};

#[path = "support/paired.rs"]
mod paired;

/// The testbed's racks; producers run in the first `--azs` of them.
const RACKS: [&str; 3] = ["az-a", "az-b", "az-c"];
const PARTITIONS: i32 = 12;

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Mode {
    Default,
    AzAware,
}

/// One delivered record: partition, payload bytes, latency, when it was sent.
type Report = (i32, usize, Duration, Instant);

/// Delivery reports.
#[derive(Default)]
struct Reports {
    ok: Mutex<Vec<Report>>,
    failed: Mutex<u64>,
}

#[derive(Clone, Default)]
struct BenchContext(Arc<Reports>);

impl ClientContext for BenchContext {}

impl ProducerContext for BenchContext {
    type DeliveryOpaque = Box<Instant>;

    fn delivery(&self, result: &DeliveryResult<'_>, sent: Box<Instant>) {
        let latency = sent.elapsed();
        match result {
            Ok(m) => self.0.ok.lock().unwrap_or_else(|e| e.into_inner()).push((
                m.partition(),
                m.payload_len(),
                latency,
                *sent,
            )),
            Err(_) => *self.0.failed.lock().unwrap_or_else(|e| e.into_inner()) += 1,
        }
    }
}

struct Args {
    runs: usize,
    warmup: usize,
    azs: usize,
    records: usize,
    size: usize,
    rate: usize,
    paced_secs: u64,
    /// Start no new pair after this many minutes (0: no limit).
    minutes: u64,
    /// Build the routers in the default mode too, unused (a diagnostic).
    routers_in_both: bool,
    /// The AZ-aware side uses the same partitioner with every partition counted local (a
    /// diagnostic: the partitioner's rotation over 6 brokers instead of 2).
    sticky_everywhere: bool,
    /// `max.in.flight.requests.per.connection` for both modes (0: librdkafka's default).
    max_in_flight: usize,
    /// A new producer for the paced phase (before session G: the first second's start-up
    /// latency was then part of p99).
    fresh_paced: bool,
}

fn args() -> anyhow::Result<Args> {
    let mut a = Args {
        runs: 5,
        warmup: 1,
        azs: 3,
        records: 50_000,
        size: 1024,
        rate: 1_000,
        paced_secs: 10,
        minutes: 0,
        routers_in_both: false,
        sticky_everywhere: false,
        max_in_flight: 0,
        fresh_paced: false,
    };
    let mut it = std::env::args().skip(1);
    while let Some(flag) = it.next() {
        let value = it.next().with_context(|| format!("{flag} needs a value"))?;
        let n: usize = value.parse().with_context(|| format!("{flag} {value}"))?;
        match flag.as_str() {
            "--runs" => a.runs = n,
            "--warmup" => a.warmup = n,
            "--azs" => a.azs = n,
            "--records" => a.records = n,
            "--size" => a.size = n,
            "--rate" => a.rate = n,
            "--paced-secs" => a.paced_secs = n as u64,
            "--minutes" => a.minutes = n as u64,
            "--routers-in-both" => a.routers_in_both = n != 0,
            "--sticky-everywhere" => a.sticky_everywhere = n != 0,
            "--max-in-flight" => a.max_in_flight = n,
            "--fresh-paced" => a.fresh_paced = n != 0,
            _ => anyhow::bail!(
                "unknown flag {flag}: use --runs, --warmup, --azs, --records, --size, --rate, --paced-secs, --minutes, --routers-in-both, --sticky-everywhere, --max-in-flight, --fresh-paced"
            ),
        }
    }
    anyhow::ensure!(
        (1..=3).contains(&a.azs),
        "--azs {}: use 1 to 3 (the testbed has three racks)",
        a.azs
    );
    anyhow::ensure!(
        a.records >= a.azs && a.rate >= a.azs,
        "--records and --rate must be at least --azs"
    );
    Ok(a)
}

#[derive(Debug, Default, Clone, Copy)]
struct Row {
    records_per_sec: f64,
    mb_per_sec: f64,
    p50_ms: f64,
    p99_ms: f64,
    /// p99 of the records sent after the paced phase's first second (producer start-up left out).
    p99_steady_ms: f64,
    cross_az_pct: f64,
    /// Largest gap, in percentage points, between an AZ's share of leader bytes on disk and its
    /// share of delivered bytes by leader rack.
    disk_gap_pp: f64,
}

fn main() -> anyhow::Result<()> {
    kmedic_tests::init_logs("warn");
    let args = args()?;
    let tb = Testbed::start(TestbedConfig::from_env())?;
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
    println!(
        "| producers ({}) | records/s | MB/s | latency p50 ms | latency p99 ms | cross-AZ produce bytes | disk check: largest gap |",
        RACKS[..args.azs].join(", ")
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
    println!(
        "\n{} pairs after {} warm-up pair(s), {failed_pairs} dropped; saturated: {} records of {} B; paced: {} records/s for {} s; load average (1 min) {load_lo:.1} to {load_hi:.1}",
        pairs.len(), args.warmup, args.records, args.size, args.rate, args.paced_secs
    );
    verdicts(&pairs);
    Ok(())
}

/// The paired verdicts: per pair, AZ-aware / default; the median's 95 % sign-test interval
/// against the 5 % tolerance; and the cut of cross-AZ bytes against its 60 % target.
fn verdicts(pairs: &[(Row, Row)]) {
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
fn load_average() -> f64 {
    std::fs::read_to_string("/proc/loadavg")
        .ok()
        .and_then(|s| s.split_whitespace().next()?.parse().ok())
        .unwrap_or(f64::NAN)
}

fn label(mode: Mode) -> &'static str {
    match mode {
        Mode::Default => "default",
        Mode::AzAware => "AZ-aware",
    }
}

fn percentile_ms(sorted: &[Duration], q: f64) -> f64 {
    if sorted.is_empty() {
        return 0.0;
    }
    let i = ((sorted.len() - 1) as f64 * q).round() as usize;
    sorted[i].as_secs_f64() * 1e3
}

/// A producer, and (AZ-aware mode) the router for `topic`.
fn producer(
    tb: &Testbed,
    args: &Args,
) -> anyhow::Result<(ThreadedProducer<BenchContext>, BenchContext)> {
    let ctx = BenchContext::default();
    let mut config = ClientConfig::new();
    config
        .set("bootstrap.servers", tb.bootstrap())
        .set("acks", "all")
        .set("linger.ms", "5")
        .set("queue.buffering.max.messages", "200000");
    if args.max_in_flight > 0 {
        config.set(
            "max.in.flight.requests.per.connection",
            args.max_in_flight.to_string(),
        );
    }
    let p = config.create_with_context(ctx.clone())?;
    Ok((p, ctx))
}

/// Sends one record, waiting while the local queue is full.
fn send(
    p: &ThreadedProducer<BenchContext>,
    topic: &str,
    partition: Option<i32>,
    payload: &[u8],
) -> anyhow::Result<()> {
    let mut record =
        BaseRecord::<(), [u8], Box<Instant>>::with_opaque_to(topic, Box::new(Instant::now()))
            .payload(payload);
    if let Some(part) = partition {
        record = record.partition(part);
    }
    loop {
        match p.send(record) {
            Ok(()) => return Ok(()),
            Err((KafkaError::MessageProduction(RDKafkaErrorCode::QueueFull), r)) => {
                record = r;
                std::thread::sleep(Duration::from_micros(200));
            }
            Err((e, _)) => return Err(e.into()),
        }
    }
}

fn wait_delivered(
    p: &ThreadedProducer<BenchContext>,
    ctx: &BenchContext,
    n: usize,
) -> anyhow::Result<()> {
    p.flush(Duration::from_secs(120))?;
    let failed = *ctx.0.failed.lock().unwrap_or_else(|e| e.into_inner());
    let ok = ctx.0.ok.lock().unwrap_or_else(|e| e.into_inner()).len();
    ensure!(
        failed == 0 && ok == n,
        "{ok} of {n} delivered, {failed} failed"
    );
    Ok(())
}

/// Who picks an unkeyed record's partition.
#[derive(Clone, Copy)]
enum Pick<'a> {
    /// librdkafka's default partitioner.
    Librdkafka,
    /// The AZ-aware router.
    Router(&'a AzRouter),
    /// The router's partitioner with every partition counted local (`--sticky-everywhere 1`).
    Own(&'a Mutex<AzPartitioner>),
}

/// What one producer (in `az`) delivered, per record.
struct Delivered {
    az: &'static str,
    saturated: Vec<Report>,
    /// When the last saturated record was acknowledged.
    saturated_done: Instant,
    /// When the paced phase began.
    paced_started: Instant,
    paced: Vec<Report>,
}

/// One producer in `az`: its share of the records as fast as it goes, then its share of the
/// rate for `--paced-secs`.
fn produce(
    tb: &Testbed,
    topic: &str,
    az: &'static str,
    pick: Pick<'_>,
    args: &Args,
    payload: &[u8],
    between_phases: &Barrier,
) -> anyhow::Result<Delivered> {
    let partition = || match pick {
        Pick::Librdkafka => None,
        Pick::Router(r) => r.route(topic, None).partition(),
        Pick::Own(m) => m
            .lock()
            .unwrap_or_else(|e| e.into_inner())
            .route(topic, None, Instant::now())
            .partition(),
    };
    let records = args.records / args.azs;
    let (rate, secs) = (args.rate / args.azs, args.paced_secs);
    let take = |ctx: &BenchContext| {
        std::mem::take(&mut *ctx.0.ok.lock().unwrap_or_else(|e| e.into_inner()))
    };

    let saturated = (|| {
        let (p, ctx) = producer(tb, args)?;
        for _ in 0..records {
            send(&p, topic, partition(), payload)?;
        }
        wait_delivered(&p, &ctx, records)?;
        let done = Instant::now();
        anyhow::Ok((take(&ctx), done, p, ctx))
    })();
    // Every producer finishes the saturated phase before any starts the paced one, so latency
    // is never measured next to another producer's flood. Waited for even after an error, so
    // the other threads are not left waiting.
    between_phases.wait();
    let (saturated, saturated_done, p, ctx) = saturated?;
    // The paced phase goes on with the same producer, connected and with metadata, as a
    // long-lived producer is; `--fresh-paced 1` starts a new one (its first second then holds
    // the connection set-up and the first metadata request).
    let (p, ctx) = if args.fresh_paced {
        drop(p);
        producer(tb, args)?
    } else {
        (p, ctx)
    };
    let total = rate * secs as usize;
    let started = Instant::now();
    let mut sent = 0usize;
    while sent < total {
        let due = ((started.elapsed().as_secs_f64() * rate as f64) as usize).min(total);
        while sent < due {
            send(&p, topic, partition(), payload)?;
            sent += 1;
        }
        std::thread::sleep(Duration::from_millis(1));
    }
    wait_delivered(&p, &ctx, total)?;
    Ok(Delivered {
        az,
        saturated,
        saturated_done,
        paced_started: started,
        paced: take(&ctx),
    })
}

fn one_run(
    tb: &Testbed,
    rt: &tokio::runtime::Runtime,
    admin: &AdminClient,
    mode: Mode,
    args: &Args,
) -> anyhow::Result<Row> {
    let topic = random_topic("az-bench");
    let assignment: Vec<Vec<i32>> = (0..PARTITIONS)
        .map(|p| (0..3).map(|r| (p + r) % 6 + 1).collect())
        .collect();
    tb.create_topic_with_assignment(&topic, &assignment)?;
    let azs = &RACKS[..args.azs];
    let mut routers = Vec::new();
    for az in azs {
        // `--routers-in-both 1`: the default mode builds the same routers and leaves them
        // unused, so both modes carry their admin clients and refreshers (a diagnostic: it
        // separates the router's own cost from where the records go).
        routers.push(match mode {
            Mode::Default if !args.routers_in_both => None,
            Mode::AzAware if args.sticky_everywhere => None,
            Mode::Default | Mode::AzAware => {
                let options = AzProducerOptions {
                    az: Some(az.to_string()),
                    topics: vec![topic.clone()],
                    ..AzProducerOptions::default()
                };
                let own =
                    AdminClient::new(ConnectionSettings::plaintext(tb.bootstrap().split(',')))?;
                Some(rt.block_on(AzRouter::new(own, options)))
            }
        });
    }
    // `--sticky-everywhere 1`: the AZ-aware side's partitioner with all partitions in its AZ.
    let everywhere: Vec<Option<Mutex<AzPartitioner>>> = azs
        .iter()
        .map(|az| {
            (mode == Mode::AzAware && args.sticky_everywhere).then(|| {
                let mut p = AzPartitioner::new(
                    Some(az.to_string()),
                    AzProducerOptions::default().sticky_for,
                );
                p.update(LeaderMap::from_parts([(
                    topic.as_str(),
                    (0..PARTITIONS).map(|part| (part, Some(*az))).collect(),
                )]));
                Mutex::new(p)
            })
        })
        .collect();
    let payload: Vec<u8> = (0..args.size).map(|_| rand::random::<u8>()).collect();

    // Every producer at once; the saturated phase's time is until the last one is done.
    let started = Instant::now();
    let per_az = args.records / azs.len();
    let barrier = Barrier::new(azs.len());
    let delivered: Vec<Delivered> = std::thread::scope(|s| {
        let handles: Vec<_> = azs
            .iter()
            .zip(&routers)
            .zip(&everywhere)
            .map(|((az, router), everywhere)| {
                let (topic, payload, barrier) = (&topic, &payload, &barrier);
                let pick = match (router, everywhere) {
                    (Some(r), _) if mode == Mode::AzAware => Pick::Router(r),
                    (_, Some(m)) => Pick::Own(m),
                    _ => Pick::Librdkafka,
                };
                s.spawn(move || produce(tb, topic, az, pick, args, payload, barrier))
            })
            .collect();
        handles
            .into_iter()
            .map(|h| {
                h.join()
                    .map_err(|_| anyhow::anyhow!("a producer thread panicked"))?
            })
            .collect::<anyhow::Result<Vec<_>>>()
    })?;
    let secs = delivered
        .iter()
        .map(|d| d.saturated_done.duration_since(started).as_secs_f64())
        .fold(0.0, f64::max);
    drop(routers);

    // Leaders and racks from the testbed itself, not from the router.
    let md = tb.metadata()?;
    let leader: HashMap<i32, i32> = md
        .partitions
        .iter()
        .filter(|p| p.topic == topic)
        .map(|p| (p.partition, p.leader))
        .collect();
    let leader_az = |part: i32| leader.get(&part).map(|l| tb.rack(*l)).unwrap_or_default();
    // Bytes by leader AZ (where they landed), and how many crossed from the producer's AZ.
    let (mut all_bytes, mut cross_bytes) = (0usize, 0usize);
    let mut landed: HashMap<String, usize> = HashMap::new();
    for d in &delivered {
        for (part, bytes, _, _) in d.saturated.iter().chain(&d.paced) {
            let to = leader_az(*part);
            all_bytes += bytes;
            if to != d.az {
                cross_bytes += bytes;
            }
            *landed.entry(to).or_default() += bytes;
        }
    }
    let mut latencies: Vec<Duration> = delivered
        .iter()
        .flat_map(|d| d.paced.iter().map(|r| r.2))
        .collect();
    latencies.sort_unstable();
    let mut steady: Vec<Duration> = delivered
        .iter()
        .flat_map(|d| {
            d.paced
                .iter()
                .filter(|r| r.3.duration_since(d.paced_started) >= Duration::from_secs(1))
                .map(|r| r.2)
        })
        .collect();
    steady.sort_unstable();
    if std::env::var_os("AZ_BENCH_SLOWEST").is_some() {
        // Diagnostic: when (ms into the paced phase) the slowest records were sent, and where.
        let mut slow: Vec<(Duration, u128, i32, &str)> = delivered
            .iter()
            .flat_map(|d| {
                d.paced.iter().map(move |r| {
                    (
                        r.2,
                        r.3.duration_since(d.paced_started).as_millis(),
                        r.0,
                        d.az,
                    )
                })
            })
            .collect();
        slow.sort_unstable_by_key(|s| std::cmp::Reverse(s.0));
        let top: Vec<String> = slow
            .iter()
            .take(12)
            .map(|(l, at, p, az)| format!("{:.0}ms@{at}ms p{p} {az}", l.as_secs_f64() * 1e3))
            .collect();
        println!("  {} slowest: {}", label(mode), top.join(", "));
    }

    // Cross-check: each AZ's share of the leader replicas' bytes on disk vs its share of the
    // delivered records' bytes. Agreement means the per-record attribution is right.
    let mut on_disk: HashMap<String, i64> = HashMap::new();
    for id in tb.broker_ids() {
        for dir in rt.block_on(admin.describe_log_dirs(id))? {
            for r in dir
                .replicas
                .iter()
                .filter(|r| r.topic == topic && !r.is_future)
            {
                if leader.get(&r.partition) == Some(&id) {
                    *on_disk.entry(tb.rack(id)).or_default() += r.size_bytes;
                }
            }
        }
    }
    let disk_total: i64 = on_disk.values().sum();
    let disk_gap_pp = RACKS
        .iter()
        .map(|az| {
            let disk = 100.0 * *on_disk.get(*az).unwrap_or(&0) as f64 / disk_total.max(1) as f64;
            let rec = 100.0 * *landed.get(*az).unwrap_or(&0) as f64 / all_bytes.max(1) as f64;
            (disk - rec).abs()
        })
        .fold(0.0, f64::max);
    // Every run on a cluster in the same state: the topic's data goes.
    let deleter: rdkafka::admin::AdminClient<rdkafka::client::DefaultClientContext> =
        ClientConfig::new()
            .set("bootstrap.servers", tb.bootstrap())
            .create()?;
    let deleted =
        rt.block_on(deleter.delete_topics(&[&topic], &rdkafka::admin::AdminOptions::new()))?;
    for result in deleted {
        if let Err((t, code)) = result {
            eprintln!("could not delete {t}: {code}");
        }
    }
    Ok(Row {
        records_per_sec: (per_az * azs.len()) as f64 / secs,
        mb_per_sec: (per_az * azs.len() * args.size) as f64 / secs / 1e6,
        p50_ms: percentile_ms(&latencies, 0.50),
        p99_ms: percentile_ms(&latencies, 0.99),
        p99_steady_ms: percentile_ms(&steady, 0.99),
        cross_az_pct: 100.0 * cross_bytes as f64 / all_bytes.max(1) as f64,
        disk_gap_pp,
    })
}
