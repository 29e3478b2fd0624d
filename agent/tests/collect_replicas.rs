//! Fixture tests for the replica collector: log growth measured from segment files on disk,
//! across segment roll, retention deletion and compaction.

use std::path::{Path, PathBuf};
use std::time::{Duration, Instant};

use kmedic_agent::collect::replicas::{ReplicaCollector, ReplicaScan};
use kmedic_common::stats::ReplicaStats;

/// A segment file name as Kafka writes it.
fn seg(base: u64) -> String {
    format!("{base:020}.log")
}

/// Sets a partition's segment files to exactly these (base offset, size) pairs, plus the index
/// files Kafka keeps next to each. Sizes are set with `set_len`: no data is written.
fn set_segments(log_dir: &Path, partition_dir: &str, segments: &[(u64, u64)]) {
    let dir = log_dir.join(partition_dir);
    std::fs::create_dir_all(&dir).unwrap();
    for entry in std::fs::read_dir(&dir).unwrap() {
        std::fs::remove_file(entry.unwrap().path()).unwrap();
    }
    for &(base, size) in segments {
        let file = std::fs::File::create(dir.join(seg(base))).unwrap();
        file.set_len(size).unwrap();
        // Preallocated index files must not count towards the size.
        let index = std::fs::File::create(dir.join(format!("{base:020}.index"))).unwrap();
        index.set_len(10 * 1024 * 1024).unwrap();
        std::fs::write(dir.join(format!("{base:020}.timeindex")), [0u8; 12]).unwrap();
    }
    std::fs::write(dir.join("partition.metadata"), "version: 0\n").unwrap();
    std::fs::write(dir.join("leader-epoch-checkpoint"), "0\n0\n").unwrap();
}

fn find<'a>(scan: &'a ReplicaScan, topic: &str, partition: i32) -> &'a ReplicaStats {
    let t = scan.topics.iter().position(|t| t == topic).unwrap() as u32;
    scan.replicas
        .iter()
        .find(|r| r.topic == t && r.partition == partition && !r.future)
        .unwrap_or_else(|| panic!("{topic}-{partition} not in {:?}", scan.replicas))
}

struct Fixture {
    _dir: tempfile::TempDir,
    log_dir: PathBuf,
    collector: ReplicaCollector,
    t0: Instant,
}

impl Fixture {
    fn new() -> Self {
        let dir = tempfile::tempdir().unwrap();
        let log_dir = dir.path().join("kafka-logs");
        std::fs::create_dir_all(&log_dir).unwrap();
        let collector = ReplicaCollector::new(vec![log_dir.clone()]);
        Self {
            _dir: dir,
            log_dir,
            collector,
            t0: Instant::now(),
        }
    }

    fn scan_at(&mut self, secs: u64) -> ReplicaScan {
        let scan = self
            .collector
            .sample_at(self.t0 + Duration::from_secs(secs));
        assert!(scan.error.is_none(), "{:?}", scan.error);
        scan
    }
}

#[test]
fn first_sample_has_sizes_but_no_rate() {
    let mut f = Fixture::new();
    set_segments(&f.log_dir, "orders-0", &[(0, 1_000), (50, 2_000)]);
    let scan = f.scan_at(0);
    let r = find(&scan, "orders", 0);
    assert_eq!(r.size_bytes, 3_000, "only .log files count");
    assert_eq!(r.segments, 2);
    assert_eq!(r.bytes_in_per_sec, None);
    assert_eq!(scan.interval_ms, 0);
}

#[test]
fn steady_growth() {
    let mut f = Fixture::new();
    set_segments(&f.log_dir, "orders-0", &[(0, 1_000)]);
    f.scan_at(0);
    set_segments(&f.log_dir, "orders-0", &[(0, 11_000)]);
    let scan = f.scan_at(10);
    assert_eq!(scan.interval_ms, 10_000);
    assert_eq!(find(&scan, "orders", 0).bytes_in_per_sec, Some(1_000));
    // No growth, no rate.
    let scan = f.scan_at(20);
    assert_eq!(find(&scan, "orders", 0).bytes_in_per_sec, Some(0));
}

#[test]
fn segment_roll_counts_the_old_tail_and_the_new_segments() {
    let mut f = Fixture::new();
    set_segments(&f.log_dir, "orders-0", &[(0, 9_000)]);
    f.scan_at(0);
    // The active segment grew to 10,000 and was closed; two more rolled since, the last active.
    set_segments(
        &f.log_dir,
        "orders-0",
        &[(0, 10_000), (100, 10_000), (200, 4_000)],
    );
    let scan = f.scan_at(10);
    let r = find(&scan, "orders", 0);
    assert_eq!(r.bytes_in_per_sec, Some((1_000 + 10_000 + 4_000) / 10));
    assert_eq!(r.segments, 3);
    assert_eq!(r.size_bytes, 24_000);
}

#[test]
fn retention_deletion_is_not_negative_growth() {
    let mut f = Fixture::new();
    set_segments(
        &f.log_dir,
        "orders-0",
        &[(0, 10_000), (100, 10_000), (200, 1_000)],
    );
    f.scan_at(0);
    // The two oldest segments were deleted; the active one grew by 2,000.
    set_segments(&f.log_dir, "orders-0", &[(200, 3_000)]);
    let scan = f.scan_at(10);
    let r = find(&scan, "orders", 0);
    assert_eq!(r.bytes_in_per_sec, Some(200));
    assert_eq!(r.size_bytes, 3_000);
}

#[test]
fn retention_and_roll_in_one_interval() {
    let mut f = Fixture::new();
    set_segments(&f.log_dir, "orders-0", &[(0, 10_000), (100, 5_000)]);
    f.scan_at(0);
    set_segments(&f.log_dir, "orders-0", &[(100, 10_000), (200, 6_000)]);
    let scan = f.scan_at(10);
    assert_eq!(
        find(&scan, "orders", 0).bytes_in_per_sec,
        Some((5_000 + 6_000) / 10)
    );
}

#[test]
fn compaction_rewrite_is_not_negative_growth() {
    let mut f = Fixture::new();
    set_segments(
        &f.log_dir,
        "compacted-0",
        &[(0, 10_000), (100, 10_000), (200, 10_000), (300, 500)],
    );
    f.scan_at(0);
    // The cleaner merged the three closed segments into one small one (and left a .cleaned
    // file mid-swap); the active segment grew by 1,500.
    set_segments(&f.log_dir, "compacted-0", &[(0, 4_000), (300, 2_000)]);
    let dir = f.log_dir.join("compacted-0");
    std::fs::File::create(dir.join("00000000000000000000.log.cleaned"))
        .unwrap()
        .set_len(4_000)
        .unwrap();
    std::fs::File::create(dir.join("00000000000000000100.log.swap"))
        .unwrap()
        .set_len(4_000)
        .unwrap();
    let scan = f.scan_at(10);
    let r = find(&scan, "compacted", 0);
    assert_eq!(r.bytes_in_per_sec, Some(150));
    assert_eq!(r.size_bytes, 6_000, "cleaner temporaries are not segments");
    assert_eq!(r.segments, 2);
}

#[test]
fn a_rolled_segment_compacted_before_the_next_scan_only_under_counts() {
    let mut f = Fixture::new();
    set_segments(&f.log_dir, "compacted-0", &[(0, 5_000)]);
    f.scan_at(0);
    // Segment 0 grew to 8,000, rolled, and was compacted to 1,000; the new active has 2,000.
    // The 3,000 appended to segment 0 cannot be seen any more: the figure may under-count, but
    // never goes negative or wild.
    set_segments(&f.log_dir, "compacted-0", &[(0, 1_000), (100, 2_000)]);
    let scan = f.scan_at(10);
    assert_eq!(find(&scan, "compacted", 0).bytes_in_per_sec, Some(200));
}

#[test]
fn deleted_partition_disappears_and_a_recreated_one_starts_afresh() {
    let mut f = Fixture::new();
    set_segments(&f.log_dir, "orders-0", &[(0, 5_000)]);
    set_segments(&f.log_dir, "orders-1", &[(0, 5_000)]);
    f.scan_at(0);
    assert_eq!(f.collector.tracked_partitions(), 2);
    // Kafka renames a deleted partition to `-delete` before removing it.
    std::fs::rename(
        f.log_dir.join("orders-0"),
        f.log_dir
            .join("orders-0.0f1e2d3c4b5a69788796a5b4c3d2e1f0-delete"),
    )
    .unwrap();
    let scan = f.scan_at(10);
    assert_eq!(scan.replicas.len(), 1);
    assert_eq!(scan.replicas[0].partition, 1);
    assert_eq!(f.collector.tracked_partitions(), 1, "state is dropped");
    // Re-created with a new (smaller) log: a first sample again.
    set_segments(&f.log_dir, "orders-0", &[(0, 100)]);
    let scan = f.scan_at(20);
    assert_eq!(find(&scan, "orders", 0).bytes_in_per_sec, None);
}

#[test]
fn truncated_log_gives_no_rate_for_that_interval() {
    let mut f = Fixture::new();
    set_segments(&f.log_dir, "orders-0", &[(0, 10_000), (500, 3_000)]);
    f.scan_at(0);
    // A follower truncated its log below the newest segment after a leader change.
    set_segments(&f.log_dir, "orders-0", &[(0, 8_000)]);
    assert_eq!(find(&f.scan_at(10), "orders", 0).bytes_in_per_sec, None);
    set_segments(&f.log_dir, "orders-0", &[(0, 9_000)]);
    assert_eq!(
        find(&f.scan_at(20), "orders", 0).bytes_in_per_sec,
        Some(100)
    );
}

#[test]
fn several_log_dirs_future_replicas_and_skipped_dirs() {
    let dir = tempfile::tempdir().unwrap();
    let a = dir.path().join("a");
    let b = dir.path().join("b");
    set_segments(&a, "orders-0", &[(0, 100)]);
    set_segments(&a, "__consumer_offsets-7", &[(0, 200)]);
    set_segments(&a, "__cluster_metadata-0", &[(0, 300)]);
    set_segments(
        &b,
        "orders-0.0f1e2d3c4b5a69788796a5b4c3d2e1f0-future",
        &[(0, 400)],
    );
    set_segments(&b, "billing-2", &[(0, 500)]);
    set_segments(
        &b,
        "billing-3.0f1e2d3c4b5a69788796a5b4c3d2e1f0-stray",
        &[(0, 600)],
    );
    std::fs::write(b.join("meta.properties"), "node.id=1\n").unwrap();
    std::fs::write(b.join("recovery-point-offset-checkpoint"), "0\n").unwrap();
    let mut c = ReplicaCollector::new(vec![a, b]);
    let scan = c.sample();
    assert!(scan.error.is_none());
    assert_eq!(scan.topics, ["__consumer_offsets", "billing", "orders"]);
    let got: Vec<_> = scan
        .replicas
        .iter()
        .map(|r| {
            (
                r.log_dir,
                scan.topics[r.topic as usize].as_str(),
                r.partition,
                r.future,
                r.size_bytes,
            )
        })
        .collect();
    assert_eq!(
        got,
        [
            (0, "__consumer_offsets", 7, false, 200),
            (0, "orders", 0, false, 100),
            (1, "billing", 2, false, 500),
            (1, "orders", 0, true, 400),
        ]
    );
}

#[test]
fn an_unreadable_log_dir_does_not_stop_the_others() {
    let dir = tempfile::tempdir().unwrap();
    let good = dir.path().join("good");
    set_segments(&good, "orders-0", &[(0, 100)]);
    let mut c = ReplicaCollector::new(vec![dir.path().join("missing"), good]);
    let scan = c.sample();
    assert!(scan.error.is_some());
    assert_eq!(scan.replicas.len(), 1);
    assert_eq!(scan.replicas[0].log_dir, 1);
}

#[test]
fn four_thousand_partitions() {
    let mut f = Fixture::new();
    // Each partition as Kafka lays it out: segment, indexes, snapshot, checkpoint, metadata.
    for p in 0..4_000u64 {
        let name = format!("topic-{}-{}", p % 40, p / 40);
        set_segments(&f.log_dir, &name, &[(0, p)]);
        std::fs::write(
            f.log_dir.join(&name).join(format!("{:020}.snapshot", 0)),
            "",
        )
        .unwrap();
        // Settled directories, as on a broker where segments roll every few minutes at most.
        age_dir(&f.log_dir.join(&name), Duration::from_secs(3_600));
    }
    let rss_before = rss_kib();
    let started = Instant::now();
    f.scan_at(0);
    let first = started.elapsed();
    for p in 0..4_000u64 {
        let dir = f.log_dir.join(format!("topic-{}-{}", p % 40, p / 40));
        std::fs::File::create(dir.join(seg(0)))
            .unwrap()
            .set_len(p + 10 * p)
            .unwrap();
    }
    let started = Instant::now();
    let scan = f.scan_at(10);
    let second = started.elapsed();
    // Two more scans without change, to show the steady-state cost (the figure reported in
    // BENCHMARKS.md comes from a release build of this test).
    let mut steady = Duration::MAX;
    for i in 0..2 {
        let started = Instant::now();
        f.scan_at(11 + i);
        steady = steady.min(started.elapsed());
    }
    eprintln!(
        "4,000 partitions: first scan {first:?}, second {second:?}, steady-state best {steady:?}, \
         directory listings {}, RSS growth {} KiB (state, plus this scan's output)",
        f.collector.listings(),
        rss_kib().saturating_sub(rss_before)
    );
    assert_eq!(
        f.collector.listings(),
        4_000,
        "settled directories are listed once, then only stat-ed"
    );
    assert_eq!(scan.replicas.len(), 4_000);
    assert_eq!(scan.topics.len(), 40);
    assert_eq!(f.collector.tracked_partitions(), 4_000);
    for r in &scan.replicas {
        let name = &scan.topics[r.topic as usize];
        let topic: u64 = name.strip_prefix("topic-").unwrap().parse().unwrap();
        let p = topic + 40 * r.partition as u64;
        assert_eq!(
            r.bytes_in_per_sec,
            Some(p),
            "topic {} partition {}",
            r.topic,
            r.partition
        );
    }
}

/// This process's resident set size in KiB, from /proc/self/status.
fn rss_kib() -> u64 {
    let status = std::fs::read_to_string("/proc/self/status").unwrap();
    let line = status.lines().find(|l| l.starts_with("VmRSS:")).unwrap();
    line.split_whitespace().nth(1).unwrap().parse().unwrap()
}

/// Sets a directory's modification time, as if it last changed `ago` before now.
fn age_dir(dir: &Path, ago: Duration) {
    let f = std::fs::File::open(dir).unwrap();
    f.set_modified(std::time::SystemTime::now() - ago).unwrap();
}

#[test]
fn unchanged_directories_are_not_listed_again_but_growth_is_still_seen() {
    let mut f = Fixture::new();
    set_segments(&f.log_dir, "orders-0", &[(0, 10_000), (100, 1_000)]);
    let dir = f.log_dir.join("orders-0");
    age_dir(&dir, Duration::from_secs(3_600));
    f.scan_at(0);
    assert_eq!(f.collector.listings(), 1);

    // Appends do not touch the directory: the two-stat path sees the growth.
    std::fs::OpenOptions::new()
        .write(true)
        .open(dir.join(seg(100)))
        .unwrap()
        .set_len(3_000)
        .unwrap();
    let scan = f.scan_at(10);
    assert_eq!(f.collector.listings(), 1, "no second listing");
    let r = find(&scan, "orders", 0);
    assert_eq!(r.bytes_in_per_sec, Some(200));
    assert_eq!((r.size_bytes, r.segments), (13_000, 2));

    // A roll adds a file, which changes the directory's time: it is listed again.
    std::fs::OpenOptions::new()
        .write(true)
        .open(dir.join(seg(100)))
        .unwrap()
        .set_len(4_000)
        .unwrap();
    std::fs::File::create(dir.join(seg(200)))
        .unwrap()
        .set_len(500)
        .unwrap();
    let scan = f.scan_at(20);
    assert_eq!(f.collector.listings(), 2);
    let r = find(&scan, "orders", 0);
    assert_eq!(r.bytes_in_per_sec, Some((1_000 + 500) / 10));
    assert_eq!((r.size_bytes, r.segments), (14_500, 3));
}

#[test]
fn a_just_changed_directory_is_listed_again_and_every_tenth_scan_lists_all() {
    let mut f = Fixture::new();
    set_segments(&f.log_dir, "fresh-0", &[(0, 100)]);
    set_segments(&f.log_dir, "old-0", &[(0, 100)]);
    age_dir(&f.log_dir.join("old-0"), Duration::from_secs(3_600));
    f.scan_at(0);
    assert_eq!(f.collector.listings(), 2);
    // "fresh-0" changed within the racy window of its listing, so it is listed each time.
    for i in 1..10 {
        f.scan_at(i);
    }
    assert_eq!(f.collector.listings(), 2 + 9);
    // The tenth scan lists everything.
    f.scan_at(10);
    assert_eq!(f.collector.listings(), 2 + 9 + 2);
}
