//! Warm-start and memory benchmark for the master's model (a bench binary printing a table).
//!
//! Generates 24 h of history (96 x 15-min buckets) for 200 brokers and 1M replicas (RF 3, so
//! 333,334 partitions), measures the model's memory, writes a checkpoint, loads it back, and
//! replays one checkpoint interval (5 min) of full stats through the codec, as a restart does.
//! "Ready to act" = load checkpoint + replay the stats newer than it.
//!
//! Run: `cargo bench -p kmedic-master --bench model_warm_start`
//! (smaller: `KMEDIC_BENCH_REPLICAS=100000 cargo bench ...`).

use std::time::Instant;

use kmedic_common::codec;
use kmedic_common::stats::*;
use kmedic_master::config::WindowConfig;
use kmedic_master::model::{checkpoint, ClusterModel};

const BROKERS: i32 = 200;
const RF: usize = 3;
const TOPICS: usize = 2_000;
const BUCKET_MS: u64 = 900_000;
const T0: u64 = 1_800_000_000_000 / BUCKET_MS * BUCKET_MS;

fn rss_bytes() -> u64 {
    std::fs::read_to_string("/proc/self/statm")
        .ok()
        .and_then(|s| s.split_whitespace().nth(1)?.parse::<u64>().ok())
        .map_or(0, |pages| pages * 4096)
}

/// A skewed but deterministic rate: a few hot partitions, a long tail.
fn rate(p: usize, bucket: u64) -> u64 {
    let x = (p as u64).wrapping_mul(0x9E37_79B9_7F4A_7C15) >> 40;
    let hot = 1 + (x % 1000 == 0) as u64 * 200;
    (x % 50_000 + 100) * hot * (1 + (bucket % 96) / 48)
}

fn mb(b: u64) -> String {
    format!("{:.1} MB", b as f64 / 1e6)
}

fn main() {
    let replicas: usize = std::env::var("KMEDIC_BENCH_REPLICAS")
        .ok()
        .and_then(|v| v.parse().ok())
        .unwrap_or(1_000_000);
    let partitions = replicas.div_ceil(RF);
    let per_topic = partitions.div_ceil(TOPICS);
    let topics: Vec<String> = (0..TOPICS).map(|t| format!("topic-{t:04}")).collect();
    let w = WindowConfig::default();
    let mut rows: Vec<(String, String)> = Vec::new();

    // 1. 24 h of history straight into the windows (one mean per partition per bucket).
    let rss0 = rss_bytes();
    let t = Instant::now();
    let mut m = ClusterModel::new("bench", &w);
    m.windows.reserve(partitions);
    for b in 0..96u64 {
        for p in 0..partitions {
            let ts = T0 + b * BUCKET_MS;
            let r = rate(p, b);
            m.windows.record(
                &topics[p / per_topic],
                (p % per_topic) as i32,
                ts,
                Some(r),
                Some(2 * r),
                false,
            );
        }
    }
    let gen = t.elapsed();
    let heap = m.windows.heap_bytes() as u64;
    let rss = rss_bytes().saturating_sub(rss0);
    rows.push((
        "generate 24 h history".into(),
        format!("{:.2} s ({} samples)", gen.as_secs_f64(), 96 * partitions),
    ));
    rows.push(("model heap (counted)".into(), mb(heap)));
    rows.push(("model RSS growth (measured)".into(), mb(rss)));
    rows.push((
        "bytes per replica / partition".into(),
        format!(
            "{:.0} / {:.0}",
            heap as f64 / replicas as f64,
            heap as f64 / partitions as f64
        ),
    ));

    // 2. Checkpoint: encode + atomic write.
    let dir = tempfile::tempdir().expect("tempdir");
    let path = dir.path().join("master.checkpoint");
    let t = Instant::now();
    let size = checkpoint::save(&path, &[&m], T0, T0 + 96 * BUCKET_MS).expect("save");
    rows.push((
        "checkpoint write (encode+fsync+rename)".into(),
        format!("{:.2} s, {}", t.elapsed().as_secs_f64(), mb(size as u64)),
    ));

    // 3. Load it back.
    let t = Instant::now();
    let ck = checkpoint::load(&path, &w).expect("load").expect("present");
    let load = t.elapsed();
    assert_eq!(ck.models[0].windows, m.windows, "checkpoint round trip");
    rows.push((
        "checkpoint load".into(),
        format!("{:.2} s", load.as_secs_f64()),
    ));
    let mut restored = ck.models.into_iter().next().expect("one model");
    drop(m);

    // 4. Replay 5 minutes of full stats (one record per broker per minute) through the codec.
    let per_broker = replicas / BROKERS as usize;
    let mut records = Vec::new();
    for minute in 0..5u64 {
        for b in 0..BROKERS {
            let reps: Vec<ReplicaStats> = (0..per_broker)
                .map(|i| {
                    let slot = b as usize * per_broker + i;
                    let p = slot % partitions;
                    ReplicaStats {
                        topic: (p / per_topic) as u32,
                        partition: (p % per_topic) as i32,
                        log_dir: 0,
                        size_bytes: 1 << 30,
                        segments: 10,
                        bytes_in_per_sec: Some(rate(p, 96)),
                        bytes_out_per_sec: Some(rate(p, 96) * 2),
                        role: if slot / partitions == 0 {
                            ReplicaRole::Leader
                        } else {
                            ReplicaRole::Follower
                        },
                        in_sync: Some(true),
                        under_replicated: Some(false),
                        reassigning: Some(false),
                        future: false,
                    }
                })
                .collect();
            records.push(codec::encode(&StatsRecord::Full(FullStats {
                identity: Identity {
                    cluster_id: "bench".into(),
                    broker_id: b,
                    rack: Some(format!("az-{}", b % 3)),
                    hostname: format!("broker-{b}"),
                    az: None,
                    az_source: AzSource::BrokerRack,
                    instance_type: None,
                    instance_id: None,
                    agent_version: "bench".into(),
                },
                timestamp_ms: T0 + 96 * BUCKET_MS + minute * 60_000,
                seq: minute,
                interval_ms: 60_000,
                process: ProcessStats {
                    pid: Some(1),
                    ..ProcessStats::bare(ProcessState::Running)
                },
                host: HostStats::default(),
                log_dirs: vec![],
                topics: topics.clone(),
                replicas: reps,
                bytes_out_provenance: Provenance::Estimated,
                missing: vec![],
            })));
        }
    }
    let samples = 5 * per_broker * BROKERS as usize;
    let t = Instant::now();
    for r in &records {
        std::hint::black_box(codec::decode(r).expect("decode"));
    }
    let decode_only = t.elapsed();
    rows.push((
        "replay 5 min: decode only (no apply)".into(),
        format!(
            "{:.2} s ({:.2} M replica-stats/s)",
            decode_only.as_secs_f64(),
            samples as f64 / decode_only.as_secs_f64() / 1e6
        ),
    ));
    let t = Instant::now();
    for r in &records {
        let rec = codec::decode(r).expect("decode");
        // Replayed at the records' own time: the bench measures apply, not the skew check.
        let rx = kmedic_master::model::Received {
            heard_mono_ms: 0,
            reference_wall_ms: rec.timestamp_ms(),
        };
        restored.apply(&rec, rx, &kmedic_master::config::IngestConfig::default());
    }
    let replay = t.elapsed();
    rows.push((
        "replay 5 min of stats (decode+apply)".into(),
        format!(
            "{:.2} s ({} replica samples, {:.2} M/s)",
            replay.as_secs_f64(),
            samples,
            samples as f64 / replay.as_secs_f64() / 1e6
        ),
    ));
    rows.push((
        "cold start: replay 24 h instead (estimate)".into(),
        format!("{:.0} s", replay.as_secs_f64() * 24.0 * 12.0),
    ));
    rows.push((
        "READY TO ACT (load + replay)".into(),
        format!("{:.2} s (target <= 30 s)", (load + replay).as_secs_f64()),
    ));
    assert!(restored.counts.recorded as usize >= samples * 9 / 10);

    println!(
        "\nmodel warm start: {BROKERS} brokers, {replicas} replicas, {partitions} partitions, \
         {TOPICS} topics, 96 buckets"
    );
    for (k, v) in rows {
        println!("  {k:<42} {v}");
    }
}
