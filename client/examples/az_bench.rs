//! Default partitioner vs the AZ-aware one, on a real 6-broker testbed with 3 racks.
//!
//! For each run and each mode (the order alternates between runs), a fresh topic of 12
//! partitions, RF 3, one leader per broker (4 per AZ), and a producer in az-a:
//!
//! - saturated: `--records` unkeyed records of `--size` bytes as fast as the producer takes them:
//!   throughput (records/s, MB/s) from the first send to the last delivery report;
//! - paced: `--paced-secs` at `--rate` records/s: delivery latency p50/p99 (send to delivery
//!   report), and cross-AZ produce bytes: payload bytes whose partition's leader (per the
//!   testbed's own metadata, not the router's) is outside az-a. Cross-checked with the bytes on
//!   disk of the leader replicas (DescribeLogDirs).
//!
//! `--warmup` runs of each mode go first and are not counted. Prints per-run rows and the
//! medians as a Markdown table.
//!
//! Run: `KMEDIC_TESTBED_PORT_BASE=19900 cargo run --release -p kmedic-client --example az_bench -- --runs 5`

use std::collections::HashMap;
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use anyhow::{ensure, Context};
use kmedic_client::{AzProducerOptions, AzRouter};
use kmedic_common::admin::AdminClient;
use kmedic_common::connection::ConnectionSettings;
use kmedic_tests::{random_topic, Testbed, TestbedConfig};
use rdkafka::error::{KafkaError, RDKafkaErrorCode};
use rdkafka::message::Message;
use rdkafka::producer::{BaseRecord, DeliveryResult, Producer, ProducerContext, ThreadedProducer};
use rdkafka::{ClientConfig, ClientContext};

const AZ: &str = "az-a";
const PARTITIONS: i32 = 12;

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Mode {
    Default,
    AzAware,
}

/// Delivery reports: partition, payload bytes, latency.
#[derive(Default)]
struct Reports {
    ok: Mutex<Vec<(i32, usize, Duration)>>,
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
            )),
            Err(_) => *self.0.failed.lock().unwrap_or_else(|e| e.into_inner()) += 1,
        }
    }
}

struct Args {
    runs: usize,
    warmup: usize,
    records: usize,
    size: usize,
    rate: usize,
    paced_secs: u64,
}

fn args() -> anyhow::Result<Args> {
    let mut a = Args {
        runs: 5,
        warmup: 1,
        records: 50_000,
        size: 1024,
        rate: 1_000,
        paced_secs: 10,
    };
    let mut it = std::env::args().skip(1);
    while let Some(flag) = it.next() {
        let value = it.next().with_context(|| format!("{flag} needs a value"))?;
        let n: usize = value.parse().with_context(|| format!("{flag} {value}"))?;
        match flag.as_str() {
            "--runs" => a.runs = n,
            "--warmup" => a.warmup = n,
            "--records" => a.records = n,
            "--size" => a.size = n,
            "--rate" => a.rate = n,
            "--paced-secs" => a.paced_secs = n as u64,
            _ => anyhow::bail!(
                "unknown flag {flag}: use --runs, --warmup, --records, --size, --rate, --paced-secs"
            ),
        }
    }
    Ok(a)
}

#[derive(Debug, Default, Clone, Copy)]
struct Row {
    records_per_sec: f64,
    mb_per_sec: f64,
    p50_ms: f64,
    p99_ms: f64,
    cross_az_pct: f64,
    cross_az_disk_pct: f64,
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
    let mut rows: HashMap<&'static str, Vec<Row>> = HashMap::new();
    for run in 0..args.runs {
        let order = if run % 2 == 0 {
            [Mode::Default, Mode::AzAware]
        } else {
            [Mode::AzAware, Mode::Default]
        };
        for mode in order {
            let row = one_run(&tb, &rt, &admin, mode, &args)?;
            let name = label(mode);
            println!(
                "run {run} {name:>9}: {:>8.0} rec/s {:>6.1} MB/s  p50 {:>6.2} ms  p99 {:>6.2} ms  cross-AZ {:>5.1} % (disk {:>5.1} %)",
                row.records_per_sec, row.mb_per_sec, row.p50_ms, row.p99_ms, row.cross_az_pct, row.cross_az_disk_pct
            );
            rows.entry(name).or_default().push(row);
        }
    }
    println!();
    println!(
        "| producer (in {AZ}) | records/s | MB/s | latency p50 ms | latency p99 ms | cross-AZ produce bytes | cross-AZ (leader bytes on disk) |"
    );
    println!("|---|---:|---:|---:|---:|---:|---:|");
    for mode in [Mode::Default, Mode::AzAware] {
        let r = &rows[label(mode)];
        let m = |f: fn(&Row) -> f64| median(r.iter().map(f).collect());
        println!(
            "| {} | {:.0} | {:.1} | {:.2} | {:.2} | {:.1} % | {:.1} % |",
            label(mode),
            m(|r| r.records_per_sec),
            m(|r| r.mb_per_sec),
            m(|r| r.p50_ms),
            m(|r| r.p99_ms),
            m(|r| r.cross_az_pct),
            m(|r| r.cross_az_disk_pct)
        );
    }
    println!(
        "\nmedians of {} runs after {} warm-up; saturated: {} records of {} B; paced: {} records/s for {} s",
        args.runs, args.warmup, args.records, args.size, args.rate, args.paced_secs
    );
    Ok(())
}

fn label(mode: Mode) -> &'static str {
    match mode {
        Mode::Default => "default",
        Mode::AzAware => "AZ-aware",
    }
}

fn median(mut v: Vec<f64>) -> f64 {
    v.sort_by(f64::total_cmp);
    match v.len() {
        0 => 0.0,
        n if n % 2 == 1 => v[n / 2],
        n => (v[n / 2 - 1] + v[n / 2]) / 2.0,
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
fn producer(tb: &Testbed) -> anyhow::Result<(ThreadedProducer<BenchContext>, BenchContext)> {
    let ctx = BenchContext::default();
    let p = ClientConfig::new()
        .set("bootstrap.servers", tb.bootstrap())
        .set("acks", "all")
        .set("linger.ms", "5")
        .set("queue.buffering.max.messages", "200000")
        .create_with_context(ctx.clone())?;
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
    let router = match mode {
        Mode::Default => None,
        Mode::AzAware => {
            let options = AzProducerOptions {
                az: Some(AZ.into()),
                topics: vec![topic.clone()],
                ..AzProducerOptions::default()
            };
            let own = AdminClient::new(ConnectionSettings::plaintext(tb.bootstrap().split(',')))?;
            Some(rt.block_on(AzRouter::new(own, options)))
        }
    };
    let partition = |router: &Option<AzRouter>| {
        router
            .as_ref()
            .and_then(|r| r.route(&topic, None).partition())
    };
    let payload: Vec<u8> = (0..args.size).map(|_| rand::random::<u8>()).collect();

    // Saturated.
    let (p, ctx) = producer(tb)?;
    let started = Instant::now();
    for _ in 0..args.records {
        send(&p, &topic, partition(&router), &payload)?;
    }
    wait_delivered(&p, &ctx, args.records)?;
    let secs = started.elapsed().as_secs_f64();
    drop(p);

    // Paced.
    let (p, ctx) = producer(tb)?;
    let total = args.rate * args.paced_secs as usize;
    let started = Instant::now();
    let mut sent = 0usize;
    while sent < total {
        let due = ((started.elapsed().as_secs_f64() * args.rate as f64) as usize).min(total);
        while sent < due {
            send(&p, &topic, partition(&router), &payload)?;
            sent += 1;
        }
        std::thread::sleep(Duration::from_millis(1));
    }
    wait_delivered(&p, &ctx, total)?;
    let reports = std::mem::take(&mut *ctx.0.ok.lock().unwrap_or_else(|e| e.into_inner()));

    // Leaders and racks from the testbed itself, not from the router.
    let md = tb.metadata()?;
    let leader: HashMap<i32, i32> = md
        .partitions
        .iter()
        .filter(|p| p.topic == topic)
        .map(|p| (p.partition, p.leader))
        .collect();
    let remote = |part: i32| leader.get(&part).is_none_or(|l| tb.rack(*l) != AZ);
    let all_bytes: usize = reports.iter().map(|r| r.1).sum();
    let cross_bytes: usize = reports.iter().filter(|r| remote(r.0)).map(|r| r.1).sum();
    let mut latencies: Vec<Duration> = reports.iter().map(|r| r.2).collect();
    latencies.sort_unstable();

    // Bytes on disk of each partition's leader replica (both phases).
    let (mut disk_all, mut disk_cross) = (0i64, 0i64);
    for id in tb.broker_ids() {
        for dir in rt.block_on(admin.describe_log_dirs(id))? {
            for r in dir
                .replicas
                .iter()
                .filter(|r| r.topic == topic && !r.is_future)
            {
                if leader.get(&r.partition) == Some(&id) {
                    disk_all += r.size_bytes;
                    if remote(r.partition) {
                        disk_cross += r.size_bytes;
                    }
                }
            }
        }
    }
    Ok(Row {
        records_per_sec: args.records as f64 / secs,
        mb_per_sec: (args.records * args.size) as f64 / secs / 1e6,
        p50_ms: percentile_ms(&latencies, 0.50),
        p99_ms: percentile_ms(&latencies, 0.99),
        cross_az_pct: 100.0 * cross_bytes as f64 / all_bytes.max(1) as f64,
        cross_az_disk_pct: 100.0 * disk_cross as f64 / disk_all.max(1) as f64,
    })
}
