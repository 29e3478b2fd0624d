//! `az_bench`'s producers: the delivery-report context, one producer's two phases.

use std::sync::{Arc, Barrier, Mutex};
use std::time::{Duration, Instant};

use anyhow::ensure;
use kmedic_client::{AzPartitioner, AzRouter};
use kmedic_tests::Testbed;
use rdkafka::error::{KafkaError, RDKafkaErrorCode};
use rdkafka::message::Message;
use rdkafka::producer::{BaseRecord, DeliveryResult, Producer, ProducerContext, ThreadedProducer};
use rdkafka::{ClientConfig, ClientContext};

use crate::bench_args::Args;

/// One delivered record: partition, payload bytes, latency, when it was sent.
pub type Report = (i32, usize, Duration, Instant);

/// Delivery reports.
#[derive(Default)]
pub struct Reports {
    ok: Mutex<Vec<Report>>,
    failed: Mutex<u64>,
}

/// Delivery reports, and the producer's AZ for the `AZ_BENCH_RDKAFKA_DEBUG` trace.
#[derive(Clone, Default)]
pub struct BenchContext(Arc<Reports>, &'static str);

/// The clock of the `AZ_BENCH_RDKAFKA_DEBUG` trace (ms since the first use).
pub fn trace_ms(at: Instant) -> f64 {
    static EPOCH: std::sync::OnceLock<Instant> = std::sync::OnceLock::new();
    at.saturating_duration_since(*EPOCH.get_or_init(Instant::now))
        .as_secs_f64()
        * 1e3
}

impl ClientContext for BenchContext {
    fn log(&self, _level: rdkafka::config::RDKafkaLogLevel, fac: &str, message: &str) {
        eprintln!(
            "T {:.1} {} {fac} {message}",
            trace_ms(Instant::now()),
            self.1
        );
    }
}

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

/// A producer with both modes' settings, tagged with its AZ.
pub fn producer(
    tb: &Testbed,
    args: &Args,
    az: &'static str,
) -> anyhow::Result<(ThreadedProducer<BenchContext>, BenchContext)> {
    let ctx = BenchContext(Arc::default(), az);
    let mut config = ClientConfig::new();
    config
        .set("bootstrap.servers", tb.bootstrap())
        .set("acks", "all")
        .set("linger.ms", "5")
        .set("queue.buffering.max.messages", "200000");
    if let Ok(debug) = std::env::var("AZ_BENCH_RDKAFKA_DEBUG") {
        config
            .set("debug", debug)
            .set_log_level(rdkafka::config::RDKafkaLogLevel::Debug);
    }
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
pub enum Pick<'a> {
    /// librdkafka's default partitioner.
    Librdkafka,
    /// The AZ-aware router.
    Router(&'a AzRouter),
    /// The router's partitioner with every partition counted local (`--sticky-everywhere 1`).
    Own(&'a Mutex<AzPartitioner>),
}

/// What one producer (in `az`) delivered, per record.
pub struct Delivered {
    pub az: &'static str,
    /// The topic it wrote to.
    pub topic: String,
    pub saturated: Vec<Report>,
    /// When the last saturated record was acknowledged.
    pub saturated_done: Instant,
    /// When the paced phase began.
    pub paced_started: Instant,
    pub paced: Vec<Report>,
}

/// One producer in `az`: its share of the records as fast as it goes, then its share of the
/// rate for `--paced-secs`.
pub fn produce(
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
        let (p, ctx) = producer(tb, args, az)?;
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
        producer(tb, args, az)?
    } else {
        (p, ctx)
    };
    let total = rate * secs as usize;
    let started = Instant::now();
    if std::env::var_os("AZ_BENCH_RDKAFKA_DEBUG").is_some() {
        eprintln!("T {:.1} paced phase starts ({az})", trace_ms(started));
    }
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
        topic: topic.to_string(),
        saturated,
        saturated_done,
        paced_started: started,
        paced: take(&ctx),
    })
}
