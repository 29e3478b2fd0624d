//! One `az_bench` run: a fresh topic, one producer per AZ through both phases, and the figures.

use std::collections::{BTreeSet, HashMap};
use std::sync::{Barrier, Mutex};
use std::time::{Duration, Instant};

use kmedic_client::{AzPartitioner, AzProducerOptions, AzRouter, LeaderMap};
use kmedic_common::admin::AdminClient;
use kmedic_common::connection::ConnectionSettings;
use kmedic_tests::{random_topic, Testbed};
use rdkafka::ClientConfig;

use crate::bench_args::Args;
use crate::bench_producer::{produce, trace_ms, Delivered, Pick};
use crate::{label, Mode, PARTITIONS, RACKS};

/// One run's figures.
#[derive(Debug, Default, Clone, Copy)]
pub struct Row {
    pub records_per_sec: f64,
    pub mb_per_sec: f64,
    pub p50_ms: f64,
    pub p99_ms: f64,
    /// p99 of the records sent after the paced phase's first second (producer start-up left out).
    pub p99_steady_ms: f64,
    pub cross_az_pct: f64,
    /// Largest gap, in percentage points, between an AZ's share of leader bytes on disk and its
    /// share of delivered bytes by leader rack.
    pub disk_gap_pp: f64,
}

fn percentile_ms(sorted: &[Duration], q: f64) -> f64 {
    if sorted.is_empty() {
        return 0.0;
    }
    let i = ((sorted.len() - 1) as f64 * q).round() as usize;
    sorted[i].as_secs_f64() * 1e3
}

/// The topics of one run: the shared one of 12 partitions and, with `--local-topics 1` on the
/// AZ-aware side, one per AZ holding the shared layout's partitions led in that AZ. Returns
/// the topic each producer writes to.
fn create_topics(tb: &Testbed, mode: Mode, args: &Args) -> anyhow::Result<Vec<String>> {
    let topic = random_topic("az-bench");
    let assignment: Vec<Vec<i32>> = (0..PARTITIONS)
        .map(|p| (0..3).map(|r| (p + r) % 6 + 1).collect())
        .collect();
    tb.create_topic_with_assignment(&topic, &assignment)?;
    let azs = &RACKS[..args.azs];
    if !(mode == Mode::AzAware && args.local_topics) {
        return Ok(vec![topic; azs.len()]);
    }
    let mut topics = Vec::new();
    for az in azs {
        let local: Vec<Vec<i32>> = assignment
            .iter()
            .filter(|replicas| tb.rack(replicas[0]) == *az)
            .cloned()
            .collect();
        let name = format!("{topic}-{az}");
        tb.create_topic_with_assignment(&name, &local)?;
        topics.push(name);
    }
    Ok(topics)
}

/// Runs `mode` once: every producer at once, then the figures, then the run's topics go.
pub fn one_run(
    tb: &Testbed,
    rt: &tokio::runtime::Runtime,
    admin: &AdminClient,
    mode: Mode,
    args: &Args,
) -> anyhow::Result<Row> {
    let topics = create_topics(tb, mode, args)?;
    let azs = &RACKS[..args.azs];
    let mut routers = Vec::new();
    for (az, topic) in azs.iter().zip(&topics) {
        // `--routers-in-both 1`: the default mode builds the same routers and leaves them
        // unused, so both modes carry their admin clients and refreshers (a diagnostic: it
        // separates the router's own cost from where the records go).
        routers.push(match mode {
            Mode::Default if !args.routers_in_both => None,
            Mode::AzAware if args.sticky_everywhere || args.local_topics => None,
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
        .zip(&topics)
        .map(|(az, topic)| {
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
            .zip(&topics)
            .zip(routers.iter().zip(&everywhere))
            .map(|((az, topic), (router, everywhere))| {
                let (payload, barrier) = (&payload, &barrier);
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
    let names: BTreeSet<&str> = topics.iter().map(String::as_str).collect();
    let md = tb.metadata()?;
    let leader: HashMap<(&str, i32), i32> = md
        .partitions
        .iter()
        .filter_map(|p| {
            let t = names.get(p.topic.as_str())?;
            Some(((*t, p.partition), p.leader))
        })
        .collect();
    let leader_az = |topic: &str, part: i32| {
        leader
            .get(&(topic, part))
            .map(|l| tb.rack(*l))
            .unwrap_or_default()
    };
    // Bytes by leader AZ (where they landed), and how many crossed from the producer's AZ.
    let (mut all_bytes, mut cross_bytes) = (0usize, 0usize);
    let mut landed: HashMap<String, usize> = HashMap::new();
    for d in &delivered {
        for (part, bytes, _, _) in d.saturated.iter().chain(&d.paced) {
            let to = leader_az(&d.topic, *part);
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
        print_slowest(mode, &delivered);
    }

    // Cross-check: each AZ's share of the leader replicas' bytes on disk vs its share of the
    // delivered records' bytes. Agreement means the per-record attribution is right.
    let mut on_disk: HashMap<String, i64> = HashMap::new();
    for id in tb.broker_ids() {
        for dir in rt.block_on(admin.describe_log_dirs(id))? {
            for r in dir.replicas.iter().filter(|r| !r.is_future) {
                if leader.get(&(r.topic.as_str(), r.partition)) == Some(&id) {
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
    delete_topics(tb, rt, &names)?;
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

/// Diagnostic (`AZ_BENCH_SLOWEST=1`): when (ms into the paced phase, and on the
/// `AZ_BENCH_RDKAFKA_DEBUG` trace's clock) the slowest records were sent, and where.
fn print_slowest(mode: Mode, delivered: &[Delivered]) {
    let mut slow: Vec<(Duration, u128, f64, i32, &str)> = delivered
        .iter()
        .flat_map(|d| {
            d.paced.iter().map(move |r| {
                (
                    r.2,
                    r.3.duration_since(d.paced_started).as_millis(),
                    trace_ms(r.3),
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
        .map(|(l, at, t, p, az)| {
            format!("{:.0}ms@{at}ms(T {t:.1}) p{p} {az}", l.as_secs_f64() * 1e3)
        })
        .collect();
    println!("  {} slowest: {}", label(mode), top.join(", "));
}

/// Every run on a cluster in the same state: the run's topics and their data go.
fn delete_topics(
    tb: &Testbed,
    rt: &tokio::runtime::Runtime,
    names: &BTreeSet<&str>,
) -> anyhow::Result<()> {
    let deleter: rdkafka::admin::AdminClient<rdkafka::client::DefaultClientContext> =
        ClientConfig::new()
            .set("bootstrap.servers", tb.bootstrap())
            .create()?;
    let names: Vec<&str> = names.iter().copied().collect();
    let deleted =
        rt.block_on(deleter.delete_topics(&names, &rdkafka::admin::AdminOptions::new()))?;
    for result in deleted {
        if let Err((t, code)) = result {
            eprintln!("could not delete {t}: {code}");
        }
    }
    Ok(())
}
