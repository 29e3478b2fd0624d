//! Stats records for the codec tests and bench: fixed golden values, a realistic large record,
//! and proptest strategies that reach every variant of every enum in the schema.

#![allow(dead_code)] // each test target uses a different part of this module

use kmedic_common::stats::*;
use proptest::prelude::*;

/// The identity used by the golden fixtures.
pub fn golden_identity() -> Identity {
    Identity {
        cluster_id: "MkU3OEVBNTcwNTJENDM2Qg".into(),
        broker_id: 3,
        rack: Some("az-c".into()),
        hostname: "kafka-3.example.internal".into(),
        az: Some("eu-west-1c".into()),
        az_source: AzSource::Imds,
        instance_type: Some("m5.2xlarge".into()),
        instance_id: Some("i-0123456789abcdef0".into()),
        agent_version: "0.1.0".into(),
    }
}

fn golden_process() -> ProcessStats {
    ProcessStats {
        state: ProcessState::Running,
        pid: Some(4242),
        cpu_percent: Some(37.5),
        rss_bytes: Some(1_610_612_736),
        threads: Some(143),
        open_fds: Some(2_311),
        uptime_secs: Some(86_400),
        probe: Probe::Ok { latency_us: 812 },
    }
}

fn golden_host() -> HostStats {
    HostStats {
        cpu_percent: Some(21.25),
        cores: Some(8),
        load_avg: Some([1.5, 1.25, 0.75]),
        mem_total_bytes: Some(33_554_432_000),
        mem_available_bytes: Some(12_884_901_888),
        interfaces: vec![InterfaceStats {
            name: "eth0".into(),
            rx_bytes_per_sec: 52_428_800,
            tx_bytes_per_sec: 104_857_600,
        }],
        primary_interface: Some("eth0".into()),
        net_rx_bytes_per_sec: Some(52_428_800),
        net_tx_bytes_per_sec: Some(104_857_600),
    }
}

/// The golden heartbeat (fixtures/heartbeat-v1.bin).
pub fn golden_heartbeat() -> StatsRecord {
    StatsRecord::Heartbeat(Heartbeat {
        identity: golden_identity(),
        timestamp_ms: 1_767_225_600_000,
        seq: 41,
        process: golden_process(),
        host: golden_host(),
        missing: vec![Collector::Cloud],
    })
}

/// The golden full record (fixtures/full-v1.bin): three replicas covering every role.
pub fn golden_full() -> StatsRecord {
    let mut process = golden_process();
    process.probe = Probe::Failed {
        error: "timeout after 2000 ms".into(),
    };
    StatsRecord::Full(FullStats {
        identity: golden_identity(),
        timestamp_ms: 1_767_225_660_000,
        seq: 42,
        interval_ms: 60_000,
        process,
        host: golden_host(),
        log_dirs: vec![LogDirStats {
            path: "/var/lib/kafka/data".into(),
            device: Some("nvme1n1".into()),
            total_bytes: Some(1_000_000_000_000),
            available_bytes: Some(400_000_000_000),
            read_bytes_per_sec: Some(1_048_576),
            write_bytes_per_sec: Some(20_971_520),
            io_util_permille: Some(125),
        }],
        topics: vec!["orders".into(), "payments".into()],
        replicas: vec![
            ReplicaStats {
                topic: 0,
                partition: 0,
                log_dir: 0,
                size_bytes: 5_368_709_120,
                segments: 6,
                bytes_in_per_sec: Some(1_048_576),
                bytes_out_per_sec: Some(3_145_728),
                role: ReplicaRole::Leader,
                in_sync: Some(true),
                under_replicated: Some(false),
                reassigning: Some(false),
                future: false,
            },
            ReplicaStats {
                topic: 1,
                partition: 7,
                log_dir: 0,
                size_bytes: 1_024,
                segments: 1,
                bytes_in_per_sec: None,
                bytes_out_per_sec: None,
                role: ReplicaRole::Follower,
                in_sync: Some(false),
                under_replicated: Some(true),
                reassigning: None,
                future: true,
            },
            ReplicaStats {
                topic: 1,
                partition: 8,
                log_dir: 0,
                size_bytes: 0,
                segments: 0,
                bytes_in_per_sec: Some(0),
                bytes_out_per_sec: Some(0),
                role: ReplicaRole::NotAssigned,
                in_sync: None,
                under_replicated: None,
                reassigning: Some(true),
                future: false,
            },
        ],
        bytes_out_provenance: Provenance::Estimated,
        missing: vec![Collector::Metadata, Collector::BytesOut],
    })
}

/// A realistic full record for a broker with `n` replicas spread over 400 topics and 2 log dirs,
/// as the agent would send it (rates present, metadata known).
pub fn realistic_full(n: usize) -> StatsRecord {
    let topics: Vec<String> = (0..400)
        .map(|i| format!("service-{i:03}.events.v2"))
        .collect();
    let replicas = (0..n)
        .map(|i| ReplicaStats {
            topic: (i % topics.len()) as u32,
            partition: (i / topics.len()) as i32,
            log_dir: (i % 2) as u16,
            size_bytes: 1_000_000_000 + (i as u64 * 7_919_993) % 50_000_000_000,
            segments: 1 + (i as u32 * 13) % 60,
            bytes_in_per_sec: Some((i as u64 * 104_729) % 5_000_000),
            bytes_out_per_sec: Some((i as u64 * 224_737) % 15_000_000),
            role: if i % 3 == 0 {
                ReplicaRole::Leader
            } else {
                ReplicaRole::Follower
            },
            in_sync: Some(i % 97 != 0),
            under_replicated: Some(i % 97 == 0),
            reassigning: Some(false),
            future: false,
        })
        .collect();
    let StatsRecord::Full(mut f) = golden_full() else {
        unreachable!()
    };
    f.topics = topics;
    f.replicas = replicas;
    f.log_dirs.push(LogDirStats {
        path: "/var/lib/kafka/data2".into(),
        ..f.log_dirs[0].clone()
    });
    f.missing.clear();
    StatsRecord::Full(f)
}

// ---- proptest strategies -------------------------------------------------------------------

fn opt<T: std::fmt::Debug + Clone + 'static>(
    s: impl Strategy<Value = T> + 'static,
) -> BoxedStrategy<Option<T>> {
    proptest::option::of(s).boxed()
}

fn text() -> BoxedStrategy<String> {
    // Any unicode, including empty and multi-byte, so string length prefixes are exercised.
    ".{0,24}".boxed()
}

fn collector() -> impl Strategy<Value = Collector> + Clone {
    prop_oneof![
        Just(Collector::Replicas),
        Just(Collector::Metadata),
        Just(Collector::Network),
        Just(Collector::Cpu),
        Just(Collector::Memory),
        Just(Collector::Disk),
        Just(Collector::Process),
        Just(Collector::Probe),
        Just(Collector::Cloud),
        Just(Collector::BytesOut),
    ]
}

/// Any identity.
pub fn identity() -> impl Strategy<Value = Identity> {
    (
        (text(), any::<i32>(), opt(text()), text()),
        (
            opt(text()),
            prop_oneof![
                Just(AzSource::Imds),
                Just(AzSource::BrokerRack),
                Just(AzSource::Unknown)
            ],
            opt(text()),
            opt(text()),
            text(),
        ),
    )
        .prop_map(
            |(
                (cluster_id, broker_id, rack, hostname),
                (az, az_source, instance_type, instance_id, agent_version),
            )| Identity {
                cluster_id,
                broker_id,
                rack,
                hostname,
                az,
                az_source,
                instance_type,
                instance_id,
                agent_version,
            },
        )
}

fn probe() -> impl Strategy<Value = Probe> {
    prop_oneof![
        any::<u64>().prop_map(|latency_us| Probe::Ok { latency_us }),
        text().prop_map(|error| Probe::Failed { error }),
        Just(Probe::NotRun),
    ]
}

fn process() -> impl Strategy<Value = ProcessStats> {
    (
        prop_oneof![
            Just(ProcessState::Running),
            Just(ProcessState::Stopped),
            Just(ProcessState::Gone),
            Just(ProcessState::Unknown)
        ],
        opt(any::<u32>()),
        // Finite floats only: NaN != NaN would make an equal round trip compare unequal.
        opt(-1e9f32..1e9f32),
        opt(any::<u64>()),
        opt(any::<u32>()),
        opt(any::<u32>()),
        opt(any::<u64>()),
        probe(),
    )
        .prop_map(
            |(state, pid, cpu_percent, rss_bytes, threads, open_fds, uptime_secs, probe)| {
                ProcessStats {
                    state,
                    pid,
                    cpu_percent,
                    rss_bytes,
                    threads,
                    open_fds,
                    uptime_secs,
                    probe,
                }
            },
        )
}

fn host() -> impl Strategy<Value = HostStats> {
    (
        (
            opt(0f32..6400f32),
            opt(any::<u32>()),
            opt(proptest::array::uniform3(0f32..1e4f32)),
            opt(any::<u64>()),
            opt(any::<u64>()),
        ),
        proptest::collection::vec(
            (text(), any::<u64>(), any::<u64>()).prop_map(|(name, rx, tx)| InterfaceStats {
                name,
                rx_bytes_per_sec: rx,
                tx_bytes_per_sec: tx,
            }),
            0..4,
        ),
        (opt(text()), opt(any::<u64>()), opt(any::<u64>())),
    )
        .prop_map(
            |(
                (cpu_percent, cores, load_avg, mem_total, mem_avail),
                interfaces,
                (primary, rx, tx),
            )| {
                HostStats {
                    cpu_percent,
                    cores,
                    load_avg,
                    mem_total_bytes: mem_total,
                    mem_available_bytes: mem_avail,
                    interfaces,
                    primary_interface: primary,
                    net_rx_bytes_per_sec: rx,
                    net_tx_bytes_per_sec: tx,
                }
            },
        )
}

fn log_dir() -> impl Strategy<Value = LogDirStats> {
    (
        text(),
        opt(text()),
        opt(any::<u64>()),
        opt(any::<u64>()),
        opt(any::<u64>()),
        opt(any::<u64>()),
        opt(any::<u32>()),
    )
        .prop_map(|(path, device, total, avail, r, w, util)| LogDirStats {
            path,
            device,
            total_bytes: total,
            available_bytes: avail,
            read_bytes_per_sec: r,
            write_bytes_per_sec: w,
            io_util_permille: util,
        })
}

fn replica() -> impl Strategy<Value = ReplicaStats> {
    (
        (
            any::<u32>(),
            any::<i32>(),
            any::<u16>(),
            any::<u64>(),
            any::<u32>(),
        ),
        (opt(any::<u64>()), opt(any::<u64>())),
        prop_oneof![
            Just(ReplicaRole::Leader),
            Just(ReplicaRole::Follower),
            Just(ReplicaRole::NotAssigned),
            Just(ReplicaRole::Unknown)
        ],
        (
            opt(any::<bool>()),
            opt(any::<bool>()),
            opt(any::<bool>()),
            any::<bool>(),
        ),
    )
        .prop_map(
            |(
                (topic, partition, log_dir, size, segments),
                (bin, bout),
                role,
                (isr, urp, re, fut),
            )| {
                ReplicaStats {
                    topic,
                    partition,
                    log_dir,
                    size_bytes: size,
                    segments,
                    bytes_in_per_sec: bin,
                    bytes_out_per_sec: bout,
                    role,
                    in_sync: isr,
                    under_replicated: urp,
                    reassigning: re,
                    future: fut,
                }
            },
        )
}

/// Any stats record, of either kind.
pub fn stats_record() -> impl Strategy<Value = StatsRecord> {
    let missing = proptest::collection::vec(collector(), 0..4);
    let heartbeat = (
        identity(),
        any::<u64>(),
        any::<u64>(),
        process(),
        host(),
        missing.clone(),
    )
        .prop_map(|(identity, timestamp_ms, seq, process, host, missing)| {
            StatsRecord::Heartbeat(Heartbeat {
                identity,
                timestamp_ms,
                seq,
                process,
                host,
                missing,
            })
        });
    let full = (
        (identity(), any::<u64>(), any::<u64>(), any::<u64>()),
        (process(), host()),
        (
            proptest::collection::vec(log_dir(), 0..3),
            proptest::collection::vec(text(), 0..5),
            proptest::collection::vec(replica(), 0..20),
        ),
        (
            prop_oneof![Just(Provenance::Measured), Just(Provenance::Estimated)],
            missing,
        ),
    )
        .prop_map(
            |(
                (identity, timestamp_ms, seq, interval_ms),
                (process, host),
                (log_dirs, topics, replicas),
                (bytes_out_provenance, missing),
            )| {
                StatsRecord::Full(FullStats {
                    identity,
                    timestamp_ms,
                    seq,
                    interval_ms,
                    process,
                    host,
                    log_dirs,
                    topics,
                    replicas,
                    bytes_out_provenance,
                    missing,
                })
            },
        );
    prop_oneof![heartbeat, full]
}
