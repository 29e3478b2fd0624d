//! What the AZ-aware routing adds per record on the client's CPU, without brokers (so other load
//! on the machine matters less than in `az_bench`):
//!
//! - the routing decision alone: [`AzPartitioner::route`] behind a mutex, as `AzRouter::route`
//!   takes it, over a 12-partition topic with 4 partitions led in the producer's AZ;
//! - librdkafka's enqueue (`BaseProducer::send` of a 1 KiB unkeyed record, to a producer whose
//!   broker does not answer, so nothing leaves the process), without and with the routing.
//!
//! Medians of `--runs` (default 7) rounds of `--records` (default 500,000) each.
//!
//! Run: `cargo run --release -p kmedic-client --example route_cost`

use std::sync::Mutex;
use std::time::{Duration, Instant};

use anyhow::Context;
use kmedic_client::{AzPartitioner, LeaderMap};
use rdkafka::producer::{BaseProducer, BaseRecord, Producer, PurgeConfig};
use rdkafka::ClientConfig;

const TOPIC: &str = "events";

fn leaders() -> LeaderMap {
    let racks = ["az-a", "az-b", "az-c"];
    LeaderMap::from_parts([(
        TOPIC,
        (0..12).map(|p| (p, Some(racks[p as usize % 3]))).collect(),
    )])
}

fn router() -> Mutex<AzPartitioner> {
    let mut p = AzPartitioner::new(Some("az-a".into()), Duration::from_millis(10));
    p.update(leaders());
    Mutex::new(p)
}

fn route(r: &Mutex<AzPartitioner>) -> Option<i32> {
    r.lock()
        .unwrap_or_else(|e| e.into_inner())
        .route(TOPIC, None, Instant::now())
        .partition()
}

/// Nanoseconds per enqueued record, with or without routing.
fn enqueue_ns(records: usize, routed: bool, payload: &[u8]) -> anyhow::Result<f64> {
    let producer: BaseProducer = ClientConfig::new()
        .set("bootstrap.servers", "127.0.0.1:1")
        .set("queue.buffering.max.messages", "2000000")
        .set("queue.buffering.max.kbytes", "2097151")
        .set("message.timeout.ms", "300000")
        .set("log_level", "0")
        .create()?;
    let r = router();
    let started = Instant::now();
    for _ in 0..records {
        let mut record = BaseRecord::<(), [u8]>::to(TOPIC).payload(payload);
        if routed {
            if let Some(p) = route(&r) {
                record = record.partition(p);
            }
        }
        producer
            .send(record)
            .map_err(|(e, _)| e)
            .context("enqueue")?;
    }
    let ns = started.elapsed().as_nanos() as f64 / records as f64;
    producer.purge(PurgeConfig::default().queue().inflight());
    Ok(ns)
}

fn median(mut v: Vec<f64>) -> f64 {
    v.sort_by(f64::total_cmp);
    v[v.len() / 2]
}

fn main() -> anyhow::Result<()> {
    let mut runs = 7usize;
    let mut records = 500_000usize;
    let mut it = std::env::args().skip(1);
    while let Some(flag) = it.next() {
        let value: usize = it.next().context("a flag needs a value")?.parse()?;
        match flag.as_str() {
            "--runs" => runs = value.max(1),
            "--records" => records = value.max(1),
            _ => anyhow::bail!("unknown flag {flag}: use --runs, --records"),
        }
    }
    let payload = vec![7u8; 1024];
    let (mut decide, mut plain, mut routed) = (Vec::new(), Vec::new(), Vec::new());
    for run in 0..runs {
        let r = router();
        let started = Instant::now();
        let mut sink = 0i64;
        for _ in 0..records {
            sink += i64::from(route(&r).unwrap_or(-1));
        }
        decide.push(started.elapsed().as_nanos() as f64 / records as f64);
        std::hint::black_box(sink);
        // Alternate the order so drift does not favour one.
        if run % 2 == 0 {
            plain.push(enqueue_ns(records, false, &payload)?);
            routed.push(enqueue_ns(records, true, &payload)?);
        } else {
            routed.push(enqueue_ns(records, true, &payload)?);
            plain.push(enqueue_ns(records, false, &payload)?);
        }
    }
    let (d, p, r) = (median(decide), median(plain), median(routed));
    println!("| per record (median of {runs} x {records}) | ns |");
    println!("|---|---:|");
    println!("| routing decision (mutex + route) | {d:.0} |");
    println!("| librdkafka enqueue, default partitioner | {p:.0} |");
    println!("| librdkafka enqueue, partition from the router | {r:.0} |");
    println!(
        "\nrouted / default enqueue: {:.3}; routing decision / default enqueue: {:.1} %",
        r / p,
        100.0 * d / p
    );
    Ok(())
}
